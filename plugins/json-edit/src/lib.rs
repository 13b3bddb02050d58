//! JSON bodies edited as text, addressed by JSON Pointers (RFC 6901).
//!
//! A body is first checked to be one valid JSON text (UTF-8, serde_json's parser, which
//! allocates nothing for it); the edits then splice that text in place: a removed member or
//! element is cut out with its separating comma, a written value replaces the old value's
//! bytes or is appended after the container's last entry. Everything an operation does not
//! touch keeps its bytes (member order, whitespace, number spelling, string escapes).
//! Containers are scanned entry by entry without being collected, so the plugin needs about
//! the body's size in memory, where a parsed tree could take many times that (the instance
//! has 16 MiB, bodies reach 8 MiB).
//!
//! Shared by `request-transformer` and `response-transformer` (a library of the plugins
//! workspace, not a plugin: it has no `plugin.toml`). Written by hand because no crate edits
//! JSON text in place while keeping untouched bytes, and a parsed tree would not fit the
//! instance's memory for the largest bodies.

/// A JSON Pointer (RFC 6901) other than the empty one: its reference tokens, unescaped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pointer {
    tokens: Vec<String>,
}

impl Pointer {
    /// Parses `/a/b~1c` into `["a", "b/c"]`. The empty pointer (the whole document) is
    /// refused: the operations address members and elements.
    pub fn parse(text: &str) -> Result<Pointer, String> {
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
pub fn is_json_media_type(content_type: &str) -> bool {
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
pub fn parse(body: Vec<u8>) -> Option<String> {
    let text = String::from_utf8(body).ok()?;
    serde_json::from_str::<serde::de::IgnoredAny>(&text).ok()?;
    Some(text)
}

/// `value` as a JSON string literal.
pub fn string(value: &str) -> String {
    serde_json::Value::from(value).to_string()
}

/// Removes the member or element at `pointer` (every member of that name, when an object
/// repeats it); `false` when there is nothing there.
pub fn remove(doc: &mut String, pointer: &Pointer) -> bool {
    let mut removed = false;
    while let Some((start, end, member)) = removal(doc.as_bytes(), &pointer.tokens) {
        doc.replace_range(start..end, "");
        removed = true;
        // Array elements shift into the removed place: an index is removed once.
        if !member {
            break;
        }
    }
    removed
}

/// Writes `value` (JSON text) at `pointer`: an existing member or element is replaced; a
/// missing member is added at the end of its object, with objects created for the missing
/// tokens before it; `-` or the array's length appends to an array. `false`, and `doc`
/// unchanged, when the place cannot exist: a token under a string, number, boolean or null,
/// or an array index that is neither an existing index, its length nor `-`.
pub fn set(doc: &mut String, pointer: &Pointer, value: &str) -> bool {
    match insertion(doc.as_bytes(), &pointer.tokens, value) {
        Some((start, end, text)) => {
            doc.replace_range(start..end, &text);
            true
        }
        None => false,
    }
}

/// Moves the value at `from` to `to` (as [`remove`] then [`set`]); `false`, and `doc`
/// unchanged, when nothing is at `from` or `to` cannot be written.
pub fn rename(doc: &mut String, from: &Pointer, to: &Pointer) -> bool {
    if from == to {
        return false;
    }
    let Some(value) = find(doc.as_bytes(), &from.tokens).and_then(|(s, e)| doc.get(s..e)) else {
        return false;
    };
    let value = value.to_owned();
    let Some((start, end, _)) = removal(doc.as_bytes(), &from.tokens) else {
        return false;
    };
    let Some(cut) = doc.get(start..end).map(str::to_owned) else {
        return false;
    };
    doc.replace_range(start..end, "");
    if set(doc, to, &value) {
        return true;
    }
    doc.insert_str(start, &cut);
    false
}

// --- scanning validated JSON text --------------------------------------------------------

/// One member (object) or element (array) of a container.
#[derive(Debug, Clone, Copy)]
struct Entry {
    /// Where the entry starts: the name's opening quote, or the element's first byte.
    start: usize,
    /// The value's bytes.
    value: (usize, usize),
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

/// Whether the string literal `s[start..end]` spells `name` once unescaped.
fn name_is(s: &[u8], start: usize, end: usize, name: &str) -> bool {
    let Some(literal) = s.get(start..end) else {
        return false;
    };
    let inner = literal
        .get(1..literal.len().saturating_sub(1))
        .unwrap_or_default();
    if !inner.contains(&b'\\') {
        return inner == name.as_bytes();
    }
    serde_json::from_slice::<String>(literal).is_ok_and(|unescaped| unescaped == name)
}

/// The entries of the container whose opening bracket is at `open`, one at a time: for
/// each, its name's span (objects) and the entry.
struct Entries<'a> {
    s: &'a [u8],
    array: bool,
    /// Where the next entry (or the closing bracket) is; `None` once done.
    at: Option<usize>,
}

impl<'a> Entries<'a> {
    /// `None` when `open` is not an object or an array.
    fn new(s: &'a [u8], open: usize) -> Option<Entries<'a>> {
        let array = match s.get(open) {
            Some(b'[') => true,
            Some(b'{') => false,
            _ => return None,
        };
        Some(Entries {
            s,
            array,
            at: Some(skip_ws(s, open + 1)),
        })
    }
}

impl Iterator for Entries<'_> {
    /// The name's span (objects only) and the entry.
    type Item = (Option<(usize, usize)>, Entry);

    fn next(&mut self) -> Option<Self::Item> {
        let s = self.s;
        let start = self.at?;
        if matches!(s.get(start), None | Some(b']' | b'}')) {
            self.at = None;
            return None;
        }
        let (name, value_start) = if self.array {
            (None, start)
        } else {
            let end = string_end(s, start);
            // Past the name, the whitespace and the colon.
            (Some((start, end)), skip_ws(s, skip_ws(s, end) + 1))
        };
        let value_end = value_end(s, value_start);
        let after = skip_ws(s, value_end);
        self.at = match s.get(after) {
            Some(b',') => Some(skip_ws(s, after + 1)),
            _ => None,
        };
        Some((
            name,
            Entry {
                start,
                value: (value_start, value_end),
            },
        ))
    }
}

/// Where a token leads in a container.
enum Slot {
    /// An existing entry, with where the entry before it ends (its value) and where the one
    /// after it starts.
    At {
        entry: Entry,
        prev_end: Option<usize>,
        next_start: Option<usize>,
    },
    /// Nowhere yet: a new member of the object, or a new last element of the array, to put
    /// after the last entry (or after the opening bracket, `open`, when there is none).
    Append {
        open: usize,
        last_end: Option<usize>,
    },
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

/// Where `token` leads in the container at `open`; `None` when `open` is a scalar. Of
/// repeated names, the last one counts, as in most parsers.
fn slot(s: &[u8], open: usize, token: &str) -> Option<Slot> {
    let entries = Entries::new(s, open)?;
    let wanted = if entries.array {
        match (token, index(token)) {
            ("-", _) => None,
            (_, Some(i)) => Some(i),
            (_, None) => return Some(Slot::Invalid),
        }
    } else {
        None
    };
    let array = entries.array;
    let mut found: Option<(Entry, Option<usize>, Option<usize>)> = None;
    let mut last: Option<Entry> = None;
    let mut count = 0usize;
    for (name, entry) in entries {
        if let Some((_, _, next)) = found.as_mut()
            && next.is_none()
        {
            *next = Some(entry.start);
            // An index is found once; a name may repeat later.
            if array {
                break;
            }
        }
        let hit = if array {
            wanted == Some(count)
        } else {
            name.is_some_and(|(start, end)| name_is(s, start, end, token))
        };
        if hit {
            found = Some((entry, last.map(|e| e.value.1), None));
        }
        last = Some(entry);
        count += 1;
    }
    Some(match found {
        Some((entry, prev_end, next_start)) => Slot::At {
            entry,
            prev_end,
            next_start,
        },
        None if array && wanted.is_some_and(|i| i != count) => Slot::Invalid,
        None => Slot::Append {
            open,
            last_end: last.map(|e| e.value.1),
        },
    })
}

/// The value span at `tokens`, if there is one.
fn find(s: &[u8], tokens: &[String]) -> Option<(usize, usize)> {
    let at = skip_ws(s, 0);
    let mut span = (at, value_end(s, at));
    for token in tokens {
        let Slot::At { entry, .. } = slot(s, span.0, token)? else {
            return None;
        };
        span = entry.value;
    }
    Some(span)
}

/// The span to cut to remove the entry at `tokens`, and whether it is an object member.
fn removal(s: &[u8], tokens: &[String]) -> Option<(usize, usize, bool)> {
    let (last, parents) = tokens.split_last()?;
    let (parent, _) = find(s, parents)?;
    let member = s.get(parent) == Some(&b'{');
    let Slot::At {
        entry,
        prev_end,
        next_start,
    } = slot(s, parent, last)?
    else {
        return None;
    };
    // The entry with one comma: the one after it, or the one before it for the last entry.
    let (start, end) = match (next_start, prev_end) {
        (Some(next), _) => (entry.start, next),
        (None, Some(prev)) => (prev, entry.value.1),
        (None, None) => (entry.start, entry.value.1),
    };
    Some((start, end, member))
}

/// `{"a":{"b":value}}` for the tokens `a`, `b`.
fn nest(tokens: &[String], value: &str) -> String {
    let mut out = value.to_owned();
    for token in tokens.iter().rev() {
        out = format!("{{{}:{out}}}", string(token));
    }
    out
}

/// The span to replace, and its replacement, to write `value` at `tokens`.
fn insertion(s: &[u8], tokens: &[String], value: &str) -> Option<(usize, usize, String)> {
    let mut at = skip_ws(s, 0);
    for (depth, token) in tokens.iter().enumerate() {
        let rest = tokens.get(depth + 1..).unwrap_or_default();
        match slot(s, at, token)? {
            Slot::At { entry, .. } => {
                let (start, end) = entry.value;
                if rest.is_empty() {
                    return Some((start, end, value.to_owned()));
                }
                at = start;
            }
            Slot::Append { open, last_end } => {
                let inner = nest(rest, value);
                let entry = if s.get(open) == Some(&b'[') {
                    inner
                } else {
                    format!("{}:{inner}", string(token))
                };
                return Some(match last_end {
                    Some(end) => (end, end, format!(",{entry}")),
                    None => (open + 1, open + 1, entry),
                });
            }
            Slot::Invalid => return None,
        }
    }
    None
}
