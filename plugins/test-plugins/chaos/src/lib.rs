//! `chaos`: a middleware that misbehaves on purpose, for the gateway's sandbox tests. Never
//! an official plugin (the compiler does not find it by name).
//!
//! Config: `fail` (what to do: `none`, `trap`, `loop`, `hog`, `refuse`), `on` (`request` or
//! `response`, default `request`), and `remember` (bool): store the request's `x-secret`
//! header in a static on the way in, and report whatever the static held before in the
//! `x-previous-secret` response header (proves that no state survives between requests), and
//! what it stored in `x-remembered` (proves one instance serves both hooks of a request).
//! `when_header` (optional): misbehave only on requests that carry this header.

use barbacane_plugin_sdk::prelude::*;
use serde::Deserialize;
use std::cell::RefCell;

#[derive(Debug, Deserialize, Default, PartialEq, Eq, Clone, Copy)]
#[serde(rename_all = "lowercase")]
enum Fail {
    #[default]
    None,
    /// Executes `unreachable`.
    Trap,
    /// Never returns (the gateway's time limit must stop it).
    Loop,
    /// Allocates until memory runs out (past the 16 MiB limit).
    Hog,
    /// Refuses its configuration in `init`.
    Refuse,
}

#[derive(Debug, Deserialize, Default, PartialEq, Eq, Clone, Copy)]
#[serde(rename_all = "lowercase")]
enum Hook {
    #[default]
    Request,
    Response,
}

/// The configuration.
#[barbacane_middleware]
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Chaos {
    #[serde(default)]
    fail: Fail,
    #[serde(default)]
    on: Hook,
    #[serde(default)]
    remember: bool,
    #[serde(default)]
    when_header: Option<String>,
    /// Whether this request misbehaves (`when_header`).
    #[serde(skip)]
    armed: bool,
    /// What the static held when this request arrived.
    #[serde(skip)]
    previous: String,
}

thread_local! {
    static REMEMBERED: RefCell<String> = const { RefCell::new(String::new()) };
}

fn misbehave(fail: Fail) {
    match fail {
        Fail::None | Fail::Refuse => {}
        Fail::Trap => std::process::abort(),
        Fail::Loop => {
            let mut n: u64 = 0;
            loop {
                n = std::hint::black_box(n.wrapping_add(1));
            }
        }
        Fail::Hog => {
            let mut blocks: Vec<Vec<u8>> = Vec::new();
            loop {
                // Touch every block so it is really committed.
                blocks.push(vec![1u8; 1 << 20]);
                std::hint::black_box(&blocks);
            }
        }
    }
}

impl Middleware for Chaos {
    fn init(&mut self) -> Result<(), String> {
        if self.fail == Fail::Refuse {
            return Err("chaos refuses this configuration on purpose".into());
        }
        Ok(())
    }

    fn on_request(&mut self, request: &mut Request) -> Action {
        if self.remember {
            let secret = request.header("x-secret").unwrap_or_default();
            self.previous = REMEMBERED.with_borrow_mut(|r| std::mem::replace(r, secret));
        }
        self.armed = match &self.when_header {
            Some(name) => request.header(name).is_some(),
            None => true,
        };
        if self.on == Hook::Request && self.armed {
            misbehave(self.fail);
        }
        Action::Continue
    }

    fn on_response(&mut self, response: &mut Response) {
        if self.remember {
            let remembered = REMEMBERED.with_borrow(|r| r.clone());
            let _ = response.set_header("x-remembered", &remembered);
            let _ = response.set_header("x-previous-secret", &self.previous);
        }
        if self.on == Hook::Response && self.armed {
            // Change the response first: the gateway must drop this change.
            let _ = response.set_status(299);
            misbehave(self.fail);
        }
    }
}
