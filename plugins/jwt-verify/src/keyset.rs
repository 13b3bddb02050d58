//! Fetched keys kept across requests: when to fetch them again, what to keep when a fetch
//! fails, and the signature check against them (and any configured keys) through the
//! gateway's `crypto` capability.

use crate::keys::{self, Key};
use crate::token::Jws;
use barbacane_plugin_sdk::{crypto, log};
use std::collections::HashSet;

/// At most one fetch per this many milliseconds for tokens naming an unknown `kid`, and
/// between a failed scheduled fetch and its retry.
pub const REFETCH_INTERVAL_MS: i64 = 30_000;

/// While no fetch ever succeeded: at most one attempt per this many milliseconds (the
/// `Retry-After` of the 503).
pub const UNAVAILABLE_RETRY_MS: i64 = 5_000;

/// Verified signatures a key set remembers.
const VERIFIED_CACHE: usize = 1024;

/// Fetched keys, and when they were fetched (monotonic milliseconds).
#[derive(Debug, Default)]
pub struct KeySet {
    keys: Vec<Key>,
    /// The last successful fetch.
    fetched_ms: Option<i64>,
    /// The last attempt, successful or not.
    attempted_ms: Option<i64>,
    /// Whether the last attempt failed.
    failed: bool,
    /// SHA-256 of the signing input and signature of tokens whose signature verified, so a
    /// client reusing its token (the common case) costs one hash instead of a public-key
    /// check; claims are still checked on every request. Bounded, cleared when full and
    /// whenever keys are fetched (a key that left the set verifies nothing more).
    verified: HashSet<[u8; 32]>,
}

impl KeySet {
    /// The keys of the last successful fetch.
    pub fn keys(&self) -> &[Key] {
        &self.keys
    }

    /// Whether a fetch ever succeeded.
    pub fn ever_fetched(&self) -> bool {
        self.fetched_ms.is_some()
    }

    /// Whether at least `gap` ms passed since the last attempt (or there was none).
    fn quiet_for(&self, now_ms: i64, gap: i64) -> bool {
        self.attempted_ms
            .is_none_or(|t| now_ms.saturating_sub(t) >= gap)
    }

    /// Whether a fetch is due now, for lack of keys or for their age.
    fn due(&self, now_ms: i64, refresh_ms: i64) -> bool {
        match self.fetched_ms {
            None => self.quiet_for(now_ms, UNAVAILABLE_RETRY_MS),
            Some(fetched) => {
                now_ms.saturating_sub(fetched) >= refresh_ms
                    && (!self.failed || self.quiet_for(now_ms, REFETCH_INTERVAL_MS))
            }
        }
    }

    /// Whether a configured or fetched key has the `kid`.
    fn knows_kid(&self, statics: &[Key], kid: &str) -> bool {
        statics
            .iter()
            .chain(&self.keys)
            .any(|k| k.kid.as_deref() == Some(kid))
    }

    /// Fetches the keys with `fetch` when due: when none was ever fetched (at most once per
    /// [`UNAVAILABLE_RETRY_MS`]), when they are `refresh_ms` old (a failed attempt retried
    /// after [`REFETCH_INTERVAL_MS`]), or when `kid` names no key of `statics` or of the
    /// set (at most once per [`REFETCH_INTERVAL_MS`]). `what` names the keys in the warning
    /// a failure logs; on failure the keys fetched before are kept.
    pub fn refresh(
        &mut self,
        now_ms: i64,
        refresh_ms: i64,
        kid: Option<&str>,
        statics: &[Key],
        what: &str,
        mut fetch: impl FnMut() -> Result<Vec<Key>, String>,
    ) {
        if self.due(now_ms, refresh_ms) {
            self.record(now_ms, fetch(), what);
        }
        if let Some(kid) = kid
            && !self.knows_kid(statics, kid)
            && self.quiet_for(now_ms, REFETCH_INTERVAL_MS)
        {
            self.record(now_ms, fetch(), what);
        }
    }

    /// Records the outcome of a fetch attempted at `now_ms`.
    fn record(&mut self, now_ms: i64, outcome: Result<Vec<Key>, String>, what: &str) {
        self.attempted_ms = Some(now_ms);
        match outcome {
            Ok(keys) => {
                self.keys = keys;
                self.verified.clear();
                self.fetched_ms = Some(now_ms);
                self.failed = false;
            }
            Err(why) => {
                self.failed = true;
                let kept = match self.keys.len() {
                    0 => "no keys to fall back on".to_owned(),
                    1 => "keeping the key fetched before".to_owned(),
                    n => format!("keeping the {n} keys fetched before"),
                };
                log::warn(&format!("fetching {what} failed: {why}; {kept}"));
            }
        }
    }

    /// Checks the token's signature with the candidate keys among `statics` and the set:
    /// those that fit its `alg` and, when both have one, its `kid`. `Err` holds how many
    /// candidates were tried (see [`unverified`]).
    pub fn verify(&mut self, statics: &[Key], jws: &Jws<'_>) -> Result<(), usize> {
        let mut seen = jws.signing_input.as_bytes().to_vec();
        seen.push(b'.');
        seen.extend_from_slice(&jws.signature);
        let seen = crypto::sha256(&seen);
        if self.verified.contains(&seen) {
            return Ok(());
        }
        let kid = jws.kid.as_deref();
        let candidates = statics
            .iter()
            .chain(&self.keys)
            .filter(|k| k.accepts(jws.alg))
            .filter(|k| match (k.kid.as_deref(), kid) {
                (Some(have), Some(want)) => have == want,
                _ => true,
            });
        let mut tried = 0;
        for key in candidates {
            tried += 1;
            match crypto::verify(
                jws.alg.name(),
                &key.jwk,
                jws.signing_input.as_bytes(),
                &jws.signature,
            ) {
                Ok(true) => {
                    if self.verified.len() >= VERIFIED_CACHE {
                        self.verified.clear();
                    }
                    self.verified.insert(seen);
                    return Ok(());
                }
                Ok(false) => {}
                Err(why) => log::debug(&format!("the gateway cannot verify with a key: {why}")),
            }
        }
        Err(tried)
    }
}

/// Why no key verified a token, for the debug log: `tried` candidates (from
/// [`KeySet::verify`]), `sources` saying where keys come from (`configured`, `fetched`).
pub fn unverified(tried: usize, jws: &Jws<'_>, sources: &str) -> String {
    match (tried, jws.kid.as_deref()) {
        (0, Some(kid)) => format!(
            "no {sources} key with kid {} for {}",
            keys::shown(kid),
            jws.alg.name()
        ),
        (0, None) => format!("no key for {}", jws.alg.name()),
        _ => "the signature does not verify".to_owned(),
    }
}
