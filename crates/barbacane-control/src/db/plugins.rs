//! `plugins`: the registry.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use sqlx::{AssertSqlSafe, FromRow, PgPool};

/// A registered plugin version, without its binary.
#[derive(Debug, Clone, Serialize, FromRow)]
pub struct Plugin {
    /// Name.
    pub name: String,
    /// Semantic version.
    pub version: String,
    /// `middleware` or `dispatcher`.
    #[sqlx(rename = "plugin_type")]
    #[serde(rename = "type")]
    pub kind: String,
    /// Free text.
    pub description: Option<String>,
    /// Declared capabilities (host functions it may import).
    pub capabilities: Vec<String>,
    /// SHA-256 of the `.wasm`.
    pub wasm_sha256: String,
    /// Size of the `.wasm` in bytes.
    pub wasm_size: i32,
    /// When it was registered.
    pub created_at: DateTime<Utc>,
}

/// A plugin version to store.
#[derive(Debug, Clone)]
pub struct NewPlugin {
    /// Name.
    pub name: String,
    /// Semantic version (normalized).
    pub version: String,
    /// `middleware` or `dispatcher`.
    pub kind: String,
    /// Free text.
    pub description: Option<String>,
    /// Declared capabilities.
    pub capabilities: Vec<String>,
    /// The `plugin.toml` text.
    pub manifest: String,
    /// The configuration schema.
    pub config_schema: Value,
    /// `config-schema.json` as uploaded (laid out byte for byte for compilations).
    pub config_schema_raw: Vec<u8>,
    /// The binary.
    pub wasm: Vec<u8>,
    /// Its SHA-256.
    pub wasm_sha256: String,
}

const COLUMNS: &str = "name, version, plugin_type, description, capabilities, wasm_sha256, \
                       octet_length(wasm) AS wasm_size, created_at";

/// Stores a version; a duplicate `(name, version)` is a unique violation.
pub async fn insert(pool: &PgPool, p: &NewPlugin) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO plugins (name, version, plugin_type, description, capabilities, manifest, \
         config_schema, config_schema_raw, wasm, wasm_sha256) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(&p.name)
    .bind(&p.version)
    .bind(&p.kind)
    .bind(&p.description)
    .bind(&p.capabilities)
    .bind(&p.manifest)
    .bind(&p.config_schema)
    .bind(&p.config_schema_raw)
    .bind(&p.wasm)
    .bind(&p.wasm_sha256)
    .execute(pool)
    .await
    .map(|_| ())
}

/// Versions, filtered by type and name when given, by name then registration order.
pub async fn list(
    pool: &PgPool,
    kind: Option<&str>,
    name: Option<&str>,
) -> Result<Vec<Plugin>, sqlx::Error> {
    sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM plugins \
         WHERE ($1::TEXT IS NULL OR plugin_type = $1) AND ($2::TEXT IS NULL OR name = $2) \
         ORDER BY name, created_at, version"
    )))
    .bind(kind)
    .bind(name)
    .fetch_all(pool)
    .await
}

#[derive(FromRow)]
struct WithSchema {
    #[sqlx(flatten)]
    plugin: Plugin,
    config_schema: Value,
    manifest: String,
}

/// One version with its configuration schema and manifest text.
pub async fn get(
    pool: &PgPool,
    name: &str,
    version: &str,
) -> Result<Option<(Plugin, Value, String)>, sqlx::Error> {
    let row: Option<WithSchema> = sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {COLUMNS}, config_schema, manifest FROM plugins WHERE name = $1 AND version = $2"
    )))
    .bind(name)
    .bind(version)
    .fetch_optional(pool)
    .await?;
    Ok(row.map(|r| (r.plugin, r.config_schema, r.manifest)))
}

/// A version's binary.
pub async fn wasm(
    pool: &PgPool,
    name: &str,
    version: &str,
) -> Result<Option<Vec<u8>>, sqlx::Error> {
    sqlx::query_scalar("SELECT wasm FROM plugins WHERE name = $1 AND version = $2")
        .bind(name)
        .bind(version)
        .fetch_optional(pool)
        .await
}

/// `(name, version)` of every registered version of these names.
pub async fn versions_of(
    pool: &PgPool,
    names: &[String],
) -> Result<Vec<(String, String)>, sqlx::Error> {
    sqlx::query_as("SELECT name, version FROM plugins WHERE name = ANY($1) ORDER BY name, version")
        .bind(names)
        .fetch_all(pool)
        .await
}

/// What a compilation needs of a version: its files as registered.
#[derive(Debug, Clone, FromRow)]
pub struct Files {
    /// `plugin.toml` text.
    pub manifest: String,
    /// The module.
    pub wasm: Vec<u8>,
    /// The configuration schema.
    pub config_schema: Value,
    /// `config-schema.json` as uploaded (`None` for versions registered before it was kept).
    pub config_schema_raw: Option<Vec<u8>>,
}

/// A version's files.
pub async fn files(pool: &PgPool, name: &str, version: &str) -> Result<Option<Files>, sqlx::Error> {
    sqlx::query_as(
        "SELECT manifest, wasm, config_schema, config_schema_raw FROM plugins \
         WHERE name = $1 AND version = $2",
    )
    .bind(name)
    .bind(version)
    .fetch_optional(pool)
    .await
}

/// Deletes a version; returns whether it existed.
pub async fn delete(pool: &PgPool, name: &str, version: &str) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("DELETE FROM plugins WHERE name = $1 AND version = $2")
        .bind(name)
        .bind(version)
        .execute(pool)
        .await?;
    Ok(done.rows_affected() == 1)
}
