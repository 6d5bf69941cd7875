//! Reading the web config file: YAML text in, checked settings out ([`WebConfig`]), with
//! errors that name the key (`tls_server_config.cert_file: missing: ...`). Pure apart from
//! [`PemSource::load`], which reads the certificate and key files the settings name.
//!
//! Each section is a serde struct with `deny_unknown_fields`, but serde's own messages
//! cannot be shown: they name no dotted key (serde_norway keeps the path inside its
//! `Display`) and they quote the offending value, which here may be a password pasted
//! where a hash goes. So a thin check names an unknown key before serde sees the section,
//! every field arrives as a plain YAML [`Value`], and the few helpers below turn it into a
//! string or a boolean, saying what kind of value was there instead but never what it was.

use std::path::{Path, PathBuf};

use hyper::header::{HeaderName, HeaderValue};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};
use serde_norway::Value;

use super::tls::{ClientCerts, Pem, TlsSettings, Version};
use super::KeyError;

/// The web config file, checked: what [`super::Web`] is built from.
pub struct WebConfig {
    /// `None` when `tls_server_config` is absent or empty: plain HTTP.
    pub tls: Option<TlsSettings<PemSource>>,
    /// `http_server_config.headers`, those with a non-empty value.
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// `basic_auth_users`: (user, bcrypt hash), in file order.
    pub users: Vec<(String, String)>,
}

impl std::fmt::Debug for WebConfig {
    // By hand: the hashes stay out of debug output.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let users: Vec<&str> = self.users.iter().map(|(u, _)| u.as_str()).collect();
        f.debug_struct("WebConfig")
            .field("tls", &self.tls)
            .field("headers", &self.headers)
            .field("users", &users)
            .finish()
    }
}

/// Where a PEM text comes from, and the key that said so (for errors).
pub struct PemSource {
    pub key: String,
    pub from: PemFrom,
}

pub enum PemFrom {
    /// Written in the web config itself (`cert`, `key`, `client_ca`).
    Inline(String),
    /// A file, made absolute against the web config's directory.
    File(PathBuf),
}

impl std::fmt::Debug for PemSource {
    // By hand: an inline private key is a secret.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.from {
            PemFrom::Inline(text) => write!(f, "{}: inline, {} bytes", self.key, text.len()),
            PemFrom::File(path) => write!(f, "{}: {}", self.key, path.display()),
        }
    }
}

impl PemSource {
    /// The PEM bytes: the inline text, or the file's contents (bounded, regular files only).
    pub fn load(self) -> Result<Pem, KeyError> {
        let bytes = match self.from {
            PemFrom::Inline(text) => text.into_bytes(),
            PemFrom::File(path) => crate::small_file::read(&path, crate::small_file::SECRET_LIMIT)
                .map_err(|e| {
                    KeyError::new(&self.key, format!("cannot read {}: {e}", path.display()))
                })?,
        };
        Ok(Pem {
            key: self.key,
            bytes,
        })
    }
}

/// Headers `http_server_config.headers` may set, and their allowed values (any when
/// empty): exporter-toolkit's list.
const EXTRA_HEADERS: &[(&str, &[&str])] = &[
    ("Strict-Transport-Security", &[]),
    ("X-Content-Type-Options", &["nosniff"]),
    ("X-Frame-Options", &["deny", "sameorigin"]),
    ("X-XSS-Protection", &[]),
    ("Content-Security-Policy", &[]),
];

// The sections. Each lists its keys twice, as fields and as the `KEYS` an unknown-key error
// offers (toolkit keys refused when set are fields but not offered); a test holds the two
// together, and `deny_unknown_fields` turns any drift into an error rather than a key
// silently ignored.

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct TopSection {
    tls_server_config: Value,
    http_server_config: Value,
    basic_auth_users: Value,
    rate_limit: Value,
}

impl TopSection {
    const KEYS: &[&str] = &[
        "tls_server_config",
        "http_server_config",
        "basic_auth_users",
    ];
    const REFUSED: &[&str] = &["rate_limit"];
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct TlsSection {
    cert_file: Value,
    key_file: Value,
    cert: Value,
    key: Value,
    client_auth_type: Value,
    client_ca_file: Value,
    client_ca: Value,
    #[serde(deserialize_with = "present")]
    min_version: Option<Value>,
    #[serde(deserialize_with = "present")]
    max_version: Option<Value>,
    #[serde(deserialize_with = "present")]
    prefer_server_cipher_suites: Option<Value>,
    client_allowed_sans: Value,
    cipher_suites: Value,
    curve_preferences: Value,
}

impl TlsSection {
    const KEYS: &[&str] = &[
        "cert_file",
        "key_file",
        "cert",
        "key",
        "client_auth_type",
        "client_ca_file",
        "client_ca",
        "min_version",
        "max_version",
        "prefer_server_cipher_suites",
    ];
    const REFUSED: &[&str] = &["client_allowed_sans", "cipher_suites", "curve_preferences"];
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct HttpSection {
    #[serde(deserialize_with = "present")]
    http2: Option<Value>,
    headers: Value,
}

impl HttpSection {
    const KEYS: &[&str] = &["http2", "headers"];
    const REFUSED: &[&str] = &[];
}

/// `Some` for a key that is there, even as `key:` with nothing after it (which a plain
/// `Option` would read as absent): a boolean key left empty is an error, not `false`.
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}

impl WebConfig {
    /// Checks `text`, read from `file`; relative paths in it are relative to the directory
    /// of `file`. Errors name the key; the file's name is put in front by the caller.
    pub fn parse(file: &Path, text: &str) -> Result<WebConfig, KeyError> {
        let doc: Value = serde_norway::from_str(text)
            .map_err(|e| KeyError::new("", format!("not valid YAML: {e}")))?;
        let (top, _) = section::<TopSection>(&doc, "", TopSection::KEYS, TopSection::REFUSED)?;
        refuse_if_set(&top.rate_limit, "rate_limit", "rate limiting")?;
        let dir = file.parent().unwrap_or(Path::new(""));
        Ok(WebConfig {
            tls: tls(&top.tls_server_config, dir)?,
            headers: headers(&top.http_server_config)?,
            users: users(&top.basic_auth_users)?,
        })
    }
}

/// `section.key`, or `key` at the top.
fn dotted(section: &str, key: &str) -> String {
    if section.is_empty() {
        key.to_string()
    } else {
        format!("{section}.{key}")
    }
}

/// What a value is, for "expected X, not Y": never the value itself.
fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "nothing",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Sequence(_) => "a list",
        Value::Mapping(_) => "a mapping",
        Value::Tagged(_) => "a tagged value",
    }
}

/// A mapping's entries in file order (none for an empty value), keys as strings.
fn entries<'v>(v: &'v Value, name: &str) -> Result<Vec<(&'v str, &'v Value)>, KeyError> {
    match v {
        Value::Null => Ok(Vec::new()),
        Value::Mapping(m) => m
            .iter()
            .map(|(k, v)| match k {
                Value::String(s) => Ok((s.as_str(), v)),
                other => Err(KeyError::new(
                    name,
                    format!("keys must be strings, not {}", kind(other)),
                )),
            })
            .collect(),
        other => Err(KeyError::new(
            name,
            format!("expected a mapping, not {}", kind(other)),
        )),
    }
}

/// The section `name` as its struct, and whether it had any key. A key neither in `keys`
/// nor `refused` is named here, before serde would refuse it without the dotted key.
fn section<T: DeserializeOwned + Default>(
    v: &Value,
    name: &str,
    keys: &[&str],
    refused: &[&str],
) -> Result<(T, bool), KeyError> {
    let entries = entries(v, name)?;
    if let Some((k, _)) = entries
        .iter()
        .find(|(k, _)| !keys.contains(k) && !refused.contains(k))
    {
        return Err(KeyError::new(
            dotted(name, k),
            format!("unknown key; expected one of: {}", keys.join(", ")),
        ));
    }
    if entries.is_empty() {
        return Ok((T::default(), false));
    }
    // Only a field missing from the struct but listed in `keys` fails here (see the test
    // `each_section_takes_exactly_its_keys`); the message names that key, not a value.
    let parsed =
        serde_norway::from_value(v.clone()).map_err(|e| KeyError::new(name, e.to_string()))?;
    Ok((parsed, true))
}

/// A string (empty for nothing); the value itself is never echoed (it may be a secret).
fn text(v: &Value, key: &str) -> Result<String, KeyError> {
    match v {
        Value::String(s) => Ok(s.clone()),
        Value::Null => Ok(String::new()),
        other => Err(KeyError::new(
            key,
            format!("expected a string, not {}", kind(other)),
        )),
    }
}

/// A boolean, if the key is there.
fn flag(v: Option<&Value>, key: &str) -> Result<Option<bool>, KeyError> {
    match v {
        None => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(other) => Err(KeyError::new(
            key,
            format!("expected true or false, not {}", kind(other)),
        )),
    }
}

/// A toolkit key this adapter does not implement: fine when empty, an error otherwise, so
/// a security setting is never silently ignored.
fn refuse_if_set(v: &Value, key: &str, what: &str) -> Result<(), KeyError> {
    let empty = match v {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Sequence(s) => s.is_empty(),
        Value::Mapping(m) => m.is_empty(),
        _ => false,
    };
    if empty {
        Ok(())
    } else {
        Err(KeyError::new(
            key,
            format!("{what} is not supported by metrics-adapter"),
        ))
    }
}

fn headers(v: &Value) -> Result<Vec<(HeaderName, HeaderValue)>, KeyError> {
    const SECTION: &str = "http_server_config";
    let (http, _) = section::<HttpSection>(v, SECTION, HttpSection::KEYS, HttpSection::REFUSED)?;
    // Accepted for files shared with exporters; this server speaks HTTP/1.1.
    flag(http.http2.as_ref(), &dotted(SECTION, "http2"))?;
    let key = dotted(SECTION, "headers");
    let mut headers = Vec::new();
    for (name, value) in entries(&http.headers, &key)? {
        let key = dotted(&key, name);
        let Some((_, allowed)) = EXTRA_HEADERS.iter().find(|(n, _)| *n == name) else {
            let names: Vec<&str> = EXTRA_HEADERS.iter().map(|(n, _)| *n).collect();
            return Err(KeyError::new(
                key,
                format!(
                    "this header cannot be configured; one of: {}",
                    names.join(", ")
                ),
            ));
        };
        let value = text(value, &key)?;
        if value.is_empty() {
            continue;
        }
        // Header values are not secrets: the value is quoted to show what was refused.
        if !allowed.is_empty() && !allowed.contains(&value.as_str()) {
            return Err(KeyError::new(
                key,
                format!("{value:?} is not one of: {}", allowed.join(", ")),
            ));
        }
        let header_value = HeaderValue::from_str(&value)
            .map_err(|_| KeyError::new(&key, "not a valid header value"))?;
        let header_name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| KeyError::new(&key, "not a valid header name"))?;
        headers.push((header_name, header_value));
    }
    Ok(headers)
}

fn users(v: &Value) -> Result<Vec<(String, String)>, KeyError> {
    const SECTION: &str = "basic_auth_users";
    let mut users = Vec::new();
    for (user, v) in entries(v, SECTION)? {
        let key = dotted(SECTION, user);
        if user.contains(':') {
            return Err(KeyError::new(key, "a user name cannot contain ':'"));
        }
        let hash = text(v, &key)?;
        // bcrypt's error says what is wrong with the hash's shape, not what the text was.
        let parts: bcrypt::HashParts = hash.parse().map_err(|e| {
            KeyError::new(
                &key,
                format!(
                    "not a bcrypt hash ({e}); make one with: htpasswd -nBC 10 \"\" | tr -d ':\\n'"
                ),
            )
        })?;
        if !(4..=31).contains(&parts.get_cost()) {
            return Err(KeyError::new(key, "bcrypt cost must be between 4 and 31"));
        }
        users.push((user.to_string(), hash));
    }
    Ok(users)
}

/// A TLS version, if the key is there (empty is not a version).
fn version(v: Option<&Value>, key: &str) -> Result<Option<Version>, KeyError> {
    let Some(v) = v else {
        return Ok(None);
    };
    match text(v, key)?.as_str() {
        "TLS12" => Ok(Some(Version::Tls12)),
        "TLS13" => Ok(Some(Version::Tls13)),
        "TLS10" | "TLS11" => Err(KeyError::new(
            key,
            "TLS 1.0 and 1.1 are not supported; use TLS12 or TLS13",
        )),
        other => Err(KeyError::new(
            key,
            format!("{other:?} is not a TLS version; use TLS12 or TLS13"),
        )),
    }
}

/// Inline PEM (`inline`) or a file (`file`): at most one of them.
fn pem_source(
    dir: &Path,
    (inline, inline_key): (&Value, &str),
    (file, file_key): (&Value, &str),
) -> Result<Option<PemSource>, KeyError> {
    const SECTION: &str = "tls_server_config";
    let inline_text = text(inline, &dotted(SECTION, inline_key))?;
    let file_name = text(file, &dotted(SECTION, file_key))?;
    match (inline_text.is_empty(), file_name.is_empty()) {
        (false, false) => Err(KeyError::new(
            dotted(SECTION, inline_key),
            format!("give {inline_key} or {file_key}, not both"),
        )),
        (false, true) => Ok(Some(PemSource {
            key: dotted(SECTION, inline_key),
            from: PemFrom::Inline(inline_text),
        })),
        (true, false) => Ok(Some(PemSource {
            key: dotted(SECTION, file_key),
            from: PemFrom::File(dir.join(file_name)),
        })),
        (true, true) => Ok(None),
    }
}

fn tls(v: &Value, dir: &Path) -> Result<Option<TlsSettings<PemSource>>, KeyError> {
    const SECTION: &str = "tls_server_config";
    let key = |k: &str| dotted(SECTION, k);
    let (tls, any) = section::<TlsSection>(v, SECTION, TlsSection::KEYS, TlsSection::REFUSED)?;
    if !any {
        return Ok(None);
    }
    // `Some(required)`: client certificates are verified.
    let verify_required = match text(&tls.client_auth_type, &key("client_auth_type"))?.as_str() {
        "" | "NoClientCert" => None,
        "VerifyClientCertIfGiven" => Some(false),
        "RequireAndVerifyClientCert" => Some(true),
        "RequestClientCert" | "RequireAnyClientCert" | "RequireClientCert" => {
            return Err(KeyError::new(
                key("client_auth_type"),
                "client certificates taken without verification are not supported; use \
                 RequireAndVerifyClientCert",
            ))
        }
        other => {
            return Err(KeyError::new(
                key("client_auth_type"),
                format!(
                    "{other:?} is not one of: NoClientCert, VerifyClientCertIfGiven, \
                     RequireAndVerifyClientCert"
                ),
            ))
        }
    };
    let min_version = version(tls.min_version.as_ref(), &key("min_version"))?;
    let max_version = version(tls.max_version.as_ref(), &key("max_version"))?;
    let prefer_server_order = flag(
        tls.prefer_server_cipher_suites.as_ref(),
        &key("prefer_server_cipher_suites"),
    )?;
    refuse_if_set(
        &tls.client_allowed_sans,
        &key("client_allowed_sans"),
        "matching client certificate SANs",
    )?;
    refuse_if_set(
        &tls.cipher_suites,
        &key("cipher_suites"),
        "choosing cipher suites",
    )?;
    refuse_if_set(
        &tls.curve_preferences,
        &key("curve_preferences"),
        "choosing curves",
    )?;
    let min_version = min_version.unwrap_or(Version::Tls12);
    let max_version = max_version.unwrap_or(Version::Tls13);
    if min_version > max_version {
        return Err(KeyError::new(
            key("min_version"),
            "is newer than max_version",
        ));
    }
    let required = |source: Option<PemSource>, inline_key: &str, file_key: &str| {
        source.ok_or_else(|| {
            KeyError::new(
                key(file_key),
                format!("missing: set {file_key} (or {inline_key})"),
            )
        })
    };
    let cert = pem_source(dir, (&tls.cert, "cert"), (&tls.cert_file, "cert_file"))?;
    let cert = required(cert, "cert", "cert_file")?;
    let private_key = pem_source(dir, (&tls.key, "key"), (&tls.key_file, "key_file"))?;
    let private_key = required(private_key, "key", "key_file")?;
    let ca = pem_source(
        dir,
        (&tls.client_ca, "client_ca"),
        (&tls.client_ca_file, "client_ca_file"),
    )?;
    let client_certs = match (verify_required, ca) {
        (None, None) => ClientCerts::NotAsked,
        (None, Some(ca)) => {
            return Err(KeyError::new(
                ca.key,
                "client CAs are set but client_auth_type is NoClientCert; set \
                 client_auth_type: RequireAndVerifyClientCert",
            ))
        }
        (Some(_), None) => {
            return Err(KeyError::new(
                key("client_ca_file"),
                "missing: client_auth_type verifies client certificates against it",
            ))
        }
        (Some(required), Some(ca)) => ClientCerts::Verified { ca, required },
    };
    Ok(Some(TlsSettings {
        cert,
        private_key,
        client_certs,
        min_version,
        max_version,
        prefer_server_order: prefer_server_order.unwrap_or(true),
    }))
}

#[cfg(test)]
mod tests;
