//! HashiCorp Vault, KV secrets engine version 2: `GET <VAULT_ADDR>/v1/<mount>/data/<path>`
//! with `X-Vault-Token` (and `X-Vault-Namespace` for Vault Enterprise namespaces); the value
//! is the field of `.data.data`.

use barbacane_wasm::{HttpClient, OutboundRequest};
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, StatusCode};
use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};

use super::{Settings, field};

/// Characters escaped in a path segment (RFC 3986 `pchar` minus what Vault reads as syntax).
const SEGMENT: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'`')
    .add(b'{')
    .add(b'}');

pub(super) async fn resolve(
    client: &dyn HttpClient,
    settings: &Settings,
    mount: &str,
    path: &str,
    key: &str,
) -> Result<Vec<u8>, String> {
    let addr = settings
        .vault_addr
        .as_deref()
        .ok_or("VAULT_ADDR is not set")?;
    let token = settings
        .vault_token
        .as_deref()
        .ok_or("VAULT_TOKEN is not set")?;
    let encoded: Vec<String> = std::iter::once(mount)
        .chain(std::iter::once("data"))
        .chain(path.split('/'))
        .map(|s| utf8_percent_encode(s, SEGMENT).to_string())
        .collect();
    let url = format!("{}/v1/{}", addr.trim_end_matches('/'), encoded.join("/"));
    let uri = url
        .parse()
        .map_err(|e| format!("VAULT_ADDR does not make a URL ({e})"))?;
    let mut headers = HeaderMap::new();
    let mut token =
        HeaderValue::from_str(token).map_err(|_| "VAULT_TOKEN is not a valid header value")?;
    token.set_sensitive(true);
    headers.insert("x-vault-token", token);
    if let Some(ns) = &settings.vault_namespace {
        headers.insert(
            "x-vault-namespace",
            HeaderValue::from_str(ns).map_err(|_| "VAULT_NAMESPACE is not a valid header value")?,
        );
    }
    let response = client
        .send(OutboundRequest {
            method: Method::GET,
            uri,
            headers,
            body: Bytes::new(),
            timeout: settings.timeout,
        })
        .await
        .map_err(|e| format!("Vault at {addr}: {}", e.message()))?;
    let body: serde_json::Value = serde_json::from_slice(&response.body).unwrap_or_default();
    match response.status {
        StatusCode::OK => {}
        StatusCode::NOT_FOUND => {
            return Err(format!("Vault has no secret `{mount}/{path}` (404)"));
        }
        StatusCode::FORBIDDEN => {
            return Err("Vault refused the token (403 permission denied)".to_owned());
        }
        status => return Err(format!("Vault answered {status}{}", errors(&body))),
    }
    let data = body
        .pointer("/data/data")
        .ok_or("Vault's answer has no `data.data` (is the mount a KV version 2 engine?)")?;
    field(data, key)
}

/// Vault's `errors` array, when it sent one (messages, never secret values).
fn errors(body: &serde_json::Value) -> String {
    match body.get("errors").and_then(|e| e.as_array()) {
        Some(list) if !list.is_empty() => {
            let texts: Vec<&str> = list.iter().filter_map(|e| e.as_str()).collect();
            format!(": {}", texts.join("; "))
        }
        _ => String::new(),
    }
}
