//! TLS for the listener: a rustls server config built from PEM bytes in memory
//! ([`ServerTls::build`], so it is tested without files), and the handshake on each accepted
//! connection ([`accept_tls`]), bounded in time and with a 400 for plain HTTP.
//!
//! rustls runs with the `ring` provider only; TLS 1.2 and 1.3, ALPN `http/1.1`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;
use tracing::debug;

use super::{validity, KeyError};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Version {
    Tls12,
    Tls13,
}

impl Version {
    /// The spelling of the web config file.
    fn name(self) -> &'static str {
        match self {
            Version::Tls12 => "TLS12",
            Version::Tls13 => "TLS13",
        }
    }
}

/// Whether clients show a certificate, and what it is checked against.
#[derive(Debug)]
pub enum ClientCerts<P> {
    NotAsked,
    /// Checked against the CA certificates in `ca`; `required: false` lets a client without
    /// a certificate in (one with a bad certificate never).
    Verified {
        ca: P,
        required: bool,
    },
}

/// The checked `tls_server_config`. `P` is where each PEM text is: named by the file
/// ([`super::file::PemSource`]), then read ([`Pem`]).
#[derive(Debug)]
pub struct TlsSettings<P> {
    pub cert: P,
    pub private_key: P,
    pub client_certs: ClientCerts<P>,
    pub min_version: Version,
    pub max_version: Version,
    /// `prefer_server_cipher_suites`: the server's order of cipher suites wins.
    pub prefer_server_order: bool,
}

impl<P> TlsSettings<P> {
    /// The same settings with each PEM source turned into something else (read, in
    /// practice), certificate first, then key, then client CAs.
    pub fn try_map<Q, E>(self, mut f: impl FnMut(P) -> Result<Q, E>) -> Result<TlsSettings<Q>, E> {
        Ok(TlsSettings {
            cert: f(self.cert)?,
            private_key: f(self.private_key)?,
            client_certs: match self.client_certs {
                ClientCerts::NotAsked => ClientCerts::NotAsked,
                ClientCerts::Verified { ca, required } => ClientCerts::Verified {
                    ca: f(ca)?,
                    required,
                },
            },
            min_version: self.min_version,
            max_version: self.max_version,
            prefer_server_order: self.prefer_server_order,
        })
    }
}

/// PEM text in memory, and the config key it came from: errors name the key, never the
/// bytes (a private key is a secret).
pub struct Pem {
    pub key: String,
    pub bytes: Vec<u8>,
}

impl std::fmt::Debug for Pem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {} bytes of PEM", self.key, self.bytes.len())
    }
}

/// A built server TLS config, and what to say about it.
pub struct ServerTls {
    pub acceptor: TlsAcceptor,
    /// For logs and `check`: versions and client certificate mode.
    pub summary: String,
    /// An expired or not-yet-valid server certificate: loaded, but said at start.
    pub expiry_warning: Option<String>,
}

impl ServerTls {
    /// Builds the rustls config; `now` (Unix seconds) dates the expiry warning.
    pub fn build(settings: &TlsSettings<Pem>, now: f64) -> Result<ServerTls, KeyError> {
        let cert = &settings.cert;
        let chain = certificates(cert)?;
        let expiry_warning = chain
            .first()
            .and_then(|c| validity::validity(c.as_ref()))
            .and_then(|v| validity::warning(v, now))
            .map(|w| format!("{}: {w}", cert.key));
        let key = &settings.private_key;
        let private_key = PrivateKeyDer::from_pem_slice(&key.bytes).map_err(|e| {
            // The key's own bytes never go into a message.
            KeyError::new(
                &key.key,
                match e {
                    pem::Error::NoItemsFound => {
                        "no PEM private key (PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY)"
                    }
                    _ => "malformed PEM private key",
                },
            )
        })?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verifier = match &settings.client_certs {
            ClientCerts::NotAsked => WebPkiClientVerifier::no_client_auth(),
            ClientCerts::Verified { ca, required } => {
                let mut roots = rustls::RootCertStore::empty();
                for c in certificates(ca)? {
                    roots.add(c).map_err(|e| {
                        KeyError::new(&ca.key, format!("unusable CA certificate: {e}"))
                    })?;
                }
                let mut builder =
                    WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone());
                if !required {
                    builder = builder.allow_unauthenticated();
                }
                builder
                    .build()
                    .map_err(|e| KeyError::new(&ca.key, e.to_string()))?
            }
        };
        let (min, max) = (settings.min_version, settings.max_version);
        let versions: Vec<&'static rustls::SupportedProtocolVersion> = [
            (Version::Tls12, &rustls::version::TLS12),
            (Version::Tls13, &rustls::version::TLS13),
        ]
        .into_iter()
        .filter(|(v, _)| (min..=max).contains(v))
        .map(|(_, p)| p)
        .collect();
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(&versions)
            // The ring provider has suites for both versions, so this is not expected; the
            // key is the one that chose the versions.
            .map_err(|e| KeyError::new("tls_server_config.min_version", e.to_string()))?
            .with_client_cert_verifier(verifier)
            .with_single_cert(chain, private_key)
            .map_err(|e| {
                let reason = match e {
                    rustls::Error::InconsistentKeys(_) => {
                        format!("is not the key of the certificate in {}", cert.key)
                    }
                    e => format!("cannot be used with the certificate in {}: {e}", cert.key),
                };
                KeyError::new(&key.key, reason)
            })?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        config.ignore_client_order = settings.prefer_server_order;
        let summary = format!(
            "TLS ({}..{}, client certificates: {})",
            min.name(),
            max.name(),
            match settings.client_certs {
                ClientCerts::NotAsked => "not asked for",
                ClientCerts::Verified {
                    required: false, ..
                } => "verified if given",
                ClientCerts::Verified { required: true, .. } => "required and verified",
            }
        );
        Ok(ServerTls {
            acceptor: TlsAcceptor::from(Arc::new(config)),
            summary,
            expiry_warning,
        })
    }
}

/// Every certificate in `pem`, in order; at least one.
fn certificates(pem: &Pem) -> Result<Vec<CertificateDer<'static>>, KeyError> {
    let certs = CertificateDer::pem_slice_iter(&pem.bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| KeyError::new(&pem.key, format!("malformed PEM: {e}")))?;
    if certs.is_empty() {
        return Err(KeyError::new(&pem.key, "no PEM CERTIFICATE block"));
    }
    Ok(certs)
}

/// What a client that speaks plain HTTP to the TLS port gets (as Go's servers answer).
const PLAIN_HTTP_ANSWER: &[u8] = b"HTTP/1.0 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\nClient sent an HTTP request to an HTTPS server.\n";

/// The TLS handshake on an accepted connection, bounded by `limit` as a whole (a client
/// that sends nothing cannot hold its connection slot). A plain HTTP request gets a 400.
/// Failures are logged at debug level: port scanners and TCP probes are not news.
pub async fn accept_tls(
    acceptor: &TlsAcceptor,
    mut stream: TcpStream,
    peer: SocketAddr,
    limit: Duration,
) -> Option<TlsStream<TcpStream>> {
    let deadline = tokio::time::Instant::now() + limit;
    let mut first = [0u8; 1];
    match tokio::time::timeout_at(deadline, stream.peek(&mut first)).await {
        Ok(Ok(1..)) => {}
        Ok(Ok(_)) => return None, // closed without a word: a TCP probe
        Ok(Err(e)) => {
            debug!(%peer, "TLS handshake failed: {e}");
            return None;
        }
        Err(_) => {
            debug!(%peer, "TLS handshake timed out after {limit:?}");
            return None;
        }
    }
    // 0x16: a TLS handshake record. Anything else is not TLS; letters are likely HTTP.
    if first[0] != 0x16 {
        debug!(%peer, "not a TLS handshake on the TLS port; closing");
        if first[0].is_ascii_alphabetic() {
            let _ = tokio::time::timeout_at(deadline, async {
                // Read the request first: closing with unread data would reset the
                // connection before the client reads the answer.
                let mut buf = [0u8; 4096];
                let _ = stream.read(&mut buf).await;
                stream.write_all(PLAIN_HTTP_ANSWER).await?;
                stream.shutdown().await
            })
            .await;
        }
        return None;
    }
    match tokio::time::timeout_at(deadline, acceptor.accept(stream)).await {
        Ok(Ok(tls)) => Some(tls),
        Ok(Err(e)) => {
            debug!(%peer, "TLS handshake failed: {e}");
            None
        }
        Err(_) => {
            debug!(%peer, "TLS handshake timed out after {limit:?}");
            None
        }
    }
}

#[cfg(test)]
mod tests;
