//! The response, as the gateway holds it, seen from `on_response`.

use crate::Refused;
use crate::host::{self, Side};
use crate::request::{checked, split_names, text};

/// The response on its way to the client. A handle: the data stays in the gateway.
#[derive(Debug)]
pub struct Response {
    _handle: (),
}

impl Response {
    pub(crate) fn host() -> Response {
        Response { _handle: () }
    }

    /// The status code.
    pub fn status(&self) -> u16 {
        host::status().unwrap_or(0)
    }

    /// Changes the status code.
    pub fn set_status(&mut self, status: u16) -> Result<(), Refused> {
        checked(host::set_status(status))
    }

    /// The first value of a header, as text.
    pub fn header(&self, name: &str) -> Option<String> {
        host::header(Side::Response, name, 0).map(text)
    }

    /// Every value of a header, in order.
    pub fn header_values(&self, name: &str) -> Vec<String> {
        let count = host::header_count(Side::Response, name);
        (0..count)
            .filter_map(|i| host::header(Side::Response, name, i).map(text))
            .collect()
    }

    /// The distinct header names (lowercase).
    pub fn header_names(&self) -> Vec<String> {
        split_names(host::header_names(Side::Response))
    }

    /// Replaces every value of a header.
    pub fn set_header(&mut self, name: &str, value: &str) -> Result<(), Refused> {
        checked(host::set_header(
            Side::Response,
            name,
            value.as_bytes(),
            false,
        ))
    }

    /// Adds a value to a header.
    pub fn add_header(&mut self, name: &str, value: &str) -> Result<(), Refused> {
        checked(host::set_header(
            Side::Response,
            name,
            value.as_bytes(),
            true,
        ))
    }

    /// Removes a header.
    pub fn remove_header(&mut self, name: &str) {
        host::remove_header(Side::Response, name)
    }

    /// The body, when it is in memory; `None` for a streamed (proxied) body, which plugins
    /// cannot rewrite.
    pub fn body(&self) -> Option<Vec<u8>> {
        host::body(Side::Response)
    }

    /// Replaces the body (in-memory responses only; ignored for streamed ones).
    pub fn set_body(&mut self, body: &[u8]) -> Result<(), Refused> {
        checked(host::set_body(Side::Response, body))
    }
}
