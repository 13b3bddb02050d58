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
///    [`PathError::TooManySegments`].
///
/// Segments that contain no `%` borrow from `raw`; only decoded ones allocate, and the
/// segment list itself lives inline.
pub fn normalize_path(raw: &str) -> Result<NormalizedPath<'_>, PathError> {
    let Some(rest) = raw.strip_prefix('/') else {
        return Err(PathError::NotAbsolute);
    };
    let mut path = NormalizedPath::root();
    for part in rest.split('/') {
        if part.is_empty() {
            continue;
        }
        let segment = percent_decode(part).map_err(|e| match e {
            DecodeError::Malformed => PathError::InvalidPercentEncoding,
            DecodeError::InvalidUtf8 => PathError::InvalidUtf8,
            DecodeError::Nul => PathError::NulByte,
        })?;
        match &*segment {
            "." => {}
            ".." => {
                if !path.pop() {
                    return Err(PathError::EscapesRoot);
                }
            }
            _ => path.push(segment)?,
        }
    }
    Ok(path)
}

/// A normalized request path: its decoded segments (see [`normalize_path`]).
///
/// For lookup, [`NormalizedPath::as_strs`] gives the segments as a `&[&str]`.
#[derive(Clone)]
pub struct NormalizedPath<'a> {
    segments: [Cow<'a, str>; MAX_SEGMENTS],
    len: usize,
}

impl<'a> NormalizedPath<'a> {
    fn root() -> Self {
        NormalizedPath {
            segments: [const { Cow::Borrowed("") }; MAX_SEGMENTS],
            len: 0,
        }
    }

    fn push(&mut self, segment: Cow<'a, str>) -> Result<(), PathError> {
        let slot = self
            .segments
            .get_mut(self.len)
            .ok_or(PathError::TooManySegments)?;
        *slot = segment;
        self.len += 1;
        Ok(())
    }

    fn pop(&mut self) -> bool {
        let Some(new_len) = self.len.checked_sub(1) else {
            return false;
        };
        if let Some(slot) = self.segments.get_mut(new_len) {
            // Free a decoded segment now rather than when the path is dropped.
            *slot = Cow::Borrowed("");
        }
        self.len = new_len;
        true
    }

    fn used(&self) -> &[Cow<'a, str>] {
        self.segments.get(..self.len).unwrap_or_default()
    }

    /// The decoded segments; none for the root path `/`.
    pub fn segments(&self) -> impl Iterator<Item = &str> {
        self.used().iter().map(|s| &**s)
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
    pub fn as_strs(&self) -> SegmentRefs<'_> {
        let mut refs = [""; MAX_SEGMENTS];
        for (slot, segment) in refs.iter_mut().zip(self.used()) {
            *slot = segment;
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
        self.used() == other.used()
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
