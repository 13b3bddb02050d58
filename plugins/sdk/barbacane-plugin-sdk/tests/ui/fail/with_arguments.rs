use barbacane_plugin_sdk::prelude::*;

#[barbacane_middleware(name = "rate-limit")]
#[derive(serde::Deserialize)]
struct RateLimit {
    limit: u32,
}

impl Middleware for RateLimit {
    fn on_request(&mut self, _request: &mut Request) -> Action {
        Action::Continue
    }
}

fn main() {}
