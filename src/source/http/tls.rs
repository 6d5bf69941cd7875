//! `https://` for `http` sources, with Prometheus' `tls_config` keys: `tls = { ca_file,
//! cert_file, key_file, server_name, insecure_skip_verify }`. rustls with the `ring`
//! provider (the one our own endpoints use, see [`crate::web`]).
//!
//! The files are read when the source is loaded (a wrong path is a config error) and again
//! at each new connection, off the runtime thread: a renewed certificate or CA is used
//! from the next connection on, with no reload. There are no system roots: an app's
//! status page is on localhost, where a public CA's certificate would not match the name
//! anyway, so `ca_file` (or `insecure_skip_verify`) says what to trust.
//! A failed check says which one: unknown issuer, name mismatch, expired, not valid yet...

use std::path::PathBuf;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, SignatureScheme};
use serde::Deserialize;

use super::super::{quote, Io, KeyError, SourceError, UNSET};

/// `tls = { ... }` of an `http` source, as written (Prometheus' `tls_config` names).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// PEM CA certificate(s) the server's certificate must chain to.
    pub ca_file: Option<String>,
    /// PEM client certificate (chain) for a server that asks for one (mutual TLS).
    pub cert_file: Option<String>,
    /// PEM private key of `cert_file`.
    pub key_file: Option<String>,
    /// The name the certificate must hold, and the SNI sent (default: the URL's host).
    pub server_name: Option<String>,
    /// Accept any certificate (encryption without authentication).
    pub insecure_skip_verify: Option<bool>,
}

/// TLS settings in force for an `https://` source.
#[derive(Debug, Clone)]
pub struct Tls {
    ca_file: Option<PathBuf>,
    /// Certificate and key files, for mutual TLS.
    client: Option<(PathBuf, PathBuf)>,
    server_name: ServerName<'static>,
    /// `server_name` as written, when it was.
    written_name: Option<String>,
    insecure: bool,
}

/// The files' contents, parsed.
struct Material {
    roots: rustls::RootCertStore,
    client: Option<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)>,
}

/// Bound on each file read (a certificate chain is a few KiB).
const FILE_LIMIT: u64 = 1 << 20;

impl Tls {
    /// The settings of a source whose URL is `https://host...` (`https` true) or
    /// `http://` (then any `tls` key is an error: it would do nothing).
    pub fn from_config(
        c: Option<Config>,
        https: bool,
        host: &str,
    ) -> Result<Option<Tls>, KeyError> {
        let c = match (c, https) {
            (None, false) => return Ok(None),
            (Some(_), false) => {
                return Err(KeyError::invalid(
                    "tls",
                    "applies to an https:// URL; this one is http://",
                ))
            }
            (c, true) => c.unwrap_or_default(),
        };
        let insecure = c.insecure_skip_verify.unwrap_or(false);
        if c.ca_file.is_none() && !insecure {
            return Err(KeyError::missing(
                "tls.ca_file",
                "the CA that signed the server's certificate (PEM), for an https:// URL \
                 (or tls.insecure_skip_verify = true, to encrypt without checking)",
            ));
        }
        let client = match (c.cert_file, c.key_file) {
            (Some(cert), Some(key)) => Some((PathBuf::from(cert), PathBuf::from(key))),
            (None, None) => None,
            (Some(_), None) => {
                return Err(KeyError::missing(
                    "tls.key_file",
                    "the key of tls.cert_file",
                ))
            }
            (None, Some(_)) => {
                return Err(KeyError::missing(
                    "tls.cert_file",
                    "the certificate of tls.key_file",
                ))
            }
        };
        let name = c.server_name.clone().unwrap_or_else(|| {
            host.trim_start_matches('[')
                .trim_end_matches(']')
                .to_string()
        });
        let server_name = ServerName::try_from(name.clone()).map_err(|_| {
            KeyError::invalid(
                "tls.server_name",
                format!("{name:?} is not a DNS name or IP address"),
            )
        })?;
        let tls = Tls {
            ca_file: c.ca_file.map(PathBuf::from),
            client,
            server_name,
            written_name: c.server_name,
            insecure,
        };
        // Read now, so a wrong path or a bad file is a config error rather than a source
        // down at its first read.
        tls.material()
            .map_err(|(key, reason)| KeyError::invalid(key, reason))?;
        Ok(Some(tls))
    }

    /// Reads and parses the files; the key at fault on error.
    fn material(&self) -> Result<Material, (&'static str, String)> {
        let read = |key: &'static str, path: &PathBuf| {
            crate::small_file::read(path, FILE_LIMIT)
                .map_err(|e| (key, format!("{}: {e}", path.display())))
        };
        let mut roots = rustls::RootCertStore::empty();
        if let Some(path) = &self.ca_file {
            let pem = read("tls.ca_file", path)?;
            for cert in CertificateDer::pem_slice_iter(&pem) {
                let cert = cert.map_err(|e| {
                    (
                        "tls.ca_file",
                        format!("{}: malformed PEM: {e}", path.display()),
                    )
                })?;
                roots.add(cert).map_err(|e| {
                    (
                        "tls.ca_file",
                        format!("{}: not a CA certificate: {e}", path.display()),
                    )
                })?;
            }
            if roots.is_empty() {
                return Err((
                    "tls.ca_file",
                    format!("{}: no PEM CERTIFICATE block", path.display()),
                ));
            }
        }
        let client = match &self.client {
            None => None,
            Some((cert_path, key_path)) => {
                let pem = read("tls.cert_file", cert_path)?;
                let certs = CertificateDer::pem_slice_iter(&pem)
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| {
                        let where_ = cert_path.display();
                        ("tls.cert_file", format!("{where_}: malformed PEM: {e}"))
                    })?;
                if certs.is_empty() {
                    return Err((
                        "tls.cert_file",
                        format!("{}: no PEM CERTIFICATE block", cert_path.display()),
                    ));
                }
                let pem = read("tls.key_file", key_path)?;
                // The error names the file only: its text could quote the key.
                let key = PrivateKeyDer::from_pem_slice(&pem).map_err(|_| {
                    let where_ = key_path.display();
                    (
                        "tls.key_file",
                        format!("{where_}: no PEM private key found"),
                    )
                })?;
                Some((certs, key))
            }
        };
        Ok(Material { roots, client })
    }

    /// The client config for one connection, from the files as they are now.
    fn client_config(&self) -> Result<rustls::ClientConfig, SourceError> {
        let material = self
            .material()
            .map_err(|(key, reason)| SourceError::Protocol(format!("{key}: {reason}")))?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| SourceError::Protocol(format!("TLS: {e}")))?;
        let builder = if self.insecure {
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider)))
        } else {
            builder.with_root_certificates(material.roots)
        };
        let mut config = match material.client {
            Some((certs, key)) => builder
                .with_client_auth_cert(certs, key)
                .map_err(|e| SourceError::Protocol(format!("tls.cert_file / tls.key_file: {e}")))?,
            None => builder.with_no_client_auth(),
        };
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(config)
    }

    /// The TLS handshake on a connected stream; an error says which check failed.
    pub(crate) async fn connect(
        &self,
        stream: Box<dyn Io>,
        target: &str,
    ) -> Result<Box<dyn Io>, SourceError> {
        let this = self.clone();
        let config = tokio::task::spawn_blocking(move || this.client_config())
            .await
            .map_err(|e| SourceError::Protocol(format!("reading the TLS files: {e}")))??;
        let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
        let stream = connector
            .connect(self.server_name.clone(), stream)
            .await
            .map_err(|e| SourceError::Protocol(format!("{target}: TLS: {}", self.explain(&e))))?;
        Ok(Box::new(stream))
    }

    /// A handshake error in terms of the check that failed.
    fn explain(&self, e: &std::io::Error) -> String {
        let Some(tls) = e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) else {
            return e.to_string();
        };
        match tls {
            rustls::Error::InvalidCertificate(c) => {
                let check = match c {
                    CertificateError::UnknownIssuer => {
                        "unknown issuer (the server's certificate does not chain to tls.ca_file)"
                    }
                    CertificateError::NotValidForName
                    | CertificateError::NotValidForNameContext { .. } => "name mismatch",
                    CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
                        "expired"
                    }
                    CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                        "not valid yet"
                    }
                    CertificateError::BadSignature => "bad signature",
                    CertificateError::Revoked => "revoked",
                    CertificateError::InvalidPurpose
                    | CertificateError::InvalidPurposeContext { .. } => {
                        "not a server certificate (extended key usage)"
                    }
                    CertificateError::BadEncoding => "malformed certificate",
                    _ => "certificate refused",
                };
                // rustls' own text adds what it knows (the names the certificate holds,
                // the dates) when it has more to say than the variant's name.
                match c.to_string() {
                    detail if detail != format!("{c:?}") => format!("{check}: {detail}"),
                    _ => check.to_string(),
                }
            }
            rustls::Error::AlertReceived(alert) => format!(
                "the server refused the handshake ({alert:?}){}",
                if self.client.is_none() {
                    "; does it require a client certificate (tls.cert_file, tls.key_file)?"
                } else {
                    ""
                }
            ),
            other => other.to_string(),
        }
    }

    /// Every key with the value in force (see [`super::super::Source::resolved`]).
    pub fn resolved(tls: Option<&Tls>) -> Vec<(&'static str, String)> {
        let path =
            |p: Option<&PathBuf>| p.map_or(UNSET.to_string(), |p| quote(&p.display().to_string()));
        let Some(t) = tls else {
            return vec![("tls", UNSET.to_string())];
        };
        vec![
            ("tls.ca_file", path(t.ca_file.as_ref())),
            ("tls.cert_file", path(t.client.as_ref().map(|c| &c.0))),
            ("tls.key_file", path(t.client.as_ref().map(|c| &c.1))),
            (
                "tls.server_name",
                t.written_name.as_deref().map_or_else(
                    || format!("{} (the URL's host)", quote(&t.server_name.to_str())),
                    quote,
                ),
            ),
            ("tls.insecure_skip_verify", t.insecure.to_string()),
        ]
    }
}

/// `insecure_skip_verify`: any certificate is taken, but the handshake's signatures are
/// still checked (the connection is encrypted to whoever holds the certificate's key).
#[derive(Debug)]
struct AnyCertificate(Arc<rustls::crypto::CryptoProvider>);

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
        rustls::crypto::verify_tls12_signature(
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
        rustls::crypto::verify_tls13_signature(
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
