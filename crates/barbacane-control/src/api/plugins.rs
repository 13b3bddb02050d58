//! `/plugins`: the registry.

use axum::Json;
use axum::extract::{Path, Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use uuid::Uuid;

use super::extract::{QueryParams, media_type, multipart};
use crate::compile::{self, SourceFile, meets, parse_version};
use crate::db::plugins::{self, NewPlugin, Plugin};
use crate::db::specs;
use crate::error::{ApiError, is_unique_violation};
use crate::plugin::{self, Package};
use crate::state::AppState;

/// `?type=&name=` filters.
#[derive(Debug, Deserialize)]
pub struct Filter {
    /// `middleware` or `dispatcher`.
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// Exact name.
    pub name: Option<String>,
}

/// Sorts multipart parts into a package: by field name (`manifest`, `wasm`, `schema`) or by
/// file name (`plugin.toml`, `*.wasm`, `config-schema.json`).
async fn package(request: Request, state: &AppState) -> Result<Package, ApiError> {
    let media = media_type(request.headers()).unwrap_or_default();
    if media != "multipart/form-data" {
        return Err(ApiError::UnsupportedMediaType {
            got: media,
            expected: "multipart/form-data",
        });
    }
    let mut package = Package::default();
    for part in multipart(request, state).await? {
        let file = part.file_name.as_deref().unwrap_or_default();
        let slot = match (part.field.as_str(), file) {
            ("manifest", _) | (_, "plugin.toml") => &mut package.manifest,
            ("schema", _) | (_, "config-schema.json") => &mut package.schema,
            ("wasm", _) => &mut package.wasm,
            (_, f) if f.ends_with(".wasm") => &mut package.wasm,
            (field, _) => {
                return Err(ApiError::InvalidRequest(format!(
                    "unexpected part `{field}`: send plugin.toml, the .wasm and config-schema.json"
                )));
            }
        };
        if slot.replace(part.bytes.to_vec()).is_some() {
            return Err(ApiError::InvalidRequest(format!(
                "part `{}` is sent twice",
                part.field
            )));
        }
        if part.field == "wasm" || file.ends_with(".wasm") {
            package.wasm_name = part.file_name.filter(|f| !f.is_empty());
        }
    }
    Ok(package)
}

/// `POST /plugins` (multipart) → 201.
pub async fn register(
    State(state): State<AppState>,
    request: Request,
) -> Result<Response, ApiError> {
    let package = package(request, &state).await?;
    let checked = tokio::task::spawn_blocking(move || plugin::check(package))
        .await
        .map_err(|e| ApiError::Internal(format!("plugin check panicked: {e}")))?
        .map_err(|errors| ApiError::InvalidPlugin { errors })?;
    let m = &checked.manifest;
    let new = NewPlugin {
        name: m.name.clone(),
        version: m.version_string(),
        kind: m.kind.as_str().to_owned(),
        description: None,
        capabilities: m.capabilities.iter().map(|c| c.name().to_owned()).collect(),
        manifest: checked.manifest_text.clone(),
        config_schema: checked.schema.clone(),
        config_schema_raw: checked.schema_raw.clone(),
        wasm: checked.wasm.clone(),
        wasm_sha256: checked.wasm_sha256.clone(),
    };
    plugins::insert(state.pool(), &new).await.map_err(|e| {
        if is_unique_violation(&e) {
            ApiError::AlreadyExists(format!(
                "plugin `{}` version {} is already registered; versions are immutable",
                new.name, new.version
            ))
        } else {
            e.into()
        }
    })?;
    Ok((
        StatusCode::CREATED,
        [(
            header::LOCATION,
            format!("/plugins/{}/{}", new.name, new.version),
        )],
        Json(json!({
            "name": new.name,
            "version": new.version,
            "type": new.kind,
            "capabilities": new.capabilities,
            "wasm_sha256": new.wasm_sha256,
        })),
    )
        .into_response())
}

/// `GET /plugins?type=&name=`.
pub async fn list(
    State(state): State<AppState>,
    QueryParams(filter): QueryParams<Filter>,
) -> Result<Json<Vec<Plugin>>, ApiError> {
    if let Some(kind) = &filter.kind
        && kind != "middleware"
        && kind != "dispatcher"
    {
        return Err(ApiError::InvalidRequest(format!(
            "type `{kind}` is neither `middleware` nor `dispatcher`"
        )));
    }
    Ok(Json(
        plugins::list(state.pool(), filter.kind.as_deref(), filter.name.as_deref()).await?,
    ))
}

/// `GET /plugins/{name}`: every version.
pub async fn versions(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<Vec<Plugin>>, ApiError> {
    let versions = plugins::list(state.pool(), None, Some(&name)).await?;
    if versions.is_empty() {
        return Err(ApiError::not_found("plugin", name));
    }
    Ok(Json(versions))
}

/// `GET /plugins/{name}/{version}`: metadata, configuration schema and manifest.
pub async fn get(
    State(state): State<AppState>,
    Path((name, version)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let (plugin, schema, manifest) = plugins::get(state.pool(), &name, &version)
        .await?
        .ok_or_else(|| ApiError::not_found("plugin", format!("{name}@{version}")))?;
    let mut body = serde_json::to_value(&plugin)
        .map_err(|e| ApiError::Internal(format!("serialize plugin: {e}")))?;
    body["config_schema"] = schema;
    body["manifest"] = Value::String(manifest);
    Ok(Json(body))
}

/// `DELETE /plugins/{name}/{version}` → 204; 409 when a spec's current revision references the
/// plugin and no other registered version would satisfy that reference (a bare name: any
/// version; `name@^1.2`: a compatible one; `name@1.2.3`: that one).
pub async fn delete(
    State(state): State<AppState>,
    Path((name, version)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let versions = plugins::list(state.pool(), None, Some(&name)).await?;
    if !versions.iter().any(|p| p.version == version) {
        return Err(ApiError::not_found("plugin", format!("{name}@{version}")));
    }
    let remaining: Vec<(u64, u64, u64)> = versions
        .iter()
        .filter(|p| p.version != version)
        .filter_map(|p| parse_version(&p.version))
        .collect();
    let blocked = stranded(&state, &name, &remaining).await?;
    if !blocked.is_empty() {
        return Err(ApiError::InUse(format!(
            "plugin `{name}` {version} is the only registered version that satisfies {}",
            blocked.join(", ")
        )));
    }
    if plugins::delete(state.pool(), &name, &version).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found("plugin", format!("{name}@{version}")))
    }
}

/// The references to `name` in current spec revisions that none of `remaining` satisfies, as
/// `` `name@req` in spec (id)``.
async fn stranded(
    state: &AppState,
    name: &str,
    remaining: &[(u64, u64, u64)],
) -> Result<Vec<String>, ApiError> {
    let users = specs::using_plugin(state.pool(), name).await?;
    if users.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<Uuid> = users.iter().map(|u| u.revision_id).collect();
    let mut by_revision: BTreeMap<Uuid, Vec<SourceFile>> = BTreeMap::new();
    for f in specs::files(state.pool(), &ids).await? {
        by_revision
            .entry(f.revision_id)
            .or_default()
            .push(SourceFile {
                path: f.path,
                is_root: f.is_root,
                content: f.content,
            });
    }
    let name = name.to_owned();
    let remaining = remaining.to_vec();
    tokio::task::spawn_blocking(move || {
        let mut out = Vec::new();
        for user in users {
            let files = by_revision.remove(&user.revision_id).unwrap_or_default();
            // The revision is recorded as using the plugin: with no reference found in its
            // files, count it as needing some version.
            let requirements = compile::references(&files)
                .remove(&name)
                .unwrap_or_else(|| BTreeSet::from([None]));
            for requirement in requirements {
                if !remaining.iter().any(|v| meets(*v, requirement.as_deref())) {
                    let reference = match &requirement {
                        Some(r) => format!("{name}@{r}"),
                        None => name.clone(),
                    };
                    out.push(format!(
                        "`{reference}` in spec {} ({})",
                        user.name, user.spec_id
                    ));
                }
            }
        }
        out
    })
    .await
    .map_err(|e| ApiError::Internal(format!("reference check panicked: {e}")))
}
