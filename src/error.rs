//! What can go wrong on a connection, and whether trying again can help.
//!
//! Classification follows tungstenite's error docs: I/O errors and a closed
//! connection mean "reconnect"; a refused handshake (a 4xx other than 408 and
//! 429, a redirect, a non-WebSocket answer), a malformed URL and a capacity
//! error will fail the same way every time.

use std::fmt;
use std::io;

use crate::messages::io_reason;

#[derive(Debug)]
pub enum Error {
    Resolve {
        addr: String,
        source: io::Error,
    },
    Connect {
        addr: String,
        source: io::Error,
    },
    Timeout(Stage),
    Rejected {
        status: u16,
        reason: String,
    },
    /// TLS refused: a certificate not trusted or not for this name, a client
    /// certificate missing or refused.
    Tls {
        server_name: String,
        source: rustls::Error,
    },
    /// The server hung up in the middle of the TLS handshake.
    TlsClosed,
    /// The server's answer to --compress breaks RFC 7692.
    Negotiation(String),
    /// The HTTP proxy would not open the tunnel.
    Proxy {
        proxy: String,
        status: u16,
        reason: String,
    },
    Handshake(tungstenite::Error),
    Lost(tungstenite::Error),
    ClosedByServer {
        code: u16,
        reason: String,
    },
    /// The time to drain after a signal ran out mid-write.
    Drained,
    /// Pings went unanswered on two connections in a row.
    NoPongs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Connect,
    Handshake,
    Write,
    Ping,
    /// The closing handshake (bounded by --connect-timeout).
    Close,
}

impl Error {
    /// True when no retry can succeed, so the run should end now.
    pub fn is_fatal(&self) -> bool {
        match self {
            Error::Rejected { status, .. } => !matches!(status, 408 | 429 | 500..=599),
            Error::Tls { .. } | Error::NoPongs | Error::Negotiation(_) => true,
            Error::Proxy { status, .. } => matches!(status, 403 | 407),
            Error::Handshake(err) => !matches!(err, tungstenite::Error::Io(_)),
            _ => false,
        }
    }

    /// Turns an error from an open connection into ours; `Ok(())` for the
    /// "would block" that a non-blocking socket reports as an error.
    pub fn from_session(err: tungstenite::Error) -> Error {
        match err {
            tungstenite::Error::Io(e) if e.kind() == io::ErrorKind::TimedOut => {
                Error::Timeout(Stage::Write)
            }
            err => Error::Lost(err),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Resolve { addr, source } => {
                write!(f, "cannot resolve {addr}: {}", io_reason(source))
            }
            Error::Connect { addr, source } => {
                write!(f, "cannot connect to {addr}: {}", io_reason(source))
            }
            Error::Timeout(Stage::Connect) => f.write_str("connect timed out (--connect-timeout)"),
            Error::Timeout(Stage::Handshake) => {
                f.write_str("handshake timed out (--connect-timeout)")
            }
            Error::Timeout(Stage::Write) => {
                f.write_str("server accepted no data for --write-timeout")
            }
            Error::Timeout(Stage::Close) => {
                f.write_str("server did not finish the closing handshake within --connect-timeout")
            }
            Error::Rejected { status, reason } => {
                write!(
                    f,
                    "server refused the WebSocket handshake: HTTP {status} {reason}"
                )?;
                match status {
                    200..=299 => f.write_str(" (is this a WebSocket endpoint? check --path)"),
                    300..=399 => f.write_str(" (redirects are not followed: use the final URL)"),
                    401 | 403 => f.write_str(
                        " (check the credentials: --token-file, WSSHIP_TOKEN, --user, --header)",
                    ),
                    404 => f.write_str(" (check --path)"),
                    _ => Ok(()),
                }
            }
            Error::Tls {
                server_name,
                source,
            } => tls_reason(f, server_name, source),
            Error::Negotiation(why) => write!(
                f,
                "the server's answer to the --compress offer breaks RFC 7692: {why}"
            ),
            Error::TlsClosed => f.write_str(
                "TLS: the server closed the connection during the TLS handshake; is this a \
                 wss:// server, or a plain ws:// one?",
            ),
            Error::Proxy {
                proxy,
                status,
                reason,
            } => {
                write!(
                    f,
                    "proxy {proxy} refused the tunnel: HTTP {status} {reason}"
                )?;
                match status {
                    407 => f.write_str(" (give credentials as http://USER:PASSWORD@HOST:PORT)"),
                    _ => Ok(()),
                }
            }
            Error::Handshake(tungstenite::Error::Protocol(
                tungstenite::error::ProtocolError::SecWebSocketSubProtocolError(_),
            )) => f.write_str("the server did not accept the requested --subprotocol"),
            Error::Handshake(err) => write!(f, "handshake failed: {}", tungstenite_reason(err)),
            Error::Lost(err) => write!(f, "connection lost: {}", tungstenite_reason(err)),
            Error::ClosedByServer { code, reason } if reason.is_empty() => {
                write!(f, "server closed the connection (code {code})")
            }
            Error::ClosedByServer { code, reason } => {
                write!(f, "server closed the connection (code {code}: {reason})")
            }
            Error::Drained => f.write_str("stopped: --drain-timeout is over"),
            Error::Timeout(Stage::Ping) => {
                f.write_str("no Pong within --ping-timeout: the connection is taken as dead")
            }
            Error::NoPongs => f.write_str(
                "the server answered no Ping on two connections in a row, so no batch can be \
                 confirmed: if it does not answer pings, use --confirm write",
            ),
        }
    }
}

/// No `source()`: every Display says its cause in words already, and a
/// reporter that walks the chain would say it again in the library's.
impl std::error::Error for Error {}

/// Certificate trouble, said with what to do about it, in words: rustls's
/// own Display shows Rust's debug names (`Other(OtherError(…))`), which a
/// user cannot act on.
fn tls_reason(f: &mut fmt::Formatter<'_>, name: &str, err: &rustls::Error) -> fmt::Result {
    use rustls::{AlertDescription as Alert, CertificateError as Cert, Error as Tls};
    match err {
        Tls::InvalidCertificate(Cert::UnknownIssuer) => write!(
            f,
            "TLS: the server's certificate is not trusted (unknown issuer); for a private CA \
             or a self-signed certificate, pass it with --cacert"
        ),
        Tls::InvalidCertificate(Cert::NotValidForName | Cert::NotValidForNameContext { .. }) => {
            write!(
                f,
                "TLS: the server's certificate is not valid for '{name}'; connect by a name it \
                 lists, or name one with --tls-server-name"
            )
        }
        Tls::InvalidCertificate(Cert::Expired | Cert::ExpiredContext { .. }) => write!(
            f,
            "TLS: the server's certificate has expired; the server must renew it"
        ),
        Tls::InvalidCertificate(Cert::NotValidYet | Cert::NotValidYetContext { .. }) => write!(
            f,
            "TLS: the server's certificate is not valid yet (check this machine's clock)"
        ),
        Tls::InvalidCertificate(Cert::BadSignature) => {
            write!(
                f,
                "TLS: the server's certificate does not carry a valid signature"
            )
        }
        Tls::InvalidCertificate(Cert::InvalidPurpose | Cert::InvalidPurposeContext { .. }) => {
            write!(
                f,
                "TLS: the server's certificate is not meant for TLS servers (extended key usage)"
            )
        }
        Tls::InvalidCertificate(Cert::Revoked) => {
            write!(f, "TLS: the server's certificate has been revoked")
        }
        Tls::InvalidCertificate(other) => write!(
            f,
            "TLS: the server's certificate cannot be used ({})",
            words(other)
        ),
        Tls::AlertReceived(
            alert @ (Alert::CertificateRequired
            | Alert::BadCertificate
            | Alert::UnknownCA
            | Alert::CertificateUnknown
            | Alert::UnsupportedCertificate
            | Alert::HandshakeFailure),
        ) => write!(
            f,
            "TLS: the server refused the connection ({}); does it want a client certificate \
             (--cert and --key) it trusts?",
            words(alert)
        ),
        Tls::AlertReceived(alert) => {
            write!(
                f,
                "TLS: the server refused the connection ({})",
                words(alert)
            )
        }
        Tls::InvalidMessage(_) => write!(
            f,
            "TLS: the server's answer is not TLS; is this a wss:// server, or a plain ws:// one?"
        ),
        Tls::PeerIncompatible(why) => write!(
            f,
            "TLS: the server and wsship have nothing in common to talk with ({}); wsship \
             speaks TLS 1.2 and 1.3",
            words(why)
        ),
        Tls::PeerMisbehaved(why) => {
            write!(f, "TLS: the server broke the protocol ({})", words(why))
        }
        Tls::NoCertificatesPresented => write!(f, "TLS: the server presented no certificate"),
        other => write!(f, "TLS: {}", words(other)),
    }
}

/// What a value's debug form names last, in lower-case words: for the
/// enums of rustls and webpki that have no better Display, the innermost
/// variant ("Other(OtherError(UnsupportedCertVersion))" becomes
/// "unsupported cert version").
pub fn words(value: &impl fmt::Debug) -> String {
    let debug = format!("{value:?}");
    let name = debug
        .split(|c: char| !c.is_ascii_alphanumeric())
        .rfind(|part| part.starts_with(|c: char| c.is_ascii_uppercase()))
        .unwrap_or("unknown");
    let mut words = String::new();
    let mut previous_lower = false;
    for c in name.chars() {
        if c.is_ascii_uppercase() && previous_lower {
            words.push(' ');
        }
        previous_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
        words.push(c.to_ascii_lowercase());
    }
    words
}

fn tungstenite_reason(err: &tungstenite::Error) -> String {
    match err {
        tungstenite::Error::Io(e) => io_reason(e),
        err => err.to_string().to_lowercase(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rejected(status: u16) -> Error {
        Error::Rejected {
            status,
            reason: String::new(),
        }
    }

    #[test]
    fn only_permanent_refusals_are_fatal() {
        for status in [400, 401, 403, 404, 200, 301] {
            assert!(rejected(status).is_fatal(), "{status}");
        }
        for status in [408, 429, 500, 502, 503] {
            assert!(!rejected(status).is_fatal(), "{status}");
        }
        let io = || io::Error::from(io::ErrorKind::ConnectionRefused);
        assert!(!Error::Handshake(tungstenite::Error::Io(io())).is_fatal());
        assert!(
            !Error::Connect {
                addr: "a:1".into(),
                source: io()
            }
            .is_fatal()
        );
        assert!(
            Error::Handshake(tungstenite::Error::Url(
                tungstenite::error::UrlError::NoHostName
            ))
            .is_fatal()
        );
    }

    #[test]
    fn debug_names_become_words() {
        #[derive(Debug)]
        #[allow(dead_code)]
        enum Inner {
            UnsupportedCertVersion,
            UnknownCA,
        }
        #[derive(Debug)]
        #[allow(dead_code)]
        enum Outer {
            Other(Inner),
            Unknown(u8),
        }
        assert_eq!(
            words(&Outer::Other(Inner::UnsupportedCertVersion)),
            "unsupported cert version"
        );
        assert_eq!(words(&Inner::UnknownCA), "unknown ca");
        assert_eq!(words(&Outer::Unknown(42)), "unknown");
        let alert = rustls::AlertDescription::CertificateRequired;
        assert_eq!(words(&alert), "certificate required");
    }

    #[test]
    fn tls_trouble_reads_as_sentences_without_debug_names() {
        use rustls::{CertificateError, Error as Tls, OtherError};
        let other = std::sync::Arc::new(io::Error::other("UnsupportedCertVersion"));
        let cases = [
            Tls::InvalidCertificate(CertificateError::UnknownIssuer),
            Tls::InvalidCertificate(CertificateError::Other(OtherError(other))),
            Tls::AlertReceived(rustls::AlertDescription::CertificateRequired),
            Tls::AlertReceived(rustls::AlertDescription::ProtocolVersion),
            Tls::InvalidMessage(rustls::InvalidMessage::InvalidContentType),
            Tls::PeerIncompatible(rustls::PeerIncompatible::NoCipherSuitesInCommon),
            Tls::DecryptError,
        ];
        for source in cases {
            let text = Error::Tls {
                server_name: "logs.example".into(),
                source,
            }
            .to_string();
            assert!(text.starts_with("TLS: "), "{text}");
            assert!(!text.contains("::") && !text.contains('{'), "{text}");
            // A debug name is CamelCase: an upper-case letter inside a word
            // that also has lower-case ones (TLS and CA are fine).
            let camel = text
                .split(|c: char| !c.is_ascii_alphanumeric())
                .any(|word| {
                    word.chars().any(|c| c.is_ascii_lowercase())
                        && word.chars().skip(1).any(|c| c.is_ascii_uppercase())
                });
            assert!(!camel, "{text}");
        }
    }

    #[test]
    fn messages_read_like_cat() {
        let err = Error::Connect {
            addr: "127.0.0.1:9".into(),
            source: io::Error::from_raw_os_error(libc::ECONNREFUSED),
        };
        assert_eq!(
            err.to_string(),
            "cannot connect to 127.0.0.1:9: Connection refused"
        );
    }
}
