//! Per-request state the host keeps while plugins run; guests reach it only through host
//! functions.

use bytes::Bytes;
use http::{HeaderMap, Method, StatusCode, Uri};
use std::collections::BTreeMap;
use std::sync::Arc;
use wasmtime::StoreLimits;

use crate::HttpClient;

/// The request/response exchange as plugins see and change it. Headers are real
/// `HeaderMap`s: repeated headers survive the round trip.
#[derive(Debug, Clone, Default)]
pub struct ExchangeState {
    /// Request method.
    pub method: Method,
    /// Request target (path and query).
    pub uri: Uri,
    /// Request headers.
    pub headers: HeaderMap,
    /// The request body, when the gateway has it buffered (`None`: streamed, not visible).
    pub body: Option<Bytes>,
    /// The response: set by a dispatcher or a short-circuiting middleware, or filled in by
    /// the gateway before `on_response`.
    pub response: Option<ResponseState>,
    /// Context shared along the chain (`barbacane:context`).
    pub context: BTreeMap<String, String>,
    /// The address of the connection's peer (`barbacane:request.client_ip`).
    pub client_ip: Option<std::net::IpAddr>,
    /// The route's template variables as matched (decoded), for
    /// `barbacane:request.path_param`.
    pub path_params: Vec<(String, String)>,
    /// The request is traced: `barbacane:telemetry.span_start` records spans.
    pub traced: bool,
    /// Spans the plugin of the current hook recorded; the gateway takes them after the hook.
    pub guest_spans: Vec<GuestSpan>,
    /// Rate-limit fields plugins reported (`barbacane:ratelimit.report`), in report order;
    /// the gateway adds them to the response after the `on_response` chain.
    pub rate_limit_fields: Vec<RateLimitFields>,
}

/// One policy's members of the `RateLimit-Policy` and `RateLimit` response fields
/// (draft-ietf-httpapi-ratelimit-headers), as a plugin reported them.
#[derive(Debug, Clone)]
pub struct RateLimitFields {
    /// The `RateLimit-Policy` member (`"default";q=100;w=10`).
    pub policy: http::HeaderValue,
    /// The `RateLimit` member (`"default";r=99;t=10`).
    pub limit: http::HeaderValue,
}

/// A span a plugin recorded (`barbacane:telemetry`).
#[derive(Debug, Clone)]
pub struct GuestSpan {
    /// Its name as the plugin gave it.
    pub name: String,
    /// When `span_start` was called.
    pub start: std::time::Instant,
    /// When `span_end` was called (`None`: the hook returned first; it ends there).
    pub end: Option<std::time::Instant>,
    /// Attributes, in order.
    pub attributes: Vec<(String, String)>,
}

/// A response as plugins see it.
#[derive(Debug, Clone, Default)]
pub struct ResponseState {
    /// Status.
    pub status: StatusCode,
    /// Headers.
    pub headers: HeaderMap,
    /// Body, when known (`None`: streamed, not visible).
    pub body: Option<Bytes>,
}

/// The data of a wasmtime store: one plugin instance, serving one request at a time.
pub(crate) struct HostState {
    pub(crate) plugin: String,
    pub(crate) exchange: ExchangeState,
    /// The last variable-length result, read by `barbacane:core.result_read`.
    pub(crate) result: Vec<u8>,
    /// What the guest passed to `barbacane:core.set_output`.
    pub(crate) output: Vec<u8>,
    pub(crate) limits: StoreLimits,
    /// The gateway's client, for plugins that declare `http`.
    pub(crate) http: Option<Arc<dyn HttpClient>>,
    /// The gateway's quotas, for plugins that declare `ratelimit`.
    pub(crate) limiter: Option<Arc<dyn crate::RateLimiter>>,
    /// The body of the last `barbacane:http.call` response.
    pub(crate) http_body: Option<Bytes>,
    /// The guest's exported memory (resolved once per instance, read by every host call).
    pub(crate) memory: Option<wasmtime::Memory>,
    /// True while `init` runs (outbound calls are refused then).
    pub(crate) in_init: bool,
    /// The gateway's response cache and this artifact's namespace in it, for plugins that
    /// declare `cache`.
    pub(crate) cache: Option<(Arc<crate::SharedCache>, Arc<crate::cache::KeySpace>)>,
    /// The gateway's broker clients, for plugins that declare `nats` or `kafka`.
    pub(crate) events: Option<Arc<dyn crate::EventBus>>,
    /// The artifact's resolved secrets, for plugins that declare `secrets`.
    pub(crate) secrets: Option<Arc<crate::Secrets>>,
    /// The artifact's compiled Rego policies, for plugins that declare `policy`.
    pub(crate) policies: Option<Arc<crate::PolicySet>>,
    /// The key this request is filling (`barbacane:cache.lookup` missed first).
    pub(crate) cache_lease: Option<crate::cache::Lease>,
    /// The gateway's own lookup for this request (`cache.serve_hits`), for the plugin's
    /// `lookup` of the same key.
    pub(crate) cache_pre: Option<crate::cache_hits::PreLookup>,
    /// The key rule `cache.serve_hits` declared during `init`.
    pub(crate) hit_rule: Option<Arc<crate::cache_hits::HitRule>>,
    /// The policy `ratelimit.host_policy` declared during `init`.
    pub(crate) limit_rule: Option<Arc<crate::limit_rule::LimitRule>>,
    /// What `core.buffer_bodies` asked for during `init` (bit 0 request, bit 1 response).
    pub(crate) body_flags: u8,
    /// Epoch ticks each guest call may run (reset after an outbound call returns).
    pub(crate) deadline_ticks: u64,
    /// The plugin's statistics (its own metrics go there).
    pub(crate) stats: Option<Arc<crate::stats::PluginStats>>,
    /// `barbacane:core.skip_on_response` was called during this request's `on_request`.
    pub(crate) skip_on_response: bool,
    /// A buffer host functions reuse across calls (a rate-limit bucket's name).
    pub(crate) scratch: String,
}

impl HostState {
    /// Forgets everything about the request just served: the exchange (headers, body,
    /// context), the last result, the output and the last outbound response. What the
    /// instance keeps is its guest memory; the host keeps nothing of a request.
    pub(crate) fn reset(&mut self) {
        self.exchange = ExchangeState::default();
        // Small buffers keep their capacity for the next request; large ones are let go.
        self.result.clear();
        self.result.shrink_to(16 << 10);
        self.output.clear();
        self.output.shrink_to(16 << 10);
        self.http_body = None;
        self.cache_lease = None;
        self.cache_pre = None;
        self.in_init = false;
        self.skip_on_response = false;
    }

    /// Stores a result and returns its length for the guest.
    pub(crate) fn give(&mut self, bytes: impl Into<Vec<u8>>) -> i32 {
        self.result = bytes.into();
        i32::try_from(self.result.len()).unwrap_or(i32::MAX)
    }
}
