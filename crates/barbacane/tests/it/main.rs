//! Smoke tests that spawn the real `barbacane` binary: compile, validate, inspect, serve, dev.

mod compile;
mod dev;
mod help;
mod inspect;
mod reproducible;
mod serve;
mod support;
mod tamper;
mod validate;
