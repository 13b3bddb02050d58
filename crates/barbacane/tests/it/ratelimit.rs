//! Two real `serve` processes sharing the real Redis on 127.0.0.1:6379 (`--state`) enforce
//! one quota between them; `--state` with a bad URL is a usage error.

use crate::support::{Launch, Server, barbacane, compile_in, free_port, run};

#[test]
fn two_gateway_processes_on_one_redis_let_exactly_the_quota_through() {
    let dir = tempfile::tempdir().unwrap();
    // A policy name of its own, so runs within one window never share a count.
    let policy = format!("fleet-{}-{}", std::process::id(), free_port());
    let spec = dir.path().join("api.yaml");
    std::fs::write(
        &spec,
        format!(
            "openapi: 3.1.0\ninfo: {{title: t, version: \"1\"}}\n\
             x-barbacane-ratelimit: {{quota: 50, window: 30, policy_name: {policy}}}\n\
             paths:\n  /a:\n    get:\n      x-barbacane-dispatch: {{name: mock}}\n      \
             responses: {{\"200\": {{description: ok}}}}\n"
        ),
    )
    .unwrap();
    let artifact = dir.path().join("api.bca");
    compile_in(dir.path(), &[&spec], &artifact, &[]);
    let args = [
        "serve",
        "--artifact",
        artifact.to_str().unwrap(),
        "--state",
        "redis://127.0.0.1:6379/0",
    ];
    let a = Server::start_with(dir.path(), &args, &Launch::default());
    let b = Server::start_with(dir.path(), &args, &Launch::default());
    let (mut allowed, mut limited) = (0, 0);
    for i in 0..300 {
        let r = if i % 2 == 0 { a.get("/a") } else { b.get("/a") };
        match r.status {
            200 => allowed += 1,
            429 => limited += 1,
            other => panic!("unexpected {other}: {r:?}"),
        }
    }
    assert_eq!((allowed, limited), (50, 250));
}

#[test]
fn a_state_url_that_is_not_redis_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let artifact = crate::support::compile_petstore(dir.path());
    let out = run(barbacane()
        .arg("serve")
        .arg("--artifact")
        .arg(&artifact)
        .arg("--state")
        .arg("memcached://x")
        .arg("--listen")
        .arg(format!("127.0.0.1:{}", free_port())));
    out.assert_code(10);
    assert!(out.stderr.contains("--state"), "{}", out.stderr);
}
