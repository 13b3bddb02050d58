//! The request, as the gateway holds it. Every accessor is one host call; nothing is copied
//! into the plugin unless it is read.

use crate::Refused;
use crate::host::{self, Side};

/// The request being handled. A handle: the data stays in the gateway.
///
/// Header names are case-insensitive; repeated headers are separate values.
#[derive(Debug)]
pub struct Request {
    _handle: (),
}

/// Bytes from the host as text (invalid UTF-8 replaced).
pub(crate) fn text(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// A setter's outcome.
pub(crate) fn checked(ok: bool) -> Result<(), Refused> {
    if ok { Ok(()) } else { Err(Refused) }
}

impl Request {
    pub(crate) fn host() -> Request {
        Request { _handle: () }
    }

    /// The method, e.g. `GET`.
    pub fn method(&self) -> String {
        text(host::method())
    }

    /// The path, as received (percent-encoded), e.g. `/pets/7`.
    pub fn path(&self) -> String {
        text(host::path())
    }

    /// The value of the route's template variable `name` (`{id}` in `/items/{id}`), decoded;
    /// `None` when the route has no such variable.
    pub fn path_param(&self, name: &str) -> Option<String> {
        host::path_param(name).map(text)
    }

    /// The query string without `?`, if any.
    pub fn query(&self) -> Option<String> {
        host::query().map(text)
    }

    /// The first value of a header, as text (invalid UTF-8 replaced).
    pub fn header(&self, name: &str) -> Option<String> {
        host::header(Side::Request, name, 0).map(text)
    }

    /// The `index`-th value of a header, as bytes.
    pub fn header_bytes(&self, name: &str, index: usize) -> Option<Vec<u8>> {
        host::header(Side::Request, name, index)
    }

    /// Every value of a header, in order.
    pub fn header_values(&self, name: &str) -> Vec<String> {
        let count = host::header_count(Side::Request, name);
        (0..count)
            .filter_map(|i| host::header(Side::Request, name, i).map(text))
            .collect()
    }

    /// The distinct header names (lowercase), in the order they first appear.
    pub fn header_names(&self) -> Vec<String> {
        split_names(host::header_names(Side::Request))
    }

    /// The body, when the gateway has it in memory (an operation with a body schema, or a
    /// dispatcher that declares `request`); `None` when it is streamed past plugins.
    pub fn body(&self) -> Option<Vec<u8>> {
        host::body(Side::Request)
    }

    /// The address of the peer of the client connection, as text (`203.0.113.7`,
    /// `2001:db8::1`); `None` when the gateway does not know it. This is the socket's peer:
    /// behind a proxy or load balancer, the proxy's address. Forwarding headers
    /// (`X-Forwarded-For`, `Forwarded`) are not considered; they are whatever the client or
    /// the proxies wrote, and only a plugin that knows which proxies to trust can read them.
    ///
    /// ```
    /// use barbacane_plugin_sdk::prelude::*;
    /// use barbacane_plugin_sdk::testing::FakeHost;
    ///
    /// /// Tells the upstream who connected.
    /// struct Peer;
    ///
    /// impl Middleware for Peer {
    ///     fn on_request(&mut self, request: &mut Request) -> Action {
    ///         let ip = request.client_ip().unwrap_or_else(|| "unknown".into());
    ///         request.set_header("x-peer", &ip).unwrap();
    ///         Action::Continue
    ///     }
    /// }
    ///
    /// let mut host = FakeHost::new();
    /// host.client_ip("203.0.113.7");
    /// host.on_request(&mut Peer);
    /// assert_eq!(host.request_header("x-peer").as_deref(), Some("203.0.113.7"));
    /// host.unknown_client_ip();
    /// host.on_request(&mut Peer);
    /// assert_eq!(host.request_header("x-peer").as_deref(), Some("unknown"));
    /// ```
    pub fn client_ip(&self) -> Option<String> {
        host::client_ip().map(text)
    }

    /// Replaces every value of a header.
    pub fn set_header(&mut self, name: &str, value: &str) -> Result<(), Refused> {
        checked(host::set_header(
            Side::Request,
            name,
            value.as_bytes(),
            false,
        ))
    }

    /// Adds a value to a header.
    pub fn add_header(&mut self, name: &str, value: &str) -> Result<(), Refused> {
        checked(host::set_header(
            Side::Request,
            name,
            value.as_bytes(),
            true,
        ))
    }

    /// Removes a header.
    pub fn remove_header(&mut self, name: &str) {
        host::remove_header(Side::Request, name)
    }

    /// Sets the path (must start with `/`).
    pub fn set_path(&mut self, path: &str) -> Result<(), Refused> {
        checked(host::set_path(path))
    }

    /// Sets the query string (without `?`; empty removes it).
    pub fn set_query(&mut self, query: &str) -> Result<(), Refused> {
        checked(host::set_query(query))
    }

    /// Replaces the body.
    pub fn set_body(&mut self, body: &[u8]) -> Result<(), Refused> {
        checked(host::set_body(Side::Request, body))
    }

    /// Sets the method.
    pub fn set_method(&mut self, method: &str) -> Result<(), Refused> {
        checked(host::set_method(method))
    }
}

pub(crate) fn split_names(bytes: Vec<u8>) -> Vec<String> {
    let joined = text(bytes);
    joined
        .split('\n')
        .filter(|n| !n.is_empty())
        .map(str::to_owned)
        .collect()
}
