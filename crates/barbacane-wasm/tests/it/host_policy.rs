//! `ratelimit.host_policy`: the official `rate-limit` plugin hands its policy to the host,
//! and the host's decisions must be the plugin's own. Each case sends the same requests
//! through the plugin's `on_request` and through the host's `decide_limit`, each with its
//! own limiter, and compares everything a client or the limiter sees: bucket names,
//! statuses, headers, bodies and the `RateLimit` members.

use barbacane_plugin_abi::{Action, PluginManifest};
use barbacane_wasm::{
    Decision, ExchangeState, Head, LimitError, LimitFuture, LimitStep, Prepared, RateLimiter,
    Runtime,
};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Counts takes per bucket (a fixed window is enough: both paths meet the same one) and
/// records the bucket names; `down` answers "unavailable".
#[derive(Debug, Default)]
struct Counting {
    taken: Mutex<HashMap<String, u64>>,
    keys: Mutex<Vec<String>>,
    down: bool,
}

impl Counting {
    fn decide(&self, key: &str, quota: u64, window: Duration) -> Result<Decision, LimitError> {
        self.keys.lock().unwrap().push(key.to_owned());
        if self.down {
            return Err(LimitError::Unavailable("down".into()));
        }
        let mut taken = self.taken.lock().unwrap();
        let used = taken.entry(key.to_owned()).or_default();
        let allowed = *used < quota;
        if allowed {
            *used += 1;
        }
        Ok(Decision {
            allowed,
            limit: quota,
            remaining: quota - *used,
            // Not a whole number of seconds: both round it up.
            reset: window / 3 * 2 + Duration::from_millis(1),
        })
    }
}

impl RateLimiter for Counting {
    fn take(&self, key: &str, quota: u64, window: Duration) -> LimitFuture {
        let decided = self.decide(key, quota, window);
        Box::pin(async move { decided })
    }

    fn is_synchronous(&self) -> bool {
        true
    }

    fn take_now(
        &self,
        key: &str,
        quota: u64,
        window: Duration,
    ) -> Option<Result<Decision, LimitError>> {
        Some(self.decide(key, quota, window))
    }
}

fn rate_limit(config: &Value, limiter: Arc<Counting>) -> Prepared {
    let bundle = barbacane_plugins::find("rate-limit").unwrap();
    let limiter: Arc<dyn RateLimiter> = limiter;
    Runtime::global()
        .unwrap()
        .load_with(
            PluginManifest::parse(bundle.manifest).unwrap(),
            bundle.wasm,
            Some(limiter),
        )
        .unwrap()
        .prepare(config)
        .unwrap()
}

/// A request: its peer and headers.
struct Sent {
    peer: Option<&'static str>,
    headers: Vec<(&'static str, &'static str)>,
}

fn sent(peer: &'static str, headers: &[(&'static str, &'static str)]) -> Sent {
    Sent {
        peer: Some(peer),
        headers: headers.to_vec(),
    }
}

fn exchange(request: &Sent) -> ExchangeState {
    let mut e = ExchangeState {
        uri: "/pets".parse().unwrap(),
        client_ip: request.peer.map(|p| p.parse::<IpAddr>().unwrap()),
        ..Default::default()
    };
    for (n, v) in &request.headers {
        e.headers.append(*n, v.parse().unwrap());
    }
    e
}

/// What a client sees: status, the fields and bodies a rate limit sets, and the members
/// reported for an allowed request.
fn seen(status: u16, headers: &http::HeaderMap, body: &[u8], members: Vec<String>) -> Value {
    let field = |name: &str| headers.get(name).map(|v| v.to_str().unwrap().to_owned());
    json!({
        "status": status,
        "content-type": field("content-type"),
        "retry-after": field("retry-after"),
        "ratelimit-policy": field("ratelimit-policy"),
        "ratelimit": field("ratelimit"),
        "body": String::from_utf8_lossy(body),
        "members": members,
    })
}

fn by_plugin(prepared: &Prepared, request: &Sent) -> Value {
    let mut call = prepared.start(exchange(request)).unwrap();
    let action = call.on_request().unwrap();
    let mut e = call.into_exchange();
    let members = e
        .rate_limit_fields
        .iter()
        .map(|f| {
            format!(
                "{} | {}",
                f.policy.to_str().unwrap(),
                f.limit.to_str().unwrap()
            )
        })
        .collect();
    match action {
        Action::Respond => {
            let r = e.response.take().unwrap();
            seen(
                r.status.as_u16(),
                &r.headers,
                &r.body.unwrap_or_default(),
                members,
            )
        }
        Action::Continue => seen(200, &http::HeaderMap::new(), b"", members),
    }
}

fn by_host(prepared: &Prepared, request: &Sent) -> Value {
    let e = exchange(request);
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let step = rt
        .block_on(prepared.decide_limit(Head::from(&e), e.client_ip))
        .expect("the host decides this policy");
    match step {
        LimitStep::Allowed(f) => seen(
            200,
            &http::HeaderMap::new(),
            b"",
            vec![format!(
                "{} | {}",
                f.policy.to_str().unwrap(),
                f.limit.to_str().unwrap()
            )],
        ),
        LimitStep::Skipped => seen(200, &http::HeaderMap::new(), b"", Vec::new()),
        LimitStep::Respond(r) => seen(
            r.status.as_u16(),
            &r.headers,
            &r.body.unwrap_or_default(),
            Vec::new(),
        ),
    }
}

/// Sends `requests` through both paths; every answer and bucket must be the same.
fn same_answers(config: Value, down: bool, requests: &[Sent]) {
    let plugin_limiter = Arc::new(Counting {
        down,
        ..Default::default()
    });
    let host_limiter = Arc::new(Counting {
        down,
        ..Default::default()
    });
    let plugin_side = rate_limit(&config, Arc::clone(&plugin_limiter));
    let host_side = rate_limit(&config, Arc::clone(&host_limiter));
    assert!(
        host_side.decides_limits(),
        "{config}: the policy was declared"
    );
    for (i, request) in requests.iter().enumerate() {
        let (plugin, host) = (
            by_plugin(&plugin_side, request),
            by_host(&host_side, request),
        );
        assert_eq!(plugin, host, "{config}, request {i}");
    }
    assert_eq!(
        *plugin_limiter.keys.lock().unwrap(),
        *host_limiter.keys.lock().unwrap(),
        "{config}: the same buckets"
    );
}

#[test]
fn the_host_answers_as_the_plugin_by_client_address() {
    let requests = [
        sent("203.0.113.7", &[]),
        sent("203.0.113.7", &[("x-forwarded-for", "198.51.100.1")]),
        sent("::ffff:203.0.113.7", &[]),
        sent("2001:db8::1", &[]),
        Sent {
            peer: None,
            headers: Vec::new(),
        },
        sent("203.0.113.7", &[]),
        sent("203.0.113.7", &[]),
    ];
    same_answers(json!({"quota": 2, "window": 10}), false, &requests);
    same_answers(
        json!({"quota": 1, "window": 3600, "policy_name": "hourly limit"}),
        false,
        &requests,
    );
}

#[test]
fn the_host_walks_forwarded_entries_as_the_plugin() {
    let requests = [
        sent("10.0.0.1", &[("x-forwarded-for", "198.51.100.1, 10.0.0.2")]),
        sent(
            "10.0.0.1",
            &[
                ("x-forwarded-for", "1.1.1.1, 198.51.100.1"),
                ("x-forwarded-for", "10.0.0.9:8080"),
            ],
        ),
        sent("10.0.0.1", &[("x-forwarded-for", "198.51.100.1, unknown")]),
        sent("10.0.0.1", &[("x-forwarded-for", "[2001:db8::7]:443")]),
        sent("10.0.0.1", &[]),
        sent("198.51.100.9", &[("x-forwarded-for", "203.0.113.1")]),
        sent("10.0.0.1", &[("x-forwarded-for", "198.51.100.1")]),
    ];
    same_answers(
        json!({"quota": 1, "window": 60, "trusted_proxies": ["10.0.0.0/8", "fd00::/8"]}),
        false,
        &requests,
    );
}

#[test]
fn the_host_answers_as_the_plugin_by_header_and_when_down() {
    let requests = [
        sent("203.0.113.7", &[("x-api-key", "alice")]),
        sent(
            "203.0.113.7",
            &[("x-api-key", "alice"), ("x-api-key", "bob")],
        ),
        sent("203.0.113.7", &[("x-api-key", "")]),
        sent("203.0.113.7", &[]),
        sent("203.0.113.8", &[("x-api-key", "bob")]),
        sent("203.0.113.7", &[("x-api-key", "alice")]),
    ];
    same_answers(
        json!({"quota": 2, "window": 1, "partition_key": "header:X-Api-Key", "policy_name": "per-key"}),
        false,
        &requests,
    );
    same_answers(json!({"quota": 2, "window": 1}), true, &requests);
    same_answers(
        json!({"quota": 2, "window": 1, "fail_open": true}),
        true,
        &requests,
    );
}

#[test]
fn context_partitions_stay_with_the_plugin() {
    let limiter = Arc::new(Counting::default());
    let prepared = rate_limit(
        &json!({"quota": 1, "window": 1, "partition_key": "context:sub"}),
        limiter,
    );
    assert!(!prepared.decides_limits());
}
