//! `barbacane-control data-plane add|list`, `known-good set|list`, `webhook add|list|deliveries`.

use clap::Subcommand;
use serde_json::{Value, json};

use super::Ctx;
use super::client::{CliError, encode};
use super::output::{field, fields, json, listing};

/// Data plane commands.
#[derive(Debug, Subcommand)]
pub enum DataPlaneCmd {
    /// Register a standalone node: the drift engine polls its admin listener's
    /// `GET /_admin/provenance` every interval.
    Add {
        /// The project's id.
        #[arg(long)]
        project: String,
        /// Its name, unique in the project.
        #[arg(long)]
        name: String,
        /// Its admin listener, e.g. `http://10.0.0.5:8081`.
        #[arg(long)]
        admin_url: String,
        /// A reference to its admin token: `env://VAR` or `file:///path` (resolved by the
        /// control plane at each poll; never the token itself).
        #[arg(long)]
        admin_token: String,
        /// A label `key=value`; repeatable.
        #[arg(long = "label", value_parser = parse_label)]
        labels: Vec<(String, String)>,
    },
    /// A project's nodes, connected and standalone.
    List {
        /// The project's id.
        #[arg(long)]
        project: String,
    },
}

/// Known-good commands.
#[derive(Debug, Subcommand)]
pub enum KnownGoodCmd {
    /// Bless what a project's nodes should run (recorded with who and when).
    Set {
        /// The project's id.
        #[arg(long)]
        project: String,
        /// The blessed `artifact_hash`.
        #[arg(long, required_unless_present = "artifact_id")]
        artifact_hash: Option<String>,
        /// Or an artifact the control plane built.
        #[arg(long)]
        artifact_id: Option<String>,
        /// The blessed `content_hash` (default: recorded at build, else the first observed).
        #[arg(long)]
        content_hash: Option<String>,
        /// Why it is known good.
        #[arg(long, default_value = "")]
        note: String,
        /// Who blesses it.
        #[arg(long)]
        by: Option<String>,
    },
    /// A project's blessings, newest first.
    List {
        /// The project's id.
        #[arg(long)]
        project: String,
    },
}

/// Webhook commands.
#[derive(Debug, Subcommand)]
pub enum WebhookCmd {
    /// Deliver events to a URL, signed with HMAC-SHA256.
    Add {
        /// Where to POST.
        #[arg(long)]
        url: String,
        /// The signing secret's reference: `env://VAR` or `file:///path`.
        #[arg(long)]
        secret: String,
        /// An event (`drift_detected`, `drift_resolved`, `remediation_proposed`,
        /// `remediation_approved`, `remediation_rejected`, `remediation_*`); repeatable.
        #[arg(long = "event", required = true)]
        events: Vec<String>,
        /// Only this project's events.
        #[arg(long)]
        project: Option<String>,
    },
    /// Every webhook.
    List,
    /// A webhook's latest deliveries and their attempts.
    Deliveries {
        /// The webhook's id.
        id: String,
    },
}

/// Runs a data plane command.
pub async fn data_plane(ctx: &Ctx, cmd: DataPlaneCmd) -> Result<(), CliError> {
    match cmd {
        DataPlaneCmd::Add {
            project,
            name,
            admin_url,
            admin_token,
            labels,
        } => {
            let labels: serde_json::Map<String, Value> = labels
                .into_iter()
                .map(|(k, v)| (k, Value::String(v)))
                .collect();
            let body = json!({"name": name, "admin_url": admin_url,
                "admin_token": admin_token, "labels": labels});
            let node = ctx
                .client
                .post_json(
                    &format!("/projects/{}/data-planes", encode(&project)),
                    &body,
                )
                .await?;
            if ctx.json {
                json(&node);
            } else {
                println!("{}", field(&node, "id"));
                eprintln!(
                    "standalone data plane `{name}` registered; polled from the next drift interval"
                );
            }
        }
        DataPlaneCmd::List { project } => {
            let list = ctx
                .client
                .get(&format!("/projects/{}/data-planes", encode(&project)))
                .await?;
            listing(
                ctx.json,
                &list,
                &[
                    "ID",
                    "NAME",
                    "MODE",
                    "STATUS",
                    "SYNC",
                    "HEALTH",
                    "LAST SEEN",
                ],
                |n| {
                    fields(
                        n,
                        &[
                            "id",
                            "name",
                            "mode",
                            "status",
                            "sync",
                            "health",
                            "last_seen",
                        ],
                    )
                },
            );
        }
    }
    Ok(())
}

/// Runs a known-good command.
pub async fn known_good(ctx: &Ctx, cmd: KnownGoodCmd) -> Result<(), CliError> {
    match cmd {
        KnownGoodCmd::Set {
            project,
            artifact_hash,
            artifact_id,
            content_hash,
            note,
            by,
        } => {
            let body = json!({"artifact_hash": artifact_hash, "artifact_id": artifact_id,
                "content_hash": content_hash, "note": note, "created_by": by});
            let record = ctx
                .client
                .post_json(&format!("/projects/{}/known-good", encode(&project)), &body)
                .await?;
            if ctx.json {
                json(&record);
            } else {
                println!("{}", field(&record, "id"));
                eprintln!(
                    "known-good set: {} (content hash: {}, {})",
                    field(&record, "artifact_hash"),
                    field(&record, "content_hash"),
                    field(&record, "content_source")
                );
            }
        }
        KnownGoodCmd::List { project } => {
            let list = ctx
                .client
                .get(&format!("/projects/{}/known-good", encode(&project)))
                .await?;
            listing(
                ctx.json,
                &list,
                &["SET AT", "ARTIFACT HASH", "CONTENT", "BY", "NOTE"],
                |k| {
                    fields(
                        k,
                        &[
                            "created_at",
                            "artifact_hash",
                            "content_source",
                            "created_by",
                            "note",
                        ],
                    )
                },
            );
        }
    }
    Ok(())
}

/// Runs a webhook command.
pub async fn webhook(ctx: &Ctx, cmd: WebhookCmd) -> Result<(), CliError> {
    match cmd {
        WebhookCmd::Add {
            url,
            secret,
            events,
            project,
        } => {
            let body =
                json!({"url": url, "secret": secret, "events": events, "project_id": project});
            let hook = ctx.client.post_json("/webhooks", &body).await?;
            if ctx.json {
                json(&hook);
            } else {
                println!("{}", field(&hook, "id"));
            }
        }
        WebhookCmd::List => {
            let list = ctx.client.get("/webhooks").await?;
            listing(ctx.json, &list, &["ID", "URL", "EVENTS"], |h| {
                fields(h, &["id", "url", "events"])
            });
        }
        WebhookCmd::Deliveries { id } => {
            let list = ctx
                .client
                .get(&format!("/webhooks/{}/deliveries", encode(&id)))
                .await?;
            listing(
                ctx.json,
                &list,
                &["QUEUED", "EVENT", "STATE", "ATTEMPTS", "LAST"],
                |d| {
                    let last = d["log"]
                        .as_array()
                        .and_then(|l| l.last())
                        .map(|a| match a["status"].as_i64() {
                            Some(s) => s.to_string(),
                            None => field(a, "error"),
                        })
                        .unwrap_or_else(|| "-".into());
                    let mut row = fields(d, &["created_at", "event", "state", "attempts"]);
                    row.push(last);
                    row
                },
            );
        }
    }
    Ok(())
}

/// `key=value`.
fn parse_label(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .filter(|(k, _)| !k.is_empty())
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .ok_or_else(|| format!("`{s}` is not key=value"))
}
