//! Integration tests of the control plane, against the real Postgres of the machine (one
//! database per test).

mod api_keys;
mod artifacts;
mod cli;
mod compile;
mod data_planes;
mod deployments;
mod drift;
mod drift_converge;
mod drift_standalone;
mod evidence;
mod faults;
mod health;
mod hostile_input;
mod openapi;
mod plugins;
mod projects;
mod replicas;
mod schemathesis;
mod specs;
mod support;
mod tls;
mod ui;
mod ui_browser;
mod versioning;
