//! The web UI end to end in a real browser: a real `barbacane-control serve` process (with an
//! admin token, a 1 s drift interval and 1 s heartbeats) on a real Postgres, two real data
//! planes connected to it over the WebSocket (the data-plane library `barbacane serve
//! --control-plane` runs, in process so the test can swap one's artifact behind the control
//! plane's back), and Debian's chromium driven headless by `tests/ui/flow.mjs`
//! (playwright-core, axe-core).
//!
//! Needs `node`, `chromium` and `npm ci` in `tests/ui` (`.ci/run` and `scripts/test.sh`
//! prepare them). Never skipped: without them the test fails and says what to install.
//! `BARBACANE_UI_SCREENSHOTS=DIR` saves a screenshot of each page (`docs/ui` holds them).

use serde_json::json;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::support::{AppOptions, TestApp, mini_spec};

const TOKEN: &str = "ui-browser-admin-token";
const XSS_NAME: &str = "<img src=x onerror=alert(1)>";
const PLAIN_NAME: &str = "edge-eu-1";

fn ui_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/ui")
}

/// What the browser test needs, or a panic that says how to get it.
fn prerequisites() -> (String, PathBuf) {
    let node = std::env::var("BARBACANE_NODE").unwrap_or_else(|_| "node".to_owned());
    let ok = Command::new(&node)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        ok,
        "`{node}` (Node.js 18 or later) is needed to drive the browser: apt-get install nodejs \
         npm (.ci/run does), or set BARBACANE_NODE"
    );
    let chromium = PathBuf::from(
        std::env::var("BARBACANE_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".to_owned()),
    );
    assert!(
        chromium.exists(),
        "{} is missing: apt-get install chromium (.ci/run does), or set BARBACANE_CHROMIUM",
        chromium.display()
    );
    assert!(
        ui_dir().join("node_modules/playwright-core").exists()
            && ui_dir().join("node_modules/axe-core").exists(),
        "run `npm ci` in {} (scripts/test.sh does)",
        ui_dir().display()
    );
    (node, chromium)
}

/// A free loopback port.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A data plane serving a locally built artifact, connected to `url` as `name`.
async fn data_plane(
    url: &str,
    key: &str,
    name: &str,
    labels: &[(&str, &str)],
) -> barbacane_test::TestGateway {
    let artifact =
        barbacane_test::compile_yaml(&[("api.yaml", &mini_spec("/local", "{}"))]).unwrap();
    let gw = barbacane_test::TestGateway::from_artifact(&artifact, Default::default()).await;
    let status = barbacane_proxy::connected::spawn(
        barbacane_proxy::connected::ConnectConfig {
            url: url.to_owned(),
            project_id: None,
            api_key: key.to_owned(),
            name: name.to_owned(),
            labels: labels
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            load: Default::default(),
            ca: None,
        },
        gw.gateway().clone(),
        Default::default(),
    )
    .unwrap();
    for _ in 0..400 {
        if status.get().state == "connected" {
            std::mem::forget(status);
            return gw;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("{name} never connected: {:?}", status.get());
}

/// Kills the control-plane process when the test ends, however it ends.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_whole_flow_in_a_real_browser() {
    let (node, chromium) = prerequisites();
    // The database, and an in-process API on it for the setup a person does elsewhere
    // (creating the project and the nodes' key); no compile workers here: the process does.
    let app = TestApp::with(AppOptions {
        workers: 0,
        ..Default::default()
    })
    .await;
    let project = app.project("storefront").await;
    let key = app
        .post_json(
            &format!("/projects/{project}/api-keys"),
            json!({"name": "edge nodes"}),
        )
        .await
        .json()["key"]
        .as_str()
        .unwrap()
        .to_owned();

    // The real control plane.
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    let _server = Child(
        Command::new(env!("CARGO_BIN_EXE_barbacane-control"))
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .args(["--drift-interval", "1s", "--heartbeat-seconds", "1"])
            .args(["--workers", "1", "--log-level", "warn"])
            .env("DATABASE_URL", &app.db.url)
            .env("BARBACANE_CONTROL_ADMIN_TOKEN", TOKEN)
            .env_remove("BARBACANE_CONTROL_ADMIN_TOKENS_SECONDARY")
            .stdout(Stdio::null())
            .spawn()
            .expect("start barbacane-control serve"),
    );
    let mut up = false;
    for _ in 0..200 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(up, "the control plane did not start");

    // Two data planes; one has markup in its name and a label (both untrusted data).
    let _plain = data_plane(&url, &key, PLAIN_NAME, &[("region", "eu")]).await;
    let swapped = data_plane(
        &url,
        &key,
        XSS_NAME,
        &[
            ("region", "eu"),
            ("team", "</td><script>window.__xss=true</script>"),
        ],
    )
    .await;

    let dir = tempfile::tempdir().unwrap();
    let spec_a = dir.path().join("api.yaml");
    std::fs::write(&spec_a, mini_spec("/hello", "{\"v\":1}")).unwrap();
    let spec_b = dir.path().join("extra.yaml");
    std::fs::write(&spec_b, mini_spec("/bye", "{\"v\":2}")).unwrap();
    let screenshots = std::env::var("BARBACANE_UI_SCREENSHOTS").ok().map(|d| {
        let p = PathBuf::from(d);
        if p.is_absolute() {
            p
        } else {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").join(p)
        }
    });

    let mut command = Command::new(node);
    command
        .arg(ui_dir().join("flow.mjs"))
        .current_dir(ui_dir())
        .env("BARBACANE_UI_URL", &url)
        .env("BARBACANE_UI_TOKEN", TOKEN)
        .env("BARBACANE_UI_PROJECT", &project)
        .env("BARBACANE_UI_PROJECT_NAME", "storefront")
        .env("BARBACANE_UI_SPEC_A", &spec_a)
        .env("BARBACANE_UI_SPEC_B", &spec_b)
        .env("BARBACANE_UI_XSS_NAME", XSS_NAME)
        .env("BARBACANE_UI_PLAIN_NAME", PLAIN_NAME)
        .env("BARBACANE_CHROMIUM", &chromium)
        .env_remove("BARBACANE_UI_SCREENSHOTS")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    if let Some(dir) = &screenshots {
        command.env("BARBACANE_UI_SCREENSHOTS", dir);
    }
    let mut browser = command.spawn().expect("start node");
    let mut stdin = browser.stdin.take().unwrap();
    let stdout = browser.stdout.take().unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });

    let mut output = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(600);
    loop {
        let line = match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Some(line)) => line,
            Ok(None) => break,
            Err(_) => {
                let _ = browser.kill();
                panic!(
                    "the browser flow took more than 10 minutes:\n{}",
                    output.join("\n")
                );
            }
        };
        println!("browser: {line}");
        if let Some(id) = line.strip_prefix("SWAP ") {
            // The node starts serving another artifact the control plane built, without a
            // deployment: what a person copying a file onto a gateway would do.
            let bytes = app
                .state
                .store()
                .get(uuid::Uuid::parse_str(id).unwrap())
                .await
                .unwrap()
                .expect("the artifact's bytes");
            let snapshot = barbacane_proxy::Snapshot::from_bytes(&bytes).unwrap();
            swapped.gateway().swap(snapshot);
            writeln!(stdin, "SWAPPED").unwrap();
            stdin.flush().unwrap();
        }
        output.push(line);
    }
    let status = tokio::task::spawn_blocking(move || browser.wait())
        .await
        .unwrap()
        .unwrap();
    let output = output.join("\n");
    assert!(
        status.success(),
        "the browser flow failed ({status}):\n{output}"
    );
    assert!(output.contains("UI E2E OK"), "{output}");

    // What the browser did is what the database holds: an approval by the name typed, with
    // the comment and the session's token fingerprint, and its deployment to that one node.
    let (by, comment, fingerprint): (String, String, Option<String>) = sqlx::query_as(
        "SELECT decided_by, comment, token_fingerprint FROM remediation_decisions \
         WHERE decision = 'approved'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(by, "Alice Operator");
    assert_eq!(comment, "CAB-42: restore the approved artifact");
    let mut expected = barbacane_artifact::sha256_hex(TOKEN.as_bytes());
    expected.truncate(16);
    assert_eq!(fingerprint.as_deref(), Some(expected.as_str()));
    let open: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM drift_findings f WHERE NOT EXISTS (SELECT 1 FROM \
         drift_finding_events e WHERE e.finding_id = f.id AND e.event = 'resolved')",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(open, 0, "a finding is still open");
}
