//! The Invoke API's payload and result: the request as an API Gateway HTTP API (payload
//! format 2.0) event — the shape function URLs also use, so one function serves both — and
//! the function's answer read back the way API Gateway reads it.

use barbacane_plugin_sdk::OutgoingResponse;
use serde_json::{Map, Value, json};

use crate::encoding::{base64_decode, base64_encode, percent_decode};
use crate::headers;
use crate::time::Utc;

/// The client request, read once from the gateway.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Incoming {
    /// Method.
    pub method: String,
    /// Path as received (percent-encoded).
    pub path: String,
    /// Query string without `?` (empty when none).
    pub query: String,
    /// Headers as `(lowercase name, value)`, one entry per value.
    pub headers: Vec<(String, String)>,
    /// Body (empty when none).
    pub body: Vec<u8>,
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The query parameters decoded, values of a repeated name joined with `,`.
fn query_parameters(query: &str) -> Map<String, Value> {
    let mut out = Map::new();
    for piece in query.split('&').filter(|p| !p.is_empty()) {
        let (name, value) = piece.split_once('=').unwrap_or((piece, ""));
        let name = lossy(&percent_decode(name, true));
        let value = lossy(&percent_decode(value, true));
        match out.get_mut(&name) {
            Some(Value::String(joined)) => {
                joined.push(',');
                joined.push_str(&value);
            }
            _ => {
                out.insert(name, Value::String(value));
            }
        }
    }
    out
}

/// The event for `request`, at `now_ms`. `pass_through` false keeps only `content-type`
/// among the headers.
pub fn build(request: &Incoming, pass_through: bool, now_ms: i64) -> Value {
    let mut header_map = Map::new();
    let mut cookies = Vec::new();
    for (name, value) in headers::to_event(&request.headers, pass_through) {
        if name == "cookie" {
            // Payload 2.0 moves cookies out of the headers.
            cookies.extend(
                value
                    .split(';')
                    .map(str::trim)
                    .filter(|c| !c.is_empty())
                    .map(|c| Value::String(c.to_owned())),
            );
            continue;
        }
        match header_map.get_mut(&name) {
            Some(Value::String(joined)) => {
                joined.push(',');
                joined.push_str(&value);
            }
            _ => {
                header_map.insert(name, Value::String(value));
            }
        }
    }
    let header = |name: &str| header_map.get(name).and_then(Value::as_str).unwrap_or("");
    let domain = header("host").to_owned();
    let mut http = json!({
        "method": request.method,
        "path": request.path,
        "protocol": "HTTP/1.1",
        "userAgent": header("user-agent"),
    });
    let mut context = json!({
        "routeKey": "$default",
        "stage": "$default",
        "domainName": domain,
        "domainPrefix": domain.split('.').next().unwrap_or(""),
        "time": Utc::from_unix_ms(now_ms).clf(),
        "timeEpoch": now_ms,
    });
    if let Some(id) = header_map.get("x-request-id").cloned() {
        context["requestId"] = id;
    }
    if let (Some(context), Some(http)) = (context.as_object_mut(), http.as_object_mut()) {
        context.insert("http".into(), Value::Object(std::mem::take(http)));
    }
    let mut event = json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": request.path,
        "rawQueryString": request.query,
        "headers": header_map,
        "requestContext": context,
        "isBase64Encoded": false,
    });
    if !cookies.is_empty() {
        event["cookies"] = Value::Array(cookies);
    }
    let parameters = query_parameters(&request.query);
    if !parameters.is_empty() {
        event["queryStringParameters"] = Value::Object(parameters);
    }
    if !request.body.is_empty() {
        match std::str::from_utf8(&request.body) {
            Ok(text) => event["body"] = Value::String(text.to_owned()),
            Err(_) => {
                event["body"] = Value::String(base64_encode(&request.body));
                event["isBase64Encoded"] = Value::Bool(true);
            }
        }
    }
    event
}

/// Why a function's result cannot be turned into a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BadResult {
    /// The payload is not JSON.
    NotJson,
    /// `statusCode` is not a number between 100 and 599.
    Status,
    /// `isBase64Encoded` is true but `body` is not base64.
    Base64,
}

impl BadResult {
    /// A description without any of the payload's content.
    pub fn describe(self) -> &'static str {
        match self {
            BadResult::NotJson => "the function's result is not JSON",
            BadResult::Status => "the function's statusCode is not an HTTP status",
            BadResult::Base64 => "the function's body is marked base64 but is not",
        }
    }
}

fn text_of(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(_) | Value::Bool(_) => Some(value.to_string()),
        _ => None,
    }
}

/// The response a function's result stands for. A JSON object with `statusCode` is a
/// response: `statusCode`, `headers`, `multiValueHeaders`, `cookies` and `body` (base64 when
/// `isBase64Encoded`). Any other JSON is the body of a 200 `application/json` response.
pub fn response_from_result(payload: &[u8]) -> Result<OutgoingResponse, BadResult> {
    let result: Value = serde_json::from_slice(payload).map_err(|_| BadResult::NotJson)?;
    let Some(fields) = result.as_object().filter(|o| o.contains_key("statusCode")) else {
        return Ok(OutgoingResponse::new(200)
            .header("content-type", "application/json")
            .body(payload.to_vec()));
    };
    let status = match &fields["statusCode"] {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
    .filter(|s| (100..=599).contains(s))
    .ok_or(BadResult::Status)? as u16;

    let mut list = Vec::new();
    if let Some(map) = fields.get("headers").and_then(Value::as_object) {
        for (name, value) in map {
            list.extend(text_of(value).map(|v| (name.to_ascii_lowercase(), v)));
        }
    }
    if let Some(map) = fields.get("multiValueHeaders").and_then(Value::as_object) {
        for (name, values) in map {
            let values = values.as_array().map(Vec::as_slice).unwrap_or_default();
            list.extend(
                values
                    .iter()
                    .filter_map(text_of)
                    .map(|v| (name.to_ascii_lowercase(), v)),
            );
        }
    }
    if let Some(cookies) = fields.get("cookies").and_then(Value::as_array) {
        list.extend(
            cookies
                .iter()
                .filter_map(Value::as_str)
                .map(|c| ("set-cookie".to_owned(), c.to_owned())),
        );
    }
    let body = match fields.get("body") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(text)) if fields.get("isBase64Encoded") == Some(&Value::Bool(true)) => {
            base64_decode(text).ok_or(BadResult::Base64)?
        }
        Some(Value::String(text)) => text.clone().into_bytes(),
        Some(other) => other.to_string().into_bytes(),
    };
    let mut response = OutgoingResponse::new(status).body(body);
    response.headers = headers::from_upstream(&list);
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> Incoming {
        Incoming {
            method: "POST".into(),
            path: "/pets/caf%C3%A9".into(),
            query: "tag=a+b&tag=c&limit=10&flag".into(),
            headers: vec![
                ("host".into(), "api.example.com".into()),
                ("accept".into(), "text/plain".into()),
                ("accept".into(), "application/json".into()),
                ("cookie".into(), "a=1; b=2".into()),
                ("user-agent".into(), "curl/8".into()),
                ("x-request-id".into(), "req-7".into()),
                ("connection".into(), "close".into()),
                ("content-type".into(), "application/json".into()),
            ],
            body: br#"{"name":"Rex"}"#.to_vec(),
        }
    }

    #[test]
    fn events_have_the_payload_2_0_shape() {
        let e = build(&request(), true, 1_440_938_160_123);
        assert_eq!(e["version"], "2.0");
        assert_eq!(e["routeKey"], "$default");
        assert_eq!(e["rawPath"], "/pets/caf%C3%A9");
        assert_eq!(e["rawQueryString"], "tag=a+b&tag=c&limit=10&flag");
        assert_eq!(
            e["queryStringParameters"],
            json!({"tag": "a b,c", "limit": "10", "flag": ""})
        );
        assert_eq!(e["cookies"], json!(["a=1", "b=2"]));
        assert_eq!(
            e["headers"],
            json!({
                "host": "api.example.com",
                "accept": "text/plain,application/json",
                "user-agent": "curl/8",
                "x-request-id": "req-7",
                "content-type": "application/json",
            })
        );
        let c = &e["requestContext"];
        assert_eq!(c["http"]["method"], "POST");
        assert_eq!(c["http"]["path"], "/pets/caf%C3%A9");
        assert_eq!(c["http"]["userAgent"], "curl/8");
        assert_eq!(c["domainName"], "api.example.com");
        assert_eq!(c["domainPrefix"], "api");
        assert_eq!(c["requestId"], "req-7");
        assert_eq!(c["time"], "30/Aug/2015:12:36:00 +0000");
        assert_eq!(c["timeEpoch"], 1_440_938_160_123i64);
        assert_eq!(e["body"], r#"{"name":"Rex"}"#);
        assert_eq!(e["isBase64Encoded"], false);
    }

    #[test]
    fn binary_bodies_are_base64_and_empty_ones_absent() {
        let mut r = request();
        r.body = vec![0xff, 0x00, 0x80];
        let e = build(&r, false, 0);
        assert_eq!(e["body"], "/wCA");
        assert_eq!(e["isBase64Encoded"], true);
        assert_eq!(e["headers"], json!({"content-type": "application/json"}));
        assert!(e.get("cookies").is_none());

        r.body.clear();
        r.query.clear();
        let e = build(&r, true, 0);
        assert!(e.get("body").is_none());
        assert!(e.get("queryStringParameters").is_none());
        assert_eq!(e["isBase64Encoded"], false);
    }

    #[test]
    fn structured_results_become_responses() {
        let r = response_from_result(
            br#"{"statusCode": 201, "headers": {"Location": "/pets/1", "X-Count": 3,
                 "Connection": "close", "Content-Length": "99"},
                 "multiValueHeaders": {"Vary": ["accept", "origin"]},
                 "cookies": ["s=1; Secure"], "body": "created"}"#,
        )
        .unwrap();
        assert_eq!(r.status, 201);
        assert_eq!(r.body, b"created");
        assert_eq!(
            r.headers,
            vec![
                ("location".to_owned(), "/pets/1".to_owned()),
                ("x-count".to_owned(), "3".to_owned()),
                ("vary".to_owned(), "accept".to_owned()),
                ("vary".to_owned(), "origin".to_owned()),
                ("set-cookie".to_owned(), "s=1; Secure".to_owned()),
            ]
        );

        let r =
            response_from_result(br#"{"statusCode":"200","body":"/wCA","isBase64Encoded":true}"#)
                .unwrap();
        assert_eq!((r.status, r.body), (200, vec![0xff, 0x00, 0x80]));

        let r = response_from_result(br#"{"statusCode":204}"#).unwrap();
        assert_eq!((r.status, r.body.len(), r.headers.len()), (204, 0, 0));
    }

    #[test]
    fn other_json_is_a_200_body() {
        for payload in [&br#"{"message":"hi"}"#[..], b"[1,2]", b"\"text\"", b"null"] {
            let r = response_from_result(payload).unwrap();
            assert_eq!(r.status, 200);
            assert_eq!(r.body, payload);
            assert_eq!(
                r.headers,
                vec![("content-type".to_owned(), "application/json".to_owned())]
            );
        }
    }

    #[test]
    fn broken_results_are_refused() {
        assert_eq!(response_from_result(b"not json"), Err(BadResult::NotJson));
        assert_eq!(response_from_result(b""), Err(BadResult::NotJson));
        for status in ["700", "99", "\"abc\"", "null", "200.5", "-1"] {
            let payload = format!(r#"{{"statusCode":{status}}}"#);
            assert_eq!(
                response_from_result(payload.as_bytes()),
                Err(BadResult::Status),
                "{status}"
            );
        }
        assert_eq!(
            response_from_result(br#"{"statusCode":200,"body":"%%","isBase64Encoded":true}"#),
            Err(BadResult::Base64)
        );
    }
}
