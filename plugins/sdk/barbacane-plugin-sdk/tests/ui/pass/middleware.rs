use barbacane_plugin_sdk::prelude::*;

#[barbacane_middleware]
#[derive(serde::Deserialize)]
struct RequireHeader {
    header: String,
}

impl Middleware for RequireHeader {
    fn init(&mut self) -> Result<(), String> {
        if self.header.is_empty() {
            return Err("header must not be empty".into());
        }
        Ok(())
    }

    fn on_request(&mut self, request: &mut Request) -> Action {
        match request.header(&self.header) {
            Some(_) => Action::Continue,
            None => Action::Respond(OutgoingResponse::problem(
                400,
                "missing-header",
                "The request lacks a required header",
            )),
        }
    }

    fn on_response(&mut self, _response: &mut Response) {}
}

fn main() {}
