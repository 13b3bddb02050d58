use barbacane_plugin_sdk::prelude::*;

#[barbacane_dispatcher]
#[derive(serde::Deserialize)]
enum Mode {
    Fast,
    Slow,
}

fn main() {}
