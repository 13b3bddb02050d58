//! The driver: runs the phases in order. Reading this file top to bottom is reading the
//! request path.

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body::Body as HttpBody;

use http_body_util::{BodyExt, Empty, Full, Limited};

use crate::body::{BoxError, OutgoingBody};
use crate::dispatch::DispatchRequest;
use crate::otel::span::Spans;
use crate::phases::middleware::Flow;
use crate::phases::validate::Validated;
use crate::phases::{finish, limits, middleware, preflight, route, validate};
use crate::{Body, Gateway, GatewayError, ServeConfig, problem};

/// The client's socket address, put in request extensions by the server.
#[derive(Debug, Clone, Copy)]
pub struct ClientAddr(pub std::net::SocketAddr);

/// The claims of the client certificate the connection presented and the TLS listener
/// verified (`--tls-client-ca`); plugins see them as `auth.client_cert.*` in the request
/// context.
pub use crate::client_cert::ClientCert;

/// Reserved path of the liveness endpoint on the traffic listener.
pub const HEALTH_PATH: &str = "/__barbacane/health";

/// Reserved path of the metrics on the traffic listener (only with `--metrics-on-traffic`).
pub const METRICS_PATH: &str = "/__barbacane/metrics";

/// The exposition as a response: OpenMetrics when `Accept` asks for it, else the
/// Prometheus text format.
fn metrics_response(gateway: &Gateway, accept: Option<&str>) -> Response<Body> {
    let text = gateway.render_metrics();
    let (text, kind) = if crate::metrics::wants_openmetrics(accept) {
        (
            crate::metrics::to_openmetrics(&text),
            crate::metrics::OPENMETRICS_TEXT,
        )
    } else {
        (text, crate::metrics::PROMETHEUS_TEXT)
    };
    let mut response = Response::new(Body::new(Bytes::from(text)));
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static(kind),
    );
    response
}

/// Handles one request end to end. Never fails: errors become problem responses here. The
/// client's address is read from a [`ClientAddr`] in the request's extensions, if any.
pub async fn handle<B>(gateway: &Gateway, request: Request<B>) -> Response<Body>
where
    B: HttpBody<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    let peer = request.extensions().get::<ClientAddr>().map(|a| a.0);
    handle_from(gateway, request, peer).await
}

/// [`handle`] for a request from `peer` (the server passes it here rather than as a request
/// extension, whose map costs three allocations per request).
pub async fn handle_from<B>(
    gateway: &Gateway,
    request: Request<B>,
    peer: Option<std::net::SocketAddr>,
) -> Response<Body>
where
    B: HttpBody<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    let started = std::time::Instant::now();
    let request_id = finish::request_id(request.headers());
    let trace = crate::trace::resolve(request.headers(), started);
    let trace_id = trace.id;
    let access = AccessRecord::of(&request, peer);
    let config = gateway.config();
    // An owned handle: the request may wait on an upstream for a while, and must keep the
    // snapshot it started with (its routes' counters included).
    let snapshot = gateway.snapshot_arc();
    let mut matched = Matched::Unmatched;
    let mut spans = Spans::default();
    if config.metrics_on_traffic
        && request.uri().path() == METRICS_PATH
        && request.method() == http::Method::GET
    {
        let accept = request
            .headers()
            .get(http::header::ACCEPT)
            .and_then(|v| v.to_str().ok());
        return finish::finish(metrics_response(gateway, accept), request_id, &trace_id);
    }
    let response = match run(
        &snapshot,
        config,
        (request, peer),
        &request_id,
        &trace,
        &mut matched,
        &mut spans,
    )
    .await
    {
        Ok(response) => response,
        Err(error) => {
            if let (GatewayError::Validation(failure), Matched::Route(index)) = (&error, &matched)
                && let Some(route) = snapshot.route_metrics().get(*index)
            {
                route.validation_failed();
                log_validation_failure(route, failure, &request_id);
            }
            problem::respond(&error, config.dev, Some(&request_id))
        }
    };
    let status = response.status().as_u16();
    let elapsed = started.elapsed();
    let route = match matched {
        Matched::Route(index) => snapshot.route_metrics().get(index).inspect(|route| {
            use http_body::Body as _;
            route.record(status, elapsed);
            route.record_sizes(access.bytes_in, response.body().size_hint().exact());
        }),
        Matched::Unmatched => {
            gateway.metrics().unmatched.record(status, elapsed);
            None
        }
        Matched::Health => return finish::finish(response, request_id, &trace_id),
    };
    access.log(
        route,
        &response,
        elapsed,
        (&request_id, &trace_id, spans.0.as_ref().map(|r| r.root)),
    );
    if let (Some(recorder), Some(tracer)) = (spans.0.take(), &config.tracer) {
        tracer.submit(close_request_span(
            *recorder,
            &response,
            route,
            &request_id,
            snapshot.header().artifact_hash.as_str(),
        ));
    }
    finish::finish(response, request_id, &trace_id)
}

/// The request span's closing attributes (OpenTelemetry HTTP server conventions); a 5xx
/// marks it failed.
fn close_request_span(
    recorder: crate::otel::span::Recorder,
    response: &Response<Body>,
    route: Option<&crate::metrics::RouteMetrics>,
    request_id: &http::HeaderValue,
    artifact_hash: &str,
) -> crate::otel::FinishedTrace {
    use crate::otel::AttrValue;
    let status = response.status();
    let mut attrs: Vec<(std::borrow::Cow<'static, str>, AttrValue)> = Vec::with_capacity(12);
    let mut add = |k: &'static str, v: AttrValue| attrs.push((k.into(), v));
    add(
        "http.response.status_code",
        AttrValue::Int(i64::from(status.as_u16())),
    );
    if let Some(route) = route {
        add("http.route", AttrValue::from(route.route().to_owned()));
    }
    add(
        "barbacane.artifact_hash",
        AttrValue::from(artifact_hash.to_owned()),
    );
    if let Ok(id) = request_id.to_str() {
        add("barbacane.request_id", AttrValue::from(id.to_owned()));
    }
    let error = status
        .is_server_error()
        .then(|| status.as_u16().to_string());
    if error.is_some() {
        add("error.type", AttrValue::from(status.as_u16().to_string()));
    }
    recorder.finish(attrs, error)
}

/// The `validation_failure` event: at `debug` with the number of errors, or at `info` with
/// each error's location, field and reason when the operation asks for
/// `detailed_validation_logs` (reasons never echo the submitted value).
fn log_validation_failure(
    route: &crate::metrics::RouteMetrics,
    failure: &barbacane_validator::ValidationFailure,
    request_id: &http::HeaderValue,
) {
    let request_id = request_id.to_str().unwrap_or("-");
    if !route.logs_validation_details() {
        tracing::debug!(
            target: "barbacane::validation",
            method = route.method(),
            route = route.route(),
            errors = failure.errors.len(),
            request_id,
            "validation_failure"
        );
        return;
    }
    for e in &failure.errors {
        tracing::info!(
            target: "barbacane::validation",
            method = route.method(),
            route = route.route(),
            location = e.location,
            field = %e.field,
            reason = %e.reason,
            request_id,
            "validation_failure"
        );
    }
}

/// What the access log needs of a request, taken before the request is consumed.
struct AccessRecord {
    method: http::Method,
    path: String,
    bytes_in: Option<u64>,
    client: Option<std::net::IpAddr>,
}

impl AccessRecord {
    fn of<B>(request: &Request<B>, peer: Option<std::net::SocketAddr>) -> AccessRecord {
        // Only the path: query strings carry API keys and tokens often enough that they
        // never reach the log.
        let path = if tracing::enabled!(target: "barbacane::access", tracing::Level::INFO) {
            request.uri().path().to_owned()
        } else {
            String::new()
        };
        AccessRecord {
            method: request.method().clone(),
            path,
            bytes_in: request
                .headers()
                .get(http::header::CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok()?.parse().ok()),
            client: peer.map(|a| a.ip()),
        }
    }

    /// One `request_completed` event (target `barbacane::access`, level INFO): the access
    /// log. No header value is ever logged.
    fn log(
        &self,
        route: Option<&crate::metrics::RouteMetrics>,
        response: &Response<Body>,
        elapsed: std::time::Duration,
        (request_id, trace_id, span_id): (&http::HeaderValue, &[u8; 32], Option<u64>),
    ) {
        use http_body::Body as _;
        if !tracing::enabled!(target: "barbacane::access", tracing::Level::INFO) {
            return;
        }
        let line = crate::access_log::AccessLine {
            method: self.method.as_str(),
            route: route.map_or("-", |r| r.route()),
            path: &self.path,
            status: response.status().as_u16(),
            duration_us: u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX),
            bytes_in: self.bytes_in,
            bytes_out: response.body().size_hint().exact(),
            client: self.client,
            request_id: request_id.to_str().unwrap_or("-"),
            trace_id: std::str::from_utf8(trace_id).unwrap_or("-"),
            span_id,
        };
        if crate::access_log::write(&line) {
            return;
        }
        tracing::info!(
            target: "barbacane::access",
            method = %self.method,
            route = route.map_or("-", |r| r.route()),
            path = %self.path,
            status = response.status().as_u16(),
            duration_us = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX),
            bytes_in = self.bytes_in,
            bytes_out = response.body().size_hint().exact(),
            client = self.client.map(tracing::field::display),
            request_id = request_id.to_str().unwrap_or("-"),
            trace_id = std::str::from_utf8(trace_id).unwrap_or("-"),
            span_id = span_id.map(|s| tracing::field::display(format!("{s:016x}"))),
            "request_completed"
        );
    }
}

/// Which counters a request is recorded in.
enum Matched {
    /// The route at this index of the snapshot's route metrics.
    Route(usize),
    /// None matched (or the request failed before routing).
    Unmatched,
    /// The liveness endpoint: not counted.
    Health,
}

async fn run<B>(
    snapshot: &std::sync::Arc<crate::Snapshot>,
    config: &ServeConfig,
    (request, peer): (Request<B>, Option<std::net::SocketAddr>),
    request_id: &http::HeaderValue,
    trace: &crate::trace::Trace,
    matched: &mut Matched,
    spans: &mut Spans,
) -> Result<Response<Body>, GatewayError>
where
    B: HttpBody<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    let (mut parts, body) = request.into_parts();
    limits::check(&parts, &config.limits)?;
    if parts.uri.path() == HEALTH_PATH {
        *matched = Matched::Health;
        return Ok(health());
    }
    let routing_started = config.tracer.is_some().then(std::time::Instant::now);
    // `Uri` clones share their bytes: this lets the parsed path outlive the move of `parts`
    // into the dispatcher.
    let uri = parts.uri.clone();
    let path = match barbacane_router::normalize_path(uri.path()) {
        Ok(path) => path,
        Err(e) => {
            *spans = begin_spans(trace, config, &mut parts, peer, None, routing_started);
            return Err(GatewayError::BadPath(e));
        }
    };
    // This future is moved by value several times per request, so its size matters: scopes
    // end locals before later awaits (a shadowed local keeps its own slot otherwise), and
    // rare or large awaits are boxed.
    let found = {
        let found = route::lookup(snapshot, &parts.method, &path);
        let entry = found.as_ref().ok().map(|f| f.value);
        *spans = begin_spans(trace, config, &mut parts, peer, entry, routing_started);
        match found {
            Ok(found) => found,
            Err(GatewayError::MethodNotAllowed(allowed)) => {
                return match preflight::target(snapshot, &parts, &path) {
                    Some(target) => {
                        Box::pin(preflight::answer(target.value, parts, peer, allowed)).await
                    }
                    None => Err(GatewayError::MethodNotAllowed(allowed)),
                };
            }
            Err(e) => return Err(e),
        }
    };
    *matched = Matched::Route(found.value.metrics);
    let started = spans.mark();
    let validated = validate::validate(
        &found.value.validator,
        &found.params,
        &parts,
        body,
        &config.limits,
    )
    .await;
    spans.close("barbacane.validation", started, |span| {
        if let Err(e) = &validated {
            span.error = Some(e.to_string());
        }
    });
    let validated = validated?;
    let entry = found.value;
    let dispatcher = &entry.dispatcher;
    let (mut buffered, unread) = match validated {
        Validated::Buffered(bytes) => (Some(bytes), None),
        Validated::Unread(body) if dispatcher.buffers_body() || entry.buffers_request => {
            (Some(buffer(body, &config.limits).await?), None)
        }
        Validated::Unread(body) => (None, Some(body)),
    };
    // Plugins read template variables with `request.path_param`; listed only for routes
    // that have some and plugins to read them.
    let wasm_dispatch = matches!(dispatcher, crate::dispatch::Dispatcher::Wasm(_));
    let path_params = || -> Vec<(String, String)> {
        found
            .params
            .iter()
            .map(|(n, v)| (n.to_owned(), v.to_owned()))
            .collect()
    };
    let (ran, answered) = {
        let (ran, flow) = if entry.middlewares.is_empty() {
            (None, Flow::Continue)
        } else {
            let (ran, flow) =
                match middleware::head(&entry.middlewares, &parts, peer.map(|a| a.ip()), spans)
                    .await
                {
                    Ok((ran, Flow::Continue)) => {
                        // Every middleware was settled by the gateway and the request goes
                        // on: it leaves with the new `traceparent` (see `begin_spans`).
                        if config.tracer.is_none() {
                            crate::trace::apply(trace, &mut parts.headers);
                        }
                        (ran, Flow::Continue)
                    }
                    Ok(answered) => answered,
                    // Boxed (and `on_response` below): only requests that run plugins pay the
                    // allocation, noise next to plugin calls, and every other request's future
                    // stays small. Cache hits answered above do not.
                    Err(resume) => {
                        if config.tracer.is_none() {
                            crate::trace::apply(trace, &mut parts.headers);
                        }
                        Box::pin(middleware::on_request(
                            &entry.middlewares,
                            resume,
                            &mut parts,
                            &mut buffered,
                            peer.map(|a| a.ip()),
                            path_params,
                            spans,
                        ))
                        .await
                    }
                };
            (Some(ran), flow)
        };
        let answered = match flow {
            Flow::Respond(response) => Some(response),
            Flow::Failed(error) => Some(problem::respond(&error, config.dev, Some(request_id))),
            Flow::Continue => None,
        };
        (ran, answered)
    };
    let response = match answered {
        Some(response) => response,
        None => {
            // A middleware may have rewritten the path (`request-transformer`): the upstream
            // gets the new one, normalized like any client path.
            let upstream_path = if !dispatcher.streams_body() {
                String::new()
            } else if parts.uri.path() == uri.path() {
                path.to_path_string()
            } else {
                barbacane_router::normalize_path(parts.uri.path())
                    .map_err(GatewayError::BadPath)?
                    .to_path_string()
            };
            let body: OutgoingBody = match (&buffered, unread) {
                (Some(bytes), _) if dispatcher.streams_body() => Full::new(bytes.clone())
                    .map_err(|never| match never {})
                    .boxed_unsync(),
                (None, Some(body)) if dispatcher.streams_body() && !body.is_end_stream() => {
                    let limit = usize::try_from(config.limits.max_body_bytes).unwrap_or(usize::MAX);
                    Limited::new(body, limit).boxed_unsync()
                }
                // No body (a GET, say): a zero-sized body, whose box allocates nothing.
                _ => Empty::new().map_err(|never| match never {}).boxed_unsync(),
            };
            let peer = peer.map(|a| a.ip());
            let params = |name: &str| found.params.get(name);
            let context = ran.as_ref().map(|r| r.context.clone()).unwrap_or_default();
            let started = spans.mark();
            let timer = std::time::Instant::now();
            let dispatched = dispatcher
                .dispatch(
                    DispatchRequest {
                        path: upstream_path,
                        parts,
                        body,
                        params: &params,
                        path_params: if wasm_dispatch {
                            path_params()
                        } else {
                            Vec::new()
                        },
                        peer,
                        request_id,
                        body_limit: config.limits.max_body_bytes,
                        context,
                    },
                    buffered,
                )
                .await;
            if let Some(route) = snapshot.route_metrics().get(entry.metrics) {
                route.record_dispatch(timer.elapsed(), dispatched.is_err());
            }
            spans.close_dispatch(started, |span| {
                describe_dispatch(span, dispatcher, &dispatched);
            });
            match (dispatched, &ran) {
                (Ok(response), _) => response,
                // Middlewares that ran still see error responses in `on_response` (CORS
                // headers on a 502, for instance).
                (Err(error), Some(_)) => problem::respond(&error, config.dev, Some(request_id)),
                (Err(error), None) => return Err(error),
            }
        }
    };
    let started = spans.mark();
    let mut response = match ran {
        Some(ran) if !ran.awaits_response() => ran.finish(response),
        Some(ran) => Box::pin(middleware::on_response(ran, response, spans)).await,
        None => response,
    };
    for (name, value) in &entry.lifecycle {
        response.headers_mut().append(name.clone(), value.clone());
    }
    spans.close("barbacane.response", started, |_| {});
    Ok(response)
}

/// Decides whether the request is recorded and, if so, opens its spans: the request's
/// attributes and the routing span (from `routing_started` to now).
fn begin_spans(
    trace: &crate::trace::Trace,
    config: &ServeConfig,
    parts: &mut http::request::Parts,
    peer: Option<std::net::SocketAddr>,
    entry: Option<&crate::snapshot::RouteEntry>,
    routing_started: Option<std::time::Instant>,
) -> Spans {
    // Without a tracer, the new `traceparent` is written only when someone will read it: a
    // constant answer with no middleware reads no header after this, and a route with
    // middlewares gets it after a cache hit at the head of its chain could have answered
    // (`run`). One allocation and two header-map edits saved on those requests.
    let stays = entry.is_some_and(|e| {
        !e.middlewares.is_empty()
            || matches!(e.dispatcher, crate::dispatch::Dispatcher::Constant(_))
    });
    let mut spans = trace.begin(
        config.tracer.as_deref(),
        entry.and_then(|e| e.trace_sampling),
        &mut parts.headers,
        stays,
    );
    if let (Some(recorder), Some(routing_started)) = (&mut spans.0, routing_started) {
        describe_request(recorder, parts, peer, config, entry);
        let start = recorder.at(routing_started);
        let span = recorder.child("barbacane.routing", start);
        recorder.push(span);
    }
    spans
}

/// The request span's opening attributes (OpenTelemetry HTTP server conventions, plus the
/// API and operation).
fn describe_request(
    recorder: &mut crate::otel::span::Recorder,
    parts: &http::request::Parts,
    peer: Option<std::net::SocketAddr>,
    config: &ServeConfig,
    entry: Option<&crate::snapshot::RouteEntry>,
) {
    use crate::otel::AttrValue;
    recorder.root_attr(
        "http.request.method",
        AttrValue::from(parts.method.as_str().to_owned()),
    );
    recorder.root_attr("url.path", AttrValue::from(parts.uri.path().to_owned()));
    recorder.root_attr(
        "url.scheme",
        AttrValue::from(if config.tls.is_some() {
            "https"
        } else {
            "http"
        }),
    );
    let version = match parts.version {
        http::Version::HTTP_10 => "1.0",
        http::Version::HTTP_2 => "2",
        http::Version::HTTP_3 => "3",
        _ => "1.1",
    };
    recorder.root_attr("network.protocol.version", AttrValue::from(version));
    if let Some(client) = peer {
        recorder.root_attr("client.address", AttrValue::from(client.ip().to_string()));
    }
    if let Some(agent) = parts
        .headers
        .get(http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
    {
        recorder.root_attr("user_agent.original", AttrValue::from(agent.to_owned()));
    }
    if let Some(entry) = entry {
        recorder.root_attr("barbacane.api", AttrValue::from(entry.api.to_string()));
        if let Some(id) = &entry.operation_id {
            recorder.root_attr("barbacane.operation_id", AttrValue::from(id.to_string()));
        }
    }
}

/// The dispatch span: which dispatcher, and how it ended.
fn describe_dispatch(
    span: &mut crate::otel::SpanData,
    dispatcher: &crate::dispatch::Dispatcher,
    outcome: &Result<Response<Body>, GatewayError>,
) {
    dispatcher.describe(span);
    match outcome {
        Ok(response) => {
            span.attr(
                "http.response.status_code",
                i64::from(response.status().as_u16()),
            );
            if response.status().is_server_error() {
                span.error = Some(response.status().as_u16().to_string());
            }
        }
        Err(e) => span.error = Some(e.to_string()),
    }
}

/// Reads the whole body for a dispatcher that wants it in memory, bounded by the smaller of
/// the request limit and what plugins may receive (8 MiB).
async fn buffer<B>(body: B, limits: &crate::Limits) -> Result<Bytes, GatewayError>
where
    B: HttpBody<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    let limit = limits.max_body_bytes.min(PLUGIN_BODY_LIMIT);
    match Limited::new(body, usize::try_from(limit).unwrap_or(usize::MAX))
        .collect()
        .await
    {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => {
            Err(GatewayError::BodyTooLarge { limit })
        }
        Err(e) if e.is::<crate::conn::BodyStalled>() => Err(GatewayError::BodyTimeout),
        Err(e) => Err(GatewayError::BodyRead(e.to_string())),
    }
}

/// The largest request body a WASM dispatcher is given.
const PLUGIN_BODY_LIMIT: u64 = 8 << 20;

fn health() -> Response<Body> {
    let mut response = Response::new(Body::new(Bytes::from_static(b"{\"status\":\"ok\"}")));
    *response.status_mut() = StatusCode::OK;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The size of the future `f` returns, without calling it.
    fn returned_size<'a, B, Fut>(
        _: impl FnOnce(&'a Gateway, Request<B>, Option<std::net::SocketAddr>) -> Fut,
    ) -> usize {
        std::mem::size_of::<Fut>()
    }

    /// A request's future is moved by value several times per request (into hyper's slot,
    /// and each `.await` level moves the one below into its own state), so its size is paid
    /// on every request: halving it (7.3 to 3.5 KB, release build) saved about 2 µs of CPU
    /// per mock request. Rare or large awaits are boxed to keep it so; this fails when a
    /// change makes it grow back.
    #[test]
    fn a_request_future_stays_small() {
        let size = returned_size(handle_from::<crate::conn::TimedBody<hyper::body::Incoming>>);
        // 3,464 bytes today (7,296 before the boxing).
        assert!(
            size <= 4096,
            "a request's future is {size} bytes: box the await that grew it"
        );
    }
}
