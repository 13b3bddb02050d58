//! `x-barbacane-observability` on the root of a spec (defaults) or on an operation (its
//! keys win, key by key):
//!
//! ```yaml
//! x-barbacane-observability:
//!   trace_sampling: 0.1            # share of new traces recorded (0.0 to 1.0)
//!   latency_slo_ms: 200            # slower responses count in barbacane_slo_violation_total
//!   detailed_validation_logs: true # log each validation error of a refused request
//! ```
//!
//! `latency_slo` is accepted too, as milliseconds or a duration string (`"250ms"`, `"2s"`).
//! Problems are E1050 at the offending key.

use barbacane_artifact::Observability;
use barbacane_spec::{Code, Diagnostic, Extension};
use serde_json::Value;

/// The operation's settings: the root's, overridden by the operation's keys.
pub(crate) fn observability(
    root: Option<&Extension>,
    operation: Option<&Extension>,
    diags: &mut Vec<Diagnostic>,
) -> Observability {
    let mut out = Observability::default();
    for ext in [root, operation].into_iter().flatten() {
        apply(ext, &mut out, diags);
    }
    out
}

fn apply(ext: &Extension, out: &mut Observability, diags: &mut Vec<Diagnostic>) {
    let mut error = |pointer: String, message: String, hint: &str| {
        // The root's problems are reported once, not once per operation.
        if !diags
            .iter()
            .any(|d| d.code == Code::E1050 && d.file == ext.file && d.json_pointer == pointer)
        {
            diags.push(Diagnostic::error(
                Code::E1050,
                &ext.file,
                pointer,
                message,
                hint,
            ));
        }
    };
    let Some(map) = ext.value.as_object() else {
        error(
            ext.pointer.clone(),
            "`x-barbacane-observability` must be a mapping".into(),
            "write e.g. `x-barbacane-observability: {trace_sampling: 0.1, latency_slo_ms: 200}`",
        );
        return;
    };
    for (key, value) in map {
        let at = format!(
            "{}/{}",
            ext.pointer,
            key.replace('~', "~0").replace('/', "~1")
        );
        match key.as_str() {
            "trace_sampling" => match value.as_f64() {
                Some(r) if (0.0..=1.0).contains(&r) => out.trace_sampling = Some(r),
                _ => error(
                    at,
                    format!("`trace_sampling` must be a number from 0.0 to 1.0, not {value}"),
                    "0.0 records no new trace of this operation, 1.0 records all",
                ),
            },
            "latency_slo_ms" | "latency_slo" => match slo_millis(value) {
                Some(ms) => out.latency_slo_ms = Some(ms),
                None => error(
                    at,
                    format!("`{key}` must be a positive number of milliseconds, not {value}"),
                    "write e.g. `latency_slo_ms: 200` or `latency_slo: 250ms`",
                ),
            },
            "detailed_validation_logs" => match value {
                Value::Bool(b) => out.detailed_validation_logs = *b,
                _ => error(
                    at,
                    format!("`detailed_validation_logs` must be true or false, not {value}"),
                    "write `detailed_validation_logs: true`",
                ),
            },
            other => error(
                at,
                format!("unknown `x-barbacane-observability` key `{other}`"),
                "known keys: trace_sampling, latency_slo_ms (or latency_slo), detailed_validation_logs",
            ),
        }
    }
}

/// Milliseconds from a positive integer, or a string `<n>ms` / `<n>s`.
fn slo_millis(value: &Value) -> Option<u64> {
    match value {
        Value::Number(n) => n.as_u64().filter(|&ms| ms > 0),
        Value::String(s) => {
            let s = s.trim();
            let (digits, scale) = match s.strip_suffix("ms") {
                Some(d) => (d, 1),
                None => (s.strip_suffix('s')?, 1000),
            };
            digits
                .trim()
                .parse::<u64>()
                .ok()
                .and_then(|n| n.checked_mul(scale))
                .filter(|&ms| ms > 0)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ext(value: Value, pointer: &str) -> Extension {
        Extension {
            file: "api.yaml".into(),
            pointer: pointer.into(),
            value,
        }
    }

    #[test]
    fn operation_keys_win_over_the_root_key_by_key() {
        let root = ext(
            json!({"trace_sampling": 0.1, "latency_slo_ms": 200}),
            "/x-barbacane-observability",
        );
        let op = ext(
            json!({"trace_sampling": 1.0, "detailed_validation_logs": true}),
            "/paths/~1a/get/x-barbacane-observability",
        );
        let mut diags = Vec::new();
        let o = observability(Some(&root), Some(&op), &mut diags);
        assert!(diags.is_empty(), "{diags:?}");
        assert_eq!(o.trace_sampling, Some(1.0));
        assert_eq!(o.latency_slo_ms, Some(200));
        assert!(o.detailed_validation_logs);
        let o = observability(
            None,
            Some(&ext(json!({"latency_slo": "2s"}), "/p")),
            &mut diags,
        );
        assert_eq!(o.latency_slo_ms, Some(2000));
        assert!(observability(None, None, &mut diags).is_default());
    }

    #[test]
    fn bad_values_are_e1050_at_their_key() {
        for (value, pointer) in [
            (json!(true), "/x"),
            (json!({"trace_sampling": 1.5}), "/x/trace_sampling"),
            (json!({"trace_sampling": "all"}), "/x/trace_sampling"),
            (json!({"latency_slo_ms": 0}), "/x/latency_slo_ms"),
            (json!({"latency_slo": "soon"}), "/x/latency_slo"),
            (
                json!({"detailed_validation_logs": "yes"}),
                "/x/detailed_validation_logs",
            ),
            (json!({"sampling": 0.5}), "/x/sampling"),
        ] {
            let mut diags = Vec::new();
            observability(Some(&ext(value.clone(), "/x")), None, &mut diags);
            assert_eq!(diags.len(), 1, "{value}: {diags:?}");
            assert_eq!(diags[0].code, Code::E1050);
            assert_eq!(diags[0].json_pointer, pointer, "{value}");
        }
    }
}
