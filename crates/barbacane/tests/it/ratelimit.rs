//! Two real `serve` processes sharing the real Redis on 127.0.0.1:6379 (`--state`) enforce
//! one quota between them; a Redis of its own killed and restarted under a gateway: quotas
//! fail open or closed as configured and come back by themselves; `--state` with a bad URL
//! is a usage error.

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

/// A `redis-server` of this test's own on a free port, killed when dropped.
struct OwnRedis {
    child: Option<std::process::Child>,
    port: u16,
}

impl OwnRedis {
    fn start() -> OwnRedis {
        let mut redis = OwnRedis {
            child: None,
            port: free_port(),
        };
        redis.restart();
        redis
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn restart(&mut self) {
        self.kill();
        let child = std::process::Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("redis-server is needed; .ci/run installs it");
        self.child = Some(child);
        let up = crate::support::eventually(100, std::time::Duration::from_millis(50), || {
            std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok()
        });
        assert!(up, "redis-server did not listen on {}", self.port);
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        self.kill();
    }
}

#[test]
fn a_redis_outage_fails_open_or_closed_as_configured_and_limits_come_back() {
    let mut redis = OwnRedis::start();
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("api.yaml");
    std::fs::write(
        &spec,
        "openapi: 3.1.0\ninfo: {title: t, version: \"1\"}\npaths:\n\
         \x20 /open:\n    get:\n      x-barbacane-ratelimit: {quota: 1000, window: 60, policy_name: open, fail_open: true}\n\
         \x20     x-barbacane-dispatch: {name: mock}\n      responses: {\"200\": {description: ok}}\n\
         \x20 /closed:\n    get:\n      x-barbacane-ratelimit: {quota: 1000, window: 60, policy_name: closed}\n\
         \x20     x-barbacane-dispatch: {name: mock}\n      responses: {\"200\": {description: ok}}\n",
    )
    .unwrap();
    let artifact = dir.path().join("api.bca");
    compile_in(dir.path(), &[&spec], &artifact, &[]).assert_code(0);
    let state = format!("redis://127.0.0.1:{}/0", redis.port);
    let mut gw = Server::start_with(
        dir.path(),
        &[
            "serve",
            "--artifact",
            artifact.to_str().unwrap(),
            "--state",
            &state,
        ],
        &Launch::default(),
    );
    let limited = |r: &crate::support::Response| r.header("ratelimit").is_some();
    // Both workers answer (one connection per request): every request is counted.
    for _ in 0..10 {
        for path in ["/open", "/closed"] {
            let r = gw.get(path);
            assert_eq!(r.status, 200, "{path}: {r:?}");
            assert!(limited(&r), "{path}: {r:?}");
        }
    }

    redis.kill();
    for _ in 0..20 {
        let r = gw.get("/open");
        assert_eq!(r.status, 200, "fail_open: {r:?}");
        assert!(!limited(&r), "no fields without a limiter: {r:?}");
        let r = gw.get("/closed");
        assert_eq!(r.status, 503, "{r:?}");
        assert_eq!(r.header("content-type"), Some("application/problem+json"));
        assert!(
            r.body
                .contains("urn:barbacane:error:rate-limit-unavailable"),
            "{r:?}"
        );
        assert_eq!(r.header("retry-after"), Some("1"));
    }

    redis.restart();
    let back = crate::support::eventually(100, std::time::Duration::from_millis(100), || {
        (0..4).all(|_| {
            let r = gw.get("/closed");
            r.status == 200 && limited(&r)
        })
    });
    assert!(
        back,
        "limits did not come back without a restart:\n{}",
        gw.stderr()
    );
    // The fail-open policy is applied again too (a worker idle during the outage may need
    // one failed call on its old connection to notice).
    let open_back = crate::support::eventually(50, std::time::Duration::from_millis(100), || {
        (0..4).all(|_| limited(&gw.get("/open")))
    });
    assert!(open_back, "{}", gw.stderr());

    gw.terminate();
    assert!(gw.wait_exit(std::time::Duration::from_secs(10)).is_some());
    let log = gw.stderr();
    assert_eq!(
        log.matches("shared state unreachable").count(),
        1,
        "one warning for the outage, whichever worker noticed:\n{log}"
    );
    assert!(log.contains("shared state reachable again"), "{log}");
}
