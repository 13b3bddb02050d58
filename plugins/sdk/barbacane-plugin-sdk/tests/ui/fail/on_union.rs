use barbacane_plugin_sdk::prelude::*;

#[barbacane_middleware]
union Config {
    limit: u32,
    ratio: f32,
}

fn main() {}
