//! Building a router, and looking requests up in it.

use std::fmt;

use crate::method::{Method, MethodSet};
use crate::node::{Node, Segments};
use crate::normalize::NormalizedPath;
use crate::params::{Captures, ParamName, Params, Source};
use crate::template::{Template, TemplateError};

/// Why a route could not be registered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InsertError {
    /// The template is invalid.
    Template(TemplateError),
    /// A route with the same shape already has this method.
    Conflict {
        /// The template of the route registered first, as it was given.
        existing: String,
        /// The method both routes declare.
        method: Method,
    },
}

impl fmt::Display for InsertError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InsertError::Template(e) => write!(f, "invalid path template: {e}"),
            InsertError::Conflict { existing, method } => write!(
                f,
                "{method} conflicts with the route {method} {existing}, which matches \
                 exactly the same paths"
            ),
        }
    }
}

impl std::error::Error for InsertError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            InsertError::Template(e) => Some(e),
            InsertError::Conflict { .. } => None,
        }
    }
}

impl From<TemplateError> for InsertError {
    fn from(e: TemplateError) -> Self {
        InsertError::Template(e)
    }
}

#[derive(Debug)]
struct Route<T> {
    template: Box<str>,
    params: Box<[ParamName]>,
    value: T,
}

/// Collects routes, rejecting invalid templates and conflicts as they come.
#[derive(Debug)]
pub struct RouterBuilder<T> {
    root: Node,
    routes: Vec<Route<T>>,
}

impl<T> Default for RouterBuilder<T> {
    fn default() -> Self {
        RouterBuilder {
            root: Node::default(),
            routes: Vec::new(),
        }
    }
}

impl<T> RouterBuilder<T> {
    /// An empty builder.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers `value` for (`template`, `method`).
    ///
    /// Fails on an invalid template, or when a route with the same shape (see
    /// [`Template::shape`]) already has this method: such routes would match exactly the
    /// same requests. The error names the template that was registered first.
    pub fn insert(&mut self, template: &str, method: Method, value: T) -> Result<(), InsertError> {
        let parsed = Template::parse(template)?;
        let mut node = &mut self.root;
        for segment in parsed.segments() {
            node = node.child_mut(segment);
        }
        let endpoint = node.endpoint_mut();
        let slot = endpoint.route_mut(method);
        if let Some(existing) = *slot {
            let existing = self
                .routes
                .get(existing)
                .map(|r| r.template.to_string())
                .unwrap_or_default();
            return Err(InsertError::Conflict { existing, method });
        }
        *slot = Some(self.routes.len());
        endpoint.methods.insert(method);
        let params = parsed
            .param_names()
            .iter()
            .zip(parsed.param_depths())
            .map(|(name, &depth)| ParamName {
                name: name.as_str().into(),
                depth,
            })
            .collect();
        self.routes.push(Route {
            template: template.into(),
            params,
            value,
        });
        Ok(())
    }

    /// Freezes the routes into an immutable [`Router`].
    pub fn build(mut self) -> Router<T> {
        self.root.freeze();
        Router {
            root: self.root,
            routes: self.routes,
        }
    }
}

/// An immutable route table; `Send + Sync` when `T` is.
///
/// # Matching
/// A template is a list of segments, each static (`users`), a full parameter (`{id}`),
/// mixed (`{name}.{ext}`, `v{version}`, `{id}{ext}`), or, last, greedy (`{path+}`). Apart
/// from a greedy one, a parameter value is part of one segment and never spans a `/`.
///
/// At each segment, children are tried in priority order:
/// 1. the static one;
/// 2. mixed ones (most literal characters first, ties in insertion order) that match
///    fully (see below);
/// 3. the full parameter, which matches any non-empty segment;
/// 4. mixed ones that only match by leaving a parameter of a run empty (same order);
/// 5. the greedy parameter, which takes this segment and all the ones after it (at least
///    one, none empty), so it only wins when nothing more specific matches.
///
/// If a branch leads to no route deeper down, the next one is tried (backtracking), so
/// `/a/b/c` registered next to `/a/{x}/d` does not hide `/a/b/d`, and `/files/{id}/meta`
/// next to `/files/{path+}` does not hide `/files/7/other`.
///
/// In a mixed segment, literals and runs of adjacent parameters alternate. Each run takes
/// as much as it can while leaving the rest matchable: `{name}.{ext}` on `a.b.c` gives
/// `name = a.b`, `ext = c`. A run is then split right to left, needing no schema: each
/// parameter after the first takes the suffix of what is left that starts at its last `.`,
/// dot included (`{id}{ext}` on `a.b.json`: `id = a.b`, `ext = .json`), or, when no `.` is
/// left, the empty string (`{id}{ext}` on `42`: `id = 42`, `ext` empty, for request
/// validation to judge; such a match ranks after a full parameter sibling, step 4 above).
/// A parameter there whose name starts with `.` is an RFC 6570 label (`{id}{.format}`): its
/// value leaves the dot out (`42.json`: `.format = json`), and without a dot the segment
/// does not match. The first parameter of a run takes the rest, which must not be empty.
/// Elsewhere a parameter is never empty, and a name starting with `.` means nothing special.
///
/// A greedy parameter's value is the decoded segments it took, joined with `/`:
/// `/files/{path+}` on `/files/a/b%20c` gives `path = a/b c`. A `%2F` inside a segment
/// decodes to `/` too, so in the value it cannot be told apart from a segment boundary.
///
/// The first path in priority order that matches every segment decides the answer:
/// [`Lookup::Found`] if it has a route for the method (`HEAD` falls back to `GET` when there
/// is no explicit `HEAD` route), otherwise [`Lookup::MethodNotAllowed`] with its methods.
/// When no path matches, [`Lookup::NotFound`].
///
/// Literals are compared case-sensitively with decoded segments. A lookup visits each trie
/// node at most once, and splits each mixed segment in time linear in its length for each
/// of its literals and parameters, so its cost is bounded by the size of the table and the
/// length of the path whatever the input. It does not allocate, except for the value of a
/// greedy parameter spanning several segments: with [`Router::lookup_normalized`] only when
/// those segments are not written as they are in the raw path (escapes, `//`, dot
/// segments), with [`Router::lookup`] always.
///
/// ```
/// use barbacane_router::{Lookup, Method, RouterBuilder};
///
/// let mut builder = RouterBuilder::new();
/// builder.insert("/files/{name}.{ext}", Method::Get, "file").unwrap();
/// builder.insert("/files/latest", Method::Get, "latest").unwrap();
/// let router = builder.build();
///
/// match router.lookup(Method::Get, &["files", "report.tar.gz"]) {
///     Lookup::Found(m) => {
///         assert_eq!(*m.value, "file");
///         assert_eq!(m.params.get("name"), Some("report.tar"));
///         assert_eq!(m.params.get("ext"), Some("gz"));
///     }
///     _ => unreachable!(),
/// }
/// let mut builder = RouterBuilder::new();
/// builder.insert("/profiles/{id}{ext}", Method::Get, "profile").unwrap();
/// builder.insert("/projects/{id}{.format}", Method::Get, "project").unwrap();
/// builder.insert("/files/{path+}", Method::Get, "file").unwrap();
/// let more = builder.build();
/// let Lookup::Found(m) = more.lookup(Method::Get, &["profiles", "42.json"]) else {
///     unreachable!()
/// };
/// assert_eq!(m.params.get("ext"), Some(".json"));
/// let Lookup::Found(m) = more.lookup(Method::Get, &["projects", "42.json"]) else {
///     unreachable!()
/// };
/// assert_eq!(m.params.get(".format"), Some("json"));
/// let Lookup::Found(m) = more.lookup(Method::Get, &["files", "a", "b"]) else {
///     unreachable!()
/// };
/// assert_eq!(m.params.get("path"), Some("a/b"));
///
/// match router.lookup(Method::Post, &["files", "latest"]) {
///     Lookup::MethodNotAllowed { allowed } => assert_eq!(allowed.allow_header(), "GET, HEAD"),
///     _ => unreachable!(),
/// }
/// assert!(matches!(router.lookup(Method::Get, &["nope"]), Lookup::NotFound));
/// ```
#[derive(Debug)]
pub struct Router<T> {
    root: Node,
    routes: Vec<Route<T>>,
}

/// The answer of [`Router::lookup`].
// `Found` is the common answer, and boxing it would allocate on every lookup.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum Lookup<'r, 'p, T> {
    /// A route matched the path and the method.
    Found(Match<'r, 'p, T>),
    /// A path matched but has no route for the method (405).
    MethodNotAllowed {
        /// Methods the matched path has, with `HEAD` whenever `GET` is there.
        allowed: MethodSet,
    },
    /// No route matches the path (404).
    NotFound,
}

/// A matched route.
#[derive(Debug)]
pub struct Match<'r, 'p, T> {
    /// The value given to [`RouterBuilder::insert`].
    pub value: &'r T,
    /// The template of the route, as it was given to [`RouterBuilder::insert`].
    pub template: &'r str,
    /// The captured path parameters.
    pub params: Params<'r, 'p>,
}

impl<T> Router<T> {
    /// Finds the route for `method` and a request path.
    ///
    /// `segments` are the already-normalized, percent-decoded path segments (the root path
    /// `/` is an empty slice); see [`crate::normalize_path`]. Captured values borrow from
    /// the slice. Lookup does not allocate, except for the value of a greedy parameter that
    /// spans several segments (which are joined with `/`). A parameter that is only part of
    /// a segment of 64 KiB or more does not match (normalized paths are shorter than that).
    pub fn lookup<'r, 'p>(&'r self, method: Method, segments: &'p [&'p str]) -> Lookup<'r, 'p, T> {
        self.lookup_in(method, segments, Source::Slice(segments))
    }

    /// Like [`Router::lookup`], reading the segments of a [`NormalizedPath`] in place, which
    /// saves building a slice of them.
    ///
    /// ```
    /// use barbacane_router::{Lookup, Method, RouterBuilder, normalize_path};
    ///
    /// let mut builder = RouterBuilder::new();
    /// builder.insert("/a/{x}", Method::Get, ()).unwrap();
    /// let router = builder.build();
    /// let path = normalize_path("/a/b%20c").unwrap();
    /// let Lookup::Found(m) = router.lookup_normalized(Method::Get, &path) else {
    ///     unreachable!()
    /// };
    /// assert_eq!(m.params.get("x"), Some("b c"));
    /// ```
    pub fn lookup_normalized<'r, 'p>(
        &'r self,
        method: Method,
        path: &'p NormalizedPath<'_>,
    ) -> Lookup<'r, 'p, T> {
        self.lookup_in(method, &path, Source::Path(path))
    }

    #[inline]
    fn lookup_in<'r, 'p, S>(
        &'r self,
        method: Method,
        segments: &S,
        source: Source<'p>,
    ) -> Lookup<'r, 'p, T>
    where
        S: Segments<'p> + ?Sized,
    {
        let mut caps = Captures::new();
        let Some(endpoint) = self.root.find(segments, 0, &mut caps) else {
            return Lookup::NotFound;
        };
        let route = match (endpoint.route(method), method) {
            (None, Method::Head) => endpoint.route(Method::Get),
            (found, _) => found,
        };
        match route.and_then(|i| self.routes.get(i)) {
            Some(route) => Lookup::Found(Match {
                value: &route.value,
                template: &route.template,
                params: Params::new(
                    &route.params,
                    source,
                    &caps,
                    caps.greedy_from.map(|from| segments.tail(from)),
                ),
            }),
            None => Lookup::MethodNotAllowed {
                allowed: endpoint.methods.with_implied_head(),
            },
        }
    }

    /// Number of routes, counting each (template, method) pair once.
    pub fn len(&self) -> usize {
        self.routes.len()
    }

    /// Whether there are no routes.
    pub fn is_empty(&self) -> bool {
        self.routes.is_empty()
    }
}

#[cfg(test)]
mod tests;
