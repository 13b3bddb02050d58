//! The request phases, in the order the pipeline runs them.

pub(crate) mod finish;
pub(crate) mod limits;
pub(crate) mod middleware;
pub(crate) mod preflight;
pub(crate) mod route;
pub(crate) mod validate;
