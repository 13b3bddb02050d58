use barbacane_plugin_sdk::prelude::*;

#[barbacane_middleware]
#[derive(serde::Deserialize)]
struct RateLimit {
    limit: u32,
}

fn main() {}
