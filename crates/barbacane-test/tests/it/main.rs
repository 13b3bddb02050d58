//! Official plugins run as their real `.wasm` modules in the real sandbox
//! ([`barbacane_test::harness::PluginHarness`]), no gateway: what native unit tests of the
//! plugins cannot see (imports, encoding across the ABI boundary, the guest allocator,
//! repeated headers, host randomness, clock, secrets and outbound HTTP).
//!
//! One module per plugin; `sandbox` covers the limits with the `chaos` test plugin.

mod correlation_id;
mod cors;
mod lambda;
mod mock;
mod request_size_limit;
mod sandbox;

use barbacane_wasm::ResponseState;

/// Every value of header `name`, as text, in order.
pub fn values(headers: &http::HeaderMap, name: &str) -> Vec<String> {
    headers
        .get_all(name)
        .iter()
        .map(|v| {
            v.to_str()
                .unwrap_or_else(|e| panic!("{name}: {e}"))
                .to_owned()
        })
        .collect()
}

/// The only value of header `name` (panics when it is absent or repeated).
pub fn one(headers: &http::HeaderMap, name: &str) -> String {
    match values(headers, name).as_slice() {
        [value] => value.clone(),
        other => panic!("expected exactly one `{name}`, got {other:?}"),
    }
}

/// The body as text.
pub fn text(response: &ResponseState) -> String {
    String::from_utf8(response.body.clone().unwrap_or_default().to_vec())
        .unwrap_or_else(|e| panic!("body is not UTF-8: {e}"))
}

/// Asserts `response` is an RFC 9457 problem of `urn:barbacane:error:{name}` with `status`,
/// `title` and `detail`, and nothing else in it.
pub fn assert_problem(
    response: &ResponseState,
    status: u16,
    name: &str,
    title: &str,
    detail: &str,
) {
    assert_eq!(response.status.as_u16(), status, "{}", text(response));
    assert_eq!(
        one(&response.headers, "content-type"),
        "application/problem+json"
    );
    let body: serde_json::Value = serde_json::from_str(&text(response))
        .unwrap_or_else(|e| panic!("problem body is not JSON: {e}"));
    assert_eq!(
        body,
        serde_json::json!({
            "type": format!("urn:barbacane:error:{name}"),
            "title": title,
            "status": status,
            "detail": detail,
        })
    );
}
