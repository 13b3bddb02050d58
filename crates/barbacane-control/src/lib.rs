//! The Barbacane control plane: one place that holds the specs and their history, compiles
//! them reproducibly, keeps the plugins teams may use, and hands out artifacts.
//!
//! - [`server`]: startup (posture, migrations, crash recovery, workers, listener).
//! - [`routes`]: the route table, the single list of every route (router and OpenAPI test).
//! - [`api`]: handlers, one module per resource; [`error::ApiError`] is the one error type,
//!   always answered as RFC 9457 problem+json.
//! - [`db`]: Postgres queries and the embedded migrations; [`storage`]: where artifact bytes
//!   live ([`storage::ArtifactStore`]).
//! - [`compile`]: stored files laid out exactly as on disk, compiled with
//!   `barbacane-compiler`, so `artifact_hash` matches a local `barbacane compile`.
//! - [`worker`]: the bounded compile worker pool.
//! - [`plugin`]: the plugin registry's package checks (manifest, schema, module).
//! - [`cli`]: the `barbacane-control` command line (server and API client).
//! - [`trim`]: freed heap memory handed back to the system after spec checks.
//!
//! Only this crate knows axum and sqlx.

pub mod api;
pub mod cli;
pub mod compile;
pub mod db;
pub mod drift;
pub mod error;
pub mod hub;
pub mod plugin;
pub mod posture;
pub mod routes;
pub mod secret_ref;
pub mod server;
pub mod state;
pub mod storage;
pub mod telemetry;
pub mod tls;
pub mod trim;
pub mod ui;
pub mod version;
pub mod worker;
