//! `lambda`: answers requests with an AWS Lambda function, through its function URL or the
//! Lambda Invoke API, signing the calls with AWS Signature Version 4.
//!
//! # Configuration
//!
//! One of `url` and `function_name` is required:
//!
//! - `url` (string): the function URL, e.g. `https://abc.lambda-url.eu-west-1.on.aws/`. The
//!   client request is forwarded as an HTTP request: same method, the request path appended
//!   to the URL's path, the query string, the body and (see `pass_through_headers`) the
//!   headers. The function's status, headers and body are returned as they are, minus
//!   hop-by-hop headers. `http://` is accepted (a local emulator), as is a port.
//! - `function_name` (string): a function name, partial ARN or ARN, optionally with a
//!   qualifier (`my-function:prod`). The request goes to the Invoke API
//!   (`POST https://lambda.<region>.amazonaws.com/2015-03-31/functions/<name>/invocations`)
//!   as an API Gateway HTTP API event, payload format 2.0 (the event function URLs send): see
//!   [`event`] for the fields. The function's result is read the way API Gateway reads it: a
//!   JSON object with `statusCode` gives the status, `headers`, `multiValueHeaders`,
//!   `cookies` and `body` (base64-decoded when `isBase64Encoded`); any other JSON is the body
//!   of a 200 `application/json` response. A failed invocation (`X-Amz-Function-Error`), an
//!   error status of the Invoke API or an unreadable result answer 502
//!   `urn:barbacane:error:upstream-error`.
//!
//! Other keys:
//!
//! - `region` (string): the AWS region to sign for. By default it is read from the function
//!   URL host (`<id>.lambda-url.<region>.on.aws`) or from the ARN in `function_name`; it is
//!   required otherwise (a custom URL, a bare function name), and must agree with them.
//! - `timeout` (number, seconds, default 30): the time limit of the whole call, at most 300
//!   (the gateway's limit for outbound calls). Past it: 504
//!   `urn:barbacane:error:upstream-timeout`.
//! - `pass_through_headers` (bool, default true): forward the client's headers. Hop-by-hop
//!   headers (RFC 9110 §7.6.1: `Connection` and the headers it lists, `Keep-Alive`,
//!   `Proxy-Connection`, `TE`, `Trailer`, `Transfer-Encoding`, `Upgrade`, and
//!   `Proxy-Authorization`) never are. To a function URL, `Host` and `Content-Length` are
//!   set by the gateway's client and `Authorization` and `X-Amz-*` are not forwarded (they
//!   are the signature's; a client's must not reach AWS); header values that are not ASCII
//!   are dropped. In an Invoke event the headers are data and go as API Gateway passes them
//!   (cookies in `cookies`). When false, only `Content-Type` is forwarded: it describes the
//!   body, which always is.
//! - `sign` (bool, default true): sign requests. False sends them unsigned, for a function
//!   URL whose auth type is `NONE` (credentials are then not read at all); not allowed with
//!   `function_name`, as the Invoke API needs signed calls.
//! - `access_key_id` (secret reference, default `env://AWS_ACCESS_KEY_ID`),
//!   `secret_access_key` (default `env://AWS_SECRET_ACCESS_KEY`): the credentials, resolved
//!   at each request (so rotated values are picked up). When either cannot be resolved the
//!   request is answered 500 `urn:barbacane:error:plugin-misconfigured` (and the reference,
//!   never a value, is logged).
//! - `session_token` (secret reference, default `env://AWS_SESSION_TOKEN`): the session token
//!   of temporary credentials, sent as `X-Amz-Security-Token` when it resolves; absent is
//!   fine, and `""` means never look for one.
//!
//! Could not connect, or a response larger than the gateway allows: 502
//! `urn:barbacane:error:upstream-unavailable`. Problem details name what failed, never a
//! credential or the upstream's answer.
//!
//! # Signing
//!
//! [`sigv4`] signs `host`, `content-type` and the `x-amz-*` headers (`x-amz-date`,
//! `x-amz-content-sha256`, `x-amz-security-token`) with service `lambda`. What is signed is
//! exactly what is sent: the path goes as received (percent-encoded, with any character that
//! must not appear raw encoded) and the query is re-encoded the SigV4 way, parameters in
//! their order (`+` becomes `%20`: the same text for form decoding, and no ambiguity for
//! AWS, whatever decoding it applies).
//!
//! Capabilities: `request` (the method, path, query, headers and buffered body), `response`,
//! `http`, `secrets`, `clock` (the signing time) and `log`.

use barbacane_plugin_sdk::http::{self, HttpError, HttpErrorKind, HttpRequest, HttpResponse};
use barbacane_plugin_sdk::prelude::*;
use barbacane_plugin_sdk::{clock, log, secrets};
use serde::Deserialize;

mod encoding;
pub mod event;
mod headers;
pub mod sigv4;
mod target;
mod time;

use event::Incoming;
use sigv4::{AmzDate, Credentials, Options, Scope};
use target::Endpoint;

/// The service name SigV4 signs for.
const SERVICE: &str = "lambda";
/// The gateway's limit for one outbound call.
const MAX_TIMEOUT_SECONDS: f64 = 300.0;

/// The configuration of one use.
#[barbacane_dispatcher]
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lambda {
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    function_name: Option<String>,
    #[serde(default)]
    region: Option<String>,
    #[serde(default = "default_timeout")]
    timeout: f64,
    #[serde(default = "yes")]
    pass_through_headers: bool,
    #[serde(default = "yes")]
    sign: bool,
    #[serde(default = "default_access_key_id")]
    access_key_id: String,
    #[serde(default = "default_secret_access_key")]
    secret_access_key: String,
    #[serde(default = "default_session_token")]
    session_token: String,
    /// Set by `init`.
    #[serde(skip)]
    target: Option<Target>,
}

fn default_timeout() -> f64 {
    30.0
}

fn yes() -> bool {
    true
}

fn default_access_key_id() -> String {
    "env://AWS_ACCESS_KEY_ID".into()
}

fn default_secret_access_key() -> String {
    "env://AWS_SECRET_ACCESS_KEY".into()
}

fn default_session_token() -> String {
    "env://AWS_SESSION_TOKEN".into()
}

/// Where requests go, worked out by `init`.
#[derive(Debug)]
struct Target {
    endpoint: Endpoint,
    /// Empty only for an unsigned function URL whose region is unknown (not needed then).
    region: String,
    /// `Some(path)` for the Invoke API, `None` for a function URL.
    invoke_path: Option<String>,
}

/// The region from the configuration and the one read from the URL or ARN, which must agree.
fn pick_region(configured: Option<&str>, derived: Option<&str>) -> Result<Option<String>, String> {
    match (configured, derived) {
        (Some(c), Some(d)) if c != d => Err(format!(
            "region `{c}` does not match the region `{d}` of the function"
        )),
        (Some(r), _) | (None, Some(r)) => Ok(Some(r.to_owned())),
        (None, None) => Ok(None),
    }
}

impl Lambda {
    fn target(&self) -> Result<Target, String> {
        if let Some(region) = &self.region
            && !target::valid_region(region)
        {
            return Err(format!("`{region}` is not an AWS region name"));
        }
        match (&self.url, &self.function_name) {
            (Some(_), Some(_)) => Err("set either `url` or `function_name`, not both".into()),
            (None, None) => {
                Err("set `url` (a function URL) or `function_name` (to call the Invoke API)".into())
            }
            (Some(url), None) => {
                let endpoint = target::parse_url(url)?;
                let derived = target::region_of_function_url(&endpoint.host);
                let region = match pick_region(self.region.as_deref(), derived)? {
                    Some(region) => region,
                    None if !self.sign => String::new(),
                    None => {
                        return Err(format!(
                            "the region cannot be read from `{url}`: set `region`"
                        ));
                    }
                };
                Ok(Target {
                    endpoint,
                    region,
                    invoke_path: None,
                })
            }
            (None, Some(name)) => {
                if !target::valid_function_name(name) {
                    return Err(format!("`{name}` is not a function name or ARN"));
                }
                if !self.sign {
                    return Err(
                        "`sign: false` needs `url`: the Invoke API takes signed calls".into(),
                    );
                }
                let region = pick_region(self.region.as_deref(), target::region_of_arn(name))?
                    .ok_or_else(|| {
                        format!("the region cannot be read from `{name}`: set `region`")
                    })?;
                Ok(Target {
                    endpoint: target::invoke_endpoint(&region),
                    region,
                    invoke_path: Some(target::invoke_path(name)),
                })
            }
        }
    }

    fn timeout_ms(&self) -> u64 {
        ((self.timeout * 1000.0).ceil() as u64).max(1)
    }

    /// Resolves the credentials, or names the reference that did not resolve.
    fn credentials(&self) -> Result<Credentials, &str> {
        let resolve = |reference: &str| {
            secrets::get(reference)
                .map(|value| value.trim().to_owned())
                .filter(|value| !value.is_empty())
        };
        let access_key_id = resolve(&self.access_key_id).ok_or(self.access_key_id.as_str())?;
        let secret_access_key =
            resolve(&self.secret_access_key).ok_or(self.secret_access_key.as_str())?;
        let session_token = if self.session_token.is_empty() {
            None
        } else {
            resolve(&self.session_token)
        };
        Ok(Credentials {
            access_key_id,
            secret_access_key,
            session_token,
        })
    }

    /// The outbound request for `incoming`, signed when `credentials` are given.
    fn outbound(
        &self,
        target: &Target,
        incoming: Incoming,
        credentials: Option<&Credentials>,
        now_ms: i64,
    ) -> HttpRequest {
        let (method, path, query, mut headers, body) = match &target.invoke_path {
            Some(path) => {
                let event = event::build(&incoming, self.pass_through_headers, now_ms);
                let headers = vec![("content-type".to_owned(), "application/json".to_owned())];
                let body = event.to_string().into_bytes();
                (
                    "POST".to_owned(),
                    path.clone(),
                    String::new(),
                    headers,
                    body,
                )
            }
            None => {
                let mut path = target::wire_path(&target.endpoint.base_path);
                path.push_str(&target::wire_path(&incoming.path));
                if path.is_empty() {
                    path.push('/');
                }
                let headers =
                    headers::to_function_url(&incoming.headers, self.pass_through_headers);
                let query = sigv4::wire_query(&incoming.query);
                (incoming.method, path, query, headers, incoming.body)
            }
        };
        if let Some(credentials) = credentials {
            let payload_hash = sigv4::sha256_hex(&body);
            headers.push(("x-amz-content-sha256".to_owned(), payload_hash.clone()));
            let date = AmzDate::from_unix_ms(now_ms);
            let request = sigv4::Request {
                method: &method,
                host: &target.endpoint.host_header,
                path: &path,
                query: &query,
                payload_hash: &payload_hash,
            };
            let scope = Scope {
                date: &date,
                region: &target.region,
                service: SERVICE,
            };
            sigv4::sign(
                &request,
                &mut headers,
                credentials,
                &scope,
                Options::SERVICES,
                |name| name == "content-type" || name.starts_with("x-amz-"),
            );
        }
        let mut url = format!("{}{path}", target.endpoint.origin);
        if !query.is_empty() {
            url.push('?');
            url.push_str(&query);
        }
        HttpRequest {
            method,
            url,
            headers,
            body,
            timeout_ms: Some(self.timeout_ms()),
        }
    }
}

fn read(request: &Request) -> Incoming {
    let mut headers = Vec::new();
    for name in request.header_names() {
        for value in request.header_values(&name) {
            headers.push((name.clone(), value));
        }
    }
    Incoming {
        method: request.method(),
        path: request.path(),
        query: request.query().unwrap_or_default(),
        headers,
        body: request.body().unwrap_or_default(),
    }
}

fn misconfigured(detail: &str) -> OutgoingResponse {
    OutgoingResponse::problem_with_detail(
        500,
        "plugin-misconfigured",
        "Internal Server Error",
        Some(detail),
    )
}

fn upstream_error(detail: &str) -> OutgoingResponse {
    OutgoingResponse::problem_with_detail(502, "upstream-error", "Bad Gateway", Some(detail))
}

/// The answer to a call that got no response.
fn transport_failure(error: &HttpError) -> OutgoingResponse {
    log::warn(&format!("calling the Lambda function failed: {error}"));
    let detail = match error.kind {
        HttpErrorKind::Timeout => {
            return OutgoingResponse::problem_with_detail(
                504,
                "upstream-timeout",
                "Gateway Timeout",
                Some("The Lambda function did not answer in time."),
            );
        }
        HttpErrorKind::Connect => "The Lambda function could not be reached.",
        HttpErrorKind::Invalid => "The request to the Lambda function could not be sent.",
        HttpErrorKind::TooLarge => "The Lambda function's response is too large.",
    };
    OutgoingResponse::problem_with_detail(502, "upstream-unavailable", "Bad Gateway", Some(detail))
}

/// A function URL's response, returned as it is minus hop-by-hop headers.
fn from_function_url(response: HttpResponse) -> OutgoingResponse {
    let mut out = OutgoingResponse::new(response.status).body(response.body);
    out.headers = headers::from_upstream(&response.headers);
    out
}

/// An Invoke API response: the function's result, or why there is none.
fn from_invoke(response: HttpResponse) -> OutgoingResponse {
    if let Some(kind) = response.header("x-amz-function-error") {
        log::warn(&format!("the Lambda function failed ({kind})"));
        return upstream_error("The Lambda function failed.");
    }
    if !(200..300).contains(&response.status) {
        let kind = response
            .header("x-amzn-errortype")
            .unwrap_or("no error type");
        log::warn(&format!(
            "the Lambda Invoke API answered {} ({kind})",
            response.status
        ));
        return upstream_error("The Lambda Invoke API refused the call.");
    }
    event::response_from_result(&response.body).unwrap_or_else(|bad| {
        log::warn(bad.describe());
        upstream_error(bad.describe())
    })
}

impl Dispatcher for Lambda {
    fn init(&mut self) -> Result<(), String> {
        if !(self.timeout > 0.0 && self.timeout <= MAX_TIMEOUT_SECONDS) {
            return Err(format!(
                "timeout is {} seconds: it must be more than 0 and at most {MAX_TIMEOUT_SECONDS}",
                self.timeout
            ));
        }
        if self.sign && (self.access_key_id.is_empty() || self.secret_access_key.is_empty()) {
            return Err("`access_key_id` and `secret_access_key` must name secrets".into());
        }
        self.target = Some(self.target()?);
        Ok(())
    }

    fn dispatch(&mut self, request: &mut Request) -> OutgoingResponse {
        let Some(target) = &self.target else {
            return misconfigured("The Lambda dispatcher was not initialized.");
        };
        let credentials = if self.sign {
            match self.credentials() {
                Ok(credentials) => Some(credentials),
                Err(reference) => {
                    log::error(&format!(
                        "no AWS credentials: the secret `{reference}` cannot be resolved"
                    ));
                    return misconfigured("The gateway has no AWS credentials for this function.");
                }
            }
        } else {
            None
        };
        let outbound = self.outbound(target, read(request), credentials.as_ref(), clock::now_ms());
        match http::call(&outbound) {
            Err(error) => transport_failure(&error),
            Ok(response) if target.invoke_path.is_some() => from_invoke(response),
            Ok(response) => from_function_url(response),
        }
    }
}

#[cfg(test)]
mod tests;
