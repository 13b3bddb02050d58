//! No request fails while `serve` swaps artifacts under concurrent load.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use crate::reload::{TRIES, reload, serve};
use crate::support::{eventually, get, one_route_artifact, replace_file};

/// A minimal keep-alive HTTP/1.1 client (responses must carry `Content-Length`).
struct KeepAlive {
    reader: BufReader<TcpStream>,
}

impl KeepAlive {
    fn connect(port: u16) -> std::io::Result<KeepAlive> {
        let stream = TcpStream::connect(("127.0.0.1", port))?;
        stream.set_read_timeout(Some(Duration::from_secs(10)))?;
        Ok(KeepAlive {
            reader: BufReader::new(stream),
        })
    }

    fn get(&mut self, path: &str) -> std::io::Result<(u16, String)> {
        write!(
            self.reader.get_mut(),
            "GET {path} HTTP/1.1\r\nHost: x\r\n\r\n"
        )?;
        let bad =
            |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_owned());
        let (mut status, mut length) = (None, None);
        loop {
            let mut line = String::new();
            if self.reader.read_line(&mut line)? == 0 {
                return Err(bad("connection closed mid-response"));
            }
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if status.is_none() {
                status = line.split(' ').nth(1).and_then(|s| s.parse().ok());
            } else if let Some((k, v)) = line.split_once(':')
                && k.eq_ignore_ascii_case("content-length")
            {
                length = v.trim().parse().ok();
            }
        }
        let mut body = vec![0; length.ok_or_else(|| bad("no content-length"))?];
        self.reader.read_exact(&mut body)?;
        Ok((
            status.ok_or_else(|| bad("no status"))?,
            String::from_utf8_lossy(&body).into(),
        ))
    }
}

#[derive(Default)]
struct Tally {
    one: AtomicUsize,
    two: AtomicUsize,
    failures: Mutex<Vec<String>>,
}

impl Tally {
    fn record(&self, result: std::io::Result<(u16, String)>) {
        match result {
            Ok((200, body)) if body == r#"{"v":1}"# => self.one.fetch_add(1, Ordering::SeqCst),
            Ok((200, body)) if body == r#"{"v":2}"# => self.two.fetch_add(1, Ordering::SeqCst),
            other => {
                let mut failures = self.failures.lock().expect("lock");
                failures.push(format!("{other:?}"));
                0
            }
        };
    }
}

#[test]
fn no_request_fails_while_artifacts_are_swapped() {
    let dir = tempfile::tempdir().expect("tempdir");
    let one = one_route_artifact(dir.path(), "one", "/r", r#"{"v":1}"#, &[]);
    let two = one_route_artifact(dir.path(), "two", "/r", r#"{"v":2}"#, &[]);
    let (one, two) = (
        std::fs::read(one).expect("read"),
        std::fs::read(two).expect("read"),
    );
    let live = dir.path().join("live.bca");
    std::fs::write(&live, &one).expect("write");
    let server = serve(dir.path(), &[]);
    let port = server.port;

    let stop = Arc::new(AtomicBool::new(false));
    let tally = Arc::new(Tally::default());
    let clients: Vec<_> = (0..4)
        .map(|i| {
            let (stop, tally) = (Arc::clone(&stop), Arc::clone(&tally));
            thread::spawn(move || {
                // Two clients reuse one connection; two open a new one per request.
                let mut conn = (i % 2 == 0).then(|| KeepAlive::connect(port).expect("connect"));
                while !stop.load(Ordering::SeqCst) {
                    let result = match conn.as_mut() {
                        Some(c) => c.get("/r"),
                        None => get(port, "/r").map(|r| (r.status, r.body)),
                    };
                    tally.record(result);
                }
            })
        })
        .collect();

    for cycle in 0..10 {
        let (bytes, counter) = if cycle % 2 == 0 {
            (&two, &tally.two)
        } else {
            (&one, &tally.one)
        };
        let seen = counter.load(Ordering::SeqCst);
        replace_file(&live, bytes);
        let r = reload(&server);
        assert_eq!(r.status, 200, "cycle {cycle}: {r:?}");
        assert!(r.body.contains(r#""changed":true"#), "cycle {cycle}: {r:?}");
        // Let the clients see the new body before the next swap.
        let observed = eventually(TRIES, Duration::from_millis(10), || {
            counter.load(Ordering::SeqCst) > seen + 40
        });
        assert!(observed, "cycle {cycle}: new body never observed");
    }
    stop.store(true, Ordering::SeqCst);
    for client in clients {
        client.join().expect("client thread");
    }
    let failures = tally.failures.lock().expect("lock");
    assert!(
        failures.is_empty(),
        "{} failures: {:?}",
        failures.len(),
        &failures[..failures.len().min(5)]
    );
    let (n1, n2) = (
        tally.one.load(Ordering::SeqCst),
        tally.two.load(Ordering::SeqCst),
    );
    assert!(n1 > 0 && n2 > 0, "bodies seen: v1 {n1}, v2 {n2}");
}
