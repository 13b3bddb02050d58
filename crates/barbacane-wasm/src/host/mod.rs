//! Host functions, one module per capability. A plugin's linker gets only the modules of
//! the capabilities its `plugin.toml` declares.

mod bcrypt;
pub(crate) mod cache;
mod clock;
mod context;
mod core;
mod crypto;
mod events;
mod http_call;
mod log;
mod policy;
pub(crate) mod ratelimit;
mod request;
mod response;
pub(crate) mod secrets;
mod telemetry;

use barbacane_plugin_abi::Capability;
use wasmtime::Linker;

use crate::state::HostState;

/// Adds the host functions of `capability` to `linker` (`ratelimit.take` as a plain call
/// when `sync_limits`, else asynchronous).
pub(crate) fn add_to_linker(
    linker: &mut Linker<HostState>,
    capability: Capability,
    sync_limits: bool,
) -> wasmtime::Result<()> {
    match capability {
        Capability::Core => core::add_to_linker(linker),
        Capability::Log => log::add_to_linker(linker),
        Capability::Context => context::add_to_linker(linker),
        Capability::Clock => clock::add_to_linker(linker),
        Capability::Request => request::add_to_linker(linker),
        Capability::Response => response::add_to_linker(linker),
        Capability::Http => http_call::add_to_linker(linker),
        Capability::Secrets => secrets::add_to_linker(linker),
        Capability::Ratelimit => ratelimit::add_to_linker(linker, sync_limits),
        Capability::Crypto => crypto::add_to_linker(linker),
        Capability::Cache => cache::add_to_linker(linker),
        Capability::Nats => events::add_to_linker(linker, true),
        Capability::Kafka => events::add_to_linker(linker, false),
        Capability::Telemetry => telemetry::add_to_linker(linker),
        Capability::Policy => policy::add_to_linker(linker),
    }
}

/// Parses a header name and value given by a guest; `None` when either is invalid.
pub(crate) fn header_pair(
    name: &str,
    value: &[u8],
) -> Option<(http::HeaderName, http::HeaderValue)> {
    let name = http::HeaderName::from_bytes(name.as_bytes()).ok()?;
    let value = http::HeaderValue::from_bytes(value).ok()?;
    Some((name, value))
}

/// The distinct names of `headers`, in first-appearance order, joined with `\n` (names
/// cannot contain one).
pub(crate) fn header_names(headers: &http::HeaderMap) -> Vec<u8> {
    let mut out = Vec::new();
    for name in headers.keys() {
        if !out.is_empty() {
            out.push(b'\n');
        }
        out.extend_from_slice(name.as_str().as_bytes());
    }
    out
}
