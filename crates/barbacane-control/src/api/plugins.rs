//! `/plugins`: the registry.

use axum::Json;
use axum::extract::{Path, Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::extract::{QueryParams, media_type, multipart};
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

/// `DELETE /plugins/{name}/{version}` → 204; 409 when it is the last version of a plugin that
/// a spec's current revision uses (specs name plugins, not versions).
pub async fn delete(
    State(state): State<AppState>,
    Path((name, version)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let versions = plugins::list(state.pool(), None, Some(&name)).await?;
    if !versions.iter().any(|p| p.version == version) {
        return Err(ApiError::not_found("plugin", format!("{name}@{version}")));
    }
    if versions.len() == 1 {
        let users = specs::using_plugin(state.pool(), &name).await?;
        if !users.is_empty() {
            let names: Vec<String> = users
                .into_iter()
                .map(|(id, n)| format!("{n} ({id})"))
                .collect();
            return Err(ApiError::InUse(format!(
                "plugin `{name}` is used by spec(s) {} and {version} is its last version",
                names.join(", ")
            )));
        }
    }
    if plugins::delete(state.pool(), &name, &version).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found("plugin", format!("{name}@{version}")))
    }
}
