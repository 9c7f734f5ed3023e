//! The extra headers of the opening handshake: -H, the Authorization header
//! from a bearer token or basic credentials, Sec-WebSocket-Protocol and
//! Origin. Built once from the command line; every connection adds them to
//! a fresh request (each needs its own Sec-WebSocket-Key).
//!
//! Secrets are marked sensitive and no error here repeats a header's value:
//! a token must not reach a terminal, a log or a CI transcript.

use std::path::Path;

use tungstenite::http::{HeaderName, HeaderValue, header};

use crate::messages::io_reason;

/// Everything that ends up in handshake headers, as given.
pub struct Parts<'a> {
    pub headers: &'a [String],
    pub token_file: Option<&'a Path>,
    /// From WSSHIP_TOKEN.
    pub token: Option<&'a str>,
    pub user: Option<&'a str>,
    /// `USER:PASSWORD` taken from the URL, still percent-encoded.
    pub userinfo: Option<&'a str>,
    pub subprotocol: Option<&'a str>,
    pub origin: Option<&'a str>,
}

/// Headers tungstenite writes itself; a second copy would break the handshake.
const RESERVED: [HeaderName; 5] = [
    header::HOST,
    header::CONNECTION,
    header::UPGRADE,
    header::SEC_WEBSOCKET_KEY,
    header::SEC_WEBSOCKET_VERSION,
];

pub fn headers(parts: &Parts<'_>) -> Result<Vec<(HeaderName, HeaderValue)>, String> {
    let mut headers = Vec::new();
    for (index, raw) in parts.headers.iter().enumerate() {
        headers.push(parse_header(index + 1, raw)?);
    }
    let bearer = match (parts.token_file, parts.token) {
        (Some(path), _) => Some(read_token(path)?),
        (None, Some(token)) if !token.trim().is_empty() => Some(token.trim().to_string()),
        (None, Some(_)) => return Err("WSSHIP_TOKEN is empty".into()),
        (None, None) => None,
    };
    let basic = match (parts.user, parts.userinfo) {
        (Some(_), Some(_)) => return Err("credentials both in the URL and in --user".into()),
        (Some(user), None) => Some(user.to_string()),
        (None, Some(userinfo)) => Some(percent_decode(userinfo)?),
        (None, None) => None,
    };
    let authorization = match (bearer, basic) {
        (Some(_), Some(_)) => {
            return Err("a bearer token and basic credentials both given: use one".into());
        }
        (Some(token), None) => Some(format!("Bearer {token}")),
        (None, Some(credentials)) => Some(format!(
            "Basic {}",
            data_encoding::BASE64.encode(credentials.as_bytes())
        )),
        (None, None) => None,
    };
    if let Some(value) = authorization {
        if headers
            .iter()
            .any(|(name, _)| name == header::AUTHORIZATION)
        {
            return Err("--header Authorization and a token or credentials both given".into());
        }
        let value = HeaderValue::from_str(&value)
            .map_err(|_| "the token or credentials hold characters a header cannot carry")?;
        headers.push((header::AUTHORIZATION, value));
    }
    if let Some(subprotocol) = parts.subprotocol {
        let value = HeaderValue::from_str(subprotocol)
            .map_err(|_| format!("--subprotocol '{subprotocol}' is not a valid header value"))?;
        headers.push((header::SEC_WEBSOCKET_PROTOCOL, value));
    }
    if let Some(origin) = parts.origin {
        let value = HeaderValue::from_str(origin)
            .map_err(|_| format!("--origin '{origin}' is not a valid header value"))?;
        headers.push((header::ORIGIN, value));
    }
    for (_, value) in &mut headers {
        // Any header may carry a secret (X-Api-Key): hide them all from Debug.
        value.set_sensitive(true);
    }
    Ok(headers)
}

fn parse_header(index: usize, raw: &str) -> Result<(HeaderName, HeaderValue), String> {
    let (name, value) = raw
        .split_once(':')
        .ok_or_else(|| format!("--header #{index}: expected 'Name: value'"))?;
    let name = HeaderName::from_bytes(name.trim().as_bytes()).map_err(|_| {
        format!(
            "--header #{index}: '{}' is not a valid header name",
            name.trim()
        )
    })?;
    if RESERVED.contains(&name) {
        return Err(format!("--header {name}: wsship sets this header itself"));
    }
    let value = HeaderValue::from_str(value.trim()).map_err(|_| {
        format!("--header {name}: the value holds characters a header cannot carry")
    })?;
    Ok((name, value))
}

fn read_token(path: &Path) -> Result<String, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("--token-file {}: {}", path.display(), io_reason(&e)))?;
    match text.trim() {
        "" => Err(format!(
            "--token-file {}: the file is empty",
            path.display()
        )),
        token => Ok(token.to_string()),
    }
}

/// Decodes `%XX` escapes, as URLs carry reserved characters in userinfo.
pub fn percent_decode(text: &str) -> Result<String, String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = text
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok());
            out.push(hex.ok_or("the URL's credentials have a bad %-escape")?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| "the URL's credentials are not UTF-8".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts() -> Parts<'static> {
        Parts {
            headers: &[],
            token_file: None,
            token: None,
            user: None,
            userinfo: None,
            subprotocol: None,
            origin: None,
        }
    }

    fn value(headers: &[(HeaderName, HeaderValue)], name: HeaderName) -> &str {
        let found = headers
            .iter()
            .find(|(n, _)| *n == name)
            .expect("header present");
        found.1.to_str().unwrap()
    }

    #[test]
    fn headers_as_given_and_all_sensitive() {
        let raw = ["X-Api-Key: k3y".to_string(), "X-Trace:a:b".to_string()];
        let headers = headers(&Parts {
            headers: &raw,
            ..parts()
        })
        .unwrap();
        assert_eq!(value(&headers, HeaderName::from_static("x-api-key")), "k3y");
        assert_eq!(value(&headers, HeaderName::from_static("x-trace")), "a:b");
        assert!(headers.iter().all(|(_, v)| v.is_sensitive()));
    }

    #[test]
    fn bearer_and_basic() {
        let bearer = headers(&Parts {
            token: Some(" t0k\n"),
            ..parts()
        })
        .unwrap();
        assert_eq!(value(&bearer, header::AUTHORIZATION), "Bearer t0k");
        let basic = headers(&Parts {
            userinfo: Some("us%40er:p%3Ass"),
            ..parts()
        })
        .unwrap();
        // base64("us@er:p:ss")
        assert_eq!(
            value(&basic, header::AUTHORIZATION),
            "Basic dXNAZXI6cDpzcw=="
        );
        let user = headers(&Parts {
            user: Some("us@er:p:ss"),
            ..parts()
        })
        .unwrap();
        assert_eq!(
            value(&user, header::AUTHORIZATION),
            "Basic dXNAZXI6cDpzcw=="
        );
    }

    #[test]
    fn conflicts_and_bad_input_never_echo_a_value() {
        let both = Parts {
            token: Some("SECRET"),
            user: Some("u:SECRET"),
            ..parts()
        };
        let bad = ["Authorization: SECRET".to_string()];
        let twice = Parts {
            headers: &bad,
            token: Some("SECRET"),
            ..parts()
        };
        let reserved = ["Host: SECRET".to_string()];
        let invalid = ["X-Key: SECRET\u{1}".to_string()];
        let no_colon = ["SECRET".to_string()];
        for case in [
            both,
            twice,
            Parts {
                headers: &reserved,
                ..parts()
            },
            Parts {
                headers: &invalid,
                ..parts()
            },
            Parts {
                headers: &no_colon,
                ..parts()
            },
            Parts {
                userinfo: Some("u:%zz"),
                ..parts()
            },
        ] {
            let err = headers(&case).unwrap_err();
            assert!(!err.contains("SECRET"), "{err}");
        }
    }

    #[test]
    fn subprotocol_and_origin() {
        let got = headers(&Parts {
            subprotocol: Some("logs.v1"),
            origin: Some("https://example.org"),
            ..parts()
        })
        .unwrap();
        assert_eq!(value(&got, header::SEC_WEBSOCKET_PROTOCOL), "logs.v1");
        assert_eq!(value(&got, header::ORIGIN), "https://example.org");
    }
}
