//! `barbacane-control project create|list|show|delete`.

use clap::Subcommand;
use http::Method;
use serde_json::json;

use super::Ctx;
use super::client::{CliError, encode};
use super::output::{field, json, table};

/// Project commands.
#[derive(Debug, Subcommand)]
pub enum ProjectCmd {
    /// Create a project; prints its id.
    Create {
        /// Unique name.
        name: String,
    },
    /// List projects.
    List,
    /// Show one project.
    Show {
        /// Its id.
        id: String,
    },
    /// Delete a project with its specs, compilations and artifacts (refused while one of
    /// its artifacts is deployed).
    Delete {
        /// Its id.
        id: String,
    },
}

/// Runs a project command.
pub async fn run(ctx: &Ctx, cmd: ProjectCmd) -> Result<(), CliError> {
    match cmd {
        ProjectCmd::Show { id } => {
            let p = ctx
                .client
                .get(&format!("/projects/{}", encode(&id)))
                .await?;
            if ctx.json {
                json(&p);
            } else {
                table(
                    &["ID", "NAME", "CREATED"],
                    &[vec![
                        field(&p, "id"),
                        field(&p, "name"),
                        field(&p, "created_at"),
                    ]],
                );
            }
        }
        ProjectCmd::Delete { id } => {
            ctx.client
                .send(
                    Method::DELETE,
                    &format!("/projects/{}", encode(&id)),
                    None,
                    Vec::new(),
                )
                .await?;
            eprintln!("project {id} deleted");
        }
        ProjectCmd::Create { name } => {
            let body = json!({ "name": name }).to_string().into_bytes();
            let reply = ctx
                .client
                .send(Method::POST, "/projects", Some("application/json"), body)
                .await?
                .json()?;
            if ctx.json {
                json(&reply);
            } else {
                println!("{}", field(&reply, "id"));
            }
        }
        ProjectCmd::List => {
            let list = ctx.client.get("/projects").await?;
            if ctx.json {
                json(&list);
            } else {
                let rows: Vec<Vec<String>> = list
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|p| vec![field(p, "id"), field(p, "name"), field(p, "created_at")])
                    .collect();
                table(&["ID", "NAME", "CREATED"], &rows);
            }
        }
    }
    Ok(())
}
