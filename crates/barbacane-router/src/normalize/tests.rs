use super::*;

fn segs(raw: &str) -> Vec<String> {
    match normalize_path(raw) {
        Ok(p) => p.segments().map(str::to_owned).collect(),
        Err(e) => panic!("{raw}: {e}"),
    }
}

fn err(raw: &str) -> PathError {
    match normalize_path(raw) {
        Ok(p) => panic!("{raw} normalized to {p:?}"),
        Err(e) => e,
    }
}

#[test]
fn root() {
    for raw in ["/", "//", "/./", "/a/..", "/a/b/../../"] {
        let p = normalize_path(raw).unwrap();
        assert!(p.is_empty(), "{raw}");
        assert_eq!(p.to_path_string(), "/");
        assert!(p.as_strs().is_empty());
    }
}

#[test]
fn must_be_absolute() {
    assert_eq!(err(""), PathError::NotAbsolute);
    assert_eq!(err("a/b"), PathError::NotAbsolute);
    assert_eq!(err("*"), PathError::NotAbsolute);
    assert_eq!(err("%2Fa"), PathError::NotAbsolute);
}

#[test]
fn empty_segments_are_dropped() {
    assert_eq!(segs("//a///b/"), ["a", "b"]);
    assert_eq!(segs("/a/b"), ["a", "b"]);
}

#[test]
fn segments_are_decoded_after_splitting() {
    assert_eq!(segs("/a%2Fb/c"), ["a/b", "c"]);
    assert_eq!(segs("/a%20b/%41"), ["a b", "A"]);
    assert_eq!(segs("/%C3%A9t%c3%a9"), ["été"]);
    assert_eq!(segs("/a+b"), ["a+b"]);
    assert_eq!(segs("/%25"), ["%"]);
}

#[test]
fn undecoded_segments_borrow() {
    let p = normalize_path("/users/42/a%20b/%2e%2e/c%2Fd").unwrap();
    assert_eq!(p.in_decoded & 0b111, 0b100);
    assert_eq!(&*p.as_strs(), ["users", "42", "c/d"]);
    let p = normalize_path("/users/42").unwrap();
    assert_eq!(p.decoded.capacity(), 0);
}

#[test]
fn malformed_escapes() {
    for raw in ["/%", "/a%2", "/%zz", "/a/%g1/b", "/%%41"] {
        assert_eq!(err(raw), PathError::InvalidPercentEncoding, "{raw}");
    }
}

#[test]
fn invalid_utf8() {
    assert_eq!(err("/%FF"), PathError::InvalidUtf8);
    assert_eq!(err("/%C3"), PathError::InvalidUtf8);
    assert_eq!(err("/%C3/%A9"), PathError::InvalidUtf8);
}

#[test]
fn nul_bytes() {
    assert_eq!(err("/a%00b"), PathError::NulByte);
    assert_eq!(err("/a\0b"), PathError::NulByte);
}

#[test]
fn dot_segments() {
    assert_eq!(segs("/a/./b/."), ["a", "b"]);
    assert_eq!(segs("/a/b/../c"), ["a", "c"]);
    assert_eq!(segs("/a/%2e/b/%2E%2e/c"), ["a", "c"]);
    assert_eq!(segs("/a/.../..b/.c"), ["a", "...", "..b", ".c"]);
    assert_eq!(err("/.."), PathError::EscapesRoot);
    assert_eq!(err("/a/../../b"), PathError::EscapesRoot);
    assert_eq!(err("/%2e%2e/etc/passwd"), PathError::EscapesRoot);
}

#[test]
fn segment_limit() {
    let max = "/s".repeat(MAX_SEGMENTS);
    assert_eq!(normalize_path(&max).unwrap().len(), MAX_SEGMENTS);
    assert_eq!(err(&format!("{max}/s")), PathError::TooManySegments);
    // Dropped segments do not count.
    assert!(normalize_path(&format!("{max}/./../s")).is_ok());
}

#[test]
fn path_string_round_trips() {
    let p = normalize_path("/a%2Fb/c%20d/%7B%7D/é/x%3Fy").unwrap();
    let s = p.to_path_string();
    assert_eq!(s, "/a%2Fb/c%20d/%7B%7D/%C3%A9/x%3Fy");
    assert_eq!(normalize_path(&s).unwrap(), p);
}

#[test]
fn as_strs_and_equality() {
    let p = normalize_path("/a/b/").unwrap();
    assert_eq!(&*p.as_strs(), ["a", "b"]);
    assert_eq!(p.as_strs().as_ref(), ["a", "b"]);
    assert_eq!(p, normalize_path("//a/x/../b").unwrap());
    assert_ne!(p, normalize_path("/a").unwrap());
    assert_eq!(format!("{p:?}"), r#"["a", "b"]"#);
}

#[test]
fn errors_display() {
    for e in [
        PathError::NotAbsolute,
        PathError::InvalidPercentEncoding,
        PathError::InvalidUtf8,
        PathError::NulByte,
        PathError::EscapesRoot,
        PathError::TooManySegments,
        PathError::TooLong,
    ] {
        assert!(!e.to_string().is_empty());
    }
}

#[test]
fn length_limit() {
    let max = format!("/{}", "a".repeat(usize::from(u16::MAX) - 1));
    assert_eq!(
        normalize_path(&max).unwrap().get(0).map(str::len),
        Some(max.len() - 1)
    );
    assert_eq!(err(&format!("{max}b")), PathError::TooLong);
}

#[test]
fn get_by_index() {
    let p = normalize_path("/a/%62").unwrap();
    assert_eq!((p.get(0), p.get(1), p.get(2)), (Some("a"), Some("b"), None));
}

#[test]
fn special_byte_scan() {
    let text = b"abcdefgh/ijklmnop%qrstuvw\0xyz";
    let expected: Vec<usize> = (0..=text.len())
        .map(|from| {
            let rest = text.get(from..).unwrap_or_default();
            let found = rest.iter().position(|b| matches!(b, b'/' | b'%' | 0));
            found.map_or(text.len(), |i| from + i)
        })
        .collect();
    let got: Vec<usize> = (0..=text.len())
        .map(|from| next_special(text, from))
        .collect();
    assert_eq!(got, expected);
    // Bytes just above and below the special ones, and high bytes, are not special.
    let near = [b'.', b'0', b'$', b'&', 0x01, 0xff, 0x80, 0xaf, 0xa5];
    assert_eq!(next_special(&near.repeat(3), 0), near.len() * 3);
}

#[test]
fn tail_borrows_when_it_can() {
    use std::borrow::Cow;
    let borrowed = |raw: &str, from: usize, want: &str| {
        let p = normalize_path(raw).unwrap();
        match p.tail_from(from) {
            Cow::Borrowed(got) => assert_eq!(got, want, "{raw}"),
            Cow::Owned(got) => panic!("{raw}: {got} was joined"),
        }
    };
    let joined = |raw: &str, from: usize, want: &str| {
        let p = normalize_path(raw).unwrap();
        match p.tail_from(from) {
            Cow::Owned(got) => assert_eq!(got, want, "{raw}"),
            Cow::Borrowed(got) => panic!("{raw}: {got} was borrowed"),
        }
    };
    borrowed("/a/b/c", 1, "b/c");
    borrowed("/a/b/c/", 0, "a/b/c");
    borrowed("//a//b/c", 1, "b/c");
    borrowed("/a/b%20c", 1, "b c");
    borrowed("/a", 1, "");
    borrowed("/a", 7, "");
    joined("/a/b//c", 1, "b/c");
    joined("/a/./b", 0, "a/b");
    joined("/a/x/../b", 0, "a/b");
    joined("/a/b%20c/d", 1, "b c/d");
    joined("/%41/%42", 0, "A/B");
    // A decoded segment that was popped leaves no trace.
    borrowed("/a/%41/../b/c", 1, "b/c");
}
