use barbacane_plugin_sdk::prelude::*;

#[barbacane_middleware]
#[derive(serde::Deserialize)]
struct Config<T> {
    value: T,
}

impl<T> Middleware for Config<T> {
    fn on_request(&mut self, _request: &mut Request) -> Action {
        Action::Continue
    }
}

fn main() {}
