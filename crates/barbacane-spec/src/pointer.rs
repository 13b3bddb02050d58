//! JSON pointers (RFC 6901) and `$ref` values.

use percent_encoding::percent_decode_str;

/// Escapes one reference token (`~` -> `~0`, `/` -> `~1`).
pub fn escape(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

/// Appends a token to a pointer.
pub fn push(pointer: &str, token: &str) -> String {
    format!("{pointer}/{}", escape(token))
}

/// Splits a pointer into unescaped tokens; `None` if it is not a valid pointer.
pub fn tokens(pointer: &str) -> Option<Vec<String>> {
    if pointer.is_empty() {
        return Some(Vec::new());
    }
    let rest = pointer.strip_prefix('/')?;
    rest.split('/')
        .map(|t| {
            if t.contains('~') {
                let mut out = String::with_capacity(t.len());
                let mut chars = t.chars();
                while let Some(c) = chars.next() {
                    if c == '~' {
                        match chars.next() {
                            Some('0') => out.push('~'),
                            Some('1') => out.push('/'),
                            _ => return None,
                        }
                    } else {
                        out.push(c);
                    }
                }
                Some(out)
            } else {
                Some(t.to_owned())
            }
        })
        .collect()
}

/// Follows a pointer inside a value.
pub fn resolve<'v>(value: &'v serde_json::Value, pointer: &str) -> Option<&'v serde_json::Value> {
    let mut current = value;
    for token in tokens(pointer)? {
        current = match current {
            serde_json::Value::Object(map) => map.get(&token)?,
            serde_json::Value::Array(items) => items.get(token.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(current)
}

/// A parsed `$ref`: the file part (empty for the same document) and the fragment pointer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefTarget {
    /// Relative file path, or `""` for the current document.
    pub file: String,
    /// Decoded JSON pointer (`""` for the whole document).
    pub pointer: String,
}

/// Parses a `$ref` value. Remote (`scheme:`) references are refused with a reason.
pub fn parse_ref(reference: &str) -> Result<RefTarget, &'static str> {
    let (file, fragment) = match reference.split_once('#') {
        Some((file, fragment)) => (file, fragment),
        None => (reference, ""),
    };
    if file.contains("://") || file.starts_with("urn:") {
        return Err("remote references are not supported; vendor the file next to the spec");
    }
    let pointer = percent_decode_str(fragment)
        .decode_utf8()
        .map_err(|_| "the fragment is not valid percent-encoded UTF-8")?
        .into_owned();
    if !pointer.is_empty() && !pointer.starts_with('/') {
        return Err("only JSON-pointer fragments (`#/...`) are supported");
    }
    Ok(RefTarget {
        file: file.to_owned(),
        pointer,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn escape_and_tokens_round_trip() {
        let p = push(&push("", "/pets/{id}"), "a~b");
        assert_eq!(p, "/~1pets~1{id}/a~0b");
        assert_eq!(tokens(&p).unwrap(), vec!["/pets/{id}", "a~b"]);
        assert!(tokens("no-slash").is_none());
        assert!(tokens("/bad~2").is_none());
    }

    #[test]
    fn resolve_walks_objects_and_arrays() {
        let v = json!({"a": [{"b": 1}]});
        assert_eq!(resolve(&v, "/a/0/b"), Some(&json!(1)));
        assert_eq!(resolve(&v, ""), Some(&v));
        assert_eq!(resolve(&v, "/a/x"), None);
    }

    #[test]
    fn refs_parse() {
        assert_eq!(parse_ref("#/components/schemas/Pet").unwrap().file, "");
        let r = parse_ref("common.yaml#/Pet%20Type").unwrap();
        assert_eq!(
            (r.file.as_str(), r.pointer.as_str()),
            ("common.yaml", "/Pet Type")
        );
        assert_eq!(parse_ref("other.json").unwrap().pointer, "");
        assert!(parse_ref("https://x/y.json#/a").is_err());
        assert!(parse_ref("#anchor").is_err());
    }
}
