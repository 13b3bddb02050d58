//! `apikey-auth`: authenticates requests by an API key, read from a request header or a
//! query parameter and checked against the keys of the configuration. Whose key it is goes
//! into the request context, for later plugins (e.g. `rate-limit` with
//! `partition_key: context:auth.consumer`).
//!
//! # Configuration
//!
//! | key | type | default | meaning |
//! |---|---|---|---|
//! | `key_location` | string | `"header"` | where clients send their key: `header` or `query` |
//! | `header_name` | string | `"X-API-Key"` | the request header holding the key (with `key_location: header`; case-insensitive); its first value is read |
//! | `query_param` | string | `"api_key"` | the query parameter holding the key (with `key_location: query`); its first occurrence is read, percent-decoded |
//! | `keys` | array of objects | **required** | the accepted keys, one entry per key (below) |
//!
//! Each entry of `keys`:
//!
//! | key | type | default | meaning |
//! |---|---|---|---|
//! | `key` | string | **required** | the key, in one of the forms below |
//! | `id` | string | **required** | who holds the key: `auth.sub` and `auth.consumer` in the context; unique across entries |
//! | `name` | string | none | a display name: `auth.name` |
//! | `scopes` | array of strings | `[]` | what the key may do: `auth.scopes`, joined by a space |
//!
//! A `key` is one of:
//!
//! - a secret reference (`env://NAME`, `file:///path`, `vault://mount/path#key`,
//!   `aws-sm://name[#key]`, `k8s://namespace/name/key`), resolved through the gateway's
//!   `secrets` capability by `init` (an environment variable of the gateway; a file's
//!   contents, one trailing newline removed). The configuration, and so the artifact, holds
//!   the reference only. The value is resolved when an instance is created (when the
//!   artifact loads, and whenever the gateway adds an instance to the pool), then kept as
//!   its SHA-256: after rotating a key, reload the gateway so that every instance reads the
//!   new value.
//! - `sha256:` followed by the SHA-256 of the key in 64 lowercase hex digits: the
//!   configuration holds the digest only (`printf %s "$KEY" | sha256sum`). Unsalted, so meant
//!   for random, high-entropy keys, as API keys should be.
//! - anything else: the key itself, literally (kept for compatibility: the artifact then
//!   holds the key in clear; prefer the other forms). A key starting with a reference
//!   scheme or `sha256:` is never read literally.
//!
//! The configuration is refused when `keys` is empty; when an entry's `key` or `id` is
//! empty; when two entries have the same `id`, or the same key (whatever their forms: each
//! key must say who holds it); when a `sha256:` value is not 64 lowercase hex digits; when a
//! secret reference does not resolve, or resolves to an empty value (the message names the
//! reference, never a value); when a scope is empty or contains whitespace; when
//! `key_location` is neither `header` nor `query`, `header_name` is not a valid header name
//! (an RFC 9110 token) or `query_param` is empty.
//!
//! # Behaviour
//!
//! **Reading the key.** With `key_location: header`, the first value of `header_name`;
//! with `query`, the value of the first `query_param` parameter of the query string
//! (`a=1&api_key=...`), percent-decoded (`%2B` is `+`; a `+` stays a `+`, it is not read as
//! a space; a `%` not followed by two hex digits stays as it is). A missing or empty value
//! is a missing key. The other location is not looked at.
//!
//! **Checking it.** The presented key is hashed once (SHA-256) and its digest compared with
//! the digest of every configured key, each comparison in constant time (`subtle`), all of
//! them every time: how long the check takes says neither whether a key matched nor which.
//!
//! **Accepted**: the request goes on, with these request context values:
//!
//! | context key | value |
//! |---|---|
//! | `auth.sub` | the key's `id` |
//! | `auth.consumer` | the key's `id` |
//! | `auth.name` | the key's `name` (not set when it has none) |
//! | `auth.scopes` | the key's `scopes` joined by a single space (`""` when it has none) |
//! | `auth.method` | `apikey` |
//!
//! The request itself is not changed: the key stays in its header (with
//! `key_location: header`) or in the query string (with `query`) and reaches the upstream.
//!
//! **Refused** (no key, or a key that matches none): `401 urn:barbacane:error:unauthorized`,
//! an RFC 9457 problem whose `detail` is the same in both cases (an answer never says which
//! check failed), with `WWW-Authenticate: ApiKey realm="api"`. RFC 9110 (section 11.6.1)
//! requires a challenge on every 401, and no registered HTTP authentication scheme carries
//! API keys, so the plugin names its own, `ApiKey`: it tells a client what is expected,
//! and clients that do not know the scheme ignore it (browsers show no login dialog for
//! it). The realm is always `api`.
//!
//! Capabilities: `request`, `response`, `context`, `secrets`.

use barbacane_plugin_sdk::prelude::*;
use barbacane_plugin_sdk::secrets;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use subtle::{Choice, ConditionallySelectable, ConstantTimeEq};

/// The challenge sent with every 401.
pub const CHALLENGE: &str = r#"ApiKey realm="api""#;

/// The configuration of one use.
#[barbacane_middleware]
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiKeyAuth {
    #[serde(default = "default_key_location")]
    key_location: String,
    #[serde(default = "default_header_name")]
    header_name: String,
    #[serde(default = "default_query_param")]
    query_param: String,
    keys: Vec<KeyEntry>,
    /// Computed by `init`.
    #[serde(skip)]
    policy: Policy,
}

fn default_key_location() -> String {
    "header".into()
}

fn default_header_name() -> String {
    "X-API-Key".into()
}

fn default_query_param() -> String {
    "api_key".into()
}

/// One entry of `keys`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyEntry {
    key: String,
    id: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    scopes: Vec<String>,
}

impl std::fmt::Debug for KeyEntry {
    /// Everything but the key, which may be a literal one.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyEntry")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("scopes", &self.scopes)
            .finish_non_exhaustive()
    }
}

/// Where the key is read.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
enum Location {
    /// The request header `header_name`.
    #[default]
    Header,
    /// The query parameter `query_param`.
    Query,
}

/// The configuration, checked, with every key as its digest.
#[derive(Default)]
struct Policy {
    location: Location,
    /// `header_name`, lowercase.
    header: String,
    /// The SHA-256 of each key, in the order of `keys`.
    digests: Vec<[u8; 32]>,
    /// What the context gets for each key, in the same order.
    identities: Vec<Identity>,
}

impl std::fmt::Debug for Policy {
    /// Without the digests.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Policy")
            .field("location", &self.location)
            .field("header", &self.header)
            .field("identities", &self.identities)
            .finish_non_exhaustive()
    }
}

/// Who holds a key.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Identity {
    id: String,
    name: Option<String>,
    /// `scopes` joined by a space.
    scopes: String,
}

/// An RFC 9110 token (header name).
fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// A lowercase hex digit's value.
fn hex_digit(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        _ => None,
    }
}

/// 64 lowercase hex digits as 32 bytes.
fn parse_digest(hex: &str) -> Option<[u8; 32]> {
    if hex.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (byte, pair) in out.iter_mut().zip(hex.as_bytes().chunks_exact(2)) {
        *byte = (hex_digit(pair[0])? << 4) | hex_digit(pair[1])?;
    }
    Some(out)
}

/// Any hex digit's value, for percent-decoding.
fn any_hex_digit(b: u8) -> Option<u8> {
    hex_digit(b.to_ascii_lowercase())
}

/// Percent-decodes `s` (RFC 3986): `%XX` is the byte `XX`; a `%` without two hex digits
/// after it, and `+`, stay as they are.
fn percent_decode(s: &str) -> Vec<u8> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let decoded = match bytes.get(i..i + 3) {
            Some([b'%', hi, lo]) => any_hex_digit(*hi).zip(any_hex_digit(*lo)),
            _ => None,
        };
        match decoded {
            Some((hi, lo)) => {
                out.push((hi << 4) | lo);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    out
}

/// The percent-decoded value of the first parameter `name` of `query`.
fn query_value(query: &str, name: &str) -> Option<Vec<u8>> {
    query.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        (percent_decode(key) == name.as_bytes()).then(|| percent_decode(value))
    })
}

/// The digest of one configured key; errors name the entry, never a value.
fn key_digest(index: usize, entry: &KeyEntry) -> Result<[u8; 32], String> {
    let key = entry.key.as_str();
    let what = format!("keys[{index}] (id `{}`)", entry.id);
    if key.is_empty() {
        return Err(format!("{what}: the key is empty"));
    }
    if let Some(hex) = key.strip_prefix("sha256:") {
        return parse_digest(hex).ok_or_else(|| {
            format!(
                "{what}: a `sha256:` key must be followed by the key's SHA-256 in 64 lowercase \
                 hex digits"
            )
        });
    }
    if secrets::is_reference(key) {
        return match secrets::get(key) {
            Some(value) if !value.is_empty() => Ok(sha256(value.as_bytes())),
            Some(_) => Err(format!(
                "{what}: the secret reference `{key}` resolves to an empty value"
            )),
            None => Err(format!(
                "{what}: the secret reference `{key}` does not resolve"
            )),
        };
    }
    Ok(sha256(key.as_bytes()))
}

/// The refusal, the same whatever failed.
fn unauthorized() -> OutgoingResponse {
    OutgoingResponse::problem_with_detail(
        401,
        "unauthorized",
        "Authentication required",
        Some("The request needs a valid API key."),
    )
    .header("www-authenticate", CHALLENGE)
}

impl ApiKeyAuth {
    /// The key the request presents, if any.
    fn presented(&self, request: &Request) -> Option<Vec<u8>> {
        let value = match self.policy.location {
            Location::Header => request.header_bytes(&self.policy.header, 0),
            Location::Query => query_value(&request.query()?, &self.query_param),
        };
        value.filter(|v| !v.is_empty())
    }

    /// Whose key `presented` is: compared with every configured key, in constant time.
    fn identify(&self, presented: &[u8]) -> Option<&Identity> {
        let digest = sha256(presented);
        let mut found = Choice::from(0);
        let mut index = 0u64;
        for (i, stored) in self.policy.digests.iter().enumerate() {
            let same = digest.ct_eq(stored);
            found |= same;
            index.conditional_assign(&(i as u64), same);
        }
        if !bool::from(found) {
            return None;
        }
        usize::try_from(index)
            .ok()
            .and_then(|i| self.policy.identities.get(i))
    }
}

impl Middleware for ApiKeyAuth {
    fn init(&mut self) -> Result<(), String> {
        let location = match self.key_location.as_str() {
            "header" => Location::Header,
            "query" => Location::Query,
            other => {
                return Err(format!(
                    "key_location `{other}`: expected `header` or `query`"
                ));
            }
        };
        if !is_token(&self.header_name) {
            return Err(format!(
                "header_name `{}` is not a valid header name",
                self.header_name
            ));
        }
        if self.query_param.is_empty() {
            return Err("query_param is empty".into());
        }
        if self.keys.is_empty() {
            return Err("keys is empty: list at least one key".into());
        }
        let mut digests: Vec<[u8; 32]> = Vec::with_capacity(self.keys.len());
        let mut identities: Vec<Identity> = Vec::with_capacity(self.keys.len());
        for (index, entry) in self.keys.iter().enumerate() {
            if entry.id.is_empty() {
                return Err(format!("keys[{index}]: the id is empty"));
            }
            if let Some(first) = identities.iter().position(|i| i.id == entry.id) {
                return Err(format!(
                    "keys[{index}]: the id `{}` is already the id of keys[{first}]",
                    entry.id
                ));
            }
            if let Some(scope) = entry
                .scopes
                .iter()
                .find(|s| s.is_empty() || s.chars().any(char::is_whitespace))
            {
                return Err(format!(
                    "keys[{index}] (id `{}`): the scope `{scope}` is empty or contains whitespace",
                    entry.id
                ));
            }
            let digest = key_digest(index, entry)?;
            if let Some(first) = digests.iter().position(|d| *d == digest) {
                return Err(format!(
                    "keys[{index}] (id `{}`) is the same key as keys[{first}] (id `{}`)",
                    entry.id, identities[first].id
                ));
            }
            digests.push(digest);
            identities.push(Identity {
                id: entry.id.clone(),
                name: entry.name.clone(),
                scopes: entry.scopes.join(" "),
            });
        }
        self.policy = Policy {
            location,
            header: self.header_name.to_ascii_lowercase(),
            digests,
            identities,
        };
        Ok(())
    }

    fn on_request(&mut self, request: &mut Request) -> Action {
        let identity = self.presented(request).and_then(|key| self.identify(&key));
        let Some(identity) = identity else {
            return Action::Respond(unauthorized());
        };
        context::set("auth.sub", &identity.id);
        context::set("auth.consumer", &identity.id);
        if let Some(name) = &identity.name {
            context::set("auth.name", name);
        }
        context::set("auth.scopes", &identity.scopes);
        context::set("auth.method", "apikey");
        Action::Continue
    }
}

#[cfg(test)]
mod tests;
