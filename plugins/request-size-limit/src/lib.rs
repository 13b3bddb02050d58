//! `request-size-limit`: refuses request bodies larger than a limit with
//! `413 urn:barbacane:error:payload-too-large`, a tighter limit for the operations it is used
//! on than the gateway-wide `--max-body-bytes`.
//!
//! # Behaviour
//!
//! `on_request` answers 413 (an RFC 9457 problem whose `detail` names the limit) when
//!
//! 1. `check_content_length` is on and the request declares a `Content-Length` greater than
//!    `max_bytes` (the body is not read for this). A value made only of digits but too large
//!    for 64 bits counts as over the limit. Any other unparseable `Content-Length` is left to
//!    the gateway's HTTP layer: the plugin lets the request go on. Only the first value is
//!    looked at (the HTTP layer refuses conflicting repeated values).
//! 2. The body is visible to plugins (the gateway buffered it, e.g. for an operation with a
//!    JSON body schema) and is longer than `max_bytes`. This check runs whatever
//!    `check_content_length` says, and also catches a body an earlier plugin enlarged.
//!
//! Otherwise the request goes on untouched. A body of exactly `max_bytes` bytes is accepted.
//!
//! **Streamed bodies are not counted by this plugin.** When the gateway streams the body past
//! plugins (it does not buffer it) and the request has no `Content-Length` (chunked
//! transfer), the plugin cannot see its size: such a body is bounded only by the gateway's
//! own `--max-body-bytes` limit, not by `max_bytes`. Set `--max-body-bytes` accordingly, or
//! give the operation a body schema so the body is buffered and checked here.
//!
//! # Configuration
//!
//! | key | type | default | meaning |
//! |---|---|---|---|
//! | `max_bytes` | integer >= 0 | `1048576` (1 MiB) | the largest accepted body, in bytes (`0` accepts only empty bodies) |
//! | `check_content_length` | bool | `true` | refuse on the declared `Content-Length` alone, before the body is read |
//!
//! Capabilities: `request`, `response`.

use barbacane_plugin_sdk::prelude::*;
use serde::Deserialize;

/// The configuration of one use.
#[barbacane_middleware]
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestSizeLimit {
    #[serde(default = "default_max_bytes")]
    max_bytes: u64,
    #[serde(default = "yes")]
    check_content_length: bool,
}

fn default_max_bytes() -> u64 {
    1024 * 1024
}

fn yes() -> bool {
    true
}

/// Whether a `Content-Length` value declares more than `limit` bytes. `None` when it is not
/// a length at all (`1*DIGIT`, RFC 9110 section 8.6).
fn declared_over(value: &str, limit: u64) -> Option<bool> {
    let digits = value.trim_matches([' ', '\t']);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    // Only digits: a parse failure is an overflow, i.e. more than any u64 limit.
    Some(digits.parse::<u64>().map_or(true, |n| n > limit))
}

impl RequestSizeLimit {
    fn too_large(&self) -> Action {
        let unit = if self.max_bytes == 1 { "byte" } else { "bytes" };
        let detail = format!(
            "The request body exceeds the limit of {} {unit}.",
            self.max_bytes
        );
        Action::Respond(OutgoingResponse::problem_with_detail(
            413,
            "payload-too-large",
            "The request body is too large",
            Some(&detail),
        ))
    }
}

impl Middleware for RequestSizeLimit {
    fn on_request(&mut self, request: &mut Request) -> Action {
        if self.check_content_length
            && let Some(declared) = request.header("content-length")
            && declared_over(&declared, self.max_bytes) == Some(true)
        {
            return self.too_large();
        }
        if let Some(body) = request.body()
            && u64::try_from(body.len()).map_or(true, |n| n > self.max_bytes)
        {
            return self.too_large();
        }
        Action::Continue
    }
}

#[cfg(test)]
mod tests;
