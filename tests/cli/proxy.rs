//! HTTP CONNECT proxies: a minimal one runs in the test, and records the
//! tunnels it was asked for.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread;

use crate::pki::Pki;
use crate::server::{Behaviour, Server};
use crate::util::{messages_of, wsship};

struct Proxy {
    addr: String,
    targets: Arc<Mutex<Vec<String>>>,
}

impl Proxy {
    /// With `password`, tunnels need Proxy-Authorization for user:`password`.
    fn start(password: Option<&'static str>) -> Proxy {
        Proxy::refusing(password, &[])
    }

    /// Answers the first tunnels with these status lines, one each, then
    /// opens the rest.
    fn refusing(password: Option<&'static str>, refusals: &'static [&'static str]) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let targets = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&targets);
        let mut refusals = refusals.iter().copied();
        thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let log = Arc::clone(&log);
                let refusal = refusals.next();
                thread::spawn(move || tunnel(client, password, refusal, &log));
            }
        });
        Proxy { addr, targets }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn targets(&self) -> Vec<String> {
        self.targets.lock().unwrap().clone()
    }
}

fn tunnel(
    mut client: TcpStream,
    password: Option<&str>,
    refusal: Option<&str>,
    log: &Mutex<Vec<String>>,
) {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if client.read(&mut byte).unwrap_or(0) == 0 {
            return;
        }
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    let target = head.split(' ').nth(1).unwrap_or_default().to_string();
    log.lock().unwrap().push(target.clone());
    if let Some(status) = refusal {
        let _ = client.write_all(format!("HTTP/1.1 {status}\r\n\r\n").as_bytes());
        return;
    }
    if let Some(password) = password {
        let expected = format!(
            "Basic {}",
            data_encoding::BASE64.encode(format!("user:{password}").as_bytes())
        );
        let given = head.lines().find_map(|line| {
            line.strip_prefix("Proxy-Authorization: ")
                .or(line.strip_prefix("proxy-authorization: "))
        });
        if given != Some(expected.as_str()) {
            let _ = client.write_all(
                b"HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic\r\n\r\n",
            );
            return;
        }
    }
    let Ok(upstream) = TcpStream::connect(&target) else {
        let _ = client.write_all(b"HTTP/1.1 502 Bad Gateway\r\n\r\n");
        return;
    };
    client
        .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
        .unwrap();
    let (mut client_read, mut upstream_write) =
        (client.try_clone().unwrap(), upstream.try_clone().unwrap());
    let forward = thread::spawn(move || {
        let _ = std::io::copy(&mut client_read, &mut upstream_write);
        let _ = upstream_write.shutdown(Shutdown::Write);
    });
    let (mut upstream_read, mut client_write) = (upstream, client);
    let _ = std::io::copy(&mut upstream_read, &mut client_write);
    let _ = client_write.shutdown(Shutdown::Write);
    let _ = forward.join();
}

#[test]
fn the_proxy_flag_carries_ws() {
    let server = Server::start(Behaviour::default());
    let proxy = Proxy::start(None);
    wsship(&["--url", &server.url(), "--proxy", &proxy.url()])
        .run("via proxy\n")
        .expect_code(0);
    assert_eq!(messages_of(&server.messages()), ["via proxy"]);
    assert_eq!(proxy.targets(), [server.addr()]);
}

#[test]
fn https_proxy_from_the_environment_carries_wss() {
    let pki = Pki::new("proxy");
    let server = Server::start_tls(Behaviour::default(), pki.server(false));
    let proxy = Proxy::start(None);
    let port = server.addr().rsplit_once(':').unwrap().1.to_string();
    let url = format!("wss://localhost:{port}/ingest");
    wsship(&["--url", &url, "--cacert", pki.ca.to_str().unwrap()])
        .env("https_proxy", &proxy.url())
        .env("http_proxy", "http://127.0.0.1:1")
        .run("tls in a tunnel\n")
        .expect_code(0);
    assert_eq!(messages_of(&server.messages()), ["tls in a tunnel"]);
    assert_eq!(proxy.targets(), [format!("localhost:{port}")]);
}

#[test]
fn no_proxy_and_noproxy_go_direct() {
    let server = Server::start(Behaviour::default());
    let proxy = Proxy::start(None);
    wsship(&["--url", &server.url()])
        .env("http_proxy", &proxy.url())
        .env("no_proxy", "example.com,127.0.0.1")
        .run("direct by no_proxy\n")
        .expect_code(0);
    wsship(&["--url", &server.url(), "--noproxy", "*"])
        .env("HTTP_PROXY", &proxy.url())
        .run("direct by --noproxy\n")
        .expect_code(0);
    wsship(&["--url", &server.url()])
        .env("HTTP_PROXY", &proxy.url())
        .run("proxied\n")
        .expect_code(0);
    assert_eq!(
        messages_of(&server.messages()),
        ["direct by no_proxy", "direct by --noproxy", "proxied"]
    );
    assert_eq!(proxy.targets().len(), 1, "only the last run used the proxy");
}

#[test]
fn proxy_credentials_work_and_a_407_never_shows_them() {
    let server = Server::start(Behaviour::default());
    let proxy = Proxy::start(Some("p-SECRET"));
    let with_auth = format!("http://user:p-SECRET@{}", proxy.addr);
    let done = wsship(&["--url", &server.url(), "--proxy", &with_auth, "-v"]).run("authorised\n");
    done.expect_code(0);
    assert!(!done.stderr.contains("SECRET"), "{}", done.stderr);
    assert_eq!(messages_of(&server.messages()), ["authorised"]);

    let wrong = format!("http://user:wrong-SECRET@{}", proxy.addr);
    let done = wsship(&[
        "--url",
        &server.url(),
        "--proxy",
        &wrong,
        "-v",
        "--backoff-init",
        "10ms",
    ])
    .run("refused\n");
    done.expect_code(1);
    let expected = format!(
        "proxy {} refused the tunnel: HTTP 407 Proxy Authentication Required",
        proxy.url()
    );
    done.expect_stderr(&expected);
    assert!(!done.stderr.contains("SECRET"), "{}", done.stderr);
    assert_eq!(proxy.targets().len(), 2, "a 407 is not retried");
}

#[test]
fn a_proxy_that_forbids_is_not_retried() {
    let server = Server::start(Behaviour::default());
    let proxy = Proxy::refusing(None, &["403 Forbidden"]);
    let done = wsship(&[
        "--url",
        &server.url(),
        "--proxy",
        &proxy.url(),
        "--backoff-init",
        "10ms",
    ])
    .run("never\n");
    done.expect_code(1);
    done.expect_stderr("refused the tunnel: HTTP 403");
    assert_eq!(done.summary()["retries"], 0);
    assert_eq!(proxy.targets().len(), 1, "one attempt");
    assert!(server.messages().is_empty());
}

#[test]
fn a_bad_gateway_is_retried_until_the_tunnel_opens() {
    let server = Server::start(Behaviour::default());
    let proxy = Proxy::refusing(None, &["502 Bad Gateway", "502 Bad Gateway"]);
    let done = wsship(&[
        "--url",
        &server.url(),
        "--proxy",
        &proxy.url(),
        "--backoff-init",
        "10ms",
    ])
    .run("through at last\n");
    done.expect_code(0);
    assert_eq!(done.summary()["retries"], 2);
    assert_eq!(proxy.targets().len(), 3);
    assert_eq!(messages_of(&server.messages()), ["through at last"]);
}

#[test]
fn lower_case_proxy_variables_win_over_upper_case_ones() {
    let server = Server::start(Behaviour::default());
    let (lower, upper) = (Proxy::start(None), Proxy::start(None));
    wsship(&["--url", &server.url()])
        .env("http_proxy", &lower.url())
        .env("HTTP_PROXY", &upper.url())
        .run("lower\n")
        .expect_code(0);
    assert_eq!(lower.targets(), [server.addr()]);
    assert!(upper.targets().is_empty());
    // all_proxy comes after the scheme's own, in either case.
    let (all, scheme) = (Proxy::start(None), Proxy::start(None));
    wsship(&["--url", &server.url()])
        .env("ALL_PROXY", &all.url())
        .env("HTTP_PROXY", &scheme.url())
        .run("scheme\n")
        .expect_code(0);
    assert_eq!(scheme.targets(), [server.addr()]);
    assert!(all.targets().is_empty());
}
