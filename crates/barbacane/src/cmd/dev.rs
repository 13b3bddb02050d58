//! `barbacane dev`: compile, serve, and recompile + swap on change. A spec with errors prints
//! its diagnostics and the last good version keeps serving.

use barbacane_compiler::{CompileOutput, LocalFs, compile};
use barbacane_proxy::{Gateway, Snapshot, exit_code};
use notify::{RecursiveMode, Watcher};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::{EXIT_DIAGNOSTICS, compile_options, runtime, serve_config, shutdown_signal};
use crate::cli::{DevArgs, SpecArgs};
use crate::report;

fn build(args: &SpecArgs) -> Result<(CompileOutput, Snapshot), ()> {
    let options = compile_options(args).map_err(|e| eprintln!("error: {e}"))?;
    let out =
        compile(&LocalFs, &options).map_err(|diags| report::diagnostics(&diags, args.json))?;
    report::diagnostics(&out.warnings, args.json);
    let snapshot = Snapshot::from_bytes(&out.artifact).map_err(|e| eprintln!("error: {e}"))?;
    Ok((out, snapshot))
}

/// Directories to watch: those of every spec and of the manifest (referenced files usually
/// sit next to or below them; editors replace files by rename, so files alone are not enough).
fn watch_dirs(args: &SpecArgs) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = args
        .specs
        .iter()
        .chain(args.manifest.iter())
        .filter_map(|p| std::fs::canonicalize(p).ok()?.parent().map(PathBuf::from))
        .collect();
    dirs.sort();
    dirs.dedup();
    dirs
}

pub fn run(args: DevArgs) -> i32 {
    let Ok((out, snapshot)) = build(&args.spec) else {
        return EXIT_DIAGNOSTICS;
    };
    let rt = match runtime(args.options.workers) {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return exit_code::USAGE;
        }
    };
    let config = serve_config(&args.options, true);
    rt.block_on(async move {
        let gateway = Gateway::new(snapshot, config);
        let listening = match gateway.bind().await {
            Ok(l) => l,
            Err(e) => {
                eprintln!("error: cannot listen on {}: {e}", gateway.config().listen);
                return exit_code::BIND_FAILED;
            }
        };
        tracing::info!(addr = %listening.local_addr(), artifact_hash = %out.header.artifact_hash, "dev server ready; watching for changes");
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let mut watcher = match notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
            if event.is_ok_and(|e| !e.kind.is_access()) {
                let _ = tx.send(());
            }
        }) {
            Ok(w) => w,
            Err(e) => {
                eprintln!("error: cannot watch files: {e}");
                return exit_code::USAGE;
            }
        };
        for dir in watch_dirs(&args.spec) {
            if let Err(e) = watcher.watch(&dir, RecursiveMode::Recursive) {
                tracing::warn!(dir = %dir.display(), error = %e, "cannot watch directory");
            }
        }
        tokio::spawn(rebuild_loop(Arc::clone(&gateway), args.spec.clone(), rx));
        listening.serve(shutdown_signal()).await;
        drop(watcher);
        0
    })
}

async fn rebuild_loop(
    gateway: Arc<Gateway>,
    args: SpecArgs,
    mut rx: tokio::sync::mpsc::UnboundedReceiver<()>,
) {
    let mut current = gateway.snapshot().header().artifact_hash.clone();
    while rx.recv().await.is_some() {
        // Debounce: editors write several events per save.
        tokio::time::sleep(Duration::from_millis(150)).await;
        while rx.try_recv().is_ok() {}
        let spec = args.clone();
        let Ok(result) = tokio::task::spawn_blocking(move || build(&spec)).await else {
            continue;
        };
        match result {
            Ok((out, snapshot)) if out.header.artifact_hash != current => {
                current = out.header.artifact_hash.clone();
                gateway.swap(snapshot);
                tracing::info!(artifact_hash = %current, routes = out.config.operations.len(), "reloaded");
            }
            Ok(_) => {}
            Err(()) => tracing::warn!("compilation failed; still serving the last good version"),
        }
    }
}
