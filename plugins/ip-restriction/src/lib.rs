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
    allow: Vec<Block>,
    deny: Vec<Block>,
    proxies: Vec<Block>,
}

/// An address block: the family, the masked address as 128 bits (IPv4 in the low 32) and
/// the prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Block {
    v6: bool,
    network: u128,
    prefix: u8,
}

/// IPv4-mapped IPv6 addresses as IPv4.
fn unmap(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        IpAddr::V4(_) => ip,
    }
}

/// The family and the address as a number.
fn number(ip: IpAddr) -> (bool, u128) {
    match ip {
        IpAddr::V4(v4) => (false, u128::from(u32::from(v4))),
        IpAddr::V6(v6) => (true, u128::from(v6)),
    }
}

impl Block {
    /// `address`, `address/prefix`; `None` when it is neither.
    fn parse(entry: &str) -> Option<Block> {
        let (address, prefix) = match entry.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (entry, None),
        };
        let ip: IpAddr = address.parse().ok()?;
        let width: u8 = if ip.is_ipv4() { 32 } else { 128 };
        let mut prefix = match prefix {
            None => width,
            Some(p) if (1..=3).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit()) => {
                p.parse::<u8>().ok().filter(|p| *p <= width)?
            }
            Some(_) => return None,
        };
        let unmapped = unmap(ip);
        if unmapped != ip {
            // `::ffff:a.b.c.d/n`: the IPv4 block when the prefix keeps the mapping.
            if prefix < 96 {
                return Some(Block::new(ip, prefix));
            }
            prefix -= 96;
        }
        Some(Block::new(unmapped, prefix))
    }

    fn new(ip: IpAddr, prefix: u8) -> Block {
        let (v6, n) = number(ip);
        let width = if v6 { 128 } else { 32 };
        Block {
            v6,
            network: n & Block::mask(width, prefix),
            prefix,
        }
    }

    /// The `prefix` high bits of a `width`-bit number.
    fn mask(width: u8, prefix: u8) -> u128 {
        let ones = u128::MAX >> (128 - u32::from(width));
        let host = ones.checked_shr(u32::from(prefix)).unwrap_or(0);
        ones & !host
    }

    /// Whether `ip` (unmapped) is in the block.
    fn contains(&self, ip: IpAddr) -> bool {
        let (v6, n) = number(ip);
        let width = if v6 { 128 } else { 32 };
        v6 == self.v6 && n & Block::mask(width, self.prefix) == self.network
    }
}

fn in_any(blocks: &[Block], ip: IpAddr) -> bool {
    blocks.iter().any(|b| b.contains(ip))
}

/// An `X-Forwarded-For` entry: an address, optionally with a port (`a.b.c.d:port`,
/// `[v6]`, `[v6]:port`).
fn entry_address(entry: &str) -> Option<IpAddr> {
    if let Ok(ip) = entry.parse::<IpAddr>() {
        return Some(unmap(ip));
    }
    let port = |p: &str| (1..=5).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit());
    let ip = match entry.strip_prefix('[') {
        Some(rest) => {
            let (inside, after) = rest.split_once(']')?;
            let ok = after.is_empty() || after.strip_prefix(':').is_some_and(port);
            IpAddr::V6(ok.then(|| inside.parse().ok()).flatten()?)
        }
        None => {
            let (address, p) = entry.split_once(':')?;
            IpAddr::V4(port(p).then(|| address.parse().ok()).flatten()?)
        }
    };
    Some(unmap(ip))
}

/// Parses a list of the configuration; errors name the list and the entry.
fn parse_list(name: &str, entries: &[String]) -> Result<Vec<Block>, String> {
    entries
        .iter()
        .map(|entry| {
            Block::parse(entry).ok_or_else(|| {
                format!(
                    "{name}: `{entry}` is not an address or a CIDR (e.g. 10.0.0.0/8, \
                     192.168.1.7, 2001:db8::/32)"
                )
            })
        })
        .collect()
}

impl IpRestriction {
    /// The client's address: the peer, or what the trusted proxies in front of it saw.
    fn client(&self, request: &Request) -> Option<IpAddr> {
        let peer = unmap(request.client_ip()?.parse().ok()?);
        if !in_any(&self.policy.proxies, peer) {
            return Some(peer);
        }
        let lines = request.header_values("x-forwarded-for");
        let entries = lines
            .iter()
            .rev()
            .flat_map(|line| line.rsplit(','))
            .map(str::trim)
            .filter(|e| !e.is_empty());
        for entry in entries {
            match entry_address(entry) {
                Some(ip) if in_any(&self.policy.proxies, ip) => {}
                Some(ip) => return Some(ip),
                None => break,
            }
        }
        Some(peer)
    }

    /// Whether a request from `client` is refused.
    fn denied(&self, client: Option<IpAddr>) -> bool {
        let listed = |blocks: &[Block]| client.is_some_and(|ip| in_any(blocks, ip));
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
