//! The control plane's request and compile metrics, added to `GET /metrics`
//! (`drift::metrics` renders the rest): requests by method, route template and status
//! class, and compile durations by result, as Prometheus summaries (`_sum` and `_count`,
//! no quantiles: rates of both give the mean, and the control plane's traffic does not need
//! buckets). Process-wide: one control plane process serves one listener.

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// (method, route template, status class) -> (count, seconds).
type Requests = BTreeMap<(String, String, u16), (u64, f64)>;

static REQUESTS: Mutex<Requests> = Mutex::new(BTreeMap::new());
/// Compile outcomes: succeeded, failed -> (count, seconds).
static COMPILES: Mutex<[(u64, f64); 2]> = Mutex::new([(0, 0.0); 2]);

/// Axum middleware (a route layer, so the matched template is known): counts the request.
pub async fn track(request: Request, next: Next) -> Response {
    let method = request.method().as_str().to_owned();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "(unmatched)".to_owned(), |p| p.as_str().to_owned());
    let started = Instant::now();
    let response = next.run(request).await;
    let class = (response.status().as_u16() / 100).clamp(1, 5);
    let mut requests = REQUESTS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let entry = requests.entry((method, route, class)).or_default();
    entry.0 += 1;
    entry.1 += started.elapsed().as_secs_f64();
    response
}

/// Counts one finished compilation.
pub fn compile_finished(succeeded: bool, took: Duration) {
    let mut compiles = COMPILES
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let slot = &mut compiles[usize::from(!succeeded)];
    slot.0 += 1;
    slot.1 += took.as_secs_f64();
}

/// Appends the request and compile families.
pub fn render(out: &mut String) {
    let _ = writeln!(
        out,
        "# HELP barbacane_control_http_request_duration_seconds API requests answered, by method, route template and status class.\n# TYPE barbacane_control_http_request_duration_seconds summary"
    );
    let requests = REQUESTS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    for ((method, route, class), (n, secs)) in requests.iter() {
        let labels = format!(
            "method=\"{method}\",route=\"{}\",status=\"{class}xx\"",
            route.replace('\\', "\\\\").replace('"', "\\\"")
        );
        let _ = writeln!(
            out,
            "barbacane_control_http_request_duration_seconds_sum{{{labels}}} {secs}\nbarbacane_control_http_request_duration_seconds_count{{{labels}}} {n}"
        );
    }
    drop(requests);
    let _ = writeln!(
        out,
        "# HELP barbacane_control_compile_duration_seconds Compilations run by this process, by result.\n# TYPE barbacane_control_compile_duration_seconds summary"
    );
    let compiles = *COMPILES
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    for (result, (n, secs)) in ["succeeded", "failed"].iter().zip(compiles) {
        let _ = writeln!(
            out,
            "barbacane_control_compile_duration_seconds_sum{{result=\"{result}\"}} {secs}\nbarbacane_control_compile_duration_seconds_count{{result=\"{result}\"}} {n}"
        );
    }
}
