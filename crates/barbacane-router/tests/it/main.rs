//! Property tests of the router crate: one binary, one module per area.

mod normalize;
mod router;
