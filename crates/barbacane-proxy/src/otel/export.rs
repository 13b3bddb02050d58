//! The OTLP exporter: a thread of its own that batches finished traces and sends them to the
//! collector. Requests hand traces over with a non-blocking `try_send` on a bounded queue; a
//! full queue drops the trace (counted), so a slow or dead collector never delays a request
//! and never grows memory.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use prost::Message;

use super::proto;
use super::span::{AttrValue, FinishedTrace, SpanData};
use super::{OtlpConfig, OtlpProtocol};

/// What the exporter did, for `/_admin/metrics`.
#[derive(Debug, Default)]
pub struct ExportStats {
    /// Spans the collector accepted.
    pub exported: AtomicU64,
    /// Spans dropped because the queue was full.
    pub dropped: AtomicU64,
    /// Spans in batches the collector refused or never answered.
    pub failed: AtomicU64,
}

/// Spans per request at most in one batch; a batch also leaves when it is this old.
const BATCH_SPANS: usize = 512;

/// Runs until every sender is gone (the gateway stopped), sending what is left.
pub(crate) fn run(
    config: OtlpConfig,
    resource: Vec<proto::KeyValue>,
    queue: Receiver<FinishedTrace>,
    stats: Arc<ExportStats>,
) {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!(error = %e, "cannot start the OTLP exporter; no spans will be exported");
            return;
        }
    };
    let client = match crate::dispatch::otlp_client(config.protocol == OtlpProtocol::Grpc) {
        Ok(client) => client,
        Err(e) => {
            tracing::error!(error = %e, "cannot build the OTLP client; no spans will be exported");
            return;
        }
    };
    let mut warned = false;
    let mut batch: Vec<FinishedTrace> = Vec::new();
    let mut spans = 0;
    let mut since = Instant::now();
    loop {
        let wait = config.flush_interval.saturating_sub(since.elapsed());
        let (done, due) = match queue.recv_timeout(wait) {
            Ok(trace) => {
                spans += trace.spans.len();
                batch.push(trace);
                (false, spans >= BATCH_SPANS)
            }
            Err(RecvTimeoutError::Timeout) => (false, true),
            Err(RecvTimeoutError::Disconnected) => (true, true),
        };
        if due {
            if !batch.is_empty() {
                let body = encode(&resource, &batch);
                let sent = runtime.block_on(send(&client, &config, body));
                match sent {
                    Ok(rejected) => {
                        stats
                            .exported
                            .fetch_add((spans as u64).saturating_sub(rejected), Ordering::Relaxed);
                        stats.failed.fetch_add(rejected, Ordering::Relaxed);
                        warned = false;
                    }
                    Err(e) => {
                        stats.failed.fetch_add(spans as u64, Ordering::Relaxed);
                        // Once per outage, not once per batch.
                        if !warned {
                            tracing::warn!(endpoint = %config.endpoint, error = %e, "OTLP export failed; spans are dropped until the collector answers");
                            warned = true;
                        }
                    }
                }
                batch.clear();
                spans = 0;
            }
            since = Instant::now();
        }
        if done {
            return;
        }
    }
}

/// The request body: one `ResourceSpans` with one scope holding every span of the batch.
pub(crate) fn encode(resource: &[proto::KeyValue], batch: &[FinishedTrace]) -> Vec<u8> {
    let spans = batch
        .iter()
        .flat_map(|trace| {
            trace.spans.iter().enumerate().map(move |(i, span)| {
                convert(trace, span, if i == 0 { &trace.tracestate } else { "" })
            })
        })
        .collect();
    let request = proto::ExportTraceServiceRequest {
        resource_spans: vec![proto::ResourceSpans {
            resource: Some(proto::Resource {
                attributes: resource.to_vec(),
            }),
            scope_spans: vec![proto::ScopeSpans {
                scope: Some(proto::InstrumentationScope {
                    name: "barbacane".into(),
                    version: env!("CARGO_PKG_VERSION").into(),
                }),
                spans,
            }],
        }],
    };
    request.encode_to_vec()
}

fn convert(trace: &FinishedTrace, span: &SpanData, tracestate: &str) -> proto::Span {
    proto::Span {
        trace_id: trace.trace_id.to_vec(),
        span_id: span.id.to_be_bytes().to_vec(),
        trace_state: tracestate.to_owned(),
        parent_span_id: if span.parent == 0 {
            Vec::new()
        } else {
            span.parent.to_be_bytes().to_vec()
        },
        name: span.name.to_string(),
        kind: span.kind as i32,
        start_time_unix_nano: span.start,
        end_time_unix_nano: span.end.max(span.start),
        attributes: span
            .attrs
            .iter()
            .map(|(k, v)| key_value(k, v.clone()))
            .collect(),
        status: span.error.as_ref().map(|message| proto::Status {
            message: message.clone(),
            code: 2,
        }),
        // Sampled; bit 8 says the flags know whether the parent is remote, bit 9 that it is.
        flags: 0x1
            | 0x100
            | if span.parent != 0 && span.kind == super::span::Kind::Server {
                0x200
            } else {
                0
            },
    }
}

/// An OTLP attribute.
pub(crate) fn key_value(key: &str, value: AttrValue) -> proto::KeyValue {
    let value = match value {
        AttrValue::Str(s) => proto::Value::StringValue(s.into_owned()),
        AttrValue::Int(n) => proto::Value::IntValue(n),
        AttrValue::Bool(b) => proto::Value::BoolValue(b),
        AttrValue::F64(f) => proto::Value::DoubleValue(f),
    };
    proto::KeyValue {
        key: key.to_owned(),
        value: Some(proto::AnyValue { value: Some(value) }),
    }
}

/// Sends one batch; `Ok` carries the number of spans the collector said it rejected.
async fn send(
    client: &crate::dispatch::OtlpClient,
    config: &OtlpConfig,
    body: Vec<u8>,
) -> Result<u64, String> {
    let grpc = config.protocol == OtlpProtocol::Grpc;
    let mut builder = http::Request::post(&config.url);
    builder = if grpc {
        builder
            .header(http::header::CONTENT_TYPE, "application/grpc")
            .header(http::header::TE, "trailers")
    } else {
        builder.header(http::header::CONTENT_TYPE, "application/x-protobuf")
    };
    for (name, value) in &config.headers {
        builder = builder.header(name, value);
    }
    let body = if grpc {
        // gRPC's length-prefixed message: no compression, 4-byte big-endian length.
        let mut framed = Vec::with_capacity(body.len() + 5);
        framed.push(0);
        framed.extend_from_slice(&u32::try_from(body.len()).unwrap_or(u32::MAX).to_be_bytes());
        framed.extend_from_slice(&body);
        framed
    } else {
        body
    };
    let request = builder
        .body(
            Full::new(Bytes::from(body))
                .map_err(|never| match never {})
                .boxed_unsync(),
        )
        .map_err(|e| format!("bad OTLP request: {e}"))?;
    let exchange = async {
        let response = client
            .request(request)
            .await
            .map_err(|e| crate::dispatch::upstream::error_chain(&e))?;
        let status = response.status();
        let headers = response.headers().clone();
        let collected = response
            .into_body()
            .collect()
            .await
            .map_err(|e| format!("reading the answer: {e}"))?;
        let trailers = collected.trailers().cloned().unwrap_or_default();
        let bytes = collected.to_bytes();
        Ok::<_, String>((status, headers, trailers, bytes))
    };
    let (status, headers, trailers, bytes) = tokio::time::timeout(config.timeout, exchange)
        .await
        .map_err(|_| format!("no answer within {:?}", config.timeout))??;
    if !status.is_success() {
        return Err(format!("the collector answered {status}"));
    }
    let payload = if grpc {
        let code = trailers
            .get("grpc-status")
            .or_else(|| headers.get("grpc-status"))
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if code != "0" {
            let message = trailers
                .get("grpc-message")
                .or_else(|| headers.get("grpc-message"))
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            return Err(format!("grpc-status {code} {message}").trim().to_owned());
        }
        bytes.get(5..).unwrap_or_default().to_vec()
    } else {
        bytes.to_vec()
    };
    let answer = proto::ExportTraceServiceResponse::decode(payload.as_slice()).unwrap_or_default();
    Ok(answer
        .partial_success
        .map_or(0, |p| u64::try_from(p.rejected_spans).unwrap_or(0)))
}

/// How long an export may take before the batch counts as failed.
pub(crate) const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
