//! `barbacane serve`: load, verify, serve traffic and the admin API; reload on SIGHUP,
//! `POST /_admin/reload` or (with `--watch`) when the artifact file changes.

use barbacane_proxy::admin::Admin;
use barbacane_proxy::reload::{ArtifactSource, Reloader};
use barbacane_proxy::tls::Tls;
use barbacane_proxy::{Gateway, LoadOptions, Snapshot, exit_code};
use std::sync::Arc;
use tokio::sync::watch;

use super::{configure_module_cache, plugin_pool, runtime, serve_config, shutdown_signal};
use crate::cli::ServeArgs;

pub fn run(args: ServeArgs) -> i32 {
    let trusted_keys = match super::keys::load_public_keys(&args.trusted_keys) {
        Ok(k) => k,
        Err(e) => {
            eprintln!("error: {e}");
            return exit_code::USAGE;
        }
    };
    let admin_config = match super::admin::config(&args.admin) {
        Ok(c) => c,
        Err(code) => return code,
    };
    configure_module_cache(&args.options.cache);
    let state = match super::state_backend(&args.options) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return exit_code::USAGE;
        }
    };
    let options = LoadOptions {
        trusted_keys,
        require_signature: args.require_signature,
        ..state.load_options(plugin_pool(&args.options))
    };
    let source = args.artifact.clone().map(|path| ArtifactSource {
        path,
        options: options.clone(),
    });
    let snapshot = match &source {
        Some(source) => match Snapshot::load_file(&source.path, &source.options) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("error: {e}");
                return e.exit_code();
            }
        },
        // Connected mode without --artifact: nothing to serve until a deployment arrives.
        None => Snapshot::placeholder(),
    };
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return exit_code::USAGE;
        }
    };
    super::connect_state(&rt, &state);
    let mut config = serve_config(&args.options, args.dev);
    let tls = match super::tls(&args.options) {
        Ok(t) => t,
        Err((code, e)) => {
            eprintln!("error: {e}");
            return code;
        }
    };
    config.tls = tls.clone();
    config.tracer = match super::tracer(&args.options, args.connect.data_plane_name.as_deref()) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: {e}");
            return exit_code::USAGE;
        }
    };
    let connect = match connect_config(&args.connect, &options) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return exit_code::USAGE;
        }
    };
    rt.block_on(async move {
        let waiting = snapshot.is_placeholder();
        let gateway = Gateway::new(snapshot, config);
        // A reload re-reads `--artifact`, or in connected mode the artifact deployed last.
        let applied = Arc::new(barbacane_proxy::connected::AppliedArtifact::default());
        let loader: barbacane_proxy::reload::Loader = {
            let applied = Arc::clone(&applied);
            Arc::new(move || match (applied.get(), &source) {
                (Some(bytes), _) => {
                    Snapshot::from_bytes_with(&bytes, &options).map_err(|e| e.to_string())
                }
                (None, Some(source)) => Snapshot::load_file(&source.path, &source.options)
                    .map_err(|e| e.to_string()),
                (None, None) => Err("no artifact yet: waiting for a deployment".to_owned()),
            })
        };
        let reloader = Reloader::with_loader(Arc::clone(&gateway), loader);
        let mut listening = None;
        if !waiting {
            match gateway.bind().await {
                Ok(l) => listening = Some(l),
                Err(e) => {
                    eprintln!("error: cannot listen on {}: {e}", gateway.config().listen);
                    return exit_code::BIND_FAILED;
                }
            }
        }
        let (admin, admin_listening) =
            match super::admin::bind(admin_config, Arc::clone(&reloader)).await {
                Ok(a) => a,
                Err(e) => {
                    eprintln!("error: {}", e.message);
                    return e.code;
                }
            };
        if let Some(connect) = connect {
            match barbacane_proxy::connected::spawn(
                connect,
                Arc::clone(&gateway),
                Arc::clone(&applied),
            ) {
                Ok(status) => admin.set_control_plane(status),
                Err(e) => {
                    eprintln!("error: --control-plane {e}");
                    return exit_code::USAGE;
                }
            }
        }
        let (stop_tx, stop_rx) = watch::channel(false);
        let stopped = |mut rx: watch::Receiver<bool>| async move {
            let _ = rx.wait_for(|s| *s).await;
        };
        // The SIGHUP handler is installed before either listener answers, so a SIGHUP sent
        // as soon as the gateway is reachable reloads rather than kills the process.
        tokio::spawn(reload_on_sighup(
            sighup_stream(),
            Arc::clone(&admin),
            tls.clone(),
        ));
        if let Some(tls) = &tls {
            super::watch::watch_tls(Arc::clone(tls));
        }
        let admin_addr = admin_listening.local_addr();
        let admin_task = tokio::spawn(admin_listening.serve(stopped(stop_rx.clone())));
        if let (true, Some(path)) = (args.watch, &args.artifact) {
            spawn_watch(path, Arc::clone(&admin));
        }
        let listening = match listening {
            Some(l) => l,
            None => {
                tracing::info!(admin = %admin_addr, "no --artifact: waiting for the control plane to deploy one");
                tokio::select! {
                    () = applied.wait() => {}
                    () = shutdown_signal() => {
                        let _ = stop_tx.send(true);
                        let _ = admin_task.await;
                        return 0;
                    }
                }
                match gateway.bind().await {
                    Ok(l) => l,
                    Err(e) => {
                        eprintln!("error: cannot listen on {}: {e}", gateway.config().listen);
                        return exit_code::BIND_FAILED;
                    }
                }
            }
        };
        let snapshot = gateway.snapshot();
        let (modules_cached, modules_compiled) = super::module_cache_counts();
        tracing::info!(
            event = "startup",
            addr = %listening.local_addr(), admin = %admin_addr,
            artifact_hash = %snapshot.header().artifact_hash, signature = snapshot.signature().as_str(),
            routes = snapshot.route_count(), dev = args.dev,
            modules_cached = %modules_cached, modules_compiled = %modules_compiled, "serving"
        );
        drop(snapshot);
        listening
            .serve(async move {
                shutdown_signal().await;
                let _ = stop_tx.send(true);
            })
            .await;
        let _ = admin_task.await;
        0
    })
}

#[cfg(unix)]
type Hangup = Option<tokio::signal::unix::Signal>;
#[cfg(not(unix))]
type Hangup = Option<()>;

#[cfg(unix)]
fn sighup_stream() -> Hangup {
    use tokio::signal::unix::{SignalKind, signal};
    signal(SignalKind::hangup())
        .inspect_err(|_| {
            tracing::warn!("cannot listen for SIGHUP; reload with POST /_admin/reload")
        })
        .ok()
}

#[cfg(not(unix))]
fn sighup_stream() -> Hangup {
    None
}

#[cfg(unix)]
async fn reload_on_sighup(hup: Hangup, admin: Arc<Admin>, tls: Option<Arc<Tls>>) {
    let Some(mut hup) = hup else { return };
    while hup.recv().await.is_some() {
        tracing::info!("SIGHUP: reloading the artifact, the admin tokens and the TLS certificate");
        if let Some(tls) = &tls {
            super::watch::reload_tls(tls);
        }
        let _ = admin.reload().await;
    }
}

#[cfg(not(unix))]
async fn reload_on_sighup(_hup: Hangup, _admin: Arc<Admin>, _tls: Option<Arc<Tls>>) {}

/// Watches the directory of the artifact path as given, or the layout's directory for
/// `oci:DIR[:TAG]` (see [`super::watch::watch`]); a change reloads the artifact (a reload of
/// an unchanged file is cheap and reports `changed: false`).
fn spawn_watch(artifact: &std::path::Path, admin: Arc<Admin>) {
    // An OCI layout changes when its index.json is replaced (blobs are written first).
    let layout = artifact
        .to_str()
        .and_then(|s| s.strip_prefix("oci:"))
        .map(|r| barbacane_evidence::oci::parse_reference(r).0);
    let dir = match (layout, artifact.parent()) {
        (Some(layout), _) => layout,
        (None, Some(d)) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    super::watch::watch(vec![dir], "the artifact", move || {
        let admin = Arc::clone(&admin);
        async move {
            tracing::info!("artifact file changed: reloading");
            let _ = admin.reload().await;
        }
    });
}

/// The connected-mode settings, if `--control-plane` is given.
fn connect_config(
    args: &crate::cli::ConnectArgs,
    load: &LoadOptions,
) -> Result<Option<barbacane_proxy::connected::ConnectConfig>, String> {
    let Some(url) = &args.control_plane else {
        return Ok(None);
    };
    barbacane_proxy::connected::websocket_url(url).map_err(|e| format!("--control-plane {e}"))?;
    let api_key = args
        .api_key
        .clone()
        .filter(|k| !k.trim().is_empty())
        .ok_or("--control-plane needs an API key: --api-key or BARBACANE_API_KEY")?;
    let name = args
        .data_plane_name
        .clone()
        .unwrap_or_else(barbacane_proxy::admin::hostname);
    Ok(Some(barbacane_proxy::connected::ConnectConfig {
        url: url.clone(),
        project_id: args.project_id.clone(),
        api_key: api_key.trim().to_owned(),
        name,
        labels: args.labels.iter().cloned().collect(),
        load: load.clone(),
        ca: args.control_plane_ca.clone(),
    }))
}
