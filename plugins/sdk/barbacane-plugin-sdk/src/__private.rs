//! What the macros expand to. Not part of the API: names here may change in any release.

pub use serde;

use crate::host::{self, Side};
use crate::{Action, Dispatcher, Middleware, OutgoingResponse, Request, Response};

/// The ABI version the SDK implements (`barbacane_abi_version`).
pub const ABI_VERSION: i32 = 1;

/// Return code for a hook called before a successful `init` (the host treats it as a
/// failure: it is not an ABI action).
const NOT_INITIALIZED: i32 = 2;

/// Parses the configuration into `slot`; on error, the message goes to `set_output`.
pub fn init_from<T>(
    slot: &mut Option<T>,
    config: &[u8],
    check: fn(&mut T) -> Result<(), String>,
) -> i32
where
    T: serde::de::DeserializeOwned,
{
    let config: &[u8] = if config.is_empty() { b"{}" } else { config };
    let parsed = serde_json::from_slice::<T>(config)
        .map_err(|e| format!("invalid configuration: {e}"))
        .and_then(|mut plugin| check(&mut plugin).map(|()| plugin));
    match parsed {
        Ok(plugin) => {
            *slot = Some(plugin);
            0
        }
        Err(message) => {
            host::output(message.as_bytes());
            1
        }
    }
}

/// Writes a plugin-built response into the exchange.
pub fn write_response(response: &OutgoingResponse) {
    host::set_status(response.status);
    for (name, value) in &response.headers {
        host::set_header(Side::Response, name, value.as_bytes(), true);
    }
    host::set_body(Side::Response, &response.body);
}

#[cfg(target_arch = "wasm32")]
std::thread_local! {
    /// The plugin's `on_response` is the trait's default (it ran once and said so). A module
    /// holds one plugin type, so this is a fact about the plugin.
    static DEFAULT_ON_RESPONSE: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Called by the default [`Middleware::on_response`], which does nothing: from then on
/// `on_request` tells the gateway not to call it (`core.skip_on_response`), which spares a
/// call into the plugin per request for every middleware that only looks at requests.
pub fn default_on_response_ran() {
    #[cfg(target_arch = "wasm32")]
    DEFAULT_ON_RESPONSE.set(true);
}

/// `on_request`: 0 continue, 1 respond.
pub fn run_on_request<M: Middleware>(slot: &mut Option<M>) -> i32 {
    let Some(plugin) = slot.as_mut() else {
        return NOT_INITIALIZED;
    };
    #[cfg(target_arch = "wasm32")]
    if DEFAULT_ON_RESPONSE.get() {
        host::skip_on_response();
    }
    match plugin.on_request(&mut Request::host()) {
        Action::Continue => 0,
        Action::Respond(response) => {
            write_response(&response);
            1
        }
        Action::RespondAsIs => 1,
    }
}

/// `on_response`.
pub fn run_on_response<M: Middleware>(slot: &mut Option<M>) -> i32 {
    let Some(plugin) = slot.as_mut() else {
        return NOT_INITIALIZED;
    };
    plugin.on_response(&mut Response::host());
    0
}

/// `dispatch`.
pub fn run_dispatch<D: Dispatcher>(slot: &mut Option<D>) -> i32 {
    let Some(plugin) = slot.as_mut() else {
        return NOT_INITIALIZED;
    };
    let response = plugin.dispatch(&mut Request::host());
    write_response(&response);
    0
}

#[cfg(target_arch = "wasm32")]
mod exports {
    use super::*;

    /// `init(ptr, len)` for a middleware.
    pub fn init_middleware<M>(slot: &mut Option<M>, ptr: i32, len: i32) -> i32
    where
        M: Middleware + serde::de::DeserializeOwned,
    {
        init_from(slot, host::config_bytes(ptr, len), M::init)
    }

    /// `init(ptr, len)` for a dispatcher.
    pub fn init_dispatcher<D>(slot: &mut Option<D>, ptr: i32, len: i32) -> i32
    where
        D: Dispatcher + serde::de::DeserializeOwned,
    {
        init_from(slot, host::config_bytes(ptr, len), D::init)
    }

    /// `barbacane_alloc(size)`.
    pub fn alloc(size: i32) -> i32 {
        host::alloc(size)
    }
}

#[cfg(target_arch = "wasm32")]
pub use exports::*;
