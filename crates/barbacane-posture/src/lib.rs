//! The posture of every admin surface (data-plane admin listener, control-plane API):
//!
//! - a non-loopback bind is refused unless a token is configured ([`check_bind`]);
//! - tokens come from environment variables, never from files in the repository
//!   ([`TokenSource`]); a primary token plus comma-separated secondary tokens are all accepted,
//!   so a rotation needs no downtime, and they can be re-read at any time;
//! - an optional CIDR allowlist ([`Allowlist`]) checks the socket's peer address (never a
//!   client-supplied header);
//! - when both are configured, both must pass ([`Posture::authorize`]);
//! - bearer tokens are compared in constant time (SHA-256 digests compared with `subtle`, so
//!   neither the content nor the length of a configured token leaks through timing);
//! - TLS listeners share one set of settings ([`tls::server_config`]).
#![deny(missing_docs)]
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod tls;

use ipnet::IpNet;
use sha2::{Digest, Sha256};
use std::net::{IpAddr, SocketAddr};
use subtle::ConstantTimeEq;

/// Default environment variable of the data plane's primary admin token.
pub const DEFAULT_TOKEN_ENV: &str = "BARBACANE_ADMIN_TOKEN";
/// Default environment variable of the data plane's secondary (rotation) tokens.
pub const DEFAULT_SECONDARY_ENV: &str = "BARBACANE_ADMIN_TOKENS_SECONDARY";

/// Where tokens are read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenSource {
    /// Variable holding the primary token.
    pub primary_env: String,
    /// Variable holding secondary tokens, comma-separated.
    pub secondary_env: String,
}

impl TokenSource {
    /// Reads the variables now. Empty values and surrounding whitespace are ignored.
    pub fn load(&self) -> Tokens {
        let mut digests = Vec::new();
        let mut add = |t: &str| {
            let t = t.trim();
            if !t.is_empty() {
                digests.push(digest(t.as_bytes()));
            }
        };
        if let Ok(primary) = std::env::var(&self.primary_env) {
            add(&primary);
        }
        if let Ok(secondary) = std::env::var(&self.secondary_env) {
            secondary.split(',').for_each(&mut add);
        }
        Tokens { digests }
    }
}

/// The accepted tokens, held only as SHA-256 digests.
#[derive(Clone, Default)]
pub struct Tokens {
    digests: Vec<[u8; 32]>,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Tokens({} configured)", self.digests.len())
    }
}

impl Tokens {
    /// Tokens from literal values (tests, or callers with their own source).
    pub fn from_values<'a>(values: impl IntoIterator<Item = &'a str>) -> Tokens {
        Tokens {
            digests: values
                .into_iter()
                .filter(|v| !v.is_empty())
                .map(|v| digest(v.as_bytes()))
                .collect(),
        }
    }

    /// Whether any token is configured.
    pub fn is_configured(&self) -> bool {
        !self.digests.is_empty()
    }

    /// Number of accepted tokens.
    pub fn len(&self) -> usize {
        self.digests.len()
    }

    /// Whether no token is configured.
    pub fn is_empty(&self) -> bool {
        self.digests.is_empty()
    }

    /// Constant-time check of a presented token against every configured one (no early exit).
    pub fn accepts(&self, presented: &[u8]) -> bool {
        let presented = digest(presented);
        self.digests
            .iter()
            .fold(subtle::Choice::from(0), |found, d| {
                found | d.ct_eq(&presented)
            })
            .into()
    }
}

impl Tokens {
    /// Constant-time check of a token known only by its SHA-256 digest (a web session
    /// remembers the digest of the token it was opened with, so rotating that token out
    /// ends the session).
    pub fn accepts_digest(&self, presented: &[u8; 32]) -> bool {
        self.digests
            .iter()
            .fold(subtle::Choice::from(0), |found, d| {
                found | d.ct_eq(presented)
            })
            .into()
    }
}

fn digest(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// A CIDR allowlist of peer addresses. Empty means "any address".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Allowlist {
    nets: Vec<IpNet>,
}

/// A CIDR that does not parse.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("`{0}` is not a CIDR (e.g. 10.0.0.0/8, 192.168.1.7, fd00::/8)")]
pub struct InvalidCidr(pub String);

impl Allowlist {
    /// Parses CIDRs; a bare address means that single address.
    pub fn parse<'a>(entries: impl IntoIterator<Item = &'a str>) -> Result<Allowlist, InvalidCidr> {
        let mut nets = Vec::new();
        for entry in entries {
            let e = entry.trim();
            let net = e
                .parse::<IpNet>()
                .or_else(|_| e.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| InvalidCidr(entry.to_owned()))?;
            nets.push(net);
        }
        Ok(Allowlist { nets })
    }

    /// Whether an allowlist is configured.
    pub fn is_configured(&self) -> bool {
        !self.nets.is_empty()
    }

    /// Whether `peer` is allowed (always, when no list is configured). IPv4-mapped IPv6
    /// peers (`::ffff:a.b.c.d`, as a dual-stack socket reports them) are checked as IPv4.
    pub fn allows(&self, peer: IpAddr) -> bool {
        if self.nets.is_empty() {
            return true;
        }
        let peer = canonical(peer);
        self.nets.iter().any(|n| n.contains(&peer))
    }
}

fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    }
}

/// The outcome of an authorization check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Go ahead.
    Allow,
    /// 401: no or wrong bearer token (answer with `WWW-Authenticate: Bearer`).
    Unauthorized,
    /// 403: the peer address is not in the allowlist.
    Forbidden,
}

/// Tokens and allowlist together.
#[derive(Debug, Clone, Default)]
pub struct Posture {
    /// Accepted tokens (none: token check off, only allowed on loopback binds).
    pub tokens: Tokens,
    /// Allowed peers (empty: any).
    pub allowlist: Allowlist,
}

impl Posture {
    /// Checks a request: the allowlist on the socket peer first, then the bearer token from
    /// the raw `Authorization` header value. Both must pass when both are configured.
    pub fn authorize(&self, peer: IpAddr, authorization: Option<&[u8]>) -> Decision {
        if !self.allowlist.allows(peer) {
            return Decision::Forbidden;
        }
        if !self.tokens.is_configured() {
            return Decision::Allow;
        }
        match authorization.and_then(bearer) {
            Some(token) if self.tokens.accepts(token) => Decision::Allow,
            _ => Decision::Unauthorized,
        }
    }
}

/// The token of an `Authorization: Bearer <token>` value (scheme case-insensitive).
fn bearer(value: &[u8]) -> Option<&[u8]> {
    let (scheme, rest) = value.split_at_checked(6)?;
    if !scheme.eq_ignore_ascii_case(b"bearer") || rest.first() != Some(&b' ') {
        return None;
    }
    let token = rest.get(1..)?.trim_ascii();
    (!token.is_empty()).then_some(token)
}

/// A bind refused by posture.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error(
    "refusing to bind an admin API to non-loopback address {addr} without a token: \
     set {env} (or bind to 127.0.0.1)"
)]
pub struct BindRefused {
    /// The address.
    pub addr: SocketAddr,
    /// The variable that would hold the token.
    pub env: String,
}

/// Refuses a non-loopback bind when no token is configured.
pub fn check_bind(addr: SocketAddr, tokens: &Tokens, token_env: &str) -> Result<(), BindRefused> {
    if canonical(addr.ip()).is_loopback() || tokens.is_configured() {
        Ok(())
    } else {
        Err(BindRefused {
            addr,
            env: token_env.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests;
