//! `barbacane:ratelimit`: `take(kptr, klen, quota: i64, window_ms: i64) -> i32`.
//!
//! Takes one unit from the sliding-window bucket `<plugin>:<key>` (the plugin's name is
//! prefixed, so two plugins never share a bucket by accident) and puts JSON in the result
//! slot: `{"allowed", "limit", "remaining", "reset_ms"}`, or `{"error": "unavailable" |
//! "invalid", "message"}`. Asynchronous like `barbacane:http`: waiting on a shared backend
//! does not count against the plugin's budget.

use serde_json::json;
use std::time::Duration;
use wasmtime::{AsContextMut, Caller, Linker};

use crate::limiter::LimitError;
use crate::memory::read_bytes;
use crate::state::HostState;

/// Longest key a plugin may pass.
pub(crate) const MAX_KEY: usize = 512;

pub(crate) fn add_to_linker(
    linker: &mut Linker<HostState>,
    sync_limits: bool,
) -> wasmtime::Result<()> {
    if sync_limits {
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
    Ok(())
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
    Ok((key.to_owned(), quota, Duration::from_millis(window)))
}
