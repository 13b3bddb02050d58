//! `barbacane:cache`: `lookup(kptr, klen, wait_ms: i32) -> i32` and
//! `store(kptr, klen, ttl_ms: i64) -> i32`.
//!
//! `lookup` on a hit makes the stored response the request's response (status, headers,
//! body: the body never crosses into guest memory) and returns its resident age in whole
//! seconds. On a miss it returns -1 when this request now fills the key (the host holds the
//! key's lease until `store` or the end of the request) and -2 when it should go on without
//! the cache (another request is filling the key and did not finish within `wait_ms`, or
//! the store is unavailable). `store` keeps the current response (its body must be
//! visible: the plugin asks for response bodies with `core.buffer_bodies`) for `ttl_ms`: 0
//! when stored, -1 when there is no visible body, -2 for invalid arguments, -3 when the store
//! is unavailable. Both are asynchronous: waiting does not count against the budget.
//!
//! `serve_hits(ptr, len) -> i32`, during `init` only: the plugin's key rule (JSON, see
//! [`crate::cache_hits`]); from then on the gateway answers fresh hits without calling the
//! plugin. 0 when recorded, -1 outside `init`, -2 for an invalid rule (reason in the result
//! slot).

use std::sync::Arc;
use std::time::Duration;
use wasmtime::{AsContextMut, Caller, Linker};

use crate::cache::{CachedResponse, Lookup, is_hop_by_hop, ttl_of};
use crate::cache_hits::HitRule;
use crate::memory::read_bytes;
use crate::state::{HostState, ResponseState};

/// Longest key a plugin may pass (the host hashes it).
pub(crate) const MAX_KEY: usize = 16 << 10;
/// Longest a lookup waits for another request filling the key.
const MAX_WAIT_MS: i32 = 60_000;

pub(crate) fn add_to_linker(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    linker.func_wrap_async(
        "barbacane:cache",
        "lookup",
        |mut caller: Caller<'_, HostState>, (kptr, klen, wait_ms): (i32, i32, i32)| {
            Box::new(async move {
                let raw = read_bytes(&mut caller, kptr, klen)?;
                if raw.is_empty() || raw.len() > MAX_KEY || !(0..=MAX_WAIT_MS).contains(&wait_ms) {
                    return Ok(-2);
                }
                let Some((cache, space)) = caller.data().cache.clone() else {
                    return Ok(-2);
                };
                let key = space.key(&raw);
                // A second lookup in one request gives back the first one's lease.
                caller.data_mut().cache_lease = None;
                // The gateway already looked this key up (`serve_hits`): its outcome stands.
                let found = match caller.data_mut().cache_pre.take() {
                    Some(pre) if pre.key == key => pre.outcome,
                    _ => {
                        let wait = Duration::from_millis(u64::try_from(wait_ms).unwrap_or(0));
                        cache.lookup(&key, wait).await
                    }
                };
                let ticks = caller.data().deadline_ticks;
                caller.as_context_mut().set_epoch_deadline(ticks);
                Ok(match found {
                    Lookup::Hit(entry) => {
                        let age = now_ms().saturating_sub(entry.stored_at_ms) / 1000;
                        caller.data_mut().exchange.response = Some(ResponseState {
                            status: entry.status,
                            headers: entry.headers.clone(),
                            body: Some(entry.body.clone()),
                        });
                        i32::try_from(age).unwrap_or(i32::MAX)
                    }
                    Lookup::Fill(lease) => {
                        caller.data_mut().cache_lease = Some(lease);
                        -1
                    }
                    Lookup::Miss => -2,
                })
            })
        },
    )?;
    linker.func_wrap_async(
        "barbacane:cache",
        "store",
        |mut caller: Caller<'_, HostState>, (kptr, klen, ttl_ms): (i32, i32, i64)| {
            Box::new(async move {
                let raw = read_bytes(&mut caller, kptr, klen)?;
                let (Some(ttl), false, false) =
                    (ttl_of(ttl_ms), raw.is_empty(), raw.len() > MAX_KEY)
                else {
                    return Ok(-2);
                };
                let Some((cache, space)) = caller.data().cache.clone() else {
                    return Ok(-3);
                };
                let key = space.key(&raw);
                let Some(entry) = snapshot(caller.data().exchange.response.as_ref(), ttl) else {
                    return Ok(-1);
                };
                // The miss protocol's filler stores a key that had no fresh entry; any other
                // store may replace one that workers hold near copies of.
                let leased = caller
                    .data()
                    .cache_lease
                    .as_ref()
                    .is_some_and(|l| *l.key() == key);
                let stored = cache.put(&key, Arc::new(entry), ttl).await;
                if !leased {
                    space.replaced();
                }
                let ticks = caller.data().deadline_ticks;
                caller.as_context_mut().set_epoch_deadline(ticks);
                // Given back after the entry is in: the requests waiting for it find it.
                let state = caller.data_mut();
                if state.cache_lease.as_ref().is_some_and(|l| *l.key() == key) {
                    state.cache_lease = None;
                }
                Ok(if stored.is_ok() { 0 } else { -3 })
            })
        },
    )?;
    linker.func_wrap(
        "barbacane:cache",
        "serve_hits",
        |mut caller: Caller<'_, HostState>, ptr: i32, len: i32| -> wasmtime::Result<i32> {
            let raw = read_bytes(&mut caller, ptr, len)?;
            if !caller.data().in_init {
                return Ok(-1);
            }
            Ok(match HitRule::parse(&raw) {
                Ok(rule) => {
                    caller.data_mut().hit_rule = Some(Arc::new(rule));
                    0
                }
                Err(reason) => {
                    caller.data_mut().give(reason);
                    -2
                }
            })
        },
    )?;
    Ok(())
}

/// The response as it stands, without hop-by-hop fields; `None` without a visible body.
fn snapshot(response: Option<&ResponseState>, ttl: Duration) -> Option<CachedResponse> {
    let response = response?;
    let body = response.body.clone()?;
    let mut headers = response.headers.clone();
    let hop: Vec<http::HeaderName> = headers
        .keys()
        .filter(|n| is_hop_by_hop(n))
        .cloned()
        .collect();
    for name in hop {
        headers.remove(name);
    }
    Some(CachedResponse {
        status: response.status,
        headers,
        body,
        stored_at_ms: now_ms(),
        expires_at: Some(std::time::Instant::now() + ttl),
    })
}

pub(crate) fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}
