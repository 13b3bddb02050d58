//! What the `kafka` and `nats` dispatchers share.
//!
//! - [`Template`]: a subject, topic or key built from the request. Either a whole-value
//!   expression, `$request.header.NAME` or `$request.path.NAME` (the reference
//!   implementation's syntax), or text in which `{NAME}` is the route's template
//!   variable `NAME` (so `orders.{region}` follows the channel address `/orders/{region}`).
//! - [`AckResponse`]: what the client gets once the broker acknowledged (`202` with
//!   `{"status": "accepted"}` unless configured), optionally with the broker's metadata.
//! - [`forwarded_headers`]: the request headers named by `headers_from_request`, plus the
//!   request's `Content-Type`.
//! - [`failure`]: a failed publish as an RFC 9457 problem: `503
//!   urn:barbacane:error:broker-unavailable` (unreachable, or no acknowledgement in time,
//!   with `Retry-After: 1`), `502 urn:barbacane:error:broker-rejected`, or `500` for a
//!   message that cannot be sent as configured.

use barbacane_plugin_sdk::events::{Ack, PublishError, PublishErrorKind};
use barbacane_plugin_sdk::{OutgoingResponse, Request};
use serde::Deserialize;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// A value computed from the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Template {
    /// `$request.header.NAME`: the header's first value.
    Header(String),
    /// `$request.path.NAME`: the route's template variable.
    Path(String),
    /// Text with `{NAME}` template variables.
    Text(Vec<Piece>),
}

/// A piece of a [`Template::Text`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    /// Literal text.
    Literal(String),
    /// `{NAME}`.
    Param(String),
}

impl Template {
    /// Parses a configured value; an unterminated `{` or an empty name is an error.
    pub fn parse(raw: &str) -> Result<Template, String> {
        for (prefix, make) in [
            (
                "$request.header.",
                Template::Header as fn(String) -> Template,
            ),
            ("$request.path.", Template::Path),
        ] {
            if let Some(name) = raw.strip_prefix(prefix) {
                if name.is_empty() {
                    return Err(format!("`{raw}` names nothing"));
                }
                return Ok(make(name.to_owned()));
            }
        }
        let mut pieces = Vec::new();
        let mut rest = raw;
        while let Some(open) = rest.find('{') {
            if open > 0 {
                pieces.push(Piece::Literal(rest[..open].to_owned()));
            }
            let after = &rest[open + 1..];
            let close = after
                .find('}')
                .ok_or_else(|| format!("`{raw}`: `{{` without `}}`"))?;
            let name = &after[..close];
            if name.is_empty() {
                return Err(format!("`{raw}`: empty `{{}}`"));
            }
            pieces.push(Piece::Param(name.to_owned()));
            rest = &after[close + 1..];
        }
        if !rest.is_empty() {
            pieces.push(Piece::Literal(rest.to_owned()));
        }
        Ok(Template::Text(pieces))
    }

    /// Whether the value is the same for every request.
    pub fn is_constant(&self) -> bool {
        matches!(self, Template::Text(p) if p.iter().all(|p| matches!(p, Piece::Literal(_))))
    }

    /// The value for `request`; `Err(name)` names what the request lacks.
    pub fn render(&self, request: &Request) -> Result<String, String> {
        match self {
            Template::Header(name) => request
                .header(name)
                .ok_or_else(|| format!("header `{name}`")),
            Template::Path(name) => request
                .path_param(name)
                .ok_or_else(|| format!("path parameter `{name}`")),
            Template::Text(pieces) => {
                let mut out = String::new();
                for piece in pieces {
                    match piece {
                        Piece::Literal(text) => out.push_str(text),
                        Piece::Param(name) => out.push_str(
                            &request
                                .path_param(name)
                                .ok_or_else(|| format!("path parameter `{name}`"))?,
                        ),
                    }
                }
                Ok(out)
            }
        }
    }
}

/// `ack_response`: the answer once the broker acknowledged.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AckResponse {
    /// JSON body (default `{"status": "accepted"}`).
    #[serde(default)]
    pub body: Option<Value>,
    /// Extra headers.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Status (default 202; our addition).
    #[serde(default)]
    pub status: Option<u16>,
}

impl AckResponse {
    /// The response for an acknowledged publish; with `metadata`, the broker's fields
    /// (`partition` and `offset`, or `stream` and `sequence`) are added to an object body.
    pub fn respond(&self, ack: &Ack, metadata: bool) -> OutgoingResponse {
        let mut body = self
            .body
            .clone()
            .unwrap_or_else(|| serde_json::json!({"status": "accepted"}));
        if metadata && let Value::Object(map) = &mut body {
            add_metadata(map, ack);
        }
        let mut response = OutgoingResponse::new(self.status.unwrap_or(202))
            .header("content-type", "application/json")
            .body(body.to_string());
        for (name, value) in &self.headers {
            response = response.header(name.as_str(), value.as_str());
        }
        response
    }
}

fn add_metadata(map: &mut Map<String, Value>, ack: &Ack) {
    let fields = [
        ("partition", ack.partition.map(Value::from)),
        ("offset", ack.offset.map(Value::from)),
        ("stream", ack.stream.clone().map(Value::from)),
        ("sequence", ack.sequence.map(Value::from)),
    ];
    for (name, value) in fields {
        if let Some(v) = value {
            map.insert(name.into(), v);
        }
    }
}

/// The request headers to pass on: each of `names` present on the request (every value),
/// then the request's `Content-Type` unless `names` already has it.
pub fn forwarded_headers(request: &Request, names: &[String]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for name in names {
        for value in request.header_values(name) {
            out.push((name.to_ascii_lowercase(), value));
        }
    }
    if !names.iter().any(|n| n.eq_ignore_ascii_case("content-type"))
        && let Some(ct) = request.header("content-type")
    {
        out.push(("content-type".into(), ct));
    }
    out
}

/// A failed publish as the client's answer.
pub fn failure(broker: &str, error: &PublishError) -> OutgoingResponse {
    match error.kind {
        PublishErrorKind::Unavailable | PublishErrorKind::Timeout => {
            let detail = if error.kind == PublishErrorKind::Timeout {
                format!("The {broker} broker did not acknowledge the message in time.")
            } else {
                format!("The {broker} broker cannot be reached.")
            };
            OutgoingResponse::problem_with_detail(
                503,
                "broker-unavailable",
                "Service Unavailable",
                Some(&detail),
            )
            .header("retry-after", "1")
        }
        PublishErrorKind::Rejected => OutgoingResponse::problem_with_detail(
            502,
            "broker-rejected",
            "Bad Gateway",
            Some(&format!("The {broker} broker refused the message.")),
        ),
        PublishErrorKind::Invalid => misconfigured(&error.message),
    }
}

/// A message that cannot be built from this request as configured.
pub fn misconfigured(detail: &str) -> OutgoingResponse {
    OutgoingResponse::problem_with_detail(
        500,
        "plugin-misconfigured",
        "Internal Server Error",
        Some(detail),
    )
}

/// A request that lacks what a template needs (a header or a path parameter).
pub fn missing(what: &str) -> OutgoingResponse {
    OutgoingResponse::problem_with_detail(
        400,
        "validation-failed",
        "Bad Request",
        Some(&format!(
            "The request has no {what}, which the message needs."
        )),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_parse() {
        assert_eq!(
            Template::parse("$request.header.X-Key"),
            Ok(Template::Header("X-Key".into()))
        );
        assert_eq!(
            Template::parse("orders.{region}.placed"),
            Ok(Template::Text(vec![
                Piece::Literal("orders.".into()),
                Piece::Param("region".into()),
                Piece::Literal(".placed".into()),
            ]))
        );
        assert!(Template::parse("orders").unwrap().is_constant());
        assert!(Template::parse("a.{x").is_err());
        assert!(Template::parse("a.{}").is_err());
        assert!(Template::parse("$request.path.").is_err());
    }

    #[test]
    fn ack_responses() {
        let ack = Ack {
            partition: Some(2),
            offset: Some(41),
            ..Ack::default()
        };
        let plain = AckResponse::default().respond(&ack, false);
        assert_eq!(plain.status, 202);
        assert_eq!(plain.body, br#"{"status":"accepted"}"#);
        let configured: AckResponse = serde_json::from_value(serde_json::json!({
            "body": {"queued": true},
            "headers": {"x-queue": "orders"}
        }))
        .unwrap();
        let r = configured.respond(&ack, true);
        let body: Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(
            body,
            serde_json::json!({"queued": true, "partition": 2, "offset": 41})
        );
        assert!(r.headers.contains(&("x-queue".into(), "orders".into())));
    }

    #[test]
    fn failures_are_problems() {
        let down = failure(
            "NATS",
            &PublishError {
                kind: PublishErrorKind::Timeout,
                message: String::new(),
            },
        );
        assert_eq!(down.status, 503);
        let body: Value = serde_json::from_slice(&down.body).unwrap();
        assert_eq!(body["type"], "urn:barbacane:error:broker-unavailable");
        assert!(down.headers.contains(&("retry-after".into(), "1".into())));
        let refused = failure(
            "Kafka",
            &PublishError {
                kind: PublishErrorKind::Rejected,
                message: "unknown topic".into(),
            },
        );
        assert_eq!(refused.status, 502);
    }
}
