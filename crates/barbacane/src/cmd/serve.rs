use barbacane_proxy::{Gateway, Snapshot, exit_code};

use super::{runtime, serve_config, shutdown_signal};
use crate::cli::ServeArgs;

pub fn run(args: ServeArgs) -> i32 {
    let snapshot = match Snapshot::load_file(&args.artifact) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return e.exit_code();
        }
    };
    let rt = match runtime(args.options.workers) {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return exit_code::USAGE;
        }
    };
    let config = serve_config(&args.options, args.dev);
    rt.block_on(async move {
        let hash = snapshot.header().artifact_hash.clone();
        let routes = snapshot.route_count();
        let gateway = Gateway::new(snapshot, config);
        let listening = match gateway.bind().await {
            Ok(l) => l,
            Err(e) => {
                eprintln!("error: cannot listen on {}: {e}", gateway.config().listen);
                return exit_code::BIND_FAILED;
            }
        };
        tracing::info!(addr = %listening.local_addr(), artifact_hash = %hash, routes, dev = args.dev, "serving");
        listening.serve(shutdown_signal()).await;
        0
    })
}
