//! Connected data planes over a real WebSocket: registration, heartbeats, the node list, and
//! every way a connection ends (revoked key, missed heartbeats, malformed message, deletion).

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::{WebSocketStream, client_async};

use crate::support::{AppOptions, TestApp};

type Ws = WebSocketStream<TcpStream>;

/// Opens `/ws/data-plane` with `bearer`; the handshake's HTTP status on refusal.
async fn open(addr: SocketAddr, bearer: &str) -> Result<Ws, u16> {
    let mut request = format!("ws://{addr}/ws/data-plane")
        .into_client_request()
        .unwrap();
    request
        .headers_mut()
        .insert("authorization", format!("Bearer {bearer}").parse().unwrap());
    let stream = TcpStream::connect(addr).await.unwrap();
    match client_async(request, stream).await {
        Ok((ws, _)) => Ok(ws),
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            Err(response.status().as_u16())
        }
        Err(e) => panic!("handshake failed: {e}"),
    }
}

async fn send(ws: &mut Ws, message: Value) {
    ws.send(Message::Text(message.to_string().into()))
        .await
        .unwrap();
}

/// The next text message as JSON, or the close code when the server closes.
async fn next(ws: &mut Ws) -> Result<Value, Option<CloseCode>> {
    loop {
        match tokio::time::timeout(Duration::from_secs(10), ws.next()).await {
            Err(_) => panic!("nothing from the control plane in 10 s"),
            Ok(Some(Ok(Message::Text(t)))) => return Ok(serde_json::from_str(&t).unwrap()),
            Ok(Some(Ok(Message::Close(frame)))) => return Err(frame.map(|f| f.code)),
            Ok(None | Some(Err(_))) => return Err(None),
            Ok(Some(Ok(_))) => {}
        }
    }
}

async fn hello(ws: &mut Ws, name: &str) -> Value {
    send(
        ws,
        json!({"type": "hello", "protocol": 1, "name": name, "labels": {"region": "eu"},
               "version": "0.1.0", "hostname": "h1", "artifact_hash": "sha256:aa"}),
    )
    .await;
    let welcome = next(ws).await.expect("welcome");
    assert_eq!(welcome["type"], "welcome", "{welcome}");
    welcome
}

async fn key(app: &TestApp, project: &str, scopes: Value) -> (String, String) {
    let r = app
        .post_json(
            &format!("/projects/{project}/api-keys"),
            json!({"name": "node", "scopes": scopes}),
        )
        .await;
    let v = r.json();
    (
        v["key"].as_str().unwrap().to_owned(),
        v["id"].as_str().unwrap().to_owned(),
    )
}

async fn node(app: &TestApp, project: &str, id: &str) -> Value {
    app.get(&format!("/projects/{project}/data-planes/{id}"))
        .await
        .json()
}

async fn eventually(mut check: impl AsyncFnMut() -> bool) -> bool {
    for _ in 0..100 {
        if check().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

#[tokio::test]
async fn a_node_registers_heartbeats_and_is_listed() {
    let app = TestApp::new().await;
    let addr = app.listen().await;
    let project = app.project("fleet").await;
    let (k, _) = key(&app, &project, json!(["data-plane:connect"])).await;
    let mut ws = open(addr, &k).await.expect("connects");
    let welcome = hello(&mut ws, "edge-1").await;
    assert_eq!(welcome["protocol"], 1);
    assert_eq!(welcome["heartbeat_seconds"], 30);
    let id = welcome["data_plane_id"].as_str().unwrap().to_owned();

    let n = node(&app, &project, &id).await;
    assert_eq!(n["status"], "online", "{n}");
    assert_eq!(n["name"], "edge-1");
    assert_eq!(n["labels"], json!({"region": "eu"}));
    assert_eq!(n["artifact_hash"], "sha256:aa");
    assert_eq!(n["metadata"]["hostname"], "h1");

    // Unknown types are ignored; heartbeats update what the node serves.
    send(&mut ws, json!({"type": "telemetry", "x": 1})).await;
    send(
        &mut ws,
        json!({"type": "heartbeat", "artifact_hash": "sha256:bb"}),
    )
    .await;
    assert!(
        eventually(async || node(&app, &project, &id).await["artifact_hash"] == "sha256:bb").await
    );

    let list = app
        .get(&format!(
            "/projects/{project}/data-planes?status=online&label=region=eu"
        ))
        .await
        .json();
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
    let none = app
        .get(&format!("/projects/{project}/data-planes?label=region=us"))
        .await
        .json();
    assert_eq!(none, json!([]));

    // The same name reconnecting is the same node; the old connection is closed.
    let mut again = open(addr, &k).await.unwrap();
    let second = hello(&mut again, "edge-1").await;
    assert_eq!(second["data_plane_id"], id.as_str());
    assert_eq!(next(&mut ws).await.unwrap_err(), Some(CloseCode::Policy));

    // Closing marks it offline.
    again.close(None).await.unwrap();
    assert!(eventually(async || node(&app, &project, &id).await["status"] == "offline").await);
}

#[tokio::test]
async fn who_may_connect() {
    let app = TestApp::new().await;
    let addr = app.listen().await;
    let project = app.project("fleet").await;
    let (read_only, _) = key(&app, &project, json!(["artifact:read"])).await;
    assert_eq!(open(addr, &read_only).await.unwrap_err(), 403);
    assert_eq!(open(addr, "bbk_0123").await.unwrap_err(), 401);
    // The admin token (here: none configured, loopback) is not a node's credential.
    assert_eq!(open(addr, "admin").await.unwrap_err(), 403);
}

#[tokio::test]
async fn a_connection_ends_on_protocol_errors_revocation_deletion_and_silence() {
    let app = TestApp::with(AppOptions {
        heartbeat: Duration::from_secs(1),
        ..Default::default()
    })
    .await;
    let addr = app.listen().await;
    let project = app.project("fleet").await;
    let (k, key_id) = key(&app, &project, json!(["data-plane:connect"])).await;

    // The first message must be hello.
    let mut ws = open(addr, &k).await.unwrap();
    send(&mut ws, json!({"type": "heartbeat"})).await;
    assert_eq!(next(&mut ws).await.unwrap_err(), Some(CloseCode::Policy));
    // A protocol this control plane does not speak.
    let mut ws = open(addr, &k).await.unwrap();
    send(
        &mut ws,
        json!({"type": "hello", "protocol": 9, "name": "x"}),
    )
    .await;
    assert_eq!(next(&mut ws).await.unwrap_err(), Some(CloseCode::Policy));
    // Malformed JSON after registration closes that connection only.
    let mut bad = open(addr, &k).await.unwrap();
    let bad_id = hello(&mut bad, "bad").await["data_plane_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut good = open(addr, &k).await.unwrap();
    hello(&mut good, "good").await;
    bad.send(Message::Text("{not json".into())).await.unwrap();
    assert_eq!(next(&mut bad).await.unwrap_err(), Some(CloseCode::Invalid));
    assert!(eventually(async || node(&app, &project, &bad_id).await["status"] == "offline").await);

    // An oversized message (over 64 KiB) closes that connection only.
    let mut big = open(addr, &k).await.unwrap();
    hello(&mut big, "big").await;
    let huge = json!({"type": "heartbeat", "padding": "x".repeat(70 * 1024)});
    let _ = big.send(Message::Text(huge.to_string().into())).await;
    assert!(next(&mut big).await.is_err());
    send(&mut good, json!({"type": "heartbeat"})).await;

    // Silence: three missed heartbeats (1 s each) close the connection.
    send(&mut good, json!({"type": "heartbeat"})).await;
    let started = tokio::time::Instant::now();
    assert!(next(&mut good).await.is_err());
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "closed before the heartbeats ran out"
    );

    // Deleting a node closes its connection.
    let mut doomed = open(addr, &k).await.unwrap();
    let doomed_id = hello(&mut doomed, "doomed").await["data_plane_id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        app.delete(&format!("/projects/{project}/data-planes/{doomed_id}"))
            .await
            .status,
        axum::http::StatusCode::NO_CONTENT
    );
    assert_eq!(
        next(&mut doomed).await.unwrap_err(),
        Some(CloseCode::Policy)
    );
    app.get(&format!("/projects/{project}/data-planes/{doomed_id}"))
        .await
        .assert_problem(404, "not-found");

    // Revoking the key closes its connections at once, and it cannot reconnect.
    let mut revoked = open(addr, &k).await.unwrap();
    hello(&mut revoked, "edge").await;
    app.delete(&format!("/projects/{project}/api-keys/{key_id}"))
        .await;
    assert_eq!(
        next(&mut revoked).await.unwrap_err(),
        Some(CloseCode::Policy)
    );
    assert_eq!(open(addr, &k).await.unwrap_err(), 401);
}

/// A real data plane (in process) serving a small artifact.
async fn gateway() -> barbacane_test::TestGateway {
    let artifact =
        barbacane_test::compile_yaml(&[("api.yaml", &crate::support::mini_spec("/hello", "{}"))])
            .unwrap();
    barbacane_test::TestGateway::from_artifact(&artifact, Default::default()).await
}

fn connect_config(
    addr: SocketAddr,
    key: &str,
    project: Option<&str>,
) -> barbacane_proxy::connected::ConnectConfig {
    barbacane_proxy::connected::ConnectConfig {
        url: format!("http://{addr}"),
        project_id: project.map(str::to_owned),
        api_key: key.to_owned(),
        name: "edge-7".into(),
        labels: [("zone".to_owned(), "b".to_owned())].into(),
        load: Default::default(),
        ca: None,
    }
}

#[tokio::test]
async fn a_gateway_registers_reports_what_it_serves_and_serves_on_when_refused() {
    let app = TestApp::new().await;
    let addr = app.listen().await;
    let project = app.project("fleet").await;
    let (k, key_id) = key(&app, &project, json!(["data-plane:connect"])).await;
    let gw = gateway().await;
    let serving = gw.gateway().snapshot().header().artifact_hash.clone();
    let status = barbacane_proxy::connected::spawn(
        connect_config(addr, &k, Some(&project)),
        gw.gateway().clone(),
        Default::default(),
    )
    .unwrap();
    assert!(
        eventually(async || status.get().state == "connected").await,
        "{:?}",
        status.get()
    );
    let id = status.get().data_plane_id.unwrap();
    let n = node(&app, &project, &id).await;
    assert_eq!(n["status"], "online", "{n}");
    assert_eq!(n["name"], "edge-7");
    assert_eq!(n["labels"], json!({"zone": "b"}));
    assert_eq!(n["artifact_hash"], serving.as_str());
    assert_eq!(
        n["metadata"]["provenance"]["artifact_hash"],
        serving.as_str()
    );
    assert!(status.get().last_connected_at.is_some());

    // Revoked: disconnected, refused on reconnection, and the gateway serves on.
    app.delete(&format!("/projects/{project}/api-keys/{key_id}"))
        .await;
    assert!(eventually(async || status.get().state != "connected").await);
    assert!(eventually(async || node(&app, &project, &id).await["status"] == "offline").await);
    for _ in 0..100 {
        if status.get().last_error.is_some_and(|e| e.contains("401")) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        status.get().last_error.is_some_and(|e| e.contains("401")),
        "{:?}",
        status.get()
    );
    assert_eq!(gw.get("/hello").await.status(), 200);
}

#[tokio::test]
async fn a_gateway_naming_another_project_is_refused() {
    let app = TestApp::new().await;
    let addr = app.listen().await;
    let project = app.project("fleet").await;
    let other = app.project("other").await;
    let (k, _) = key(&app, &project, json!(["data-plane:connect"])).await;
    let gw = gateway().await;
    let status = barbacane_proxy::connected::spawn(
        connect_config(addr, &k, Some(&other)),
        gw.gateway().clone(),
        Default::default(),
    )
    .unwrap();
    assert!(
        eventually(async || status
            .get()
            .last_error
            .is_some_and(|e| e.contains("another project")))
        .await,
        "{:?}",
        status.get()
    );
    assert_eq!(status.get().state, "disconnected");
    assert_eq!(
        app.get(&format!("/projects/{project}/data-planes"))
            .await
            .json(),
        json!([])
    );
}
