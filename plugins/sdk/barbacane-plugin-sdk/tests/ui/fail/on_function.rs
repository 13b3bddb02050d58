use barbacane_plugin_sdk::prelude::*;

#[barbacane_middleware]
fn on_request(_request: &mut Request) -> Action {
    Action::Continue
}

fn main() {}
