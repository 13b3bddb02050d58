//! `barbacane-control api-key create|list|revoke`.

use clap::Subcommand;
use http::Method;
use serde_json::json;

use super::Ctx;
use super::client::CliError;
use super::output::{field, json, table};

/// API key commands.
#[derive(Debug, Subcommand)]
pub enum ApiKeyCmd {
    /// Create a key for a project; prints the key (shown this once; store it as a secret).
    Create {
        /// The project's id.
        #[arg(long)]
        project: String,
        /// A label for people.
        #[arg(long)]
        name: String,
        /// A scope (`data-plane:connect`, `artifact:read`); repeatable. Default: all.
        #[arg(long = "scope")]
        scopes: Vec<String>,
        /// When the key stops working (RFC 3339, e.g. 2027-06-30T00:00:00Z).
        #[arg(long)]
        expires_at: Option<String>,
    },
    /// List a project's keys (never the secrets).
    List {
        /// The project's id.
        #[arg(long)]
        project: String,
    },
    /// Revoke a key: it stops working at once.
    Revoke {
        /// The project's id.
        #[arg(long)]
        project: String,
        /// The key's id.
        id: String,
    },
}

/// Runs an API key command.
pub async fn run(ctx: &Ctx, cmd: ApiKeyCmd) -> Result<(), CliError> {
    match cmd {
        ApiKeyCmd::Create {
            project,
            name,
            scopes,
            expires_at,
        } => {
            let mut body = json!({ "name": name });
            if !scopes.is_empty() {
                body["scopes"] = json!(scopes);
            }
            if let Some(at) = expires_at {
                body["expires_at"] = json!(at);
            }
            let reply = ctx
                .client
                .send(
                    Method::POST,
                    &format!("/projects/{project}/api-keys"),
                    Some("application/json"),
                    body.to_string().into_bytes(),
                )
                .await?
                .json()?;
            if ctx.json {
                json(&reply);
            } else {
                println!("{}", field(&reply, "key"));
                eprintln!(
                    "API key {} ({}) created; the key above is not shown again",
                    field(&reply, "id"),
                    field(&reply, "prefix")
                );
            }
        }
        ApiKeyCmd::List { project } => {
            let list = ctx
                .client
                .get(&format!("/projects/{project}/api-keys"))
                .await?;
            if ctx.json {
                json(&list);
            } else {
                let rows: Vec<Vec<String>> = list
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|k| {
                        let scopes = k["scopes"]
                            .as_array()
                            .map(|s| {
                                s.iter()
                                    .filter_map(|v| v.as_str())
                                    .collect::<Vec<_>>()
                                    .join(",")
                            })
                            .unwrap_or_default();
                        let state = if k["revoked_at"].is_string() {
                            "revoked".to_owned()
                        } else {
                            "active".to_owned()
                        };
                        vec![
                            field(k, "id"),
                            field(k, "name"),
                            field(k, "prefix"),
                            scopes,
                            state,
                            field(k, "expires_at"),
                        ]
                    })
                    .collect();
                table(
                    &["ID", "NAME", "PREFIX", "SCOPES", "STATE", "EXPIRES"],
                    &rows,
                );
            }
        }
        ApiKeyCmd::Revoke { project, id } => {
            ctx.client
                .send(
                    Method::DELETE,
                    &format!("/projects/{project}/api-keys/{id}"),
                    None,
                    Vec::new(),
                )
                .await?;
            if !ctx.json {
                eprintln!("API key {id} revoked");
            }
        }
    }
    Ok(())
}
