//! The gateway's imports (ABI v1, `docs/plugin-abi.md`) and safe wrappers around them. This
//! file holds all of the SDK's unsafe code.
#![allow(unsafe_code)]

use super::{RateLimitAnswer, Side};

#[link(wasm_import_module = "barbacane:core")]
unsafe extern "C" {
    fn result_read(ptr: *mut u8, len: i32) -> i32;
    fn set_output(ptr: *const u8, len: i32);
    #[link_name = "random"]
    fn core_random(ptr: *mut u8, len: i32);
    fn buffer_bodies(flags: i32) -> i32;
    #[link_name = "skip_on_response"]
    fn core_skip_on_response() -> i32;
}

#[link(wasm_import_module = "barbacane:log")]
unsafe extern "C" {
    #[link_name = "log"]
    fn log_write(level: i32, ptr: *const u8, len: i32);
}

#[link(wasm_import_module = "barbacane:telemetry")]
unsafe extern "C" {
    #[link_name = "metric_counter_inc"]
    fn tel_counter_inc(nptr: *const u8, nlen: i32, lptr: *const u8, llen: i32, by: i64) -> i32;
    #[link_name = "metric_histogram_observe"]
    fn tel_histogram_observe(
        nptr: *const u8,
        nlen: i32,
        lptr: *const u8,
        llen: i32,
        value: f64,
    ) -> i32;
    #[link_name = "span_start"]
    fn tel_span_start(nptr: *const u8, nlen: i32) -> i32;
    #[link_name = "span_set_attribute"]
    fn tel_span_set_attribute(
        span: i32,
        kptr: *const u8,
        klen: i32,
        vptr: *const u8,
        vlen: i32,
    ) -> i32;
    #[link_name = "span_end"]
    fn tel_span_end(span: i32) -> i32;
}

#[link(wasm_import_module = "barbacane:context")]
unsafe extern "C" {
    #[link_name = "get"]
    fn context_get_raw(kptr: *const u8, klen: i32) -> i32;
    #[link_name = "set"]
    fn context_set_raw(kptr: *const u8, klen: i32, vptr: *const u8, vlen: i32);
}

#[link(wasm_import_module = "barbacane:clock")]
unsafe extern "C" {
    #[link_name = "now_ms"]
    fn clock_now_ms() -> i64;
    #[link_name = "monotonic_ns"]
    fn clock_monotonic_ns() -> i64;
}

#[link(wasm_import_module = "barbacane:request")]
unsafe extern "C" {
    #[link_name = "method"]
    fn req_method() -> i32;
    #[link_name = "path"]
    fn req_path() -> i32;
    #[link_name = "path_param"]
    fn req_path_param(nptr: *const u8, nlen: i32) -> i32;
    #[link_name = "query"]
    fn req_query() -> i32;
    #[link_name = "body"]
    fn req_body() -> i32;
    #[link_name = "header"]
    fn req_header(nptr: *const u8, nlen: i32, index: i32) -> i32;
    #[link_name = "header_count"]
    fn req_header_count(nptr: *const u8, nlen: i32) -> i32;
    #[link_name = "header_names"]
    fn req_header_names() -> i32;
    #[link_name = "set_header"]
    fn req_set_header(nptr: *const u8, nlen: i32, vptr: *const u8, vlen: i32) -> i32;
    #[link_name = "add_header"]
    fn req_add_header(nptr: *const u8, nlen: i32, vptr: *const u8, vlen: i32) -> i32;
    #[link_name = "remove_header"]
    fn req_remove_header(nptr: *const u8, nlen: i32) -> i32;
    #[link_name = "set_path"]
    fn req_set_path(ptr: *const u8, len: i32) -> i32;
    #[link_name = "set_query"]
    fn req_set_query(ptr: *const u8, len: i32) -> i32;
    #[link_name = "set_body"]
    fn req_set_body(ptr: *const u8, len: i32) -> i32;
    #[link_name = "set_method"]
    fn req_set_method(ptr: *const u8, len: i32) -> i32;
    #[link_name = "client_ip"]
    fn req_client_ip() -> i32;
}

#[link(wasm_import_module = "barbacane:response")]
unsafe extern "C" {
    #[link_name = "status"]
    fn resp_status() -> i32;
    #[link_name = "set_status"]
    fn resp_set_status(code: i32) -> i32;
    #[link_name = "body"]
    fn resp_body_raw() -> i32;
    #[link_name = "header"]
    fn resp_header(nptr: *const u8, nlen: i32, index: i32) -> i32;
    #[link_name = "header_count"]
    fn resp_header_count(nptr: *const u8, nlen: i32) -> i32;
    #[link_name = "header_names"]
    fn resp_header_names() -> i32;
    #[link_name = "set_header"]
    fn resp_set_header(nptr: *const u8, nlen: i32, vptr: *const u8, vlen: i32) -> i32;
    #[link_name = "add_header"]
    fn resp_add_header(nptr: *const u8, nlen: i32, vptr: *const u8, vlen: i32) -> i32;
    #[link_name = "remove_header"]
    fn resp_remove_header(nptr: *const u8, nlen: i32) -> i32;
    #[link_name = "set_body"]
    fn resp_set_body(ptr: *const u8, len: i32) -> i32;
}

#[link(wasm_import_module = "barbacane:http")]
unsafe extern "C" {
    #[link_name = "call"]
    fn http_call_raw(hptr: *const u8, hlen: i32, bptr: *const u8, blen: i32) -> i32;
    #[link_name = "response_body"]
    fn http_response_body_raw() -> i32;
    #[link_name = "send_detached"]
    fn http_send_detached_raw(hptr: *const u8, hlen: i32, bptr: *const u8, blen: i32) -> i32;
}

#[link(wasm_import_module = "barbacane:nats")]
unsafe extern "C" {
    #[link_name = "publish"]
    fn nats_publish_raw(hptr: *const u8, hlen: i32, bptr: *const u8, blen: i32) -> i32;
}

#[link(wasm_import_module = "barbacane:kafka")]
unsafe extern "C" {
    #[link_name = "publish"]
    fn kafka_publish_raw(hptr: *const u8, hlen: i32, bptr: *const u8, blen: i32) -> i32;
}

#[link(wasm_import_module = "barbacane:secrets")]
unsafe extern "C" {
    #[link_name = "get"]
    fn secrets_get(ptr: *const u8, len: i32) -> i32;
}

#[link(wasm_import_module = "barbacane:cache")]
unsafe extern "C" {
    #[link_name = "lookup"]
    fn cache_lookup_raw(kptr: *const u8, klen: i32, wait_ms: i32) -> i32;
    #[link_name = "store"]
    fn cache_store_raw(kptr: *const u8, klen: i32, ttl_ms: i64) -> i32;
    #[link_name = "serve_hits"]
    fn cache_serve_hits_raw(ptr: *const u8, len: i32) -> i32;
}

#[link(wasm_import_module = "barbacane:ratelimit")]
unsafe extern "C" {
    #[link_name = "take_into"]
    fn ratelimit_take_into_raw(
        kptr: *const u8,
        klen: i32,
        quota: i64,
        window_ms: i64,
        out: *mut u8,
    ) -> i32;
    #[link_name = "report"]
    fn ratelimit_report_raw(pptr: *const u8, plen: i32, lptr: *const u8, llen: i32) -> i32;
    #[link_name = "host_policy"]
    fn ratelimit_host_policy_raw(ptr: *const u8, len: i32) -> i32;
}

#[link(wasm_import_module = "barbacane:crypto")]
unsafe extern "C" {
    #[link_name = "verify"]
    fn crypto_verify_raw(
        aptr: *const u8,
        alen: i32,
        kptr: *const u8,
        klen: i32,
        mptr: *const u8,
        mlen: i32,
        sptr: *const u8,
        slen: i32,
    ) -> i32;
    #[link_name = "hmac"]
    fn crypto_hmac_raw(
        aptr: *const u8,
        alen: i32,
        kptr: *const u8,
        klen: i32,
        mptr: *const u8,
        mlen: i32,
    ) -> i32;
    #[link_name = "sha256"]
    fn crypto_sha256_raw(ptr: *const u8, len: i32) -> i32;
    #[link_name = "constant_time_eq"]
    fn crypto_eq_raw(aptr: *const u8, alen: i32, bptr: *const u8, blen: i32) -> i32;
    #[link_name = "bcrypt_verify"]
    fn crypto_bcrypt_raw(pptr: *const u8, plen: i32, hptr: *const u8, hlen: i32) -> i32;
}

#[link(wasm_import_module = "barbacane:policy")]
unsafe extern "C" {
    #[link_name = "eval"]
    fn policy_eval_raw(
        pptr: *const u8,
        plen: i32,
        qptr: *const u8,
        qlen: i32,
        iptr: *const u8,
        ilen: i32,
        with: i32,
    ) -> i32;
    #[link_name = "input"]
    fn policy_input_raw(with: i32) -> i32;
}

/// Lengths cross the boundary as `i32`; the SDK never passes anything near 2 GiB.
fn len(bytes: &[u8]) -> i32 {
    i32::try_from(bytes.len()).unwrap_or(i32::MAX)
}

/// Copies the host's result slot out when `n` says there is a value (`n >= 0`).
fn take(n: i32) -> Option<Vec<u8>> {
    let n = usize::try_from(n).ok()?;
    let mut buf = Vec::with_capacity(n);
    // SAFETY: `buf` has capacity for `n` bytes; the host writes at most `n` and returns the
    // count it wrote, which bounds what `set_len` exposes.
    unsafe {
        let written = result_read(buf.as_mut_ptr(), len_of(n));
        buf.set_len(usize::try_from(written).unwrap_or(0).min(n));
    }
    Some(buf)
}

fn len_of(n: usize) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

/// The configuration bytes the host copied into memory it got from `barbacane_alloc`.
pub(crate) fn config_bytes(ptr: i32, n: i32) -> &'static [u8] {
    match (usize::try_from(ptr), usize::try_from(n)) {
        (Ok(p), Ok(n)) if p != 0 && n != 0 => {
            // SAFETY: the host wrote `n` bytes at `ptr`, a block of at least `n` bytes it
            // obtained from `barbacane_alloc`; the block is leaked (never freed; `init`
            // runs once per instance), so the slice stays valid.
            unsafe { std::slice::from_raw_parts(p as *const u8, n) }
        }
        _ => &[],
    }
}

/// Memory for the host to write into (`barbacane_alloc`); leaked on purpose.
pub(crate) fn alloc(size: i32) -> i32 {
    let size = usize::try_from(size).unwrap_or(0).max(1);
    let block: &'static mut [u8] = Vec::leak(vec![0u8; size]);
    block.as_mut_ptr() as usize as i32
}

pub(crate) fn output(bytes: &[u8]) {
    // SAFETY: a valid slice for the duration of the call.
    unsafe { set_output(bytes.as_ptr(), len(bytes)) }
}

pub(crate) fn random(buf: &mut [u8]) {
    // SAFETY: a valid, writable slice for the duration of the call.
    unsafe { core_random(buf.as_mut_ptr(), len(buf)) }
}

pub(crate) fn want_bodies(flags: i32) -> bool {
    // SAFETY: no pointers cross.
    unsafe { buffer_bodies(flags) == 0 }
}

pub(crate) fn log(level: i32, message: &str) {
    // SAFETY: a valid slice for the duration of the call.
    unsafe { log_write(level, message.as_ptr(), len(message.as_bytes())) }
}

pub(crate) fn context_get(key: &str) -> Option<Vec<u8>> {
    // SAFETY: a valid slice for the duration of the call.
    take(unsafe { context_get_raw(key.as_ptr(), len(key.as_bytes())) })
}

pub(crate) fn context_set(key: &str, value: &str) {
    // SAFETY: valid slices for the duration of the call.
    unsafe {
        context_set_raw(
            key.as_ptr(),
            len(key.as_bytes()),
            value.as_ptr(),
            len(value.as_bytes()),
        )
    }
}

pub(crate) fn now_ms() -> i64 {
    // SAFETY: no arguments.
    unsafe { clock_now_ms() }
}

pub(crate) fn monotonic_ns() -> i64 {
    // SAFETY: no arguments.
    unsafe { clock_monotonic_ns() }
}

pub(crate) fn method() -> Vec<u8> {
    // SAFETY: no arguments.
    take(unsafe { req_method() }).unwrap_or_default()
}

pub(crate) fn path() -> Vec<u8> {
    // SAFETY: no arguments.
    take(unsafe { req_path() }).unwrap_or_default()
}

pub(crate) fn path_param(name: &str) -> Option<Vec<u8>> {
    // SAFETY: a valid slice for the duration of the call.
    take(unsafe { req_path_param(name.as_ptr(), len(name.as_bytes())) })
}

pub(crate) fn query() -> Option<Vec<u8>> {
    // SAFETY: no arguments.
    take(unsafe { req_query() })
}

pub(crate) fn body(side: Side) -> Option<Vec<u8>> {
    // SAFETY: no arguments.
    take(unsafe {
        match side {
            Side::Request => req_body(),
            Side::Response => resp_body_raw(),
        }
    })
}

pub(crate) fn header(side: Side, name: &str, index: usize) -> Option<Vec<u8>> {
    let (p, n, i) = (name.as_ptr(), len(name.as_bytes()), len_of(index));
    // SAFETY: a valid slice for the duration of the call.
    take(unsafe {
        match side {
            Side::Request => req_header(p, n, i),
            Side::Response => resp_header(p, n, i),
        }
    })
}

pub(crate) fn header_count(side: Side, name: &str) -> usize {
    let (p, n) = (name.as_ptr(), len(name.as_bytes()));
    // SAFETY: a valid slice for the duration of the call.
    let count = unsafe {
        match side {
            Side::Request => req_header_count(p, n),
            Side::Response => resp_header_count(p, n),
        }
    };
    usize::try_from(count).unwrap_or(0)
}

pub(crate) fn header_names(side: Side) -> Vec<u8> {
    // SAFETY: no arguments.
    take(unsafe {
        match side {
            Side::Request => req_header_names(),
            Side::Response => resp_header_names(),
        }
    })
    .unwrap_or_default()
}

pub(crate) fn set_header(side: Side, name: &str, value: &[u8], append: bool) -> bool {
    let (np, nl, vp, vl) = (
        name.as_ptr(),
        len(name.as_bytes()),
        value.as_ptr(),
        len(value),
    );
    // SAFETY: valid slices for the duration of the call.
    let code = unsafe {
        match (side, append) {
            (Side::Request, false) => req_set_header(np, nl, vp, vl),
            (Side::Request, true) => req_add_header(np, nl, vp, vl),
            (Side::Response, false) => resp_set_header(np, nl, vp, vl),
            (Side::Response, true) => resp_add_header(np, nl, vp, vl),
        }
    };
    code == 0
}

pub(crate) fn remove_header(side: Side, name: &str) {
    let (p, n) = (name.as_ptr(), len(name.as_bytes()));
    // SAFETY: a valid slice for the duration of the call.
    unsafe {
        match side {
            Side::Request => req_remove_header(p, n),
            Side::Response => resp_remove_header(p, n),
        };
    }
}

pub(crate) fn set_body(side: Side, body: &[u8]) -> bool {
    // SAFETY: a valid slice for the duration of the call.
    let code = unsafe {
        match side {
            Side::Request => req_set_body(body.as_ptr(), len(body)),
            Side::Response => resp_set_body(body.as_ptr(), len(body)),
        }
    };
    code == 0
}

pub(crate) fn set_path(path: &str) -> bool {
    // SAFETY: a valid slice for the duration of the call.
    unsafe { req_set_path(path.as_ptr(), len(path.as_bytes())) == 0 }
}

pub(crate) fn set_query(query: &str) -> bool {
    // SAFETY: a valid slice for the duration of the call.
    unsafe { req_set_query(query.as_ptr(), len(query.as_bytes())) == 0 }
}

pub(crate) fn set_method(method: &str) -> bool {
    // SAFETY: a valid slice for the duration of the call.
    unsafe { req_set_method(method.as_ptr(), len(method.as_bytes())) == 0 }
}

pub(crate) fn client_ip() -> Option<Vec<u8>> {
    // SAFETY: no arguments.
    take(unsafe { req_client_ip() })
}

pub(crate) fn status() -> Option<u16> {
    // SAFETY: no arguments.
    let code = unsafe { resp_status() };
    u16::try_from(code).ok().filter(|c| *c != 0)
}

pub(crate) fn set_status(code: u16) -> bool {
    // SAFETY: no pointers.
    unsafe { resp_set_status(i32::from(code)) == 0 }
}

pub(crate) fn http_call(head: &[u8], body: &[u8]) -> Vec<u8> {
    // SAFETY: valid slices for the duration of the call.
    take(unsafe { http_call_raw(head.as_ptr(), len(head), body.as_ptr(), len(body)) })
        .unwrap_or_default()
}

pub(crate) fn nats_publish(head: &[u8], body: &[u8]) -> Vec<u8> {
    // SAFETY: valid slices for the duration of the call.
    take(unsafe { nats_publish_raw(head.as_ptr(), len(head), body.as_ptr(), len(body)) })
        .unwrap_or_default()
}

pub(crate) fn kafka_publish(head: &[u8], body: &[u8]) -> Vec<u8> {
    // SAFETY: valid slices for the duration of the call.
    take(unsafe { kafka_publish_raw(head.as_ptr(), len(head), body.as_ptr(), len(body)) })
        .unwrap_or_default()
}

pub(crate) fn http_send_detached(head: &[u8], body: &[u8]) -> i32 {
    // SAFETY: valid slices for the duration of the call.
    unsafe { http_send_detached_raw(head.as_ptr(), len(head), body.as_ptr(), len(body)) }
}

pub(crate) fn http_response_body() -> Option<Vec<u8>> {
    // SAFETY: no arguments.
    take(unsafe { http_response_body_raw() })
}

pub(crate) fn secret(reference: &str) -> Option<Vec<u8>> {
    // SAFETY: a valid slice for the duration of the call.
    take(unsafe { secrets_get(reference.as_ptr(), len(reference.as_bytes())) })
}

pub(crate) fn cache_lookup(key: &[u8], wait_ms: i32) -> i32 {
    // SAFETY: a valid slice for the duration of the call.
    unsafe { cache_lookup_raw(key.as_ptr(), len(key), wait_ms) }
}

pub(crate) fn cache_store(key: &[u8], ttl_ms: i64) -> i32 {
    // SAFETY: a valid slice for the duration of the call.
    unsafe { cache_store_raw(key.as_ptr(), len(key), ttl_ms) }
}

/// 0, or the host's code and message.
pub(crate) fn cache_serve_hits(rule: &[u8]) -> Result<(), (i32, String)> {
    // SAFETY: a valid slice for the duration of the call.
    match unsafe { cache_serve_hits_raw(rule.as_ptr(), len(rule)) } {
        0 => Ok(()),
        -2 => Err((-2, result_text())),
        code => Err((code, String::new())),
    }
}

pub(crate) fn ratelimit_take(key: &str, quota: i64, window_ms: i64) -> RateLimitAnswer {
    let mut record = [0u8; 24];
    // SAFETY: a valid slice for the duration of the call, and 24 writable bytes at `out`.
    let code = unsafe {
        ratelimit_take_into_raw(
            key.as_ptr(),
            len(key.as_bytes()),
            quota,
            window_ms,
            record.as_mut_ptr(),
        )
    };
    if code != 0 {
        return Err((code, result_text()));
    }
    let word = |i: usize| {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(&record[i * 8..i * 8 + 8]);
        u64::from_le_bytes(bytes)
    };
    Ok((word(0) != 0, word(1), word(2)))
}

/// 0, or the host's code and message.
pub(crate) fn ratelimit_host_policy(policy: &[u8]) -> Result<(), (i32, String)> {
    // SAFETY: a valid slice for the duration of the call.
    match unsafe { ratelimit_host_policy_raw(policy.as_ptr(), len(policy)) } {
        0 => Ok(()),
        -2 => Err((-2, result_text())),
        code => Err((code, String::new())),
    }
}

pub(crate) fn ratelimit_report(policy: &str, limit: &str) -> bool {
    // SAFETY: valid slices for the duration of the call.
    unsafe {
        ratelimit_report_raw(
            policy.as_ptr(),
            len(policy.as_bytes()),
            limit.as_ptr(),
            len(limit.as_bytes()),
        ) == 0
    }
}

pub(crate) fn skip_on_response() {
    // SAFETY: no arguments.
    unsafe {
        core_skip_on_response();
    }
}

pub(crate) fn crypto_verify(alg: &str, jwk: &[u8], msg: &[u8], sig: &[u8]) -> Result<bool, String> {
    // SAFETY: valid slices for the duration of the call.
    let n = unsafe {
        crypto_verify_raw(
            alg.as_ptr(),
            len(alg.as_bytes()),
            jwk.as_ptr(),
            len(jwk),
            msg.as_ptr(),
            len(msg),
            sig.as_ptr(),
            len(sig),
        )
    };
    match n {
        1 => Ok(true),
        0 => Ok(false),
        // The reason is in the result slot (its length is not returned: read up to 1 KiB).
        _ => Err(result_text()),
    }
}

pub(crate) fn policy_eval(
    policy: &str,
    query: &str,
    input: &[u8],
    with: i32,
) -> Result<Option<String>, String> {
    // SAFETY: valid slices for the duration of the call.
    let n = unsafe {
        policy_eval_raw(
            policy.as_ptr(),
            len(policy.as_bytes()),
            query.as_ptr(),
            len(query.as_bytes()),
            input.as_ptr(),
            len(input),
            with,
        )
    };
    match n {
        -2 => Ok(None),
        n if n >= 0 => Ok(Some(
            String::from_utf8_lossy(&take(n).unwrap_or_default()).into_owned(),
        )),
        _ => Err(result_text()),
    }
}

pub(crate) fn policy_input(with: i32) -> String {
    // SAFETY: no pointers.
    let bytes = take(unsafe { policy_input_raw(with) }).unwrap_or_default();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// The whole result slot as text (up to 1 KiB), for error reasons.
fn result_text() -> String {
    let mut buf = vec![0u8; 1024];
    // SAFETY: `buf` has room for 1024 bytes; the host writes at most that many.
    let written = unsafe { result_read(buf.as_mut_ptr(), 1024) };
    buf.truncate(usize::try_from(written).unwrap_or(0));
    String::from_utf8_lossy(&buf).into_owned()
}

pub(crate) fn crypto_hmac(alg: &str, key: &[u8], msg: &[u8]) -> Option<Vec<u8>> {
    // SAFETY: valid slices for the duration of the call.
    take(unsafe {
        crypto_hmac_raw(
            alg.as_ptr(),
            len(alg.as_bytes()),
            key.as_ptr(),
            len(key),
            msg.as_ptr(),
            len(msg),
        )
    })
}

pub(crate) fn crypto_sha256(bytes: &[u8]) -> [u8; 32] {
    // SAFETY: a valid slice for the duration of the call.
    let digest = take(unsafe { crypto_sha256_raw(bytes.as_ptr(), len(bytes)) }).unwrap_or_default();
    let mut out = [0u8; 32];
    let n = digest.len().min(32);
    out[..n].copy_from_slice(&digest[..n]);
    out
}

pub(crate) fn crypto_constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    // SAFETY: valid slices for the duration of the call.
    unsafe { crypto_eq_raw(a.as_ptr(), len(a), b.as_ptr(), len(b)) == 1 }
}

pub(crate) fn crypto_bcrypt_verify(password: &[u8], hash: &[u8]) -> Result<bool, String> {
    // SAFETY: valid slices for the duration of the call.
    match unsafe { crypto_bcrypt_raw(password.as_ptr(), len(password), hash.as_ptr(), len(hash)) } {
        1 => Ok(true),
        0 => Ok(false),
        _ => Err(result_text()),
    }
}

pub(crate) fn metric_counter_inc(name: &str, labels: &str, by: u64) -> bool {
    let by = i64::try_from(by).unwrap_or(i64::MAX);
    // SAFETY: both slices are valid for their lengths for the duration of the call.
    unsafe {
        tel_counter_inc(
            name.as_ptr(),
            len(name.as_bytes()),
            labels.as_ptr(),
            len(labels.as_bytes()),
            by,
        ) == 0
    }
}

pub(crate) fn metric_histogram_observe(name: &str, labels: &str, value: f64) -> bool {
    // SAFETY: both slices are valid for their lengths for the duration of the call.
    unsafe {
        tel_histogram_observe(
            name.as_ptr(),
            len(name.as_bytes()),
            labels.as_ptr(),
            len(labels.as_bytes()),
            value,
        ) == 0
    }
}

pub(crate) fn span_start(name: &str) -> i32 {
    // SAFETY: the slice is valid for its length for the duration of the call.
    unsafe { tel_span_start(name.as_ptr(), len(name.as_bytes())) }
}

pub(crate) fn span_set_attribute(span: i32, key: &str, value: &str) {
    // SAFETY: both slices are valid for their lengths for the duration of the call.
    unsafe {
        tel_span_set_attribute(
            span,
            key.as_ptr(),
            len(key.as_bytes()),
            value.as_ptr(),
            len(value.as_bytes()),
        );
    }
}

pub(crate) fn span_end(span: i32) {
    // SAFETY: a plain value call.
    unsafe {
        tel_span_end(span);
    }
}
