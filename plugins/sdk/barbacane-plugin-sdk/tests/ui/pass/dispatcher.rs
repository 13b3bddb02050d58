use barbacane_plugin_sdk::prelude::*;

#[barbacane_dispatcher]
#[derive(serde::Deserialize)]
struct Fixed {
    #[serde(default = "default_status")]
    status: u16,
}

fn default_status() -> u16 {
    200
}

impl Dispatcher for Fixed {
    fn dispatch(&mut self, _request: &mut Request) -> OutgoingResponse {
        OutgoingResponse::problem(self.status, "fixed", "A fixed answer")
    }
}

fn main() {}
