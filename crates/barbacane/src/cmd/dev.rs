//! `barbacane dev`: compile, serve, and recompile + swap on change. A spec with errors prints
//! its diagnostics and the last good version keeps serving. The admin listener runs as with
//! `serve` (same flags, same posture rules); `POST /_admin/reload` recompiles.

use barbacane_compiler::{LocalFs, compile};
use barbacane_proxy::reload::{Loader, Reloader};
use barbacane_proxy::{Gateway, LoadOptions, Snapshot, exit_code};
use notify::{RecursiveMode, Watcher};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::{
    EXIT_DIAGNOSTICS, compile_options, configure_module_cache, plugin_pool, runtime, serve_config,
    shutdown_signal,
};
use crate::cli::{DevArgs, SpecArgs};
use crate::report;

/// Compiles the specs and loads the result; diagnostics are printed, the error says so.
fn build(args: &SpecArgs, load: &LoadOptions) -> Result<Snapshot, String> {
    build_coded(args, load).map_err(|(_, e)| e)
}

/// [`build`] with the exit code of a failure at start: 13 when a secret reference does not
/// resolve, 1 for anything else.
fn build_coded(args: &SpecArgs, load: &LoadOptions) -> Result<Snapshot, (i32, String)> {
    let fail = |e: String| (EXIT_DIAGNOSTICS, e);
    let options = compile_options(args)
        .inspect_err(|e| eprintln!("error: {e}"))
        .map_err(fail)?;
    let out = compile(&LocalFs, &options).map_err(|diags| {
        report::diagnostics(&diags, args.json);
        fail(format!(
            "compilation failed with {} diagnostic(s) (printed by the dev server)",
            diags.len()
        ))
    })?;
    report::diagnostics(&out.warnings, args.json);
    Snapshot::from_bytes_with(&out.artifact, load).map_err(|e| {
        eprintln!("error: {e}");
        let code = match e {
            barbacane_proxy::LoadError::Secrets(_) => exit_code::SECRET_UNRESOLVED,
            _ => EXIT_DIAGNOSTICS,
        };
        (code, e.to_string())
    })
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
    let admin_config = match super::admin::config(&args.admin) {
        Ok(c) => c,
        Err(code) => return code,
    };
    configure_module_cache(&args.options.cache);
    let state = match super::state_backend(&args.options) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return barbacane_proxy::exit_code::USAGE;
        }
    };
    let load = state.load_options(plugin_pool(&args.options));
    let snapshot = match build_coded(&args.spec, &load) {
        Ok(s) => s,
        Err((code, _)) => return code,
    };
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return exit_code::USAGE;
        }
    };
    super::connect_state(&rt, &state);
    let mut config = serve_config(&args.options, true);
    config.tls = match super::tls(&args.options) {
        Ok(t) => t,
        Err((code, e)) => {
            eprintln!("error: {e}");
            return code;
        }
    };
    config.tracer = match super::tracer(&args.options, None) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: {e}");
            return exit_code::USAGE;
        }
    };
    rt.block_on(async move {
        let hash = snapshot.header().artifact_hash.clone();
        let gateway = Gateway::new(snapshot, config);
        let spec = args.spec.clone();
        let loader: Loader = Arc::new(move || build(&spec, &load));
        let reloader = Reloader::with_loader(Arc::clone(&gateway), loader);
        let listening = match gateway.bind().await {
            Ok(l) => l,
            Err(e) => {
                eprintln!("error: cannot listen on {}: {e}", gateway.config().listen);
                return exit_code::BIND_FAILED;
            }
        };
        let default_admin = admin_config.listen.to_string() == super::ADMIN_DEFAULT_LISTEN;
        let admin_listening =
            match super::admin::bind(admin_config, Arc::clone(&reloader)).await {
                Ok((_admin, listening)) => Some(listening),
                // A development server is still useful without its admin API when the
                // default port is taken by something else; an address asked for explicitly
                // must be honoured.
                Err(e) if e.code == exit_code::BIND_FAILED && default_admin => {
                    tracing::warn!("{}; serving without the admin listener (choose another address with --admin-listen)", e.message);
                    None
                }
                Err(e) => {
                    eprintln!("error: {}", e.message);
                    return e.code;
                }
            };
        let admin_addr = admin_listening
            .as_ref()
            .map_or_else(|| "-".to_owned(), |l| l.local_addr().to_string());
        let (modules_cached, modules_compiled) = super::module_cache_counts();
        tracing::info!(addr = %listening.local_addr(), admin = %admin_addr, artifact_hash = %hash, modules_cached = %modules_cached, modules_compiled = %modules_compiled, "dev server ready; watching for changes");
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
        tokio::spawn(rebuild_loop(reloader, rx));
        let (stop_tx, mut stop_rx) = tokio::sync::watch::channel(false);
        let admin_task = admin_listening.map(|admin| {
            tokio::spawn(admin.serve(async move {
                let _ = stop_rx.wait_for(|s| *s).await;
            }))
        });
        listening
            .serve(async move {
                shutdown_signal().await;
                let _ = stop_tx.send(true);
            })
            .await;
        if let Some(task) = admin_task {
            let _ = task.await;
        }
        drop(watcher);
        0
    })
}

/// Recompiles on every (debounced) change. A failed build leaves the last good version
/// serving and shows in `/_admin/provenance` as `last_reload_error`.
async fn rebuild_loop(reloader: Arc<Reloader>, mut rx: tokio::sync::mpsc::UnboundedReceiver<()>) {
    while rx.recv().await.is_some() {
        // Debounce: editors write several events per save.
        tokio::time::sleep(Duration::from_millis(150)).await;
        while rx.try_recv().is_ok() {}
        if reloader.reload().await.is_err() {
            tracing::warn!("compilation failed; still serving the last good version");
        }
    }
}
