//! wss:// against a real rustls server: verification on by default, and
//! certificate trouble reported once, clearly, without retries.

use crate::pki::{Pki, Validity};
use crate::server::{Behaviour, Server};
use crate::util::{messages_of, numbered, wsship};

fn wss_url(server: &Server, host: &str) -> String {
    let port = server.addr().rsplit_once(':').unwrap().1.to_string();
    format!("wss://{host}:{port}/ingest")
}

#[test]
fn wss_with_the_private_ca_delivers() {
    let pki = Pki::new("cacert");
    let server = Server::start_tls(Behaviour::default(), pki.server(false));
    let done = wsship(&[
        "--url",
        &wss_url(&server, "localhost"),
        "--cacert",
        pki.ca.to_str().unwrap(),
    ])
    .run(numbered(1000));
    done.expect_code(0);
    let expected = numbered(1000);
    assert_eq!(
        messages_of(&server.messages()),
        expected.lines().collect::<Vec<_>>()
    );
}

#[test]
fn an_unknown_issuer_is_refused_at_once_and_names_the_fix() {
    let pki = Pki::new("unknown-issuer");
    let server = Server::start_tls(Behaviour::default(), pki.server(false));
    let done = wsship(&[
        "--url",
        &wss_url(&server, "localhost"),
        "--backoff-init",
        "10ms",
    ])
    .run("x\n");
    done.expect_code(1);
    assert!(
        done.stderr.contains("unknown issuer") && done.stderr.contains("--cacert"),
        "{}",
        done.stderr
    );
    assert_eq!(done.summary()["retries"], 0);
    assert_eq!(server.connections(), 1);
}

#[test]
fn a_certificate_for_another_name_is_refused_unless_named() {
    let pki = Pki::new("name");
    let server = Server::start_tls(Behaviour::default(), pki.server(false));
    let url = wss_url(&server, "127.0.0.1");
    let ca = pki.ca.to_str().unwrap();
    let done = wsship(&["--url", &url, "--cacert", ca]).run("x\n");
    done.expect_code(1);
    done.expect_stderr("not valid for '127.0.0.1'");
    done.expect_stderr("--tls-server-name");

    wsship(&[
        "--url",
        &url,
        "--cacert",
        ca,
        "--tls-server-name",
        "localhost",
    ])
    .run("named\n")
    .expect_code(0);
    assert_eq!(messages_of(&server.messages()), ["named"]);
}

#[test]
fn insecure_connects_and_says_so() {
    let pki = Pki::new("insecure");
    let server = Server::start_tls(Behaviour::default(), pki.server(false));
    let done = wsship(&["--url", &wss_url(&server, "127.0.0.1"), "--insecure", "-q"]).run("x\n");
    done.expect_code(0);
    done.expect_stderr("warning: --insecure");
    assert_eq!(messages_of(&server.messages()), ["x"]);
}

#[test]
fn mutual_tls_needs_the_client_certificate() {
    let pki = Pki::new("mtls");
    let server = Server::start_tls(Behaviour::default(), pki.server(true));
    let url = wss_url(&server, "localhost");
    let ca = pki.ca.to_str().unwrap();
    let done = wsship(&["--url", &url, "--cacert", ca, "--backoff-init", "10ms"]).run("refused\n");
    done.expect_code(1);
    done.expect_stderr("--cert and --key");
    assert_eq!(done.summary()["retries"], 0);

    let (cert, key) = (
        pki.client_cert.to_str().unwrap(),
        pki.client_key.to_str().unwrap(),
    );
    wsship(&["--url", &url, "--cacert", ca, "--cert", cert, "--key", key])
        .run("accepted\n")
        .expect_code(0);
    assert_eq!(messages_of(&server.messages()), ["accepted"]);
}

#[test]
fn an_echo_server_over_tls_cannot_deadlock() {
    let pki = Pki::new("echo");
    let server = Server::start_tls(
        Behaviour {
            echo: true,
            ..Behaviour::default()
        },
        pki.server(false),
    );
    let done = wsship(&[
        "--url",
        &wss_url(&server, "localhost"),
        "--cacert",
        pki.ca.to_str().unwrap(),
    ])
    .run(numbered(300_000));
    server.assert_echoed_without_a_stall(&done, 300_000);
}

#[test]
fn a_missing_ca_file_is_a_usage_error() {
    let done = wsship(&[
        "--url",
        "wss://localhost:1/",
        "--cacert",
        "/nonexistent/ca.pem",
    ])
    .run("");
    done.expect_code(2);
    assert!(
        done.stderr
            .contains("--cacert /nonexistent/ca.pem: No such file or directory"),
        "{}",
        done.stderr
    );
}

#[test]
fn an_x509_v1_client_certificate_is_presented_as_it_is() {
    // What `openssl x509 -req` makes by default: webpki refuses to parse
    // it, but the client only presents it; the server decides.
    let pki = Pki::new("v1-client");
    let server = Server::start_tls(Behaviour::default(), pki.server_for_v1_client());
    let url = wss_url(&server, "localhost");
    let ca = pki.ca.to_str().unwrap();
    let (v1, key) = (
        pki.client_v1.to_str().unwrap(),
        pki.client_key.to_str().unwrap(),
    );
    let done = wsship(&["--url", &url, "--cacert", ca, "--cert", v1, "--key", key])
        .run("from a v1 certificate\n");
    done.expect_code(0);
    assert_eq!(messages_of(&server.messages()), ["from a v1 certificate"]);
    // The server does require it.
    let refused = wsship(&["--url", &url, "--cacert", ca]).run("refused\n");
    refused.expect_code(1);
    refused.expect_stderr("client certificate");
    assert_eq!(server.messages().len(), 1);
}

#[test]
fn an_expired_or_not_yet_valid_server_certificate_stops_the_run_at_once() {
    let pki = Pki::new("validity");
    for (validity, says) in [
        (
            Validity::Expired,
            "TLS: the server's certificate has expired",
        ),
        (
            Validity::NotYetValid,
            "TLS: the server's certificate is not valid yet",
        ),
    ] {
        let server = Server::start_tls(Behaviour::default(), pki.server_with(validity));
        let url = wss_url(&server, "localhost");
        let done = wsship(&["--url", &url, "--cacert", pki.ca.to_str().unwrap()]).run("x\n");
        done.expect_code(1);
        done.expect_stderr(says);
        assert_eq!(done.summary()["retries"], 0);
        assert_eq!(server.connections(), 1, "not retried");
        assert!(server.messages().is_empty());
    }
}

/// Whether `text` holds a Rust debug name: a CamelCase word, outside the
/// arguments the test `passed` (a temporary directory may be called
/// /tmp/TmpDir).
fn has_debug_names(text: &str, passed: &[&str]) -> bool {
    let mut text = text.to_string();
    for argument in passed {
        text = text.replace(argument, "");
    }
    text.split(|c: char| !c.is_ascii_alphanumeric())
        .any(|word| {
            word.chars().any(|c| c.is_ascii_lowercase())
                && word.chars().skip(1).any(|c| c.is_ascii_uppercase())
        })
}

#[test]
fn debug_names_are_found_outside_the_paths_given() {
    assert!(has_debug_names("wsship: InvalidCertificate", &[]));
    assert!(!has_debug_names("wsship: invalid certificate", &[]));
    let path = "/tmp/TmpDir/c.pem";
    let text = format!("wsship: --cert {path}: No such file or directory");
    assert!(has_debug_names(&text, &[]));
    assert!(!has_debug_names(&text, &["--cert", path]));
}

#[test]
fn unusable_certificate_and_key_files_say_why_plainly() {
    let pki = Pki::new("unusable");
    let cert = pki.client_cert.to_str().unwrap().to_string();
    let key = pki.client_key.to_str().unwrap().to_string();
    let other = pki.other_key.to_str().unwrap().to_string();
    let bad_pem = pki.write(
        "bad.pem",
        "-----BEGIN CERTIFICATE-----\nnot base64 at all!\n-----END CERTIFICATE-----\n",
    );
    let not_a_key = pki.write(
        "not-a.key",
        "-----BEGIN PRIVATE KEY-----\nAAECAwQFBgcICQ==\n-----END PRIVATE KEY-----\n",
    );
    let empty = pki.write("empty.pem", "nothing here\n");
    let (bad_pem, not_a_key, empty) = (
        bad_pem.to_str().unwrap(),
        not_a_key.to_str().unwrap(),
        empty.to_str().unwrap(),
    );
    let cases: &[(&[&str], &str)] = &[
        (
            &["--cert", "/nonexistent/c.pem", "--key", &key],
            "--cert /nonexistent/c.pem: No such file or directory",
        ),
        (
            &["--cert", &cert, "--key", "/nonexistent/k.pem"],
            "--key /nonexistent/k.pem: No such file or directory",
        ),
        (
            &["--cert", bad_pem, "--key", &key],
            "not valid PEM (a section is not valid base64)",
        ),
        (
            &["--cert", &cert, "--key", &other],
            "the key is not the certificate's",
        ),
        (
            &["--cert", &cert, "--key", not_a_key],
            "not a key wsship can use",
        ),
        (
            &["--cert", &cert, "--key", &cert],
            "no PEM item of the right kind",
        ),
        (&["--cacert", empty], "no PEM certificate in it"),
    ];
    for (args, says) in cases {
        let mut all = vec!["--url", "wss://localhost:1/"];
        all.extend_from_slice(args);
        let done = wsship(&all).run("");
        done.expect_code(2);
        done.expect_stderr(says);
        assert!(!has_debug_names(&done.stderr, &all), "{}", done.stderr);
        assert!(!done.stderr.contains("panicked"), "{}", done.stderr);
    }
}

#[test]
fn tls_options_are_ignored_for_ws_urls() {
    let server = Server::start(Behaviour::default());
    wsship(&[
        "--url",
        &server.url(),
        "--cacert",
        "/nonexistent/ca.pem",
        "--insecure",
    ])
    .run("plain\n")
    .expect_code(0);
    assert_eq!(messages_of(&server.messages()), ["plain"]);
}

#[test]
fn wss_to_a_plain_server_says_what_is_wrong() {
    let server = Server::start(Behaviour::default());
    let url = format!("wss://{}/ingest", server.addr());
    let done = wsship(&["--url", &url, "--insecure", "--retry-limit", "0"]).run("x\n");
    done.expect_code(1);
    assert!(!has_debug_names(&done.stderr, &[&url]), "{}", done.stderr);
    done.expect_stderr("is this a wss:// server, or a plain ws:// one?");
}
