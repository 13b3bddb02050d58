use barbacane_plugin_sdk::prelude::*;

#[barbacane_dispatcher]
#[derive(serde::Deserialize)]
struct Mock {
    status: u16,
}

fn main() {}
