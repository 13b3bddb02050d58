//! File watching for `serve`: the artifact (`--watch`) and the TLS certificate and key.
//!
//! Directories are watched as given, not their symlink targets: Kubernetes ConfigMaps and
//! Secrets swap a `..data` symlink, which would delete a resolved directory. Events are
//! debounced (200 ms) and any change in a watched directory triggers the action.

use barbacane_proxy::tls::Tls;
use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Runs `on_change` after changes in any of `dirs`; `what` names the files in warnings.
pub(super) fn watch<F, Fut>(dirs: Vec<PathBuf>, what: &'static str, on_change: F)
where
    F: Fn() -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send,
{
    use notify::{RecursiveMode, Watcher};
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        if event.is_ok_and(|e| !e.kind.is_access()) {
            let _ = tx.send(());
        }
    });
    let mut watcher = match watcher {
        Ok(w) => w,
        Err(e) => {
            tracing::warn!(error = %e, "cannot watch {what}; changes need SIGHUP");
            return;
        }
    };
    for dir in &dirs {
        if let Err(e) = watcher.watch(dir, RecursiveMode::NonRecursive) {
            tracing::warn!(error = %e, dir = %dir.display(), "cannot watch {what}; changes need SIGHUP");
            return;
        }
    }
    tokio::spawn(async move {
        let _keep_alive = watcher;
        while rx.recv().await.is_some() {
            tokio::time::sleep(Duration::from_millis(200)).await;
            while rx.try_recv().is_ok() {}
            on_change().await;
        }
    });
}

/// Reloads the TLS settings, keeping the old ones when the new files are not a usable pair.
pub(super) fn reload_tls(tls: &Tls) {
    match tls.reload() {
        Ok(()) => tracing::info!(cert = %tls.files().cert.display(), "TLS certificate reloaded"),
        Err(e) => tracing::error!(error = %e,
            "new TLS certificate refused; the previous one keeps serving"),
    }
}

/// Reloads the TLS settings whenever the certificate's, key's or client CA's directory changes.
pub(super) fn watch_tls(tls: Arc<Tls>) {
    let files = tls.files();
    let key = files.key_file();
    let mut dirs: Vec<PathBuf> = [Some(&files.cert), key.as_ref(), files.client_ca.as_ref()]
        .into_iter()
        .flatten()
        .map(|f| match f.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        })
        .collect();
    dirs.sort();
    dirs.dedup();
    watch(dirs, "the TLS files", move || {
        let tls = Arc::clone(&tls);
        async move { reload_tls(&tls) }
    });
}
