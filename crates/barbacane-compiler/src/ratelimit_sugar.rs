//! `x-barbacane-ratelimit`: sugar for `rate-limit` middlewares (seed 002 M6).
//!
//! ```yaml
//! x-barbacane-ratelimit: {quota: 100, window: 60}          # one policy
//! x-barbacane-ratelimit:                                   # several, all enforced
//!   - {quota: 10, window: 1, policy_name: burst}
//!   - {quota: 1000, window: 3600, policy_name: hourly, partition_key: "header:x-api-key"}
//! ```
//!
//! At the root it applies to every operation; on an operation it replaces the root's. Each
//! policy becomes a `rate-limit` entry at the front of the operation's middleware chain (so a
//! refused request costs nothing else), with the policy as its configuration. The keys are the
//! plugin's; values are checked here with E1040 (shape) and E1041 (range), each at the
//! offending key's pointer, before the plugin's own schema sees them.

use barbacane_artifact::PluginUse;
use barbacane_spec::{Code, Diagnostic, Extension};
use serde_json::{Map, Value};

const KEYS: [&str; 6] = [
    "quota",
    "window",
    "policy_name",
    "partition_key",
    "trusted_proxies",
    "fail_open",
];
/// Longest window: 31 days, in seconds.
const MAX_WINDOW: u64 = 31 * 24 * 3600;

/// The `rate-limit` uses an `x-barbacane-ratelimit` extension stands for (unresolved: the
/// caller resolves them like any middleware). Problems are pushed to `diags`.
pub(crate) fn expand(ext: &Extension, diags: &mut Vec<Diagnostic>) -> Vec<PluginUse> {
    let policies: Vec<(String, &Value)> = match &ext.value {
        Value::Object(_) => vec![(ext.pointer.clone(), &ext.value)],
        Value::Array(items) if !items.is_empty() => items
            .iter()
            .enumerate()
            .map(|(i, v)| (format!("{}/{i}", ext.pointer), v))
            .collect(),
        _ => {
            diags.push(Diagnostic::error(
                Code::E1040,
                &ext.file,
                &ext.pointer,
                "`x-barbacane-ratelimit` is not a mapping or a non-empty list of mappings",
                "write `x-barbacane-ratelimit: {quota: 100, window: 60}` (window in seconds)",
            ));
            return Vec::new();
        }
    };
    let mut out = Vec::new();
    for (pointer, value) in policies {
        let errors_before = diags.len();
        let Some(map) = value.as_object() else {
            diags.push(Diagnostic::error(
                Code::E1040,
                &ext.file,
                &pointer,
                "a rate-limit policy is not a mapping",
                "write `{quota: 100, window: 60}`",
            ));
            continue;
        };
        check(ext, &pointer, map, diags);
        if diags.len() == errors_before {
            out.push(PluginUse {
                name: "rate-limit".into(),
                config: value.clone(),
            });
        }
    }
    out
}

fn check(ext: &Extension, pointer: &str, map: &Map<String, Value>, diags: &mut Vec<Diagnostic>) {
    let at = |key: &str| format!("{pointer}/{}", key.replace('~', "~0").replace('/', "~1"));
    let mut error = |code: Code, at: String, message: String, hint: &str| {
        diags.push(Diagnostic::error(code, &ext.file, at, message, hint));
    };
    for key in map.keys().filter(|k| !KEYS.contains(&k.as_str())) {
        error(
            Code::E1040,
            at(key),
            format!("unknown rate-limit key `{key}`"),
            "known keys: quota, window, policy_name, partition_key, trusted_proxies, fail_open",
        );
    }
    for key in ["quota", "window"] {
        match map.get(key) {
            None => error(
                Code::E1040,
                pointer.to_owned(),
                format!("a rate-limit policy needs `{key}`"),
                "write `{quota: 100, window: 60}` (window in seconds)",
            ),
            Some(v) => {
                let max = if key == "window" {
                    MAX_WINDOW
                } else {
                    i64::MAX as u64
                };
                if !v.as_u64().is_some_and(|n| (1..=max).contains(&n)) {
                    error(
                        Code::E1041,
                        at(key),
                        format!(
                            "`{key}` must be a positive integer{}, not {v}",
                            if key == "window" {
                                " of seconds, at most 31 days"
                            } else {
                                ""
                            }
                        ),
                        "quota counts requests; window is in seconds",
                    );
                }
            }
        }
    }
    if let Some(v) = map.get("policy_name") {
        let ok = v.as_str().is_some_and(|s| {
            (1..=64).contains(&s.len())
                && s.bytes()
                    .all(|b| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\')
        });
        if !ok {
            error(
                Code::E1041,
                at("policy_name"),
                format!(
                    "`policy_name` {v} is not 1 to 64 printable ASCII characters without `\"` or `\\`"
                ),
                "it is sent as a Structured Field string in RateLimit-Policy",
            );
        }
    }
    if let Some(v) = map.get("partition_key") {
        let ok = v.as_str().is_some_and(|s| {
            s == "client_ip"
                || s.strip_prefix("header:").is_some_and(|h| {
                    !h.is_empty()
                        && h.bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
                })
                || s.strip_prefix("context:").is_some_and(|c| !c.is_empty())
        });
        if !ok {
            error(
                Code::E1041,
                at("partition_key"),
                format!(
                    "`partition_key` {v} is not `client_ip`, `header:<name>` or `context:<key>`"
                ),
                "e.g. `header:x-api-key`; an absent header falls back to the client address",
            );
        }
    }
    if let Some(v) = map.get("trusted_proxies") {
        let bad: Vec<String> = match v.as_array() {
            Some(items) => items
                .iter()
                .filter(|c| !c.as_str().is_some_and(is_cidr))
                .map(Value::to_string)
                .collect(),
            None => vec![v.to_string()],
        };
        if !bad.is_empty() {
            error(
                Code::E1041,
                at("trusted_proxies"),
                format!(
                    "`trusted_proxies` must list CIDRs (or addresses); not {}",
                    bad.join(", ")
                ),
                "e.g. [\"10.0.0.0/8\", \"192.168.1.10\"]",
            );
        }
    }
    if let Some(v) = map.get("fail_open").filter(|v| !v.is_boolean()) {
        error(
            Code::E1041,
            at("fail_open"),
            format!("`fail_open` must be true or false, not {v}"),
            "true lets requests through while the shared state is unreachable",
        );
    }
}

fn is_cidr(s: &str) -> bool {
    let (addr, len) = match s.split_once('/') {
        Some((a, l)) => (a, Some(l)),
        None => (s, None),
    };
    let Ok(ip) = addr.parse::<std::net::IpAddr>() else {
        return false;
    };
    let max = if ip.is_ipv4() { 32 } else { 128 };
    len.is_none_or(|l| l.parse::<u8>().is_ok_and(|n| n <= max))
}
