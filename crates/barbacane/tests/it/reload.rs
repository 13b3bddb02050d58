//! Hot reload of `serve`: `POST /_admin/reload`, SIGHUP and `--watch` swap the artifact and
//! its provenance together; a bad artifact is rejected and the old one keeps serving. Load
//! during swaps is in `swap.rs`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::support::{
    Launch, Response, Server, artifact_hash, assert_problem, eventually, is_rfc3339,
    one_route_artifact, replace_file,
};

/// Up to 30 s (600 x 50 ms) for a signal or a file event to be acted on.
pub(crate) const TRIES: usize = 600;
const EVERY: Duration = Duration::from_millis(50);

/// Two artifacts, `GET /a` and `GET /b`, and `live.bca` (a copy of A) in `dir`.
struct Fixture {
    dir: tempfile::TempDir,
    a: Vec<u8>,
    b: Vec<u8>,
    hash_a: String,
    hash_b: String,
    live: PathBuf,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().expect("tempdir");
    let a = one_route_artifact(dir.path(), "a", "/a", r#"{"v":"a"}"#, &[]);
    let b = one_route_artifact(dir.path(), "b", "/b", r#"{"v":"b"}"#, &[]);
    let live = dir.path().join("live.bca");
    std::fs::copy(&a, &live).expect("copy A");
    let (hash_a, hash_b) = (artifact_hash(&a), artifact_hash(&b));
    assert_ne!(hash_a, hash_b);
    Fixture {
        a: std::fs::read(&a).expect("read A"),
        b: std::fs::read(&b).expect("read B"),
        hash_a,
        hash_b,
        live,
        dir,
    }
}

pub(crate) fn serve(dir: &Path, extra: &[&str]) -> Server {
    let mut args = vec!["serve", "--artifact", "live.bca"];
    args.extend_from_slice(extra);
    Server::start_with(dir, &args, &Launch::default())
}

pub(crate) fn reload(server: &Server) -> Response {
    server.admin("POST", "/_admin/reload", &[])
}

fn hash_of(server: &Server) -> String {
    server.provenance(None)["artifact_hash"]
        .as_str()
        .expect("artifact_hash")
        .to_owned()
}

/// A serves (`/a` 200, `/b` 404) or B does.
#[track_caller]
fn assert_serving(server: &Server, a: bool) {
    let (on, off) = if a { ("/a", "/b") } else { ("/b", "/a") };
    let r = server.get(on);
    assert_eq!(r.status, 200, "{on}: {r:?}");
    assert_eq!(r.body, format!(r#"{{"v":"{}"}}"#, &on[1..]));
    assert_eq!(server.get(off).status, 404, "{off}");
}

#[test]
fn post_reload_switches_hash_and_routes_together() {
    let f = fixture();
    let server = serve(f.dir.path(), &[]);
    assert_eq!(hash_of(&server), f.hash_a);
    assert_serving(&server, true);

    replace_file(&f.live, &f.b);
    let r = reload(&server);
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.header("content-type"), Some("application/json"));
    let outcome: serde_json::Value = serde_json::from_str(&r.body).expect("JSON");
    assert_eq!(outcome["artifact_hash"], f.hash_b.as_str(), "{outcome}");
    assert_eq!(outcome["changed"], true, "{outcome}");
    let doc = server.provenance(None);
    assert_eq!(doc["artifact_hash"], f.hash_b.as_str());
    assert!(doc["last_reload_error"].is_null(), "{doc}");
    assert_serving(&server, false);

    // The same file again: nothing changes.
    let again: serde_json::Value = serde_json::from_str(&reload(&server).body).expect("JSON");
    assert_eq!(again["artifact_hash"], f.hash_b.as_str(), "{again}");
    assert_eq!(again["changed"], false, "{again}");

    // Reload is POST only.
    let wrong = server.admin("GET", "/_admin/reload", &[]);
    assert_problem(&wrong, 405, "method-not-allowed");
    assert_eq!(wrong.header("allow"), Some("POST"));
    assert_eq!(hash_of(&server), f.hash_b);
}

/// Waits until the process has a handler for SIGHUP (`SigCgt` in `/proc/PID/status`): the
/// handler is installed by a task that may run just after the listeners answer, and SIGHUP's
/// default action would kill the process.
fn wait_for_sighup_handler(server: &Server) {
    let status = format!("/proc/{}/status", server.pid());
    let caught = eventually(TRIES, EVERY, || {
        std::fs::read_to_string(&status).is_ok_and(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("SigCgt:"))
                .and_then(|mask| u64::from_str_radix(mask.trim(), 16).ok())
                .is_some_and(|mask| mask & 1 == 1)
        })
    });
    assert!(caught, "no SIGHUP handler in {status}");
}

#[cfg(target_os = "linux")]
#[test]
fn sighup_reloads() {
    let f = fixture();
    let mut server = serve(f.dir.path(), &[]);
    wait_for_sighup_handler(&server);
    replace_file(&f.live, &f.b);
    server.signal("HUP");
    let swapped = eventually(TRIES, EVERY, || hash_of(&server) == f.hash_b);
    assert!(
        swapped,
        "hash never changed\n--- stderr\n{}",
        server.stderr()
    );
    assert!(server.is_running(), "SIGHUP must not stop the process");
    assert_serving(&server, false);
    assert!(server.stderr().contains("SIGHUP"), "{}", server.stderr());

    // A bad file on SIGHUP is recorded like any failed reload.
    replace_file(&f.live, b"not an artifact");
    server.signal("HUP");
    let failed = eventually(TRIES, EVERY, || {
        !server.provenance(None)["last_reload_error"].is_null()
    });
    assert!(failed, "{}", server.stderr());
    assert_eq!(hash_of(&server), f.hash_b);
    assert_serving(&server, false);
}

#[test]
fn watch_reloads_when_the_file_is_replaced() {
    let f = fixture();
    let server = serve(f.dir.path(), &["--watch"]);
    replace_file(&f.live, &f.b);
    let swapped = eventually(TRIES, EVERY, || hash_of(&server) == f.hash_b);
    assert!(swapped, "no reload\n--- stderr\n{}", server.stderr());
    assert_serving(&server, false);

    // A truncated file is rejected; the previous artifact keeps serving.
    replace_file(&f.live, &f.a[..f.a.len() - 3]);
    let failed = eventually(TRIES, EVERY, || {
        !server.provenance(None)["last_reload_error"].is_null()
    });
    assert!(failed, "{}", server.stderr());
    assert_eq!(hash_of(&server), f.hash_b);
    assert_serving(&server, false);

    // And a good file afterwards is picked up again.
    replace_file(&f.live, &f.a);
    let swapped = eventually(TRIES, EVERY, || hash_of(&server) == f.hash_a);
    assert!(swapped, "{}", server.stderr());
    assert!(server.provenance(None)["last_reload_error"].is_null());
    assert_serving(&server, true);
}

/// Kubernetes mounts a ConfigMap key as `name -> ..data/name`, `..data -> ..<version>`, and
/// updates it by writing a new version directory, renaming a new `..data` link over the old
/// one, then deleting the old directory.
#[cfg(unix)]
#[test]
fn watch_follows_configmap_style_symlink_swaps() {
    use std::os::unix::fs::symlink;
    let f = fixture();
    let mount = f.dir.path().join("mount");
    std::fs::create_dir(&mount).expect("mkdir");
    let publish = |version: &str, bytes: &[u8]| {
        let dir = mount.join(format!("..{version}"));
        std::fs::create_dir(&dir).expect("mkdir");
        std::fs::write(dir.join("api.bca"), bytes).expect("write");
        symlink(format!("..{version}"), mount.join("..data_tmp")).expect("symlink");
        std::fs::rename(mount.join("..data_tmp"), mount.join("..data")).expect("swap");
    };
    publish("v1", &f.a);
    symlink("..data/api.bca", mount.join("api.bca")).expect("symlink");
    let args = ["serve", "--artifact", "api.bca", "--watch"];
    let server = Server::start_with(&mount, &args, &Launch::default());
    let updates = [
        ("v2", &f.b, &f.hash_b),
        ("v3", &f.a, &f.hash_a),
        ("v4", &f.b, &f.hash_b),
    ];
    let mut previous = "v1";
    for (version, bytes, hash) in updates {
        publish(version, bytes);
        std::fs::remove_dir_all(mount.join(format!("..{previous}"))).expect("remove old");
        previous = version;
        let swapped = eventually(TRIES, EVERY, || hash_of(&server) == *hash);
        assert!(
            swapped,
            "update {version} not picked up\n{}",
            server.stderr()
        );
    }
}

/// B with one byte changed in its first member, in its header's `artifact_hash`, truncated,
/// and not there at all.
fn broken_variants(f: &Fixture) -> Vec<(&'static str, Option<Vec<u8>>, &'static str)> {
    let len = u32::from_le_bytes(f.b[8..12].try_into().expect("4 bytes")) as usize;
    let mut member = f.b.clone();
    member[12 + len + 1] ^= 0x01;
    let header = String::from_utf8(f.b[12..12 + len].to_vec()).expect("UTF-8 header");
    let hex = f.hash_b.trim_start_matches("sha256:");
    let swapped = if hex.starts_with('0') { "1" } else { "0" };
    let edited = header.replacen(hex, &format!("{swapped}{}", &hex[1..]), 1);
    assert_eq!(edited.len(), header.len());
    let mut in_header = f.b[..12].to_vec();
    in_header.extend_from_slice(edited.as_bytes());
    in_header.extend_from_slice(&f.b[12 + len..]);
    vec![
        ("member byte", Some(member), "checksum mismatch"),
        ("header byte", Some(in_header), "does not match its inputs"),
        (
            "truncated",
            Some(f.b[..f.b.len() - 1].to_vec()),
            "truncated",
        ),
        ("missing", None, "cannot read"),
    ]
}

#[test]
fn a_bad_artifact_is_rejected_at_reload_and_the_old_one_keeps_serving() {
    let f = fixture();
    let server = serve(f.dir.path(), &[]);
    for (what, bytes, needle) in broken_variants(&f) {
        match bytes {
            Some(b) => replace_file(&f.live, &b),
            None => std::fs::remove_file(&f.live).expect("remove"),
        }
        let r = reload(&server);
        let problem = assert_problem(&r, 422, "reload-rejected");
        let detail = problem["detail"].as_str().unwrap_or_default();
        assert!(detail.contains(needle), "{what}: {problem}");

        let doc = server.provenance(None);
        assert_eq!(doc["artifact_hash"], f.hash_a.as_str(), "{what}: {doc}");
        let error = &doc["last_reload_error"];
        assert!(error.is_object(), "{what}: {doc}");
        assert!(
            is_rfc3339(error["at"].as_str().unwrap_or_default()),
            "{doc}"
        );
        assert_eq!(error["error"], detail, "{what}: {doc}");
        assert_serving(&server, true);
    }
    replace_file(&f.live, &f.b);
    let r = reload(&server);
    assert_eq!(r.status, 200, "{r:?}");
    let doc = server.provenance(None);
    assert!(doc["last_reload_error"].is_null(), "{doc}");
    assert_eq!(doc["artifact_hash"], f.hash_b.as_str());
    assert_serving(&server, false);
}
