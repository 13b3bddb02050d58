//! Path templates such as `/files/{name}.{ext}`.

use std::fmt;

use crate::encoding::{DecodeError, encode_segment, percent_decode};
use crate::normalize::MAX_SEGMENTS;
use crate::params::MAX_PARAMS;
use crate::pattern::{Pattern, Piece};

/// A parsed path template such as `/files/{name}.{ext}`.
///
/// Syntax:
/// - it starts with `/`; segments are separated by `/`; a trailing `/` is ignored (requests
///   are normalized the same way, so `/users/` and `/users` match the same paths), other
///   empty segments are rejected;
/// - a segment is static (`users`), a full parameter (`{id}`), mixed literals and
///   parameters (`{name}.{ext}`, `v{version}`, `{a}-{b}.json`, `{id}{ext}`), or, as the
///   last segment only, a greedy parameter (`{path+}`);
/// - parameter names match `[A-Za-z0-9_.-]+` and are unique; at most
///   [`MAX_PARAMS`](crate::MAX_PARAMS) parameters and [`MAX_SEGMENTS`](crate::MAX_SEGMENTS)
///   segments;
/// - parameters may be adjacent (`{id}{ext}`, `{id}{.format}`): in such a run every
///   parameter after the first takes a suffix that starts at a `.`, and a parameter there
///   whose name starts with `.` is a label parameter (RFC 6570 label expansion) whose value
///   leaves that dot out; see [`Router`](crate::Router) for the exact split;
/// - `{name+}` is a greedy parameter: it must be a whole segment and the last one, and
///   matches one or more remaining segments (its name is `name`, without the `+`; see
///   [`Router`](crate::Router));
/// - literals may be percent-encoded; they are decoded once here and compared with decoded
///   request segments, so `/a%20b` matches the request path `/a%20b`.
///
/// ```
/// use barbacane_router::Template;
///
/// let t = Template::parse("/api/projects/{id}{.format}").unwrap();
/// assert_eq!(t.param_names(), ["id", ".format"]);
/// assert_eq!(t.shape(), "/api/projects/{}{.}");
/// let t = Template::parse("/files/{path+}").unwrap();
/// assert_eq!(t.param_names(), ["path"]);
/// assert_eq!(t.shape(), "/files/{+}");
/// assert!(Template::parse("/files/{path+}/meta").is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    raw: String,
    segments: Vec<Segment>,
    param_names: Vec<String>,
    /// The segment each parameter is in.
    param_depths: Vec<u8>,
}

/// One segment of a template, with parameter names erased.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Segment {
    /// Decoded literal text.
    Static(Box<str>),
    /// `{name}`: the whole segment.
    Param,
    /// Literals and parameters, or adjacent parameters.
    Mixed(Pattern),
    /// `{name+}`: the last segment, and all the ones after it.
    Greedy,
}

/// Why a path template is invalid. Positions are byte offsets into the template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TemplateError {
    /// The template does not start with `/`.
    MustStartWithSlash,
    /// A `{` without its `}` in the same segment, or a `}` without a `{`.
    UnbalancedBrace {
        /// Offset of the offending brace.
        position: usize,
    },
    /// `{}`.
    EmptyParamName {
        /// Offset of the `{`.
        position: usize,
    },
    /// A greedy parameter (`{name+}`) that is not a whole segment or not the last one.
    MisplacedGreedyParam {
        /// Offset of the greedy parameter's `{`.
        position: usize,
    },
    /// The same parameter name twice.
    DuplicateParam {
        /// The repeated name.
        name: String,
    },
    /// A parameter name outside `[A-Za-z0-9_.-]+`.
    InvalidParamName {
        /// The rejected name.
        name: String,
    },
    /// More than [`MAX_PARAMS`](crate::MAX_PARAMS) parameters.
    TooManyParams {
        /// Offset of the first parameter over the limit.
        position: usize,
    },
    /// An empty segment (`//`) other than a trailing `/`.
    EmptySegment {
        /// Offset of the segment's leading `/`.
        position: usize,
    },
    /// A static segment that is `.` or `..` (possibly encoded): normalization removes such
    /// segments from every request, so the route could never match.
    DotSegment {
        /// Offset of the segment.
        position: usize,
    },
    /// A literal with a malformed `%` escape, or one that decodes to invalid UTF-8 or NUL,
    /// which no normalized request path contains.
    InvalidPercentEncoding {
        /// Offset of the literal.
        position: usize,
    },
    /// More than [`MAX_SEGMENTS`](crate::MAX_SEGMENTS) segments, which no normalized request
    /// path has.
    TooManySegments,
}

impl fmt::Display for TemplateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TemplateError::MustStartWithSlash => f.write_str("path template must start with '/'"),
            TemplateError::UnbalancedBrace { position } => {
                write!(f, "unbalanced brace at offset {position}")
            }
            TemplateError::EmptyParamName { position } => {
                write!(f, "empty parameter name at offset {position}")
            }
            TemplateError::MisplacedGreedyParam { position } => write!(
                f,
                "greedy parameter at offset {position} must be a whole segment and the last one"
            ),
            TemplateError::DuplicateParam { name } => {
                write!(f, "parameter '{name}' appears more than once")
            }
            TemplateError::InvalidParamName { name } => write!(
                f,
                "invalid parameter name '{name}' (allowed: letters, digits, '_', '.', '-')"
            ),
            TemplateError::TooManyParams { position } => write!(
                f,
                "too many parameters (at most {MAX_PARAMS}); parameter at offset {position} \
                 is over the limit"
            ),
            TemplateError::EmptySegment { position } => {
                write!(f, "empty path segment at offset {position}")
            }
            TemplateError::DotSegment { position } => write!(
                f,
                "segment at offset {position} is '.' or '..', which never reaches routing"
            ),
            TemplateError::InvalidPercentEncoding { position } => write!(
                f,
                "invalid percent-encoding in the literal at offset {position}"
            ),
            TemplateError::TooManySegments => {
                write!(f, "too many path segments (at most {MAX_SEGMENTS})")
            }
        }
    }
}

impl std::error::Error for TemplateError {}

impl Template {
    /// Parses a path template; see [`Template`] for the syntax.
    pub fn parse(template: &str) -> Result<Template, TemplateError> {
        let Some(body) = template.strip_prefix('/') else {
            return Err(TemplateError::MustStartWithSlash);
        };
        let mut parser = Parser::default();
        let mut offset = 1;
        let mut parts = body.split('/').peekable();
        while let Some(part) = parts.next() {
            if part.is_empty() {
                if parts.peek().is_some() {
                    return Err(TemplateError::EmptySegment {
                        position: offset - 1,
                    });
                }
            } else {
                if let Some(position) = parser.greedy_at {
                    return Err(TemplateError::MisplacedGreedyParam { position });
                }
                if parser.segments.len() == MAX_SEGMENTS {
                    return Err(TemplateError::TooManySegments);
                }
                let segment = parser.segment(part, offset)?;
                parser.segments.push(segment);
            }
            offset += part.len() + 1;
        }
        Ok(Template {
            raw: template.to_owned(),
            segments: parser.segments,
            param_names: parser.names,
            param_depths: parser.depths,
        })
    }

    /// The template as given to [`Template::parse`].
    pub fn as_str(&self) -> &str {
        &self.raw
    }

    /// Parameter names in order of appearance, as written (`.format` for `{.format}`) except
    /// that a greedy parameter `{path+}` is called `path`.
    pub fn param_names(&self) -> &[String] {
        &self.param_names
    }

    /// The template with parameter names erased, e.g. `/files/{}.{}`; two templates with the
    /// same shape match exactly the same paths, with the same values.
    ///
    /// A parameter is `{}`, a label parameter within a run of adjacent ones `{.}`
    /// (`/p/{id}{.format}` gives `/p/{}{.}`) and a greedy parameter `{+}`.
    ///
    /// Literals appear decoded and re-encoded canonically (`/a%7e` and `/a~` both give
    /// `/a~`), and a literal brace is encoded so it cannot be mistaken for a parameter.
    pub fn shape(&self) -> String {
        let mut out = String::with_capacity(self.raw.len());
        for segment in &self.segments {
            out.push('/');
            match segment {
                Segment::Static(s) => encode_segment(s, &mut out),
                Segment::Param => out.push_str("{}"),
                Segment::Mixed(p) => p.write_shape(&mut out),
                Segment::Greedy => out.push_str("{+}"),
            }
        }
        if out.is_empty() {
            out.push('/');
        }
        out
    }

    /// The index of the segment each parameter is in, in the order of
    /// [`Template::param_names`].
    pub(crate) fn param_depths(&self) -> &[u8] {
        &self.param_depths
    }

    pub(crate) fn segments(&self) -> &[Segment] {
        &self.segments
    }
}

impl fmt::Display for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.raw)
    }
}

#[derive(Default)]
struct Parser {
    segments: Vec<Segment>,
    names: Vec<String>,
    /// The segment of each parameter in `names`.
    depths: Vec<u8>,
    /// Offset of the greedy parameter, once one was seen.
    greedy_at: Option<usize>,
}

impl Parser {
    /// Parses one non-empty segment starting at byte `offset` of the template.
    fn segment(&mut self, part: &str, offset: usize) -> Result<Segment, TemplateError> {
        let mut pieces = Vec::new();
        let mut rest = part;
        let mut pos = offset;
        while !rest.is_empty() {
            let brace = rest.find(['{', '}']).unwrap_or(rest.len());
            if brace > 0 {
                let (literal, tail) = rest.split_at(brace);
                pieces.push(Piece::Literal(decode_literal(literal, pos)?));
                rest = tail;
                pos += brace;
                continue;
            }
            let close = match rest.strip_prefix('{') {
                Some(inner) => inner
                    .find(['{', '}'])
                    .filter(|&i| inner.get(i..i + 1) == Some("}")),
                None => None,
            };
            let Some(close) = close else {
                return Err(TemplateError::UnbalancedBrace { position: pos });
            };
            let name = rest.get(1..1 + close).unwrap_or_default();
            let whole = pieces.is_empty() && rest.len() == close + 2;
            rest = rest.get(close + 2..).unwrap_or_default();
            if let Some(name) = name.strip_suffix('+') {
                if !whole {
                    return Err(TemplateError::MisplacedGreedyParam { position: pos });
                }
                self.param(name, pos)?;
                self.greedy_at = Some(pos);
                return Ok(Segment::Greedy);
            }
            self.param(name, pos)?;
            let follows_param = matches!(pieces.last(), Some(Piece::Param | Piece::Label));
            pieces.push(if follows_param && name.starts_with('.') {
                Piece::Label
            } else {
                Piece::Param
            });
            pos += close + 2;
        }
        Ok(match pieces.as_slice() {
            [Piece::Param] => Segment::Param,
            [Piece::Literal(l)] => {
                if &**l == "." || &**l == ".." {
                    return Err(TemplateError::DotSegment { position: offset });
                }
                Segment::Static(l.clone())
            }
            _ => Segment::Mixed(Pattern::new(pieces)),
        })
    }

    /// Checks and records the parameter `name` whose `{` is at `position`.
    fn param(&mut self, name: &str, position: usize) -> Result<(), TemplateError> {
        if name.is_empty() {
            return Err(TemplateError::EmptyParamName { position });
        }
        let valid = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-');
        if !name.bytes().all(valid) {
            return Err(TemplateError::InvalidParamName {
                name: name.to_owned(),
            });
        }
        if self.names.iter().any(|n| n == name) {
            return Err(TemplateError::DuplicateParam {
                name: name.to_owned(),
            });
        }
        if self.names.len() == MAX_PARAMS {
            return Err(TemplateError::TooManyParams { position });
        }
        // Below `MAX_SEGMENTS`, which `Template::parse` checks before each segment.
        let depth = u8::try_from(self.segments.len()).unwrap_or(u8::MAX);
        self.names.push(name.to_owned());
        self.depths.push(depth);
        Ok(())
    }
}

fn decode_literal(literal: &str, position: usize) -> Result<Box<str>, TemplateError> {
    percent_decode(literal)
        .map(|s| s.into_owned().into_boxed_str())
        .map_err(|e| match e {
            DecodeError::Malformed | DecodeError::InvalidUtf8 | DecodeError::Nul => {
                TemplateError::InvalidPercentEncoding { position }
            }
        })
}

#[cfg(test)]
mod tests;
