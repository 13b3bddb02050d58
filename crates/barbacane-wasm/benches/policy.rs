//! Per-request cost of `opa-authz` evaluating a bundled Rego policy in the gateway (an
//! instance checked out of its pool, `on_request` and `on_response`, the instance given
//! back), on the request of `scripts/policy-load.sh`:
//! - `policy/opa_authz_20_rules`: the script's twenty-rule policy, every allow rule walked;
//! - `policy/opa_authz_1_rule`: `allow := true`, the plumbing alone (host call, input, one
//!   trivial rule);
//! - `policy/opa_authz_20_rules_no_context`: the first with `include_claims: false`.

use barbacane_plugin_abi::{Action, PluginManifest};
use barbacane_wasm::{ExchangeState, PolicySet, Prepared, Runtime};
use criterion::{Criterion, criterion_group, criterion_main};
use std::sync::Arc;

/// The twenty-rule policy `scripts/policy-load.sh` also loads.
const TWENTY: &str = include_str!("../testdata/authz-20.rego");

const ONE: &str = "package barbacane.one\n\nallow := true\n";

fn policies() -> Arc<PolicySet> {
    let mut set = PolicySet::default();
    set.add(
        "authz",
        &[("authz.rego".into(), TWENTY.into())],
        &["data.barbacane.authz.allow".into()],
    )
    .unwrap();
    set.add(
        "one",
        &[("one.rego".into(), ONE.into())],
        &["data.barbacane.one.allow".into()],
    )
    .unwrap();
    Arc::new(set)
}

fn opa_authz(policies: &Arc<PolicySet>, config: serde_json::Value) -> Prepared {
    let bundle = barbacane_plugins::find("opa-authz").unwrap();
    Runtime::global()
        .unwrap()
        .load(PluginManifest::parse(bundle.manifest).unwrap(), bundle.wasm)
        .unwrap()
        .with_policies(Arc::clone(policies))
        .prepare(&config)
        .unwrap()
}

/// Runs `future` to completion with one poll: nothing in a policy-mode call waits.
fn now<T>(future: impl Future<Output = T>) -> T {
    let mut future = std::pin::pin!(future);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    match future.as_mut().poll(&mut cx) {
        std::task::Poll::Ready(value) => value,
        std::task::Poll::Pending => panic!("a policy-mode call waited"),
    }
}

fn bench(c: &mut Criterion) {
    let policies = policies();
    let twenty = opa_authz(&policies, serde_json::json!({"policy": "authz"}));
    let twenty_no_context = opa_authz(
        &policies,
        serde_json::json!({"policy": "authz", "include_claims": false}),
    );
    let one = opa_authz(
        &policies,
        serde_json::json!({"policy": "one", "query": "data.barbacane.one.allow"}),
    );
    let mut exchange = ExchangeState {
        uri: "/users/alice/notes".parse().unwrap(),
        path_params: vec![("owner".into(), "alice".into())],
        client_ip: Some([127, 0, 0, 1].into()),
        ..Default::default()
    };
    for (name, value) in [
        ("host", "127.0.0.1:18291"),
        ("x-user", "alice"),
        ("x-tenant", "acme"),
        ("accept", "application/json"),
        ("user-agent", "bench"),
    ] {
        exchange.headers.insert(name, value.parse().unwrap());
    }
    for (name, prepared) in [
        ("opa_authz_20_rules", &twenty),
        ("opa_authz_20_rules_no_context", &twenty_no_context),
        ("opa_authz_1_rule", &one),
    ] {
        let mut call = now(prepared.start_async(exchange.clone())).unwrap();
        let action = now(call.on_request_async()).unwrap();
        assert!(matches!(action, Action::Continue), "{name}: {action:?}");
        drop(call.into_exchange());
        c.bench_function(&format!("policy/{name}"), |b| {
            b.iter(|| {
                let mut call = now(prepared.start_async(exchange.clone())).unwrap();
                let action = now(call.on_request_async()).unwrap();
                now(call.on_response_async()).unwrap();
                (action, call.into_exchange())
            })
        });
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
