//! `barbacane:context`: `get(kptr, klen) -> i32` (length of the value or -1),
//! `set(kptr, klen, vptr, vlen)`. The context lives for one request and is shared by every
//! plugin in its chain.

use wasmtime::{Caller, Linker};

use crate::memory::read_str;
use crate::state::HostState;

pub(crate) fn add_to_linker(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    linker.func_wrap("barbacane:context", "get", get)?;
    linker.func_wrap("barbacane:context", "set", set)?;
    Ok(())
}

fn get(mut caller: Caller<'_, HostState>, kptr: i32, klen: i32) -> wasmtime::Result<i32> {
    let key = read_str(&mut caller, kptr, klen)?;
    let state = caller.data_mut();
    Ok(match state.exchange.context.get(&key).cloned() {
        Some(v) => state.give(v),
        None => -1,
    })
}

fn set(
    mut caller: Caller<'_, HostState>,
    kptr: i32,
    klen: i32,
    vptr: i32,
    vlen: i32,
) -> wasmtime::Result<()> {
    let key = read_str(&mut caller, kptr, klen)?;
    let value = read_str(&mut caller, vptr, vlen)?;
    caller.data_mut().exchange.context.insert(key, value);
    Ok(())
}
