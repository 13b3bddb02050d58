//! The real binary: `serve`, and client subcommands against it.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use crate::support::TestDb;

const BIN: &str = env!("CARGO_BIN_EXE_barbacane-control");
const TOKEN: &str = "cli-test-token";

/// A `barbacane-control serve` child process, killed on drop.
struct Server {
    child: Child,
    url: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn serve(db: &TestDb) -> Server {
    let port = free_port();
    let child = Command::new(BIN)
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--workers",
            "1",
        ])
        .env("DATABASE_URL", &db.url)
        .env("BARBACANE_CONTROL_ADMIN_TOKEN", TOKEN)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let server = Server {
        child,
        url: format!("http://127.0.0.1:{port}"),
    };
    for _ in 0..200 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return server;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the server did not start");
}

/// Runs a client subcommand (blocking, on a blocking thread).
async fn cli(server: &str, token: Option<&str>, args: &[&str]) -> Output {
    let mut command = Command::new(BIN);
    command.args(args).args(["--server", server]);
    command.env_remove("BARBACANE_CONTROL_ADMIN_TOKEN");
    if let Some(t) = token {
        command.env("BARBACANE_CONTROL_ADMIN_TOKEN", t);
    }
    tokio::task::spawn_blocking(move || command.output().unwrap())
        .await
        .unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).trim().to_owned()
}

fn ok(o: Output) -> Output {
    assert!(
        o.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

fn write(dir: &Path, path: &str, bytes: &[u8]) {
    let file = dir.join(path);
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(file, bytes).unwrap();
}

const ROOT: &str = "openapi: 3.1.0\ninfo: {title: r, version: '1'}\npaths:\n  /pets:\n    post:\n      requestBody:\n        content:\n          application/json:\n            schema: {$ref: '../common/pet.yaml#/Pet'}\n      x-barbacane-dispatch: {name: mock, config: {status: 201}}\n      responses: {'201': {description: ok}}\n";
const PET: &str = "Pet: {type: object, required: [name], properties: {name: {type: string}}}\n";

#[tokio::test]
async fn client_commands_against_the_real_binary() {
    let db = TestDb::new().await;
    let server = serve(&db).await;
    let url = server.url.as_str();
    let t = Some(TOKEN);

    // Without the token: refused, exit 1.
    let o = cli(url, None, &["project", "list"]).await;
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("401"));

    let project = stdout(&ok(cli(url, t, &["project", "create", "demo"]).await));
    assert!(uuid::Uuid::parse_str(&project).is_ok(), "{project}");
    let o = ok(cli(url, t, &["project", "list"]).await);
    assert!(stdout(&o).starts_with("ID"), "{}", stdout(&o));
    assert!(stdout(&o).contains("demo"));

    // A spec whose $ref reaches another directory: the CLI finds and sends both files.
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "specs/api.yaml", ROOT.as_bytes());
    write(dir.path(), "common/pet.yaml", PET.as_bytes());
    let spec_file = dir.path().join("specs/api.yaml");
    let o = ok(cli(
        url,
        t,
        &[
            "spec",
            "upload",
            "--project",
            &project,
            spec_file.to_str().unwrap(),
            "--json",
        ],
    )
    .await);
    let uploaded: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let spec = uploaded["id"].as_str().unwrap().to_owned();
    let o = ok(cli(url, t, &["spec", "show", &spec, "--json"]).await);
    let shown: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(shown["name"], "specs/api.yaml");
    assert_eq!(shown["files"].as_array().unwrap().len(), 2);
    ok(cli(url, t, &["spec", "list", "--project", &project]).await);

    // A new revision, then history.
    std::fs::write(&spec_file, ROOT.replace("status: 201", "status: 202")).unwrap();
    ok(cli(
        url,
        t,
        &["spec", "update", &spec, spec_file.to_str().unwrap()],
    )
    .await);
    let o = ok(cli(url, t, &["spec", "history", &spec]).await);
    assert!(stdout(&o).lines().count() == 3, "{}", stdout(&o));
    // A stale revision is refused.
    let o = cli(
        url,
        t,
        &[
            "spec",
            "update",
            &spec,
            spec_file.to_str().unwrap(),
            "--if-match",
            "1",
        ],
    )
    .await;
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("412"));

    // Compile and wait, with progress on stderr.
    let o = ok(cli(url, t, &["compile", "--spec-id", &spec, "--wait"]).await);
    let artifact = stdout(&o);
    let progress = String::from_utf8_lossy(&o.stderr);
    assert!(progress.contains("succeeded"), "{progress}");
    let o = ok(cli(url, t, &["artifact", "list"]).await);
    assert!(stdout(&o).contains(&artifact));
    let o = ok(cli(url, t, &["artifact", "inspect", &artifact]).await);
    assert!(
        stdout(&o).contains("artifact_hash:     sha256:"),
        "{}",
        stdout(&o)
    );
    assert!(stdout(&o).contains("common/pet.yaml"));
    let out = dir.path().join("out.bca");
    ok(cli(
        url,
        t,
        &[
            "artifact",
            "download",
            &artifact,
            "-o",
            out.to_str().unwrap(),
        ],
    )
    .await);
    let bytes = std::fs::read(&out).unwrap();
    barbacane_proxy::Snapshot::from_bytes(&bytes).expect("the downloaded artifact loads");

    // An invalid spec: exit 1, diagnostics on stderr.
    write(
        dir.path(),
        "bad.yaml",
        b"openapi: 3.1.0\npaths:\n  /x:\n    get: {responses: {}}\n",
    );
    let bad = dir.path().join("bad.yaml");
    let o = cli(
        url,
        t,
        &[
            "spec",
            "upload",
            "--project",
            &project,
            bad.to_str().unwrap(),
        ],
    )
    .await;
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("E1011"));

    ok(cli(url, t, &["spec", "delete", &spec]).await);
}

#[tokio::test]
async fn api_key_commands_against_the_real_binary() {
    let db = TestDb::new().await;
    let server = serve(&db).await;
    let url = server.url.as_str();
    let t = Some(TOKEN);
    let project = stdout(&ok(cli(url, t, &["project", "create", "keys"]).await));
    let key = stdout(&ok(cli(
        url,
        t,
        &[
            "api-key",
            "create",
            "--project",
            &project,
            "--name",
            "edge",
            "--scope",
            "artifact:read",
        ],
    )
    .await));
    assert!(key.starts_with("bbk_") && key.len() == 68, "{key}");
    let listed = stdout(&ok(cli(
        url,
        t,
        &["api-key", "list", "--project", &project],
    )
    .await));
    assert!(
        listed.contains("edge") && listed.contains(&key[..12]),
        "{listed}"
    );
    assert!(
        listed.contains("artifact:read") && listed.contains("active"),
        "{listed}"
    );
    assert!(!listed.contains(&key[12..]), "the secret is never listed");
    let json = ok(cli(
        url,
        t,
        &["api-key", "list", "--project", &project, "--json"],
    )
    .await);
    let keys: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    let id = keys[0]["id"].as_str().unwrap().to_owned();
    ok(cli(url, t, &["api-key", "revoke", "--project", &project, &id]).await);
    let listed = stdout(&ok(cli(
        url,
        t,
        &["api-key", "list", "--project", &project],
    )
    .await));
    assert!(listed.contains("revoked"), "{listed}");
    let bad = cli(
        url,
        t,
        &[
            "api-key",
            "create",
            "--project",
            &project,
            "--name",
            "x",
            "--scope",
            "root",
        ],
    )
    .await;
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("unknown scope"));
}

#[tokio::test]
async fn plugin_commands_against_the_real_binary() {
    let db = TestDb::new().await;
    let server = serve(&db).await;
    let url = server.url.as_str();
    let t = Some(TOKEN);
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "plugin.toml",
        b"name = \"stamp\"\nversion = \"0.1.0\"\ntype = \"dispatcher\"\ncapabilities = [\"log\"]\nwasm = \"stamp.wasm\"\n",
    );
    let wasm = wat::parse_str(
        r#"(module (import "barbacane:log" "log" (func (param i32 i32 i32)))
           (memory (export "memory") 1)
           (func (export "init") (result i32) i32.const 0)
           (func (export "dispatch") (result i32) i32.const 0))"#,
    )
    .unwrap();
    write(dir.path(), "stamp.wasm", &wasm);
    write(dir.path(), "config-schema.json", br#"{"type":"object"}"#);
    let o = ok(cli(
        url,
        t,
        &["plugin", "register", dir.path().to_str().unwrap()],
    )
    .await);
    assert_eq!(stdout(&o), "registered stamp 0.1.0");
    let o = cli(
        url,
        t,
        &["plugin", "register", dir.path().to_str().unwrap()],
    )
    .await;
    assert_eq!(o.status.code(), Some(1), "duplicate version");
    let o = ok(cli(
        url,
        t,
        &["plugin", "list", "--type", "dispatcher", "--json"],
    )
    .await);
    let list: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(list[0]["capabilities"], serde_json::json!(["core", "log"]));
    let o = ok(cli(url, t, &["plugin", "show", "stamp", "0.1.0"]).await);
    assert!(stdout(&o).contains("config schema"));
    ok(cli(url, t, &["plugin", "delete", "stamp", "0.1.0"]).await);
    let o = cli(url, t, &["plugin", "show", "stamp"]).await;
    assert_eq!(o.status.code(), Some(1));
}

#[tokio::test]
async fn serve_refuses_a_public_bind_without_a_token_and_clients_report_unreachable() {
    let db = TestDb::new().await;
    let o = tokio::task::spawn_blocking({
        let url = db.url.clone();
        move || {
            Command::new(BIN)
                .args(["serve", "--listen", "0.0.0.0:0"])
                .env("DATABASE_URL", url)
                .env_remove("BARBACANE_CONTROL_ADMIN_TOKEN")
                .output()
                .unwrap()
        }
    })
    .await
    .unwrap();
    assert_eq!(o.status.code(), Some(15));
    assert!(String::from_utf8_lossy(&o.stderr).contains("BARBACANE_CONTROL_ADMIN_TOKEN"));

    let port = free_port();
    let o = cli(
        &format!("http://127.0.0.1:{port}"),
        None,
        &["project", "list"],
    )
    .await;
    assert_eq!(o.status.code(), Some(21));
}

#[tokio::test]
async fn client_usage_errors_and_hints() {
    let db = TestDb::new().await;
    let server = serve(&db).await;
    let stderr = |o: &Output| String::from_utf8_lossy(&o.stderr).into_owned();
    // Not a URL: a usage error naming the flag, not a server answer.
    let o = cli("notaurl", Some(TOKEN), &["project", "list"]).await;
    assert_eq!(o.status.code(), Some(10), "{}", stderr(&o));
    assert!(stderr(&o).contains("--server `notaurl`"), "{}", stderr(&o));
    // No token: the 401 says which variable to set.
    let o = cli(&server.url, None, &["project", "list"]).await;
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("set BARBACANE_CONTROL_ADMIN_TOKEN"),
        "{}",
        stderr(&o)
    );
    let o = cli(&server.url, Some("wrong"), &["project", "list"]).await;
    assert!(stderr(&o).contains("was refused"), "{}", stderr(&o));
    // Out-of-range serve flags are refused by the parser.
    for flags in [&["--workers", "0"][..], &["--max-upload-bytes", "0"][..]] {
        let o = tokio::task::spawn_blocking({
            let url = db.url.clone();
            let flags: Vec<String> = flags.iter().map(|s| s.to_string()).collect();
            move || {
                Command::new(BIN)
                    .arg("serve")
                    .args(&flags)
                    .env("DATABASE_URL", url)
                    .output()
                    .unwrap()
            }
        })
        .await
        .unwrap();
        assert_eq!(o.status.code(), Some(2), "{flags:?}: {}", stderr(&o));
    }
    // project show/delete, compilation show, artifact delete.
    let id = stdout(&ok(cli(
        &server.url,
        Some(TOKEN),
        &["project", "create", "p"],
    )
    .await));
    let shown = stdout(&ok(cli(
        &server.url,
        Some(TOKEN),
        &["project", "show", &id],
    )
    .await));
    assert!(shown.contains(&id) && shown.contains('p'), "{shown}");
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "bad.yaml", b"openapi: 3.1.0\ninfo: [unclosed\n");
    let o = cli(
        &server.url,
        Some(TOKEN),
        &[
            "spec",
            "upload",
            "--project",
            &id,
            dir.path().join("bad.yaml").to_str().unwrap(),
        ],
    )
    .await;
    assert_eq!(o.status.code(), Some(1));
    // The syntax error's line and column are printed.
    assert!(stderr(&o).contains("bad.yaml:2:"), "{}", stderr(&o));
    ok(cli(&server.url, Some(TOKEN), &["project", "delete", &id]).await);
    let o = cli(&server.url, Some(TOKEN), &["project", "show", &id]).await;
    assert_eq!(o.status.code(), Some(1));
    let o = cli(
        &server.url,
        Some(TOKEN),
        &["compilation", "show", &uuid::Uuid::new_v4().to_string()],
    )
    .await;
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("does not exist"), "{}", stderr(&o));
    let o = cli(
        &server.url,
        Some(TOKEN),
        &["artifact", "delete", &uuid::Uuid::new_v4().to_string()],
    )
    .await;
    assert_eq!(o.status.code(), Some(1));
}

#[tokio::test]
async fn compilation_show_and_artifact_delete_succeed() {
    let db = TestDb::new().await;
    let server = serve(&db).await;
    let (url, t) = (server.url.as_str(), Some(TOKEN));
    let project = stdout(&ok(cli(url, t, &["project", "create", "shown"]).await));
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "api.yaml",
        crate::support::mini_spec("/a", "{}").as_bytes(),
    );
    let spec_file = dir.path().join("api.yaml");
    let o = ok(cli(
        url,
        t,
        &[
            "spec",
            "upload",
            "--project",
            &project,
            spec_file.to_str().unwrap(),
            "--json",
        ],
    )
    .await);
    let uploaded: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let spec = uploaded["id"].as_str().unwrap().to_owned();
    // Without --wait: the compilation's id, then `compilation show` until it is done.
    let compilation = stdout(&ok(cli(url, t, &["compile", "--spec-id", &spec]).await));
    assert!(uuid::Uuid::parse_str(&compilation).is_ok(), "{compilation}");
    let mut shown = String::new();
    for _ in 0..300 {
        shown = stdout(&ok(
            cli(url, t, &["compilation", "show", &compilation]).await
        ));
        if !shown.contains("pending") && !shown.contains("running") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        shown.contains(&compilation) && shown.contains("succeeded"),
        "{shown}"
    );
    let o = ok(cli(url, t, &["compilation", "show", &compilation, "--json"]).await);
    let c: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let artifact = c["artifact_id"].as_str().unwrap().to_owned();
    assert!(shown.contains(&artifact), "{shown}");

    ok(cli(url, t, &["artifact", "inspect", &artifact]).await);
    ok(cli(url, t, &["artifact", "delete", &artifact]).await);
    let o = cli(url, t, &["artifact", "inspect", &artifact]).await;
    assert_eq!(o.status.code(), Some(1));
    let o = ok(cli(url, t, &["artifact", "list", "--json"]).await);
    assert!(!stdout(&o).contains(&artifact), "{}", stdout(&o));
}

#[tokio::test]
async fn compile_wait_that_times_out_exits_1() {
    // No compile workers: the compilation stays pending.
    let app = crate::support::TestApp::with(crate::support::AppOptions {
        workers: 0,
        ..Default::default()
    })
    .await;
    let addr = app.listen().await;
    let project = app.project("slow").await;
    let spec = app
        .spec(&project, "api.yaml", &crate::support::mini_spec("/a", "{}"))
        .await;
    let o = cli(
        &format!("http://{addr}"),
        None,
        &["compile", "--spec-id", &spec, "--wait", "--timeout", "1"],
    )
    .await;
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("pending"), "{err}");
}

/// `--help` of the binary (stdout), with no environment that could fill a flag.
fn help(args: &[&str]) -> String {
    let o = Command::new(BIN)
        .args(args)
        .arg("--help")
        .env_remove("DATABASE_URL")
        .env_remove("BARBACANE_CONTROL_SERVER")
        .env_remove("BARBACANE_CONTROL_ADMIN_TOKEN")
        .output()
        .unwrap();
    assert!(o.status.success(), "{args:?} --help: {o:?}");
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// The names under `Commands:` of a help text (without `help`).
fn subcommands(help: &str) -> Vec<String> {
    help.lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .map(str::to_owned)
        .collect()
}

/// The flags a usage line shows as required: those outside any `[...]`.
fn required_flags(usage: &str) -> Vec<String> {
    let mut depth = 0usize;
    let mut outside = String::new();
    for c in usage.chars() {
        match c {
            '[' => depth += 1,
            ']' => depth = depth.saturating_sub(1),
            _ if depth == 0 => outside.push(c),
            _ => {}
        }
    }
    outside
        .split(|c: char| c.is_whitespace() || c == '<' || c == '|')
        .filter(|w| w.starts_with("--"))
        .map(str::to_owned)
        .collect()
}

#[test]
fn usage_lines_show_only_truly_required_flags_and_help_names_the_token() {
    let top = help(&[]);
    assert!(top.contains("BARBACANE_CONTROL_ADMIN_TOKEN"), "{top}");
    let serve = help(&["serve"]);
    let usage = serve.lines().find(|l| l.starts_with("Usage:")).unwrap();
    assert_eq!(usage, "Usage: barbacane-control serve [OPTIONS]", "{serve}");
    assert!(
        serve.contains("BARBACANE_CONTROL_ADMIN_TOKEN") && serve.contains("DATABASE_URL"),
        "{serve}"
    );
    // Every other command: the flags its usage line shows as required are exactly those
    // with neither a default nor an environment variable.
    let expected: std::collections::BTreeSet<String> = [
        "spec upload --project",
        "drift approve --by",
        "data-plane add --project",
        "data-plane add --name",
        "data-plane add --admin-url",
        "data-plane add --admin-token",
        "data-plane list --project",
        "known-good set --project",
        "known-good list --project",
        "webhook add --url",
        "webhook add --secret",
        "webhook add --event",
        "api-key create --project",
        "api-key create --name",
        "api-key list --project",
        "api-key revoke --project",
        // One of the two (an argument group).
        "compile --spec-id",
        "compile --project-id",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    let mut found = std::collections::BTreeSet::new();
    for group in subcommands(&top) {
        if group == "serve" {
            continue;
        }
        let group_help = help(&[&group]);
        assert!(
            group_help.contains("BARBACANE_CONTROL_ADMIN_TOKEN"),
            "{group} --help: {group_help}"
        );
        let mut leaves: Vec<Vec<String>> = subcommands(&group_help)
            .into_iter()
            .map(|leaf| vec![group.clone(), leaf])
            .collect();
        if leaves.is_empty() {
            leaves.push(vec![group.clone()]);
        }
        for leaf in leaves {
            let args: Vec<&str> = leaf.iter().map(String::as_str).collect();
            let text = help(&args);
            assert!(
                text.contains("BARBACANE_CONTROL_ADMIN_TOKEN"),
                "{args:?} --help: {text}"
            );
            let usage = text.lines().find(|l| l.starts_with("Usage:")).unwrap();
            for flag in required_flags(usage) {
                found.insert(format!("{} {flag}", leaf.join(" ")));
            }
        }
    }
    assert_eq!(found, expected);
    // Without DATABASE_URL, serve says what to set (a command-line error).
    let o = Command::new(BIN)
        .arg("serve")
        .env_remove("DATABASE_URL")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{o:?}");
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("DATABASE_URL"),
        "{o:?}"
    );
}
