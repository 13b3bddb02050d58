//! The front door under slow and hostile clients: a silent connection or half an HTTP/2
//! preface is closed at the header deadline, a stalled body gets 408, connections over the
//! cap get 503 and are closed, and a drain under load leaves no request without a response.

use barbacane_proxy::ServeConfig;
use barbacane_test::{TestGateway, compile_yaml};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::common::RawConn;

const SPEC: &str = r#"
openapi: 3.1.0
info: {title: Door, version: "1"}
paths:
  /hello:
    get:
      x-barbacane-dispatch: {name: mock}
      responses: {"200": {description: ok}}
  /pets:
    post:
      requestBody:
        required: true
        content:
          application/json:
            schema: {type: object}
      x-barbacane-dispatch: {name: mock, config: {status: 201}}
      responses: {"201": {description: created}}
"#;

async fn gateway(config: ServeConfig) -> TestGateway {
    let artifact = compile_yaml(&[("api.yaml", SPEC)]).unwrap();
    TestGateway::from_artifact_with(&artifact, config, &Default::default()).await
}

/// Reads until the peer closes; the bytes read. Bounded by a generous deadline so a broken
/// server fails the test instead of hanging it (not a timing assertion).
async fn until_closed(stream: &mut TcpStream) -> Vec<u8> {
    let mut all = Vec::new();
    let read = async {
        let mut buf = [0u8; 1024];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => all.extend_from_slice(&buf[..n]),
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(30), read)
        .await
        .expect("the server never closed the connection");
    all
}

#[tokio::test]
async fn silent_and_half_preface_connections_are_closed() {
    let gw = gateway(ServeConfig {
        header_timeout: Duration::from_secs(1),
        ..ServeConfig::default()
    })
    .await;
    let mut silent = TcpStream::connect(gw.addr()).await.unwrap();
    assert_eq!(until_closed(&mut silent).await, b"");
    let mut half = TcpStream::connect(gw.addr()).await.unwrap();
    half.write_all(b"PRI * HTTP/2.0\r\n").await.unwrap();
    assert_eq!(until_closed(&mut half).await, b"");
    // A request line started in time is served as usual.
    let mut conn = RawConn::connect(gw.addr()).await;
    conn.write(b"GET /hello HTTP/1.1\r\nHost: t\r\n\r\n").await;
    assert_eq!(conn.read_response().await.unwrap().status, 200);
}

#[tokio::test]
async fn a_request_head_trickled_past_the_header_timeout_is_closed() {
    let gw = gateway(ServeConfig {
        header_timeout: Duration::from_secs(1),
        ..ServeConfig::default()
    })
    .await;
    // Slowloris: a request line and one header in time, then nothing. Without the deadline
    // hyper would wait for the idle timeout (60 s) and the 30 s bound below would fail.
    let mut slow = TcpStream::connect(gw.addr()).await.unwrap();
    slow.write_all(b"GET /hello HTTP/1.1\r\nHost: t\r\n")
        .await
        .unwrap();
    assert_eq!(until_closed(&mut slow).await, b"");
    // The deadline is the first request's: a keep-alive connection may stay idle longer
    // than it between requests.
    let mut conn = RawConn::connect(gw.addr()).await;
    conn.write(b"GET /hello HTTP/1.1\r\nHost: t\r\n\r\n").await;
    assert_eq!(conn.read_response().await.unwrap().status, 200);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    conn.write(b"GET /hello HTTP/1.1\r\nHost: t\r\n\r\n").await;
    assert_eq!(conn.read_response().await.unwrap().status, 200);
}

#[tokio::test]
async fn a_stalled_body_gets_408() {
    let gw = gateway(ServeConfig {
        body_timeout: Duration::from_secs(1),
        ..ServeConfig::default()
    })
    .await;
    let mut conn = RawConn::connect(gw.addr()).await;
    conn.write(
        b"POST /pets HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: 20\r\n\r\n{\"a\":",
    )
    .await;
    let response = conn.read_response().await.expect("a response");
    assert_eq!(response.status, 408);
    assert_eq!(
        response.json()["type"],
        "urn:barbacane:error:request-timeout"
    );
}

#[tokio::test]
async fn connections_over_the_cap_get_503_and_are_closed() {
    let gw = gateway(ServeConfig {
        max_connections: 2,
        workers: 1,
        ..ServeConfig::default()
    })
    .await;
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut conn = RawConn::connect(gw.addr()).await;
        conn.write(b"GET /hello HTTP/1.1\r\nHost: t\r\n\r\n").await;
        assert_eq!(conn.read_response().await.unwrap().status, 200);
        held.push(conn);
    }
    let mut third = TcpStream::connect(gw.addr()).await.unwrap();
    let answer = String::from_utf8(until_closed(&mut third).await).unwrap();
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(
        answer.contains("urn:barbacane:error:overloaded"),
        "{answer}"
    );
    // Room again once one closes.
    drop(held.pop());
    let mut ok = false;
    for _ in 0..100 {
        let mut conn = RawConn::connect(gw.addr()).await;
        conn.write(b"GET /hello HTTP/1.1\r\nHost: t\r\n\r\n").await;
        if conn.read_response().await.is_some_and(|r| r.status == 200) {
            ok = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(ok, "a slot was never freed");
}

#[tokio::test]
async fn draining_under_load_answers_every_request_sent() {
    let mut gw = gateway(ServeConfig {
        workers: 2,
        ..ServeConfig::default()
    })
    .await;
    let addr = gw.addr();
    let answered = Arc::new(AtomicUsize::new(0));
    let lost = Arc::new(AtomicUsize::new(0));
    let closed_by_server = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let mut clients = Vec::new();
    for _ in 0..16 {
        let (answered, lost, closed, stop) = (
            answered.clone(),
            lost.clone(),
            closed_by_server.clone(),
            stop.clone(),
        );
        clients.push(tokio::spawn(async move {
            // Keep-alive requests back to back; reconnect when the server closes (a refused
            // connect after the listener closed ends this client).
            'connect: while !stop.load(Ordering::Relaxed) {
                let Ok(stream) = TcpStream::connect(addr).await else {
                    return;
                };
                let mut conn = RawConn::from_stream(stream);
                loop {
                    if conn
                        .stream
                        .write_all(b"GET /hello HTTP/1.1\r\nHost: t\r\n\r\n")
                        .await
                        .is_err()
                    {
                        // Not sent: nothing to answer.
                        continue 'connect;
                    }
                    match conn.read_response().await {
                        Some(r) => {
                            answered.fetch_add(1, Ordering::Relaxed);
                            if r.header("connection") == Some("close") {
                                closed.fetch_add(1, Ordering::Relaxed);
                                continue 'connect;
                            }
                        }
                        None => {
                            // Sent, never answered: what the drain must not do.
                            lost.fetch_add(1, Ordering::Relaxed);
                            continue 'connect;
                        }
                    }
                }
            }
        }));
    }
    while answered.load(Ordering::Relaxed) < 2000 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let server = gw.begin_shutdown().expect("server task");
    server.await.expect("server ends");
    stop.store(true, Ordering::Relaxed);
    for c in clients {
        let _ = c.await;
    }
    assert_eq!(
        lost.load(Ordering::Relaxed),
        0,
        "requests sent but never answered"
    );
    assert!(
        closed_by_server.load(Ordering::Relaxed) >= 1,
        "no response carried Connection: close during the drain"
    );
}

#[tokio::test]
async fn an_idle_http2_connection_gets_a_goaway() {
    use http_body_util::{BodyExt, Empty};
    let gw = gateway(ServeConfig {
        idle_timeout: Duration::from_secs(1),
        ..ServeConfig::default()
    })
    .await;
    let stream = TcpStream::connect(gw.addr()).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http2::handshake(
        hyper_util::rt::TokioExecutor::new(),
        hyper_util::rt::TokioIo::new(stream),
    )
    .await
    .unwrap();
    // The client answers the server's pings for as long as the connection lives.
    let driver = tokio::spawn(conn);
    let request = http::Request::get(format!("http://{}/hello", gw.addr()))
        .body(Empty::<bytes::Bytes>::new())
        .unwrap();
    let response = sender.send_request(request).await.unwrap();
    assert_eq!(response.status(), 200);
    response.into_body().collect().await.unwrap();
    // No stream for a whole idle timeout: the server ends the connection (GOAWAY).
    tokio::time::timeout(Duration::from_secs(30), driver)
        .await
        .expect("the idle HTTP/2 connection was never closed")
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn a_stalled_http2_stream_body_gets_408_and_the_connection_lives_on() {
    use http_body_util::{BodyExt, StreamBody};
    let gw = gateway(ServeConfig {
        body_timeout: Duration::from_secs(1),
        ..ServeConfig::default()
    })
    .await;
    let stream = TcpStream::connect(gw.addr()).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http2::handshake(
        hyper_util::rt::TokioExecutor::new(),
        hyper_util::rt::TokioIo::new(stream),
    )
    .await
    .unwrap();
    tokio::spawn(conn);
    // One chunk of the body, then the sender is held open and never sends the rest.
    let (tx, rx) =
        tokio::sync::mpsc::channel::<Result<hyper::body::Frame<bytes::Bytes>, std::io::Error>>(1);
    tx.send(Ok(hyper::body::Frame::data(bytes::Bytes::from_static(
        b"{\"a\":",
    ))))
    .await
    .unwrap();
    let body = StreamBody::new(tokio_stream_from(rx));
    let request = http::Request::post(format!("http://{}/pets", gw.addr()))
        .header("content-type", "application/json")
        .body(body)
        .unwrap();
    let response = tokio::time::timeout(Duration::from_secs(30), sender.send_request(request))
        .await
        .expect("the stalled stream was never answered")
        .unwrap();
    assert_eq!(response.status(), 408);
    let body = response.into_body().collect().await.unwrap().to_bytes();
    assert!(
        String::from_utf8_lossy(&body).contains("urn:barbacane:error:request-timeout"),
        "{}",
        String::from_utf8_lossy(&body)
    );
    drop(tx);
    // The other streams of the connection are unaffected.
    sender.ready().await.unwrap();
    let (done, none) = tokio::sync::mpsc::channel(1);
    drop(done);
    let request = http::Request::get(format!("http://{}/hello", gw.addr()))
        .body(StreamBody::new(tokio_stream_from(none)))
        .unwrap();
    let again = sender.send_request(request).await.unwrap();
    assert_eq!(again.status(), 200);
}

/// Another process's `SO_REUSEPORT` listener on the gateway's address would silently take a
/// share of its connections: binding refuses, naming `--share-port`, unless sharing is asked
/// for.
#[cfg(target_os = "linux")]
#[tokio::test]
async fn an_address_another_listener_holds_is_refused_unless_shared() {
    use barbacane_proxy::{Gateway, Snapshot};
    let other = tokio::net::TcpSocket::new_v4().unwrap();
    other.set_reuseaddr(true).unwrap();
    other.set_reuseport(true).unwrap();
    other.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let other = other.listen(16).unwrap();
    let addr = other.local_addr().unwrap();
    let artifact = compile_yaml(&[("api.yaml", SPEC)]).unwrap();
    let gateway = |share_port| {
        let snapshot = Snapshot::from_bytes_with(&artifact, &Default::default()).unwrap();
        Gateway::new(
            snapshot,
            ServeConfig {
                listen: addr,
                workers: 2,
                share_port,
                ..Default::default()
            },
        )
    };

    let refused = gateway(false)
        .bind()
        .await
        .expect_err("the address is taken");
    assert_eq!(refused.kind(), std::io::ErrorKind::AddrInUse);
    assert!(refused.to_string().contains("--share-port"), "{refused}");

    let shared = gateway(true).bind().await.expect("shares when asked");
    assert_eq!(shared.local_addr(), addr);
    drop(shared);
    drop(other);
    let alone = gateway(false).bind().await.expect("free again");
    assert_eq!(alone.local_addr(), addr);
}

/// A `Stream` over an mpsc receiver (what `tokio-stream`'s wrapper does, without the crate).
fn tokio_stream_from<T>(
    mut rx: tokio::sync::mpsc::Receiver<T>,
) -> impl futures_util::Stream<Item = T> {
    futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx))
}
