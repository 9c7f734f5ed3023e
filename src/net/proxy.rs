//! HTTP CONNECT proxies, chosen the way curl chooses them.
//!
//! `--proxy` wins; otherwise `https_proxy` (for wss://) or `http_proxy` (for
//! ws://), then `all_proxy`, lower case before upper case; `no_proxy` (or
//! `--noproxy`) lists hosts and domain suffixes that go direct, `*` for all.
//! The tunnel is opened on the worker's socket before TLS and the WebSocket
//! handshake, so both ride inside it. Proxy credentials become a
//! Proxy-Authorization header and never appear in output: the proxy is named
//! by scheme, host and port only.

use std::io::{self, Read, Write};
use std::net::TcpStream;

use crate::error::{Error, Stage};
use crate::net::request::percent_decode;

#[derive(Debug, Clone)]
pub struct Proxy {
    pub host: String,
    pub port: u16,
    /// `Basic …` for Proxy-Authorization, from `user:password@` in its URL.
    authorization: Option<String>,
}

impl std::fmt::Display for Proxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.host.contains(':') {
            true => write!(f, "http://[{}]:{}", self.host, self.port),
            false => write!(f, "http://{}:{}", self.host, self.port),
        }
    }
}

/// Which proxy, if any, carries a connection to `host`.
pub fn choose(
    flag: Option<&str>,
    noproxy: Option<&str>,
    host: &str,
    secure: bool,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Option<Proxy>, String> {
    let from_env = |names: &[&str]| {
        names
            .iter()
            .find_map(|name| env(name))
            .filter(|v| !v.is_empty())
    };
    let noproxy = noproxy
        .map(str::to_string)
        .or_else(|| from_env(&["no_proxy", "NO_PROXY"]));
    if noproxy.as_deref().is_some_and(|list| bypassed(host, list)) {
        return Ok(None);
    }
    if let Some(url) = flag {
        return parse(url).map(Some).map_err(|e| format!("--proxy: {e}"));
    }
    let scheme_vars: &[&str] = match secure {
        true => &["https_proxy", "HTTPS_PROXY"],
        false => &["http_proxy", "HTTP_PROXY"],
    };
    match from_env(scheme_vars).or_else(|| from_env(&["all_proxy", "ALL_PROXY"])) {
        Some(url) => parse(&url)
            .map(Some)
            .map_err(|e| format!("proxy from the environment: {e}")),
        None => Ok(None),
    }
}

/// `host` matches an entry exactly or as a subdomain (`example.com` and
/// `.example.com` both cover `logs.example.com`); `*` matches everything.
fn bypassed(host: &str, list: &str) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    list.split(',')
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .any(|entry| {
            let entry = entry
                .trim_start_matches('.')
                .trim_end_matches('.')
                .to_ascii_lowercase();
            let entry = entry.trim_start_matches('[').trim_end_matches(']');
            entry == "*" || host == entry || host.ends_with(&format!(".{entry}"))
        })
}

/// Parses `http://[user:password@]host[:port]` (scheme optional, as curl
/// allows). Errors never repeat the URL, which may hold a password.
fn parse(url: &str) -> Result<Proxy, String> {
    let rest = match url.split_once("://") {
        Some(("http" | "HTTP", rest)) => rest,
        Some((scheme, _)) => {
            return Err(format!("scheme '{scheme}' is not supported (only http://)"));
        }
        None => url,
    };
    let authority = rest.split('/').next().unwrap_or_default();
    let (userinfo, host_port) = match authority.rsplit_once('@') {
        Some((userinfo, host_port)) => (Some(userinfo), host_port),
        None => (None, authority),
    };
    let (host, port) = match host_port.rsplit_once(':') {
        Some((host, port)) if !host.ends_with(']') || host.starts_with('[') => {
            let port = port
                .parse()
                .map_err(|_| "the port is not a number".to_string())?;
            (host, port)
        }
        _ => (host_port, 1080),
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() {
        return Err("missing host".into());
    }
    let authorization = match userinfo {
        Some(userinfo) => {
            let credentials = percent_decode(userinfo)?;
            Some(format!(
                "Basic {}",
                data_encoding::BASE64.encode(credentials.as_bytes())
            ))
        }
        None => None,
    };
    Ok(Proxy {
        host: host.to_string(),
        port,
        authorization,
    })
}

/// Asks the proxy for a tunnel to `host:port` on a connected, blocking
/// socket (whose timeouts bound the exchange).
pub fn tunnel(tcp: &mut TcpStream, proxy: &Proxy, host: &str, port: u16) -> Result<(), Error> {
    let target = match host.contains(':') {
        true => format!("[{host}]:{port}"),
        false => format!("{host}:{port}"),
    };
    let mut request = format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n");
    if let Some(authorization) = &proxy.authorization {
        request.push_str(&format!("Proxy-Authorization: {authorization}\r\n"));
    }
    request.push_str("\r\n");
    let io_error = |e: io::Error| match e.kind() {
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => Error::Timeout(Stage::Handshake),
        _ => Error::Connect {
            addr: format!("proxy {proxy}"),
            source: e,
        },
    };
    tcp.write_all(request.as_bytes()).map_err(io_error)?;

    // Read the reply a byte at a time: nothing after its blank line is ours
    // to take, it belongs to the TLS or WebSocket handshake that follows.
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if head.len() > 16 * 1024 {
            return Err(Error::Proxy {
                proxy: proxy.to_string(),
                status: 0,
                reason: "reply too long".into(),
            });
        }
        match tcp.read(&mut byte).map_err(io_error)? {
            0 => {
                let eof = io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the proxy closed the connection",
                );
                return Err(io_error(eof));
            }
            _ => head.push(byte[0]),
        }
    }
    let head = String::from_utf8_lossy(&head);
    let status_line = head.lines().next().unwrap_or_default();
    let mut fields = status_line.splitn(3, ' ');
    let status = fields.nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    match status {
        200..=299 => Ok(()),
        _ => Err(Error::Proxy {
            proxy: proxy.to_string(),
            status,
            reason: fields.next().unwrap_or("").trim().to_string(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        |name| {
            vars.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.to_string())
        }
    }

    fn chosen(
        flag: Option<&str>,
        noproxy: Option<&str>,
        host: &str,
        secure: bool,
        vars: &[(&str, &str)],
    ) -> Option<String> {
        choose(flag, noproxy, host, secure, env(vars))
            .unwrap()
            .map(|p| p.to_string())
    }

    #[test]
    fn flag_then_scheme_variable_then_all_proxy() {
        let vars = [
            ("http_proxy", "http://h:1"),
            ("https_proxy", "s:2"),
            ("ALL_PROXY", "a:3"),
        ];
        assert_eq!(
            chosen(Some("f:9"), None, "x", false, &vars).as_deref(),
            Some("http://f:9")
        );
        assert_eq!(
            chosen(None, None, "x", false, &vars).as_deref(),
            Some("http://h:1")
        );
        assert_eq!(
            chosen(None, None, "x", true, &vars).as_deref(),
            Some("http://s:2")
        );
        assert_eq!(
            chosen(None, None, "x", true, &[("ALL_PROXY", "a:3")]).as_deref(),
            Some("http://a:3")
        );
        assert_eq!(chosen(None, None, "x", false, &[("http_proxy", "")]), None);
    }

    #[test]
    fn no_proxy_by_host_domain_suffix_and_star() {
        let vars = [
            ("http_proxy", "p:1"),
            ("no_proxy", "localhost, .internal,example.com"),
        ];
        assert_eq!(chosen(None, None, "logs.internal", false, &vars), None);
        assert_eq!(chosen(None, None, "a.example.com", false, &vars), None);
        assert_eq!(chosen(None, None, "example.com", false, &vars), None);
        assert_eq!(chosen(None, None, "LOCALHOST", false, &vars), None);
        assert!(chosen(None, None, "notexample.com", false, &vars).is_some());
        assert_eq!(
            chosen(Some("p:1"), Some("*"), "anything", false, &vars),
            None
        );
        // --noproxy replaces no_proxy.
        assert!(chosen(None, Some("other"), "logs.internal", false, &vars).is_some());
    }

    #[test]
    fn proxy_urls() {
        let p = parse("http://u:p%40ss@proxy.corp:3128").unwrap();
        assert_eq!((p.host.as_str(), p.port), ("proxy.corp", 3128));
        assert_eq!(p.to_string(), "http://proxy.corp:3128");
        // base64("u:p@ss")
        assert_eq!(p.authorization.as_deref(), Some("Basic dTpwQHNz"));
        assert_eq!(
            parse("[::1]:8080").unwrap().to_string(),
            "http://[::1]:8080"
        );
        assert_eq!(parse("proxy").unwrap().port, 1080);
        let err = parse("socks5://u:SECRET@h:1").unwrap_err();
        assert!(err.contains("socks5") && !err.contains("SECRET"), "{err}");
    }
}
