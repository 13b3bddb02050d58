//! `basic-auth`: HTTP Basic authentication (RFC 7617): checks the user-id and password of
//! `Authorization: Basic ...` against the credentials of the configuration, and puts who
//! the user is into the request context for later plugins.
//!
//! # Configuration
//!
//! | key | type | default | meaning |
//! |---|---|---|---|
//! | `realm` | string | `"api"` | the protection space named in the challenge (`WWW-Authenticate: Basic realm="api", charset="UTF-8"`) |
//! | `strip_credentials` | bool | `true` | remove the `Authorization` header from an authenticated request before it goes on, so the upstream never sees the password |
//! | `credentials` | array of objects | **required** | the accepted users, one entry per user (below) |
//!
//! Each entry of `credentials`:
//!
//! | key | type | default | meaning |
//! |---|---|---|---|
//! | `username` | string | **required** | the user-id, compared exactly (case-sensitive, as bytes, no Unicode normalization); unique across entries |
//! | `password` | string | **required** | the password, in one of the forms below |
//! | `roles` | array of strings | `[]` | the user's roles: `auth.roles` in the context, joined by a space |
//!
//! A `password` is one of:
//!
//! - an argon2 hash as a PHC string (`$argon2id$v=19$m=...,t=...,p=...$<salt>$<hash>`, as
//!   made by the reference `argon2` tool, `argon2-cffi`, PHP's `password_hash` or the
//!   `argon2` crate; `$argon2i$` and `$argon2d$` are accepted too, argon2id is the one to
//!   use). The configuration holds the hash only. Its memory cost (`m`) may be at most
//!   8192 KiB ([`MAX_ARGON2_MEMORY_KIB`]; plugins have 16 MiB of memory), and one
//!   verification must fit in the plugin's 100 ms budget per call: `m=7168,t=5,p=1` (the
//!   lightest of OWASP's argon2id settings) took about 30 ms in the gateway on a 2-core VM,
//!   `m=4096,t=3,p=1` about 10 ms. A request that runs past the budget is answered 500
//!   `plugin-failed`.
//! - a bcrypt hash (`$2a$`, `$2b$`, `$2x$` or `$2y$`, cost 4 to [`MAX_BCRYPT_COST`], the 60
//!   characters of the usual modular crypt format, as made by `htpasswd -B`, PHP's
//!   `password_hash`, Python's `bcrypt` or Spring Security). The gateway checks it natively
//!   (`crypto.bcrypt_verify`), outside the plugin's 100 ms budget, but on the worker thread
//!   of the request: a cost-10 check takes tens of milliseconds of CPU, cost 12 about four
//!   times that. The cache below makes that a cost per client and instance, not per request.
//! - a secret reference (`env://NAME`, `file:///path`, `vault://mount/path#key`,
//!   `aws-sm://name[#key]`, `k8s://namespace/name/key`), resolved through the gateway's
//!   `secrets` capability by `init` (an environment variable of the gateway; a file's
//!   contents, one trailing newline removed); the value is the password itself (never read
//!   as a hash). It is resolved when an instance is created (when the artifact loads, and
//!   whenever the gateway adds an instance to the pool) and then kept as its SHA-256: after
//!   changing a password, reload the gateway so that every instance reads the new value.
//! - anything else: the password itself, literally (kept for compatibility: the artifact
//!   then holds it in clear; prefer the other forms).
//!
//! The configuration is refused when `credentials` is empty; when a `username` is empty,
//! contains `:` (RFC 7617: a user-id with a colon cannot be sent) or is listed twice; when a
//! password is empty (or its secret resolves to an empty value), starts with `$2a$`, `$2b$`,
//! `$2x$` or `$2y$` without being a well-formed bcrypt hash of an accepted cost, or starts
//! with `$argon2` without being a valid argon2 PHC hash with a salt and a hash, or with a
//! memory cost over the limit; when a secret reference does not resolve (the message names
//! the reference, never a value); when a role is empty or contains whitespace; when `realm`
//! contains a control character.
//!
//! # Behaviour
//!
//! **Reading the credentials.** The first `Authorization` value, of the form `Basic <token>`
//! (scheme case-insensitive, then one or more spaces); the token is base64 (RFC 4648,
//! standard alphabet; padding optional) of `user-id:password` in UTF-8. The user-id is
//! everything before the first `:`, the password everything after it (it may contain `:`).
//!
//! **Checking them.** The user-id is hashed (SHA-256) and compared with every configured
//! username's digest in constant time, all of them every time. Then the password is checked
//! against that user's: a plain password (literal or from a secret) as SHA-256 digests
//! compared in constant time; an argon2 hash by running argon2 with the hash's parameters;
//! a bcrypt hash by the gateway's bcrypt.
//! An unknown user-id costs the same: its password is checked against a dummy that has the
//! form of the first hashed credential (the same algorithm and parameters, a hash nothing
//! matches), or a plain digest when no credential is hashed. So response times do not say
//! which user-ids exist, provided every credential has the same form and parameters (a user
//! with a plain password answers faster than one with an argon2 hash).
//!
//! **Cache.** An argon2 or bcrypt verification costs milliseconds of CPU; paying it on every request
//! of a client that sends the same credentials each time would make the hash the cost of
//! the API. So the instance remembers the credentials it verified: a map from
//! SHA-256(random per-instance salt, user-id, `:`, password) to the user, of at most 1024
//! entries ([`CACHE_CAPACITY`]), emptied when full. A request whose credentials are in it
//! is accepted without running argon2 or bcrypt; anything else is checked in full. Only successful
//! verifications are remembered (a wrong password always costs the full check), and the map
//! lives and dies with the instance, like the credentials themselves. Each instance of the
//! gateway's pool has its own map, so a client's first requests may pay the check once per
//! instance.
//!
//! **Accepted**: the request goes on, with these request context values:
//!
//! | context key | value |
//! |---|---|
//! | `auth.sub` | the `username` |
//! | `auth.consumer` | the `username` |
//! | `auth.roles` | the user's `roles` joined by a single space (`""` when none) |
//! | `auth.method` | `basic` |
//!
//! With `strip_credentials` (the default), every `Authorization` value is removed from the
//! request first.
//!
//! **Refused** (no `Authorization`, another scheme, a token that is not base64 or has no
//! `:`, an unknown user, a wrong password): `401 urn:barbacane:error:unauthorized`, an RFC
//! 9457 problem whose `detail` is the same whatever failed, with
//! `WWW-Authenticate: Basic realm="<realm>", charset="UTF-8"` (the realm as a quoted string,
//! `"` and `\` escaped; `charset` tells clients to send UTF-8, RFC 7617 section 2.1).
//!
//! Capabilities: `request`, `response`, `context`, `secrets`, `crypto`.

use std::collections::HashMap;

use argon2::password_hash::phc::Output;
use argon2::{Argon2, Params, PasswordHash, PasswordVerifier};
use barbacane_plugin_sdk::prelude::*;
use barbacane_plugin_sdk::{crypto, random, secrets};
use base64::Engine;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use subtle::{Choice, ConditionallySelectable, ConstantTimeEq};

/// Largest argon2 memory cost (`m`, KiB) accepted: the instance must hold it with room to
/// spare under its 16 MiB, and stay below the 12 MiB past which the gateway recycles it.
pub const MAX_ARGON2_MEMORY_KIB: u32 = 8192;
/// Largest bcrypt cost accepted (2^12 rounds: a check takes about a quarter of a second of
/// CPU; each step up doubles it).
pub const MAX_BCRYPT_COST: u32 = 12;
/// Most verified credentials an instance remembers.
pub const CACHE_CAPACITY: usize = 1024;

/// base64 with the standard alphabet, padding optional.
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// The configuration of one use.
#[barbacane_middleware]
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BasicAuth {
    #[serde(default = "default_realm")]
    realm: String,
    #[serde(default = "default_strip_credentials")]
    strip_credentials: bool,
    credentials: Vec<Credential>,
    /// Computed by `init`.
    #[serde(skip)]
    policy: Policy,
    /// Verified credentials (see "Cache").
    #[serde(skip)]
    cache: Cache,
}

fn default_realm() -> String {
    "api".into()
}

fn default_strip_credentials() -> bool {
    true
}

/// One entry of `credentials`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Credential {
    username: String,
    password: String,
    #[serde(default)]
    roles: Vec<String>,
}

impl std::fmt::Debug for Credential {
    /// Everything but the password, which may be a literal one.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credential")
            .field("username", &self.username)
            .field("roles", &self.roles)
            .finish_non_exhaustive()
    }
}

/// How a password is checked.
#[derive(Clone, PartialEq, Eq)]
enum Verifier {
    /// The SHA-256 of the password (a literal, or a resolved secret).
    Digest([u8; 32]),
    /// An argon2 hash.
    Argon2(Box<PasswordHash>),
    /// A bcrypt hash (60 characters, checked by the gateway) and its cost.
    Bcrypt(String, u32),
}

impl std::fmt::Debug for Verifier {
    /// The form only.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Verifier::Digest(_) => f.write_str("Digest"),
            Verifier::Argon2(hash) => write!(f, "Argon2({}, {})", hash.algorithm, hash.params),
            Verifier::Bcrypt(_, cost) => write!(f, "Bcrypt(cost {cost})"),
        }
    }
}

impl Default for Verifier {
    fn default() -> Self {
        Verifier::Digest([0; 32])
    }
}

impl Verifier {
    /// Whether `password` is the one.
    fn verify(&self, password: &[u8]) -> bool {
        match self {
            Verifier::Digest(digest) => sha256(password).ct_eq(digest).into(),
            Verifier::Argon2(hash) => Argon2::default()
                .verify_password(password, hash.as_ref())
                .is_ok(),
            // A hash the gateway cannot check (it checked the form at init) refuses.
            Verifier::Bcrypt(hash, _) => crypto::bcrypt_verify(password, hash).unwrap_or(false),
        }
    }

    /// A verifier of the same form and cost that no password passes: the same algorithm,
    /// parameters and salt, with an all-zero hash output (hitting it is as likely as
    /// finding an argon2 preimage).
    fn dummy(&self) -> Verifier {
        match self {
            Verifier::Digest(_) => Verifier::Digest([0; 32]),
            Verifier::Argon2(hash) => {
                let mut dummy = hash.clone();
                let len = hash
                    .hash
                    .as_ref()
                    .map_or(Params::DEFAULT_OUTPUT_LEN, Output::len);
                dummy.hash = Output::new(&vec![0u8; len]).ok();
                Verifier::Argon2(dummy)
            }
            // The same version, cost and salt; an all-zero checksum.
            Verifier::Bcrypt(hash, cost) => {
                let mut dummy = hash.get(..BCRYPT_SALT_END).unwrap_or_default().to_owned();
                dummy.push_str(&".".repeat(BCRYPT_LEN - BCRYPT_SALT_END));
                Verifier::Bcrypt(dummy, *cost)
            }
        }
    }

    fn is_hash(&self) -> bool {
        matches!(self, Verifier::Argon2(_) | Verifier::Bcrypt(..))
    }
}

/// The configuration, checked, with usernames and passwords in the form they are compared.
#[derive(Debug, Default)]
struct Policy {
    /// The SHA-256 of each username, in the order of `credentials`.
    users: Vec<[u8; 32]>,
    /// Each user's password check, in the same order.
    verifiers: Vec<Verifier>,
    /// What the context gets for each user, in the same order.
    identities: Vec<Identity>,
    /// The check an unknown user's password goes through.
    dummy: Verifier,
    /// `WWW-Authenticate`.
    challenge: String,
}

/// Who a user is.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Identity {
    username: String,
    /// `roles` joined by a space.
    roles: String,
}

/// Verified credentials: SHA-256(salt, user-id, `:`, password) to the user's index.
#[derive(Default)]
struct Cache {
    salt: [u8; 16],
    entries: HashMap<[u8; 32], usize>,
}

impl std::fmt::Debug for Cache {
    /// The size only.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cache")
            .field("entries", &self.entries.len())
            .finish_non_exhaustive()
    }
}

impl Cache {
    fn key(&self, user: &[u8], password: &[u8]) -> [u8; 32] {
        Sha256::new()
            .chain_update(self.salt)
            .chain_update(user)
            .chain_update(b":")
            .chain_update(password)
            .finalize()
            .into()
    }

    fn get(&self, key: &[u8; 32]) -> Option<usize> {
        self.entries.get(key).copied()
    }

    fn insert(&mut self, key: [u8; 32], index: usize) {
        if self.entries.len() >= CACHE_CAPACITY {
            self.entries.clear();
        }
        self.entries.insert(key, index);
    }
}

fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// `realm` as the challenge's quoted string.
fn challenge(realm: &str) -> String {
    let mut quoted = String::with_capacity(realm.len() + 2);
    for c in realm.chars() {
        if c == '"' || c == '\\' {
            quoted.push('\\');
        }
        quoted.push(c);
    }
    format!("Basic realm=\"{quoted}\", charset=\"UTF-8\"")
}

/// The user-id and password of an `Authorization` value, if it is `Basic` with a valid
/// token.
fn basic_credentials(value: &[u8]) -> Option<(Vec<u8>, usize)> {
    let space = value.iter().position(|b| *b == b' ')?;
    let (scheme, rest) = value.split_at(space);
    if !scheme.eq_ignore_ascii_case(b"basic") {
        return None;
    }
    let token = rest.trim_ascii_start();
    let decoded = BASE64.decode(token).ok()?;
    let colon = decoded.iter().position(|b| *b == b':')?;
    Some((decoded, colon))
}

/// How one configured password is checked; errors name the entry, never a value.
fn verifier(index: usize, credential: &Credential) -> Result<Verifier, String> {
    let password = credential.password.as_str();
    let what = format!("credentials[{index}] (username `{}`)", credential.username);
    if password.is_empty() {
        return Err(format!("{what}: the password is empty"));
    }
    if ["$2a$", "$2b$", "$2x$", "$2y$"]
        .iter()
        .any(|p| password.starts_with(p))
    {
        return bcrypt_verifier(password).map_err(|reason| format!("{what}: {reason}"));
    }
    if password.starts_with("$argon2") {
        return argon2_verifier(password).map_err(|reason| format!("{what}: {reason}"));
    }
    if secrets::is_reference(password) {
        return match secrets::get(password) {
            Some(value) if !value.is_empty() => Ok(Verifier::Digest(sha256(value.as_bytes()))),
            Some(_) => Err(format!(
                "{what}: the secret reference `{password}` resolves to an empty value"
            )),
            None => Err(format!(
                "{what}: the secret reference `{password}` does not resolve"
            )),
        };
    }
    Ok(Verifier::Digest(sha256(password.as_bytes())))
}

/// Length of a bcrypt hash in modular crypt format: `$2b$10$` + 22 salt + 31 checksum.
const BCRYPT_LEN: usize = 60;
/// Where the salt ends (the checksum starts).
const BCRYPT_SALT_END: usize = 29;

/// A well-formed bcrypt hash of an accepted cost (the gateway checks passwords against it).
fn bcrypt_verifier(hash: &str) -> Result<Verifier, String> {
    let bytes = hash.as_bytes();
    let alphabet = |b: &u8| b.is_ascii_alphanumeric() || *b == b'.' || *b == b'/';
    let well_formed = bytes.len() == BCRYPT_LEN
        && bytes.get(3) == Some(&b'$')
        && bytes.get(6) == Some(&b'$')
        && bytes
            .get(4..6)
            .is_some_and(|c| c.iter().all(u8::is_ascii_digit))
        && bytes.get(7..).is_some_and(|rest| rest.iter().all(alphabet));
    if !well_formed {
        return Err(
            "not a valid bcrypt hash ($2b$<cost>$ and 53 characters of ./A-Za-z0-9)".into(),
        );
    }
    let cost: u32 = hash
        .get(4..6)
        .and_then(|c| c.parse().ok())
        .unwrap_or(u32::MAX);
    if !(4..=MAX_BCRYPT_COST).contains(&cost) {
        return Err(format!(
            "bcrypt cost {cost} is outside 4..={MAX_BCRYPT_COST} (each step doubles the time of \
             a check, which runs on the request's worker thread)"
        ));
    }
    Ok(Verifier::Bcrypt(hash.to_owned(), cost))
}

/// A checked argon2 PHC hash.
fn argon2_verifier(phc: &str) -> Result<Verifier, String> {
    let invalid = "not a valid argon2 PHC hash ($argon2id$v=19$m=..,t=..,p=..$<salt>$<hash>)";
    let hash = PasswordHash::new(phc).map_err(|_| invalid.to_owned())?;
    if !["argon2id", "argon2i", "argon2d"].contains(&hash.algorithm.as_str()) {
        return Err(invalid.into());
    }
    if hash.salt.is_none() || hash.hash.is_none() {
        return Err(format!("{invalid}: it has no salt or no hash"));
    }
    let params = Params::try_from(&hash).map_err(|e| format!("{invalid}: {e}"))?;
    if params.m_cost() > MAX_ARGON2_MEMORY_KIB {
        return Err(format!(
            "the argon2 memory cost m={} is over {MAX_ARGON2_MEMORY_KIB} (KiB): plugins have \
             16 MiB of memory; rehash with e.g. m=7168,t=5,p=1",
            params.m_cost()
        ));
    }
    Ok(Verifier::Argon2(Box::new(hash)))
}

/// The refusal, the same whatever failed.
fn unauthorized(challenge: &str) -> OutgoingResponse {
    OutgoingResponse::problem_with_detail(
        401,
        "unauthorized",
        "Authentication required",
        Some("The request needs valid credentials."),
    )
    .header("www-authenticate", challenge)
}

impl BasicAuth {
    /// The index of the user the credentials of `value` authenticate, if they do.
    fn authenticate(&mut self, value: &[u8]) -> Option<usize> {
        let (decoded, colon) = basic_credentials(value)?;
        let (user, password) = (&decoded[..colon], &decoded[colon + 1..]);
        let key = self.cache.key(user, password);
        if let Some(index) = self.cache.get(&key) {
            return Some(index);
        }
        let digest = sha256(user);
        let mut found = Choice::from(0);
        let mut index = 0u64;
        for (i, stored) in self.policy.users.iter().enumerate() {
            let same = digest.ct_eq(stored);
            found |= same;
            index.conditional_assign(&(i as u64), same);
        }
        let index = usize::try_from(index).ok()?;
        let known = bool::from(found);
        let verifier = match self.policy.verifiers.get(index) {
            Some(verifier) if known => verifier,
            _ => &self.policy.dummy,
        };
        let verified = verifier.verify(password);
        if !(known && verified) {
            return None;
        }
        if verifier.is_hash() {
            self.cache.insert(key, index);
        }
        Some(index)
    }
}

impl Middleware for BasicAuth {
    fn init(&mut self) -> Result<(), String> {
        if let Some(c) = self.realm.chars().find(|c| c.is_control() && *c != '\t') {
            return Err(format!(
                "realm contains the control character {c:?}; it must fit in a header value"
            ));
        }
        if self.credentials.is_empty() {
            return Err("credentials is empty: list at least one user".into());
        }
        let mut policy = Policy {
            challenge: challenge(&self.realm),
            ..Policy::default()
        };
        for (index, credential) in self.credentials.iter().enumerate() {
            let username = &credential.username;
            if username.is_empty() {
                return Err(format!("credentials[{index}]: the username is empty"));
            }
            if username.contains(':') {
                return Err(format!(
                    "credentials[{index}]: the username `{username}` contains `:`, which Basic \
                     authentication cannot carry in a user-id"
                ));
            }
            if let Some(first) = policy
                .identities
                .iter()
                .position(|i| i.username == *username)
            {
                return Err(format!(
                    "credentials[{index}]: the username `{username}` is already the username \
                     of credentials[{first}]"
                ));
            }
            if let Some(role) = credential
                .roles
                .iter()
                .find(|r| r.is_empty() || r.chars().any(char::is_whitespace))
            {
                return Err(format!(
                    "credentials[{index}] (username `{username}`): the role `{role}` is empty \
                     or contains whitespace"
                ));
            }
            policy.verifiers.push(verifier(index, credential)?);
            policy.users.push(sha256(username.as_bytes()));
            policy.identities.push(Identity {
                username: username.clone(),
                roles: credential.roles.join(" "),
            });
        }
        policy.dummy = policy
            .verifiers
            .iter()
            .find(|v| v.is_hash())
            .unwrap_or(&policy.dummy)
            .dummy();
        self.policy = policy;
        random::fill(&mut self.cache.salt);
        Ok(())
    }

    fn on_request(&mut self, request: &mut Request) -> Action {
        let index = request
            .header_bytes("authorization", 0)
            .and_then(|value| self.authenticate(&value));
        let Some(identity) = index.and_then(|i| self.policy.identities.get(i)) else {
            return Action::Respond(unauthorized(&self.policy.challenge));
        };
        if self.strip_credentials {
            request.remove_header("authorization");
        }
        context::set("auth.sub", &identity.username);
        context::set("auth.consumer", &identity.username);
        context::set("auth.roles", &identity.roles);
        context::set("auth.method", "basic");
        Action::Continue
    }
}

#[cfg(test)]
mod tests;
