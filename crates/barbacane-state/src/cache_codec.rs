//! The bytes of a cached response in a shared store (Redis): version 1 is
//! `[1][status u16][stored_at_ms u64][header count u16]` then per header
//! `[name length u16][name][value length u32][value]`, then the body; integers big-endian.
//! Written by hand because it is six fields and must round-trip header bytes exactly
//! (values need not be UTF-8); anything that does not decode is treated as a miss.

use barbacane_wasm::CachedResponse;
use bytes::{BufMut, Bytes, BytesMut};

const VERSION: u8 = 1;

/// Encodes a response.
pub fn encode(response: &CachedResponse) -> Vec<u8> {
    let mut out = BytesMut::with_capacity(response.body.len() + 64);
    out.put_u8(VERSION);
    out.put_u16(response.status.as_u16());
    out.put_u64(response.stored_at_ms);
    let count = u16::try_from(response.headers.len()).unwrap_or(u16::MAX);
    out.put_u16(count);
    for (name, value) in response.headers.iter().take(usize::from(count)) {
        out.put_u16(u16::try_from(name.as_str().len()).unwrap_or(0));
        out.put_slice(name.as_str().as_bytes());
        out.put_u32(u32::try_from(value.len()).unwrap_or(0));
        out.put_slice(value.as_bytes());
    }
    out.put_slice(&response.body);
    out.to_vec()
}

/// Decodes a response; `None` when the bytes are not one.
pub fn decode(bytes: Bytes) -> Option<CachedResponse> {
    let mut at = 0usize;
    let take = |at: &mut usize, n: usize| -> Option<Bytes> {
        let end = at.checked_add(n)?;
        let slice = bytes.get(*at..end)?;
        let out = bytes.slice_ref(slice);
        *at = end;
        Some(out)
    };
    let version = take(&mut at, 1)?;
    if version[0] != VERSION {
        return None;
    }
    let status = u16::from_be_bytes(take(&mut at, 2)?.as_ref().try_into().ok()?);
    let stored_at_ms = u64::from_be_bytes(take(&mut at, 8)?.as_ref().try_into().ok()?);
    let count = u16::from_be_bytes(take(&mut at, 2)?.as_ref().try_into().ok()?);
    let mut headers = http::HeaderMap::with_capacity(usize::from(count));
    for _ in 0..count {
        let n = u16::from_be_bytes(take(&mut at, 2)?.as_ref().try_into().ok()?);
        let name = http::HeaderName::from_bytes(&take(&mut at, usize::from(n))?).ok()?;
        let n = u32::from_be_bytes(take(&mut at, 4)?.as_ref().try_into().ok()?);
        let value =
            http::HeaderValue::from_maybe_shared(take(&mut at, usize::try_from(n).ok()?)?).ok()?;
        headers.append(name, value);
    }
    Some(CachedResponse {
        status: http::StatusCode::from_u16(status).ok()?,
        headers,
        body: bytes.slice(at..),
        stored_at_ms,
        expires_at: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn responses_round_trip_and_garbage_is_refused() {
        let mut headers = http::HeaderMap::new();
        headers.append("set-thing", http::HeaderValue::from_static("a"));
        headers.append("set-thing", http::HeaderValue::from_static("b"));
        headers.insert(
            "x-bytes",
            http::HeaderValue::from_bytes(&[0xff, b'z']).unwrap(),
        );
        let response = CachedResponse {
            status: http::StatusCode::NOT_FOUND,
            headers,
            body: Bytes::from_static(b"{\"a\":1}"),
            stored_at_ms: 1_700_000_000_123,
            expires_at: None,
        };
        let bytes = Bytes::from(encode(&response));
        let back = decode(bytes.clone()).unwrap();
        assert_eq!(back.status, 404);
        assert_eq!(back.stored_at_ms, 1_700_000_000_123);
        assert_eq!(back.body, response.body);
        let values: Vec<_> = back.headers.get_all("set-thing").iter().collect();
        assert_eq!(values, ["a", "b"]);
        assert_eq!(back.headers["x-bytes"].as_bytes(), [0xff, b'z']);
        for cut in 0..bytes.len() - response.body.len() {
            assert!(decode(bytes.slice(..cut)).is_none(), "cut at {cut}");
        }
        assert!(decode(Bytes::from_static(b"\x02rest")).is_none());
    }
}
