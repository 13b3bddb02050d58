//! The one place guest memory is touched: every read and write is bounds-checked here.

use wasmtime::{AsContextMut, Caller, Extern, Memory};

use crate::state::HostState;

/// The guest's exported memory.
pub(crate) struct GuestMemory(Memory);

impl GuestMemory {
    pub(crate) fn of(caller: &mut Caller<'_, HostState>) -> wasmtime::Result<GuestMemory> {
        if let Some(memory) = caller.data().memory {
            return Ok(GuestMemory(memory));
        }
        match caller.get_export(barbacane_plugin_abi::exports::MEMORY) {
            Some(Extern::Memory(m)) => Ok(GuestMemory(m)),
            _ => Err(wasmtime::Error::msg("plugin exports no memory")),
        }
    }

    /// Copies `len` bytes at `ptr` out of the guest; traps on any out-of-bounds access.
    pub(crate) fn read(
        &self,
        caller: &Caller<'_, HostState>,
        ptr: i32,
        len: i32,
    ) -> wasmtime::Result<Vec<u8>> {
        let range = range(ptr, len)?;
        self.0
            .data(caller)
            .get(range)
            .map(<[u8]>::to_vec)
            .ok_or_else(|| wasmtime::Error::msg("guest pointer out of bounds"))
    }

    /// Copies `bytes` into the guest at `ptr`; traps on any out-of-bounds access.
    pub(crate) fn write(
        &self,
        caller: &mut Caller<'_, HostState>,
        ptr: i32,
        bytes: &[u8],
    ) -> wasmtime::Result<()> {
        let len =
            i32::try_from(bytes.len()).map_err(|_| wasmtime::Error::msg("result too large"))?;
        let range = range(ptr, len)?;
        self.0
            .data_mut(caller)
            .get_mut(range)
            .ok_or_else(|| wasmtime::Error::msg("guest pointer out of bounds"))?
            .copy_from_slice(bytes);
        Ok(())
    }
}

/// `[ptr, ptr + len)` of guest memory borrowed in place (no copy), with the host state beside
/// it; traps on any out-of-bounds access.
pub(crate) fn borrow<'a>(
    caller: &'a mut Caller<'_, HostState>,
    ptr: i32,
    len: i32,
) -> wasmtime::Result<(&'a [u8], &'a mut HostState)> {
    let GuestMemory(memory) = GuestMemory::of(caller)?;
    let range = range(ptr, len)?;
    let (data, state) = memory.data_and_store_mut(caller.as_context_mut());
    let bytes = data
        .get(range)
        .ok_or_else(|| wasmtime::Error::msg("guest pointer out of bounds"))?;
    Ok((bytes, state))
}

/// Reads a UTF-8 string argument.
pub(crate) fn read_str(
    caller: &mut Caller<'_, HostState>,
    ptr: i32,
    len: i32,
) -> wasmtime::Result<String> {
    let mem = GuestMemory::of(caller)?;
    let bytes = mem.read(caller, ptr, len)?;
    String::from_utf8(bytes).map_err(|_| wasmtime::Error::msg("string argument is not UTF-8"))
}

/// Reads a byte-string argument.
pub(crate) fn read_bytes(
    caller: &mut Caller<'_, HostState>,
    ptr: i32,
    len: i32,
) -> wasmtime::Result<Vec<u8>> {
    let mem = GuestMemory::of(caller)?;
    mem.read(caller, ptr, len)
}

fn range(ptr: i32, len: i32) -> wasmtime::Result<std::ops::Range<usize>> {
    let start = usize::try_from(ptr).map_err(|_| wasmtime::Error::msg("negative guest pointer"))?;
    let len = usize::try_from(len).map_err(|_| wasmtime::Error::msg("negative length"))?;
    let end = start
        .checked_add(len)
        .ok_or_else(|| wasmtime::Error::msg("guest range overflows"))?;
    Ok(start..end)
}
