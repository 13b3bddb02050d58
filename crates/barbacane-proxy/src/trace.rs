//! W3C Trace Context (`traceparent`, `tracestate`) at the front door.
//!
//! A request that carries a valid `traceparent` keeps it: it reaches middlewares and the
//! upstream unchanged, with its `tracestate`, and its trace id is the request's. A request
//! without one, or with one that does not parse (never a 400: Trace Context §3.2.2 says
//! to restart the trace), gets a new trace: a random trace id and parent id, flags
//! `01` (sampled, so that upstreams sampling by their parent, OpenTelemetry's default,
//! record it as they would have without the gateway), and its `tracestate` is dropped (it
//! belonged to the discarded parent).
//!
//! With an OTLP exporter (`--otlp-endpoint`) the gateway takes part in the trace: a request it
//! records goes upstream with the gateway's dispatch span as parent id (flags `01`), one it
//! samples out keeps the caller's `traceparent`, or starts a new trace flagged `00`.

use http::{HeaderMap, HeaderName, HeaderValue};

pub(crate) static TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");
pub(crate) static TRACESTATE: HeaderName = HeaderName::from_static("tracestate");

/// A request's trace: its id, and the `traceparent` it must be given when it came without a
/// valid one.
pub(crate) struct Trace {
    /// The trace id, 32 lowercase hex digits.
    pub(crate) id: [u8; 32],
    /// The parent id of a new `traceparent`, when the request's own is missing or invalid
    /// (the field is written only when the request goes on: `apply`, `begin`).
    new_parent: Option<u64>,
    /// The caller's span id and its sampled flag, when the request's `traceparent` is valid.
    remote: Option<(u64, bool)>,
    /// When the request arrived (the request span's start).
    arrived: std::time::Instant,
}

impl Trace {
    /// Decides whether the request is recorded (see `otel`), sets the `traceparent` the
    /// request goes on with, and returns the recorder when it is recorded. Without a tracer,
    /// a request that `stays` (for now: read by no plugin, going nowhere) is left as it is;
    /// the caller [`apply`]s the header if it later leaves.
    pub(crate) fn begin(
        &self,
        tracer: Option<&crate::otel::Tracer>,
        operation_ratio: Option<f64>,
        headers: &mut HeaderMap,
        stays: bool,
    ) -> crate::otel::span::Spans {
        use crate::otel::span::{Recorder, Spans};
        let Some(tracer) = tracer else {
            if !stays {
                apply(self, headers);
            }
            return Spans(None);
        };
        let id = self.id_bytes();
        let sampled = match self.remote {
            Some((_, sampled)) => sampled,
            None => crate::otel::sampled_at(&id, operation_ratio.unwrap_or(tracer.ratio())),
        };
        if !sampled {
            if let Some(parent) = self.new_parent {
                set_parent(headers, &self.id, parent, false);
                headers.remove(&TRACESTATE);
            }
            return Spans(None);
        }
        let tracestate = match self.remote {
            Some(_) => headers
                .get(&TRACESTATE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned(),
            None => {
                headers.remove(&TRACESTATE);
                String::new()
            }
        };
        let recorder = Recorder::new(id, self.remote.map_or(0, |r| r.0), tracestate, self.arrived);
        set_parent(headers, &self.id, recorder.dispatch, true);
        Spans(Some(Box::new(recorder)))
    }

    /// The trace id as 16 bytes.
    fn id_bytes(&self) -> [u8; 16] {
        let mut out = [0u8; 16];
        for (i, pair) in self.id.chunks(2).enumerate() {
            let hex = |c: u8| match c {
                b'0'..=b'9' => c - b'0',
                _ => c - b'a' + 10,
            };
            out[i] = hex(pair[0]) << 4 | hex(pair[1]);
        }
        out
    }
}

/// `traceparent: 00-<trace>-<parent>-<flags>`.
fn set_parent(headers: &mut HeaderMap, trace: &[u8; 32], parent: u64, sampled: bool) {
    // Fixed width (55 bytes), written in place: this runs for every proxied request.
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut value = [0u8; 55];
    value[..3].copy_from_slice(b"00-");
    value[3..35].copy_from_slice(trace);
    value[35] = b'-';
    for (i, digit) in value[36..52].iter_mut().enumerate() {
        *digit = HEX[((parent >> (60 - 4 * i)) & 0xf) as usize];
    }
    value[52..].copy_from_slice(if sampled { b"-01" } else { b"-00" });
    if let Ok(value) = HeaderValue::from_bytes(&value) {
        headers.insert(TRACEPARENT.clone(), value);
    }
}

/// The trace of a request with these headers (nothing changed yet: the request's limits are
/// checked on what the client sent).
pub(crate) fn resolve(headers: &HeaderMap, arrived: std::time::Instant) -> Trace {
    if let Some((id, parent, flags)) = valid_parent(headers) {
        return Trace {
            id,
            new_parent: None,
            remote: Some((parent, flags & 1 == 1)),
            arrived,
        };
    }
    let (trace, parent): (u128, u64) = loop {
        let (t, p) = (rand::random::<u128>(), rand::random::<u64>());
        if t != 0 && p != 0 {
            break (t, p);
        }
    };
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut id = [0u8; 32];
    for (i, digit) in id.iter_mut().enumerate() {
        *digit = HEX[((trace >> (124 - 4 * i)) & 0xf) as usize];
    }
    Trace {
        id,
        new_parent: Some(parent),
        remote: None,
        arrived,
    }
}

/// Gives the request its new `traceparent` (dropping the stale `tracestate`), if it needs one.
pub(crate) fn apply(trace: &Trace, headers: &mut HeaderMap) {
    if let Some(parent) = trace.new_parent {
        set_parent(headers, &trace.id, parent, true);
        headers.remove(&TRACESTATE);
    }
}

#[cfg(test)]
fn ensure(headers: &mut HeaderMap) -> [u8; 32] {
    let trace = resolve(headers, std::time::Instant::now());
    apply(&trace, headers);
    trace.id
}

/// The trace id, parent id and flags of a valid `traceparent` (exactly one field line).
fn valid_parent(headers: &HeaderMap) -> Option<([u8; 32], u64, u8)> {
    let mut values = headers.get_all(&TRACEPARENT).iter();
    let value = values.next()?;
    if values.next().is_some() {
        return None;
    }
    let b = value.as_bytes();
    let id = parse(b)?;
    let parent = u64::from_str_radix(std::str::from_utf8(&b[36..52]).ok()?, 16).ok()?;
    let flags = u8::from_str_radix(std::str::from_utf8(&b[53..55]).ok()?, 16).ok()?;
    Some((id, parent, flags))
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
    fn a_parent_is_written_in_the_w3c_form() {
        let trace = *b"4bf92f3577b34da6a3ce929d0e0e4736";
        let mut h = HeaderMap::new();
        set_parent(&mut h, &trace, 0x00f0_67aa_0ba9_02b7, true);
        assert_eq!(h[&TRACEPARENT], VALID);
        set_parent(&mut h, &trace, u64::MAX, false);
        assert_eq!(
            h[&TRACEPARENT],
            "00-4bf92f3577b34da6a3ce929d0e0e4736-ffffffffffffffff-00"
        );
        assert_eq!(h.get_all(&TRACEPARENT).iter().count(), 1);
    }

    #[test]
    fn without_a_tracer_only_a_request_that_leaves_gets_a_new_parent() {
        let mut h = headers(&["not a traceparent"]);
        let trace = resolve(&h, std::time::Instant::now());
        // Answered by the gateway, read by no plugin: nothing to tell anyone.
        assert!(trace.begin(None, None, &mut h, true).0.is_none());
        assert_eq!(h[&TRACEPARENT], "not a traceparent");
        assert_eq!(h[&TRACESTATE], "vendor=abc");
        // Going to an upstream or a plugin: the trace it belongs to, the stale state dropped.
        assert!(trace.begin(None, None, &mut h, false).0.is_none());
        assert_eq!(parse(h[&TRACEPARENT].as_bytes()), Some(trace.id));
        assert_eq!(h.get(&TRACESTATE), None);
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
