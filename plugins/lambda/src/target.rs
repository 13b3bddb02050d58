//! Where requests go: the configured function URL, or the Lambda Invoke API endpoint of a
//! region; and the region, read from a function URL host or a function ARN.

use crate::encoding::{is_escape_at, is_unreserved, percent_encode};

/// An absolute `http(s)` URL without query or fragment, split for building requests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// `https://host[:port]`, the part before the path.
    pub origin: String,
    /// Host, lowercase (an IPv6 address keeps its brackets).
    pub host: String,
    /// The `Host` header the client sends: host, and port when not the scheme's default.
    pub host_header: String,
    /// Path prefix without a final `/` (empty for the root).
    pub base_path: String,
}

/// Characters allowed raw in a path besides unreserved ones and `%XY` escapes: `/` and the
/// RFC 3986 sub-delims, `:` and `@`.
fn path_char(b: u8) -> bool {
    is_unreserved(b) || b"/!$&'()*+,;=:@".contains(&b)
}

/// A path as it can go on the wire: escapes and allowed characters kept, anything else
/// (space, non-ASCII, `"`, `{`, ...) percent-encoded. Gateway paths arrive encoded, so this
/// changes nothing for them; it guarantees that what is signed is what is sent.
pub fn wire_path(path: &str) -> String {
    let bytes = path.as_bytes();
    if bytes
        .iter()
        .enumerate()
        .all(|(i, &b)| path_char(b) || is_escape_at(bytes, i))
    {
        return path.to_owned();
    }
    let mut out = String::with_capacity(path.len() + 8);
    for (i, &b) in bytes.iter().enumerate() {
        if path_char(b) || is_escape_at(bytes, i) {
            out.push(b as char);
        } else {
            out.push_str(&percent_encode(&[b], false));
        }
    }
    out
}

fn valid_host(host: &str) -> bool {
    if let Some(inner) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        return !inner.is_empty() && inner.bytes().all(|b| b.is_ascii_hexdigit() || b == b':');
    }
    !host.is_empty()
        && host.split('.').all(|label| {
            !label.is_empty()
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

/// Parses an absolute `http`/`https` URL with a host, optional port and optional path; no
/// user info, query or fragment.
pub fn parse_url(url: &str) -> Result<Endpoint, String> {
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| format!("`{url}` is not an absolute http(s) URL"))?;
    let scheme = scheme.to_ascii_lowercase();
    let default_port = match scheme.as_str() {
        "https" => "443",
        "http" => "80",
        _ => return Err(format!("`{url}` is not an http(s) URL")),
    };
    if rest.contains(['?', '#']) {
        return Err(format!("`{url}` must not have a query or a fragment"));
    }
    let (authority, path) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    if authority.contains('@') {
        return Err(format!("`{url}` must not carry user information"));
    }
    // The port is after the last `:` outside IPv6 brackets.
    let (host, port) = match authority.rfind(':') {
        Some(i) if !authority[i..].contains(']') => (&authority[..i], Some(&authority[i + 1..])),
        _ => (authority, None),
    };
    let host = host.to_ascii_lowercase();
    if !valid_host(&host) {
        return Err(format!("`{url}` has no valid host"));
    }
    let port = match port {
        None => None,
        Some(p) => match p.parse::<u16>() {
            Ok(n) if n > 0 && p.bytes().all(|b| b.is_ascii_digit()) => {
                (p != default_port).then(|| n.to_string())
            }
            _ => return Err(format!("`{url}` has an invalid port")),
        },
    };
    let path = path.trim_end_matches('/');
    if wire_path(path) != path {
        return Err(format!(
            "the path of `{url}` has characters that must be percent-encoded"
        ));
    }
    let host_header = match &port {
        Some(p) => format!("{host}:{p}"),
        None => host.clone(),
    };
    Ok(Endpoint {
        origin: format!("{scheme}://{host_header}"),
        host,
        host_header,
        base_path: path.to_owned(),
    })
}

/// Whether `region` looks like an AWS region name (`eu-west-1`, `us-gov-east-1`).
pub fn valid_region(region: &str) -> bool {
    !region.is_empty()
        && region.len() <= 32
        && region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !region.starts_with('-')
        && !region.ends_with('-')
}

/// The region of a function URL host, `<url-id>.lambda-url.<region>.on.aws`.
pub fn region_of_function_url(host: &str) -> Option<&str> {
    let labels: Vec<&str> = host.split('.').collect();
    match labels.as_slice() {
        [_, "lambda-url", region, "on", "aws"] if valid_region(region) => Some(region),
        _ => None,
    }
}

/// The region of a function ARN, `arn:<partition>:lambda:<region>:<account>:function:<name>`.
pub fn region_of_arn(function: &str) -> Option<&str> {
    let parts: Vec<&str> = function.split(':').collect();
    match parts.as_slice() {
        ["arn", _, "lambda", region, ..] if valid_region(region) => Some(region),
        _ => None,
    }
}

/// Whether `name` can be a function name, partial ARN or ARN, optionally with a qualifier
/// (`my-function`, `my-function:prod`, `123456789012:function:my-function`,
/// `arn:aws:lambda:eu-west-1:123456789012:function:my-function:$LATEST`).
pub fn valid_function_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 170
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_:.$".contains(&b))
}

/// The Invoke API endpoint of `region` (`lambda.<region>.amazonaws.com`, `.com.cn` in China).
pub fn invoke_endpoint(region: &str) -> Endpoint {
    let suffix = if region.starts_with("cn-") {
        "amazonaws.com.cn"
    } else {
        "amazonaws.com"
    };
    let host = format!("lambda.{region}.{suffix}");
    Endpoint {
        origin: format!("https://{host}"),
        host_header: host.clone(),
        host,
        base_path: String::new(),
    }
}

/// The Invoke API path of a function: its name is one encoded path segment (`:` as `%3A`).
pub fn invoke_path(function: &str) -> String {
    format!(
        "/2015-03-31/functions/{}/invocations",
        percent_encode(function.as_bytes(), false)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn function_urls_parse() {
        let e = parse_url("https://abc123.lambda-url.eu-west-1.on.aws/").unwrap();
        assert_eq!(e.origin, "https://abc123.lambda-url.eu-west-1.on.aws");
        assert_eq!(e.host_header, "abc123.lambda-url.eu-west-1.on.aws");
        assert_eq!(e.base_path, "");
        assert_eq!(region_of_function_url(&e.host), Some("eu-west-1"));

        let e = parse_url("HTTPS://ABC.lambda-url.us-east-2.on.aws:443/v1/api/").unwrap();
        assert_eq!(e.origin, "https://abc.lambda-url.us-east-2.on.aws");
        assert_eq!(e.base_path, "/v1/api");

        let e = parse_url("http://127.0.0.1:9001").unwrap();
        assert_eq!(e.origin, "http://127.0.0.1:9001");
        assert_eq!(e.host_header, "127.0.0.1:9001");
        assert_eq!(region_of_function_url(&e.host), None);

        let e = parse_url("http://[::1]:8080/x").unwrap();
        assert_eq!(
            (e.host.as_str(), e.host_header.as_str()),
            ("[::1]", "[::1]:8080")
        );
        assert_eq!(parse_url("http://[::1]/").unwrap().host_header, "[::1]");
    }

    #[test]
    fn bad_urls_are_refused() {
        for bad in [
            "abc.lambda-url.eu-west-1.on.aws",
            "ftp://example.com/",
            "https://",
            "https:///path",
            "https://user:pw@example.com/",
            "https://example.com/?a=1",
            "https://example.com/#top",
            "https://example.com:0/",
            "https://example.com:99999/",
            "https://example.com:+80/",
            "https://exa mple.com/",
            "https://-bad.example.com/",
            "https://example..com/",
            "https://example.com/a b",
            "https://[zz]/",
        ] {
            assert!(parse_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn regions_come_from_hosts_and_arns() {
        assert_eq!(
            region_of_function_url("x.lambda-url.ap-southeast-2.on.aws"),
            Some("ap-southeast-2")
        );
        assert_eq!(region_of_function_url("lambda-url.eu-west-1.on.aws"), None);
        assert_eq!(region_of_function_url("x.lambda-url.EU.on.aws"), None);
        assert_eq!(
            region_of_function_url("x.execute-api.eu-west-1.amazonaws.com"),
            None
        );
        assert_eq!(
            region_of_arn("arn:aws:lambda:us-west-2:123456789012:function:f:prod"),
            Some("us-west-2")
        );
        assert_eq!(
            region_of_arn("arn:aws-cn:lambda:cn-north-1:123456789012:function:f"),
            Some("cn-north-1")
        );
        assert_eq!(region_of_arn("123456789012:function:f"), None);
        assert_eq!(region_of_arn("my-function"), None);
    }

    #[test]
    fn invoke_endpoints_and_paths() {
        let e = invoke_endpoint("eu-west-1");
        assert_eq!(e.origin, "https://lambda.eu-west-1.amazonaws.com");
        assert_eq!(
            invoke_endpoint("cn-north-1").host,
            "lambda.cn-north-1.amazonaws.com.cn"
        );
        assert_eq!(
            invoke_path("arn:aws:lambda:us-west-2:1:function:f:$LATEST"),
            "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-west-2%3A1%3Afunction%3Af%3A%24LATEST/invocations"
        );
        assert!(valid_function_name("my_function-1:prod"));
        for bad in ["", "a/b", "a b", "a?b", "é"] {
            assert!(!valid_function_name(bad), "{bad}");
        }
    }

    #[test]
    fn wire_paths_encode_only_what_must_be() {
        assert_eq!(wire_path("/pets/7"), "/pets/7");
        assert_eq!(
            wire_path("/a%20b/c:d@e!$&'()*+,;="),
            "/a%20b/c:d@e!$&'()*+,;="
        );
        assert_eq!(wire_path("/a b/é\"{}%zz"), "/a%20b/%C3%A9%22%7B%7D%25zz");
    }
}
