//! Plugin versions and references: `name`, `name@1.2.3` (exact), `name@^1.2` (compatible).
//! One implementation shared by the compiler and the control plane's registry.

/// Parses `MAJOR.MINOR.PATCH` (no pre-release or build metadata).
pub fn parse_version(v: &str) -> Option<(u64, u64, u64)> {
    let mut parts = v.split('.').map(|p| {
        (!p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
            .then(|| p.parse::<u64>().ok())
            .flatten()
    });
    let version = (parts.next()??, parts.next()??, parts.next()??);
    parts.next().is_none().then_some(version)
}

/// Splits a plugin reference into its name and optional version requirement.
pub fn split_reference(reference: &str) -> (&str, Option<&str>) {
    match reference.split_once('@') {
        Some((name, req)) => (name, Some(req)),
        None => (reference, None),
    }
}

/// Whether `version` satisfies `req`: `1.2.3` or `=1.2.3` exactly; `^1`, `^1.2`, `^1.2.3`
/// compatible (at least that version, same left-most non-zero component). `None` when the
/// requirement is malformed.
pub fn satisfies(version: (u64, u64, u64), req: &str) -> Option<bool> {
    let (caret, body) = match req.strip_prefix('^') {
        Some(b) => (true, b),
        None => (false, req.strip_prefix('=').unwrap_or(req)),
    };
    let parts: Vec<u64> = body
        .split('.')
        .map(|p| p.parse().ok())
        .collect::<Option<_>>()?;
    let wanted = match parts.as_slice() {
        [a] if caret => (*a, 0, 0),
        [a, b] if caret => (*a, *b, 0),
        [a, b, c] => (*a, *b, *c),
        _ => return None,
    };
    if !caret {
        return Some(version == wanted);
    }
    let compatible = if wanted.0 > 0 {
        version.0 == wanted.0
    } else if wanted.1 > 0 {
        version.0 == 0 && version.1 == wanted.1
    } else {
        version == wanted
    };
    Some(version >= wanted && compatible)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requirements() {
        assert_eq!(satisfies((1, 2, 3), "1.2.3"), Some(true));
        assert_eq!(satisfies((1, 2, 4), "=1.2.3"), Some(false));
        assert_eq!(satisfies((1, 9, 0), "^1.2"), Some(true));
        assert_eq!(satisfies((2, 0, 0), "^1.2"), Some(false));
        assert_eq!(satisfies((1, 1, 0), "^1.2"), Some(false));
        assert_eq!(satisfies((0, 2, 5), "^0.2.1"), Some(true));
        assert_eq!(satisfies((0, 3, 0), "^0.2"), Some(false));
        assert_eq!(satisfies((0, 0, 4), "^0.0.3"), Some(false));
        assert_eq!(satisfies((1, 0, 0), "latest"), None);
        assert_eq!(split_reference("cors@^1.0"), ("cors", Some("^1.0")));
        assert_eq!(parse_version("01.2.3"), Some((1, 2, 3)));
        assert_eq!(parse_version("1.2.3-beta"), None);
    }
}
