//! Connected mode with real processes: a real control plane (in this process, on a real
//! Postgres and a real socket) and two real `barbacane serve` processes that register,
//! receive a deployment, survive the control plane going away and coming back, and lose
//! their connection when their key is revoked.

use barbacane_control::server::{Running, start};
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::time::Duration;

use crate::control::{artifact, call, config, database, nodes, post_json};
use crate::support::{Launch, Server, eventually, one_route_spec, run};

fn node_process(dir: &std::path::Path, cp: SocketAddr, key: &str, name: &str) -> Server {
    let local = dir.join(format!("{name}.bca"));
    let spec = one_route_spec(dir, &format!("{name}.yaml"), "/hello", "{\"v\":0}");
    run(crate::support::barbacane()
        .current_dir(dir)
        .args(["compile", "--spec"])
        .arg(&spec)
        .arg("--output")
        .arg(&local))
    .assert_code(0);
    Server::start_with(
        dir,
        &[
            "serve",
            "--artifact",
            local.to_str().expect("utf-8"),
            "--control-plane",
            &format!("http://{cp}"),
            "--data-plane-name",
            name,
            "--label",
            "tier=edge",
        ],
        &Launch::default().env("BARBACANE_API_KEY", key),
    )
}

#[test]
fn two_gateways_register_apply_a_deployment_and_ride_out_the_control_plane() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let url = rt.block_on(database());
    let running: Running = rt
        .block_on(start(config(&url, "127.0.0.1:0".parse().expect("addr"))))
        .expect("control plane starts");
    let cp = running.addr();
    let project = post_json(cp, "/projects", json!({"name": "fleet"}))["id"]
        .as_str()
        .expect("project")
        .to_owned();
    let key = post_json(
        cp,
        &format!("/projects/{project}/api-keys"),
        json!({"name": "nodes"}),
    )["key"]
        .as_str()
        .expect("key")
        .to_owned();
    let v1 = artifact(cp, &project, "v1.yaml", "{\"v\":1}");

    let dir = tempfile::tempdir().expect("tempdir");
    let a = node_process(dir.path(), cp, &key, "edge-a");
    let b = node_process(dir.path(), cp, &key, "edge-b");
    assert!(
        eventually(200, Duration::from_millis(50), || {
            let n = nodes(cp, &project);
            n.len() == 2 && n.iter().all(|n| n["status"] == "online")
        }),
        "{:?}\n--- a\n{}",
        nodes(cp, &project),
        a.stderr()
    );
    // The key is never logged.
    assert!(!a.stderr().contains(&key[4..]), "{}", a.stderr());

    // Deploy: both pull, verify and serve v1.
    let deployment = post_json(
        cp,
        &format!("/projects/{project}/deploy"),
        json!({"artifact_id": v1}),
    );
    let id = deployment["deployment_id"]
        .as_str()
        .expect("deployment")
        .to_owned();
    assert!(eventually(200, Duration::from_millis(50), || {
        let (_, d) = call(cp, "GET", &format!("/deployments/{id}"), None);
        d["nodes"]
            .as_array()
            .is_some_and(|n| n.len() == 2 && n.iter().all(|n| n["state"] == "applied"))
    }));
    for node in [&a, &b] {
        assert_eq!(node.get("/hello").body, "{\"v\":1}");
        let provenance: Value =
            serde_json::from_str(&node.admin("GET", "/_admin/provenance", &[]).body).expect("json");
        assert_eq!(
            provenance["control_plane"]["state"], "connected",
            "{provenance}"
        );
    }

    // The control plane goes away: the nodes serve on, then reconnect when it is back.
    rt.block_on(running.stop()).expect("stop");
    assert!(eventually(200, Duration::from_millis(50), || {
        nodes_state(&a) == "disconnected"
    }));
    assert_eq!(a.get("/hello").body, "{\"v\":1}");
    let again = rt
        .block_on(start(config(&url, cp)))
        .expect("control plane restarts on the same address");
    assert!(
        eventually(600, Duration::from_millis(50), || {
            let n = nodes(cp, &project);
            n.len() == 2 && n.iter().all(|n| n["status"] == "online")
        }),
        "nodes did not reconnect: {:?}",
        nodes(cp, &project)
    );

    // A node started without --artifact registers, is given the desired artifact, and only
    // then opens its traffic listener (start_with waits for it to answer).
    let c = Server::start_with(
        dir.path(),
        &[
            "serve",
            "--control-plane",
            &format!("http://{cp}"),
            "--data-plane-name",
            "edge-c",
        ],
        &Launch::default().env("BARBACANE_API_KEY", &key),
    );
    assert_eq!(c.get("/hello").body, "{\"v\":1}", "{}", c.stderr());
    assert!(
        c.stderr().contains("waiting for the control plane"),
        "{}",
        c.stderr()
    );

    // Revoking the key disconnects them; they keep serving and report why.
    let (_, keys) = call(cp, "GET", &format!("/projects/{project}/api-keys"), None);
    let key_id = keys[0]["id"].as_str().expect("key id");
    let (status, _) = call(
        cp,
        "DELETE",
        &format!("/projects/{project}/api-keys/{key_id}"),
        None,
    );
    assert_eq!(status, 204);
    assert!(eventually(200, Duration::from_millis(50), || {
        let n = nodes(cp, &project);
        n.len() == 3 && n.iter().all(|n| n["status"] == "offline")
    }));
    assert!(
        eventually(400, Duration::from_millis(50), || {
            provenance_error(&b).contains("401")
        }),
        "{}",
        provenance_error(&b)
    );
    assert_eq!(b.get("/hello").body, "{\"v\":1}");
    rt.block_on(again.stop()).expect("stop");
}

fn nodes_state(node: &Server) -> String {
    let provenance: Value =
        serde_json::from_str(&node.admin("GET", "/_admin/provenance", &[]).body)
            .unwrap_or_default();
    provenance["control_plane"]["state"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

fn provenance_error(node: &Server) -> String {
    let provenance: Value =
        serde_json::from_str(&node.admin("GET", "/_admin/provenance", &[]).body)
            .unwrap_or_default();
    provenance["control_plane"]["last_error"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}
