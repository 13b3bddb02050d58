//! `correlation-id`: gives every request a correlation ID, passes it to the upstream in a
//! request header and (optionally) returns it to the client in the same response header.
//!
//! # Behaviour
//!
//! `on_request` looks at the first value of the `header_name` request header:
//!
//! - **Present, usable and trusted** (`trust_incoming: true`): the value is kept. If the
//!   header was repeated, the extra values are dropped so the upstream sees exactly one.
//! - **Present but not trusted** (`trust_incoming: false`): the value is replaced with a
//!   freshly generated one, whatever `generate_if_missing` says: an untrusted client value
//!   never reaches the upstream.
//! - **Missing** (or unusable, see below): if `generate_if_missing`, a random UUID v4 is
//!   generated and set on the request; otherwise nothing happens (the request goes on as it
//!   came, no ID is recorded and none is returned).
//!
//! An incoming value counts as *unusable*, i.e. as missing, when it is empty, longer than
//! 256 bytes, or contains a byte outside printable ASCII (`0x20..=0x7e`): such a value is
//! not worth propagating to logs and upstreams, and echoing it back would reflect arbitrary
//! client bytes.
//!
//! The ID in use is stored in the per-request context under the key `correlation-id`, where
//! later plugins can read it. `on_response` then sets the `header_name` response header to
//! it when `include_in_response` (replacing a value the upstream may have set, so the client
//! always sees the ID the gateway used).
//!
//! # Configuration
//!
//! | key | type | default | meaning |
//! |---|---|---|---|
//! | `header_name` | string | `x-correlation-id` | the request and response header carrying the ID; a valid header name (RFC 9110 token), and not one of the message-framing / hop-by-hop headers (`content-length`, `transfer-encoding`, `host`, `connection`, `keep-alive`, `proxy-connection`, `te`, `trailer`, `upgrade`) |
//! | `generate_if_missing` | bool | `true` | generate an ID when the request has none (or an unusable one) |
//! | `trust_incoming` | bool | `true` | keep a client-supplied ID; when `false`, a client-supplied ID is always replaced |
//! | `include_in_response` | bool | `true` | return the ID in the response header |
//!
//! Capabilities: `request`, `response`, `context`.

use barbacane_plugin_sdk::prelude::*;
use barbacane_plugin_sdk::random;
use serde::Deserialize;

/// The context key holding the request's correlation ID.
pub const CONTEXT_KEY: &str = "correlation-id";

/// Longest incoming value accepted as an ID, in bytes.
pub const MAX_INCOMING_LEN: usize = 256;

/// Headers that frame the message or belong to one connection: a correlation ID there would
/// break the exchange.
const RESERVED: &[&str] = &[
    "connection",
    "content-length",
    "host",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// The configuration of one use.
#[barbacane_middleware]
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CorrelationId {
    #[serde(default = "default_header_name")]
    header_name: String,
    #[serde(default = "yes")]
    generate_if_missing: bool,
    #[serde(default = "yes")]
    trust_incoming: bool,
    #[serde(default = "yes")]
    include_in_response: bool,
}

fn default_header_name() -> String {
    "x-correlation-id".into()
}

fn yes() -> bool {
    true
}

/// An RFC 9110 token (a header field name).
fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// Whether an incoming value is worth keeping as an ID.
fn usable(value: &[u8]) -> bool {
    !value.is_empty()
        && value.len() <= MAX_INCOMING_LEN
        && value.iter().all(|b| (0x20..=0x7e).contains(b))
}

impl Middleware for CorrelationId {
    fn init(&mut self) -> Result<(), String> {
        if !is_token(&self.header_name) {
            return Err(format!(
                "header_name `{}` is not a valid header name",
                self.header_name
            ));
        }
        self.header_name.make_ascii_lowercase();
        if RESERVED.contains(&self.header_name.as_str()) {
            return Err(format!(
                "header_name `{}` is reserved for HTTP message framing",
                self.header_name
            ));
        }
        Ok(())
    }

    fn on_request(&mut self, request: &mut Request) -> Action {
        let name = self.header_name.as_str();
        let incoming = request.header_bytes(name, 0);
        let present = incoming.is_some();
        let id = match incoming.filter(|v| usable(v)) {
            Some(value) if self.trust_incoming => {
                // Printable ASCII, checked by `usable`.
                let value = String::from_utf8_lossy(&value).into_owned();
                if request.header_bytes(name, 1).is_some() {
                    // Repeated: keep only the first value. It was read from the request, so
                    // the host accepts it back.
                    let _ = request.set_header(name, &value);
                }
                value
            }
            _ if self.generate_if_missing || (present && !self.trust_incoming) => {
                let id = random::uuid_v4();
                // A UUID is always a valid value and the name was checked in `init`.
                let _ = request.set_header(name, &id);
                id
            }
            _ => return Action::Continue,
        };
        context::set(CONTEXT_KEY, &id);
        Action::Continue
    }

    fn on_response(&mut self, response: &mut Response) {
        if !self.include_in_response {
            return;
        }
        if let Some(id) = context::get(CONTEXT_KEY) {
            // Another plugin may have stored something unsendable under the key: the host
            // refuses it and the response goes out without the header.
            let _ = response.set_header(&self.header_name, &id);
        }
    }
}

#[cfg(test)]
mod tests;
