use barbacane_router::{MAX_SEGMENTS, normalize_path};
use proptest::prelude::*;

/// Encodes every byte, so any string survives as one segment.
fn encode_all(segment: &str) -> String {
    segment.bytes().map(|b| format!("%{b:02X}")).collect()
}

fn check_normalized(raw: &str) {
    if let Ok(path) = normalize_path(raw) {
        assert!(path.len() <= MAX_SEGMENTS);
        for segment in path.segments() {
            assert!(!segment.is_empty());
            assert!(segment != "." && segment != "..");
            assert!(!segment.contains('\0'));
        }
        assert_eq!(&*path.as_strs(), path.segments().collect::<Vec<_>>());
        let canonical = path.to_path_string();
        let again = normalize_path(&canonical);
        assert_eq!(again.as_ref(), Ok(&path), "{raw}");
    }
}

proptest! {
    #[test]
    fn never_panics_on_any_string(raw in any::<String>()) {
        check_normalized(&raw);
        check_normalized(&format!("/{raw}"));
    }

    #[test]
    fn never_panics_on_path_like_strings(raw in "[/a.%2eEfF0\u{e9}]{0,40}") {
        check_normalized(&raw);
    }

    #[test]
    fn encoded_segments_survive(
        segments in prop::collection::vec(
            any::<String>().prop_filter("a real segment", |s| {
                !s.is_empty() && !s.contains('\0') && s != "." && s != ".."
            }),
            0..10,
        )
    ) {
        let mut raw: String = segments.iter().map(|s| format!("/{}", encode_all(s))).collect();
        if raw.is_empty() {
            raw.push('/');
        }
        let path = normalize_path(&raw).unwrap();
        prop_assert_eq!(path.segments().collect::<Vec<_>>(), segments.iter().map(String::as_str).collect::<Vec<_>>());
        let canonical = path.to_path_string();
        prop_assert_eq!(normalize_path(&canonical).unwrap(), path);
    }
}
