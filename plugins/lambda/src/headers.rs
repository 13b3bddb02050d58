//! Which headers cross the gateway: hop-by-hop fields (RFC 9110 §7.6.1) stop here, in both
//! directions; on the way to AWS so do the fields this plugin sets itself.

/// Connection-specific fields, never forwarded (RFC 9110 §7.6.1, plus the non-standard
/// `keep-alive` and `proxy-connection`, and `proxy-authorization`, a credential for this hop).
const HOP_BY_HOP: [&str; 8] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// Headers as `(lowercase name, value)`, one entry per value, in order.
pub type Headers = Vec<(String, String)>;

/// The field names that `Connection` headers list (hop-by-hop as well), lowercase.
fn connection_options(headers: &[(String, String)]) -> Vec<String> {
    headers
        .iter()
        .filter(|(name, _)| name.eq_ignore_ascii_case("connection"))
        .flat_map(|(_, value)| value.split(','))
        .map(|option| option.trim().to_ascii_lowercase())
        .filter(|option| !option.is_empty())
        .collect()
}

/// Whether a value can be sent as it is: visible ASCII, spaces and tabs (the gateway's client
/// refuses anything else, and a refused header would fail the whole call).
fn sendable(value: &str) -> bool {
    value
        .bytes()
        .all(|b| b == b'\t' || (0x20..0x7f).contains(&b))
}

/// `headers` without hop-by-hop fields (named in [`HOP_BY_HOP`] or listed by `Connection`)
/// and without those `also_drop(name)` refuses.
fn end_to_end(headers: &[(String, String)], also_drop: impl Fn(&str) -> bool) -> Headers {
    let listed = connection_options(headers);
    headers
        .iter()
        .filter(|(name, _)| {
            let name = name.to_ascii_lowercase();
            !HOP_BY_HOP.contains(&name.as_str()) && !listed.contains(&name) && !also_drop(&name)
        })
        .map(|(name, value)| (name.to_ascii_lowercase(), value.clone()))
        .collect()
}

/// The client's headers to send to a function URL: end-to-end fields, minus `host` and
/// `content-length` (the client sets them from the URL and body) and minus `authorization`
/// and `x-amz-*` (the signature's own fields: a client's must not reach AWS). Values that
/// cannot be sent as they are (non-ASCII) are dropped.
///
/// With `pass_through` false only `content-type` goes: it describes the body, which is
/// always forwarded.
pub fn to_function_url(headers: &[(String, String)], pass_through: bool) -> Headers {
    let mut out = end_to_end(headers, |name| {
        matches!(name, "host" | "content-length" | "authorization") || name.starts_with("x-amz-")
    });
    out.retain(|(name, value)| sendable(value) && (pass_through || name == "content-type"));
    out
}

/// The client's headers as the Invoke event carries them: end-to-end fields, all of them
/// (as API Gateway passes them), or only `content-type` when `pass_through` is false.
pub fn to_event(headers: &[(String, String)], pass_through: bool) -> Headers {
    let mut out = end_to_end(headers, |_| false);
    if !pass_through {
        out.retain(|(name, _)| name == "content-type");
    }
    out
}

/// An upstream's response headers to return: end-to-end fields minus `content-length` (the
/// gateway frames the body itself).
pub fn from_upstream(headers: &[(String, String)]) -> Headers {
    end_to_end(headers, |name| name == "content-length")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(list: &[(&str, &str)]) -> Headers {
        list.iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    }

    fn names(headers: &Headers) -> Vec<&str> {
        headers.iter().map(|(n, _)| n.as_str()).collect()
    }

    #[test]
    fn hop_by_hop_and_connection_listed_fields_stop_here() {
        let incoming = h(&[
            ("Connection", "keep-alive, X-Secret-Hop"),
            ("connection", "x-other"),
            ("Keep-Alive", "timeout=5"),
            ("TE", "trailers"),
            ("Trailer", "x-checksum"),
            ("Transfer-Encoding", "chunked"),
            ("Upgrade", "websocket"),
            ("Proxy-Connection", "keep-alive"),
            ("Proxy-Authorization", "Basic Zm9vOmJhcg=="),
            ("x-secret-hop", "1"),
            ("X-Other", "2"),
            ("Accept", "text/plain"),
            ("accept", "application/json"),
            ("X-Request-Id", "r-1"),
        ]);
        let out = from_upstream(&incoming);
        assert_eq!(
            out,
            h(&[
                ("accept", "text/plain"),
                ("accept", "application/json"),
                ("x-request-id", "r-1"),
            ])
        );
        assert_eq!(names(&to_event(&incoming, true)), names(&out));
    }

    #[test]
    fn function_urls_get_no_client_signature_fields() {
        let incoming = h(&[
            ("Host", "api.example.com"),
            ("Content-Length", "3"),
            ("Authorization", "Bearer client-token"),
            ("X-Amz-Date", "20000101T000000Z"),
            ("x-amz-security-token", "forged"),
            ("X-Amzn-Trace-Id", "Root=1"),
            ("Content-Type", "text/plain"),
            ("X-Name", "caf\u{e9}"),
            ("X-Tab", "a\tb"),
        ]);
        let out = to_function_url(&incoming, true);
        assert_eq!(
            out,
            h(&[
                ("x-amzn-trace-id", "Root=1"),
                ("content-type", "text/plain"),
                ("x-tab", "a\tb"),
            ])
        );
        assert_eq!(
            to_function_url(&incoming, false),
            h(&[("content-type", "text/plain")])
        );
    }

    #[test]
    fn events_keep_host_and_authorization_but_not_hop_fields() {
        let incoming = h(&[
            ("Host", "api.example.com"),
            ("Authorization", "Bearer client-token"),
            ("Connection", "close"),
            ("Content-Type", "application/json"),
        ]);
        assert_eq!(
            names(&to_event(&incoming, true)),
            ["host", "authorization", "content-type"]
        );
        assert_eq!(names(&to_event(&incoming, false)), ["content-type"]);
        assert_eq!(
            names(&from_upstream(&h(&[
                ("Content-Length", "9"),
                ("ETag", "\"x\"")
            ]))),
            ["etag"]
        );
    }
}
