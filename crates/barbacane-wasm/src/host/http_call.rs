//! `barbacane:http`: `call(head_ptr, head_len, body_ptr, body_len) -> i32` and
//! `response_body() -> i32`.
//!
//! `call` takes a JSON head (`{"method", "url", "headers": [[name, value], ...],
//! "timeout_ms"}`) and the body bytes, and puts a JSON result in the result slot: `{"status",
//! "headers"}` or `{"error": {"kind", "message"}}`; it returns the result's length. The body
//! of the last response is then read with `response_body` (-1 when there is none).
//!
//! The call is asynchronous: the guest is suspended on its fiber while the gateway's client
//! awaits, and the time spent waiting does not count against the plugin's 100 ms budget
//! (the deadline is reset when the answer arrives).
//!
//! `send_detached(head_ptr, head_len, body_ptr, body_len) -> i32` hands the same request to
//! the gateway to deliver in the background (`fire-and-forget`): 0 when it was queued, -1
//! when the background queue is full (the request is dropped, counted and logged), -2 when
//! the request is invalid. See [`crate::background`].

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method, Uri};
use serde::Deserialize;
use serde_json::json;
use std::time::Duration;
use wasmtime::{AsContextMut, Caller, Linker};

use crate::memory::read_bytes;
use crate::outbound::{
    DEFAULT_TIMEOUT, MAX_TIMEOUT, OutboundError, OutboundRequest, OutboundResponse,
};
use crate::state::HostState;

const MODULE: &str = "barbacane:http";

pub(crate) fn add_to_linker(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    linker.func_wrap_async(
        MODULE,
        "call",
        |mut caller: Caller<'_, HostState>, (hptr, hlen, bptr, blen): (i32, i32, i32, i32)| {
            Box::new(async move {
                let head = read_bytes(&mut caller, hptr, hlen)?;
                let body = read_bytes(&mut caller, bptr, blen)?;
                let outcome = match prepare(&caller, &head, body) {
                    Ok((client, request)) => client.send(request).await,
                    Err(e) => Err(e),
                };
                // Waiting on the network is not the plugin's compute time.
                let ticks = caller.data().deadline_ticks;
                caller.as_context_mut().set_epoch_deadline(ticks);
                let result = encode(caller.data_mut(), outcome);
                Ok(caller.data_mut().give(result))
            })
        },
    )?;
    linker.func_wrap(
        MODULE,
        "send_detached",
        |mut caller: Caller<'_, HostState>,
         hptr: i32,
         hlen: i32,
         bptr: i32,
         blen: i32|
         -> wasmtime::Result<i32> {
            let head = read_bytes(&mut caller, hptr, hlen)?;
            let body = read_bytes(&mut caller, bptr, blen)?;
            let plugin = caller.data().plugin.clone();
            Ok(match prepare(&caller, &head, body) {
                Ok((client, request)) => match crate::background::deliver(&plugin, client, request) {
                    true => 0,
                    false => -1,
                },
                Err(e) => {
                    tracing::warn!(plugin = %plugin, error = %e.message(), "detached request refused");
                    -2
                }
            })
        },
    )?;
    linker.func_wrap(
        MODULE,
        "response_body",
        |mut c: Caller<'_, HostState>| match c.data().http_body.clone() {
            Some(body) => c.data_mut().give(body.to_vec()),
            None => -1,
        },
    )?;
    Ok(())
}

#[derive(Deserialize)]
struct Head {
    method: String,
    url: String,
    #[serde(default)]
    headers: Vec<(String, String)>,
    timeout_ms: Option<u64>,
}

type Prepared = (std::sync::Arc<dyn crate::HttpClient>, OutboundRequest);

fn prepare(
    caller: &Caller<'_, HostState>,
    head: &[u8],
    body: Vec<u8>,
) -> Result<Prepared, OutboundError> {
    let state = caller.data();
    if state.in_init {
        return Err(OutboundError::Invalid(
            "outbound calls are not allowed during init".into(),
        ));
    }
    let Some(client) = state.http.clone() else {
        return Err(OutboundError::Invalid(
            "this gateway gives plugins no HTTP client".into(),
        ));
    };
    let head: Head = serde_json::from_slice(head)
        .map_err(|e| OutboundError::Invalid(format!("malformed request head: {e}")))?;
    let method = Method::from_bytes(head.method.as_bytes())
        .map_err(|_| OutboundError::Invalid(format!("invalid method `{}`", head.method)))?;
    let uri: Uri = head
        .url
        .parse()
        .map_err(|_| OutboundError::Invalid(format!("invalid URL `{}`", head.url)))?;
    if !matches!(uri.scheme_str(), Some("http" | "https")) || uri.host().is_none() {
        return Err(OutboundError::Invalid(format!(
            "`{}` is not an absolute http(s) URL",
            head.url
        )));
    }
    let mut headers = HeaderMap::with_capacity(head.headers.len());
    for (name, value) in head.headers {
        let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(&value),
        ) else {
            return Err(OutboundError::Invalid(format!("invalid header `{name}`")));
        };
        headers.append(n, v);
    }
    let timeout = head
        .timeout_ms
        .map_or(DEFAULT_TIMEOUT, Duration::from_millis)
        .min(MAX_TIMEOUT);
    Ok((
        client,
        OutboundRequest {
            method,
            uri,
            headers,
            body: Bytes::from(body),
            timeout,
        },
    ))
}

fn encode(state: &mut HostState, outcome: Result<OutboundResponse, OutboundError>) -> Vec<u8> {
    match outcome {
        Ok(response) => {
            state.http_body = Some(response.body);
            let headers: Vec<(&str, String)> = response
                .headers
                .iter()
                .map(|(n, v)| {
                    (
                        n.as_str(),
                        String::from_utf8_lossy(v.as_bytes()).into_owned(),
                    )
                })
                .collect();
            json!({"status": response.status.as_u16(), "headers": headers})
        }
        Err(error) => {
            state.http_body = None;
            json!({"error": {"kind": error.kind(), "message": error.message()}})
        }
    }
    .to_string()
    .into_bytes()
}
