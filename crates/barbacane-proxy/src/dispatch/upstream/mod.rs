//! The native `http-upstream` dispatcher: a streaming reverse proxy.
//!
//! Native rather than WASM because it is the hot path: bodies stream in both directions
//! without buffering, connections are pooled per TLS setup, and the only per-request work is
//! building the upstream URI and rewriting a few headers.
//!
//! Config: `url` (required), `path` (template with `{param}` filled from path parameters;
//! default: the request's normalized path), `timeout` (seconds until the response head,
//! default 30), `http2` (HTTP/2 only, prior knowledge on cleartext; default: ALPN on TLS,
//! HTTP/1.1 on cleartext), `tls` (`client_cert`, `client_key`, `ca`), `circuit_breaker`
//! (`threshold`, `window`).

mod breaker;
pub(crate) mod client;
mod headers;
mod pool;

use http::uri::{Authority, PathAndQuery, Scheme};
use http::{Request, Response, Uri};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::Value;
use std::path::PathBuf;
use std::time::Duration;

use crate::dispatch::DispatchRequest;
use crate::{Body, GatewayError};
use breaker::{Admission, Breaker, Outcome};
pub(crate) use client::{ClientHandle, TlsSettings, client_for, roots};

/// Characters left alone when a path parameter is put into the upstream path (RFC 3986
/// unreserved); everything else is percent-encoded, so a value can never add a segment.
const PARAM_ENCODE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

#[derive(Debug)]
pub(crate) struct Upstream {
    scheme: Scheme,
    authority: Authority,
    /// Path of `url` without a trailing slash (`""` for the root).
    base_path: String,
    template: Option<Vec<Piece>>,
    timeout: Duration,
    client: ClientHandle,
    breaker: Option<Breaker>,
    /// The `Host` of every request, for upstreams spoken to in HTTP/1.1 (cleartext without
    /// `http2`): the value the client would otherwise format per request.
    host: Option<http::HeaderValue>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Literal(String),
    /// `{name}`: the value as one segment (a `/` in it is encoded).
    Param(String),
    /// `{name+}`: a greedy parameter's value, its `/`s kept, each segment encoded.
    Rest(String),
}

impl Upstream {
    /// `server.address`, `server.port` and `url.scheme` of the upstream on the dispatch span.
    pub(crate) fn describe(&self, span: &mut crate::otel::SpanData) {
        span.attr("server.address", self.authority.host().to_owned());
        if let Some(port) = self.authority.port_u16() {
            span.attr("server.port", i64::from(port));
        }
        span.attr("url.scheme", self.scheme.as_str().to_owned());
    }

    pub(crate) fn build(config: &Value) -> Result<Upstream, String> {
        let url = config
            .get("url")
            .and_then(Value::as_str)
            .ok_or("http-upstream needs `url`")?;
        let uri: Uri = url
            .parse()
            .map_err(|e| format!("http-upstream url `{url}` is invalid: {e}"))?;
        let scheme = uri
            .scheme()
            .cloned()
            .ok_or("http-upstream url needs http:// or https://")?;
        if scheme != Scheme::HTTP && scheme != Scheme::HTTPS {
            return Err(format!(
                "http-upstream url scheme `{scheme}` is not http or https"
            ));
        }
        let authority = uri
            .authority()
            .cloned()
            .ok_or("http-upstream url needs a host")?;
        let timeout = match config.get("timeout") {
            None => Duration::from_secs(30),
            Some(v) => v
                .as_f64()
                .filter(|t| *t > 0.0)
                .and_then(|t| Duration::try_from_secs_f64(t).ok())
                .ok_or("http-upstream timeout must be a positive number of seconds")?,
        };
        let template = config
            .get("path")
            .and_then(Value::as_str)
            .map(parse_template)
            .transpose()?;
        let tls = config
            .get("tls")
            .map(tls_settings)
            .transpose()?
            .unwrap_or_default();
        let http2 = config
            .get("http2")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let breaker = config
            .get("circuit_breaker")
            .map(|b| {
                let threshold = b.get("threshold").and_then(Value::as_u64).unwrap_or(5);
                let window = b.get("window").and_then(Value::as_f64).unwrap_or(30.0);
                let window = Duration::try_from_secs_f64(window).map_err(|_| {
                    format!("circuit_breaker window {window} is not a usable duration")
                })?;
                Ok::<_, String>(Breaker::new(
                    u32::try_from(threshold).unwrap_or(u32::MAX),
                    window,
                ))
            })
            .transpose()?;
        // As hyper's client writes it: the host, and the port unless it is the scheme's own.
        let host = match authority.port_u16() {
            Some(port) if !matches!((scheme.as_str(), port), ("http", 80) | ("https", 443)) => {
                format!("{}:{port}", authority.host())
            }
            _ => authority.host().to_owned(),
        };
        let host = (scheme == Scheme::HTTP && !http2)
            .then(|| http::HeaderValue::from_str(&host).ok())
            .flatten();
        Ok(Upstream {
            host,
            base_path: uri.path().trim_end_matches('/').to_owned(),
            scheme,
            authority,
            template,
            timeout,
            client: client_for(&tls, http2)?,
            breaker,
        })
    }

    /// Sends `request` upstream. Everything up to handing the request to the client runs
    /// here, synchronously: the future returned holds only what waiting for the response
    /// needs, since it is part of every proxied request's state and is moved by value.
    pub(crate) fn forward(
        &self,
        request: DispatchRequest<'_>,
    ) -> impl Future<Output = Result<Response<Body>, GatewayError>> + Send {
        let body_limit = request.body_limit;
        // The guard reports the outcome; if the future is dropped mid-flight (client gone),
        // or the request never leaves, its drop releases a probe slot instead of wedging the
        // breaker half-open.
        let guard = match &self.breaker {
            None => Ok(None),
            Some(breaker) => match breaker.admit() {
                Admission::Reject => Err(GatewayError::CircuitOpen),
                admission => Ok(Some(breaker.guard(admission))),
            },
        };
        let sent = guard.and_then(|guard| Ok((guard, self.send(request)?)));
        async move {
            let (guard, sent) = sent?;
            let result = match tokio::time::timeout(self.timeout, sent).await {
                Err(_) => Err(GatewayError::UpstreamTimeout),
                Ok(Err(e)) => Err(classify(e, body_limit)),
                Ok(Ok(response)) => {
                    let (mut head, incoming) = response.into_parts();
                    headers::strip_hop_by_hop(&mut head.headers);
                    Ok(Response::from_parts(head, Body::Streaming(incoming)))
                }
            };
            if let Some(guard) = guard {
                guard.finish(match &result {
                    Ok(r) if r.status().is_server_error() => Outcome::Failure,
                    Ok(_) => Outcome::Success,
                    Err(GatewayError::BadGateway(_) | GatewayError::UpstreamTimeout) => {
                        Outcome::Failure
                    }
                    // The client's own faults (an oversized body...) say nothing about the
                    // upstream.
                    Err(_) => Outcome::Neutral,
                });
            }
            result
        }
    }

    /// Builds the upstream request and hands it to this thread's client.
    fn send(&self, request: DispatchRequest<'_>) -> Result<pool::Exchange, GatewayError> {
        let DispatchRequest {
            mut parts,
            body,
            path,
            params,
            peer,
            request_id,
            ..
        } = request;
        // Exactly the length when there is no template: a `String` whose length is its
        // capacity becomes the URI's bytes without another allocation.
        let query_len = parts.uri.query().map_or(0, |q| q.len() + 1);
        let mut target = String::with_capacity(
            self.base_path.len()
                + path.len().max(1)
                + query_len
                + if self.template.is_some() { 32 } else { 0 },
        );
        target.push_str(&self.base_path);
        match &self.template {
            Some(pieces) => {
                for piece in pieces {
                    match piece {
                        Piece::Literal(l) => target.push_str(l),
                        Piece::Param(name) => {
                            let value = params(name).unwrap_or_default();
                            target.extend(utf8_percent_encode(value, PARAM_ENCODE));
                        }
                        Piece::Rest(name) => {
                            // Segments of a normalized path: never `.` or `..`.
                            let value = params(name).unwrap_or_default();
                            for (i, segment) in value.split('/').enumerate() {
                                if i > 0 {
                                    target.push('/');
                                }
                                target.extend(utf8_percent_encode(segment, PARAM_ENCODE));
                            }
                        }
                    }
                }
            }
            None => target.push_str(&path),
        }
        if target.is_empty() {
            target.push('/');
        }
        if let Some(q) = parts.uri.query() {
            target.push('?');
            target.push_str(q);
        }
        let path_and_query = PathAndQuery::try_from(target)
            .map_err(|e| GatewayError::Internal(format!("upstream path: {e}")))?;
        let uri = Uri::builder()
            .scheme(self.scheme.clone())
            .authority(self.authority.clone())
            .path_and_query(path_and_query)
            .build()
            .map_err(|e| GatewayError::Internal(format!("upstream uri: {e}")))?;
        headers::forward_request(
            &mut parts.headers,
            peer,
            parts.uri.authority().map(Authority::as_str),
        );
        parts.headers.insert(
            crate::phases::finish::X_REQUEST_ID.clone(),
            request_id.clone(),
        );
        if let Some(host) = &self.host {
            parts.headers.insert(http::header::HOST, host.clone());
        }
        parts.uri = uri;
        // The client picks the wire version per connection (ALPN or http2-only).
        parts.version = http::Version::HTTP_11;
        let outgoing = Request::from_parts(parts, body);
        Ok(self.client.request(outgoing))
    }
}

/// A body over the limit while streaming is the client's fault (413); anything else is the
/// upstream's (502).
fn classify(e: pool::ClientError, limit: u64) -> GatewayError {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&e);
    while let Some(err) = source {
        if err.is::<http_body_util::LengthLimitError>() {
            return GatewayError::BodyTooLarge { limit };
        }
        source = err.source();
    }
    GatewayError::BadGateway(error_chain(&e))
}

/// The error and its sources in one line (hyper-util's top-level message alone says only
/// "client error").
pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

fn parse_template(template: &str) -> Result<Vec<Piece>, String> {
    let mut pieces = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let close = rest[open..]
            .find('}')
            .map(|c| open + c)
            .ok_or_else(|| format!("unclosed `{{` in path `{template}`"))?;
        if open > 0 {
            pieces.push(Piece::Literal(rest[..open].to_owned()));
        }
        let name = &rest[open + 1..close];
        if name.is_empty() {
            return Err(format!("empty `{{}}` in path `{template}`"));
        }
        pieces.push(match name.strip_suffix('+') {
            Some(greedy) if !greedy.is_empty() => Piece::Rest(greedy.to_owned()),
            _ => Piece::Param(name.to_owned()),
        });
        rest = &rest[close + 1..];
    }
    if !rest.is_empty() {
        pieces.push(Piece::Literal(rest.to_owned()));
    }
    if !template.starts_with('/') {
        return Err(format!("path `{template}` must start with `/`"));
    }
    Ok(pieces)
}

fn tls_settings(v: &Value) -> Result<TlsSettings, String> {
    let path = |key: &str| v.get(key).and_then(Value::as_str).map(PathBuf::from);
    if !v.is_object() {
        return Err("http-upstream `tls` must be a mapping".into());
    }
    Ok(TlsSettings {
        client_cert: path("client_cert"),
        client_key: path("client_key"),
        ca: path("ca"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_parse() {
        assert_eq!(
            parse_template("/users/{id}/x{n}").unwrap(),
            vec![
                Piece::Literal("/users/".into()),
                Piece::Param("id".into()),
                Piece::Literal("/x".into()),
                Piece::Param("n".into())
            ]
        );
        assert!(parse_template("/a/{").is_err());
        assert!(parse_template("/a/{}").is_err());
        assert!(parse_template("a").is_err());
    }

    #[test]
    fn the_host_of_cleartext_http1_upstreams_is_set_once() {
        let host = |url: &str, http2: bool| {
            Upstream::build(&serde_json::json!({"url": url, "http2": http2}))
                .unwrap()
                .host
                .map(|h| h.to_str().unwrap().to_owned())
        };
        assert_eq!(
            host("http://up.example/base", false).as_deref(),
            Some("up.example")
        );
        assert_eq!(
            host("http://up.example:80", false).as_deref(),
            Some("up.example")
        );
        assert_eq!(
            host("http://[::1]:8080", false).as_deref(),
            Some("[::1]:8080")
        );
        // Left to the client where the protocol is chosen per connection or is HTTP/2.
        assert_eq!(host("https://up.example", false), None);
        assert_eq!(host("http://up.example", true), None);
    }

    #[test]
    fn parameters_cannot_add_segments() {
        let encoded: String = utf8_percent_encode("a/../b c", PARAM_ENCODE).collect();
        assert_eq!(encoded, "a%2F..%2Fb%20c");
    }
}
