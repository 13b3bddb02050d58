//! Captured path parameters.

use std::borrow::Cow;
use std::fmt;

use crate::normalize::NormalizedPath;

/// Most parameters one template may have; [`crate::Template::parse`] rejects more so that
/// captures fit in a fixed array and lookup never allocates for them.
pub const MAX_PARAMS: usize = 32;

/// Captured path parameters of a [`crate::Match`].
///
/// Names come from the matched route's template. Routes with the same shape but different
/// methods may name their parameters differently (`GET /users/{id}`, `DELETE
/// /users/{userId}`): names are per (route, method), values are positional.
///
/// Up to [`MAX_PARAMS`] values are kept inline, as 4-byte ranges within the request's
/// segments (the route knows which segment each parameter is in), so neither capturing nor
/// returning them allocates or copies much. The one
/// exception is the value of a greedy parameter (`{path+}`) that spans several segments:
/// it is a slice of the raw request path when the segments appear there as they are (no
/// escape, no `//`, no dot segment among them) and a new string otherwise; that is why
/// values borrow from the `Params` rather than only from the path.
#[derive(Clone)]
pub struct Params<'r, 'p> {
    names: &'r [ParamName],
    source: Source<'p>,
    spans: [Span; MAX_PARAMS],
    /// Number of `spans` in use.
    len: usize,
    /// The value of the template's last parameter when it is greedy.
    greedy: Option<Cow<'p, str>>,
}

impl<'r, 'p> Params<'r, 'p> {
    pub(crate) fn new(
        names: &'r [ParamName],
        source: Source<'p>,
        captures: &Captures,
        greedy: Option<Cow<'p, str>>,
    ) -> Self {
        let len = captures.len.min(names.len());
        Params {
            names,
            source,
            spans: captures.spans,
            len,
            greedy: greedy.filter(|_| names.len() > len),
        }
    }

    /// The value of the parameter called `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        let i = self.names.iter().position(|n| &*n.name == name)?;
        self.value(i)
    }

    /// `(name, value)` pairs in the order the parameters appear in the template.
    pub fn iter<'s>(&'s self) -> impl Iterator<Item = (&'r str, &'s str)> + use<'s, 'r, 'p> {
        let names = self.names.iter().map(|n| &*n.name);
        names
            .take(self.len())
            .enumerate()
            .map(|(i, n)| (n, self.value(i).unwrap_or_default()))
    }

    /// Number of captured parameters.
    pub fn len(&self) -> usize {
        self.len + usize::from(self.greedy.is_some())
    }

    /// Whether no parameter was captured.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn value(&self, i: usize) -> Option<&str> {
        match self.spans.get(..self.len)?.get(i) {
            Some(span) => {
                let depth = self.names.get(i)?.depth;
                span.resolve(self.source.segment(usize::from(depth))?)
            }
            None if i == self.len => self.greedy.as_deref(),
            None => None,
        }
    }
}

/// A route's parameter: its name, and the segment it is in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ParamName {
    pub(crate) name: Box<str>,
    pub(crate) depth: u8,
}

impl fmt::Debug for Params<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

/// The request segments captured values are offsets into.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Source<'p> {
    Path(&'p NormalizedPath<'p>),
    Slice(&'p [&'p str]),
}

impl<'p> Source<'p> {
    #[inline]
    fn segment(self, index: usize) -> Option<&'p str> {
        match self {
            Source::Path(path) => path.get(index),
            Source::Slice(segments) => segments.get(index).copied(),
        }
    }
}

/// A captured value: its byte range within its segment, packed as `start << 16 | end`.
/// `end == WHOLE` stands for the end of the segment, so a full-segment parameter is never
/// limited by the width of the fields.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Span(u32);

const WHOLE: u32 = 0xFFFF;

impl Span {
    /// The whole segment.
    pub(crate) const WHOLE: Span = Span(WHOLE);

    /// Bytes `start..end` of a segment. `None` for offsets of 64 KiB or more, which only a
    /// hand-made segment slice can have (normalized paths are shorter than 64 KiB).
    #[inline]
    pub(crate) fn new(start: usize, end: usize) -> Option<Span> {
        let start = u16::try_from(start)
            .ok()
            .filter(|&s| u32::from(s) < WHOLE)?;
        let end = u16::try_from(end).ok().filter(|&e| u32::from(e) < WHOLE)?;
        Some(Span((u32::from(start) << 16) | u32::from(end)))
    }

    fn resolve(self, segment: &str) -> Option<&str> {
        let start = (self.0 >> 16) as usize;
        let end = self.0 & WHOLE;
        if end == WHOLE {
            return segment.get(start..);
        }
        segment.get(start..end as usize)
    }
}

/// Values captured while walking the trie; a stack, since backtracking drops the values of
/// branches that did not lead to a route.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Captures {
    spans: [Span; MAX_PARAMS],
    len: usize,
    /// Where the segments taken by a greedy parameter start, once one matched.
    pub(crate) greedy_from: Option<usize>,
}

impl Captures {
    pub(crate) fn new() -> Self {
        Captures {
            spans: [Span::default(); MAX_PARAMS],
            len: 0,
            greedy_from: None,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Returns `false` when full; cannot happen for a trie built from valid templates, but a
    /// failed match is the safe answer if it ever did.
    #[must_use]
    pub(crate) fn push(&mut self, span: Span) -> bool {
        match self.spans.get_mut(self.len) {
            Some(slot) => {
                *slot = span;
                self.len += 1;
                true
            }
            None => false,
        }
    }

    /// Pushes `n` values at once, to be filled in any order by the caller; `None` (and no
    /// change) when they do not fit.
    pub(crate) fn grow(&mut self, n: usize) -> Option<&mut [Span]> {
        let end = self.len.checked_add(n)?;
        let slots = self.spans.get_mut(self.len..end)?;
        self.len = end;
        Some(slots)
    }

    pub(crate) fn truncate(&mut self, len: usize) {
        self.len = self.len.min(len);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(n: &[(&str, u8)]) -> Vec<ParamName> {
        n.iter()
            .map(|(name, depth)| ParamName {
                name: (*name).into(),
                depth: *depth,
            })
            .collect()
    }

    #[test]
    fn captures_stack() {
        let segments = ["a", "b"];
        let mut c = Captures::new();
        for _ in 0..MAX_PARAMS {
            assert!(c.push(Span::WHOLE));
        }
        assert!(!c.push(Span::WHOLE));
        c.truncate(2);
        assert_eq!(c.len(), 2);
        let names = names(&[("x", 0), ("y", 1)]);
        let p = Params::new(&names, Source::Slice(&segments), &c, None);
        assert_eq!(p.len(), 2);
        assert_eq!(p.get("x"), Some("a"));
        assert_eq!(p.get("y"), Some("b"));
        assert_eq!(p.get("z"), None);
        assert_eq!(p.iter().collect::<Vec<_>>(), [("x", "a"), ("y", "b")]);
        assert_eq!(format!("{p:?}"), r#"{"x": "a", "y": "b"}"#);
    }

    #[test]
    fn names_bound_values() {
        let segments = ["1", "2"];
        let mut c = Captures::new();
        assert!(c.push(Span::WHOLE));
        assert!(c.push(Span::WHOLE));
        let names = names(&[("only", 0)]);
        let greedy = Some("ignored".into());
        let p = Params::new(&names, Source::Slice(&segments), &c, greedy);
        assert_eq!(p.len(), 1);
        assert!(!p.is_empty());
        let empty = Params::new(&[], Source::Slice(&segments), &Captures::new(), None);
        assert!(empty.is_empty());
    }

    #[test]
    fn spans() {
        let resolve = |span: Option<Span>, segment| span.and_then(|s| s.resolve(segment));
        assert_eq!(resolve(Some(Span::WHOLE), "héllo"), Some("héllo"));
        assert_eq!(resolve(Span::new(1, 3), "héllo"), Some("é"));
        assert_eq!(resolve(Span::new(4, 4), "zero"), Some(""));
        // Out of the segment, or not on a character boundary: no value rather than a panic.
        assert_eq!(resolve(Span::new(1, 2), "héllo"), None);
        assert_eq!(resolve(Span::new(2, 9), "zero"), None);
        assert!(Span::new(0, 0xFFFF).is_none());
        assert!(Span::new(0x1_0000, 0).is_none());
        assert!(Span::new(0xFFFE, 0xFFFE).is_some());
        let long = "x".repeat(0x2_0000);
        assert_eq!(
            resolve(Some(Span::WHOLE), &long).map(str::len),
            Some(0x2_0000)
        );
    }

    #[test]
    fn grow_and_greedy() {
        let segments = ["a", "bc"];
        let mut c = Captures::new();
        assert!(c.push(Span::WHOLE));
        let slots = c.grow(2).unwrap();
        slots[1] = Span::new(1, 2).unwrap();
        slots[0] = Span::new(0, 1).unwrap();
        assert_eq!(c.len(), 3);
        assert!(c.grow(MAX_PARAMS).is_none());
        assert_eq!(c.len(), 3);
        let names = names(&[("x", 0), ("y", 1), ("z", 1), ("rest", 2)]);
        let greedy = Some(Cow::Owned("d/e".to_owned()));
        let p = Params::new(&names, Source::Slice(&segments), &c, greedy);
        assert_eq!(p.len(), 4);
        assert_eq!(p.get("rest"), Some("d/e"));
        let all: Vec<_> = p.iter().collect();
        assert_eq!(all, [("x", "a"), ("y", "b"), ("z", "c"), ("rest", "d/e")]);
        let q = p.clone();
        assert_eq!(q.get("y"), Some("b"));
    }
}
