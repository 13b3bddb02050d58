//! Time, from the host (`clock` capability): WebAssembly has no clock of its own.

use crate::host;

/// Unix time in milliseconds.
pub fn now_ms() -> i64 {
    host::now_ms()
}

/// A monotonic clock in nanoseconds, for measuring durations.
pub fn monotonic_ns() -> i64 {
    host::monotonic_ns()
}
