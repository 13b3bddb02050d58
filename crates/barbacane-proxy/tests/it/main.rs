//! Data-plane integration tests: a real gateway on loopback, real HTTP.
//!
//! Each module covers one concern; `common` holds the problem assertions and a raw HTTP/1.1
//! client for what the hyper client cannot send (malformed targets, chunked or partial bodies,
//! pipelining).

mod common;
mod front_door;
mod hot_swap;
mod limits;
mod metrics;
mod multi_spec;
mod normalization;
mod observability;
mod official;
mod otlp;
mod plugins;
mod problem_details;
mod properties;
mod protocol;
mod routing;
mod routing_real_world;
mod shutdown;
mod tls_listener;
mod upstream;
mod validation_body;
mod validation_params;
