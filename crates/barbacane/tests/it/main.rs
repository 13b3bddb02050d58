//! Smoke tests that spawn the real `barbacane` binary: compile, validate, inspect, serve, dev.

mod admin;
mod compile;
mod connected;
mod control;
mod dev;
mod evidence;
mod help;
mod inspect;
mod module_cache;
mod posture;
mod ratelimit;
mod reload;
mod reproducible;
mod secrets;
mod serve;
mod signing;
mod standalone_drift;
mod support;
mod swap;
mod tamper;
mod tls;
mod validate;
