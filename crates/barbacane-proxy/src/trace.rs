//! W3C Trace Context (`traceparent`, `tracestate`) at the front door.
//!
//! A request that carries a valid `traceparent` keeps it: it reaches middlewares and the
//! upstream unchanged, with its `tracestate`, and its trace id is the request's. A request
//! without one, or with one that does not parse (never a 400: Trace Context §3.2.2 says
//! to restart the trace), gets a new trace: a random trace id and parent id, flags
//! `01` (sampled, so that upstreams sampling by their parent, OpenTelemetry's default,
//! record it as they would have without the gateway), and its `tracestate` is dropped (it
//! belonged to the discarded parent). The gateway exports no spans of its own yet, so it
//! never replaces a valid parent id with one nobody will see.

use http::{HeaderMap, HeaderName, HeaderValue};

pub(crate) static TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");
pub(crate) static TRACESTATE: HeaderName = HeaderName::from_static("tracestate");

/// A request's trace: its id, and the `traceparent` it must be given when it came without a
/// valid one.
pub(crate) struct Trace {
    /// The trace id, 32 lowercase hex digits.
    pub(crate) id: [u8; 32],
    /// A new `traceparent`, when the request's own is missing or invalid.
    new_parent: Option<HeaderValue>,
}

/// The trace of a request with these headers (nothing changed yet: the request's limits are
/// checked on what the client sent).
pub(crate) fn resolve(headers: &HeaderMap) -> Trace {
    if let Some(id) = valid_trace_id(headers) {
        return Trace {
            id,
            new_parent: None,
        };
    }
    let (trace, parent): (u128, u64) = loop {
        let (t, p) = (rand::random::<u128>(), rand::random::<u64>());
        if t != 0 && p != 0 {
            break (t, p);
        }
    };
    let value = format!("00-{trace:032x}-{parent:016x}-01");
    let mut id = [0u8; 32];
    id.copy_from_slice(&value.as_bytes()[3..35]);
    Trace {
        id,
        new_parent: HeaderValue::from_str(&value).ok(),
    }
}

/// Gives the request its new `traceparent` (dropping the stale `tracestate`), if it needs one.
pub(crate) fn apply(trace: &Trace, headers: &mut HeaderMap) {
    if let Some(parent) = &trace.new_parent {
        headers.insert(TRACEPARENT.clone(), parent.clone());
        headers.remove(&TRACESTATE);
    }
}

#[cfg(test)]
fn ensure(headers: &mut HeaderMap) -> [u8; 32] {
    let trace = resolve(headers);
    apply(&trace, headers);
    trace.id
}

/// The trace id of a valid `traceparent` (exactly one field line).
fn valid_trace_id(headers: &HeaderMap) -> Option<[u8; 32]> {
    let mut values = headers.get_all(&TRACEPARENT).iter();
    let value = values.next()?;
    if values.next().is_some() {
        return None;
    }
    parse(value.as_bytes())
}

/// `version "-" trace-id "-" parent-id "-" trace-flags`, lowercase hex. Version `ff` is
/// invalid; version `00` is exactly 55 bytes; a later version may append `-...` fields,
/// which are ignored (§3.2.4).
fn parse(b: &[u8]) -> Option<[u8; 32]> {
    if b.len() < 55 || b[2] != b'-' || b[35] != b'-' || b[52] != b'-' {
        return None;
    }
    let hex = |s: &[u8]| s.iter().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f'));
    let (version, trace, parent, flags) = (&b[0..2], &b[3..35], &b[36..52], &b[53..55]);
    if !hex(version) || version == b"ff" || !hex(trace) || !hex(parent) || !hex(flags) {
        return None;
    }
    if trace.iter().all(|&c| c == b'0') || parent.iter().all(|&c| c == b'0') {
        return None;
    }
    if (version == b"00" && b.len() != 55) || (b.len() > 55 && b[55] != b'-') {
        return None;
    }
    let mut id = [0u8; 32];
    id.copy_from_slice(trace);
    Some(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    const VALID: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    fn headers(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(TRACEPARENT.clone(), HeaderValue::from_str(v).unwrap());
        }
        h.insert(TRACESTATE.clone(), HeaderValue::from_static("vendor=abc"));
        h
    }

    #[test]
    fn a_valid_parent_is_kept_with_its_state() {
        let mut h = headers(&[VALID]);
        assert_eq!(&ensure(&mut h), b"4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(h[&TRACEPARENT], VALID);
        assert_eq!(h[&TRACESTATE], "vendor=abc");
        // A future version with extra fields is read by its known prefix.
        let future = format!("01{}-extra", &VALID[2..]);
        assert!(parse(future.as_bytes()).is_some());
    }

    #[test]
    fn anything_else_starts_a_new_sampled_trace_and_drops_the_state() {
        for bad in [
            "",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "00_4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7_01",
            "00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01",
        ] {
            let mut h = headers(&[bad]);
            let id = ensure(&mut h);
            let new = h[&TRACEPARENT].to_str().unwrap().to_owned();
            assert_ne!(new, bad);
            assert_eq!(parse(new.as_bytes()), Some(id), "{bad:?} -> {new}");
            assert!(new.starts_with("00-") && new.ends_with("-01"), "{new}");
            assert!(h.get(&TRACESTATE).is_none(), "{bad:?}");
        }
        // Two field lines are not one valid traceparent.
        let mut h = headers(&[VALID, VALID]);
        ensure(&mut h);
        assert_eq!(h.get_all(&TRACEPARENT).iter().count(), 1);
        assert_ne!(h[&TRACEPARENT], VALID);
        // Absent: a new one.
        let mut h = HeaderMap::new();
        let a = ensure(&mut h);
        let mut h2 = HeaderMap::new();
        assert_ne!(a, ensure(&mut h2), "trace ids are random");
    }
}
