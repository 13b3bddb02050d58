//! `barbacane:core` (always granted): `result_read(ptr, len) -> i32`, `set_output(ptr, len)`,
//! `random(ptr, len)` (fills the range from a CSPRNG; at most 64 KiB), `buffer_bodies(flags)`
//! (during `init`), `skip_on_response()` (during `on_request`).

use wasmtime::{Caller, Linker};

use crate::memory::{GuestMemory, read_bytes};
use crate::state::HostState;

const MODULE: &str = "barbacane:core";

pub(crate) fn add_to_linker(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    linker.func_wrap(MODULE, "result_read", result_read)?;
    linker.func_wrap(MODULE, "set_output", set_output)?;
    linker.func_wrap(MODULE, "random", random)?;
    linker.func_wrap(MODULE, "buffer_bodies", buffer_bodies)?;
    linker.func_wrap(MODULE, "skip_on_response", skip_on_response)?;
    Ok(())
}

/// Copies the last result into guest memory; returns the bytes copied (at most `len`).
fn result_read(mut caller: Caller<'_, HostState>, ptr: i32, len: i32) -> wasmtime::Result<i32> {
    let mem = GuestMemory::of(&mut caller)?;
    let wanted = usize::try_from(len).unwrap_or(0);
    let result = std::mem::take(&mut caller.data_mut().result);
    let n = wanted.min(result.len());
    let copied = mem.write(&mut caller, ptr, result.get(..n).unwrap_or_default());
    caller.data_mut().result = result;
    copied?;
    Ok(i32::try_from(n).unwrap_or(i32::MAX))
}

/// Sets the call's output (an error message from `init`, for instance).
fn set_output(mut caller: Caller<'_, HostState>, ptr: i32, len: i32) -> wasmtime::Result<()> {
    let bytes = read_bytes(&mut caller, ptr, len)?;
    caller.data_mut().output = bytes;
    Ok(())
}

/// `buffer_bodies(flags) -> i32`, during `init` only: bit 0 asks for request bodies, bit 1
/// for response bodies (see [`crate::BodyNeeds`]). 0 when recorded, -1 outside `init`.
fn buffer_bodies(mut caller: Caller<'_, HostState>, flags: i32) -> i32 {
    let state = caller.data_mut();
    if !state.in_init {
        return -1;
    }
    state.body_flags |= (flags & 0b11) as u8;
    0
}

/// `skip_on_response() -> i32`: this middleware has nothing to do on this request's response,
/// so the gateway does not call its `on_response` (and gives its instance back to the pool as
/// soon as `on_request` returns). Only `on_request` reads it; it is forgotten after every
/// request. Returns 0.
fn skip_on_response(mut caller: Caller<'_, HostState>) -> i32 {
    caller.data_mut().skip_on_response = true;
    0
}

/// Fills `[ptr, ptr + len)` with random bytes: `wasm32-unknown-unknown` has no entropy source.
/// They come from `rand`'s thread-local ChaCha12 generator, seeded and periodically reseeded
/// from the operating system: as unpredictable as the system's CSPRNG for a plugin's needs
/// (ids, nonces), without a system call per request.
fn random(mut caller: Caller<'_, HostState>, ptr: i32, len: i32) -> wasmtime::Result<()> {
    use rand::Rng as _;
    let n = usize::try_from(len).map_err(|_| wasmtime::Error::msg("negative length"))?;
    if n > 64 << 10 {
        return Err(wasmtime::Error::msg("random: at most 64 KiB per call"));
    }
    let mut small = [0u8; 64];
    let mut large = Vec::new();
    let bytes = if n <= small.len() {
        &mut small[..n]
    } else {
        large.resize(n, 0);
        &mut large[..]
    };
    rand::rng().fill_bytes(bytes);
    let mem = GuestMemory::of(&mut caller)?;
    mem.write(&mut caller, ptr, bytes)
}
