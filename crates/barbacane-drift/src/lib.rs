//! Drift detection's *diff* step, as pure functions over plain data (no I/O, no clock, no
//! database), so that property tests can drive it (seed 004: observe, diff and converge are
//! separate; only the diff decides, and it decides the same way every time).
//!
//! - [`diff`]: one node's desired state and latest observation -> its two axes (sync,
//!   health, as Argo CD shows them) and the findings that hold now.
//! - [`transitions`]: the findings open before and those that hold now -> which open and
//!   which resolve (level-triggered: each pass re-derives everything from the last
//!   observation, so a crash between passes loses nothing).
//!
//! Observing (polling nodes, reading heartbeats) and converging (human-approved
//! remediations) live elsewhere; they feed this crate and act on its answer.
#![deny(missing_docs)]
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

mod diff;
mod model;

pub use diff::{diff, transitions};
pub use model::{
    Assessment, Desired, Finding, FindingKind, Health, Known, Observed, SignatureState, Sync,
};
