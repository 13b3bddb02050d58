//! The contract between the gateway (host) and WASM plugins (guests), version 1.
//!
//! Shared by the host (`barbacane-wasm`), the compiler (capability and type checks) and the
//! control plane's plugin registry. The full specification, precise enough to write a plugin
//! in any language, is `docs/plugin-abi.md`.
//!
//! In short: request and response state stays in the host; guests read and write it through
//! accessor imports grouped by [`Capability`]. Host functions that return variable-length
//! data store it in the call's result slot and return its length (`-1`: absent); the guest
//! copies it with `barbacane:core.result_read(ptr, len)`.
#![deny(missing_docs)]
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

mod manifest;
pub mod secret_ref;
mod version;

pub use manifest::{Isolation, ManifestError, PluginManifest, PluginType};
pub use secret_ref::{SecretRef, SecretRefError};
pub use version::{parse_version, satisfies, split_reference};

use std::fmt;
use std::str::FromStr;

/// The ABI version this host implements; guests export it from `barbacane_abi_version`.
pub const ABI_VERSION: i32 = 1;

/// Export names.
pub mod exports {
    /// `() -> i32`: the ABI version the guest was built for.
    pub const ABI_VERSION: &str = "barbacane_abi_version";
    /// `(config_ptr: i32, config_len: i32) -> i32`: 0 ok, anything else refuses the config.
    pub const INIT: &str = "init";
    /// `() -> i32`: middleware request hook; returns an [`crate::Action`] code.
    pub const ON_REQUEST: &str = "on_request";
    /// `() -> i32`: middleware response hook; return value ignored (0 by convention).
    pub const ON_RESPONSE: &str = "on_response";
    /// `() -> i32`: dispatcher entry; 0 when the response was set.
    pub const DISPATCH: &str = "dispatch";
    /// `(size: i32) -> i32`: guest allocator used by the host to pass the config to `init`.
    pub const ALLOC: &str = "barbacane_alloc";
    /// The guest's linear memory.
    pub const MEMORY: &str = "memory";
}

/// What `on_request` returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Go on with the next middleware (code 0).
    Continue,
    /// Stop the chain; the response the guest set is sent (code 1).
    Respond,
}

impl Action {
    /// Decodes a return code.
    pub fn from_code(code: i32) -> Option<Action> {
        match code {
            0 => Some(Action::Continue),
            1 => Some(Action::Respond),
            _ => None,
        }
    }
}

/// A group of host functions a plugin may import, declared in `plugin.toml`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Capability {
    /// `barbacane:core`: `result_read`, `set_output`, `random` (always granted).
    Core,
    /// `barbacane:log`: `log`.
    Log,
    /// `barbacane:context`: per-request key/value context shared along the chain.
    Context,
    /// `barbacane:clock`: `now_ms`, `monotonic_ns`.
    Clock,
    /// `barbacane:request`: read and modify the request.
    Request,
    /// `barbacane:response`: read and modify (or, in `on_request`, create) the response.
    Response,
    /// `barbacane:http`: outbound HTTP through the gateway's pooled client.
    Http,
    /// `barbacane:secrets`: resolve secret references (`env://`, `file://`).
    Secrets,
    /// `barbacane:ratelimit`: take from a sliding-window quota kept by the host (in process,
    /// or shared by every gateway on one Redis).
    Ratelimit,
    /// `barbacane:crypto`: signature verification against JWKs, HMAC, SHA-256 and
    /// constant-time comparison, natively.
    Crypto,
    /// `barbacane:cache`: a response cache kept by the host (in process, bounded in bytes,
    /// or on a shared Redis), with concurrent misses for one key coalesced.
    Cache,
    /// `barbacane:nats`: publish to NATS (core or JetStream) through the gateway's pooled
    /// connections, awaiting the server's acknowledgement.
    Nats,
    /// `barbacane:kafka`: produce to Kafka (`acks=all`) through the gateway's pooled
    /// producers, awaiting the acknowledgement.
    Kafka,
    /// `barbacane:telemetry`: the plugin's own Prometheus metrics
    /// (`barbacane_plugin_<name>_...`) and spans nested under the request's trace.
    Telemetry,
    /// `barbacane:policy`: Rego policies bundled in the artifact, evaluated natively.
    Policy,
}

impl Capability {
    /// Every capability, in declaration order.
    pub const ALL: [Capability; 15] = [
        Capability::Core,
        Capability::Log,
        Capability::Context,
        Capability::Clock,
        Capability::Request,
        Capability::Response,
        Capability::Http,
        Capability::Secrets,
        Capability::Ratelimit,
        Capability::Crypto,
        Capability::Cache,
        Capability::Nats,
        Capability::Kafka,
        Capability::Telemetry,
        Capability::Policy,
    ];

    /// The name used in `plugin.toml`.
    pub fn name(self) -> &'static str {
        match self {
            Capability::Core => "core",
            Capability::Log => "log",
            Capability::Context => "context",
            Capability::Clock => "clock",
            Capability::Request => "request",
            Capability::Response => "response",
            Capability::Http => "http",
            Capability::Secrets => "secrets",
            Capability::Ratelimit => "ratelimit",
            Capability::Crypto => "crypto",
            Capability::Cache => "cache",
            Capability::Nats => "nats",
            Capability::Kafka => "kafka",
            Capability::Telemetry => "telemetry",
            Capability::Policy => "policy",
        }
    }

    /// The wasm import module name, e.g. `barbacane:request`.
    pub fn module(self) -> &'static str {
        match self {
            Capability::Core => "barbacane:core",
            Capability::Log => "barbacane:log",
            Capability::Context => "barbacane:context",
            Capability::Clock => "barbacane:clock",
            Capability::Request => "barbacane:request",
            Capability::Response => "barbacane:response",
            Capability::Http => "barbacane:http",
            Capability::Secrets => "barbacane:secrets",
            Capability::Ratelimit => "barbacane:ratelimit",
            Capability::Crypto => "barbacane:crypto",
            Capability::Cache => "barbacane:cache",
            Capability::Nats => "barbacane:nats",
            Capability::Kafka => "barbacane:kafka",
            Capability::Telemetry => "barbacane:telemetry",
            Capability::Policy => "barbacane:policy",
        }
    }

    /// The host functions of this capability's module (the host registers exactly these;
    /// registries can refuse unknown imports with this list).
    pub fn functions(self) -> &'static [&'static str] {
        match self {
            Capability::Core => &[
                "result_read",
                "set_output",
                "random",
                "buffer_bodies",
                "skip_on_response",
            ],
            Capability::Log => &["log"],
            Capability::Context => &["get", "set"],
            Capability::Clock => &["now_ms", "monotonic_ns"],
            Capability::Request => &[
                "method",
                "path",
                "path_param",
                "query",
                "body",
                "header",
                "header_count",
                "header_names",
                "set_header",
                "add_header",
                "remove_header",
                "set_path",
                "set_query",
                "set_body",
                "set_method",
                "client_ip",
            ],
            Capability::Response => &[
                "status",
                "set_status",
                "body",
                "header",
                "header_count",
                "header_names",
                "set_header",
                "add_header",
                "remove_header",
                "set_body",
            ],
            Capability::Http => &["call", "response_body", "send_detached"],
            Capability::Secrets => &["get"],
            Capability::Ratelimit => &["take", "take_into", "report", "host_policy"],
            Capability::Crypto => &[
                "verify",
                "hmac",
                "sha256",
                "constant_time_eq",
                "bcrypt_verify",
            ],
            Capability::Cache => &["lookup", "store", "serve_hits"],
            Capability::Nats => &["publish"],
            Capability::Kafka => &["publish"],
            Capability::Telemetry => &[
                "metric_counter_inc",
                "metric_histogram_observe",
                "span_start",
                "span_set_attribute",
                "span_end",
            ],
            Capability::Policy => &["eval", "input"],
        }
    }

    /// The capability owning an import module.
    pub fn from_module(module: &str) -> Option<Capability> {
        Capability::ALL.into_iter().find(|c| c.module() == module)
    }
}

impl fmt::Display for Capability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Capability {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Capability::ALL
            .into_iter()
            .find(|c| c.name() == s)
            .ok_or_else(|| {
                format!(
                    "unknown capability `{s}` (known: {})",
                    Capability::ALL.map(Capability::name).join(", ")
                )
            })
    }
}

/// Log levels for `barbacane:log.log(level, ptr, len)`.
pub mod log_level {
    /// Error.
    pub const ERROR: i32 = 0;
    /// Warning.
    pub const WARN: i32 = 1;
    /// Information.
    pub const INFO: i32 = 2;
    /// Debug.
    pub const DEBUG: i32 = 3;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capabilities_round_trip() {
        for c in Capability::ALL {
            assert_eq!(c.name().parse::<Capability>().unwrap(), c);
            assert_eq!(Capability::from_module(c.module()), Some(c));
        }
        assert!("net".parse::<Capability>().is_err());
        assert_eq!(Action::from_code(1), Some(Action::Respond));
        assert_eq!(Action::from_code(7), None);
    }
}
