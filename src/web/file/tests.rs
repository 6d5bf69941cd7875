//! The web config file's checks, on settings before any file is read (the errors with
//! the file name in front are tested in `web.rs`).

use super::*;

fn parse(text: &str) -> Result<WebConfig, KeyError> {
    WebConfig::parse(Path::new("/etc/adapter/web.yml"), text)
}

fn err(text: &str) -> String {
    let e = parse(text).unwrap_err();
    format!("{}: {}", e.key, e.reason)
}

/// Every key in `KEYS` and `REFUSED` is a field of the section's struct; a listed key that
/// is not a field is refused by serde (drift is an error, never a key silently ignored).
#[test]
fn each_section_takes_exactly_its_keys() {
    fn all<T: DeserializeOwned + Default>(keys: &[&str], refused: &[&str]) {
        let mut map = serde_norway::Mapping::new();
        for k in keys.iter().chain(refused) {
            map.insert(Value::from(*k), Value::Null);
        }
        let v = Value::Mapping(map.clone());
        assert!(section::<T>(&v, "s", keys, refused).is_ok(), "{keys:?}");
        map.insert(Value::from("not_a_field"), Value::Null);
        let v = Value::Mapping(map);
        let all: Vec<&str> = keys.iter().chain(refused).copied().collect();
        let e = section::<T>(&v, "s", &[all.as_slice(), &["not_a_field"]].concat(), &[]);
        assert!(e.is_err_and(|e| e.reason.contains("not_a_field")));
    }
    all::<TopSection>(TopSection::KEYS, TopSection::REFUSED);
    all::<TlsSection>(TlsSection::KEYS, TlsSection::REFUSED);
    all::<HttpSection>(HttpSection::KEYS, HttpSection::REFUSED);
}

#[test]
fn settings_as_written() {
    let config = parse(
        "tls_server_config:\n  cert_file: server.crt\n  key: |\n    -----BEGIN PRIVATE KEY-----\n\
         \n  client_auth_type: VerifyClientCertIfGiven\n  client_ca_file: /ca/clients.crt\n\
         \n  max_version: TLS12\n  prefer_server_cipher_suites: false\n\
         basic_auth_users:\n  bob: $2y$04$abcdefghijklmnopqrstuu5xw3Gc6Y4Rmoi8mZ0CF2WG2d6HNjH2u\n",
    )
    .unwrap();
    let tls = config.tls.as_ref().unwrap();
    assert!(
        matches!(&tls.cert.from, PemFrom::File(p) if p == Path::new("/etc/adapter/server.crt"))
    );
    assert!(matches!(&tls.private_key.from, PemFrom::Inline(t) if t.starts_with("-----BEGIN")));
    assert_eq!(tls.private_key.key, "tls_server_config.key");
    assert!(matches!(
        &tls.client_certs,
        ClientCerts::Verified { ca, required: false } if matches!(&ca.from, PemFrom::File(p) if p == Path::new("/ca/clients.crt"))
    ));
    assert_eq!(
        (tls.min_version, tls.max_version),
        (Version::Tls12, Version::Tls12)
    );
    assert!(!tls.prefer_server_order);
    // Debug output names keys and sizes, never the inline key or a hash.
    let debug = format!("{config:?}");
    assert!(debug.contains("tls_server_config.key: inline") && debug.contains("bob"));
    assert!(
        !debug.contains("BEGIN") && !debug.contains("$2y$"),
        "{debug}"
    );
}

#[test]
fn empty_values_where_a_value_is_needed() {
    assert!(
        err("tls_server_config:\n  cert: x\n  key: y\n  min_version:\n")
            .starts_with("tls_server_config.min_version: \"\" is not a TLS version")
    );
    assert_eq!(
        err("http_server_config:\n  http2:\n"),
        "http_server_config.http2: expected true or false, not nothing"
    );
    assert_eq!(
        err("tls_server_config:\n  cert: x\n  key: y\n  client_auth_type: VerifyClientCertIfGiven\n"),
        "tls_server_config.client_ca_file: missing: client_auth_type verifies client certificates against it"
    );
    assert_eq!(
        err("tls_server_config:\n  cert: x\n  key: y\n  client_ca: z\n"),
        "tls_server_config.client_ca: client CAs are set but client_auth_type is NoClientCert; set client_auth_type: RequireAndVerifyClientCert"
    );
    assert_eq!(
        err("basic_auth_users:\n  7: x\n"),
        "basic_auth_users: keys must be strings, not a number"
    );
}
