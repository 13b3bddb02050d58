//! `mock`: answers every request with a fixed response taken from its configuration.
//!
//! Config: `status` (200), `body` (""), `content_type` (`application/json`), `headers`
//! (name to value). The response depends on nothing but the configuration, so the gateway
//! runs this plugin once per configuration at load time and serves the result (see
//! "Constant dispatchers" in docs/plugin-abi.md).

use barbacane_plugin_sdk::prelude::*;
use serde::Deserialize;
use std::collections::BTreeMap;

/// The configuration of one use.
#[barbacane_dispatcher]
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mock {
    #[serde(default = "default_status")]
    status: u16,
    #[serde(default)]
    body: String,
    #[serde(default = "default_content_type")]
    content_type: String,
    #[serde(default)]
    headers: BTreeMap<String, String>,
}

fn default_status() -> u16 {
    200
}

fn default_content_type() -> String {
    "application/json".into()
}

impl Dispatcher for Mock {
    fn init(&mut self) -> Result<(), String> {
        if !(100..=599).contains(&self.status) {
            return Err(format!("status {} is not between 100 and 599", self.status));
        }
        Ok(())
    }

    fn dispatch(&mut self, _request: &mut Request) -> OutgoingResponse {
        let mut response = OutgoingResponse::new(self.status)
            .header("content-type", self.content_type.as_str())
            .body(self.body.clone());
        for (name, value) in &self.headers {
            response = response.header(name.as_str(), value.as_str());
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use barbacane_plugin_sdk::testing::{FakeHost, dispatcher_from};
    use serde_json::json;

    #[test]
    fn defaults_are_an_empty_json_200() {
        let mut mock: Mock = dispatcher_from(&json!({})).unwrap();
        let r = FakeHost::new().dispatch(&mut mock);
        assert_eq!(r.status, 200);
        assert_eq!(
            r.headers,
            vec![("content-type".into(), "application/json".into())]
        );
        assert!(r.body.is_empty());
    }

    #[test]
    fn every_key_is_used() {
        let mut mock: Mock = dispatcher_from(&json!({
            "status": 418,
            "body": "short and stout",
            "content_type": "text/plain",
            "headers": {"x-teapot": "yes", "cache-control": "no-store"}
        }))
        .unwrap();
        let r = FakeHost::new().dispatch(&mut mock);
        assert_eq!(r.status, 418);
        assert_eq!(r.body, b"short and stout");
        assert!(
            r.headers
                .contains(&("content-type".into(), "text/plain".into()))
        );
        assert!(r.headers.contains(&("x-teapot".into(), "yes".into())));
        assert!(
            r.headers
                .contains(&("cache-control".into(), "no-store".into()))
        );
    }

    #[test]
    fn one_instance_answers_the_same_to_every_request() {
        // Instances are reused across requests: dispatching must not consume the config.
        let mut mock: Mock = dispatcher_from(&json!({"body": "{\"id\":1}"})).unwrap();
        let mut host = FakeHost::new();
        let first = host.dispatch(&mut mock);
        let second = host.dispatch(&mut mock);
        assert_eq!(first.body, b"{\"id\":1}");
        assert_eq!(second.body, first.body);
    }

    #[test]
    fn bad_configurations_are_refused_with_a_reason() {
        let _host = FakeHost::new();
        let err = dispatcher_from::<Mock>(&json!({"status": 700})).unwrap_err();
        assert!(err.contains("700"), "{err}");
        let err = dispatcher_from::<Mock>(&json!({"stauts": 201})).unwrap_err();
        assert!(err.contains("stauts"), "{err}");
        let err = dispatcher_from::<Mock>(&json!({"status": "201"})).unwrap_err();
        assert!(err.contains("invalid configuration"), "{err}");
    }
}
