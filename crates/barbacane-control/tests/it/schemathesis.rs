//! schemathesis against a live control plane: a real `barbacane-control serve` process with
//! an admin token, on a fresh Postgres database, tested through the OpenAPI document it
//! serves itself (`/openapi.json`) with every check, `ignored_auth` included. Zero failures:
//! the server answers what its document says, and never 500. `tests/schemathesis.toml` lets
//! uploads that fit the schema but fail the compiler's or the registry's checks be 400/422.
//!
//! Needs schemathesis (`scripts/schemathesis-tools.sh` installs a pinned version from PyPI
//! into `target/schemathesis-venv`; `scripts/test.sh` runs it). Never skipped: without it the
//! test fails and says what to run. `BARBACANE_SCHEMATHESIS` names another executable;
//! `BARBACANE_SCHEMATHESIS_SEED` and `BARBACANE_SCHEMATHESIS_EXAMPLES` change the fixed seed
//! and the examples per operation (the defaults keep the run near two minutes on 2 cores).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::support::TestDb;

const BIN: &str = env!("CARGO_BIN_EXE_barbacane-control");
const TOKEN: &str = "schemathesis-admin-token";
const SEED: &str = "19";
const EXAMPLES: &str = "12";

/// The schemathesis executable, or a panic that says how to get it.
fn schemathesis() -> PathBuf {
    let path = std::env::var_os("BARBACANE_SCHEMATHESIS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../target/schemathesis-venv/bin/schemathesis")
        });
    assert!(
        path.exists(),
        "{} is missing: run scripts/schemathesis-tools.sh (scripts/test.sh does), or set \
         BARBACANE_SCHEMATHESIS",
        path.display()
    );
    path
}

/// The server process, killed on drop.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

#[tokio::test(flavor = "multi_thread")]
async fn the_live_api_keeps_to_its_served_openapi_document() {
    let st = schemathesis();
    let db = TestDb::new().await;
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("server.log");
    let port = free_port();
    let _server = Server(
        Command::new(BIN)
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .args(["--workers", "1"])
            .env("DATABASE_URL", &db.url)
            .env("BARBACANE_CONTROL_ADMIN_TOKEN", TOKEN)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("start barbacane-control serve"),
    );
    let base = format!("http://127.0.0.1:{port}");
    let mut up = false;
    for _ in 0..200 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(up, "the server did not start:\n{}", tail(&log, 40));

    let seed = std::env::var("BARBACANE_SCHEMATHESIS_SEED").unwrap_or_else(|_| SEED.into());
    let examples =
        std::env::var("BARBACANE_SCHEMATHESIS_EXAMPLES").unwrap_or_else(|_| EXAMPLES.into());
    let mut command = Command::new(st);
    command
        .current_dir(dir.path())
        .arg("--config-file")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/schemathesis.toml"))
        .arg("run")
        .arg(format!("{base}/openapi.json"))
        .args(["--url", &base])
        .args(["--header", &format!("Authorization: Bearer {TOKEN}")])
        .args(["--checks", "all"])
        .args(["--max-examples", &examples])
        .args(["--seed", &seed])
        .args(["--workers", "2"])
        .args(["--request-timeout", "30"])
        .args(["--generation-database", "none"])
        .arg("--no-color");
    let out = tokio::task::spawn_blocking(move || command.output().unwrap())
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "schemathesis failed (exit {:?}, seed {seed}, {examples} examples):\n{}\n{}\n\
         == server log (last lines)\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        tail(&log, 60)
    );
}
