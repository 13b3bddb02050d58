//! OpenTelemetry traces: which requests are recorded (sampling), their spans, and their
//! export over OTLP (HTTP/protobuf or gRPC) from a thread of its own.
//!
//! Written by hand on purpose: the OpenTelemetry SDK routes every span through `tracing`
//! layers, dynamic dispatch and a shared processor, which costs microseconds per request even
//! when the span is sampled out. Here a request that is not sampled costs one comparison; one
//! that is sampled collects a handful of plain structs and hands them over with one
//! `try_send`.
//!
//! Sampling is parent-based: a request whose `traceparent` says "sampled" is recorded, one
//! that says "not sampled" is not, and a request that starts a new trace is recorded with the
//! operation's `x-barbacane-observability.trace_sampling` ratio, else `--trace-sampling`. The
//! ratio is applied to the trace id (the low 8 bytes, as OpenTelemetry's `TraceIdRatioBased`
//! does), so gateways sharing a ratio agree on a trace.

mod export;
pub mod proto;
pub(crate) mod span;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{SyncSender, TrySendError};
use std::time::Duration;

pub use export::ExportStats;
pub use span::{AttrValue, FinishedTrace, Kind, SpanData};

/// The wire protocol to the collector.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OtlpProtocol {
    /// `http/protobuf`: `POST <endpoint>/v1/traces` (port 4318 by convention).
    HttpProtobuf,
    /// `grpc`: `TraceService/Export` over HTTP/2 (port 4317 by convention).
    Grpc,
}

impl std::str::FromStr for OtlpProtocol {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "http/protobuf" | "http" => Ok(OtlpProtocol::HttpProtobuf),
            "grpc" => Ok(OtlpProtocol::Grpc),
            other => Err(format!(
                "unknown OTLP protocol `{other}` (use `http/protobuf` or `grpc`)"
            )),
        }
    }
}

/// Where and how spans are exported.
#[derive(Debug, Clone)]
pub struct OtlpConfig {
    /// The collector's base URL as given (`http://collector:4318`).
    pub endpoint: String,
    /// The URL requests go to (the base URL plus the signal's path).
    url: String,
    /// The protocol.
    pub protocol: OtlpProtocol,
    /// Extra request headers (`--otlp-header`, e.g. a collector's API key).
    pub headers: Vec<(http::HeaderName, http::HeaderValue)>,
    /// How long an export may take.
    pub timeout: Duration,
    /// A batch leaves at least this often.
    pub flush_interval: Duration,
    /// Traces waiting for export at most; more are dropped (and counted).
    pub queue: usize,
}

impl OtlpConfig {
    /// Checks `endpoint` (an `http` or `https` URL) and derives the export URL.
    pub fn new(endpoint: &str, protocol: OtlpProtocol) -> Result<OtlpConfig, String> {
        let uri: http::Uri = endpoint
            .parse()
            .map_err(|e| format!("--otlp-endpoint `{endpoint}` is not a URL: {e}"))?;
        if !matches!(uri.scheme_str(), Some("http" | "https")) || uri.host().is_none() {
            return Err(format!(
                "--otlp-endpoint `{endpoint}` must be an http:// or https:// URL with a host"
            ));
        }
        let base = endpoint.trim_end_matches('/');
        let url = match protocol {
            // The base URL of OTEL_EXPORTER_OTLP_ENDPOINT; a URL that already names the
            // signal's path is used as it is.
            OtlpProtocol::HttpProtobuf if base.ends_with("/v1/traces") => base.to_owned(),
            OtlpProtocol::HttpProtobuf => format!("{base}/v1/traces"),
            OtlpProtocol::Grpc => format!(
                "{}://{}/opentelemetry.proto.collector.trace.v1.TraceService/Export",
                uri.scheme_str().unwrap_or("http"),
                uri.authority().map_or("", |a| a.as_str())
            ),
        };
        Ok(OtlpConfig {
            endpoint: endpoint.to_owned(),
            url,
            protocol,
            headers: Vec::new(),
            timeout: export::DEFAULT_TIMEOUT,
            flush_interval: Duration::from_secs(1),
            queue: 2048,
        })
    }
}

impl OtlpConfig {
    /// Adds an export header given as `NAME=VALUE` (`--otlp-header`); its value is marked
    /// sensitive.
    pub fn add_header(&mut self, header: &str) -> Result<(), String> {
        let (name, value) = header
            .split_once('=')
            .ok_or_else(|| format!("--otlp-header `{header}` is not NAME=VALUE"))?;
        let name = http::HeaderName::from_bytes(name.trim().as_bytes())
            .map_err(|_| format!("--otlp-header `{name}` is not a header name"))?;
        let mut value = http::HeaderValue::from_str(value.trim())
            .map_err(|_| format!("--otlp-header value for `{name}` is not a header value"))?;
        value.set_sensitive(true);
        self.headers.push((name, value));
        Ok(())
    }
}

/// The gateway's tracer: the global sampling ratio and the export queue.
#[derive(Debug)]
pub struct Tracer {
    ratio: f64,
    queue: SyncSender<FinishedTrace>,
    stats: Arc<ExportStats>,
}

impl Tracer {
    /// Starts the exporter thread. `ratio` is `--trace-sampling` (0.0 to 1.0).
    pub fn start(
        config: OtlpConfig,
        ratio: f64,
        service_name: &str,
        instance: Option<&str>,
    ) -> std::io::Result<Arc<Tracer>> {
        // `service.instance.id`: the node's name in connected mode, else a random id.
        let instance =
            instance.map_or_else(|| format!("{:032x}", rand::random::<u128>()), str::to_owned);
        let (queue, receiver) = std::sync::mpsc::sync_channel(config.queue);
        let stats = Arc::new(ExportStats::default());
        let resource = vec![
            export::key_value("service.name", AttrValue::from(service_name.to_owned())),
            export::key_value(
                "service.version",
                AttrValue::from(env!("CARGO_PKG_VERSION")),
            ),
            export::key_value("service.instance.id", AttrValue::from(instance)),
            export::key_value("telemetry.sdk.name", AttrValue::from("barbacane")),
            export::key_value("telemetry.sdk.language", AttrValue::from("rust")),
        ];
        let thread_stats = Arc::clone(&stats);
        std::thread::Builder::new()
            .name("barbacane-otlp".into())
            .spawn(move || export::run(config, resource, receiver, thread_stats))?;
        Ok(Arc::new(Tracer {
            ratio: ratio.clamp(0.0, 1.0),
            queue,
            stats,
        }))
    }

    /// The global ratio.
    pub fn ratio(&self) -> f64 {
        self.ratio
    }

    /// What the exporter did.
    pub fn stats(&self) -> &ExportStats {
        &self.stats
    }

    /// Queues a finished trace; drops it (counted) when the queue is full.
    pub(crate) fn submit(&self, trace: FinishedTrace) {
        let spans = trace.spans.len() as u64;
        match self.queue.try_send(trace) {
            Ok(()) => {}
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                self.stats.dropped.fetch_add(spans, Ordering::Relaxed);
            }
        }
    }
}

/// Whether a new trace with this id is sampled at `ratio`: its low 8 bytes, read as a
/// number, fall under `ratio` of the range.
pub(crate) fn sampled_at(trace_id: &[u8; 16], ratio: f64) -> bool {
    if ratio >= 1.0 {
        return true;
    }
    if ratio <= 0.0 {
        return false;
    }
    let mut low = [0u8; 8];
    low.copy_from_slice(&trace_id[8..]);
    // Compared on 63 bits, as a float of the full 64-bit range rounds badly near 1.0.
    let value = u64::from_be_bytes(low) >> 1;
    (value as f64) < ratio * (u64::MAX >> 1) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratio_sampling_follows_the_trace_id() {
        let low = [0u8; 16];
        let mut high = [0u8; 16];
        high[8..].copy_from_slice(&[0xff; 8]);
        assert!(sampled_at(&low, 0.01));
        assert!(!sampled_at(&high, 0.99));
        assert!(sampled_at(&high, 1.0));
        assert!(!sampled_at(&low, 0.0));
        // Over many random ids the share is close to the ratio.
        let hits = (0..20_000)
            .filter(|_| sampled_at(&rand::random::<[u8; 16]>(), 0.25))
            .count();
        assert!((4_000..6_000).contains(&hits), "{hits}");
    }

    #[test]
    fn endpoints_get_the_signal_path() {
        let http = OtlpConfig::new("http://c:4318/", OtlpProtocol::HttpProtobuf).unwrap();
        assert_eq!(http.url, "http://c:4318/v1/traces");
        let given =
            OtlpConfig::new("https://c/otlp/v1/traces", OtlpProtocol::HttpProtobuf).unwrap();
        assert_eq!(given.url, "https://c/otlp/v1/traces");
        let grpc = OtlpConfig::new("http://c:4317", OtlpProtocol::Grpc).unwrap();
        assert_eq!(
            grpc.url,
            "http://c:4317/opentelemetry.proto.collector.trace.v1.TraceService/Export"
        );
        assert!(OtlpConfig::new("c:4317", OtlpProtocol::Grpc).is_err());
        assert!(OtlpConfig::new("ftp://c", OtlpProtocol::Grpc).is_err());
        assert!("udp".parse::<OtlpProtocol>().is_err());
    }
}
