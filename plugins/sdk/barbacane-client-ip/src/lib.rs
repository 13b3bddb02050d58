//! Who the client of a request is when proxies stand in front of the gateway: address blocks
//! (`10.0.0.0/8`, `fd00::/8`, a bare address) and the right-to-left walk of
//! `X-Forwarded-For` that believes only the proxies an operator trusts.
//!
//! One implementation for everything that partitions or filters by client address: the
//! `rate-limit` and `ip-restriction` plugins (compiled to WASM) and the gateway, which applies a rate-limit
//! plugin's declared policy itself (`barbacane:ratelimit.host_policy`) and must count every
//! request against the same client the plugin would. No dependencies, so it costs the
//! plugins nothing to share.

use std::net::IpAddr;

/// An address block. Addresses are kept as 128 bits, IPv4 in the top 32, so both families
/// mask the same way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    v4: bool,
    bits: u128,
    prefix: u32,
}

fn ip_bits(ip: IpAddr) -> (bool, u128) {
    match ip {
        IpAddr::V4(v4) => (true, u128::from(u32::from(v4)) << 96),
        IpAddr::V6(v6) => (false, u128::from(v6)),
    }
}

fn mask(prefix: u32) -> u128 {
    u128::MAX.checked_shl(128 - prefix).unwrap_or(0)
}

impl Cidr {
    /// `a.b.c.d/n`, `x:y::/n`, or a bare address (that address alone). An IPv4-mapped IPv6
    /// block (`::ffff:10.0.0.0/104`) is read as the IPv4 block it maps. Host bits are
    /// ignored. No spaces, no signs, at most three prefix digits.
    pub fn parse(entry: &str) -> Option<Cidr> {
        let (addr, prefix) = match entry.split_once('/') {
            Some((addr, prefix)) => (addr, Some(prefix)),
            None => (entry, None),
        };
        let addr: IpAddr = addr.parse().ok()?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) if !p.is_empty() && p.len() <= 3 && p.bytes().all(|b| b.is_ascii_digit()) => {
                p.parse::<u32>().ok().filter(|p| *p <= max)?
            }
            Some(_) => return None,
        };
        let (addr, prefix) = match addr {
            IpAddr::V6(v6) if prefix >= 96 => match v6.to_ipv4_mapped() {
                Some(v4) => (IpAddr::V4(v4), prefix - 96),
                None => (addr, prefix),
            },
            _ => (addr, prefix),
        };
        let (v4, bits) = ip_bits(addr);
        Some(Cidr {
            v4,
            bits: bits & mask(prefix),
            prefix,
        })
    }

    /// Whether `ip` ([`canonical`]) is in the block.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let (v4, bits) = ip_bits(ip);
        v4 == self.v4 && bits & mask(self.prefix) == self.bits
    }
}

/// IPv4-mapped IPv6 addresses (as dual-stack sockets report IPv4 peers) as IPv4.
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    }
}

/// An `X-Forwarded-For` entry: an address, optionally with a port (`a.b.c.d:port`,
/// `[v6]`, `[v6]:port`), [`canonical`].
pub fn forwarded_ip(entry: &str) -> Option<IpAddr> {
    if let Ok(ip) = entry.parse::<IpAddr>() {
        return Some(canonical(ip));
    }
    let is_port = |p: &str| !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit());
    let ip = if let Some(rest) = entry.strip_prefix('[') {
        let (inside, after) = rest.split_once(']')?;
        if !(after.is_empty() || after.strip_prefix(':').is_some_and(is_port)) {
            return None;
        }
        IpAddr::V6(inside.parse().ok()?)
    } else {
        let (addr, port) = entry.split_once(':')?;
        if !is_port(port) {
            return None;
        }
        IpAddr::V4(addr.parse().ok()?)
    };
    Some(canonical(ip))
}

/// The client's address: `peer` itself unless it is one of `proxies`; then the
/// `X-Forwarded-For` entries (`forwarded`: the field lines in request order, each
/// comma-separated) walked from right to left, skipping trusted addresses: the first other
/// address is the client. Entries the proxies did not add (left of the first untrusted
/// address) are never read, so a client cannot choose its address; when every entry is
/// trusted, or the walk meets an entry that is not an address (`unknown`, a host name), the
/// peer is the client.
pub fn client_address<'a, I>(peer: IpAddr, proxies: &[Cidr], forwarded: I) -> IpAddr
where
    I: IntoIterator<Item = &'a str>,
    I::IntoIter: DoubleEndedIterator,
{
    let peer = canonical(peer);
    let trusted = |ip: IpAddr| proxies.iter().any(|c| c.contains(ip));
    if !trusted(peer) {
        return peer;
    }
    let entries = forwarded
        .into_iter()
        .rev()
        .flat_map(|v| v.rsplit(','))
        .map(str::trim)
        .filter(|e| !e.is_empty());
    for entry in entries {
        match forwarded_ip(entry) {
            Some(ip) if trusted(ip) => continue,
            Some(ip) => return ip,
            None => break,
        }
    }
    peer
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        canonical(s.parse().unwrap())
    }

    fn cidr(s: &str) -> Cidr {
        Cidr::parse(s).unwrap()
    }

    #[test]
    fn cidrs_match_their_family_and_prefix() {
        assert!(cidr("10.0.0.0/8").contains(ip("10.255.0.1")));
        assert!(!cidr("10.0.0.0/8").contains(ip("11.0.0.1")));
        // Host bits are ignored.
        assert_eq!(cidr("10.1.2.3/8"), cidr("10.0.0.0/8"));
        assert!(cidr("0.0.0.0/0").contains(ip("203.0.113.1")));
        assert!(!cidr("0.0.0.0/0").contains(ip("2001:db8::1")));
        assert!(cidr("::/0").contains(ip("2001:db8::1")));
        assert!(!cidr("::/0").contains(ip("203.0.113.1")));
        assert!(cidr("192.0.2.10").contains(ip("192.0.2.10")));
        assert!(!cidr("192.0.2.10").contains(ip("192.0.2.11")));
        assert!(cidr("2001:db8::/32").contains(ip("2001:db8:ffff::1")));
        assert!(!cidr("2001:db8::/32").contains(ip("2001:db9::1")));
        assert!(cidr("fd00::1/128").contains(ip("fd00::1")));
        // IPv4-mapped blocks and addresses are IPv4.
        assert_eq!(cidr("::ffff:10.0.0.0/104"), cidr("10.0.0.0/8"));
        assert!(cidr("10.0.0.0/8").contains(ip("::ffff:10.9.9.9")));
        assert_eq!(cidr("::ffff:10.1.2.3"), cidr("10.1.2.3"));
        assert_eq!(cidr("::ffff:0.0.0.0/96"), cidr("0.0.0.0/0"));
        // A shorter prefix over the mapped range stays IPv6.
        assert!(!cidr("::ffff:0.0.0.0/80").contains(ip("10.0.0.1")));
        assert!(cidr("::ffff:0.0.0.0/80").contains("::ffff:0:1".parse().unwrap()));
        assert!(cidr("192.0.2.128/25").contains(ip("192.0.2.255")));
        assert!(!cidr("192.0.2.128/25").contains(ip("192.0.2.127")));
        assert!(cidr("fd00::/127").contains(ip("fd00::1")));
        assert!(!cidr("fd00::1/128").contains(ip("fd00::2")));
        assert_eq!(cidr("2001:db8::1/32"), cidr("2001:db8::/32"));
    }

    #[test]
    fn malformed_blocks_are_refused() {
        for bad in [
            "10.0.0.0/",
            "10.0.0.0/+8",
            "10.0.0/8",
            "10.0.0.0/33",
            "::/129",
            " 10.0.0.1",
            "proxy.internal",
            "10.0.0.0/0008",
        ] {
            assert_eq!(Cidr::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn forwarded_entries_may_carry_ports() {
        assert_eq!(forwarded_ip("203.0.113.7:4711"), Some(ip("203.0.113.7")));
        assert_eq!(forwarded_ip("[2001:db8::1]:4711"), Some(ip("2001:db8::1")));
        assert_eq!(forwarded_ip("[2001:db8::1]"), Some(ip("2001:db8::1")));
        assert_eq!(forwarded_ip("::ffff:192.0.2.1"), Some(ip("192.0.2.1")));
        for bad in [
            "unknown",
            "[2001:db8::1]x",
            "203.0.113.7:",
            "203.0.113.7:123456",
            "h:1",
        ] {
            assert_eq!(forwarded_ip(bad), None, "{bad}");
        }
    }

    #[test]
    fn only_trusted_proxies_are_believed_right_to_left() {
        let proxies = [cidr("10.0.0.0/8")];
        let walk =
            |peer: &str, lines: &[&str]| client_address(ip(peer), &proxies, lines.iter().copied());
        // An untrusted peer is the client, whatever it sends.
        assert_eq!(walk("198.51.100.1", &["203.0.113.9"]), ip("198.51.100.1"));
        // A trusted peer: the rightmost untrusted entry, across field lines.
        assert_eq!(
            walk("10.0.0.1", &["1.1.1.1, 203.0.113.9", "10.0.0.2 ,10.0.0.3"]),
            ip("203.0.113.9")
        );
        // Everything trusted, or a non-address met first: the peer.
        assert_eq!(walk("10.0.0.1", &["10.0.0.2"]), ip("10.0.0.1"));
        assert_eq!(walk("10.0.0.1", &["203.0.113.9, unknown"]), ip("10.0.0.1"));
        assert_eq!(walk("10.0.0.1", &[]), ip("10.0.0.1"));
        // Mapped peers are IPv4.
        assert_eq!(
            walk("::ffff:10.0.0.1", &["203.0.113.9:80"]),
            ip("203.0.113.9")
        );
    }
}
