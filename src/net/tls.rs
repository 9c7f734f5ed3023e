//! TLS for wss:// with rustls: the client configuration, built once at
//! start-up, and the stream type a connection runs over.
//!
//! Verification is on by default, against the system's trust store; --cacert
//! replaces that store (as in curl), --cert/--key add a client certificate,
//! and --insecure turns verification off (but still checks that the server
//! holds the key it claims, so the handshake is not trivially forged).

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::os::fd::{AsRawFd, RawFd};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::ResolvesClientCert;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::sign::CertifiedKey;
use rustls::{
    ClientConfig, ClientConnection, DigitallySignedStruct, InconsistentKeys, RootCertStore,
    SignatureScheme,
};

/// What the command line asked of TLS.
#[derive(Debug, Clone, Default)]
pub struct TlsOptions {
    pub cacert: Option<PathBuf>,
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
    pub insecure: bool,
    pub server_name: Option<String>,
}

/// The client side of TLS, ready for every connection of the run.
#[derive(Debug, Clone)]
pub struct Tls {
    pub config: Arc<ClientConfig>,
    pub server_name: ServerName<'static>,
}

impl Tls {
    /// TLS for one server, sharing the run's client configuration.
    pub fn new(
        config: &Arc<ClientConfig>,
        options: &TlsOptions,
        host: &str,
    ) -> Result<Tls, String> {
        let name = options.server_name.as_deref().unwrap_or(host);
        let server_name = ServerName::try_from(name.to_string())
            .map_err(|_| format!("'{name}' is not a valid TLS server name"))?;
        Ok(Tls {
            config: Arc::clone(config),
            server_name,
        })
    }

    /// Builds the client configuration once per run; an error names the
    /// option and the file.
    pub fn client_config(options: &TlsOptions) -> Result<Arc<ClientConfig>, String> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ClientConfig::builder_with_provider(Arc::clone(&provider))
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS: {e}"))?;
        let builder = match options.insecure {
            true => builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AnyCertificate(Arc::clone(&provider)))),
            false => builder.with_root_certificates(roots(options.cacert.as_deref())?),
        };
        let config = match (&options.cert, &options.key) {
            (Some(cert), Some(key)) => {
                let certified = client_certificate(cert, key, &provider)?;
                builder.with_client_cert_resolver(Arc::new(ClientCertificate(certified)))
            }
            (None, None) => builder.with_no_client_auth(),
            _ => return Err("--cert and --key go together".into()),
        };
        Ok(Arc::new(config))
    }

    /// Runs the TLS handshake on a connected, still blocking socket.
    pub fn connect(&self, mut tcp: TcpStream) -> io::Result<Stream> {
        let mut conn = ClientConnection::new(Arc::clone(&self.config), self.server_name.clone())
            .map_err(io::Error::other)?;
        while conn.is_handshaking() {
            conn.complete_io(&mut tcp)?;
        }
        Ok(Stream::Tls(Box::new(rustls::StreamOwned::new(conn, tcp))))
    }
}

fn roots(cacert: Option<&Path>) -> Result<RootCertStore, String> {
    let mut roots = RootCertStore::empty();
    match cacert {
        Some(path) => {
            let (added, _) = roots.add_parsable_certificates(load_certs("--cacert", path)?);
            if added == 0 {
                return Err(format!(
                    "--cacert {}: no usable certificate",
                    path.display()
                ));
            }
        }
        // Certificates the system store cannot parse are skipped, as curl
        // does; an empty store shows up as "unknown issuer" at connect time.
        None => {
            roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
        }
    }
    Ok(roots)
}

fn load_certs(option: &str, path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|iter| iter.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("{option} {}: {}", path.display(), pem_reason(e)))?;
    match certs.is_empty() {
        true => Err(format!(
            "{option} {}: no PEM certificate in it",
            path.display()
        )),
        false => Ok(certs),
    }
}

fn pem_reason(err: rustls::pki_types::pem::Error) -> String {
    use rustls::pki_types::pem::Error as Pem;
    match err {
        Pem::Io(e) => crate::messages::io_reason(&e),
        Pem::NoItemsFound => "no PEM item of the right kind in it".into(),
        Pem::MissingSectionEnd { .. } => "not valid PEM (a section has no END line)".into(),
        Pem::IllegalSectionStart { .. } => "not valid PEM (a BEGIN line is malformed)".into(),
        Pem::Base64Decode(_) => "not valid PEM (a section is not valid base64)".into(),
        Pem::SectionTooLarge => "not valid PEM (a section is over 256 MB)".into(),
        _ => "not valid PEM".into(),
    }
}

/// The client certificate and its key, as they will be presented.
///
/// rustls's own `with_client_auth_cert` parses the certificate with webpki
/// to compare its public key with the private key's, and webpki refuses
/// X.509 version 1 certificates, which `openssl x509 -req` makes by default:
/// the client does not validate its own certificate, it only presents it,
/// so the server decides. The keys are still compared, reading the public
/// key straight out of the certificate's DER where webpki will not.
fn client_certificate(
    cert: &Path,
    key: &Path,
    provider: &CryptoProvider,
) -> Result<Arc<CertifiedKey>, String> {
    let chain = load_certs("--cert", cert)?;
    let key_der = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| format!("--key {}: {}", key.display(), pem_reason(e)))?;
    let signing = provider
        .key_provider
        .load_private_key(key_der)
        .map_err(|_| {
            format!(
                "--key {}: not a key wsship can use (RSA, ECDSA P-256 or P-384, or Ed25519, in \
             PKCS#8, PKCS#1 or SEC1 PEM)",
                key.display()
            )
        })?;
    let certified = CertifiedKey::new(chain, signing);
    let matches = match certified.keys_match() {
        Ok(()) => Some(true),
        Err(rustls::Error::InconsistentKeys(InconsistentKeys::KeyMismatch)) => Some(false),
        Err(_) => match (
            public_key_of(&certified.cert[0]),
            certified.key.public_key(),
        ) {
            (Some(in_cert), Some(of_key)) => Some(in_cert == of_key.as_ref()),
            // Nothing to compare with: let the server judge.
            _ => None,
        },
    };
    match matches {
        Some(false) => Err(format!(
            "--cert {} and --key {}: the key is not the certificate's (they do not belong \
             together)",
            cert.display(),
            key.display()
        )),
        _ => Ok(Arc::new(certified)),
    }
}

/// Presents the one client certificate to every server that asks.
#[derive(Debug)]
struct ClientCertificate(Arc<CertifiedKey>);

impl ResolvesClientCert for ClientCertificate {
    fn resolve(
        &self,
        _root_hint_subjects: &[&[u8]],
        _sigschemes: &[SignatureScheme],
    ) -> Option<Arc<CertifiedKey>> {
        Some(Arc::clone(&self.0))
    }

    fn has_certs(&self) -> bool {
        true
    }
}

/// The SubjectPublicKeyInfo of a DER certificate, whole (tag and length
/// included), found by walking RFC 5280's structure: Certificate is a
/// SEQUENCE whose first element, TBSCertificate, is a SEQUENCE of an
/// optional [0] version, serial number, signature algorithm, issuer,
/// validity, subject, then the key. Works for every X.509 version.
fn public_key_of(cert: &[u8]) -> Option<&[u8]> {
    let (_, certificate, _) = der_element(cert)?;
    let (_, tbs, _) = der_element(certificate)?;
    let mut rest = tbs;
    let (tag, _, after) = der_element(rest)?;
    if tag == 0xA0 {
        rest = after;
    }
    // Serial number, signature algorithm, issuer, validity, subject.
    for _ in 0..5 {
        rest = der_element(rest)?.2;
    }
    let (tag, content, after) = der_element(rest)?;
    let whole = &rest[..rest.len() - after.len()];
    (tag == 0x30 && !content.is_empty()).then_some(whole)
}

/// One DER element at the start of `bytes`: its tag, its content, and what
/// follows it.
fn der_element(bytes: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = bytes.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = match first {
        0..=0x7F => (usize::from(first), rest),
        0x81..=0x84 => {
            let count = usize::from(first & 0x7F);
            let (octets, rest) = rest.split_at_checked(count)?;
            let len = octets
                .iter()
                .fold(0usize, |len, &b| len << 8 | usize::from(b));
            (len, rest)
        }
        _ => return None,
    };
    let (content, after) = rest.split_at_checked(len)?;
    Some((tag, content, after))
}

/// --insecure: any certificate, any name, but a real signature check.
#[derive(Debug)]
struct AnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// A connection's byte stream: plain TCP, or TLS over it.
pub enum Stream {
    Plain(TcpStream),
    Tls(Box<rustls::StreamOwned<ClientConnection, TcpStream>>),
}

impl Stream {
    pub fn tcp(&self) -> &TcpStream {
        match self {
            Stream::Plain(tcp) => tcp,
            Stream::Tls(tls) => &tls.sock,
        }
    }
}

impl AsRawFd for Stream {
    fn as_raw_fd(&self) -> RawFd {
        self.tcp().as_raw_fd()
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(tcp) => tcp.read(buf),
            Stream::Tls(tls) => tls.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(tcp) => tcp.write(buf),
            Stream::Tls(tls) => tls.write(buf),
        }
    }

    // The default would write only the first slice: a syscall per frame.
    fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        match self {
            Stream::Plain(tcp) => tcp.write_vectored(bufs),
            Stream::Tls(tls) => tls.write_vectored(bufs),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Plain(tcp) => tcp.flush(),
            Stream::Tls(tls) => tls.flush(),
        }
    }
}

/// The TLS error inside an I/O error, where rustls put one.
pub fn tls_error(err: &io::Error) -> Option<&rustls::Error> {
    err.get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
}
