//! Compile-time checks of the `http-upstream` dispatcher's configuration (E1014, E1031).

use barbacane_spec::pointer::push;
use barbacane_spec::{Code, Diagnostic, Extension};
use serde_json::Value;

const KEYS: [&str; 6] = ["url", "path", "timeout", "http2", "tls", "circuit_breaker"];

pub(crate) fn check(
    ext: &Extension,
    config: &Value,
    allow_plaintext: bool,
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
        let ok = path.as_str().is_some_and(|p| {
            p.starts_with('/') && p.matches('{').count() == p.matches('}').count()
        });
        if !ok {
            return Err(bad(
                "path",
                "http-upstream `path` must start with `/` and use `{param}` templates".into(),
                "e.g. `path: /users/{id}`",
            ));
        }
    }
    if let Some(t) = map.get("timeout")
        && !t.as_f64().is_some_and(|t| t.is_finite() && t > 0.0)
    {
        return Err(bad(
            "timeout",
            "http-upstream `timeout` must be a positive number of seconds".into(),
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
                "window" => v.as_f64().is_some_and(|w| w > 0.0),
                _ => false,
            })
        });
        if !ok {
            return Err(bad(
                "circuit_breaker",
                "`circuit_breaker` takes `threshold` (integer >= 1) and `window` (seconds > 0)"
                    .into(),
                "e.g. `circuit_breaker: {threshold: 5, window: 30}`",
            ));
        }
    }
    Ok(())
}
