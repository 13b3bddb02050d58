//! Header rules for proxying (RFC 9110 section 7.6.1): hop-by-hop fields never cross, and
//! the `X-Forwarded-*` fields tell the upstream who asked.

use http::header::{CONNECTION, HOST};
use http::{HeaderMap, HeaderName, HeaderValue};
use std::net::IpAddr;

static X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
static X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
static X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");

/// Removes hop-by-hop fields: the fixed list and any named in `Connection`.
pub(crate) fn strip_hop_by_hop(headers: &mut HeaderMap) {
    // One pass over the names first (runs twice per proxied request): most messages carry
    // none, or only `Connection`, and a field named in `Connection` matters only with it.
    if !headers.keys().any(is_hop_by_hop) {
        return;
    }
    // Fields named in `Connection` go too. Its values are taken out first (moved, not
    // copied), and names are removed as text: no allocation on this per-request path.
    if headers.contains_key(CONNECTION)
        && let http::header::Entry::Occupied(connection) = headers.entry(CONNECTION)
    {
        let (_, values) = connection.remove_entry_mult();
        let values: smallvec::SmallVec<[HeaderValue; 2]> = values.collect();
        for value in &values {
            let Ok(value) = value.to_str() else { continue };
            for name in value.split(',').map(str::trim) {
                if !name.is_empty() && !is_hop_by_hop_name(name) {
                    headers.remove(name);
                }
            }
        }
    }
    for name in HOP_BY_HOP {
        headers.remove(name);
    }
}

/// The fixed hop-by-hop list (RFC 9110 section 7.6.1, plus `Keep-Alive` and
/// `Proxy-Connection`).
const HOP_BY_HOP: [&str; 7] = [
    "connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "keep-alive",
    "proxy-connection",
];

fn is_hop_by_hop(name: &HeaderName) -> bool {
    HOP_BY_HOP.contains(&name.as_str())
}

/// [`is_hop_by_hop`] for a name as written (any case).
fn is_hop_by_hop_name(name: &str) -> bool {
    HOP_BY_HOP.iter().any(|h| h.eq_ignore_ascii_case(name))
}

/// Prepares request headers for the upstream: hop-by-hop removed, `Host` left to the client
/// (it is derived from the upstream URL), `X-Forwarded-For` appended with the peer,
/// `X-Forwarded-Proto` and `X-Forwarded-Host` set.
pub(crate) fn forward_request(
    headers: &mut HeaderMap,
    peer: Option<IpAddr>,
    authority: Option<&str>,
) {
    strip_hop_by_hop(headers);
    let original_host = headers
        .remove(HOST)
        .or_else(|| authority.and_then(|a| HeaderValue::from_str(a).ok()));
    if let Some(peer) = peer {
        // Every incoming line is part of the chain (RFC 9110 list syntax): keep them all.
        // Built in one buffer, on the stack for the usual chain: this runs per request.
        let mut chain = smallvec::SmallVec::<[u8; 128]>::new();
        for line in headers.get_all(&X_FORWARDED_FOR) {
            if let Ok(line) = line.to_str() {
                let line = line.trim();
                if !line.is_empty() {
                    chain.extend_from_slice(line.as_bytes());
                    chain.extend_from_slice(b", ");
                }
            }
        }
        use std::io::Write as _;
        let _ = write!(chain, "{peer}");
        if let Ok(v) = HeaderValue::from_bytes(&chain) {
            headers.insert(X_FORWARDED_FOR.clone(), v);
        }
    }
    headers.insert(X_FORWARDED_PROTO.clone(), HeaderValue::from_static("http"));
    match original_host {
        Some(host) => {
            headers.insert(X_FORWARDED_HOST.clone(), host);
        }
        None => {
            headers.remove(&X_FORWARDED_HOST);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hop_by_hop_fields_and_connection_listed_ones_are_removed() {
        let mut h = HeaderMap::new();
        h.insert("connection", "keep-alive, x-secret-hop".parse().unwrap());
        h.insert("x-secret-hop", "1".parse().unwrap());
        h.insert("keep-alive", "timeout=5".parse().unwrap());
        h.insert("transfer-encoding", "chunked".parse().unwrap());
        h.insert("upgrade", "websocket".parse().unwrap());
        h.insert("x-kept", "1".parse().unwrap());
        strip_hop_by_hop(&mut h);
        assert_eq!(h.len(), 1);
        assert!(h.contains_key("x-kept"));

        // Names in any case, over several `Connection` lines.
        let mut h = HeaderMap::new();
        h.append("connection", "X-One".parse().unwrap());
        h.append("connection", "close , x-two,,Keep-Alive".parse().unwrap());
        h.insert("x-one", "1".parse().unwrap());
        h.insert("x-two", "2".parse().unwrap());
        h.insert("x-kept", "1".parse().unwrap());
        strip_hop_by_hop(&mut h);
        assert_eq!(h.keys().collect::<Vec<_>>(), ["x-kept"]);

        // Each fixed name alone is found by the first pass.
        for name in [
            "connection",
            "te",
            "trailer",
            "transfer-encoding",
            "upgrade",
            "keep-alive",
            "proxy-connection",
        ] {
            let mut h = HeaderMap::new();
            h.insert(HeaderName::from_static(name), "x".parse().unwrap());
            h.insert("x-kept", "1".parse().unwrap());
            strip_hop_by_hop(&mut h);
            assert_eq!(h.len(), 1, "{name}");
        }
    }

    #[test]
    fn forwarded_fields_are_set() {
        let mut h = HeaderMap::new();
        h.insert("host", "gw.example".parse().unwrap());
        h.insert("x-forwarded-for", "203.0.113.9".parse().unwrap());
        forward_request(&mut h, Some("10.0.0.1".parse().unwrap()), None);
        assert_eq!(h["x-forwarded-for"], "203.0.113.9, 10.0.0.1");
        assert_eq!(h["x-forwarded-host"], "gw.example");
        assert_eq!(h["x-forwarded-proto"], "http");
        assert!(!h.contains_key("host"));
    }

    #[test]
    fn long_chains_and_ipv6_peers_are_kept_whole() {
        let mut h = HeaderMap::new();
        let hops: Vec<String> = (0..40).map(|i| format!("198.51.100.{i}")).collect();
        h.append("x-forwarded-for", hops[..20].join(", ").parse().unwrap());
        h.append("x-forwarded-for", " ".parse().unwrap());
        h.append("x-forwarded-for", hops[20..].join(",").parse().unwrap());
        let peer: IpAddr = "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255"
            .parse()
            .unwrap();
        forward_request(&mut h, Some(peer), None);
        let expected = format!(
            "{}, {}, {peer}",
            hops[..20].join(", "),
            hops[20..].join(",")
        );
        assert_eq!(h["x-forwarded-for"], expected.as_str());
        assert_eq!(h.get_all("x-forwarded-for").iter().count(), 1);

        let mut alone = HeaderMap::new();
        forward_request(&mut alone, Some(peer), None);
        assert_eq!(alone["x-forwarded-for"], peer.to_string().as_str());
    }
}
