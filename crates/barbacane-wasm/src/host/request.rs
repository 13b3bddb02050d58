//! `barbacane:request`: read and change the request. Getters return a length (the value is
//! in the result slot) or -1; setters return 0, or -1 when the value is invalid.
//!
//! `method() path() query() body() -> i32`, `header(nptr, nlen, index) -> i32`,
//! `header_count(nptr, nlen) -> i32`, `header_names() -> i32` (distinct lowercase names
//! joined by `\n`), `set_header(n.., v..) add_header(n.., v..)
//! remove_header(n..) set_path(p..) set_query(p..) set_body(p..) set_method(p..) -> i32`,
//! `client_ip() -> i32` (the connection's peer address as text, or -1),
//! `path_param(nptr, nlen) -> i32` (the decoded value of the route's template variable, or
//! -1).

use http::uri::PathAndQuery;
use wasmtime::{Caller, Linker};

use crate::host::header_pair;
use crate::memory::{read_bytes, read_str};
use crate::state::HostState;

const MODULE: &str = "barbacane:request";

pub(crate) fn add_to_linker(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    linker.func_wrap(MODULE, "method", |mut c: Caller<'_, HostState>| {
        let m = c.data().exchange.method.as_str().to_owned();
        c.data_mut().give(m)
    })?;
    linker.func_wrap(
        MODULE,
        "path_param",
        |mut c: Caller<'_, HostState>, ptr: i32, len: i32| -> wasmtime::Result<i32> {
            let name = read_str(&mut c, ptr, len)?;
            let value = c
                .data()
                .exchange
                .path_params
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.clone());
            Ok(match value {
                Some(v) => c.data_mut().give(v),
                None => -1,
            })
        },
    )?;
    linker.func_wrap(MODULE, "path", |mut c: Caller<'_, HostState>| {
        let p = c.data().exchange.uri.path().to_owned();
        c.data_mut().give(p)
    })?;
    linker.func_wrap(MODULE, "query", |mut c: Caller<'_, HostState>| {
        match c.data().exchange.uri.query().map(str::to_owned) {
            Some(q) => c.data_mut().give(q),
            None => -1,
        }
    })?;
    linker.func_wrap(MODULE, "body", |mut c: Caller<'_, HostState>| {
        match c.data().exchange.body.clone() {
            Some(b) => c.data_mut().give(b.to_vec()),
            None => -1,
        }
    })?;
    linker.func_wrap(MODULE, "header", header)?;
    linker.func_wrap(MODULE, "header_count", header_count)?;
    linker.func_wrap(MODULE, "header_names", |mut c: Caller<'_, HostState>| {
        let names = crate::host::header_names(&c.data().exchange.headers);
        c.data_mut().give(names)
    })?;
    linker.func_wrap(MODULE, "set_header", set_header)?;
    linker.func_wrap(MODULE, "add_header", add_header)?;
    linker.func_wrap(MODULE, "remove_header", remove_header)?;
    linker.func_wrap(MODULE, "set_path", set_path)?;
    linker.func_wrap(MODULE, "set_query", set_query)?;
    linker.func_wrap(MODULE, "set_body", set_body)?;
    linker.func_wrap(MODULE, "set_method", set_method)?;
    linker.func_wrap(MODULE, "client_ip", |mut c: Caller<'_, HostState>| match c
        .data()
        .exchange
        .client_ip
    {
        Some(ip) => c.data_mut().give(ip.to_string()),
        None => -1,
    })?;
    Ok(())
}

fn header(mut c: Caller<'_, HostState>, nptr: i32, nlen: i32, index: i32) -> wasmtime::Result<i32> {
    let name = read_str(&mut c, nptr, nlen)?;
    let value = usize::try_from(index)
        .ok()
        .and_then(|i| {
            c.data()
                .exchange
                .headers
                .get_all(name.as_str())
                .iter()
                .nth(i)
        })
        .map(|v| v.as_bytes().to_vec());
    Ok(value.map_or(-1, |v| c.data_mut().give(v)))
}

fn header_count(mut c: Caller<'_, HostState>, nptr: i32, nlen: i32) -> wasmtime::Result<i32> {
    let name = read_str(&mut c, nptr, nlen)?;
    let n = c
        .data()
        .exchange
        .headers
        .get_all(name.as_str())
        .iter()
        .count();
    Ok(i32::try_from(n).unwrap_or(i32::MAX))
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
            c.data_mut().exchange.headers.insert(n, v);
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
            c.data_mut().exchange.headers.append(n, v);
            0
        }
        None => -1,
    })
}

fn remove_header(mut c: Caller<'_, HostState>, nptr: i32, nlen: i32) -> wasmtime::Result<i32> {
    let name = read_str(&mut c, nptr, nlen)?;
    c.data_mut().exchange.headers.remove(name.as_str());
    Ok(0)
}

fn set_path(mut c: Caller<'_, HostState>, ptr: i32, len: i32) -> wasmtime::Result<i32> {
    let path = read_str(&mut c, ptr, len)?;
    let query = c.data().exchange.uri.query().map(str::to_owned);
    Ok(rebuild(&mut c, &path, query.as_deref()))
}

fn set_query(mut c: Caller<'_, HostState>, ptr: i32, len: i32) -> wasmtime::Result<i32> {
    let query = read_str(&mut c, ptr, len)?;
    let path = c.data().exchange.uri.path().to_owned();
    Ok(rebuild(
        &mut c,
        &path,
        (!query.is_empty()).then_some(query.as_str()),
    ))
}

fn rebuild(c: &mut Caller<'_, HostState>, path: &str, query: Option<&str>) -> i32 {
    if !path.starts_with('/') {
        return -1;
    }
    let target = match query {
        Some(q) => format!("{path}?{q}"),
        None => path.to_owned(),
    };
    match PathAndQuery::try_from(target).map(http::Uri::from) {
        Ok(uri) => {
            c.data_mut().exchange.uri = uri;
            0
        }
        Err(_) => -1,
    }
}

fn set_body(mut c: Caller<'_, HostState>, ptr: i32, len: i32) -> wasmtime::Result<i32> {
    let body = read_bytes(&mut c, ptr, len)?;
    c.data_mut().exchange.body = Some(body.into());
    Ok(0)
}

fn set_method(mut c: Caller<'_, HostState>, ptr: i32, len: i32) -> wasmtime::Result<i32> {
    let method = read_str(&mut c, ptr, len)?;
    Ok(match http::Method::from_bytes(method.as_bytes()) {
        Ok(m) => {
            c.data_mut().exchange.method = m;
            0
        }
        Err(_) => -1,
    })
}
