//! The admin listener as `serve` and `dev` start it: posture from the flags, bound before
//! traffic is served, stopped with the traffic listener.

use barbacane_posture::{Allowlist, TokenSource};
use barbacane_proxy::admin::{Admin, AdminConfig, AdminListening};
use barbacane_proxy::exit_code;
use barbacane_proxy::reload::Reloader;
use std::sync::Arc;

use crate::cli::AdminArgs;

/// The admin configuration from the flags, or the exit code after printing why not.
pub fn config(args: &AdminArgs) -> Result<AdminConfig, i32> {
    let allowlist = Allowlist::parse(args.admin_allow.iter().map(String::as_str)).map_err(|e| {
        eprintln!("error: --admin-allow {e}");
        exit_code::USAGE
    })?;
    Ok(AdminConfig {
        listen: args.admin_listen,
        tokens: TokenSource {
            primary_env: args.admin_token_env.clone(),
            secondary_env: args.admin_secondary_tokens_env.clone(),
        },
        allowlist,
    })
}

/// Applies the posture rules and binds the admin listener, or returns the exit code after
/// printing why not.
pub async fn bind(
    config: AdminConfig,
    reloader: Arc<Reloader>,
) -> Result<(Arc<Admin>, AdminListening), i32> {
    let listen = config.listen;
    let admin = Admin::new(config, reloader).map_err(|e| {
        eprintln!("error: {e}");
        exit_code::POSTURE_REFUSED
    })?;
    let listening = admin.bind().await.map_err(|e| {
        eprintln!("error: cannot listen on {listen} (admin): {e}");
        exit_code::BIND_FAILED
    })?;
    Ok((admin, listening))
}
