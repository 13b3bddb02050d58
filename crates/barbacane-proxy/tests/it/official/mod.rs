//! The official WASM plugins (and the `chaos` test plugin) inside a real gateway: compiled
//! from specs that name them, served on loopback, exercised over real HTTP.

mod auth;
mod authz;
mod cache;
mod cel;
mod chaos;
mod cors;
mod events;
mod jwt;
mod lambda;
mod middlewares;
mod oidc;
mod opa;
mod rate_limit;
mod telemetry;
mod transform;
