//! `tcp`: send requests and read their replies (Redis `INFO`, memcached `stats`, HAProxy
//! `show stat`), over TCP (`host:port`) or a unix stream socket (`unix:/path`).
//!
//! What is sent is the source's own `send`, or else the requests of the recipe that reads
//! the source (its `[[request]]`): `address` and `parser` are then a whole config. Several
//! requests are sent one after another on one connection, and their replies are joined, each
//! after its section line, into the one text the recipe parses.
//!
//! Framing says where a reply ends: at connection close, at a terminator (`END\r\n`), or
//! after one RESP reply (see [`super::resp`] for how it becomes text).
//!
//! A secret (`secret_file`, `secret_env`) is read at each read and goes into `auth` (sent as
//! Redis `AUTH` before the requests, its `+OK` passed over) or, as before `auth` existed,
//! into `send` in place of `{secret}`. Only the texts with the placeholder are kept, so
//! `check`, logs and the status page can only ever show `{secret}`.

use std::sync::Arc;

use serde::Deserialize;

pub use crate::recipe::request::{Framing, Request};

use super::replies::Replies;
use super::resp::{self, Value};
use super::{quote, KeyError, Secret, SourceError, UNSET};

/// Where the secret goes in `send` and `auth`.
const PLACEHOLDER: &str = "{secret}";

/// The keys of a `tcp` source, as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub address: Option<String>,
    pub send: Option<String>,
    pub until: Option<String>,
    pub framing: Option<String>,
    pub auth: Option<String>,
    pub secret_file: Option<String>,
    pub secret_env: Option<String>,
}

/// `(framing, until)` as `check` shows them.
fn shown(framing: &Framing) -> (&'static str, String) {
    match framing {
        Framing::Close => ("close", UNSET.to_string()),
        Framing::Until(u) => ("until", quote(&String::from_utf8_lossy(u))),
        Framing::Resp => ("resp", UNSET.to_string()),
    }
}

#[derive(Debug, Clone)]
pub struct TcpSource {
    /// `host:port` or `unix:/path`.
    pub address: String,
    /// The source's own `send`, which replaces the recipe's requests.
    pub send: Option<String>,
    /// The source's own framing: of its `send`, else of each of the recipe's requests.
    pub framing: Option<Framing>,
    /// The arguments of a Redis `AUTH` sent first (`{secret}`, `user {secret}`).
    pub auth: Option<String>,
    /// Fills `{secret}` in `auth` and `send`; set exactly when one of them holds it.
    pub secret: Option<Secret>,
    /// The requests of the recipe that reads the source, and its name (see
    /// [`TcpSource::read_by`]).
    pub recipe: Option<(String, Arc<[Request]>)>,
}

impl TcpSource {
    pub fn from_config(c: Config) -> Result<TcpSource, KeyError> {
        let address = c
            .address
            .ok_or_else(|| KeyError::missing("address", "host:port or unix:/path to connect to"))?;
        super::check_address(&address, "/run/redis/redis.sock")
            .map_err(|reason| KeyError::invalid("address", reason))?;
        let secret = Secret::one_of(c.secret_file, c.secret_env, "secret_file")?;
        if let Some(auth) = &c.auth {
            if !auth.contains(PLACEHOLDER) {
                return Err(KeyError::invalid(
                    "auth",
                    "write {secret} where the password goes (auth = \"{secret}\", or \
                     \"user {secret}\" for an ACL user) and give secret_file or secret_env",
                ));
            }
        }
        let in_send = c.send.as_deref().is_some_and(|s| s.contains(PLACEHOLDER));
        // Each without the other is a mistake that would otherwise show only at run time:
        // a literal `{secret}` sent to the app, or a secret read for nothing.
        match (&secret, in_send || c.auth.is_some()) {
            (Some(_), false) => {
                return Err(KeyError::invalid(
                    "auth",
                    "a secret is given but nothing uses it: set auth = \"{secret}\" (Redis \
                     AUTH), or put {secret} in send",
                ))
            }
            (None, true) => {
                let key = if in_send { "send" } else { "auth" };
                return Err(KeyError::missing(
                    "secret_file",
                    format!("`{key}` holds {{secret}}: give secret_file or secret_env"),
                ));
            }
            _ => {}
        }
        let framing = match (&c.framing, &c.until) {
            (None, None) => None,
            (f, u) => Some(
                Framing::from_keys(f.as_deref(), u.as_deref())
                    .map_err(|(key, reason)| KeyError::invalid(key, reason))?,
            ),
        };
        Ok(TcpSource {
            address,
            send: c.send,
            framing,
            auth: c.auth,
            secret,
            recipe: None,
        })
    }

    /// Takes the requests of the recipe that reads the source; used when it has no `send`.
    pub fn read_by(&mut self, parser: &dyn crate::recipe::Parser) {
        let requests = parser.requests();
        if !requests.is_empty() {
            self.recipe = Some((parser.name().to_string(), requests.into()));
        }
    }

    /// The requests a read sends, in order (`{secret}` still in place).
    pub fn requests(&self) -> Vec<Request> {
        let own = |send: String| Request {
            send,
            framing: self.framing.clone().unwrap_or(Framing::Close),
            header: None,
            optional: false,
        };
        match (&self.send, &self.recipe) {
            (Some(send), _) => vec![own(send.clone())],
            (None, Some((_, requests))) => (requests.iter())
                .map(|r| Request {
                    framing: self.framing.clone().unwrap_or_else(|| r.framing.clone()),
                    ..r.clone()
                })
                .collect(),
            // Nothing to send: a server that talks first.
            (None, None) => vec![own(String::new())],
        }
    }

    /// Every key with the value in force (see [`super::Source::resolved`]); `send` lists
    /// every request the read sends, the AUTH first, with `{secret}` for the secret.
    pub fn resolved(&self) -> Vec<(&'static str, String)> {
        let requests = self.requests();
        let from = match (&self.send, &self.recipe) {
            (None, Some((name, _))) => format!(" (from recipe {name})"),
            _ => String::new(),
        };
        let mut sent: Vec<String> = self
            .auth
            .iter()
            .map(|a| quote(&format!("AUTH {a}\r\n")))
            .collect();
        sent.extend(requests.iter().map(|r| quote(&r.send)));
        let framings: Vec<(&str, String)> = requests.iter().map(|r| shown(&r.framing)).collect();
        let same = framings.windows(2).all(|w| w.first() == w.get(1));
        let (framing, until) = match framings.first() {
            Some((f, u)) if same => (quote(f), u.clone()),
            _ => {
                let each: Vec<String> = framings
                    .iter()
                    .map(|(f, u)| match *f {
                        "until" => format!("until {u}"),
                        f => f.to_string(),
                    })
                    .collect();
                (
                    format!("one per request: {}", each.join(", ")),
                    UNSET.to_string(),
                )
            }
        };
        let own_framing = self.framing.is_some();
        let (secret_file, secret_env) = Secret::resolved(self.secret.as_ref());
        vec![
            ("address", quote(&self.address)),
            ("send", sent.join(" then ") + &from),
            ("framing", framing + if own_framing { "" } else { &from }),
            ("until", until),
            (
                "auth",
                self.auth
                    .as_deref()
                    .map_or_else(|| UNSET.to_string(), quote),
            ),
            ("secret_file", secret_file),
            ("secret_env", secret_env),
        ]
    }

    /// The secret now, if the source has one.
    async fn secret_value(&self) -> Result<Option<String>, SourceError> {
        let Some(secret) = &self.secret else {
            return Ok(None);
        };
        secret.read_off_thread().await.map(Some)
    }

    pub async fn fetch(&self, max_bytes: u64) -> Result<Vec<u8>, SourceError> {
        let what = format!("tcp {}", self.address);
        let secret = self.secret_value().await?;
        let stream = super::connect(&self.address)
            .await
            .map_err(SourceError::io(what.as_str()))?;
        self.converse(Replies::new(stream, max_bytes, what), secret)
            .await
    }

    /// The AUTH and the requests on a connected stream; the replies, joined.
    async fn converse<S>(
        &self,
        mut replies: Replies<S>,
        secret: Option<String>,
    ) -> Result<Vec<u8>, SourceError>
    where
        S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
    {
        if let Some(auth) = &self.auth {
            authenticate(&mut replies, auth, secret.as_deref().unwrap_or_default()).await?;
        }
        let mut out = Vec::new();
        for request in self.requests() {
            let send = match &secret {
                Some(value) if request.send.contains(PLACEHOLDER) => {
                    // A line break would end the command early and send the rest as
                    // another command.
                    if value.chars().any(char::is_control) {
                        return Err(SourceError::Secret(
                            "the secret holds a control character (a line break?); not sent".into(),
                        ));
                    }
                    request.send.replace(PLACEHOLDER, value)
                }
                _ => request.send.clone(),
            };
            replies.send(send.as_bytes()).await?;
            // The request held the secret: gone before the (possibly slow) read.
            drop(send);
            let Some(reply) = read_reply(&mut replies, &request).await? else {
                continue;
            };
            if let Some(header) = &request.header {
                if !out.is_empty() && !out.ends_with(b"\n") {
                    out.push(b'\n');
                }
                out.extend_from_slice(header.as_bytes());
                out.push(b'\n');
            }
            out.extend_from_slice(&reply);
        }
        Ok(out)
    }
}

/// Sends Redis `AUTH` with `auth`'s words (the secret in place of `{secret}`) as one RESP
/// command, so a password with spaces or quotes arrives whole; only `+OK` lets the read go
/// on: a refusal is the source's error, in the server's words.
async fn authenticate<S>(
    replies: &mut Replies<S>,
    auth: &str,
    secret: &str,
) -> Result<(), SourceError>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let words: Vec<String> = std::iter::once("AUTH".to_string())
        .chain(
            auth.split_whitespace()
                .map(|w| w.replace(PLACEHOLDER, secret)),
        )
        .collect();
    let mut command = format!("*{}\r\n", words.len()).into_bytes();
    for w in &words {
        command.extend_from_slice(format!("${}\r\n", w.len()).as_bytes());
        command.extend_from_slice(w.as_bytes());
        command.extend_from_slice(b"\r\n");
    }
    drop(words);
    replies.send(&command).await?;
    drop(command);
    match replies.resp().await? {
        Value::Status(_) => Ok(()),
        Value::Error(e) => Err(SourceError::Protocol(format!(
            "{}: AUTH refused: server replied -{e}",
            replies.what()
        ))),
        other => Err(SourceError::Protocol(format!(
            "{}: AUTH answered {other:?}, not +OK",
            replies.what()
        ))),
    }
}

/// One request's reply as text; `None` for an optional request the server refused.
async fn read_reply<S>(
    replies: &mut Replies<S>,
    request: &Request,
) -> Result<Option<Vec<u8>>, SourceError>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    match &request.framing {
        Framing::Close => replies.until_close().await.map(Some),
        Framing::Until(end) => replies.until(end).await.map(Some),
        Framing::Resp => {
            // Status replies before the reply are those of commands in the same `send`
            // (`AUTH {secret}\r\nINFO all\r\n`, `SELECT 1`): passed over.
            let value = loop {
                match replies.resp().await? {
                    Value::Status(_) => continue,
                    value => break value,
                }
            };
            match value {
                Value::Error(_) if request.optional => Ok(None),
                Value::Error(e) => Err(SourceError::Protocol(format!(
                    "{}: server replied -{e}",
                    replies.what()
                ))),
                value => {
                    let mut text = Vec::new();
                    resp::render(&value, &mut text);
                    Ok(Some(text))
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
