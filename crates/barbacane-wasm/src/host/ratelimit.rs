//! `barbacane:ratelimit`: `take(kptr, klen, quota: i64, window_ms: i64) -> i32`,
//! `take_into(kptr, klen, quota: i64, window_ms: i64, out) -> i32` and
//! `report(pptr, plen, lptr, llen) -> i32` and `host_policy(ptr, len) -> i32`.
//!
//! `take` and `take_into` take one unit from the sliding-window bucket `<plugin>:<key>` (the
//! plugin's name is prefixed, so two plugins never share a bucket by accident). `take` puts
//! JSON in the result slot: `{"allowed", "limit", "remaining", "reset_ms"}`, or `{"error":
//! "unavailable" | "invalid", "message"}`. `take_into` is the same decision without JSON on
//! either side (it is on every request of a limited route): three little-endian `u64`s
//! (`allowed` 0/1, `remaining`, `reset_ms`) written at `out`, 0 returned; -1 unavailable, -2
//! invalid, with the message in the result slot. Both are asynchronous like
//! `barbacane:http` when the limiter is shared: waiting on it does not count against the
//! plugin's budget.
//!
//! `report` hands the gateway this request's members of the `RateLimit-Policy` and
//! `RateLimit` fields; it adds them to whatever response the request gets, after the
//! `on_response` chain, so a rate-limiting middleware needs no `on_response` of its own.
//!
//! `host_policy`, during `init`, hands the gateway the whole policy (`crate::limit_rule`):
//! it then decides the middleware's requests itself, without calling the plugin.

use serde_json::json;
use std::time::Duration;
use wasmtime::{AsContextMut, Caller, Linker};

use crate::limiter::LimitError;
use crate::memory::{borrow, read_bytes};
use crate::state::HostState;

/// Longest key a plugin may pass.
pub(crate) const MAX_KEY: usize = 512;

/// Bytes `take_into` writes at `out`.
const DECISION_BYTES: usize = 24;

pub(crate) fn add_to_linker(
    linker: &mut Linker<HostState>,
    sync_limits: bool,
) -> wasmtime::Result<()> {
    linker.func_wrap("barbacane:ratelimit", "report", report)?;
    linker.func_wrap("barbacane:ratelimit", "host_policy", host_policy)?;
    if sync_limits {
        linker.func_wrap(
            "barbacane:ratelimit",
            "take_into",
            |mut caller: Caller<'_, HostState>,
             kptr: i32,
             klen: i32,
             quota: i64,
             window_ms: i64,
             out: i32| {
                let outcome = {
                    let (key, state) = borrow(&mut caller, kptr, klen)?;
                    match check_ref(key, quota, window_ms) {
                        Err(message) => Err((-2, message)),
                        Ok((key, quota, window)) => {
                            // The bucket's name, built in a buffer the instance keeps.
                            let mut bucket = std::mem::take(&mut state.scratch);
                            bucket.clear();
                            bucket.push_str(&state.plugin);
                            bucket.push(':');
                            bucket.push_str(key);
                            let taken = state
                                .limiter
                                .as_ref()
                                .and_then(|l| l.take_now(&bucket, quota, window));
                            state.scratch = bucket;
                            taken
                                .ok_or_else(|| (-1, NO_QUOTAS.to_owned()))
                                .and_then(|r| r.map_err(unavailable))
                        }
                    }
                };
                write_decision(&mut caller, out, outcome)
            },
        )?;
        // The in-process limiter decides at once: no fiber, no future.
        linker.func_wrap(
            "barbacane:ratelimit",
            "take",
            |mut caller: Caller<'_, HostState>,
             kptr: i32,
             klen: i32,
             quota: i64,
             window_ms: i64| {
                let key = read_bytes(&mut caller, kptr, klen)?;
                let result = match check(&key, quota, window_ms) {
                    Err(message) => json!({"error": "invalid", "message": message}).to_string(),
                    Ok((key, quota, window)) => {
                        let key = format!("{}:{key}", caller.data().plugin);
                        let outcome = caller
                            .data()
                            .limiter
                            .as_ref()
                            .and_then(|l| l.take_now(&key, quota, window));
                        encode(outcome)
                    }
                };
                Ok(caller.data_mut().give(result))
            },
        )?;
        return Ok(());
    }
    linker.func_wrap_async(
        "barbacane:ratelimit",
        "take",
        |mut caller: Caller<'_, HostState>,
         (kptr, klen, quota, window_ms): (i32, i32, i64, i64)| {
            Box::new(async move {
                let key = read_bytes(&mut caller, kptr, klen)?;
                let result = match check(&key, quota, window_ms) {
                    Err(message) => json!({"error": "invalid", "message": message}).to_string(),
                    Ok((key, quota, window)) => match caller.data().limiter.clone() {
                        None => encode(None),
                        Some(limiter) => {
                            let key = format!("{}:{key}", caller.data().plugin);
                            let outcome = limiter.take(&key, quota, window).await;
                            let ticks = caller.data().deadline_ticks;
                            caller.as_context_mut().set_epoch_deadline(ticks);
                            encode(Some(outcome))
                        }
                    },
                };
                Ok(caller.data_mut().give(result))
            })
        },
    )?;
    linker.func_wrap_async(
        "barbacane:ratelimit",
        "take_into",
        |mut caller: Caller<'_, HostState>,
         (kptr, klen, quota, window_ms, out): (i32, i32, i64, i64, i32)| {
            Box::new(async move {
                let key = read_bytes(&mut caller, kptr, klen)?;
                let outcome = match check(&key, quota, window_ms) {
                    Err(message) => Err((-2, message)),
                    Ok((key, quota, window)) => match caller.data().limiter.clone() {
                        None => Err((-1, NO_QUOTAS.to_owned())),
                        Some(limiter) => {
                            let key = format!("{}:{key}", caller.data().plugin);
                            let outcome = limiter.take(&key, quota, window).await;
                            let ticks = caller.data().deadline_ticks;
                            caller.as_context_mut().set_epoch_deadline(ticks);
                            outcome.map_err(unavailable)
                        }
                    },
                };
                write_decision(&mut caller, out, outcome)
            })
        },
    )?;
    Ok(())
}

const NO_QUOTAS: &str = "this host keeps no quotas";

fn unavailable(e: LimitError) -> (i32, String) {
    match e {
        LimitError::Unavailable(m) => (-1, m),
    }
}

/// Writes a decision at `out` (0), or puts the message in the result slot (-1, -2).
fn write_decision(
    caller: &mut Caller<'_, HostState>,
    out: i32,
    outcome: Result<crate::Decision, (i32, String)>,
) -> wasmtime::Result<i32> {
    match outcome {
        Ok(d) => {
            let mut record = [0u8; DECISION_BYTES];
            let reset = u64::try_from(d.reset.as_millis()).unwrap_or(u64::MAX);
            for (i, v) in [u64::from(d.allowed), d.remaining, reset]
                .into_iter()
                .enumerate()
            {
                record[i * 8..i * 8 + 8].copy_from_slice(&v.to_le_bytes());
            }
            crate::memory::GuestMemory::of(caller)?.write(caller, out, &record)?;
            Ok(0)
        }
        Err((code, message)) => {
            caller.data_mut().give(message);
            Ok(code)
        }
    }
}

/// `host_policy(ptr, len) -> i32`, during `init` only: the policy the gateway applies itself
/// from now on (JSON, see [`crate::limit_rule`]); 0, -1 outside `init` or without a limiter,
/// -2 with the reason in the result slot.
fn host_policy(mut caller: Caller<'_, HostState>, ptr: i32, len: i32) -> wasmtime::Result<i32> {
    let raw = read_bytes(&mut caller, ptr, len)?;
    let state = caller.data_mut();
    if !state.in_init || state.limiter.is_none() {
        return Ok(-1);
    }
    Ok(
        match crate::limit_rule::LimitRule::parse(&state.plugin, &raw) {
            Ok(rule) => {
                state.limit_rule = Some(std::sync::Arc::new(rule));
                0
            }
            Err(reason) => {
                state.give(reason);
                -2
            }
        },
    )
}

/// `report(pptr, plen, lptr, llen) -> i32`: this request's `RateLimit-Policy` and
/// `RateLimit` members; 0, or -1 when either is not a valid field value.
fn report(
    mut caller: Caller<'_, HostState>,
    pptr: i32,
    plen: i32,
    lptr: i32,
    llen: i32,
) -> wasmtime::Result<i32> {
    let policy = http::HeaderValue::from_bytes(borrow(&mut caller, pptr, plen)?.0);
    let limit = http::HeaderValue::from_bytes(borrow(&mut caller, lptr, llen)?.0);
    let (Ok(policy), Ok(limit)) = (policy, limit) else {
        return Ok(-1);
    };
    if policy.is_empty() || limit.is_empty() {
        return Ok(-1);
    }
    caller
        .data_mut()
        .exchange
        .rate_limit_fields
        .push(crate::RateLimitFields { policy, limit });
    Ok(0)
}

fn encode(outcome: Option<Result<crate::Decision, LimitError>>) -> String {
    match outcome {
        // The hot path, written directly: numbers and a boolean need no escaping.
        Some(Ok(d)) => format!(
            r#"{{"allowed":{},"limit":{},"remaining":{},"reset_ms":{}}}"#,
            d.allowed,
            d.limit,
            d.remaining,
            u64::try_from(d.reset.as_millis()).unwrap_or(u64::MAX)
        ),
        Some(Err(LimitError::Unavailable(m))) => {
            json!({"error": "unavailable", "message": m}).to_string()
        }
        None => json!({"error": "unavailable", "message": "this host keeps no quotas"}).to_string(),
    }
}

fn check(key: &[u8], quota: i64, window_ms: i64) -> Result<(String, u64, Duration), String> {
    check_ref(key, quota, window_ms).map(|(key, quota, window)| (key.to_owned(), quota, window))
}

fn check_ref(key: &[u8], quota: i64, window_ms: i64) -> Result<(&str, u64, Duration), String> {
    let key = std::str::from_utf8(key).map_err(|_| "the key is not UTF-8".to_owned())?;
    if key.is_empty() || key.len() > MAX_KEY {
        return Err(format!("the key must have 1 to {MAX_KEY} bytes"));
    }
    let quota = u64::try_from(quota)
        .ok()
        .filter(|q| *q >= 1)
        .ok_or_else(|| format!("quota {quota} is not a positive integer"))?;
    let window = u64::try_from(window_ms)
        .ok()
        .filter(|w| *w >= 1)
        .ok_or_else(|| format!("window_ms {window_ms} is not a positive integer"))?;
    Ok((key, quota, Duration::from_millis(window)))
}
