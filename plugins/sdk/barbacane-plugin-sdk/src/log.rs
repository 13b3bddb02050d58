//! Structured logging into the gateway's log, tagged with the plugin's name (`log`
//! capability).

use crate::host;

/// Logs an error.
pub fn error(message: &str) {
    host::log(0, message)
}

/// Logs a warning.
pub fn warn(message: &str) {
    host::log(1, message)
}

/// Logs information.
pub fn info(message: &str) {
    host::log(2, message)
}

/// Logs a debugging message.
pub fn debug(message: &str) {
    host::log(3, message)
}
