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

/// Why the admin listener did not start.
pub struct NotStarted {
    /// The process exit code for it.
    pub code: i32,
    /// What to tell the operator.
    pub message: String,
}

/// Applies the posture rules and binds the admin listener.
pub async fn bind(
    config: AdminConfig,
    reloader: Arc<Reloader>,
) -> Result<(Arc<Admin>, AdminListening), NotStarted> {
    let listen = config.listen;
    let admin = Admin::new(config, reloader).map_err(|e| NotStarted {
        code: exit_code::POSTURE_REFUSED,
        message: e.to_string(),
    })?;
    let listening = admin.bind().await.map_err(|e| NotStarted {
        code: exit_code::BIND_FAILED,
        message: format!("cannot listen on {listen} (admin): {e}"),
    })?;
    Ok((admin, listening))
}

/// `--admin-listen`'s default (a `dev` server whose default admin port is taken still starts).
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8081";
