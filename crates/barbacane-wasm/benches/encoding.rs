//! What the rejected boundary encoding would cost: the whole request serialized as JSON for
//! every plugin hop, and the changed request serialized back.
//!
//! - `encoding/json_hop`: one hop of that design for a typical browser request (12 headers,
//!   one repeated, no body): the host encodes, the guest decodes, the guest encodes its
//!   result, the host decodes. Both sides run natively here, so this is a lower bound: in
//!   the sandbox the guest half runs slower and the bytes also cross into linear memory.
//!
//! The accessor ABI does the same job (read one header, set another) with two host calls
//! whose cost does not grow with the number of headers: compare with `wasm/header_middleware`
//! minus `wasm/noop_middleware_request_and_response` in the middleware bench, which run in a
//! real sandboxed instance.

use criterion::{Criterion, criterion_group, criterion_main};
use serde::{Deserialize, Serialize};

/// The request as a JSON-at-every-hop ABI would carry it (multi-valued headers).
#[derive(Serialize, Deserialize)]
struct WireRequest {
    method: String,
    path: String,
    query: Option<String>,
    headers: Vec<(String, Vec<String>)>,
}

fn typical_request() -> WireRequest {
    let header = |name: &str, values: &[&str]| {
        (
            name.to_string(),
            values.iter().map(|v| v.to_string()).collect(),
        )
    };
    WireRequest {
        method: "GET".into(),
        path: "/v1/pets/1234".into(),
        query: Some("fields=name,tag&expand=owner".into()),
        headers: vec![
            header("host", &["api.example.com"]),
            header(
                "user-agent",
                &["Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"],
            ),
            header("accept", &["application/json"]),
            header("accept-language", &["en-GB,en;q=0.9"]),
            header("accept-encoding", &["gzip, deflate, br, zstd"]),
            header(
                "authorization",
                &["Bearer eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.c2lnbmF0dXJl"],
            ),
            header("origin", &["https://app.example"]),
            header("referer", &["https://app.example/pets"]),
            header("cookie", &["session=0123456789abcdef", "theme=dark"]),
            header("x-request-id", &["6352236d-0854-49f7-bada-5fb20341deec"]),
            header("sec-fetch-mode", &["cors"]),
            header("connection", &["keep-alive"]),
        ],
    }
}

fn bench(c: &mut Criterion) {
    let request = typical_request();
    c.bench_function("encoding/json_hop", |b| {
        b.iter(|| {
            // Host -> guest.
            let inbound = serde_json::to_vec(&request).unwrap();
            let mut seen: WireRequest = serde_json::from_slice(&inbound).unwrap();
            // The plugin's work: read one header, set another.
            let value = seen
                .headers
                .iter()
                .find(|(name, _)| name == "x-request-id")
                .map(|(_, values)| values[0].clone())
                .unwrap_or_default();
            seen.headers.push(("x-correlation-id".into(), vec![value]));
            // Guest -> host.
            let outbound = serde_json::to_vec(&seen).unwrap();
            let back: WireRequest = serde_json::from_slice(&outbound).unwrap();
            back.headers.len()
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
