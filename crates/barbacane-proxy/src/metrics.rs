//! The gateway's Prometheus metrics (`GET /_admin/metrics`). Recording is lock-free: each
//! route of a snapshot owns its counters (relaxed atomic adds on the request path, two per
//! request plus one clock read), gateway-wide counters live in [`GatewayMetrics`]; rendering
//! walks them at scrape time. Labels are bounded by the artifact: the method and the route
//! template (never the raw path), the status class, the artifact's hashes. Route counters
//! start from zero with each loaded artifact (`barbacane_artifact_info` says which).
//!
//! Rendered by hand in the text exposition format 0.0.4: a handful of families does not
//! justify a registry dependency on the request path.

use std::fmt::Write;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

use barbacane_wasm::stats::Histogram;

/// Upper bounds (seconds) of the request duration histogram.
pub const BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

/// The counters of one route (or of the requests that matched none).
#[derive(Debug)]
pub struct RouteMetrics {
    method: String,
    route: String,
    /// Responses by status class: 1xx..5xx.
    status: [AtomicU64; 5],
    /// Non-cumulative bucket counts; the last slot is +Inf.
    buckets: [AtomicU64; BUCKETS.len() + 1],
    sum_nanos: AtomicU64,
    /// Requests refused by the spec's validation (400, 415).
    validation_failures: AtomicU64,
    /// The operation is `deprecated: true`: its requests are also reported as
    /// `barbacane_deprecated_route_requests_total` (the same counts, no extra atomic).
    deprecated: bool,
    /// `x-barbacane-observability.latency_slo_ms`: slower responses are counted.
    slo: Option<Duration>,
    slo_violations: AtomicU64,
    /// `x-barbacane-observability.detailed_validation_logs`.
    detailed_validation_logs: bool,
    /// Time from handing the request to the dispatcher to its response head.
    dispatch: Histogram,
    /// Dispatches that failed (upstream unreachable, timed out, breaker open, plugin
    /// failure), answered with a gateway error.
    dispatch_errors: AtomicU64,
    /// Request bodies with a known length, in bytes.
    request_size: Histogram,
    /// Response bodies with a known length, in bytes.
    response_size: Histogram,
}

/// Upper bounds (bytes) of the size histograms.
pub const SIZE_BUCKETS: [f64; 8] = [
    100.0,
    1_000.0,
    10_000.0,
    100_000.0,
    1_000_000.0,
    10_000_000.0,
    100_000_000.0,
    1e9,
];

impl RouteMetrics {
    /// Marks the route as deprecated (see `barbacane_deprecated_route_requests_total`).
    pub fn deprecated(mut self, deprecated: bool) -> RouteMetrics {
        self.deprecated = deprecated;
        self
    }

    /// Counts responses slower than `slo` (`barbacane_slo_violation_total`).
    pub fn slo(mut self, slo: Option<Duration>) -> RouteMetrics {
        self.slo = slo;
        self
    }

    /// Logs each validation error of a refused request at `info`.
    pub fn detailed_validation_logs(mut self, on: bool) -> RouteMetrics {
        self.detailed_validation_logs = on;
        self
    }

    /// Whether refused requests log each validation error at `info`.
    pub fn logs_validation_details(&self) -> bool {
        self.detailed_validation_logs
    }

    /// The method.
    pub fn method(&self) -> &str {
        &self.method
    }

    /// The route template.
    pub fn route(&self) -> &str {
        &self.route
    }

    /// Counts a request the validator refused.
    pub fn validation_failed(&self) {
        self.validation_failures.fetch_add(1, Ordering::Relaxed);
    }

    /// Counters for `method` `route` (a template).
    pub fn new(method: &str, route: &str) -> RouteMetrics {
        RouteMetrics {
            method: method.to_owned(),
            route: route.to_owned(),
            status: Default::default(),
            buckets: Default::default(),
            sum_nanos: AtomicU64::new(0),
            validation_failures: AtomicU64::new(0),
            deprecated: false,
            slo: None,
            slo_violations: AtomicU64::new(0),
            detailed_validation_logs: false,
            dispatch: Histogram::new(&BUCKETS),
            dispatch_errors: AtomicU64::new(0),
            request_size: Histogram::new(&SIZE_BUCKETS),
            response_size: Histogram::new(&SIZE_BUCKETS),
        }
    }

    /// Records one dispatch: how long until the response head, and whether it failed.
    pub fn record_dispatch(&self, elapsed: Duration, failed: bool) {
        self.dispatch.observe_duration(elapsed);
        if failed {
            self.dispatch_errors.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Records the body sizes that are known (`Content-Length`, or a response body of exact
    /// length).
    pub fn record_sizes(&self, request: Option<u64>, response: Option<u64>) {
        if let Some(n) = request {
            self.request_size.observe(n as f64);
        }
        if let Some(n) = response {
            self.response_size.observe(n as f64);
        }
    }

    /// Records one response.
    pub fn record(&self, status: u16, elapsed: Duration) {
        let class = usize::from(status / 100).clamp(1, 5) - 1;
        self.status[class].fetch_add(1, Ordering::Relaxed);
        let seconds = elapsed.as_secs_f64();
        let bucket = BUCKETS
            .iter()
            .position(|b| seconds <= *b)
            .unwrap_or(BUCKETS.len());
        self.buckets[bucket].fetch_add(1, Ordering::Relaxed);
        self.sum_nanos.fetch_add(
            u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
        if self.slo.is_some_and(|slo| elapsed > slo) {
            self.slo_violations.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Counters of the whole gateway (they survive reloads).
#[derive(Debug)]
pub struct GatewayMetrics {
    /// Open traffic connections.
    pub active_connections: AtomicI64,
    /// The most connections open at once since the memory trimmer last looked (not
    /// exported).
    pub connections_high: AtomicI64,
    /// Traffic connections accepted.
    pub connections_total: AtomicU64,
    /// Reloads by result: applied, rejected.
    pub reloads: [AtomicU64; 2],
    /// Requests no route matched (404, 405, bad paths, limits before routing).
    pub unmatched: RouteMetrics,
}

impl Default for GatewayMetrics {
    fn default() -> Self {
        GatewayMetrics {
            active_connections: AtomicI64::new(0),
            connections_high: AtomicI64::new(0),
            connections_total: AtomicU64::new(0),
            reloads: Default::default(),
            unmatched: RouteMetrics::new("", "(unmatched)"),
        }
    }
}

/// What a scrape shows about the loaded artifact.
#[derive(Debug)]
pub struct ArtifactLabels<'a> {
    /// Its `artifact_hash`.
    pub artifact_hash: &'a str,
    /// Its `content_hash`.
    pub content_hash: &'a str,
}

/// The exposition: gateway counters, the artifact's info, and every route's counters.
pub fn render<'r>(
    gateway: &'r GatewayMetrics,
    artifact: &ArtifactLabels<'_>,
    routes: impl Iterator<Item = &'r RouteMetrics> + Clone,
) -> String {
    let mut out = String::new();
    family(
        &mut out,
        "barbacane_requests_total",
        "Requests answered, by route and status class.",
        "counter",
    );
    let all = || routes.clone().chain(std::iter::once(&gateway.unmatched));
    for r in all() {
        for (i, n) in r.status.iter().enumerate() {
            let n = n.load(Ordering::Relaxed);
            if n > 0 {
                let _ = writeln!(
                    out,
                    "barbacane_requests_total{{method=\"{}\",route=\"{}\",status=\"{}xx\"}} {n}",
                    escape(&r.method),
                    escape(&r.route),
                    i + 1
                );
            }
        }
    }
    family(
        &mut out,
        "barbacane_request_duration_seconds",
        "Time from the request head to the response head, by route.",
        "histogram",
    );
    for r in all() {
        let labels = format!(
            "method=\"{}\",route=\"{}\"",
            escape(&r.method),
            escape(&r.route)
        );
        let mut cumulative = 0;
        for (i, b) in r.buckets.iter().enumerate() {
            cumulative += b.load(Ordering::Relaxed);
            let le = BUCKETS.get(i).map_or("+Inf".to_owned(), |b| b.to_string());
            let _ = writeln!(
                out,
                "barbacane_request_duration_seconds_bucket{{{labels},le=\"{le}\"}} {cumulative}"
            );
        }
        let sum = r.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9;
        let _ = writeln!(
            out,
            "barbacane_request_duration_seconds_sum{{{labels}}} {sum}"
        );
        let _ = writeln!(
            out,
            "barbacane_request_duration_seconds_count{{{labels}}} {cumulative}"
        );
    }
    family(
        &mut out,
        "barbacane_validation_failures_total",
        "Requests the spec's validation refused, by route.",
        "counter",
    );
    for r in routes.clone() {
        let n = r.validation_failures.load(Ordering::Relaxed);
        if n > 0 {
            let _ = writeln!(
                out,
                "barbacane_validation_failures_total{{method=\"{}\",route=\"{}\"}} {n}",
                escape(&r.method),
                escape(&r.route)
            );
        }
    }
    render_route_histograms(&mut out, routes.clone());
    render_plugins(&mut out);
    family(
        &mut out,
        "barbacane_deprecated_route_requests_total",
        "Requests answered by deprecated operations (deprecated: true), by route.",
        "counter",
    );
    for r in routes.clone().filter(|r| r.deprecated) {
        let n: u64 = r.status.iter().map(|n| n.load(Ordering::Relaxed)).sum();
        let _ = writeln!(
            out,
            "barbacane_deprecated_route_requests_total{{method=\"{}\",route=\"{}\"}} {n}",
            escape(&r.method),
            escape(&r.route)
        );
    }
    family(
        &mut out,
        "barbacane_slo_violation_total",
        "Responses slower than the operation's x-barbacane-observability latency_slo_ms, by route.",
        "counter",
    );
    for r in routes.clone() {
        if let Some(slo) = r.slo {
            let _ = writeln!(
                out,
                "barbacane_slo_violation_total{{method=\"{}\",route=\"{}\",slo_ms=\"{}\"}} {}",
                escape(&r.method),
                escape(&r.route),
                slo.as_millis(),
                r.slo_violations.load(Ordering::Relaxed)
            );
        }
    }
    family(
        &mut out,
        "barbacane_active_connections",
        "Open traffic connections.",
        "gauge",
    );
    let _ = writeln!(
        out,
        "barbacane_active_connections {}",
        gateway.active_connections.load(Ordering::Relaxed).max(0)
    );
    family(
        &mut out,
        "barbacane_connections_total",
        "Traffic connections accepted.",
        "counter",
    );
    let _ = writeln!(
        out,
        "barbacane_connections_total {}",
        gateway.connections_total.load(Ordering::Relaxed)
    );
    family(
        &mut out,
        "barbacane_reloads_total",
        "Artifact reloads, by result.",
        "counter",
    );
    for (result, n) in ["applied", "rejected"].iter().zip(&gateway.reloads) {
        let _ = writeln!(
            out,
            "barbacane_reloads_total{{result=\"{result}\"}} {}",
            n.load(Ordering::Relaxed)
        );
    }
    let streams = crate::dispatch::stream::stats();
    family(
        &mut out,
        "barbacane_event_stream_subscribers",
        "Server-Sent Events streams open now (AsyncAPI receive operations).",
        "gauge",
    );
    let _ = writeln!(
        out,
        "barbacane_event_stream_subscribers {}",
        streams.subscribers.load(Ordering::Relaxed)
    );
    family(
        &mut out,
        "barbacane_event_stream_messages_total",
        "Broker messages on event streams, by outcome (invalid: matched no message schema, skipped).",
        "counter",
    );
    for (outcome, n) in [
        ("forwarded", &streams.forwarded),
        ("invalid", &streams.invalid),
    ] {
        let _ = writeln!(
            out,
            "barbacane_event_stream_messages_total{{outcome=\"{outcome}\"}} {}",
            n.load(Ordering::Relaxed)
        );
    }
    family(
        &mut out,
        "barbacane_event_stream_slow_disconnects_total",
        "Event streams ended because the client read slower than messages arrived.",
        "counter",
    );
    let _ = writeln!(
        out,
        "barbacane_event_stream_slow_disconnects_total {}",
        streams.lagged.load(Ordering::Relaxed)
    );
    let background = barbacane_wasm::background::stats();
    family(
        &mut out,
        "barbacane_background_deliveries_total",
        "Requests fire-and-forget delivered in the background, by outcome (dropped: the queue was full).",
        "counter",
    );
    for (outcome, n) in [
        ("delivered", background.delivered),
        ("failed", background.failed),
        ("dropped", background.dropped),
    ] {
        let _ = writeln!(
            out,
            "barbacane_background_deliveries_total{{outcome=\"{outcome}\"}} {n}"
        );
    }
    family(
        &mut out,
        "barbacane_artifact_info",
        "The artifact being served.",
        "gauge",
    );
    let _ = writeln!(
        out,
        "barbacane_artifact_info{{artifact_hash=\"{}\",content_hash=\"{}\"}} 1",
        escape(artifact.artifact_hash),
        escape(artifact.content_hash)
    );
    out
}

/// Dispatch times, dispatch errors and body sizes of the routes that served requests (a
/// route never called adds no lines: big specs would otherwise scrape thousands of empty
/// histograms).
fn render_route_histograms<'r>(
    out: &mut String,
    routes: impl Iterator<Item = &'r RouteMetrics> + Clone,
) {
    let served = || {
        routes.clone().filter(|r| {
            r.dispatch.count() > 0 || r.request_size.count() > 0 || r.response_size.count() > 0
        })
    };
    let labels = |r: &RouteMetrics| {
        format!(
            "method=\"{}\",route=\"{}\"",
            escape(&r.method),
            escape(&r.route)
        )
    };
    family(
        out,
        "barbacane_dispatch_duration_seconds",
        "Time from dispatch to the response head, by route.",
        "histogram",
    );
    for r in served().filter(|r| r.dispatch.count() > 0) {
        r.dispatch
            .render(out, "barbacane_dispatch_duration_seconds", &labels(r));
    }
    family(
        out,
        "barbacane_dispatch_errors_total",
        "Dispatches that failed (upstream unreachable or timed out, circuit open, plugin failure), by route.",
        "counter",
    );
    for r in served() {
        let n = r.dispatch_errors.load(Ordering::Relaxed);
        if n > 0 {
            let _ = writeln!(out, "barbacane_dispatch_errors_total{{{}}} {n}", labels(r));
        }
    }
    family(
        out,
        "barbacane_request_size_bytes",
        "Request bodies of known length, by route.",
        "histogram",
    );
    for r in served().filter(|r| r.request_size.count() > 0) {
        r.request_size
            .render(out, "barbacane_request_size_bytes", &labels(r));
    }
    family(
        out,
        "barbacane_response_size_bytes",
        "Response bodies of known length, by route.",
        "histogram",
    );
    for r in served().filter(|r| r.response_size.count() > 0) {
        r.response_size
            .render(out, "barbacane_response_size_bytes", &labels(r));
    }
}

/// Per-plugin families: guest execution time, traps and timeouts, middleware time, short
/// circuits, and each plugin's own metrics (`barbacane_plugin_<name>_<metric>`).
fn render_plugins(out: &mut String) {
    let plugins = barbacane_wasm::stats::all();
    let hooks = barbacane_wasm::stats::HOOKS;
    family(
        out,
        "barbacane_wasm_execution_duration_seconds",
        "Time in a plugin's guest code, by plugin and hook.",
        "histogram",
    );
    for p in &plugins {
        for (i, h) in p.execution.iter().enumerate() {
            if h.count() > 0 {
                h.render(
                    out,
                    "barbacane_wasm_execution_duration_seconds",
                    &format!("plugin=\"{}\",hook=\"{}\"", escape(&p.name), hooks[i]),
                );
            }
        }
    }
    family(
        out,
        "barbacane_wasm_traps_total",
        "Plugin calls that trapped or ran out of time (kind), by plugin and hook.",
        "counter",
    );
    for p in &plugins {
        for (i, hook) in hooks.iter().enumerate() {
            for (kind, n) in [("trap", &p.traps[i]), ("timeout", &p.timeouts[i])] {
                let n = n.load(Ordering::Relaxed);
                if n > 0 {
                    let _ = writeln!(
                        out,
                        "barbacane_wasm_traps_total{{plugin=\"{}\",hook=\"{hook}\",kind=\"{kind}\"}} {n}",
                        escape(&p.name)
                    );
                }
            }
        }
    }
    family(
        out,
        "barbacane_middleware_duration_seconds",
        "Time a middleware took (instance checkout and its hook), by middleware and phase.",
        "histogram",
    );
    for p in &plugins {
        for (phase, h) in ["request", "response"].iter().zip(&p.middleware) {
            if h.count() > 0 {
                h.render(
                    out,
                    "barbacane_middleware_duration_seconds",
                    &format!("middleware=\"{}\",phase=\"{phase}\"", escape(&p.name)),
                );
            }
        }
    }
    family(
        out,
        "barbacane_middleware_short_circuits_total",
        "Requests a middleware answered itself in on_request, by middleware.",
        "counter",
    );
    for p in &plugins {
        let n = p.short_circuits.get();
        if n > 0 || p.middleware[0].count() > 0 {
            let _ = writeln!(
                out,
                "barbacane_middleware_short_circuits_total{{middleware=\"{}\"}} {n}",
                escape(&p.name)
            );
        }
    }
    for p in &plugins {
        render_custom(out, p);
    }
}

/// A plugin's own metrics, each prefixed `barbacane_plugin_<plugin>_` (the plugin name's
/// `-` become `_`).
fn render_custom(out: &mut String, p: &barbacane_wasm::stats::PluginStats) {
    let custom = p
        .custom
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let prefix = format!("barbacane_plugin_{}_", p.name.replace(['-', '.'], "_"));
    for (name, sets) in &custom.counters {
        let full = format!("{prefix}{name}");
        family(
            out,
            &full,
            &format!("Counter `{name}` of plugin {}.", p.name),
            "counter",
        );
        for (labels, n) in sets {
            let braces = if labels.is_empty() {
                String::new()
            } else {
                format!("{{{labels}}}")
            };
            let _ = writeln!(out, "{full}{braces} {n}");
        }
    }
    for (name, sets) in &custom.histograms {
        let full = format!("{prefix}{name}");
        family(
            out,
            &full,
            &format!("Histogram `{name}` of plugin {}.", p.name),
            "histogram",
        );
        for (labels, h) in sets {
            h.render(out, &full, labels);
        }
    }
}

/// The span exporter's counters (only with `--otlp-endpoint`).
pub fn render_spans(out: &mut String, stats: &crate::otel::ExportStats) {
    family(
        out,
        "barbacane_trace_spans_total",
        "Spans recorded for export, by outcome (dropped: the export queue was full; failed: the collector refused or did not answer).",
        "counter",
    );
    for (outcome, n) in [
        ("exported", &stats.exported),
        ("dropped", &stats.dropped),
        ("failed", &stats.failed),
    ] {
        let _ = writeln!(
            out,
            "barbacane_trace_spans_total{{outcome=\"{outcome}\"}} {}",
            n.load(Ordering::Relaxed)
        );
    }
}

/// The content type of the Prometheus text format.
pub const PROMETHEUS_TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";
/// The content type of OpenMetrics 1.0 text.
pub const OPENMETRICS_TEXT: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Whether an `Accept` value asks for OpenMetrics (as Prometheus does when it prefers it).
pub fn wants_openmetrics(accept: Option<&str>) -> bool {
    accept.is_some_and(|a| {
        a.split(',').any(|range| {
            let mut params = range.split(';').map(str::trim);
            let media = params.next().unwrap_or_default();
            let refused = params.any(|p| p.replace(' ', "") == "q=0");
            media.eq_ignore_ascii_case("application/openmetrics-text") && !refused
        })
    })
}

/// The exposition of [`render`] as OpenMetrics 1.0 text: a counter family is named without
/// its `_total` suffix in `# HELP`/`# TYPE` (its samples keep it), and the text ends with
/// `# EOF`. Everything else (gauges, histograms, label syntax) is the same in both formats.
pub fn to_openmetrics(text: &str) -> String {
    let counters: std::collections::HashSet<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.strip_suffix(" counter"))
        .collect();
    let mut out = String::with_capacity(text.len() + 8);
    for line in text.lines() {
        let meta = ["# HELP ", "# TYPE "]
            .into_iter()
            .find_map(|p| Some((p, line.strip_prefix(p)?)));
        match meta {
            Some((prefix, rest)) => {
                let (name, tail) = rest.split_once(' ').unwrap_or((rest, ""));
                let name = match name.strip_suffix("_total") {
                    Some(family) if counters.contains(name) => family,
                    _ => name,
                };
                let _ = writeln!(out, "{prefix}{name} {tail}");
            }
            None => {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    out.push_str("# EOF\n");
    out
}

fn family(out: &mut String, name: &str, help: &str, kind: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

/// A label value, escaped as the text format requires.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openmetrics_names_counter_families_without_total_and_ends_with_eof() {
        let text = "# HELP barbacane_requests_total Requests.\n# TYPE barbacane_requests_total counter\nbarbacane_requests_total{route=\"/a\"} 3\n# HELP barbacane_active_connections Open.\n# TYPE barbacane_active_connections gauge\nbarbacane_active_connections 1\n";
        assert_eq!(
            to_openmetrics(text),
            "# HELP barbacane_requests Requests.\n# TYPE barbacane_requests counter\nbarbacane_requests_total{route=\"/a\"} 3\n# HELP barbacane_active_connections Open.\n# TYPE barbacane_active_connections gauge\nbarbacane_active_connections 1\n# EOF\n"
        );
        assert!(wants_openmetrics(Some(
            "application/openmetrics-text;version=1.0.0;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
        )));
        assert!(!wants_openmetrics(Some("text/plain")));
        assert!(!wants_openmetrics(Some(
            "application/openmetrics-text; q=0"
        )));
        assert!(!wants_openmetrics(None));
    }

    #[test]
    fn records_by_class_and_bucket() {
        let r = RouteMetrics::new("GET", "/pets/{id}");
        r.record(200, Duration::from_micros(300));
        r.record(404, Duration::from_millis(30));
        r.record(503, Duration::from_secs(9));
        let g = GatewayMetrics::default();
        let text = render(
            &g,
            &ArtifactLabels {
                artifact_hash: "sha256:a",
                content_hash: "sha256:c",
            },
            std::iter::once(&r),
        );
        assert!(
            text.contains(
                "barbacane_requests_total{method=\"GET\",route=\"/pets/{id}\",status=\"2xx\"} 1"
            ),
            "{text}"
        );
        assert!(text.contains("status=\"4xx\"} 1") && text.contains("status=\"5xx\"} 1"));
        assert!(
            text.contains("route=\"/pets/{id}\",le=\"0.0005\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("route=\"/pets/{id}\",le=\"0.05\"} 2"),
            "{text}"
        );
        assert!(
            text.contains("route=\"/pets/{id}\",le=\"+Inf\"} 3"),
            "{text}"
        );
        assert!(text.contains(
            "barbacane_request_duration_seconds_count{method=\"GET\",route=\"/pets/{id}\"} 3"
        ));
        assert!(text.contains(
            "barbacane_artifact_info{artifact_hash=\"sha256:a\",content_hash=\"sha256:c\"} 1"
        ));
    }
}
