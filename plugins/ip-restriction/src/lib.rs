//! `ip-restriction`: allows or denies requests by the client's address, against lists of
//! address blocks (CIDRs), IPv4 and IPv6.
//!
//! # Configuration
//!
//! | key | type | default | meaning |
//! |---|---|---|---|
//! | `allow` | array of CIDR strings | `[]` | when not empty, only clients in one of these blocks get through |
//! | `deny` | array of CIDR strings | `[]` | clients in one of these blocks are refused, even when `allow` lists them |
//! | `trusted_proxies` | array of CIDR strings | `[]` | proxies in front of the gateway whose `X-Forwarded-For` entries are believed |
//! | `message` | string | `"Access denied"` | the `detail` of the refusal |
//! | `status` | integer 400-599 | `403` | the status of the refusal |
//!
//! A CIDR is `a.b.c.d/n` or `x:y::/n`; a bare address is that address alone (`/32`,
//! `/128`). Bits past the prefix are ignored (`10.1.2.3/8` is `10.0.0.0/8`). IPv4-mapped
//! IPv6 blocks and addresses (`::ffff:10.0.0.0/104`, `::ffff:10.1.2.3`) are the IPv4 ones
//! they map, so a rule for `10.0.0.0/8` also applies to a client a dual-stack socket reports
//! as `::ffff:10.1.2.3`.
//!
//! The configuration is refused when an entry of `allow`, `deny` or `trusted_proxies` is not
//! an address or a CIDR (a prefix longer than the family's, a host name, surrounding
//! spaces), and when `status` is outside 400-599. With both lists empty every request gets
//! through.
//!
//! # Behaviour
//!
//! **Client address.** The connection's peer. When the peer is in `trusted_proxies`, the
//! `X-Forwarded-For` entries (every field line, comma-separated) are read from right to
//! left, skipping addresses in `trusted_proxies`; the first other address is the client.
//! Entries left of it are never read (a client can write anything there), and the header is
//! ignored altogether when the peer is not trusted. When every entry is trusted, there is
//! none, or the walk meets an entry that is not an address (`unknown`, a host name), the
//! peer is the client. Entries may carry a port (`203.0.113.7:4711`, `[2001:db8::1]:4711`).
//! A request whose peer the gateway does not know (never the case on a TCP connection)
//! has no address: it is in no block.
//!
//! **Decision**, in this order:
//!
//! 1. the client is in a `deny` block: refused;
//! 2. `allow` is not empty and the client is in none of its blocks: refused;
//! 3. otherwise the request goes on, unchanged.
//!
//! **Refused**: an RFC 9457 problem `urn:barbacane:error:ip-denied` with the configured
//! `status` and `message` as its `detail`. The answer is the same for every refusal: it
//! does not say which rule matched, nor which address the plugin saw.
//!
//! Capabilities: `request`, `response`.

use std::net::IpAddr;

use barbacane_client_ip::{Cidr, canonical, client_address};
use barbacane_plugin_sdk::prelude::*;
use serde::Deserialize;

/// The configuration of one use.
#[barbacane_middleware]
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IpRestriction {
    #[serde(default)]
    allow: Vec<String>,
    #[serde(default)]
    deny: Vec<String>,
    #[serde(default)]
    trusted_proxies: Vec<String>,
    #[serde(default = "default_message")]
    message: String,
    #[serde(default = "default_status")]
    status: u16,
    /// Computed by `init`.
    #[serde(skip)]
    policy: Policy,
}

fn default_message() -> String {
    "Access denied".into()
}

fn default_status() -> u16 {
    403
}

/// The address lists, parsed.
#[derive(Debug, Default)]
struct Policy {
    allow: Vec<Cidr>,
    deny: Vec<Cidr>,
    proxies: Vec<Cidr>,
}

fn in_any(blocks: &[Cidr], ip: IpAddr) -> bool {
    blocks.iter().any(|b| b.contains(ip))
}

/// Parses a list of the configuration; errors name the list and the entry.
fn parse_list(name: &str, entries: &[String]) -> Result<Vec<Cidr>, String> {
    entries
        .iter()
        .map(|entry| {
            Cidr::parse(entry).ok_or_else(|| {
                format!(
                    "{name}: `{entry}` is not an address or a CIDR (e.g. 10.0.0.0/8, \
                     192.168.1.7, 2001:db8::/32)"
                )
            })
        })
        .collect()
}

impl IpRestriction {
    /// The client's address: the peer, or what the trusted proxies in front of it saw (the
    /// walk `rate-limit` and the gateway share, in `barbacane-client-ip`).
    fn client(&self, request: &Request) -> Option<IpAddr> {
        let peer = canonical(request.client_ip()?.parse().ok()?);
        if !in_any(&self.policy.proxies, peer) {
            return Some(peer);
        }
        let lines = request.header_values("x-forwarded-for");
        Some(client_address(
            peer,
            &self.policy.proxies,
            lines.iter().map(String::as_str),
        ))
    }

    /// Whether a request from `client` is refused.
    fn denied(&self, client: Option<IpAddr>) -> bool {
        let listed = |blocks: &[Cidr]| client.is_some_and(|ip| in_any(blocks, ip));
        listed(&self.policy.deny) || (!self.policy.allow.is_empty() && !listed(&self.policy.allow))
    }
}

impl Middleware for IpRestriction {
    fn init(&mut self) -> Result<(), String> {
        if !(400..=599).contains(&self.status) {
            return Err(format!(
                "status {} is not an error status (400-599)",
                self.status
            ));
        }
        self.policy = Policy {
            allow: parse_list("allow", &self.allow)?,
            deny: parse_list("deny", &self.deny)?,
            proxies: parse_list("trusted_proxies", &self.trusted_proxies)?,
        };
        Ok(())
    }

    fn on_request(&mut self, request: &mut Request) -> Action {
        if !self.denied(self.client(request)) {
            return Action::Continue;
        }
        Action::Respond(OutgoingResponse::problem_with_detail(
            self.status,
            "ip-denied",
            "The client address is not allowed",
            Some(&self.message),
        ))
    }
}

#[cfg(test)]
mod tests;
