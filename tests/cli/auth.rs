//! Handshake headers and authentication, and the rule that no secret ever
//! reaches stderr, not even with -v or when the server says no.

use crate::server::{Behaviour, Server};
use crate::util::{TempDir, messages_of, wsship};

fn header(request: &[(String, String)], name: &str) -> Option<String> {
    request
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.clone())
}

#[track_caller]
fn assert_secret_free(stderr: &str, secrets: &[&str]) {
    for secret in secrets {
        assert!(
            !stderr.contains(secret),
            "secret {secret:?} on stderr:\n{stderr}"
        );
    }
}

#[test]
fn headers_token_file_subprotocol_and_origin_reach_the_server() {
    let server = Server::start(Behaviour {
        subprotocol: Some("logs.v1"),
        ..Behaviour::default()
    });
    let dir = TempDir::new("token");
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, "tok-SECRET-2\n").unwrap();
    let done = wsship(&[
        "--url",
        &server.url(),
        "-v",
        "-H",
        "X-Api-Key: k3y-SECRET-1",
        "--token-file",
        token_file.to_str().unwrap(),
        "--subprotocol",
        "logs.v1",
        "--origin",
        "https://example.org",
    ])
    .run("with headers\n");
    done.expect_code(0);
    assert_eq!(messages_of(&server.messages()), ["with headers"]);
    let request = &server.requests()[0];
    assert_eq!(
        header(request, "x-api-key").as_deref(),
        Some("k3y-SECRET-1")
    );
    assert_eq!(
        header(request, "authorization").as_deref(),
        Some("Bearer tok-SECRET-2")
    );
    assert_eq!(
        header(request, "sec-websocket-protocol").as_deref(),
        Some("logs.v1")
    );
    assert_eq!(
        header(request, "origin").as_deref(),
        Some("https://example.org")
    );
    assert_secret_free(&done.stderr, &["k3y-SECRET-1", "tok-SECRET-2"]);
}

#[test]
fn a_token_from_the_environment() {
    let server = Server::start(Behaviour::default());
    let done = wsship(&["--url", &server.url(), "-v"])
        .env("WSSHIP_TOKEN", "tok-SECRET-3")
        .run("x\n");
    done.expect_code(0);
    let request = &server.requests()[0];
    assert_eq!(
        header(request, "authorization").as_deref(),
        Some("Bearer tok-SECRET-3")
    );
    assert_secret_free(&done.stderr, &["tok-SECRET-3"]);
}

#[test]
fn basic_auth_from_the_url_and_from_user() {
    let server = Server::start(Behaviour::default());
    let url = format!("ws://alice:pa%40SECRET@{}/ingest", server.addr());
    let done = wsship(&["--url", &url, "-v"]).run("from url\n");
    done.expect_code(0);
    let done_user =
        wsship(&["--url", &server.url(), "--user", "bob:pw-SECRET", "-v"]).run("from user\n");
    done_user.expect_code(0);

    let requests = server.requests();
    // base64("alice:pa@SECRET") and base64("bob:pw-SECRET")
    assert_eq!(
        header(&requests[0], "authorization").as_deref(),
        Some("Basic YWxpY2U6cGFAU0VDUkVU")
    );
    assert_eq!(
        header(&requests[1], "authorization").as_deref(),
        Some("Basic Ym9iOnB3LVNFQ1JFVA==")
    );
    // The Host header carries no credentials either.
    assert_eq!(header(&requests[0], "host"), Some(server.addr()));
    assert_secret_free(&done.stderr, &["SECRET"]);
    assert_secret_free(&done_user.stderr, &["SECRET"]);
    assert!(
        done.stderr
            .contains(&format!("connected to ws://{}/ingest", server.addr())),
        "{}",
        done.stderr
    );
}

#[test]
fn a_401_is_reported_without_the_secret_and_not_retried() {
    let server = Server::start(Behaviour {
        reject: Some(401),
        ..Behaviour::default()
    });
    let done = wsship(&[
        "--url",
        &server.url(),
        "-v",
        "-H",
        "X-Api-Key: k3y-SECRET-4",
        "--backoff-init",
        "10ms",
    ])
    .env("WSSHIP_TOKEN", "tok-SECRET-5")
    .run("x\n");
    done.expect_code(1);
    done.expect_stderr("HTTP 401 Unauthorized");
    done.expect_stderr("--token-file");
    assert_secret_free(&done.stderr, &["k3y-SECRET-4", "tok-SECRET-5"]);
    assert_eq!(server.connections(), 1);
}

#[test]
fn a_subprotocol_the_server_does_not_pick_fails_clearly() {
    let server = Server::start(Behaviour::default());
    let done = wsship(&["--url", &server.url(), "--subprotocol", "logs.v1"]).run("x\n");
    done.expect_code(1);
    assert!(
        done.stderr
            .contains("did not accept the requested --subprotocol"),
        "{}",
        done.stderr
    );
    assert_eq!(server.connections(), 1);
}

#[test]
fn help_and_usage_errors_never_show_secrets() {
    let help = wsship(&["--help"])
        .env("WSSHIP_HEADER", "X-Api-Key: k3y-SECRET-6")
        .env("WSSHIP_USER", "u:pw-SECRET-7")
        .env("WSSHIP_URL", "ws://u:url-SECRET-8@host/")
        .run("");
    help.expect_code(0);
    assert_secret_free(&help.stdout, &["SECRET"]);
    assert!(
        help.stdout.contains("WSSHIP_TOKEN"),
        "--help names WSSHIP_TOKEN"
    );

    for args in [
        &["--url", "http://u:url-SECRET-9@host/"][..],
        &["-H", "no colon SECRET"],
        &["-H", "Host: SECRET"],
        &["--user", "u:SECRET", "--url", "ws://v:SECRET@host/"],
    ] {
        let done = wsship(args).run("");
        done.expect_code(2);
        assert_secret_free(&done.stderr, &["SECRET"]);
    }
}
