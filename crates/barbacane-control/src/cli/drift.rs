//! `barbacane-control drift status|findings|propose|approve|reject`.

use clap::Subcommand;
use serde_json::Value;

use super::Ctx;
use super::client::{CliError, encode};
use super::output::{field, json, listing, table};

/// Drift commands.
#[derive(Debug, Subcommand)]
pub enum DriftCmd {
    /// Each node's sync and health axes and open findings. With `--exit-code`: 0 when every
    /// node is Synced with no open finding, 2 when drift is present, 1 on error (like
    /// `terraform plan -detailed-exitcode`).
    Status {
        /// Only this project (default: every project).
        #[arg(long)]
        project: Option<String>,
        /// Exit 2 when drift is present.
        #[arg(long)]
        exit_code: bool,
    },
    /// Findings, newest first.
    Findings {
        /// Only this project.
        #[arg(long)]
        project: Option<String>,
        /// Only findings open (at `--at`).
        #[arg(long)]
        open: bool,
        /// As they stood at this time (RFC 3339).
        #[arg(long)]
        at: Option<String>,
    },
    /// Propose a remediation for an open finding; prints its dry run (what would change).
    /// Nothing changes until someone approves it.
    Propose {
        /// The finding's id.
        finding: String,
        /// Who proposes.
        #[arg(long)]
        by: Option<String>,
    },
    /// Approve a remediation: recorded with your name, then a connected node is sent the
    /// desired artifact (a standalone node gets the exact manual commands).
    Approve {
        /// The remediation's id.
        remediation: String,
        /// Who approves (recorded).
        #[arg(long)]
        by: String,
        /// Why.
        #[arg(long, default_value = "")]
        comment: String,
    },
    /// Reject a remediation (recorded; nothing changes).
    Reject {
        /// The remediation's id.
        remediation: String,
        /// Who rejects (recorded; default: the admin token's fingerprint).
        #[arg(long)]
        by: Option<String>,
        /// Why.
        #[arg(long, default_value = "")]
        comment: String,
    },
}

/// Runs a drift command.
pub async fn run(ctx: &Ctx, cmd: DriftCmd) -> Result<(), CliError> {
    match cmd {
        DriftCmd::Status { project, exit_code } => {
            let projects: Vec<String> = match project {
                Some(p) => vec![p],
                None => ctx
                    .client
                    .get("/projects")
                    .await?
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|p| field(p, "id"))
                    .collect(),
            };
            let mut nodes = Vec::new();
            let mut open = Vec::new();
            for p in &projects {
                let list = ctx
                    .client
                    .get(&format!("/projects/{p}/data-planes"))
                    .await?;
                nodes.extend(list.as_array().cloned().unwrap_or_default());
                let findings = ctx
                    .client
                    .get(&format!("/drift/findings?project={p}&open=true"))
                    .await?;
                open.extend(findings.as_array().cloned().unwrap_or_default());
            }
            let drifted = !open.is_empty() || nodes.iter().any(|n| n["sync"] != "Synced");
            if ctx.json {
                json(&serde_json::json!({"drift": drifted, "nodes": nodes, "open_findings": open}));
            } else {
                let rows: Vec<Vec<String>> = nodes
                    .iter()
                    .map(|n| {
                        let id = n["id"].clone();
                        let kinds: Vec<String> = open
                            .iter()
                            .filter(|f| f["data_plane_id"] == id)
                            .map(|f| field(f, "kind"))
                            .collect();
                        vec![
                            field(n, "name"),
                            field(n, "status"),
                            field(n, "sync"),
                            field(n, "health"),
                            short(&n["artifact_hash"]),
                            if kinds.is_empty() {
                                "-".into()
                            } else {
                                kinds.join(",")
                            },
                        ]
                    })
                    .collect();
                table(
                    &[
                        "NODE",
                        "STATUS",
                        "SYNC",
                        "HEALTH",
                        "ARTIFACT",
                        "OPEN FINDINGS",
                    ],
                    &rows,
                );
            }
            if exit_code && drifted {
                return Err(CliError::DriftPresent);
            }
        }
        DriftCmd::Findings { project, open, at } => {
            let mut query = Vec::new();
            if let Some(p) = project {
                query.push(format!("project={p}"));
            }
            if open {
                query.push("open=true".into());
            }
            if let Some(at) = at {
                query.push(format!("at={}", at.replace(':', "%3A").replace('+', "%2B")));
            }
            let list = ctx
                .client
                .get(&format!("/drift/findings?{}", query.join("&")))
                .await?;
            listing(
                ctx.json,
                &list,
                &[
                    "NODE",
                    "KIND",
                    "DESIRED",
                    "OBSERVED",
                    "FIRST SEEN",
                    "RESOLVED",
                ],
                |f| {
                    vec![
                        field(f, "data_plane"),
                        field(f, "kind"),
                        short(&f["desired_hash"]),
                        short(&f["observed_hash"]),
                        field(f, "first_seen"),
                        field(f, "resolved_at"),
                    ]
                },
            );
        }
        DriftCmd::Propose { finding, by } => {
            let body = match by {
                Some(by) => serde_json::json!({"proposed_by": by}),
                None => serde_json::json!({}),
            };
            let r = ctx
                .client
                .post_json(
                    &format!("/drift/findings/{}/remediations", encode(&finding)),
                    &body,
                )
                .await?;
            remediation(ctx, &r);
        }
        DriftCmd::Approve {
            remediation: id,
            by,
            comment,
        } => {
            let body = serde_json::json!({"approved_by": by, "comment": comment});
            let r = ctx
                .client
                .post_json(&format!("/remediations/{}/approve", encode(&id)), &body)
                .await?;
            remediation(ctx, &r);
        }
        DriftCmd::Reject {
            remediation: id,
            by,
            comment,
        } => {
            let mut body = serde_json::json!({"comment": comment});
            if let Some(by) = by {
                body["rejected_by"] = serde_json::Value::String(by);
            }
            let r = ctx
                .client
                .post_json(&format!("/remediations/{}/reject", encode(&id)), &body)
                .await?;
            remediation(ctx, &r);
        }
    }
    Ok(())
}

/// Prints a remediation: its dry run, and what its decision did.
fn remediation(ctx: &Ctx, r: &Value) {
    if ctx.json {
        json(r);
        return;
    }
    let d = &r["dry_run"];
    println!("remediation {} ({})", field(r, "id"), field(r, "state"));
    println!(
        "  node      {} ({})",
        field(&d["node"], "name"),
        field(&d["node"], "mode")
    );
    println!("  finding   {}", field(&d["finding"], "kind"));
    println!("  from      {}", field(&d["from"], "artifact_hash"));
    println!("  to        {}", field(&d["to"], "artifact_hash"));
    println!("  action    {}", field(d, "action"));
    let changes = &d["changes"];
    if let Some(why) = changes["unknown"].as_str() {
        println!("  changes   unknown: {why}");
    } else {
        for what in ["routes", "plugins"] {
            for how in ["added", "removed", "changed"] {
                for item in changes[what][how].as_array().into_iter().flatten() {
                    println!("  {what:<9} {how:<8} {}", item.as_str().unwrap_or_default());
                }
            }
        }
    }
    if let Some(outcome) = r["outcome"].as_object() {
        println!(
            "  decided   {} by {}",
            field(r, "state"),
            field(r, "decided_by")
        );
        match outcome.get("action").and_then(Value::as_str) {
            Some("deployed") => println!(
                "  deployed  deployment {}",
                outcome
                    .get("deployment_id")
                    .and_then(Value::as_str)
                    .unwrap_or("-")
            ),
            Some("manual_action_required") => {
                println!("  manual action required:");
                for c in outcome
                    .get("commands")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    println!("    {}", c.as_str().unwrap_or_default());
                }
            }
            _ => {}
        }
    }
}

/// `sha256:0123456789ab…` for tables.
fn short(hash: &Value) -> String {
    match hash.as_str() {
        Some(h) if h.len() > 19 => format!("{}…", &h[..19]),
        Some(h) => h.to_owned(),
        None => "-".into(),
    }
}
