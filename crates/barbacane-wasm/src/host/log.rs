//! `barbacane:log`: `log(level, ptr, len)` into the gateway's structured log.

use barbacane_plugin_abi::log_level;
use wasmtime::{Caller, Linker};

use crate::memory::read_bytes;
use crate::state::HostState;

pub(crate) fn add_to_linker(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    linker.func_wrap("barbacane:log", "log", log)?;
    Ok(())
}

fn log(mut caller: Caller<'_, HostState>, level: i32, ptr: i32, len: i32) -> wasmtime::Result<()> {
    let bytes = read_bytes(&mut caller, ptr, len)?;
    let message = String::from_utf8_lossy(&bytes);
    let plugin = caller.data().plugin.as_str();
    match level {
        log_level::ERROR => tracing::error!(plugin, "{message}"),
        log_level::WARN => tracing::warn!(plugin, "{message}"),
        log_level::INFO => tracing::info!(plugin, "{message}"),
        _ => tracing::debug!(plugin, "{message}"),
    }
    Ok(())
}
