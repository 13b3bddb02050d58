//! Arbitrary request paths through normalization and lookup in a fixed table.
#![no_main]
use barbacane_router::{normalize_path, Method, RouterBuilder};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

fuzz_target!(|data: &[u8]| {
    static ROUTER: OnceLock<barbacane_router::Router<u8>> = OnceLock::new();
    let router = ROUTER.get_or_init(|| {
        let mut b = RouterBuilder::new();
        for (i, t) in ["/", "/a", "/a/{x}", "/a/{x}/b", "/files/{name}.{ext}", "/v{n}/x", "/{a}-{b}.json"].iter().enumerate() {
            let _ = b.insert(t, Method::Get, i as u8);
        }
        b.build()
    });
    if let Ok(path) = std::str::from_utf8(data) {
        if let Ok(normalized) = normalize_path(path) {
            let _ = router.lookup_normalized(Method::Get, &normalized);
            let _ = normalize_path(&normalized.to_path_string());
        }
    }
});
