use super::*;
use crate::limiter::LimitFuture;
use http::{HeaderMap, Method, Uri};
use std::sync::Mutex;

/// SHA-256 of `abc` (FIPS 180-2, appendix B.1).
const SHA256_ABC: &str = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

/// A limiter that records the buckets it is asked for and answers what it is told.
#[derive(Debug)]
struct Scripted {
    keys: Mutex<Vec<String>>,
    answer: Result<Decision, LimitError>,
    /// Only `take` answers (as the Redis limiter does).
    awaited: bool,
}

impl Scripted {
    fn new(answer: Result<Decision, LimitError>) -> Arc<Scripted> {
        Arc::new(Scripted {
            keys: Mutex::new(Vec::new()),
            answer,
            awaited: false,
        })
    }

    fn keys(&self) -> Vec<String> {
        self.keys.lock().unwrap().clone()
    }
}

impl RateLimiter for Scripted {
    fn take(&self, key: &str, _quota: u64, _window: Duration) -> LimitFuture {
        self.keys.lock().unwrap().push(key.to_owned());
        let answer = self.answer.clone();
        Box::pin(async move { answer })
    }

    fn take_now(
        &self,
        key: &str,
        _quota: u64,
        _window: Duration,
    ) -> Option<Result<Decision, LimitError>> {
        if self.awaited {
            return None;
        }
        self.keys.lock().unwrap().push(key.to_owned());
        Some(self.answer.clone())
    }
}

fn allowed(remaining: u64, reset_ms: u64) -> Result<Decision, LimitError> {
    Ok(Decision {
        allowed: remaining < u64::MAX,
        limit: 100,
        remaining,
        reset: Duration::from_millis(reset_ms),
    })
}

fn refused(reset_ms: u64) -> Result<Decision, LimitError> {
    Ok(Decision {
        allowed: false,
        limit: 100,
        remaining: 0,
        reset: Duration::from_millis(reset_ms),
    })
}

fn rule(extra: serde_json::Value) -> LimitRule {
    let mut declared = serde_json::json!({
        "bucket": "default:100:10:",
        "quota": 100,
        "window_ms": 10_000,
        "partition": "client_ip",
        "policy": "\"default\";q=100;w=10",
        "name": "\"default\"",
        "refused_body": "{\"status\":429}",
        "unavailable_body": "{\"status\":503}",
    });
    for (k, v) in extra.as_object().unwrap() {
        declared[k] = v.clone();
    }
    LimitRule::parse("rate-limit", declared.to_string().as_bytes()).unwrap()
}

fn decide(
    rule: &LimitRule,
    limiter: Arc<Scripted>,
    headers: &[(&str, &[u8])],
    peer: Option<&str>,
) -> LimitStep {
    let mut map = HeaderMap::new();
    for (n, v) in headers {
        map.append(
            HeaderName::from_bytes(n.as_bytes()).unwrap(),
            HeaderValue::from_bytes(v).unwrap(),
        );
    }
    let uri: Uri = "/pets".parse().unwrap();
    let head = Head {
        method: &Method::GET,
        uri: &uri,
        headers: &map,
    };
    let limiter: Arc<dyn RateLimiter> = limiter;
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(rule.decide(&limiter, head, peer.map(|p| p.parse().unwrap())))
}

fn bucket(rule: &LimitRule, headers: &[(&str, &[u8])], peer: Option<&str>) -> String {
    let limiter = Scripted::new(allowed(1, 1));
    decide(rule, Arc::clone(&limiter), headers, peer);
    limiter.keys().pop().unwrap()
}

#[test]
fn buckets_are_named_as_the_plugin_names_them() {
    let by_ip = rule(serde_json::json!({}));
    let prefix = "rate-limit:default:100:10:";
    assert_eq!(
        bucket(&by_ip, &[], Some("203.0.113.7")),
        format!("{prefix}ip:203.0.113.7")
    );
    // Mapped IPv4 peers count as IPv4; no peer is one `unknown` bucket.
    assert_eq!(
        bucket(&by_ip, &[], Some("::ffff:203.0.113.7")),
        format!("{prefix}ip:203.0.113.7")
    );
    assert_eq!(bucket(&by_ip, &[], None), format!("{prefix}ip:unknown"));
    // X-Forwarded-For is ignored without trusted proxies.
    assert_eq!(
        bucket(
            &by_ip,
            &[("x-forwarded-for", b"198.51.100.1")],
            Some("10.0.0.1")
        ),
        format!("{prefix}ip:10.0.0.1")
    );

    let behind = rule(serde_json::json!({"trusted_proxies": ["10.0.0.0/8"]}));
    assert_eq!(
        bucket(
            &behind,
            &[
                ("x-forwarded-for", b"1.1.1.1, 198.51.100.1"),
                ("x-forwarded-for", b"10.0.0.9")
            ],
            Some("10.0.0.1")
        ),
        format!("{prefix}ip:198.51.100.1")
    );
    // Invalid UTF-8 is not an address: the walk stops there, as in the plugin.
    assert_eq!(
        bucket(
            &behind,
            &[("x-forwarded-for", b"198.51.100.1, \xff")],
            Some("10.0.0.1")
        ),
        format!("{prefix}ip:10.0.0.1")
    );

    let by_key = rule(serde_json::json!({"partition": "header:x-api-key"}));
    assert_eq!(
        bucket(&by_key, &[("x-api-key", b"abc")], Some("203.0.113.7")),
        format!("{prefix}header:{SHA256_ABC}")
    );
    // Missing or empty: the client's address.
    assert_eq!(
        bucket(&by_key, &[("x-api-key", b"")], Some("203.0.113.7")),
        format!("{prefix}ip:203.0.113.7")
    );
    assert_eq!(
        bucket(&by_key, &[], Some("203.0.113.7")),
        format!("{prefix}ip:203.0.113.7")
    );
}

#[test]
fn allowed_requests_carry_both_members() {
    let r = rule(serde_json::json!({}));
    let LimitStep::Allowed(fields) = decide(&r, Scripted::new(allowed(99, 9_001)), &[], None)
    else {
        panic!("not allowed");
    };
    assert_eq!(fields.policy, "\"default\";q=100;w=10");
    // The reset rounds up to whole seconds.
    assert_eq!(fields.limit, "\"default\";r=99;t=10");
}

#[test]
fn a_spent_quota_is_the_plugins_429() {
    let r = rule(serde_json::json!({}));
    for (reset_ms, t, retry) in [(4_200, "5", "5"), (0, "0", "1")] {
        let LimitStep::Respond(answer) = decide(&r, Scripted::new(refused(reset_ms)), &[], None)
        else {
            panic!("not refused");
        };
        assert_eq!(answer.status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(answer.headers["content-type"], "application/problem+json");
        assert_eq!(answer.headers["retry-after"], retry);
        assert_eq!(answer.headers["ratelimit-policy"], "\"default\";q=100;w=10");
        assert_eq!(
            answer.headers["ratelimit"],
            format!("\"default\";r=0;t={t}").as_str()
        );
        assert_eq!(answer.body.unwrap(), "{\"status\":429}");
    }
}

#[test]
fn an_unavailable_limiter_fails_as_declared() {
    let down = || {
        let mut limiter = Scripted::new(Err(LimitError::Unavailable("down".into())));
        // The Redis limiter only answers through `take`.
        Arc::get_mut(&mut limiter).unwrap().awaited = true;
        limiter
    };
    let closed = rule(serde_json::json!({}));
    let LimitStep::Respond(answer) = decide(&closed, down(), &[], None) else {
        panic!("not answered");
    };
    assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(answer.headers["retry-after"], "1");
    assert_eq!(answer.headers["content-type"], "application/problem+json");
    assert_eq!(answer.body.unwrap(), "{\"status\":503}");
    let open = rule(serde_json::json!({"fail_open": true}));
    let limiter = down();
    assert!(matches!(
        decide(&open, Arc::clone(&limiter), &[], None),
        LimitStep::Skipped
    ));
    assert_eq!(limiter.keys().len(), 1, "asked through take");
}

#[test]
fn bad_declarations_are_refused_with_a_reason() {
    let base = serde_json::json!({
        "bucket": "p:1:1:", "quota": 1, "window_ms": 1000, "partition": "client_ip",
        "policy": "\"p\";q=1;w=1", "name": "\"p\"", "refused_body": "", "unavailable_body": "",
    });
    for (change, reason) in [
        (serde_json::json!({"quota": 0}), "quota"),
        (serde_json::json!({"quota": u64::MAX}), "quota"),
        (serde_json::json!({"window_ms": 0}), "window_ms"),
        (serde_json::json!({"partition": "context:sub"}), "partition"),
        (
            serde_json::json!({"partition": "header:X-Key"}),
            "lowercase",
        ),
        (
            serde_json::json!({"trusted_proxies": ["proxy"]}),
            "trusted_proxies",
        ),
        (serde_json::json!({"policy": "a\nb"}), "policy"),
        (serde_json::json!({"name": ""}), "name"),
        (serde_json::json!({"bucket": "b".repeat(500)}), "too long"),
        (serde_json::json!({"limit": 3}), "unknown field"),
    ] {
        let mut declared = base.clone();
        for (k, v) in change.as_object().unwrap() {
            declared[k] = v.clone();
        }
        let err = LimitRule::parse("p", declared.to_string().as_bytes()).unwrap_err();
        assert!(err.contains(reason), "{change}: {err}");
    }
}
