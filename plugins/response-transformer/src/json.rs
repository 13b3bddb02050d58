//! JSON bodies edited as text, addressed by JSON Pointers (RFC 6901).
//!
//! A body is first checked to be one valid JSON text (UTF-8, serde_json's parser); the
//! edits then splice that text: a removed member or element is cut out with its separating
//! comma, a written value replaces the old value's bytes or is inserted before the
//! container's closing bracket. Everything an operation does not touch keeps its bytes
//! (member order, whitespace, number spelling, string escapes), and memory stays in
//! proportion to the body, where a parsed tree could take several times its size.
//!
//! This file is the same in `request-transformer` and `response-transformer`; keep the two
//! copies equal.

/// A JSON Pointer (RFC 6901) other than the empty one: its reference tokens, unescaped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Pointer {
    tokens: Vec<String>,
}

impl Pointer {
    /// Parses `/a/b~1c` into `["a", "b/c"]`. The empty pointer (the whole document) is
    /// refused: the operations address members and elements.
    pub(crate) fn parse(text: &str) -> Result<Pointer, String> {
        if text.is_empty() {
            return Err(
                "the empty pointer designates the whole body; name a member, e.g. `/id`".into(),
            );
        }
        let Some(rest) = text.strip_prefix('/') else {
            return Err(format!(
                "`{text}` is not a JSON Pointer: it must start with `/`"
            ));
        };
        let mut tokens = Vec::new();
        for raw in rest.split('/') {
            let mut token = String::with_capacity(raw.len());
            let mut chars = raw.chars();
            while let Some(c) = chars.next() {
                if c != '~' {
                    token.push(c);
                    continue;
                }
                match chars.next() {
                    Some('0') => token.push('~'),
                    Some('1') => token.push('/'),
                    _ => {
                        return Err(format!(
                            "`{text}` is not a JSON Pointer: `~` must be followed by `0` (for `~`) or `1` (for `/`)"
                        ));
                    }
                }
            }
            tokens.push(token);
        }
        Ok(Pointer { tokens })
    }
}

/// Whether a `Content-Type` value names JSON: `application/json` or `application/<x>+json`,
/// parameters ignored, case-insensitive.
pub(crate) fn is_json_media_type(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    match essence.strip_prefix("application/") {
        Some("json") => true,
        Some(subtype) => subtype.len() > "+json".len() && subtype.ends_with("+json"),
        None => false,
    }
}

/// The body as JSON text, when it is exactly one valid JSON value (surrounding whitespace
/// allowed).
pub(crate) fn parse(body: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(body).ok()?;
    serde_json::from_str::<serde::de::IgnoredAny>(text).ok()?;
    Some(text.to_owned())
}

/// `value` as a JSON string literal.
pub(crate) fn string(value: &str) -> String {
    serde_json::Value::from(value).to_string()
}

/// `doc` without the member or element at `pointer` (every member of that name, when an
/// object repeats it); `None` when there is nothing there.
pub(crate) fn remove(doc: &str, pointer: &Pointer) -> Option<String> {
    let (mut out, member) = remove_one(doc, &pointer.tokens)?;
    // A name an object repeats: remove each occurrence (array elements shift instead, so
    // an index is removed once).
    if member {
        while let Some((next, _)) = remove_one(&out, &pointer.tokens) {
            out = next;
        }
    }
    Some(out)
}

/// `doc` with `value` (JSON text) written at `pointer`: an existing member or element is
/// replaced; a missing member is added at the end of its object, with objects created for
/// the missing tokens before it; `-` or the array's length appends to an array. `None` when
/// the place cannot exist: a token under a string, number, boolean or null, or an array
/// index that is neither an existing index, its length nor `-`.
pub(crate) fn set(doc: &str, pointer: &Pointer, value: &str) -> Option<String> {
    set_tokens(doc, &pointer.tokens, value)
}

/// `doc` with the value at `from` moved to `to` (as [`remove`] then [`set`]); `None`, and
/// the document unchanged, when nothing is at `from` or `to` cannot be written.
pub(crate) fn rename(doc: &str, from: &Pointer, to: &Pointer) -> Option<String> {
    if from == to {
        return None;
    }
    let bytes = doc.as_bytes();
    let (start, end) = find(bytes, &from.tokens)?;
    let value = doc.get(start..end)?.to_owned();
    let without = remove(doc, from)?;
    set(&without, to, &value)
}

// --- scanning validated JSON text --------------------------------------------------------

/// One member (object) or element (array) of a container.
#[derive(Debug)]
struct Entry {
    /// The member's name (unescaped); `None` in arrays.
    name: Option<String>,
    /// Where the entry starts: the name's opening quote, or the element's first byte.
    start: usize,
    /// The value's bytes.
    value: (usize, usize),
}

/// An object or array of the text.
#[derive(Debug)]
struct Container {
    array: bool,
    /// The index of the opening bracket.
    open: usize,
    entries: Vec<Entry>,
}

fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

fn skip_ws(s: &[u8], mut i: usize) -> usize {
    while s.get(i).copied().is_some_and(is_ws) {
        i += 1;
    }
    i
}

/// The index just past the string whose opening quote is at `i`.
fn string_end(s: &[u8], mut i: usize) -> usize {
    i += 1;
    while let Some(&b) = s.get(i) {
        match b {
            b'\\' => i += 2,
            b'"' => return i + 1,
            _ => i += 1,
        }
    }
    s.len()
}

/// The index just past the value starting at `i`.
fn value_end(s: &[u8], i: usize) -> usize {
    match s.get(i) {
        Some(b'"') => string_end(s, i),
        Some(b'{' | b'[') => {
            let mut depth = 0usize;
            let mut j = i;
            while let Some(&b) = s.get(j) {
                match b {
                    b'"' => {
                        j = string_end(s, j);
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth = depth.saturating_sub(1);
                        if depth == 0 {
                            return j + 1;
                        }
                    }
                    _ => {}
                }
                j += 1;
            }
            s.len()
        }
        _ => {
            let mut j = i;
            while s
                .get(j)
                .is_some_and(|&b| !is_ws(b) && !matches!(b, b',' | b'}' | b']'))
            {
                j += 1;
            }
            j
        }
    }
}

/// The unescaped text of the string literal `s[start..end]`.
fn unescape(s: &[u8], start: usize, end: usize) -> String {
    let Some(literal) = s.get(start..end) else {
        return String::new();
    };
    let inner = literal
        .get(1..literal.len().saturating_sub(1))
        .unwrap_or_default();
    if !inner.contains(&b'\\') {
        return String::from_utf8_lossy(inner).into_owned();
    }
    serde_json::from_slice::<String>(literal)
        .unwrap_or_else(|_| String::from_utf8_lossy(inner).into_owned())
}

/// The container whose opening bracket is at `open`; `None` for a scalar.
fn container(s: &[u8], open: usize) -> Option<Container> {
    let array = match s.get(open) {
        Some(b'[') => true,
        Some(b'{') => false,
        _ => return None,
    };
    let mut entries = Vec::new();
    let mut i = skip_ws(s, open + 1);
    loop {
        match s.get(i) {
            None | Some(b']' | b'}') => break,
            Some(_) => {}
        }
        let start = i;
        let name = if array {
            None
        } else {
            let end = string_end(s, i);
            let name = unescape(s, i, end);
            // Past the name, the whitespace and the colon.
            i = skip_ws(s, skip_ws(s, end) + 1);
            Some(name)
        };
        let end = value_end(s, i);
        entries.push(Entry {
            name,
            start,
            value: (i, end),
        });
        i = skip_ws(s, end);
        match s.get(i) {
            Some(b',') => i = skip_ws(s, i + 1),
            _ => break,
        }
    }
    Some(Container {
        array,
        open,
        entries,
    })
}

/// Where a token leads in a container.
enum Child {
    /// An existing entry, by its index.
    At(usize),
    /// Nowhere yet: a new member of the object, or a new last element of the array.
    Append,
    /// Nowhere it could be: an array index that is not one.
    Invalid,
}

/// An array index token: `0`, or digits without a leading zero.
fn index(token: &str) -> Option<usize> {
    if token.is_empty() || !token.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if token.len() > 1 && token.starts_with('0') {
        return None;
    }
    token.parse().ok()
}

impl Container {
    fn child(&self, token: &str) -> Child {
        if self.array {
            if token == "-" {
                return Child::Append;
            }
            return match index(token) {
                Some(i) if i < self.entries.len() => Child::At(i),
                Some(i) if i == self.entries.len() => Child::Append,
                _ => Child::Invalid,
            };
        }
        // Of repeated names, the last one counts, as in most parsers.
        match self
            .entries
            .iter()
            .rposition(|e| e.name.as_deref() == Some(token))
        {
            Some(i) => Child::At(i),
            None => Child::Append,
        }
    }
}

/// The value span at `tokens`, if there is one.
fn find(s: &[u8], tokens: &[String]) -> Option<(usize, usize)> {
    let mut at = skip_ws(s, 0);
    let mut span = (at, value_end(s, at));
    for token in tokens {
        let c = container(s, at)?;
        let Child::At(i) = c.child(token) else {
            return None;
        };
        span = c.entries.get(i)?.value;
        at = span.0;
    }
    Some(span)
}

/// `text` with `s[start..end]` replaced by `with`.
fn splice(text: &str, start: usize, end: usize, with: &str) -> Option<String> {
    let mut out = String::with_capacity(text.len() + with.len());
    out.push_str(text.get(..start)?);
    out.push_str(with);
    out.push_str(text.get(end..)?);
    Some(out)
}

/// `doc` without the entry at `tokens`, and whether it was an object member.
fn remove_one(doc: &str, tokens: &[String]) -> Option<(String, bool)> {
    let s = doc.as_bytes();
    let (last, parents) = tokens.split_last()?;
    let (parent, _) = find(s, parents)?;
    let c = container(s, parent)?;
    let Child::At(k) = c.child(last) else {
        return None;
    };
    let entry = c.entries.get(k)?;
    // Cut the entry with one comma: the one after it, or before it for the last entry.
    let (start, end) = match (c.entries.get(k + 1), k.checked_sub(1)) {
        (Some(next), _) => (entry.start, next.start),
        (None, Some(prev)) => (c.entries.get(prev)?.value.1, entry.value.1),
        (None, None) => (entry.start, entry.value.1),
    };
    Some((splice(doc, start, end, "")?, !c.array))
}

/// `{"a":{"b":value}}` for the tokens `a`, `b`.
fn nest(tokens: &[String], value: &str) -> String {
    let mut out = value.to_owned();
    for token in tokens.iter().rev() {
        out = format!("{{{}:{out}}}", string(token));
    }
    out
}

fn set_tokens(doc: &str, tokens: &[String], value: &str) -> Option<String> {
    let s = doc.as_bytes();
    let mut at = skip_ws(s, 0);
    for (depth, token) in tokens.iter().enumerate() {
        let c = container(s, at)?;
        let rest = tokens.get(depth + 1..).unwrap_or_default();
        match c.child(token) {
            Child::At(i) => {
                let (start, end) = c.entries.get(i)?.value;
                if rest.is_empty() {
                    return splice(doc, start, end, value);
                }
                at = start;
            }
            Child::Append => {
                let inner = nest(rest, value);
                let entry = if c.array {
                    inner
                } else {
                    format!("{}:{inner}", string(token))
                };
                return match c.entries.last() {
                    Some(last) => splice(doc, last.value.1, last.value.1, &format!(",{entry}")),
                    None => splice(doc, c.open + 1, c.open + 1, &entry),
                };
            }
            Child::Invalid => return None,
        }
    }
    None
}
