//! Run plugin logic natively, without a gateway (not available on `wasm32`).
//!
//! [`FakeHost`] plays the gateway's part: it holds one request (and optionally a
//! response) that the SDK's accessors read and write, records logs, context and outbound
//! calls, and answers outbound HTTP with a closure. It lives in a thread-local, so each
//! test thread has its own; creating a `FakeHost` resets it.
//!
//! ```
//! use barbacane_plugin_sdk::prelude::*;
//! use barbacane_plugin_sdk::testing::{FakeHost, middleware_from};
//!
//! #[barbacane_middleware]
//! #[derive(serde::Deserialize)]
//! struct Tag {
//!     value: String,
//! }
//!
//! impl Middleware for Tag {
//!     fn on_request(&mut self, request: &mut Request) -> Action {
//!         request.set_header("x-tag", &self.value).unwrap();
//!         Action::Continue
//!     }
//! }
//!
//! let mut plugin: Tag = middleware_from(&serde_json::json!({"value": "blue"})).unwrap();
//! let mut host = FakeHost::new();
//! assert_eq!(host.on_request(&mut plugin), Action::Continue);
//! assert_eq!(host.request_header("x-tag").as_deref(), Some("blue"));
//! assert!(middleware_from::<Tag>(&serde_json::json!({})).is_err());
//! ```

use std::marker::PhantomData;

use crate::host::fake::{FakeResponse, STATE, State};
use crate::http::{HttpError, HttpRequest, HttpResponse};
use crate::{Action, Dispatcher, Middleware, OutgoingResponse, Request, Response};

/// The gateway, faked for one test thread.
#[derive(Debug)]
pub struct FakeHost {
    // The state is thread-local: keep the handle on the thread that made it.
    _not_send: PhantomData<*const ()>,
}

impl Default for FakeHost {
    fn default() -> Self {
        FakeHost::new()
    }
}

fn with<R>(f: impl FnOnce(&mut State) -> R) -> R {
    STATE.with_borrow_mut(f)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Builds a middleware from a configuration as the gateway does: deserialize, then `init`.
pub fn middleware_from<M>(config: &serde_json::Value) -> Result<M, String>
where
    M: Middleware + serde::de::DeserializeOwned,
{
    build(config, M::init)
}

/// Builds a dispatcher from a configuration as the gateway does.
pub fn dispatcher_from<D>(config: &serde_json::Value) -> Result<D, String>
where
    D: Dispatcher + serde::de::DeserializeOwned,
{
    build(config, D::init)
}

fn build<T: serde::de::DeserializeOwned>(
    config: &serde_json::Value,
    init: fn(&mut T) -> Result<(), String>,
) -> Result<T, String> {
    let mut slot = None;
    let bytes = config.to_string();
    match crate::__private::init_from(&mut slot, bytes.as_bytes(), init) {
        0 => slot.ok_or_else(|| "init produced no plugin".to_owned()),
        _ => Err(with(|s| text(&s.output))),
    }
}

impl FakeHost {
    /// A fresh host holding `GET /` with no headers, no body and no response.
    pub fn new() -> FakeHost {
        with(|s| {
            *s = State {
                method: "GET".into(),
                path: "/".into(),
                now_ms: 1_700_000_000_000,
                ..State::default()
            }
        });
        FakeHost {
            _not_send: PhantomData,
        }
    }

    /// Sets the request method.
    pub fn method(&mut self, method: &str) -> &mut Self {
        with(|s| s.method = method.to_owned());
        self
    }

    /// Sets the request path.
    pub fn path(&mut self, path: &str) -> &mut Self {
        with(|s| s.path = path.to_owned());
        self
    }

    /// Sets the query string (without `?`).
    pub fn query(&mut self, query: &str) -> &mut Self {
        with(|s| s.query = Some(query.to_owned()));
        self
    }

    /// Adds a request header value.
    pub fn header(&mut self, name: &str, value: &str) -> &mut Self {
        with(|s| {
            s.headers
                .push((name.to_ascii_lowercase(), value.as_bytes().to_vec()))
        });
        self
    }

    /// Makes the request body visible to the plugin.
    pub fn body(&mut self, body: &[u8]) -> &mut Self {
        with(|s| s.body = Some(body.to_vec()));
        self
    }

    /// Sets a context value, as an earlier plugin would.
    pub fn context(&mut self, key: &str, value: &str) -> &mut Self {
        with(|s| s.context.insert(key.to_owned(), value.to_owned()));
        self
    }

    /// Sets the clock (`clock::now_ms`).
    pub fn now_ms(&mut self, now: i64) -> &mut Self {
        with(|s| s.now_ms = now);
        self
    }

    /// Makes a secret reference resolvable.
    pub fn secret(&mut self, reference: &str, value: &str) -> &mut Self {
        with(|s| {
            s.secrets
                .insert(reference.to_owned(), value.as_bytes().to_vec())
        });
        self
    }

    /// Answers outbound HTTP calls with `handler`.
    pub fn http(
        &mut self,
        handler: impl FnMut(&HttpRequest) -> Result<HttpResponse, HttpError> + 'static,
    ) -> &mut Self {
        with(|s| s.http = Some(Box::new(handler)));
        self
    }

    /// Sets the response `on_response` will see (as a dispatcher would have produced).
    pub fn response(&mut self, status: u16, headers: &[(&str, &str)], body: &[u8]) -> &mut Self {
        with(|s| {
            s.response = Some(FakeResponse {
                status,
                headers: headers
                    .iter()
                    .map(|(n, v)| (n.to_ascii_lowercase(), v.as_bytes().to_vec()))
                    .collect(),
                body: Some(body.to_vec()),
            })
        });
        self
    }

    /// Runs `on_request`. A `Respond` is also written into the host's response, as the
    /// gateway does.
    pub fn on_request<M: Middleware>(&mut self, plugin: &mut M) -> Action {
        let action = plugin.on_request(&mut Request::host());
        if let Action::Respond(response) = &action {
            crate::__private::write_response(response);
        }
        action
    }

    /// Runs `on_response` over the response set with [`FakeHost::response`] (an empty 200
    /// when none was).
    pub fn on_response<M: Middleware>(&mut self, plugin: &mut M) {
        with(|s| {
            s.response.get_or_insert_with(|| FakeResponse {
                status: 200,
                headers: Vec::new(),
                body: Some(Vec::new()),
            });
        });
        plugin.on_response(&mut Response::host());
    }

    /// Runs `dispatch`.
    pub fn dispatch<D: Dispatcher>(&mut self, plugin: &mut D) -> OutgoingResponse {
        plugin.dispatch(&mut Request::host())
    }

    /// The request method now.
    pub fn request_method(&self) -> String {
        with(|s| s.method.clone())
    }

    /// The request path now.
    pub fn request_path(&self) -> String {
        with(|s| s.path.clone())
    }

    /// The query string now.
    pub fn request_query(&self) -> Option<String> {
        with(|s| s.query.clone())
    }

    /// The first value of a request header now.
    pub fn request_header(&self, name: &str) -> Option<String> {
        self.request_headers(name).into_iter().next()
    }

    /// Every value of a request header now.
    pub fn request_headers(&self, name: &str) -> Vec<String> {
        let name = name.to_ascii_lowercase();
        with(|s| {
            s.headers
                .iter()
                .filter(|(n, _)| *n == name)
                .map(|(_, v)| text(v))
                .collect()
        })
    }

    /// The request body now.
    pub fn request_body(&self) -> Option<Vec<u8>> {
        with(|s| s.body.clone())
    }

    /// The response status, if there is a response.
    pub fn response_status(&self) -> Option<u16> {
        with(|s| s.response.as_ref().map(|r| r.status))
    }

    /// The first value of a response header.
    pub fn response_header(&self, name: &str) -> Option<String> {
        self.response_headers(name).into_iter().next()
    }

    /// Every value of a response header.
    pub fn response_headers(&self, name: &str) -> Vec<String> {
        let name = name.to_ascii_lowercase();
        with(|s| {
            s.response
                .as_ref()
                .map(|r| {
                    r.headers
                        .iter()
                        .filter(|(n, _)| *n == name)
                        .map(|(_, v)| text(v))
                        .collect()
                })
                .unwrap_or_default()
        })
    }

    /// The response body.
    pub fn response_body(&self) -> Option<Vec<u8>> {
        with(|s| s.response.as_ref().and_then(|r| r.body.clone()))
    }

    /// A context value.
    pub fn context_value(&self, key: &str) -> Option<String> {
        with(|s| s.context.get(key).cloned())
    }

    /// What the plugin logged: `(level, message)`, level 0 error .. 3 debug.
    pub fn logs(&self) -> Vec<(i32, String)> {
        with(|s| s.logs.clone())
    }

    /// The outbound requests made so far (bodies included).
    pub fn http_calls(&self) -> Vec<HttpRequest> {
        with(|s| s.http_calls.clone())
    }
}
