//! Query strings, edited pair by pair: untouched pairs keep their place and exact bytes.

/// One `&`-separated piece of a query string.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Pair {
    /// As received (or as written by the plugin, encoded).
    raw: String,
    /// The name: the part before the first `=`, percent-decoded.
    name: String,
}

impl Pair {
    fn new(raw: String) -> Pair {
        let name = decode(raw.split('=').next().unwrap_or_default());
        Pair { raw, name }
    }

    /// The value: the part after the first `=` (empty without one), percent-decoded.
    fn value(&self) -> String {
        self.raw
            .split_once('=')
            .map(|(_, v)| decode(v))
            .unwrap_or_default()
    }
}

/// A query string's pairs, in order. Empty pieces (`a=1&&b=2`) are kept as they are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Pairs {
    pairs: Vec<Pair>,
}

impl Pairs {
    pub(crate) fn parse(query: &str) -> Pairs {
        Pairs {
            pairs: if query.is_empty() {
                Vec::new()
            } else {
                query.split('&').map(|p| Pair::new(p.to_owned())).collect()
            },
        }
    }

    /// The first value of `name`, percent-decoded.
    pub(crate) fn first_value(&self, name: &str) -> Option<String> {
        self.pairs.iter().find(|p| p.name == name).map(Pair::value)
    }

    /// Drops every occurrence of `name`.
    pub(crate) fn remove(&mut self, name: &str) {
        self.pairs.retain(|p| p.name != name);
    }

    /// Gives every occurrence of `old` the name `new` (values as they were), dropping the
    /// occurrences `new` had; nothing when `old` is absent.
    pub(crate) fn rename(&mut self, old: &str, new: &str) {
        if old == new || !self.pairs.iter().any(|p| p.name == old) {
            return;
        }
        self.remove(new);
        let encoded = encode(new);
        for pair in self.pairs.iter_mut().filter(|p| p.name == old) {
            let value = pair.raw.find('=').and_then(|at| pair.raw.get(at..));
            pair.raw = format!("{encoded}{}", value.unwrap_or_default());
            pair.name = new.to_owned();
        }
    }

    /// Sets `name` to `value`: the first occurrence takes the value (others are dropped), or
    /// the pair is appended.
    pub(crate) fn set(&mut self, name: &str, value: &str) {
        let raw = format!("{}={}", encode(name), encode(value));
        match self.pairs.iter().position(|p| p.name == name) {
            Some(first) => {
                let mut index = 0;
                self.pairs.retain(|p| {
                    let keep = p.name != name || index == first;
                    index += 1;
                    keep
                });
                if let Some(pair) = self.pairs.get_mut(first) {
                    pair.raw = raw;
                }
            }
            None => self.pairs.push(Pair {
                raw,
                name: name.to_owned(),
            }),
        }
    }

    /// The query string (without `?`; empty when no pair is left).
    pub(crate) fn to_query(&self) -> String {
        let raws: Vec<&str> = self.pairs.iter().map(|p| p.raw.as_str()).collect();
        raws.join("&")
    }
}

/// Percent-decodes `s` (invalid escapes kept as they are; `+` stays `+`); bytes that are not
/// UTF-8 are replaced.
pub(crate) fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .filter(|h| h.bytes().all(|c| c.is_ascii_hexdigit()))
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (b, hex) {
            (b'%', Some(decoded)) => {
                out.push(decoded);
                i += 3;
            }
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// Percent-encodes every byte of `s` but ASCII letters, digits and `-._~` (RFC 3986
/// unreserved).
pub(crate) fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
