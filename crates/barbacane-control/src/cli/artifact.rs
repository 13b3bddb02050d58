//! `barbacane-control artifact list|download|inspect|sbom|attestation|delete`.

use clap::Subcommand;
use http::Method;
use std::path::PathBuf;

use super::Ctx;
use super::client::{CliError, encode};
use super::output::{field, json, table};

/// Artifact commands.
#[derive(Debug, Subcommand)]
pub enum ArtifactCmd {
    /// List artifacts, newest first.
    List {
        /// Only this project's.
        #[arg(long)]
        project: Option<String>,
    },
    /// Download the `.bca`.
    Download {
        /// Artifact id.
        id: String,
        /// Where to write it (default `<id>.bca`).
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
    /// Show an artifact's provenance: hash, build time, inputs, revisions.
    Inspect {
        /// Artifact id.
        id: String,
    },
    /// The artifact's CycloneDX 1.6 SBOM (JSON), to standard output or a file.
    Sbom {
        /// Artifact id.
        id: String,
        /// Write it here instead of standard output.
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
    /// The build's provenance attestation (a DSSE envelope), to standard output or a file;
    /// check it with `barbacane verify ARTIFACT --attestation FILE --trusted-key KEY`.
    Attestation {
        /// Artifact id.
        id: String,
        /// Write it here instead of standard output.
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
    /// Delete an artifact (refused while a deployment references it).
    Delete {
        /// Artifact id.
        id: String,
    },
}

/// Runs an artifact command.
pub async fn run(ctx: &Ctx, cmd: ArtifactCmd) -> Result<(), CliError> {
    match cmd {
        ArtifactCmd::Delete { id } => {
            ctx.client
                .send(
                    Method::DELETE,
                    &format!("/artifacts/{}", encode(&id)),
                    None,
                    Vec::new(),
                )
                .await?;
            eprintln!("artifact {id} deleted");
        }
        ArtifactCmd::List { project } => {
            let path = match project {
                Some(p) => format!("/artifacts?project_id={}", encode(&p)),
                None => "/artifacts".to_owned(),
            };
            let list = ctx.client.get(&path).await?;
            if ctx.json {
                json(&list);
            } else {
                let rows: Vec<Vec<String>> = list
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|a| {
                        vec![
                            field(a, "id"),
                            field(a, "artifact_hash"),
                            field(a, "size"),
                            field(a, "created_at"),
                        ]
                    })
                    .collect();
                table(&["ID", "ARTIFACT HASH", "SIZE", "CREATED"], &rows);
            }
        }
        ArtifactCmd::Download { id, output } => {
            let path = format!("/artifacts/{}/download", encode(&id));
            let reply = ctx
                .client
                .send(Method::GET, &path, None, Vec::new())
                .await?;
            let out = output.unwrap_or_else(|| PathBuf::from(format!("{id}.bca")));
            std::fs::write(&out, &reply.body)
                .map_err(|e| CliError::Usage(format!("cannot write {}: {e}", out.display())))?;
            if !ctx.json {
                eprintln!("wrote {} ({} bytes)", out.display(), reply.body.len());
            }
        }
        ArtifactCmd::Sbom { id, output } => {
            document(ctx, &format!("/artifacts/{}/sbom", encode(&id)), output).await?;
        }
        ArtifactCmd::Attestation { id, output } => {
            document(
                ctx,
                &format!("/artifacts/{}/attestation", encode(&id)),
                output,
            )
            .await?;
        }
        ArtifactCmd::Inspect { id } => {
            let a = ctx
                .client
                .get(&format!("/artifacts/{}", encode(&id)))
                .await?;
            if ctx.json {
                json(&a);
                return Ok(());
            }
            let h = &a["header"];
            println!("id:                {}", field(&a, "id"));
            println!("artifact_hash:     {}", field(h, "artifact_hash"));
            println!("build_timestamp:   {}", field(h, "build_timestamp"));
            println!("compiler_version:  {}", field(h, "compiler_version"));
            println!("provenance_source: {}", field(h, "provenance_source"));
            println!(
                "size:              {} bytes (sha256 {})",
                field(&a, "size"),
                field(&a, "sha256")
            );
            for r in a["built_from"].as_array().into_iter().flatten() {
                println!(
                    "built from:        spec {} revision {} ({})",
                    field(r, "spec_id"),
                    field(r, "revision"),
                    field(r, "revision_id")
                );
            }
            // Provenance pairs: the compiled revisions and registry plugin versions.
            for (key, value) in h["metadata"].as_object().into_iter().flatten() {
                println!(
                    "metadata:          {key} = {}",
                    value.as_str().unwrap_or_default()
                );
            }
            let rows: Vec<Vec<String>> = h["inputs"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|i| vec![field(i, "kind"), field(i, "name"), field(i, "sha256")])
                .collect();
            println!();
            table(&["KIND", "INPUT", "SHA256"], &rows);
        }
    }
    Ok(())
}

/// Fetches a document and writes it to `output`, or to standard output.
async fn document(ctx: &Ctx, path: &str, output: Option<PathBuf>) -> Result<(), CliError> {
    let reply = ctx.client.send(Method::GET, path, None, Vec::new()).await?;
    match output {
        Some(out) => {
            std::fs::write(&out, &reply.body)
                .map_err(|e| CliError::Usage(format!("cannot write {}: {e}", out.display())))?;
            eprintln!("wrote {} ({} bytes)", out.display(), reply.body.len());
        }
        None => {
            use std::io::Write;
            let mut stdout = std::io::stdout();
            let _ = stdout.write_all(&reply.body);
            if !reply.body.ends_with(b"\n") {
                let _ = stdout.write_all(b"\n");
            }
        }
    }
    Ok(())
}
