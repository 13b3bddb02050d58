//! Request path normalization, done once before lookup.

use std::borrow::Cow;
use std::fmt;
use std::ops::Deref;

use crate::encoding::{DecodeError, encode_segment, percent_decode};

/// Most segments a normalized path may have; longer paths are refused rather than routed,
/// which also bounds lookup work and the size of [`NormalizedPath`].
pub const MAX_SEGMENTS: usize = 64;

/// Why a request path was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathError {
    /// The path does not start with `/`.
    NotAbsolute,
    /// A `%` not followed by two hex digits.
    InvalidPercentEncoding,
    /// A segment decodes to bytes that are not UTF-8.
    InvalidUtf8,
    /// A NUL byte, raw or as `%00`.
    NulByte,
    /// A `..` segment would climb above the root.
    EscapesRoot,
    /// More than [`MAX_SEGMENTS`] segments.
    TooManySegments,
    /// 64 KiB or more, which the `http` crate already refuses in a URI; the limit keeps
    /// segment offsets small.
    TooLong,
}

impl fmt::Display for PathError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PathError::NotAbsolute => "path does not start with '/'",
            PathError::InvalidPercentEncoding => "malformed percent-encoding in path",
            PathError::InvalidUtf8 => "path decodes to invalid UTF-8",
            PathError::NulByte => "path contains a NUL byte",
            PathError::EscapesRoot => "path climbs above the root with '..'",
            PathError::TooManySegments => "path has too many segments",
            PathError::TooLong => "path is too long",
        })
    }
}

impl std::error::Error for PathError {}

/// Normalizes the path part of a request target (no query string) into decoded segments.
///
/// Rules, in order:
/// 1. The path must start with `/`, else [`PathError::NotAbsolute`].
/// 2. It is split on `/`; empty segments (repeated slashes, a trailing slash) are dropped, so
///    `//a///b/` is `/a/b`.
/// 3. Each segment is percent-decoded *after* splitting, so an encoded slash (`%2F`) stays
///    inside its segment and can never create a new one. A malformed escape gives
///    [`PathError::InvalidPercentEncoding`]; decoded bytes must be UTF-8
///    ([`PathError::InvalidUtf8`]) with no NUL, raw or encoded ([`PathError::NulByte`]).
///    `+` is not a space in a path and stays `+`.
/// 4. A segment that decodes to `.` is dropped; one that decodes to `..` (including `%2E%2E`)
///    removes the segment before it, and `..` at the root is [`PathError::EscapesRoot`]:
///    like nginx, we refuse such a path rather than clamp it.
/// 5. Having more than [`MAX_SEGMENTS`] segments at any point is
///    [`PathError::TooManySegments`]; a path of 64 KiB or more is [`PathError::TooLong`]
///    (the `http` crate refuses such URIs anyway).
///
/// Segments that contain no `%` borrow from `raw`; decoded ones share one buffer, so a path
/// with no escape does not allocate at all.
pub fn normalize_path(raw: &str) -> Result<NormalizedPath<'_>, PathError> {
    if !raw.starts_with('/') {
        return Err(PathError::NotAbsolute);
    }
    if u16::try_from(raw.len()).is_err() {
        return Err(PathError::TooLong);
    }
    let mut path = NormalizedPath::root(raw);
    let bytes = raw.as_bytes();
    let mut start = 1;
    let mut escaped = false;
    let mut next = 1;
    loop {
        let at = next_special(bytes, next);
        match bytes.get(at) {
            Some(b'/') => {
                if at > start {
                    path.add_segment(start, at, escaped)?;
                }
                start = at + 1;
                escaped = false;
            }
            Some(b'%') => escaped = true,
            Some(_) => return Err(PathError::NulByte),
            None => {
                if at > start {
                    path.add_segment(start, at, escaped)?;
                }
                break;
            }
        }
        next = at + 1;
    }
    Ok(path)
}

/// Offset of the first `/`, `%` or NUL at or after `from`, or `bytes.len()`.
///
/// Every request goes through here, so it looks at 8 bytes at a time: a word with none of
/// the three bytes is skipped with a few arithmetic operations.
#[inline]
fn next_special(bytes: &[u8], from: usize) -> usize {
    const ONES: u64 = u64::from_le_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_le_bytes([0x80; 8]);
    // Sets the high bit of each zero byte of `x`; bytes above the first zero byte may be
    // flagged wrongly, which does not matter as only the lowest flag is used.
    let zero_bytes = |x: u64| x.wrapping_sub(ONES) & !x & HIGHS;
    let mut i = from;
    while let Some(word) = bytes.get(i..i + 8) {
        let word = <[u8; 8]>::try_from(word).map_or(0, u64::from_le_bytes);
        let found = zero_bytes(word ^ (ONES * u64::from(b'/')))
            | zero_bytes(word ^ (ONES * u64::from(b'%')))
            | zero_bytes(word);
        if found != 0 {
            return i + (found.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while let Some(&b) = bytes.get(i) {
        if matches!(b, b'/' | b'%' | 0) {
            return i;
        }
        i += 1;
    }
    bytes.len()
}

/// A normalized request path: its decoded segments (see [`normalize_path`]).
///
/// For lookup, pass it to [`crate::Router::lookup_normalized`], or get the segments as a
/// `&[&str]` from [`NormalizedPath::as_strs`].
#[derive(Clone)]
pub struct NormalizedPath<'a> {
    raw: &'a str,
    /// Decoded segments, one after the other; empty unless the path had escapes.
    decoded: String,
    /// `start..end` of each segment, in `decoded` when its bit in `in_decoded` is set, else
    /// in `raw`. Small plain data rather than `Cow`s: the path is returned by value, and
    /// copying or dropping 64 `Cow`s was most of the cost of normalizing.
    spans: [(u16, u16); MAX_SEGMENTS],
    in_decoded: u64,
    len: usize,
}

impl<'a> NormalizedPath<'a> {
    fn root(raw: &'a str) -> Self {
        NormalizedPath {
            raw,
            decoded: String::new(),
            spans: [(0, 0); MAX_SEGMENTS],
            in_decoded: 0,
            len: 0,
        }
    }

    /// Adds the non-empty segment `raw[start..end]`, which contains a `%` if `escaped`.
    #[inline]
    fn add_segment(&mut self, start: usize, end: usize, escaped: bool) -> Result<(), PathError> {
        if escaped {
            return self.add_escaped_segment(start, end);
        }
        match self.raw.as_bytes().get(start..end) {
            Some(b".") => Ok(()),
            Some(b"..") => self.pop(),
            _ => self.push(start, end, false),
        }
    }

    #[cold]
    fn add_escaped_segment(&mut self, start: usize, end: usize) -> Result<(), PathError> {
        let part = self.raw.get(start..end).unwrap_or_default();
        let decoded = percent_decode(part).map_err(|e| match e {
            DecodeError::Malformed => PathError::InvalidPercentEncoding,
            DecodeError::InvalidUtf8 => PathError::InvalidUtf8,
            DecodeError::Nul => PathError::NulByte,
        })?;
        match &*decoded {
            "." => Ok(()),
            ".." => self.pop(),
            _ => {
                let start = self.decoded.len();
                if start == 0 {
                    // Reuse the first decoded segment's allocation as the buffer.
                    self.decoded = decoded.into_owned();
                } else {
                    self.decoded.push_str(&decoded);
                }
                self.push(start, self.decoded.len(), true)
            }
        }
    }

    #[inline]
    fn push(&mut self, start: usize, end: usize, decoded: bool) -> Result<(), PathError> {
        let span = u16::try_from(start).and_then(|s| Ok((s, u16::try_from(end)?)));
        let span = span.map_err(|_| PathError::TooLong)?;
        let slot = self
            .spans
            .get_mut(self.len)
            .ok_or(PathError::TooManySegments)?;
        *slot = span;
        let bit = 1u64 << self.len;
        if decoded {
            self.in_decoded |= bit;
        } else {
            self.in_decoded &= !bit;
        }
        self.len += 1;
        Ok(())
    }

    fn pop(&mut self) -> Result<(), PathError> {
        self.len = self.len.checked_sub(1).ok_or(PathError::EscapesRoot)?;
        Ok(())
    }

    #[inline]
    fn text(&self, index: usize, (start, end): (u16, u16)) -> &str {
        let bit = u32::try_from(index).ok().and_then(|i| 1u64.checked_shl(i));
        let in_decoded = bit.is_some_and(|bit| self.in_decoded & bit != 0);
        let source = if in_decoded { &self.decoded } else { self.raw };
        source
            .get(usize::from(start)..usize::from(end))
            .unwrap_or_default()
    }

    /// The decoded segments; none for the root path `/`.
    pub fn segments(&self) -> impl Iterator<Item = &str> {
        let spans = self.spans.get(..self.len).unwrap_or_default();
        spans
            .iter()
            .enumerate()
            .map(|(i, span)| self.text(i, *span))
    }

    /// The segment at `index`.
    #[inline]
    pub fn get(&self, index: usize) -> Option<&str> {
        let span = *self.spans.get(..self.len)?.get(index)?;
        Some(self.text(index, span))
    }

    /// The segments from `from` on joined with `/`: a slice of the raw path when they appear
    /// there as they are (no escape, no `//`, no dot segment between them), else a new
    /// string. Empty when `from` is past the last segment.
    pub(crate) fn tail_from(&self, from: usize) -> Cow<'_, str> {
        let spans = self.spans.get(..self.len).unwrap_or_default();
        let Some(tail) = spans.get(from..).filter(|t| !t.is_empty()) else {
            return Cow::Borrowed("");
        };
        if let [only] = tail {
            return Cow::Borrowed(self.text(from, *only));
        }
        let decoded = (from..self.len)
            .any(|i| self.in_decoded & 1u64.checked_shl(i as u32).unwrap_or(0) != 0);
        let adjacent = tail.windows(2).all(|w| match w {
            [(_, end), (start, _)] => usize::from(*end) + 1 == usize::from(*start),
            _ => false,
        });
        if !decoded && adjacent {
            let start = tail.first().map_or(0, |s| usize::from(s.0));
            let end = tail.last().map_or(0, |s| usize::from(s.1));
            if let Some(joined) = self.raw.get(start..end) {
                return Cow::Borrowed(joined);
            }
        }
        let mut joined = String::new();
        for (i, span) in tail.iter().enumerate() {
            if i > 0 {
                joined.push('/');
            }
            joined.push_str(self.text(from + i, *span));
        }
        Cow::Owned(joined)
    }

    /// Number of segments.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether this is the root path `/`.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The segments as a `&[&str]` (through `Deref`) for [`crate::Router::lookup`], in a
    /// fixed inline array: no allocation.
    ///
    /// ```
    /// use barbacane_router::normalize_path;
    /// let path = normalize_path("/a/./b%20c/").unwrap();
    /// assert_eq!(&*path.as_strs(), ["a", "b c"]);
    /// ```
    #[inline]
    pub fn as_strs(&self) -> SegmentRefs<'_> {
        let mut refs = [""; MAX_SEGMENTS];
        let spans = self.spans.get(..self.len).unwrap_or_default();
        if self.in_decoded == 0 {
            // The common case: every segment is a slice of the raw path.
            for (slot, &(start, end)) in refs.iter_mut().zip(spans) {
                *slot = self
                    .raw
                    .get(usize::from(start)..usize::from(end))
                    .unwrap_or_default();
            }
        } else {
            for (slot, segment) in refs.iter_mut().zip(self.segments()) {
                *slot = segment;
            }
        }
        SegmentRefs {
            refs,
            len: self.len,
        }
    }

    /// The path in canonical form, e.g. `/a/b%20c`, percent-encoding whatever a path segment
    /// cannot hold literally (including `/` and `%`), so that normalizing the result gives
    /// this path back.
    pub fn to_path_string(&self) -> String {
        let mut out = String::new();
        for segment in self.segments() {
            out.push('/');
            encode_segment(segment, &mut out);
        }
        if out.is_empty() {
            out.push('/');
        }
        out
    }
}

impl PartialEq for NormalizedPath<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.segments().eq(other.segments())
    }
}

impl Eq for NormalizedPath<'_> {}

impl fmt::Debug for NormalizedPath<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.segments()).finish()
    }
}

/// Borrowed segments of a [`NormalizedPath`], usable as `&[&str]`.
#[derive(Debug, Clone, Copy)]
pub struct SegmentRefs<'a> {
    refs: [&'a str; MAX_SEGMENTS],
    len: usize,
}

impl<'a> Deref for SegmentRefs<'a> {
    type Target = [&'a str];

    fn deref(&self) -> &[&'a str] {
        self.refs.get(..self.len).unwrap_or_default()
    }
}

impl<'a> AsRef<[&'a str]> for SegmentRefs<'a> {
    fn as_ref(&self) -> &[&'a str] {
        self
    }
}

#[cfg(test)]
mod tests;
