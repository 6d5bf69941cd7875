//! Basic auth: bcrypt hashes from `basic_auth_users`, checked off the runtime thread, two
//! at a time, with a cache of successful checks so a scrape costs a bcrypt run only the
//! first time. No password is kept: the cache holds an HMAC of (hash, password) under a key
//! made at startup, compared in constant time.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use hyper::header::{HeaderMap, AUTHORIZATION};
use ring::hmac;

use super::KeyError;

/// Bcrypt checks at once: see [`BasicAuth::bcrypt_slots`].
const BCRYPT_AT_ONCE: usize = 2;
/// Wrong passwords remembered (see [`BasicAuth::refused`]); each lookup is one HMAC per
/// entry, microseconds.
const REFUSED_KEPT: usize = 64;

pub struct BasicAuth {
    /// User name -> bcrypt hash.
    hashes: HashMap<String, String>,
    /// Checked for unknown users, so they take as long as known ones (no user enumeration
    /// by timing); never accepted.
    decoy_hash: String,
    /// Per-process random key of the cache's HMACs.
    cache_key: hmac::Key,
    /// User -> HMAC of (hash, password) of the last successful bcrypt check.
    verified: Mutex<HashMap<String, hmac::Tag>>,
    /// HMACs of (hash, password) that bcrypt refused lately, newest last: the same wrong
    /// password again (a flood repeats it) is refused without a check, so it neither costs
    /// a bcrypt run nor holds its client's place while a right one arrives.
    refused: Mutex<std::collections::VecDeque<hmac::Tag>>,
    /// Bcrypt checks at once, on the blocking pool: CPU-heavy by design, so a flood of
    /// wrong passwords must not take every core from the scrapes; two, so one slow check
    /// does not hold up every other first login. Waiters are served in order (the
    /// semaphore is fair), and the per-client connection limit bounds one client's share.
    bcrypt_slots: tokio::sync::Semaphore,
    /// Clients with a bcrypt check running: one at a time each. A client that floods wrong
    /// passwords gets its other attempts refused at once, so it holds one slot at most and
    /// another client's first login (a probe's, with a 1 s timeout) finds one free.
    checking: Mutex<HashSet<IpAddr>>,
    /// Clients whose password bcrypt refused lately, and when. Their checks take
    /// [`BasicAuth::suspect_slot`] first, so however many addresses flood wrong passwords
    /// (the app beside us can bind any 127.x.y.z), they hold one of the bcrypt slots at
    /// most and queue among themselves: a probe's or a scraper's first login finds the
    /// other slot.
    suspects: Mutex<HashMap<IpAddr, Instant>>,
    suspect_slot: tokio::sync::Semaphore,
    bcrypt_runs: AtomicU64,
}

/// How long a client that sent a wrong password stays a suspect.
const SUSPECT_FOR: Duration = Duration::from_secs(60);
/// Suspects remembered at most; past it the oldest half is forgotten.
const SUSPECTS_KEPT: usize = 4096;

/// A client's place in [`BasicAuth::checking`], given up when its check ends.
struct Checking<'a>(&'a BasicAuth, Option<IpAddr>);

impl Drop for Checking<'_> {
    fn drop(&mut self) {
        if let Some(ip) = self.1 {
            self.0
                .checking
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .remove(&ip);
        }
    }
}

impl BasicAuth {
    /// `None` without users: no auth. `users` are (name, checked bcrypt hash) in file
    /// order; the first hash is the decoy.
    pub fn new(users: Vec<(String, String)>) -> Result<Option<BasicAuth>, KeyError> {
        let Some(decoy_hash) = users.first().map(|(_, hash)| hash.clone()) else {
            return Ok(None);
        };
        let cache_key = hmac::Key::generate(hmac::HMAC_SHA256, &ring::rand::SystemRandom::new())
            .map_err(|_| {
                KeyError::new("basic_auth_users", "no randomness for the credential cache")
            })?;
        Ok(Some(BasicAuth {
            hashes: users.into_iter().collect(),
            decoy_hash,
            cache_key,
            verified: Mutex::new(HashMap::new()),
            refused: Mutex::default(),
            bcrypt_slots: tokio::sync::Semaphore::new(BCRYPT_AT_ONCE),
            checking: Mutex::new(HashSet::new()),
            suspects: Mutex::default(),
            suspect_slot: tokio::sync::Semaphore::new(1),
            bcrypt_runs: AtomicU64::new(0),
        }))
    }

    pub fn user_count(&self) -> usize {
        self.hashes.len()
    }

    /// How many bcrypt checks have run (cache misses).
    pub fn bcrypt_runs(&self) -> u64 {
        self.bcrypt_runs.load(Ordering::Relaxed)
    }

    /// Whether `headers` carry the right password of a configured user.
    /// `client`: the peer's address, when known (one bcrypt check at a time per client).
    pub async fn check(&self, headers: &HeaderMap, client: Option<IpAddr>) -> bool {
        let Some((user, password)) = credentials(headers) else {
            return false;
        };
        let known = self.hashes.get(&user);
        let hash = known.unwrap_or(&self.decoy_hash).clone();
        let message = [hash.as_bytes(), b"\0", &password].concat();
        if known.is_some() && self.cached(&user, &message) {
            return true;
        }
        if self.refused_lately(&message) {
            return false;
        }
        if let Some(ip) = client {
            let fresh = self
                .checking
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(ip);
            if !fresh {
                return false;
            }
        }
        let _checking = Checking(self, client);
        let _suspect = match client.filter(|ip| self.is_suspect(*ip)) {
            Some(_) => match self.suspect_slot.acquire().await {
                Ok(permit) => Some(permit),
                Err(_) => return false,
            },
            None => None,
        };
        let Ok(_slot) = self.bcrypt_slots.acquire().await else {
            return false;
        };
        // Another request may have checked the same credentials while this one waited.
        if known.is_some() && self.cached(&user, &message) {
            return true;
        }
        self.bcrypt_runs.fetch_add(1, Ordering::Relaxed);
        let ok =
            tokio::task::spawn_blocking(move || bcrypt::verify(&password, &hash).unwrap_or(false))
                .await
                .unwrap_or(false);
        if !(ok && known.is_some()) {
            self.remember_refused(&message);
            if let Some(ip) = client {
                self.suspect(ip);
            }
            return false;
        }
        let tag = hmac::sign(&self.cache_key, &message);
        self.verified
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(user, tag);
        true
    }

    fn is_suspect(&self, ip: IpAddr) -> bool {
        let suspects = self.suspects.lock().unwrap_or_else(PoisonError::into_inner);
        suspects.get(&ip).is_some_and(|t| t.elapsed() < SUSPECT_FOR)
    }

    fn suspect(&self, ip: IpAddr) {
        let mut suspects = self.suspects.lock().unwrap_or_else(PoisonError::into_inner);
        if suspects.len() >= SUSPECTS_KEPT {
            suspects.retain(|_, t| t.elapsed() < SUSPECT_FOR);
            if suspects.len() >= SUSPECTS_KEPT {
                let mut times: Vec<Instant> = suspects.values().copied().collect();
                times.sort_unstable();
                let median = times.get(times.len() / 2).copied();
                suspects.retain(|_, t| Some(*t) > median);
            }
        }
        suspects.insert(ip, Instant::now());
    }

    fn refused_lately(&self, message: &[u8]) -> bool {
        let refused = self.refused.lock().unwrap_or_else(PoisonError::into_inner);
        refused
            .iter()
            .any(|tag| hmac::verify(&self.cache_key, message, tag.as_ref()).is_ok())
    }

    fn remember_refused(&self, message: &[u8]) {
        let tag = hmac::sign(&self.cache_key, message);
        let mut refused = self.refused.lock().unwrap_or_else(PoisonError::into_inner);
        if refused.len() >= REFUSED_KEPT {
            refused.pop_front();
        }
        refused.push_back(tag);
    }

    fn cached(&self, user: &str, message: &[u8]) -> bool {
        let tag = self
            .verified
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(user)
            .copied();
        // hmac::verify compares in constant time.
        tag.is_some_and(|t| hmac::verify(&self.cache_key, message, t.as_ref()).is_ok())
    }
}

/// `Authorization: Basic base64(user:password)`, as user and password bytes.
fn credentials(headers: &HeaderMap) -> Option<(String, Vec<u8>)> {
    use base64::Engine;
    let value = headers.get(AUTHORIZATION)?.as_bytes().trim_ascii();
    let space = value.iter().position(|b| *b == b' ')?;
    let (scheme, token) = value.split_at(space);
    if !scheme.eq_ignore_ascii_case(b"basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(token.trim_ascii())
        .ok()?;
    let colon = decoded.iter().position(|b| *b == b':')?;
    let (user, password) = decoded.split_at(colon);
    let user = String::from_utf8(user.to_vec()).ok()?;
    Some((user, password.get(1..).unwrap_or_default().to_vec()))
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use hyper::header::HeaderValue;

    /// Headers with `Authorization: Basic` for `user:password`.
    pub fn basic(user: &str, password: &str) -> HeaderMap {
        use base64::Engine;
        let mut h = HeaderMap::new();
        let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        h.insert(
            AUTHORIZATION,
            HeaderValue::from_str(&format!("Basic {token}")).unwrap(),
        );
        h
    }

    #[test]
    fn credentials_are_parsed_strictly() {
        assert_eq!(
            credentials(&basic("alice", "pa:ss word")),
            Some(("alice".into(), b"pa:ss word".to_vec()))
        );
        assert_eq!(credentials(&basic("", "")), Some(("".into(), Vec::new())));
        let mut h = HeaderMap::new();
        for bad in ["Bearer abc", "Basic", "Basic !!!", "Basic YWxpY2U="] {
            h.insert(AUTHORIZATION, HeaderValue::from_static(bad));
            assert_eq!(credentials(&h), None, "{bad}");
        }
        h.insert(AUTHORIZATION, HeaderValue::from_static("basic   YTpi "));
        assert_eq!(credentials(&h), Some(("a".into(), b"b".to_vec())));
    }

    #[test]
    fn no_users_no_auth() {
        assert!(BasicAuth::new(Vec::new()).unwrap().is_none());
    }

    #[tokio::test]
    async fn bcrypt_runs_once_per_good_password() {
        let hash = bcrypt::hash("s3cret", 4).unwrap();
        let auth = BasicAuth::new(vec![("alice".into(), hash)])
            .unwrap()
            .unwrap();
        assert_eq!(auth.user_count(), 1);
        assert!(!auth.check(&HeaderMap::new(), None).await);
        assert_eq!(auth.bcrypt_runs(), 0);
        assert!(auth.check(&basic("alice", "s3cret"), None).await);
        assert!(auth.check(&basic("alice", "s3cret"), None).await);
        assert!(auth.check(&basic("alice", "s3cret"), None).await);
        assert_eq!(auth.bcrypt_runs(), 1, "later checks come from the cache");
        // Wrong passwords and unknown users always cost a bcrypt run and never pass, not
        // even with the right password of another user.
        assert!(!auth.check(&basic("alice", "s3cre"), None).await);
        assert!(!auth.check(&basic("alice", "s3cret "), None).await);
        assert!(!auth.check(&basic("mallory", "s3cret"), None).await);
        assert_eq!(auth.bcrypt_runs(), 4);
        assert!(auth.check(&basic("alice", "s3cret"), None).await);
        assert_eq!(auth.bcrypt_runs(), 4);
    }

    /// A client flooding wrong passwords runs one bcrypt check at a time; its other
    /// attempts are refused at once, so another client's first login is not queued behind
    /// them.
    #[tokio::test]
    async fn one_check_at_a_time_per_client() {
        let hash = bcrypt::hash("s3cret", 10).unwrap();
        let auth = std::sync::Arc::new(
            BasicAuth::new(vec![("alice".into(), hash)])
                .unwrap()
                .unwrap(),
        );
        let flooder: IpAddr = [10, 0, 0, 1].into();
        let flood: Vec<_> = (0..8)
            .map(|_| {
                let auth = auth.clone();
                tokio::spawn(
                    async move { auth.check(&basic("alice", "wrong"), Some(flooder)).await },
                )
            })
            .collect();
        tokio::task::yield_now().await;
        let probe: IpAddr = [10, 0, 0, 2].into();
        assert!(auth.check(&basic("alice", "s3cret"), Some(probe)).await);
        for f in flood {
            assert!(!f.await.unwrap());
        }
        assert_eq!(
            auth.bcrypt_runs(),
            2,
            "one for the flooder, one for the probe"
        );
    }
}
