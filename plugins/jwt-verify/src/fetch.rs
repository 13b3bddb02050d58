//! Documents fetched from an identity provider through the gateway's `http` capability: a
//! JWK Set (RFC 7517, section 5), or any JSON object (an OpenID Provider's discovery
//! document), and the URLs they may be fetched from.

use crate::keys::{self, Key};
use barbacane_plugin_sdk::http::{self, HttpRequest};
use barbacane_plugin_sdk::log;
use serde_json::Value;

/// Largest document read, in bytes.
pub const MAX_DOCUMENT_BYTES: usize = 512 * 1024;

/// Checks a URL keys are fetched from: `https://`, or `http://` to a loopback host (local
/// identity providers in development); no credentials, no whitespace. The error starts with
/// ``<label> `<url>`: ``.
pub fn check_url(label: &str, url: &str) -> Result<(), String> {
    let refuse = |why: &str| Err(format!("{label} `{url}`: {why}"));
    let Some((scheme, rest)) = url.split_once("://") else {
        return refuse("not an absolute URL (https://...)");
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return refuse("it holds whitespace");
    }
    if authority.contains('@') {
        return refuse("credentials in the URL are not accepted");
    }
    let host = match authority.strip_prefix('[') {
        Some(v6) => match v6.split_once(']') {
            Some((inside, _)) => format!("[{inside}]"),
            None => return refuse("malformed IPv6 host"),
        },
        None => authority.split(':').next().unwrap_or_default().to_owned(),
    };
    if host.is_empty() {
        return refuse("no host");
    }
    if scheme.eq_ignore_ascii_case("https") {
        return Ok(());
    }
    if scheme.eq_ignore_ascii_case("http") {
        let loopback = ["127.0.0.1", "localhost", "[::1]"]
            .iter()
            .any(|h| host.eq_ignore_ascii_case(h));
        if loopback {
            return Ok(());
        }
        return refuse(
            "keys must be fetched over https (http:// is accepted only for 127.0.0.1, \
             localhost and [::1])",
        );
    }
    refuse("the scheme must be https")
}

/// `GET`s `url` (with `accept` and `timeout_ms`) and parses the answer, which must be 200,
/// at most [`MAX_DOCUMENT_BYTES`] and JSON; `what` names the document in errors.
pub fn get_json(url: &str, accept: &str, timeout_ms: u64, what: &str) -> Result<Value, String> {
    let mut request = HttpRequest::new("GET", url);
    request
        .headers
        .push(("accept".to_owned(), accept.to_owned()));
    request.timeout_ms = Some(timeout_ms);
    let response = http::call(&request).map_err(|e| e.to_string())?;
    if response.status != 200 {
        return Err(format!("the server answered {}", response.status));
    }
    if response.body.len() > MAX_DOCUMENT_BYTES {
        return Err(format!("{what} is over {} KiB", MAX_DOCUMENT_BYTES / 1024));
    }
    serde_json::from_slice(&response.body).map_err(|_| "the answer is not JSON".to_owned())
}

/// Fetches and parses the JWK Set at `url`: keys the plugin cannot use (encryption keys,
/// unsupported curves...) are skipped, with the reason logged at debug level under `label`;
/// at least one must be usable.
pub fn fetch_jwks(url: &str, timeout_ms: u64, label: &str) -> Result<Vec<Key>, String> {
    let set = get_json(
        url,
        "application/jwk-set+json, application/json",
        timeout_ms,
        "the JWK Set",
    )?;
    let entries = set
        .get("keys")
        .and_then(Value::as_array)
        .ok_or("the answer is not a JWK Set (no `keys` array)")?;
    let mut keys = Vec::with_capacity(entries.len());
    for (index, entry) in entries.iter().enumerate() {
        match keys::parse_jwk(entry) {
            Ok(key) => keys.push(key),
            Err(why) => {
                let kid = entry.get("kid").and_then(Value::as_str).unwrap_or("");
                log::debug(&format!(
                    "{label}: key {index} (kid {}) skipped: {why}",
                    keys::shown(kid)
                ));
            }
        }
    }
    if keys.is_empty() {
        return Err("the JWK Set has no usable signing key".into());
    }
    Ok(keys)
}
