//! Graceful shutdown: in-flight requests complete, new connections are refused.

use barbacane_test::TestGateway;
use tokio::net::TcpStream;

use crate::common::RawConn;

const SPEC: &str = r#"
openapi: 3.1.0
info: {title: Shutdown, version: "1"}
paths:
  /pets:
    post:
      requestBody:
        required: true
        content:
          application/json:
            schema: {type: object, required: [name]}
      x-barbacane-dispatch: {name: mock, config: {status: 201, body: '{"created":true}'}}
      responses: {"201": {description: created}}
  /hello:
    get:
      x-barbacane-dispatch: {name: mock}
      responses: {"200": {description: ok}}
"#;

/// Waits (without a deadline assertion) until the listener no longer accepts connections.
async fn wait_until_refused(gw: &TestGateway) {
    loop {
        if TcpStream::connect(gw.addr()).await.is_err() {
            return;
        }
        tokio::task::yield_now().await;
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
}

#[tokio::test]
async fn in_flight_request_completes_during_shutdown() {
    let mut gw = TestGateway::from_specs(&[("api.yaml", SPEC)]).await;
    let body = r#"{"name":"Rex","padding":"xxxxxxxxxxxxxxxxxxxx"}"#;
    let (part1, part2) = body.split_at(10);
    let mut conn = RawConn::connect(gw.addr()).await;
    // `Expect: 100-continue` makes the server say when the handler starts reading the body, so
    // the request is provably in flight (past routing, inside body validation) before shutdown.
    conn.write(
        format!(
            "POST /pets HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nContent-Length: {}\r\nExpect: 100-continue\r\n\r\n{part1}",
            body.len()
        )
        .as_bytes(),
    )
    .await;
    let interim = conn.read_response().await.expect("100 Continue");
    assert_eq!(interim.status, 100);

    let server = gw.begin_shutdown().expect("server task");
    wait_until_refused(&gw).await;
    assert!(
        !server.is_finished(),
        "the server must wait for the in-flight request"
    );

    conn.write(part2.as_bytes()).await;
    let resp = conn
        .read_response()
        .await
        .expect("a complete response to the in-flight request");
    assert_eq!(resp.status, 201, "{}", String::from_utf8_lossy(&resp.body));
    assert_eq!(resp.json()["created"], true);
    assert_eq!(
        resp.body.len(),
        resp.header("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(usize::MAX)
    );
    // After the drain the connection is closed rather than kept alive.
    assert!(conn.read_response().await.is_none());
    server.await.expect("server task ends cleanly");
    assert!(
        TcpStream::connect(gw.addr()).await.is_err(),
        "no new connections after shutdown"
    );
}

#[tokio::test]
async fn new_connections_are_refused_after_shutdown() {
    let gw = TestGateway::from_specs(&[("api.yaml", SPEC)]).await;
    let addr = gw.addr();
    assert_eq!(gw.get("/hello").await.status(), 200);
    gw.shutdown().await;
    assert!(
        TcpStream::connect(addr).await.is_err(),
        "listener must be closed after shutdown"
    );
}

#[tokio::test]
async fn idle_keep_alive_connection_is_closed_by_shutdown() {
    let mut gw = TestGateway::from_specs(&[("api.yaml", SPEC)]).await;
    let mut conn = RawConn::connect(gw.addr()).await;
    conn.write(b"GET /hello HTTP/1.1\r\nHost: test\r\n\r\n")
        .await;
    assert_eq!(conn.read_response().await.expect("response").status, 200);
    // The connection is now idle; shutdown must close it rather than wait out the grace period.
    let server = gw.begin_shutdown().expect("server task");
    assert!(
        conn.read_response().await.is_none(),
        "idle connection closed on shutdown"
    );
    server.await.expect("server task ends cleanly");
}
