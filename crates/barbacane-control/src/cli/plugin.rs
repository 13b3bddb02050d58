//! `barbacane-control plugin register|list|show|delete`.

use clap::Subcommand;
use http::Method;
use std::path::{Path, PathBuf};

use super::Ctx;
use super::client::{CliError, encode, multipart};
use super::output::{field, json, table};

/// Plugin commands.
#[derive(Debug, Subcommand)]
pub enum PluginCmd {
    /// Register a plugin version from its directory (plugin.toml, the .wasm it names,
    /// config-schema.json).
    Register {
        /// The plugin directory, or its plugin.toml.
        path: PathBuf,
        /// The module, if not where plugin.toml says.
        #[arg(long)]
        wasm: Option<PathBuf>,
        /// The schema, if not `config-schema.json` beside plugin.toml.
        #[arg(long)]
        schema: Option<PathBuf>,
    },
    /// List registered versions.
    List {
        /// `middleware` or `dispatcher`.
        #[arg(long = "type")]
        kind: Option<String>,
        /// Exact name.
        #[arg(long)]
        name: Option<String>,
    },
    /// Show a plugin's versions, or one version with its schema.
    Show {
        /// Name.
        name: String,
        /// Version.
        version: Option<String>,
    },
    /// Delete a version.
    Delete {
        /// Name.
        name: String,
        /// Version.
        version: String,
    },
}

fn read(path: &Path) -> Result<Vec<u8>, CliError> {
    std::fs::read(path).map_err(|e| CliError::Usage(format!("cannot read {}: {e}", path.display())))
}

/// The `wasm = "..."` value of a plugin.toml (the server checks everything else).
fn wasm_name(manifest: &[u8]) -> Option<String> {
    barbacane_plugin_abi::PluginManifest::parse(std::str::from_utf8(manifest).ok()?)
        .ok()
        .map(|m| m.wasm)
}

fn rows(list: &serde_json::Value) -> Vec<Vec<String>> {
    list.as_array()
        .into_iter()
        .flatten()
        .map(|p| {
            vec![
                field(p, "name"),
                field(p, "version"),
                field(p, "type"),
                field(p, "capabilities"),
                field(p, "created_at"),
            ]
        })
        .collect()
}

const HEADERS: [&str; 5] = ["NAME", "VERSION", "TYPE", "CAPABILITIES", "REGISTERED"];

/// Runs a plugin command.
pub async fn run(ctx: &Ctx, cmd: PluginCmd) -> Result<(), CliError> {
    match cmd {
        PluginCmd::Register { path, wasm, schema } => {
            let manifest_path = if path.is_dir() {
                path.join("plugin.toml")
            } else {
                path
            };
            let dir = manifest_path
                .parent()
                .map(Path::to_path_buf)
                .unwrap_or_default();
            let manifest = read(&manifest_path)?;
            let wasm_path = match wasm {
                Some(w) => w,
                None => dir.join(wasm_name(&manifest).ok_or_else(|| {
                    CliError::Usage("plugin.toml has no `wasm` entry; pass --wasm".into())
                })?),
            };
            let schema_path = schema.unwrap_or_else(|| dir.join("config-schema.json"));
            let module = read(&wasm_path)?;
            let schema = read(&schema_path)?;
            let wasm_file = wasm_path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let (ct, body) = multipart(&[
                ("manifest", "plugin.toml", &manifest),
                ("wasm", &wasm_file, &module),
                ("schema", "config-schema.json", &schema),
            ]);
            let reply = ctx
                .client
                .send(Method::POST, "/plugins", Some(&ct), body)
                .await;
            let reply = match reply {
                Ok(r) => r.json()?,
                Err(CliError::Api {
                    status,
                    detail,
                    problem,
                }) => {
                    for e in problem["errors"].as_array().into_iter().flatten() {
                        eprintln!("error: {}", e.as_str().unwrap_or_default());
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
                    "registered {} {}",
                    field(&reply, "name"),
                    field(&reply, "version")
                );
            }
        }
        PluginCmd::List { kind, name } => {
            let mut query = Vec::new();
            if let Some(k) = kind {
                query.push(format!("type={}", encode(&k)));
            }
            if let Some(n) = name {
                query.push(format!("name={}", encode(&n)));
            }
            let path = if query.is_empty() {
                "/plugins".to_owned()
            } else {
                format!("/plugins?{}", query.join("&"))
            };
            let list = ctx.client.get(&path).await?;
            if ctx.json {
                json(&list);
            } else {
                table(&HEADERS, &rows(&list));
            }
        }
        PluginCmd::Show { name, version } => match version {
            None => {
                let list = ctx
                    .client
                    .get(&format!("/plugins/{}", encode(&name)))
                    .await?;
                if ctx.json {
                    json(&list);
                } else {
                    table(&HEADERS, &rows(&list));
                }
            }
            Some(v) => {
                let p = ctx
                    .client
                    .get(&format!("/plugins/{}/{}", encode(&name), encode(&v)))
                    .await?;
                if ctx.json {
                    json(&p);
                } else {
                    table(&HEADERS, &rows(&serde_json::Value::Array(vec![p.clone()])));
                    println!("\nconfig schema:");
                    json(&p["config_schema"]);
                }
            }
        },
        PluginCmd::Delete { name, version } => {
            let path = format!("/plugins/{}/{}", encode(&name), encode(&version));
            ctx.client
                .send(Method::DELETE, &path, None, Vec::new())
                .await?;
            if !ctx.json {
                println!("deleted {name} {version}");
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_the_wasm_name() {
        let text = "name = \"stamp\"\nversion = \"0.1.0\"\ntype = \"dispatcher\"\ncapabilities = [\"log\"]\nwasm = \"stamp.wasm\"\n";
        let parsed = barbacane_plugin_abi::PluginManifest::parse(text);
        assert_eq!(
            super::wasm_name(text.as_bytes()).as_deref(),
            Some("stamp.wasm"),
            "{parsed:?}"
        );
    }
}
