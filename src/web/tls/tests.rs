//! TLS from PEM in memory: certificates made by `openssl` once per test run (a CA, a server
//! and a client certificate it signed, and a self-signed stranger), and handshakes with a
//! rustls client over an in-memory pipe.

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use rustls::pki_types::ServerName;
use rustls::SupportedProtocolVersion;

use super::*;

/// A certificate and its private key, as PEM.
struct Pair {
    cert: Vec<u8>,
    key: Vec<u8>,
}

struct Certs {
    ca: Vec<u8>,
    server: Pair,
    client: Pair,
    /// Self-signed: no chain to `ca`.
    stranger: Pair,
}

fn openssl(dir: &Path, args: &[&str]) {
    let status = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("run openssl");
    assert!(status.success(), "openssl {args:?}");
}

fn certs() -> &'static Certs {
    static CERTS: OnceLock<Certs> = OnceLock::new();
    CERTS.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("ma-web-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        // A leaf that webpki takes as an end entity (openssl's default config would make
        // every `req -x509` certificate a CA).
        std::fs::write(
            dir.join("leaf.cnf"),
            "[leaf]\nbasicConstraints=critical,CA:FALSE\nsubjectAltName=DNS:localhost\n\
             extendedKeyUsage=serverAuth,clientAuth\n",
        )
        .unwrap();
        let new = |name: &str, extra: &[&str]| {
            let (key, crt) = (format!("{name}.key"), format!("{name}.crt"));
            let mut args = vec!["req", "-x509", "-newkey", "ec", "-pkeyopt"];
            args.extend(["ec_paramgen_curve:P-256", "-nodes", "-days", "2"]);
            args.extend(["-subj", "/CN=localhost", "-keyout", &key, "-out", &crt]);
            args.extend(extra);
            openssl(&dir, &args);
            Pair {
                cert: std::fs::read(dir.join(&crt)).unwrap(),
                key: std::fs::read(dir.join(&key)).unwrap(),
            }
        };
        let ca = new("ca", &[]);
        let leaf = ["-CA", "ca.crt", "-CAkey", "ca.key", "-config", "leaf.cnf"];
        let leaf = [leaf.as_slice(), &["-extensions", "leaf"]].concat();
        let certs = Certs {
            server: new("server", &leaf),
            client: new("client", &leaf),
            stranger: new("stranger", &["-config", "leaf.cnf", "-extensions", "leaf"]),
            ca: ca.cert,
        };
        let _ = std::fs::remove_dir_all(&dir);
        certs
    })
}

fn pem(key: &str, bytes: &[u8]) -> Pem {
    Pem {
        key: format!("tls_server_config.{key}"),
        bytes: bytes.to_vec(),
    }
}

fn settings(cert: &[u8], key: &[u8], client_certs: ClientCerts<Pem>) -> TlsSettings<Pem> {
    TlsSettings {
        cert: pem("cert_file", cert),
        private_key: pem("key_file", key),
        client_certs,
        min_version: Version::Tls12,
        max_version: Version::Tls13,
        prefer_server_order: true,
    }
}

fn verified(ca: &[u8], required: bool) -> ClientCerts<Pem> {
    ClientCerts::Verified {
        ca: pem("client_ca_file", ca),
        required,
    }
}

fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

fn build(settings: &TlsSettings<Pem>) -> Result<ServerTls, String> {
    ServerTls::build(settings, now()).map_err(|e| format!("{}: {}", e.key, e.reason))
}

/// A handshake with a rustls client that trusts `ca`, shows `client` if given and speaks
/// `versions`: the server's answer (`Err` if it refused).
async fn handshake(
    server: &ServerTls,
    client: Option<&Pair>,
    versions: &[&'static SupportedProtocolVersion],
) -> Result<(), String> {
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_slice_iter(&certs().ca) {
        roots.add(c.unwrap()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(versions)
        .unwrap()
        .with_root_certificates(roots);
    let mut config = match client {
        None => builder.with_no_client_auth(),
        Some(pair) => builder
            .with_client_auth_cert(
                CertificateDer::pem_slice_iter(&pair.cert)
                    .collect::<Result<_, _>>()
                    .unwrap(),
                PrivateKeyDer::from_pem_slice(&pair.key).unwrap(),
            )
            .unwrap(),
    };
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let (server_end, client_end) = tokio::io::duplex(64 << 10);
    let name = ServerName::try_from("localhost").unwrap();
    let (accepted, _) = tokio::join!(
        server.acceptor.accept(server_end),
        connector.connect(name, client_end)
    );
    let stream = accepted.map_err(|e| e.to_string())?;
    assert_eq!(stream.get_ref().1.alpn_protocol(), Some(&b"http/1.1"[..]));
    Ok(())
}

const BOTH: &[&SupportedProtocolVersion] = &[&rustls::version::TLS13, &rustls::version::TLS12];

#[tokio::test]
async fn a_good_pair_serves_tls() {
    let c = certs();
    let tls = build(&settings(
        &c.server.cert,
        &c.server.key,
        ClientCerts::NotAsked,
    ))
    .unwrap();
    assert_eq!(
        tls.summary,
        "TLS (TLS12..TLS13, client certificates: not asked for)"
    );
    assert_eq!(tls.expiry_warning, None);
    handshake(&tls, None, BOTH).await.unwrap();
    handshake(&tls, None, &[&rustls::version::TLS12])
        .await
        .unwrap();
    // A chain (leaf, then CA) is served as given.
    let chain = [c.server.cert.as_slice(), &c.ca].concat();
    let tls = build(&settings(&chain, &c.server.key, ClientCerts::NotAsked)).unwrap();
    handshake(&tls, None, BOTH).await.unwrap();
}

#[test]
fn an_expired_certificate_is_built_and_warned_about() {
    let c = certs();
    let later = now() + 3.0 * 86_400.0;
    let s = settings(&c.server.cert, &c.server.key, ClientCerts::NotAsked);
    let tls = ServerTls::build(&s, later).unwrap();
    let warning = tls.expiry_warning.unwrap();
    assert!(
        warning.starts_with("tls_server_config.cert_file: the server certificate expired on"),
        "{warning}"
    );
}

#[test]
fn a_key_of_another_certificate_is_named() {
    let c = certs();
    let e = build(&settings(
        &c.server.cert,
        &c.client.key,
        ClientCerts::NotAsked,
    ))
    .err()
    .unwrap();
    assert_eq!(
        e,
        "tls_server_config.key_file: is not the key of the certificate in tls_server_config.cert_file"
    );
}

#[test]
fn pem_without_the_right_block_is_named_and_not_echoed() {
    let c = certs();
    let secret = String::from_utf8_lossy(&c.server.key).to_string();
    let body = secret.lines().nth(1).unwrap();
    for (cert, key, want) in [
        (
            &b"not pem"[..],
            &c.server.key[..],
            "tls_server_config.cert_file: no PEM CERTIFICATE block",
        ),
        // A key where the certificate goes: no certificate block, and no key bytes shown.
        (
            &c.server.key[..],
            &c.server.key[..],
            "tls_server_config.cert_file: no PEM CERTIFICATE block",
        ),
        (
            &c.server.cert[..],
            &c.server.cert[..],
            "tls_server_config.key_file: no PEM private key (PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY)",
        ),
        (
            &c.server.cert[..],
            b"-----BEGIN PRIVATE KEY-----\n!!!!\n-----END PRIVATE KEY-----\n",
            "tls_server_config.key_file: malformed PEM private key",
        ),
    ] {
        let e = build(&settings(cert, key, ClientCerts::NotAsked))
            .err()
            .unwrap();
        assert_eq!(e, want);
        assert!(!e.contains(body));
    }
    // Debug output of the PEM says where it came from and its size only.
    let debug = format!("{:?}", pem("key", &c.server.key));
    assert!(debug.starts_with("tls_server_config.key: ") && !debug.contains(body));
}

#[tokio::test]
async fn required_client_certificates_are_verified() {
    let c = certs();
    let tls = build(&settings(
        &c.server.cert,
        &c.server.key,
        verified(&c.ca, true),
    ))
    .unwrap();
    assert_eq!(
        tls.summary,
        "TLS (TLS12..TLS13, client certificates: required and verified)"
    );
    handshake(&tls, Some(&c.client), BOTH).await.unwrap();
    handshake(&tls, Some(&c.client), &[&rustls::version::TLS12])
        .await
        .unwrap();
    assert!(handshake(&tls, None, BOTH).await.is_err());
    assert!(handshake(&tls, Some(&c.stranger), BOTH).await.is_err());
}

#[tokio::test]
async fn optional_client_certificates_are_verified_if_given() {
    let c = certs();
    let tls = build(&settings(
        &c.server.cert,
        &c.server.key,
        verified(&c.ca, false),
    ))
    .unwrap();
    assert_eq!(
        tls.summary,
        "TLS (TLS12..TLS13, client certificates: verified if given)"
    );
    handshake(&tls, None, BOTH).await.unwrap();
    handshake(&tls, Some(&c.client), BOTH).await.unwrap();
    assert!(handshake(&tls, Some(&c.stranger), BOTH).await.is_err());
}

#[test]
fn client_ca_problems_are_named() {
    let c = certs();
    let e = build(&settings(
        &c.server.cert,
        &c.server.key,
        verified(b"", true),
    ))
    .err()
    .unwrap();
    assert_eq!(
        e,
        "tls_server_config.client_ca_file: no PEM CERTIFICATE block"
    );
    let e = build(&settings(
        &c.server.cert,
        &c.server.key,
        verified(
            b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
            true,
        ),
    ))
    .err()
    .unwrap();
    assert!(
        e.starts_with("tls_server_config.client_ca_file: unusable CA certificate:"),
        "{e}"
    );
}

#[tokio::test]
async fn versions_are_kept_to_the_range() {
    let c = certs();
    let mut s = settings(&c.server.cert, &c.server.key, ClientCerts::NotAsked);
    s.min_version = Version::Tls13;
    let tls = build(&s).unwrap();
    assert_eq!(
        tls.summary,
        "TLS (TLS13..TLS13, client certificates: not asked for)"
    );
    handshake(&tls, None, &[&rustls::version::TLS13])
        .await
        .unwrap();
    assert!(handshake(&tls, None, &[&rustls::version::TLS12])
        .await
        .is_err());
    s.min_version = Version::Tls12;
    s.max_version = Version::Tls12;
    let tls = build(&s).unwrap();
    assert!(handshake(&tls, None, &[&rustls::version::TLS13])
        .await
        .is_err());
}

#[test]
fn pem_sources_are_read_in_order_by_try_map() {
    let c = certs();
    let s = settings(&c.server.cert, &c.server.key, verified(&c.ca, true));
    let mut seen = Vec::new();
    let keys = s
        .try_map(|p| {
            seen.push(p.key.clone());
            Ok::<_, ()>(p.bytes.len())
        })
        .unwrap();
    assert_eq!(
        seen,
        [
            "tls_server_config.cert_file",
            "tls_server_config.key_file",
            "tls_server_config.client_ca_file"
        ]
    );
    assert_eq!(keys.cert, c.server.cert.len());
}
