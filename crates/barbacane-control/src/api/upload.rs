//! Turning a spec upload (a raw YAML/JSON body, or a multipart form with the spec and the
//! files its `$ref`s reach) into the files of a revision.

use axum::extract::{FromRequest, Request};
use std::collections::BTreeSet;

use super::extract::{Body, is_json, media_type, multipart};
use crate::compile::{SourceFile, valid_path};
use crate::error::ApiError;
use crate::state::AppState;

/// Media types accepted for a raw spec body.
const SPEC_TYPES: &str = "application/yaml, application/json or multipart/form-data";

/// An upload's root name and files (the root first).
#[derive(Debug)]
pub struct SpecUpload {
    /// The root spec's path.
    pub name: String,
    /// Every file, the root first.
    pub files: Vec<SourceFile>,
}

fn is_yaml(media: &str) -> bool {
    matches!(
        media,
        "application/yaml" | "application/x-yaml" | "text/yaml" | "text/x-yaml"
    ) || (media.starts_with("application/") && media.ends_with("+yaml"))
}

/// Reads an upload. `name` is the `?name=` parameter: required for a raw body; for multipart
/// it overrides the `spec` part's file name.
pub async fn read(
    request: Request,
    state: &AppState,
    name: Option<String>,
) -> Result<SpecUpload, ApiError> {
    let media = media_type(request.headers()).unwrap_or_default();
    if media == "multipart/form-data" {
        return from_parts(request, state, name).await;
    }
    if !is_json(&media) && !is_yaml(&media) {
        return Err(ApiError::UnsupportedMediaType {
            got: media,
            expected: SPEC_TYPES,
        });
    }
    let name = name.ok_or_else(|| {
        ApiError::InvalidRequest("give the spec's file name with `?name=FILE`".into())
    })?;
    valid_path(&name).map_err(ApiError::InvalidRequest)?;
    let Body(bytes) = Body::from_request(request, state).await?;
    Ok(SpecUpload {
        files: vec![SourceFile {
            path: name.clone(),
            is_root: true,
            content: bytes.to_vec(),
        }],
        name,
    })
}

/// Multipart form: exactly one part named `spec` (the root document) and any number of parts
/// named `file` (files reached through `$ref`), each with a file name that is its path
/// relative to the project root.
async fn from_parts(
    request: Request,
    state: &AppState,
    name: Option<String>,
) -> Result<SpecUpload, ApiError> {
    from_form_parts(multipart(request, state).await?, name)
}

/// The parts of a multipart upload (`spec` once, `file` any number of times) as an upload;
/// `name` overrides the `spec` part's file name.
pub fn from_form_parts(
    parts: Vec<super::extract::Part>,
    name: Option<String>,
) -> Result<SpecUpload, ApiError> {
    let mut root: Option<SourceFile> = None;
    let mut others = Vec::new();
    let mut paths = BTreeSet::new();
    for part in parts {
        let is_root = match part.field.as_str() {
            "spec" => true,
            "file" => false,
            other => {
                return Err(ApiError::InvalidRequest(format!(
                    "unexpected form field `{other}`: send `spec` (once) and `file` parts"
                )));
            }
        };
        let path = match (is_root, &name, part.file_name) {
            (true, Some(n), _) => n.clone(),
            (_, _, Some(f)) => f,
            (_, _, None) => {
                return Err(ApiError::InvalidRequest(format!(
                    "the `{}` part needs a file name (its path relative to the project root)",
                    part.field
                )));
            }
        };
        valid_path(&path).map_err(ApiError::InvalidRequest)?;
        if !paths.insert(path.clone()) {
            return Err(ApiError::InvalidRequest(format!("`{path}` is sent twice")));
        }
        let file = SourceFile {
            path,
            is_root,
            content: part.bytes.to_vec(),
        };
        if !is_root {
            others.push(file);
        } else if root.replace(file).is_some() {
            return Err(ApiError::InvalidRequest(
                "send exactly one `spec` part".into(),
            ));
        }
    }
    let root = root.ok_or_else(|| ApiError::InvalidRequest("no `spec` part".into()))?;
    let name = root.path.clone();
    let mut files = vec![root];
    files.extend(others);
    Ok(SpecUpload { name, files })
}
