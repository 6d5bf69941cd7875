//! `method`, `body`, `body_file` of an `http` source: for an app whose stats are the
//! answer to a query (a POSTed JSON or form), with blackbox_exporter's key names.
//!
//! The method defaults to GET, or POST when a body is given. `body_file` is read at each
//! fetch, off the runtime thread and bounded, so a query edited on a mounted volume applies
//! without a reload. Bodies are never shown (`check` gives their size): a query can carry a
//! credential, as a header can.

use std::path::PathBuf;

use bytes::Bytes;
use hyper::Method;

use super::super::{quote, KeyError, SourceError, UNSET};

/// The longest `body_file` read (a query, not a payload).
const BODY_FILE_LIMIT: u64 = 1 << 20;

#[derive(Debug, Clone)]
enum Body {
    None,
    Text(Bytes),
    File(PathBuf),
}

/// The request line's method and what the request carries.
#[derive(Debug, Clone)]
pub struct RequestBody {
    pub method: Method,
    body: Body,
}

impl RequestBody {
    pub fn from_config(
        method: Option<String>,
        body: Option<String>,
        body_file: Option<String>,
    ) -> Result<RequestBody, KeyError> {
        let body = match (body, body_file) {
            (Some(_), Some(_)) => {
                return Err(KeyError::invalid(
                    "body_file",
                    "give body or body_file, not both",
                ))
            }
            (Some(text), None) => Body::Text(Bytes::from(text)),
            (None, Some(path)) if path.is_empty() => {
                return Err(KeyError::invalid(
                    "body_file",
                    "empty; give the file's path",
                ))
            }
            (None, Some(path)) => Body::File(path.into()),
            (None, None) => Body::None,
        };
        let method = match method.as_deref().map(str::trim) {
            None => match body {
                Body::None => Method::GET,
                _ => Method::POST,
            },
            Some(m) => match m.to_ascii_uppercase().as_str() {
                "GET" => Method::GET,
                "POST" => Method::POST,
                "PUT" => Method::PUT,
                "PATCH" => Method::PATCH,
                _ => {
                    return Err(KeyError::invalid(
                        "method",
                        format!("{m:?}: one of GET, POST, PUT, PATCH"),
                    ))
                }
            },
        };
        if method == Method::GET && !matches!(body, Body::None) {
            return Err(KeyError::invalid(
                "method",
                "GET sends no body (servers ignore or refuse it): use POST, or leave method \
                 unset",
            ));
        }
        Ok(RequestBody { method, body })
    }

    /// The body to send, its file read now (off the runtime thread).
    pub async fn bytes(&self) -> Result<Bytes, SourceError> {
        match &self.body {
            Body::None => Ok(Bytes::new()),
            Body::Text(b) => Ok(b.clone()),
            Body::File(path) => {
                let p = path.clone();
                let read = tokio::task::spawn_blocking(move || {
                    crate::small_file::read(&p, BODY_FILE_LIMIT)
                })
                .await
                .map_err(|e| SourceError::Protocol(format!("reading body_file: {e}")))?;
                read.map(Bytes::from)
                    .map_err(SourceError::io(format!("body_file {}", path.display())))
            }
        }
    }

    /// `method`, `body`, `body_file` in force; the body by its size only.
    pub fn resolved(&self) -> Vec<(&'static str, String)> {
        let (body, file) = match &self.body {
            Body::None => (UNSET.to_string(), UNSET.to_string()),
            Body::Text(b) => (format!("({} bytes, not shown)", b.len()), UNSET.to_string()),
            Body::File(p) => (UNSET.to_string(), quote(&p.display().to_string())),
        };
        vec![
            ("method", self.method.to_string()),
            ("body", body),
            ("body_file", file),
        ]
    }
}
