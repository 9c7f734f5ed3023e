//! wss:// against a real rustls server: verification on by default, and
//! certificate trouble reported once, clearly, without retries.

use crate::pki::Pki;
use crate::server::{Behaviour, Server};
use crate::util::{LONG, messages_of, numbered, wsship};

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
    .run(numbered(1_000_000));
    done.expect_code(0);
    assert_eq!(done.summary()["sent"], 1_000_000);
    server.wait_for_messages(1_000_000, LONG);
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
