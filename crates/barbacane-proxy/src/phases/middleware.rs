//! The middleware phases: `on_request` in order (a middleware may answer instead of the
//! dispatcher), `on_response` in reverse over the middlewares that ran.
//!
//! The request travels between plugins as one `ExchangeState` (real `HeaderMap`s, so
//! repeated headers survive). Each plugin's instance is checked out of its pool for the whole
//! span and handed back after its `on_response` (dropping a `Call` instead discards the
//! instance: a request cancelled mid-chain never returns a half-run instance).

use barbacane_plugin_abi::Action;
use barbacane_wasm::{CacheStep, Call, ExchangeState, LimitStep, Prepared, ResponseState};
use bytes::Bytes;
use http::Response;
use http::request::Parts;

use crate::otel::span::Spans;
use crate::{Body, GatewayError};

/// The instances whose `on_request` ran, kept for `on_response` (those that asked to skip it
/// are already back in their pools).
pub(crate) struct Ran {
    calls: Vec<Call>,
    /// Rate-limit fields reported during `on_request`, added after the `on_response` chain.
    rate_limit_fields: Vec<barbacane_wasm::RateLimitFields>,
    /// One of them asked for whole response bodies (`core.buffer_bodies`).
    wants_response_body: bool,
    pub(crate) context: std::collections::BTreeMap<String, String>,
}

impl Ran {
    /// Whether an instance waits for its `on_response` (none after a cache hit, or when every
    /// middleware asked to skip it).
    pub(crate) fn awaits_response(&self) -> bool {
        !self.calls.is_empty()
    }

    /// The response phase when no instance waits for it ([`Ran::awaits_response`]): the
    /// rate-limit fields only, synchronously (no future to allocate).
    pub(crate) fn finish(self, response: Response<Body>) -> Response<Body> {
        with_rate_limit_fields(response, &self.rate_limit_fields)
    }
}

/// How the `on_request` chain ended.
pub(crate) enum Flow {
    /// Every middleware let the request through: dispatch it.
    Continue,
    /// A middleware answered.
    Respond(Response<Body>),
    /// A middleware trapped, timed out or broke the ABI: answer with this error (the
    /// middlewares that ran before it still see that answer in `on_response`).
    Failed(GatewayError),
}

/// Where [`on_request`] picks the chain up after [`head`].
pub(crate) struct Resume {
    /// The first middleware the host could not settle by itself.
    at: usize,
    /// What the host found for it, when it serves that middleware's cache hits.
    step: Option<CacheStep>,
    /// Rate-limit members of the host-decided middlewares before it.
    fields: Vec<barbacane_wasm::RateLimitFields>,
}

/// The middlewares at the head of the chain that the gateway settles itself: cache hits
/// (`cache.serve_hits`, the usual place for `x-barbacane-cache`) and rate limits
/// (`ratelimit.host_policy`, `x-barbacane-ratelimit`). They are decided here, before any
/// request state is built for plugins and without the chain's future (which callers box):
/// a hit or a refusal answers, and a chain made only of them ends here. Otherwise `Err` says
/// where [`on_request`] picks up.
pub(crate) async fn head(
    chain: &[Prepared],
    parts: &Parts,
    client_ip: Option<std::net::IpAddr>,
    spans: &mut Spans,
) -> Result<(Ran, Flow), Resume> {
    let mut fields = Vec::new();
    let settled = |fields, flow| {
        let ran = Ran {
            calls: Vec::new(),
            rate_limit_fields: fields,
            wants_response_body: false,
            context: client_context(parts),
        };
        (ran, flow)
    };
    for (at, prepared) in chain.iter().enumerate() {
        let request = barbacane_wasm::Head {
            method: &parts.method,
            uri: &parts.uri,
            headers: &parts.headers,
        };
        let started = spans.mark();
        if prepared.serves_hits() {
            match prepared.serve_cached(request).await {
                Some(CacheStep::Hit(response)) => {
                    served_hit(prepared, spans, started);
                    return Ok(settled(fields, Flow::Respond(into_response(response))));
                }
                Some(CacheStep::Bypass) => continue,
                step => return Err(Resume { at, step, fields }),
            }
        }
        match prepared.decide_limit(request, client_ip).await {
            Some(step) => {
                if let Some(answer) = decided(prepared, step, &mut fields, spans, started) {
                    return Ok(settled(fields, Flow::Respond(answer)));
                }
            }
            None => {
                return Err(Resume {
                    at,
                    step: None,
                    fields,
                });
            }
        }
    }
    Ok(settled(fields, Flow::Continue))
}

/// Applies a rate limit the host decided for `prepared`: an allowed request's members join
/// `fields`; a refusal is the answer (and the middleware's short circuit).
fn decided(
    prepared: &Prepared,
    step: LimitStep,
    fields: &mut Vec<barbacane_wasm::RateLimitFields>,
    spans: &mut Spans,
    started: u64,
) -> Option<Response<Body>> {
    let answer = match step {
        LimitStep::Allowed(members) => {
            fields.push(members);
            None
        }
        LimitStep::Skipped => None,
        LimitStep::Respond(response) => {
            prepared.stats().short_circuits.add(1);
            Some(into_response(response))
        }
    };
    spans.close("barbacane.middleware", started, |span| {
        describe(span, prepared.name(), "request");
        if answer.is_some() {
            span.attr("barbacane.short_circuit", true);
        }
    });
    answer
}

/// The context a request starts with: its verified client certificate's fields.
fn client_context(parts: &Parts) -> std::collections::BTreeMap<String, String> {
    parts
        .extensions
        .get::<crate::pipeline::ClientCert>()
        .map(|c| c.0.iter().cloned().collect())
        .unwrap_or_default()
}

/// Runs `on_request` of each middleware from where [`head`] stopped. Returns the instances
/// that ran and how the chain ended. The request parts (and buffered body) carry the
/// plugins' changes.
pub(crate) async fn on_request(
    chain: &[Prepared],
    resume: Resume,
    parts: &mut Parts,
    body: &mut Option<Bytes>,
    client_ip: Option<std::net::IpAddr>,
    path_params: impl FnOnce() -> Vec<(String, String)>,
    spans: &mut Spans,
) -> (Ran, Flow) {
    let mut exchange = ExchangeState {
        method: parts.method.clone(),
        uri: parts
            .uri
            .path_and_query()
            .map_or_else(|| parts.uri.clone(), |pq| pq.clone().into()),
        headers: std::mem::take(&mut parts.headers),
        body: body.take(),
        response: None,
        context: client_context(parts),
        client_ip,
        path_params: path_params(),
        traced: spans.0.is_some(),
        guest_spans: Vec::new(),
        rate_limit_fields: resume.fields,
    };
    let mut first = resume.step;
    let mut calls = Vec::with_capacity(chain.len() - resume.at);
    let mut flow = Flow::Continue;
    let mut wants_response_body = false;
    for (i, prepared) in chain.iter().enumerate().skip(resume.at) {
        let started = spans.mark();
        let timer = std::time::Instant::now();
        // A caching middleware whose hits the gateway serves itself: a hit answers here,
        // without checking out its instance (where `head` stopped, it was looked up there).
        let step = if i == resume.at {
            first.take()
        } else if prepared.serves_hits() {
            prepared.serve_cached((&exchange).into()).await
        } else {
            None
        };
        // A rate limit the gateway decides itself (further down the chain, on the request as
        // the plugins before it left it).
        if step.is_none()
            && let Some(limit) = prepared
                .decide_limit((&exchange).into(), exchange.client_ip)
                .await
        {
            match decided(
                prepared,
                limit,
                &mut exchange.rate_limit_fields,
                spans,
                started,
            ) {
                Some(answer) => {
                    flow = Flow::Respond(answer);
                    break;
                }
                None => continue,
            }
        }
        let handed = match step {
            Some(CacheStep::Hit(response)) => {
                served_hit(prepared, spans, started);
                flow = Flow::Respond(into_response(response));
                break;
            }
            Some(CacheStep::Bypass) => continue,
            Some(CacheStep::Lookup(lookup)) => Some(lookup),
            None => None,
        };
        wants_response_body |= prepared.body_needs().response;
        let mut call = match prepared.start_async(exchange).await {
            Ok(call) => call,
            Err(failed) => {
                exchange = failed.exchange;
                flow = Flow::Failed(GatewayError::plugin_start(failed.error));
                spans.close("barbacane.middleware", started, |span| {
                    describe(span, prepared.name(), "request");
                    span.error = Some("the plugin could not start".into());
                });
                break;
            }
        };
        if let Some(lookup) = handed {
            call.hand_lookup(lookup);
        }
        let action = call.on_request_async().await;
        let guest = std::mem::take(&mut call.exchange_mut().guest_spans);
        let stats = prepared.stats();
        stats.middleware[0].observe_duration(call.elapsed_since(timer));
        if matches!(action, Ok(Action::Respond)) {
            stats.short_circuits.add(1);
        }
        let id = spans.close("barbacane.middleware", started, |span| {
            describe(span, prepared.name(), "request");
            match &action {
                Ok(Action::Respond) => span.attr("barbacane.short_circuit", true),
                Err(e) => span.error = Some(e.to_string()),
                Ok(Action::Continue) => {}
            }
        });
        spans.guest(id, guest);
        exchange = std::mem::take(call.exchange_mut());
        // A middleware with nothing to do on the response is done: its instance goes back
        // to the pool now instead of waiting for the response.
        let keep = |call: Call, calls: &mut Vec<Call>| {
            if call.skips_on_response() {
                drop(call.into_exchange());
            } else {
                calls.push(call);
            }
        };
        match action {
            Ok(Action::Continue) => keep(call, &mut calls),
            Ok(Action::Respond) => {
                keep(call, &mut calls);
                flow = Flow::Respond(into_response(exchange.response.take().unwrap_or_default()));
                break;
            }
            Err(e) => {
                // The failed instance's `on_response` does not run.
                flow = Flow::Failed(GatewayError::PluginFailed(e.to_string()));
                break;
            }
        }
    }
    parts.method = exchange.method;
    // Rebuilt only when a plugin changed the path or query.
    if let Some(pq) = exchange.uri.path_and_query()
        && parts.uri.path_and_query().map(|o| o.as_str()) != Some(pq.as_str())
    {
        let mut builder = http::Uri::builder().path_and_query(pq.clone());
        if let (Some(scheme), Some(authority)) = (parts.uri.scheme(), parts.uri.authority()) {
            builder = builder.scheme(scheme.clone()).authority(authority.clone());
        }
        if let Ok(uri) = builder.build() {
            parts.uri = uri;
        }
    }
    parts.headers = exchange.headers;
    *body = exchange.body;
    (
        Ran {
            calls,
            rate_limit_fields: exchange.rate_limit_fields,
            wants_response_body,
            context: exchange.context,
        },
        flow,
    )
}

/// Runs `on_response` in reverse. A plugin failing here is logged and its changes dropped:
/// the response goes out as it was before that plugin.
pub(crate) async fn on_response(
    ran: Ran,
    response: Response<Body>,
    spans: &mut Spans,
) -> Response<Body> {
    let Ran {
        mut calls,
        rate_limit_fields,
        wants_response_body,
        context,
    } = ran;
    if calls.is_empty() {
        return with_rate_limit_fields(response, &rate_limit_fields);
    }
    let (mut head, mut body) = response.into_parts();
    if wants_response_body && let Body::Streaming(incoming) = body {
        body = crate::body::buffer_response(incoming, RESPONSE_BODY_LIMIT).await;
    }
    let visible = match &body {
        Body::Full(bytes) => Some(bytes.clone().unwrap_or_default()),
        Body::Streaming(_) | Body::Resumed(..) | Body::Events(_) => None,
    };
    let mut state = ResponseState {
        status: head.status,
        headers: std::mem::take(&mut head.headers),
        body: visible.clone(),
    };
    let mut context = context;
    while let Some(mut call) = calls.pop() {
        let exchange = call.exchange_mut();
        exchange.response = Some(state.clone());
        exchange.context = std::mem::take(&mut context);
        let started = spans.mark();
        let timer = std::time::Instant::now();
        let outcome = call.on_response_async().await;
        call.stats().middleware[1].observe_duration(call.elapsed_since(timer));
        let guest = std::mem::take(&mut call.exchange_mut().guest_spans);
        let id = spans.close("barbacane.middleware", started, |span| {
            describe(span, call.name(), "response");
            if let Err(e) = &outcome {
                span.error = Some(e.to_string());
            }
        });
        spans.guest(id, guest);
        match outcome {
            Ok(()) => {
                let mut exchange = call.into_exchange();
                context = std::mem::take(&mut exchange.context);
                if let Some(changed) = exchange.response.take() {
                    state = changed;
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "middleware on_response failed; response left as it was");
                context = std::mem::take(&mut call.exchange_mut().context);
            }
        }
    }
    head.status = state.status;
    head.headers = state.headers;
    let body = match (body, state.body) {
        (Body::Full(_), Some(new)) => {
            if visible.as_ref() != Some(&new) {
                // The length an upstream announced is no longer the body's: hyper computes
                // it from the new body.
                head.headers.remove(http::header::CONTENT_LENGTH);
            }
            Body::Full(Some(new))
        }
        (body, _) => body,
    };
    with_rate_limit_fields(Response::from_parts(head, body), &rate_limit_fields)
}

/// Adds the reported rate-limit members to the response, latest report first (the order
/// `on_response` hooks running in reverse would give them). Each field stays one line: a
/// member joins the values already there (an upstream's own policies, say) as a further list
/// member.
fn with_rate_limit_fields(
    mut response: Response<Body>,
    fields: &[barbacane_wasm::RateLimitFields],
) -> Response<Body> {
    if fields.is_empty() {
        return response;
    }
    let headers = response.headers_mut();
    append_members(headers, &RATELIMIT_POLICY, fields, |f| &f.policy);
    append_members(headers, &RATELIMIT, fields, |f| &f.limit);
    response
}

static RATELIMIT_POLICY: http::HeaderName = http::HeaderName::from_static("ratelimit-policy");
static RATELIMIT: http::HeaderName = http::HeaderName::from_static("ratelimit");

fn append_members(
    headers: &mut http::HeaderMap,
    name: &http::HeaderName,
    fields: &[barbacane_wasm::RateLimitFields],
    member: fn(&barbacane_wasm::RateLimitFields) -> &http::HeaderValue,
) {
    // The usual case, one policy and no such field yet: the reported value as it is.
    if let [only] = fields
        && !headers.contains_key(name)
    {
        headers.insert(name.clone(), member(only).clone());
        return;
    }
    let mut line: Vec<u8> = Vec::new();
    let mut join = |value: &http::HeaderValue| {
        let value = value.as_bytes().trim_ascii();
        if value.is_empty() {
            return;
        }
        if !line.is_empty() {
            line.extend_from_slice(b", ");
        }
        line.extend_from_slice(value);
    };
    headers.get_all(name).iter().for_each(&mut join);
    fields.iter().rev().map(member).for_each(join);
    // Joined valid field values with `, `: still a valid value.
    if let Ok(value) = http::HeaderValue::from_bytes(&line) {
        headers.insert(name.clone(), value);
    }
}

/// Accounts a hit the gateway served for `prepared` as that middleware's short circuit (the
/// plugin did not run: the hit is not in its middleware time).
fn served_hit(prepared: &Prepared, spans: &mut Spans, started: u64) {
    prepared.stats().short_circuits.add(1);
    spans.close("barbacane.middleware", started, |span| {
        describe(span, prepared.name(), "request");
        span.attr("barbacane.short_circuit", true);
        span.attr("barbacane.cache_hit", true);
    });
}

/// A middleware span's attributes.
fn describe(span: &mut crate::otel::SpanData, plugin: &str, phase: &'static str) {
    span.name = format!("barbacane.middleware {plugin}").into();
    span.attr("barbacane.middleware", plugin.to_owned());
    span.attr("barbacane.phase", phase);
}

/// The largest response body buffered for middlewares that ask for bodies (the same bound
/// as request bodies given to plugins).
const RESPONSE_BODY_LIMIT: usize = 8 << 20;

fn into_response(state: ResponseState) -> Response<Body> {
    let mut response = Response::new(Body::Full(state.body.filter(|b| !b.is_empty())));
    *response.status_mut() = state.status;
    *response.headers_mut() = state.headers;
    response
}
