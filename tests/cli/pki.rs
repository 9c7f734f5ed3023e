//! A throwaway PKI made at test time: a CA, server certificates for
//! `localhost` only (current, expired, not yet valid), and client
//! certificates (X.509 v3 as rcgen makes them, and v1 as `openssl x509
//! -req` makes them), as PEM files in a directory removed with the Pki, and
//! rustls configurations for the test server.

use std::path::PathBuf;
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, SigningKey,
    date_time_ymd,
};
use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, UnixTime};
use rustls::server::WebPkiClientVerifier;
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{
    CertificateError, DigitallySignedStruct, DistinguishedName, Error, RootCertStore, ServerConfig,
    SignatureScheme,
};

use crate::util::TempDir;

/// Which server certificate the test server presents.
#[derive(Clone, Copy)]
pub enum Validity {
    Current,
    Expired,
    NotYetValid,
}

pub struct Pki {
    pub ca: PathBuf,
    pub client_cert: PathBuf,
    pub client_key: PathBuf,
    /// The same client key's certificate as X.509 version 1: no version
    /// field, no extensions.
    pub client_v1: PathBuf,
    /// A key that is not the client certificate's.
    pub other_key: PathBuf,
    ca_der: CertificateDer<'static>,
    client_v1_der: CertificateDer<'static>,
    server_certs: [CertificateDer<'static>; 3],
    server_key: Vec<u8>,
    dir: TempDir,
}

impl Pki {
    pub fn new(test: &str) -> Pki {
        let dir = TempDir::new(&format!("pki-{test}"));

        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "wsship test CA");
        let ca_key = KeyPair::generate().unwrap();
        let ca_signer = KeyPair::try_from(ca_key.serialize_der().as_slice()).unwrap();
        let ca = CertifiedIssuer::self_signed(ca_params, ca_key).unwrap();

        let server_key = KeyPair::generate().unwrap();
        let server_cert = |validity: Validity| {
            let mut params = CertificateParams::new(vec!["localhost".to_string()]).unwrap();
            match validity {
                Validity::Current => {}
                Validity::Expired => {
                    params.not_before = date_time_ymd(2020, 1, 1);
                    params.not_after = date_time_ymd(2021, 1, 1);
                }
                Validity::NotYetValid => {
                    params.not_before = date_time_ymd(2099, 1, 1);
                    params.not_after = date_time_ymd(2100, 1, 1);
                }
            }
            params.signed_by(&server_key, &ca).unwrap().der().clone()
        };
        let server_certs = [
            server_cert(Validity::Current),
            server_cert(Validity::Expired),
            server_cert(Validity::NotYetValid),
        ];

        let client_key = KeyPair::generate().unwrap();
        let mut client_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        client_params
            .distinguished_name
            .push(DnType::CommonName, "wsship test client");
        let client_cert = client_params.signed_by(&client_key, &ca).unwrap();
        let client_v1_der = CertificateDer::from(version_1(client_cert.der(), &ca_signer));

        let write = |name: &str, text: String| {
            let path = dir.path().join(name);
            std::fs::write(&path, text).unwrap();
            path
        };
        Pki {
            ca: write("ca.pem", ca.pem()),
            client_cert: write("client.pem", client_cert.pem()),
            client_key: write("client.key", client_key.serialize_pem()),
            client_v1: write("client-v1.pem", pem("CERTIFICATE", &client_v1_der)),
            other_key: write("other.key", server_key.serialize_pem()),
            ca_der: ca.der().clone(),
            client_v1_der,
            server_certs,
            server_key: server_key.serialize_der(),
            dir,
        }
    }

    /// A file in the Pki's directory, for tests that need bad ones.
    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    /// A server configuration; with `client_auth`, a client certificate
    /// signed by our CA is required.
    pub fn server(&self, client_auth: bool) -> Arc<ServerConfig> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verifier: Option<Arc<dyn ClientCertVerifier>> = client_auth.then(|| {
            let mut roots = RootCertStore::empty();
            roots.add(self.ca_der.clone()).unwrap();
            WebPkiClientVerifier::builder_with_provider(Arc::new(roots), Arc::clone(&provider))
                .build()
                .unwrap()
        });
        self.config(provider, verifier, Validity::Current)
    }

    /// A server presenting a certificate that is not valid now.
    pub fn server_with(&self, validity: Validity) -> Arc<ServerConfig> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        self.config(provider, None, validity)
    }

    /// A server that requires a client certificate and takes exactly the
    /// v1 one, as OpenSSL-based servers do (webpki refuses v1 outright).
    pub fn server_for_v1_client(&self) -> Arc<ServerConfig> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verifier = Arc::new(Pinned {
            cert: self.client_v1_der.clone(),
            provider: Arc::clone(&provider),
        });
        self.config(provider, Some(verifier), Validity::Current)
    }

    fn config(
        &self,
        provider: Arc<CryptoProvider>,
        verifier: Option<Arc<dyn ClientCertVerifier>>,
        validity: Validity,
    ) -> Arc<ServerConfig> {
        let builder = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap();
        let builder = match verifier {
            Some(verifier) => builder.with_client_cert_verifier(verifier),
            None => builder.with_no_client_auth(),
        };
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.server_key.clone()));
        let cert = self.server_certs[validity as usize].clone();
        Arc::new(builder.with_single_cert(vec![cert], key).unwrap())
    }
}

/// `cert` rewritten as X.509 version 1 (RFC 5280 section 4.1: no version
/// field, which means v1, and no extensions) and signed again by the CA.
fn version_1(cert: &[u8], ca: &KeyPair) -> Vec<u8> {
    let certificate = elements(content(cert));
    let tbs = elements(content(certificate[0]));
    // [0] version, serial, signature, issuer, validity, subject, key, [3] extensions.
    assert_eq!(tbs[0][0], 0xA0, "a v3 certificate to start from");
    let kept: Vec<u8> = tbs[1..7].concat();
    let tbs = der(0x30, &kept);
    let mut signature = vec![0];
    signature.extend(ca.sign(&tbs).unwrap());
    der(
        0x30,
        &[tbs, certificate[1].to_vec(), der(0x03, &signature)].concat(),
    )
}

fn der(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    match len {
        0..=0x7F => out.push(len as u8),
        0x80..=0xFF => out.extend([0x81, len as u8]),
        _ => out.extend([0x82, (len >> 8) as u8, len as u8]),
    }
    out.extend_from_slice(content);
    out
}

/// The content of the DER element at the start of `bytes`, and its whole length.
fn split(bytes: &[u8]) -> (&[u8], usize) {
    let (len, at) = match bytes[1] {
        n @ 0..=0x7F => (n as usize, 2),
        0x81 => (bytes[2] as usize, 3),
        0x82 => ((bytes[2] as usize) << 8 | bytes[3] as usize, 4),
        other => panic!("DER length form {other:#x}"),
    };
    (&bytes[at..at + len], at + len)
}

fn content(bytes: &[u8]) -> &[u8] {
    split(bytes).0
}

/// The DER elements in `bytes`, each whole.
fn elements(mut bytes: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    while !bytes.is_empty() {
        let whole = split(bytes).1;
        out.push(&bytes[..whole]);
        bytes = &bytes[whole..];
    }
    out
}

fn pem(label: &str, der: &[u8]) -> String {
    let base64 = data_encoding::BASE64.encode(der);
    let lines: Vec<&str> = base64
        .as_bytes()
        .chunks(64)
        .map(|line| std::str::from_utf8(line).unwrap())
        .collect();
    format!(
        "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
        lines.join("\n")
    )
}

/// Takes one client certificate, whatever its version, and checks the
/// handshake's signature with the key it carries.
#[derive(Debug)]
struct Pinned {
    cert: CertificateDer<'static>,
    provider: Arc<CryptoProvider>,
}

impl Pinned {
    fn verify(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        // Certificate → TBSCertificate → the element after the subject.
        let tbs = elements(content(elements(content(cert))[0]));
        let key_info = elements(content(tbs[5]));
        // A BIT STRING: its first byte counts the unused bits (none).
        let public_key = &content(key_info[1])[1..];
        let algorithms = &self.provider.signature_verification_algorithms;
        let candidates = algorithms
            .mapping
            .iter()
            .filter(|(scheme, _)| *scheme == dss.scheme)
            .flat_map(|(_, algorithms)| algorithms.iter());
        for algorithm in candidates {
            if algorithm
                .verify_signature(public_key, message, dss.signature())
                .is_ok()
            {
                return Ok(HandshakeSignatureValid::assertion());
            }
        }
        Err(Error::InvalidCertificate(CertificateError::BadSignature))
    }
}

impl ClientCertVerifier for Pinned {
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, Error> {
        match end_entity.as_ref() == self.cert.as_ref() {
            true => Ok(ClientCertVerified::assertion()),
            false => Err(Error::InvalidCertificate(CertificateError::UnknownIssuer)),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        self.verify(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        self.verify(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}
