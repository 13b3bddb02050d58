//! `observability`: a latency objective, a latency histogram and detailed logs for the
//! operations it is attached to, recorded as the plugin's own metrics through the
//! `telemetry` capability (`barbacane_plugin_observability_...` on `/_admin/metrics`).
//!
//! Keys are the reference implementation's (`latency_slo_ms`, `detailed_request_logs`,
//! `detailed_response_logs`, `emit_latency_histogram`) plus `metric_label`. The duration is
//! measured from this middleware's `on_request` to its `on_response` (put it first in the
//! chain to cover the others). Labels are bounded: the method, the status class and the
//! optional fixed `metric_label`; never the path. The gateway's own
//! `x-barbacane-observability.latency_slo_ms` and `barbacane_request_duration_seconds`
//! already do this per route without a plugin; this plugin is for specs written for the
//! reference implementation and for a chain-level measurement.

use barbacane_plugin_sdk::prelude::*;
use barbacane_plugin_sdk::{clock, log, telemetry};
use serde::Deserialize;

/// The configuration of one use.
#[barbacane_middleware]
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Observability {
    #[serde(default)]
    latency_slo_ms: Option<u64>,
    #[serde(default)]
    detailed_request_logs: bool,
    #[serde(default)]
    detailed_response_logs: bool,
    #[serde(default)]
    emit_latency_histogram: bool,
    #[serde(default)]
    metric_label: Option<String>,
    /// `on_request`'s clock reading and the method, for `on_response`.
    #[serde(skip)]
    current: Option<(i64, String)>,
}

impl Middleware for Observability {
    fn init(&mut self) -> Result<(), String> {
        if self.latency_slo_ms == Some(0) {
            return Err("latency_slo_ms must be at least 1".into());
        }
        if let Some(label) = &self.metric_label {
            let ok = (1..=64).contains(&label.len())
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"_./{}-".contains(&b));
            if !ok {
                return Err(format!(
                    "metric_label `{label}` must be 1-64 of A-Z a-z 0-9 _ . / {{ }} -"
                ));
            }
        }
        Ok(())
    }

    fn on_request(&mut self, request: &mut Request) -> Action {
        let method = request.method();
        if self.detailed_request_logs {
            let size = request
                .header("content-length")
                .unwrap_or_else(|| "-".into());
            log::info(&format!(
                "request method={method} path={} headers={} body_bytes={size}",
                request.path().escape_debug(),
                request.header_names().len(),
            ));
        }
        self.current = Some((clock::monotonic_ns(), method));
        Action::Continue
    }

    fn on_response(&mut self, response: &mut Response) {
        let Some((started, method)) = self.current.take() else {
            return;
        };
        let seconds = clock::monotonic_ns().saturating_sub(started).max(0) as f64 / 1e9;
        let status = response.status();
        let class = match status / 100 {
            1 => "1xx",
            2 => "2xx",
            3 => "3xx",
            4 => "4xx",
            _ => "5xx",
        };
        let mut labels: Vec<(&str, &str)> = vec![("method", method.as_str())];
        if let Some(label) = &self.metric_label {
            labels.push(("use", label));
        }
        if self.emit_latency_histogram {
            let mut with_status = labels.clone();
            with_status.push(("status", class));
            telemetry::histogram_observe("request_duration_seconds", &with_status, seconds);
        }
        if let Some(slo) = self.latency_slo_ms
            && seconds * 1000.0 > slo as f64
        {
            telemetry::counter_inc("slo_violation_total", &labels, 1);
            log::warn(&format!(
                "latency objective missed: {:.1} ms > {slo} ms (method={method} status={status})",
                seconds * 1000.0
            ));
        }
        if self.detailed_response_logs {
            let size = response
                .header("content-length")
                .or_else(|| response.body().map(|b| b.len().to_string()))
                .unwrap_or_else(|| "-".into());
            log::info(&format!(
                "response status={status} headers={} body_bytes={size} duration_ms={:.3}",
                response.header_names().len(),
                seconds * 1000.0
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use barbacane_plugin_sdk::testing::{FakeHost, middleware_from};
    use serde_json::json;

    fn serve(host: &mut FakeHost, plugin: &mut Observability, status: u16, took_ms: i64) {
        host.method("POST")
            .path("/pay")
            .header("content-length", "5");
        assert_eq!(host.on_request(plugin), Action::Continue);
        host.advance_ms(took_ms);
        host.response(status, &[], b"ok");
        host.on_response(plugin);
    }

    #[test]
    fn slow_responses_count_against_the_objective() {
        let mut plugin: Observability = middleware_from(&json!({
            "latency_slo_ms": 200,
            "emit_latency_histogram": true,
            "metric_label": "payments"
        }))
        .unwrap();
        let mut host = FakeHost::new();
        serve(&mut host, &mut plugin, 201, 50);
        serve(&mut host, &mut plugin, 503, 450);
        assert_eq!(
            host.counters(),
            vec![(
                "slo_violation_total".to_owned(),
                "method=POST\nuse=payments".to_owned(),
                1
            )]
        );
        let observed = host.histograms();
        assert_eq!(observed.len(), 2);
        assert_eq!(observed[0].1, "method=POST\nuse=payments\nstatus=2xx");
        assert_eq!(observed[1].1, "method=POST\nuse=payments\nstatus=5xx");
        assert!((observed[1].2 - 0.45).abs() < 1e-9, "{observed:?}");
        assert!(
            host.logs()
                .iter()
                .any(|(level, m)| *level == 1 && m.contains("450.0 ms > 200 ms"))
        );
    }

    #[test]
    fn detailed_logs_describe_without_values() {
        let mut plugin: Observability = middleware_from(&json!({
            "detailed_request_logs": true,
            "detailed_response_logs": true
        }))
        .unwrap();
        let mut host = FakeHost::new();
        host.query("token=secret");
        serve(&mut host, &mut plugin, 200, 3);
        let logs = host.logs();
        assert!(
            logs[0]
                .1
                .starts_with("request method=POST path=/pay headers=1 body_bytes=5"),
            "{logs:?}"
        );
        assert!(
            logs[1]
                .1
                .starts_with("response status=200 headers=0 body_bytes=2 duration_ms=3.000"),
            "{logs:?}"
        );
        assert!(logs.iter().all(|(_, m)| !m.contains("secret")));
        assert!(host.counters().is_empty() && host.histograms().is_empty());
    }

    #[test]
    fn bad_configurations_are_refused() {
        for config in [
            json!({"latency_slo_ms": 0}),
            json!({"metric_label": "has space"}),
            json!({"unknown": true}),
        ] {
            assert!(
                middleware_from::<Observability>(&config).is_err(),
                "{config}"
            );
        }
    }
}
