//! `barbacane-control spec upload|update|list|show|delete|history`.

use barbacane_spec::{DocumentSet, LocalFs};
use clap::Subcommand;
use http::Method;
use serde_json::Value;
use std::path::{Path, PathBuf};

use super::Ctx;
use super::client::{CliError, encode, multipart};
use super::output::{field, json, table};

/// Spec commands.
#[derive(Debug, Subcommand)]
pub enum SpecCmd {
    /// Upload a spec with every file its `$ref`s reach (found the way the compiler finds them).
    Upload {
        /// Project id.
        #[arg(long)]
        project: String,
        /// The spec file.
        file: PathBuf,
    },
    /// Upload a new revision of a spec.
    Update {
        /// Spec id.
        id: String,
        /// The spec file.
        file: PathBuf,
        /// The revision you edited (default: the current one, i.e. overwrite).
        #[arg(long)]
        if_match: Option<i64>,
    },
    /// List specs.
    List {
        /// Only this project's.
        #[arg(long)]
        project: Option<String>,
    },
    /// Show a spec (metadata and content).
    Show {
        /// Spec id.
        id: String,
        /// A past revision.
        #[arg(long)]
        revision: Option<i64>,
    },
    /// Delete a spec and its revisions.
    Delete {
        /// Spec id.
        id: String,
    },
    /// List a spec's revisions.
    History {
        /// Spec id.
        id: String,
    },
}

/// The files to send: the spec and every file it reaches, named relative to their deepest
/// common directory (exactly the logical names a local compile gives them).
/// A local spec and its files, by logical name.
struct Files {
    root: String,
    files: Vec<(String, Vec<u8>)>,
}

fn collect(file: &Path) -> Result<Files, CliError> {
    let read = |p: &Path| {
        std::fs::read(p).map_err(|e| CliError::Usage(format!("cannot read {}: {e}", p.display())))
    };
    match DocumentSet::load(&LocalFs, &[file.to_path_buf()], &[]) {
        Ok(set) => {
            let root = set
                .roots()
                .next()
                .map(|f| f.logical.clone())
                .ok_or_else(|| CliError::Usage("no spec loaded".into()))?;
            let files = set
                .files()
                .map(|f| (f.logical.clone(), f.bytes.clone()))
                .collect();
            Ok(Files { root, files })
        }
        // Let the server report what is wrong, with every diagnostic.
        Err(_) => {
            let name = file
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .ok_or_else(|| CliError::Usage(format!("{} is not a file", file.display())))?;
            Ok(Files {
                root: name.clone(),
                files: vec![(name, read(file)?)],
            })
        }
    }
}

fn body(file: &Path) -> Result<(String, Vec<u8>), CliError> {
    let Files { root, files } = collect(file)?;
    let parts: Vec<(&str, &str, &[u8])> = files
        .iter()
        .map(|(name, bytes)| {
            let field = if *name == root { "spec" } else { "file" };
            (field, name.as_str(), bytes.as_slice())
        })
        .collect();
    Ok(multipart(&parts))
}

/// Runs a spec command.
pub async fn run(ctx: &Ctx, cmd: SpecCmd) -> Result<(), CliError> {
    match cmd {
        SpecCmd::Upload { project, file } => {
            let (ct, body) = body(&file)?;
            let path = format!("/projects/{}/specs", encode(&project));
            let reply = ctx.client.send(Method::POST, &path, Some(&ct), body).await;
            written(ctx, reply)
        }
        SpecCmd::Update { id, file, if_match } => {
            let revision = match if_match {
                Some(r) => r,
                None => ctx.client.get(&format!("/specs/{}", encode(&id))).await?["revision"]
                    .as_i64()
                    .unwrap_or(0),
            };
            let (ct, body) = body(&file)?;
            let reply = ctx
                .client
                .send_with_if_match(&format!("/specs/{}", encode(&id)), &ct, body, revision)
                .await;
            written(ctx, reply)
        }
        SpecCmd::List { project } => {
            let path = match project {
                Some(p) => format!("/specs?project_id={}", encode(&p)),
                None => "/specs".to_owned(),
            };
            let list = ctx.client.get(&path).await?;
            if ctx.json {
                json(&list);
            } else {
                let rows: Vec<Vec<String>> = list
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|s| {
                        vec![
                            field(s, "id"),
                            field(s, "name"),
                            field(s, "revision"),
                            field(s, "project_id"),
                            field(s, "updated_at"),
                        ]
                    })
                    .collect();
                table(&["ID", "NAME", "REVISION", "PROJECT", "UPDATED"], &rows);
            }
            Ok(())
        }
        SpecCmd::Show { id, revision } => {
            let mut path = format!("/specs/{}", encode(&id));
            if let Some(r) = revision {
                path.push_str(&format!("?revision={r}"));
            }
            let spec = ctx.client.get(&path).await?;
            if ctx.json {
                json(&spec);
            } else {
                show(&spec);
            }
            Ok(())
        }
        SpecCmd::Delete { id } => {
            let path = format!("/specs/{}", encode(&id));
            ctx.client
                .send(Method::DELETE, &path, None, Vec::new())
                .await?;
            if !ctx.json {
                println!("deleted spec {id}");
            }
            Ok(())
        }
        SpecCmd::History { id } => {
            let list = ctx
                .client
                .get(&format!("/specs/{}/history", encode(&id)))
                .await?;
            if ctx.json {
                json(&list);
            } else {
                let rows: Vec<Vec<String>> = list
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|r| {
                        let files = r["files"].as_array().map_or(0, Vec::len);
                        vec![
                            field(r, "revision"),
                            field(r, "id"),
                            files.to_string(),
                            field(r, "created_at"),
                        ]
                    })
                    .collect();
                table(&["REVISION", "REVISION ID", "FILES", "CREATED"], &rows);
            }
            Ok(())
        }
    }
}

fn written(ctx: &Ctx, reply: Result<super::client::Reply, CliError>) -> Result<(), CliError> {
    let reply = match reply {
        Ok(r) => r.json()?,
        Err(CliError::Api {
            status,
            detail,
            problem,
        }) => {
            if let Some(errors) = problem.get("errors") {
                super::output::diagnostics(errors);
            }
            return Err(CliError::Api {
                status,
                detail,
                problem,
            });
        }
        Err(e) => return Err(e),
    };
    if ctx.json {
        json(&reply);
    } else {
        println!(
            "{} revision {}",
            field(&reply, "id"),
            field(&reply, "revision")
        );
        if let Some(w) = reply.get("warnings") {
            super::output::diagnostics(w);
        }
    }
    Ok(())
}

fn show(spec: &Value) {
    println!("id:        {}", field(spec, "id"));
    println!("name:      {}", field(spec, "name"));
    println!("project:   {}", field(spec, "project_id"));
    println!(
        "revision:  {} (current {})",
        field(spec, "revision"),
        field(spec, "current_revision")
    );
    println!("updated:   {}", field(spec, "updated_at"));
    for f in spec["files"].as_array().into_iter().flatten() {
        println!(
            "file:      {}  sha256:{}",
            field(f, "path"),
            field(f, "sha256")
        );
    }
    println!();
    print!("{}", spec["content"].as_str().unwrap_or_default());
}
