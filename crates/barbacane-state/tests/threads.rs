//! Each thread that calls Redis does so over its own connection, made on its own runtime
//! (the data plane's workers: no command or answer wakes another thread), and a thread's
//! first call waits for that connection instead of failing as if Redis were down.

use barbacane_state::{RedisConn, RedisLimiter};
use barbacane_wasm::RateLimiter;
use std::sync::Arc;
use std::time::Duration;

mod common;
use common::PlainRedis;

/// The clients connected to `port` that have sent `cmd` (`CLIENT LIST`'s `cmd=` field).
fn clients_that_ran(port: u16, cmd: &str) -> usize {
    let client = redis::Client::open(format!("redis://127.0.0.1:{port}/0")).unwrap();
    let mut admin = client.get_connection().unwrap();
    let list: String = redis::cmd("CLIENT").arg("LIST").query(&mut admin).unwrap();
    list.lines()
        .filter(|line| line.contains(&format!(" cmd={cmd} ")))
        .count()
}

#[test]
fn each_worker_thread_takes_over_its_own_connection_from_its_first_call() {
    let redis = PlainRedis::start();
    let conn =
        Arc::new(RedisConn::open(&format!("redis://127.0.0.1:{}/0", redis.port), None).unwrap());
    let limiter = Arc::new(RedisLimiter::on_with_prefix(Arc::clone(&conn), "threads:"));
    let workers: Vec<_> = (0..2)
        .map(|_| {
            let limiter = Arc::clone(&limiter);
            std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                rt.block_on(async {
                    // The first call on a thread with no connection yet is answered by Redis.
                    for _ in 0..3 {
                        let d = limiter
                            .take("k", 1000, Duration::from_secs(60))
                            .await
                            .expect("a thread's first calls wait for its connection");
                        assert!(d.allowed);
                    }
                });
                // Keeps the runtime (and so the connection's driver) alive until counted.
                rt
            })
        })
        .collect();
    let runtimes: Vec<_> = workers.into_iter().map(|w| w.join().unwrap()).collect();
    // Scripts run with EVALSHA (or EVAL the first time the script is not cached).
    let evaluating = clients_that_ran(redis.port, "evalsha") + clients_that_ran(redis.port, "eval");
    assert_eq!(evaluating, 2, "one connection per thread");
    drop(runtimes);
}
