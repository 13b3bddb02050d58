//! `barbacane-control compile --spec-id ID [--wait]` (or `--project-id`).

use clap::Args;
use http::Method;
use std::time::Duration;

use super::Ctx;
use super::client::{CliError, encode};
use super::output::{diagnostics, field, json};

/// `compile` flags.
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("target").required(true).args(["spec_id", "project_id"])))]
pub struct CompileArgs {
    /// Compile this spec's current revision.
    #[arg(long)]
    pub spec_id: Option<String>,
    /// Compile every spec of this project into one artifact.
    #[arg(long)]
    pub project_id: Option<String>,
    /// Wait for the result (progress on stderr); exit 1 if it fails.
    #[arg(long)]
    pub wait: bool,
    /// Give up waiting after this many seconds.
    #[arg(long, default_value_t = 600)]
    pub timeout: u64,
}

/// Queues a compilation, and with `--wait` polls it to the end.
pub async fn run(ctx: &Ctx, args: CompileArgs) -> Result<(), CliError> {
    let path = match (&args.spec_id, &args.project_id) {
        (Some(spec), _) => format!("/specs/{}/compile", encode(spec)),
        (None, Some(project)) => format!("/projects/{}/compile", encode(project)),
        (None, None) => return Err(CliError::Usage("give --spec-id or --project-id".into())),
    };
    let queued = ctx
        .client
        .send(Method::POST, &path, None, Vec::new())
        .await?
        .json()?;
    let id = field(&queued, "id");
    if !args.wait {
        if ctx.json {
            json(&queued);
        } else {
            println!("{id}");
        }
        return Ok(());
    }
    eprintln!("compilation {id}: pending");
    let mut last = "pending".to_owned();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(args.timeout);
    let mut delay = Duration::from_millis(100);
    loop {
        let c = ctx
            .client
            .get(&format!("/compilations/{}", encode(&id)))
            .await?;
        let status = field(&c, "status");
        if status != last {
            eprintln!("compilation {id}: {status}");
            last.clone_from(&status);
        }
        match status.as_str() {
            "succeeded" => {
                if ctx.json {
                    json(&c);
                } else {
                    diagnostics(&c["diagnostics"]);
                    println!("{}", field(&c, "artifact_id"));
                }
                return Ok(());
            }
            "failed" => {
                if ctx.json {
                    json(&c);
                } else {
                    diagnostics(&c["diagnostics"]);
                }
                return Err(CliError::CompilationFailed);
            }
            _ => {}
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(CliError::TimedOut(format!(
                "compilation {id} still {status} after {}s (it goes on; check it with `compilation show {id}`)",
                args.timeout
            )));
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(2));
    }
}

/// Compilation commands.
#[derive(Debug, clap::Subcommand)]
pub enum CompilationCmd {
    /// A compilation's status, artifact and diagnostics.
    Show {
        /// Its id (printed by `compile`).
        id: String,
    },
}

/// Runs a compilation command.
pub async fn show(ctx: &Ctx, cmd: CompilationCmd) -> Result<(), CliError> {
    let CompilationCmd::Show { id } = cmd;
    let c = ctx
        .client
        .get(&format!("/compilations/{}", encode(&id)))
        .await?;
    if ctx.json {
        json(&c);
        return Ok(());
    }
    println!(
        "compilation {} {} (attempts {}){}",
        field(&c, "id"),
        field(&c, "status"),
        field(&c, "attempts"),
        match c["artifact_id"].as_str() {
            Some(a) => format!(", artifact {a}"),
            None => String::new(),
        }
    );
    diagnostics(&c["diagnostics"]);
    if c["status"] == "failed" {
        return Err(CliError::CompilationFailed);
    }
    Ok(())
}
