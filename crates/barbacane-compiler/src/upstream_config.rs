//! Compile-time checks of the `http-upstream` dispatcher's configuration (E1014, E1031).

use barbacane_spec::pointer::push;
use barbacane_spec::{Code, Diagnostic, Extension};
use serde_json::Value;

const KEYS: [&str; 6] = ["url", "path", "timeout", "http2", "tls", "circuit_breaker"];

/// Longest accepted `timeout` or breaker `window`, in seconds (one day): anything larger is
/// a typo, and must not reach the data plane's duration arithmetic.
const MAX_SECONDS: f64 = 86_400.0;

pub(crate) fn check(
    ext: &Extension,
    config: &Value,
    allow_plaintext: bool,
    path_params: &[&str],
) -> Result<(), Diagnostic> {
    let base = push(&ext.pointer, "config");
    let bad = |key: &str, message: String, hint: &str| {
        Diagnostic::error(Code::E1014, &ext.file, push(&base, key), message, hint)
    };
    let Some(map) = config.as_object() else {
        return Ok(());
    };
    if let Some(key) = map.keys().find(|k| !KEYS.contains(&k.as_str())) {
        return Err(bad(
            key,
            format!("unknown http-upstream setting `{key}`"),
            "http-upstream accepts url, path, timeout, http2, tls and circuit_breaker",
        ));
    }
    let url = match map.get("url") {
        Some(Value::String(u)) => u,
        _ => {
            return Err(Diagnostic::error(
                Code::E1014,
                &ext.file,
                &base,
                "http-upstream needs a `url` string",
                "e.g. `url: https://api.internal.example.com`",
            ));
        }
    };
    let (scheme, rest) = url.split_once("://").unwrap_or(("", ""));
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if !matches!(scheme, "http" | "https")
        || host.is_empty()
        || url.contains(char::is_whitespace)
        || url.contains(['?', '#'])
    {
        return Err(bad(
            "url",
            format!("`{url}` is not an absolute http(s) URL without query or fragment"),
            "e.g. `https://api.internal.example.com/v1`",
        ));
    }
    if scheme == "http" && !allow_plaintext {
        return Err(Diagnostic::error(
            Code::E1031,
            &ext.file,
            push(&base, "url"),
            format!("plaintext upstream `{url}`: traffic to it would not be encrypted"),
            "use https://, or pass --allow-plaintext-upstream for development",
        ));
    }
    if let Some(path) = map.get("path") {
        let names = path.as_str().and_then(template_params);
        let Some(names) = names else {
            return Err(bad(
                "path",
                "http-upstream `path` must start with `/` and use `{param}` templates (non-empty names, no nesting)".into(),
                "e.g. `path: /users/{id}`",
            ));
        };
        // `{name+}` inserts a greedy parameter with its `/`s.
        if let Some(missing) = names
            .iter()
            .find(|n| !path_params.contains(&n.strip_suffix('+').unwrap_or(n)))
        {
            return Err(bad(
                "path",
                format!(
                    "http-upstream `path` uses `{{{missing}}}`, which is not a path parameter of this operation"
                ),
                "use the operation's path parameter names in `{...}`",
            ));
        }
    }
    if let Some(t) = map.get("timeout")
        && !t.as_f64().is_some_and(|t| t > 0.0 && t <= MAX_SECONDS)
    {
        return Err(bad(
            "timeout",
            "http-upstream `timeout` must be a number of seconds above 0 and at most 86400".into(),
            "e.g. `timeout: 5` or `timeout: 0.5`",
        ));
    }
    if map.get("http2").is_some_and(|v| !v.is_boolean()) {
        return Err(bad(
            "http2",
            "http-upstream `http2` must be true or false".into(),
            "e.g. `http2: true`",
        ));
    }
    if let Some(tls) = map.get("tls") {
        let keys = ["client_cert", "client_key", "ca"];
        let ok = tls.as_object().is_some_and(|t| {
            t.iter()
                .all(|(k, v)| keys.contains(&k.as_str()) && v.is_string())
        });
        if !ok {
            return Err(bad(
                "tls",
                "http-upstream `tls` must map client_cert, client_key and ca to file paths".into(),
                "e.g. `tls: {ca: /etc/barbacane/ca.pem}`",
            ));
        }
        if tls.get("client_cert").is_some() != tls.get("client_key").is_some() {
            return Err(bad(
                "tls",
                "`tls.client_cert` and `tls.client_key` go together".into(),
                "set both for mTLS, or neither",
            ));
        }
    }
    if let Some(b) = map.get("circuit_breaker") {
        let ok = b.as_object().is_some_and(|b| {
            b.iter().all(|(k, v)| match k.as_str() {
                "threshold" => v.as_u64().is_some_and(|t| t >= 1),
                "window" => v.as_f64().is_some_and(|w| w > 0.0 && w <= MAX_SECONDS),
                _ => false,
            })
        });
        if !ok {
            return Err(bad(
                "circuit_breaker",
                "`circuit_breaker` takes `threshold` (integer >= 1) and `window` (seconds, 0 < w <= 86400)"
                    .into(),
                "e.g. `circuit_breaker: {threshold: 5, window: 30}`",
            ));
        }
    }
    Ok(())
}

/// The parameter names of an upstream path template, or `None` if it is malformed.
fn template_params(template: &str) -> Option<Vec<&str>> {
    if !template.starts_with('/') {
        return None;
    }
    let mut names = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find(['{', '}']) {
        if rest.as_bytes().get(open) == Some(&b'}') {
            return None;
        }
        let after = rest.get(open + 1..)?;
        let close = after.find(['{', '}'])?;
        if after.as_bytes().get(close) != Some(&b'}') || close == 0 {
            return None;
        }
        names.push(after.get(..close)?);
        rest = after.get(close + 1..)?;
    }
    Some(names)
}

#[cfg(test)]
mod tests {
    use super::template_params;

    #[test]
    fn templates() {
        assert_eq!(template_params("/u/{id}/x{n}"), Some(vec!["id", "n"]));
        assert_eq!(template_params("/plain"), Some(vec![]));
        for bad in ["u/{id}", "/x/{}", "/x/}id{", "/x/{a{b}}", "/x/{open"] {
            assert_eq!(template_params(bad), None, "{bad}");
        }
    }
}
