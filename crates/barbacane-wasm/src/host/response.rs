//! `barbacane:response`: read and change the response, or create one in `on_request` to
//! short-circuit. `status() -> i32` (0 when there is no response yet), `set_status(code) ->
//! i32`, `header(n.., index) -> i32`, `header_count(n..) -> i32`, `header_names() -> i32`, `set_header(n.., v..) add_header(n.., v..)
//! remove_header(n..) -> i32`, `body() -> i32` (-1 when streamed), `set_body(p..) -> i32`.

use http::StatusCode;
use wasmtime::{Caller, Linker};

use crate::host::header_pair;
use crate::memory::{read_bytes, read_str};
use crate::state::{HostState, ResponseState};

const MODULE: &str = "barbacane:response";

pub(crate) fn add_to_linker(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    linker.func_wrap(MODULE, "status", |c: Caller<'_, HostState>| {
        c.data()
            .exchange
            .response
            .as_ref()
            .map_or(0, |r| i32::from(r.status.as_u16()))
    })?;
    linker.func_wrap(
        MODULE,
        "set_status",
        |mut c: Caller<'_, HostState>, code: i32| match u16::try_from(code)
            .ok()
            .and_then(|c| StatusCode::from_u16(c).ok())
        {
            Some(status) => {
                response(&mut c).status = status;
                0
            }
            None => -1,
        },
    )?;
    linker.func_wrap(MODULE, "body", |mut c: Caller<'_, HostState>| {
        match c
            .data()
            .exchange
            .response
            .as_ref()
            .and_then(|r| r.body.clone())
        {
            Some(b) => c.data_mut().give(b.to_vec()),
            None => -1,
        }
    })?;
    linker.func_wrap(MODULE, "header", header)?;
    linker.func_wrap(
        MODULE,
        "header_count",
        |mut c: Caller<'_, HostState>, nptr: i32, nlen: i32| -> wasmtime::Result<i32> {
            let name = read_str(&mut c, nptr, nlen)?;
            let n = c
                .data()
                .exchange
                .response
                .as_ref()
                .map_or(0, |r| r.headers.get_all(name.as_str()).iter().count());
            Ok(i32::try_from(n).unwrap_or(i32::MAX))
        },
    )?;
    linker.func_wrap(MODULE, "header_names", |mut c: Caller<'_, HostState>| {
        let names = c
            .data()
            .exchange
            .response
            .as_ref()
            .map(|r| crate::host::header_names(&r.headers));
        match names {
            Some(n) => c.data_mut().give(n),
            None => -1,
        }
    })?;
    linker.func_wrap(MODULE, "set_header", set_header)?;
    linker.func_wrap(MODULE, "add_header", add_header)?;
    linker.func_wrap(MODULE, "remove_header", remove_header)?;
    linker.func_wrap(MODULE, "set_body", set_body)?;
    Ok(())
}

/// The response, created (200, empty) on first write.
fn response<'a>(c: &'a mut Caller<'_, HostState>) -> &'a mut ResponseState {
    c.data_mut()
        .exchange
        .response
        .get_or_insert_with(|| ResponseState {
            status: StatusCode::OK,
            headers: http::HeaderMap::new(),
            body: Some(bytes::Bytes::new()),
        })
}

fn header(mut c: Caller<'_, HostState>, nptr: i32, nlen: i32, index: i32) -> wasmtime::Result<i32> {
    let name = read_str(&mut c, nptr, nlen)?;
    let value = usize::try_from(index).ok().and_then(|i| {
        c.data()
            .exchange
            .response
            .as_ref()?
            .headers
            .get_all(name.as_str())
            .iter()
            .nth(i)
            .map(|v| v.as_bytes().to_vec())
    });
    Ok(value.map_or(-1, |v| c.data_mut().give(v)))
}

fn set_header(
    mut c: Caller<'_, HostState>,
    nptr: i32,
    nlen: i32,
    vptr: i32,
    vlen: i32,
) -> wasmtime::Result<i32> {
    let name = read_str(&mut c, nptr, nlen)?;
    let value = read_bytes(&mut c, vptr, vlen)?;
    Ok(match header_pair(&name, &value) {
        Some((n, v)) => {
            response(&mut c).headers.insert(n, v);
            0
        }
        None => -1,
    })
}

fn add_header(
    mut c: Caller<'_, HostState>,
    nptr: i32,
    nlen: i32,
    vptr: i32,
    vlen: i32,
) -> wasmtime::Result<i32> {
    let name = read_str(&mut c, nptr, nlen)?;
    let value = read_bytes(&mut c, vptr, vlen)?;
    Ok(match header_pair(&name, &value) {
        Some((n, v)) => {
            response(&mut c).headers.append(n, v);
            0
        }
        None => -1,
    })
}

fn remove_header(mut c: Caller<'_, HostState>, nptr: i32, nlen: i32) -> wasmtime::Result<i32> {
    let name = read_str(&mut c, nptr, nlen)?;
    if let Some(r) = c.data_mut().exchange.response.as_mut() {
        r.headers.remove(name.as_str());
    }
    Ok(0)
}

fn set_body(mut c: Caller<'_, HostState>, ptr: i32, len: i32) -> wasmtime::Result<i32> {
    let body = read_bytes(&mut c, ptr, len)?;
    response(&mut c).body = Some(body.into());
    Ok(0)
}
