//! The compiled-module cache: `compile` fills it, `serve` starts from it, and a cache that is
//! corrupt or cannot be used never stops a start.

use std::path::Path;

use crate::support::{Server, compile_in, petstore, root, run};

/// Every file under `dir`, recursively.
fn files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(files(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// The `modules_cached` / `modules_compiled` fields of the `serving` log line.
fn counts(log: &str) -> (String, String) {
    let line = log
        .lines()
        .find(|l| l.contains("serving"))
        .unwrap_or_else(|| panic!("no `serving` line\n{log}"));
    let field = |name: &str| {
        let start = line
            .find(&format!("{name}="))
            .unwrap_or_else(|| panic!("no {name} in {line}"))
            + name.len()
            + 1;
        line[start..]
            .split(|c: char| c.is_whitespace())
            .next()
            .unwrap_or_default()
            .to_owned()
    };
    (field("modules_cached"), field("modules_compiled"))
}

fn serve(dir: &Path, artifact: &Path, cache: &[&str]) -> Server {
    let mut args = vec![
        "serve",
        "--artifact",
        artifact.to_str().expect("utf-8 path"),
    ];
    args.extend_from_slice(cache);
    let server = Server::start(dir, &args);
    let pet = server.get("/pets/1");
    assert_eq!(pet.status, 200, "{pet:?}\n--- stderr\n{}", server.stderr());
    server
}

#[test]
fn compile_warms_the_cache_and_serve_starts_from_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cache = dir.path().join("cache");
    let cache_flag = cache.to_str().expect("utf-8 path");
    let artifact = dir.path().join("api.bca");
    compile_in(
        &root(),
        &[petstore()],
        &artifact,
        &["--module-cache", cache_flag],
    );
    assert!(!files(&cache).is_empty(), "compile wrote no cache entry");

    let server = serve(dir.path(), &artifact, &["--module-cache", cache_flag]);
    let (cached, compiled) = counts(&server.stderr());
    assert_eq!(compiled, "0", "{}", server.stderr());
    assert_ne!(cached, "0", "{}", server.stderr());

    let off = serve(dir.path(), &artifact, &["--no-module-cache"]);
    assert_eq!(counts(&off.stderr()), ("-".into(), "-".into()));
}

#[test]
fn a_corrupt_cache_is_recompiled_and_an_unusable_one_is_skipped() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cache = dir.path().join("cache");
    let cache_flag = cache.to_str().expect("utf-8 path");
    let artifact = dir.path().join("api.bca");
    compile_in(
        &root(),
        &[petstore()],
        &artifact,
        &["--module-cache", cache_flag],
    );
    let entries = files(&cache);
    assert!(!entries.is_empty());
    for entry in &entries {
        std::fs::write(entry, b"not a compiled module").expect("corrupt");
    }
    let server = serve(dir.path(), &artifact, &["--module-cache", cache_flag]);
    let (_, compiled) = counts(&server.stderr());
    assert_ne!(
        compiled,
        "0",
        "corrupt entries are compiled again\n{}",
        server.stderr()
    );

    // A cache "directory" below a regular file cannot be created: a warning, then serving.
    let blocker = dir.path().join("not-a-dir");
    std::fs::write(&blocker, b"").expect("write");
    let bad = blocker.join("cache");
    let server = serve(
        dir.path(),
        &artifact,
        &["--module-cache", bad.to_str().expect("utf-8")],
    );
    let log = server.stderr();
    assert!(
        log.contains("compiled-module cache cannot be used"),
        "{log}"
    );
    assert_eq!(counts(&log), ("-".into(), "-".into()));
}

#[test]
fn module_cache_and_no_module_cache_conflict() {
    let out = run(crate::support::barbacane().args([
        "serve",
        "--artifact",
        "x.bca",
        "--module-cache",
        "/tmp/x",
        "--no-module-cache",
    ]));
    out.assert_code(2);
}
