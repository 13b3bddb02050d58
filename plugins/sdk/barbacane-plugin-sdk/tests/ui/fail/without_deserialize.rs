use barbacane_plugin_sdk::prelude::*;

#[barbacane_middleware]
struct RateLimit {
    limit: u32,
}

impl Middleware for RateLimit {
    fn on_request(&mut self, _request: &mut Request) -> Action {
        let _ = self.limit;
        Action::Continue
    }
}

fn main() {}
