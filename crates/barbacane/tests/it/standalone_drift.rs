//! The drift engine against real standalone `barbacane serve` processes, polled by a real
//! control plane (1 s interval): the same artifact on two nodes from different paths and a
//! reload of the same artifact raise nothing; a swapped artifact, a re-sealed one, one built
//! outside the control plane and a stopped node each raise the right finding, and each
//! resolves once fixed.

use barbacane_control::server::start;
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use crate::control::{artifact, call, call_raw, config, database, post_json};
use crate::support::{Launch, Server, eventually, one_route_artifact};

const TOKEN: &str = "node-admin-token";

fn findings(cp: SocketAddr, project: &str, open: bool) -> Vec<Value> {
    let query = if open { "&open=true" } else { "" };
    let (_, list) = call(
        cp,
        "GET",
        &format!("/drift/findings?project={project}{query}"),
        None,
    );
    list.as_array().cloned().unwrap_or_default()
}

/// The open findings' kinds of node `name`, sorted.
fn open_kinds(cp: SocketAddr, project: &str, name: &str) -> Vec<String> {
    let mut kinds: Vec<String> = findings(cp, project, true)
        .iter()
        .filter(|f| f["data_plane"] == name)
        .map(|f| f["kind"].as_str().unwrap_or_default().to_owned())
        .collect();
    kinds.sort();
    kinds
}

#[track_caller]
fn wait_kinds(cp: SocketAddr, project: &str, name: &str, want: &[&str]) {
    assert!(
        eventually(100, Duration::from_millis(100), || open_kinds(
            cp, project, name
        ) == want),
        "{name}: expected {want:?}, open: {:?}",
        open_kinds(cp, project, name)
    );
}

fn reload(node: &Server) {
    let r = node.admin(
        "POST",
        "/_admin/reload",
        &[("authorization", &format!("Bearer {TOKEN}"))],
    );
    assert_eq!(r.status, 200, "{}", r.body);
}

fn node(dir: &Path, artifact: &Path) -> Server {
    Server::start_with(
        dir,
        &["serve", "--artifact", artifact.to_str().expect("utf-8")],
        &Launch::default().env("BARBACANE_ADMIN_TOKEN", TOKEN),
    )
}

/// Rewrites the mock bodies inside `config.json` and re-seals the file consistently (sizes,
/// checksums, stored content hash): what someone with write access to a node can do.
fn reseal(bytes: &[u8], from: &str, to: &str) -> Vec<u8> {
    let len = u32::from_le_bytes(bytes[8..12].try_into().expect("len")) as usize;
    let mut header: Value = serde_json::from_slice(&bytes[12..12 + len]).expect("header");
    let mut offset = 12 + len;
    let mut body = Vec::new();
    for m in header["members"].as_array_mut().expect("members") {
        let size = m["size"].as_u64().expect("size") as usize;
        let mut member = bytes[offset..offset + size].to_vec();
        offset += size;
        if m["name"] == "config.json" {
            member = String::from_utf8(member)
                .expect("utf-8")
                .replace(from, to)
                .into_bytes();
            m["size"] = member.len().into();
            m["sha256"] = barbacane_artifact::sha256_hex(&member).into();
        }
        body.extend(member);
    }
    let members: Vec<barbacane_artifact::Member> =
        serde_json::from_value(header["members"].clone()).expect("members");
    header["content_hash"] = barbacane_artifact::content_hash(&members).into();
    let new = serde_json::to_vec(&header).expect("header");
    let mut out = bytes[..8].to_vec();
    out.extend((new.len() as u32).to_le_bytes());
    out.extend(new);
    out.extend(body);
    out
}

#[test]
fn standalone_drift_is_found_and_resolved_on_real_nodes() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let url = rt.block_on(database());
    let mut cfg = config(&url, "127.0.0.1:0".parse().expect("addr"));
    cfg.drift_interval = Duration::from_secs(1);
    let running = rt.block_on(start(cfg)).expect("control plane starts");
    let cp = running.addr();
    let project = post_json(cp, "/projects", json!({"name": "fleet"}))["id"]
        .as_str()
        .expect("project")
        .to_owned();
    let a = artifact(cp, &project, "a.yaml", "{\"v\":1}");
    let b = artifact(cp, &project, "b.yaml", "{\"v\":2}");
    let download = |id: &str| {
        let (status, bytes) = call_raw(cp, "GET", &format!("/artifacts/{id}/download"), None);
        assert_eq!(status, 200);
        bytes
    };
    let (a_bytes, b_bytes) = (download(&a), download(&b));

    // Two nodes serving the same artifact from different paths.
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(dir.path().join("one")).expect("dir");
    std::fs::create_dir_all(dir.path().join("two")).expect("dir");
    let live1 = dir.path().join("one/live.bca");
    let live2 = dir.path().join("two/other-name.bca");
    std::fs::write(&live1, &a_bytes).expect("write");
    std::fs::write(&live2, &a_bytes).expect("write");
    let token = dir.path().join("token");
    std::fs::write(&token, format!("{TOKEN}\n")).expect("token");
    let n1 = node(dir.path(), &live1);
    let mut n2 = Some(node(dir.path(), &live2));
    for (name, n) in [("edge-1", &n1), ("edge-2", n2.as_ref().expect("n2"))] {
        post_json(
            cp,
            &format!("/projects/{project}/data-planes"),
            json!({"name": name, "admin_url": format!("http://{}", n.admin.expect("admin")),
                   "admin_token": format!("file://{}", token.display())}),
        );
    }
    post_json(
        cp,
        &format!("/projects/{project}/known-good"),
        json!({"artifact_id": a, "note": "release 1"}),
    );
    let synced = || {
        let (_, list) = call(cp, "GET", &format!("/projects/{project}/data-planes"), None);
        list.as_array().is_some_and(|l| {
            l.len() == 2
                && l.iter()
                    .all(|n| n["sync"] == "Synced" && n["health"] == "Healthy")
        })
    };
    assert!(eventually(100, Duration::from_millis(100), synced));
    // A reload of the same artifact: still nothing, ever.
    reload(&n1);
    std::thread::sleep(Duration::from_millis(2500));
    assert!(synced());
    assert_eq!(findings(cp, &project, false), Vec::<Value>::new());

    // Another valid artifact of the project: hash-mismatch, resolved when swapped back.
    std::fs::write(&live1, &b_bytes).expect("write");
    reload(&n1);
    wait_kinds(cp, &project, "edge-1", &["hash-mismatch"]);
    assert_eq!(open_kinds(cp, &project, "edge-2"), Vec::<String>::new());
    std::fs::write(&live1, &a_bytes).expect("write");
    reload(&n1);
    wait_kinds(cp, &project, "edge-1", &[]);

    // Re-sealed with the approved artifact_hash: content-mismatch.
    std::fs::write(&live1, reseal(&a_bytes, "\\\"v\\\":1", "\\\"v\\\":6")).expect("write");
    reload(&n1);
    assert_eq!(n1.get("/hello").body, "{\"v\":6}");
    wait_kinds(cp, &project, "edge-1", &["content-mismatch"]);
    std::fs::write(&live1, &a_bytes).expect("write");
    reload(&n1);
    wait_kinds(cp, &project, "edge-1", &[]);

    // Built outside the control plane: hash-mismatch and unknown-artifact.
    let outside = one_route_artifact(dir.path(), "outside", "/hello", "{\"v\":3}", &[]);
    std::fs::copy(&outside, &live2).expect("copy");
    reload(n2.as_ref().expect("n2"));
    wait_kinds(
        cp,
        &project,
        "edge-2",
        &["hash-mismatch", "unknown-artifact"],
    );

    // Stopped: unreachable (content findings stay open: no evidence they were fixed).
    drop(n2.take());
    wait_kinds(
        cp,
        &project,
        "edge-2",
        &["hash-mismatch", "unknown-artifact", "unreachable"],
    );
    // History keeps the resolved ones.
    let all = findings(cp, &project, false);
    let resolved: Vec<&str> = all
        .iter()
        .filter(|f| !f["resolved_at"].is_null())
        .map(|f| f["kind"].as_str().unwrap_or_default())
        .collect();
    assert!(
        resolved.contains(&"hash-mismatch") && resolved.contains(&"content-mismatch"),
        "{all:?}"
    );
    rt.block_on(running.stop()).expect("stop");
}
