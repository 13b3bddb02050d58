//! The route trie: one node per template segment position.

use std::borrow::Cow;

use crate::method::{Method, MethodSet};
use crate::normalize::NormalizedPath;
use crate::params::{Captures, Span};
use crate::pattern::{Fit, Pattern};
use crate::statics::StaticChildren;
use crate::template::Segment;

/// Request path segments, by position: a slice, or a [`NormalizedPath`] read in place.
pub(crate) trait Segments<'p> {
    /// The segment at `index`, `None` past the end.
    fn segment(&self, index: usize) -> Option<&'p str>;

    /// Number of segments.
    fn count(&self) -> usize;

    /// The segments from `from` on joined with `/`, borrowed when they can be.
    fn tail(&self, from: usize) -> Cow<'p, str>;
}

impl<'p> Segments<'p> for [&'p str] {
    #[inline]
    fn segment(&self, index: usize) -> Option<&'p str> {
        self.get(index).copied()
    }

    fn count(&self) -> usize {
        self.len()
    }

    fn tail(&self, from: usize) -> Cow<'p, str> {
        match self.get(from..).unwrap_or_default() {
            [one] => Cow::Borrowed(one),
            many => Cow::Owned(many.join("/")),
        }
    }
}

impl<'p> Segments<'p> for &'p NormalizedPath<'_> {
    #[inline]
    fn segment(&self, index: usize) -> Option<&'p str> {
        self.get(index)
    }

    fn count(&self) -> usize {
        self.len()
    }

    fn tail(&self, from: usize) -> Cow<'p, str> {
        NormalizedPath::tail_from(self, from)
    }
}

/// A trie node. Children are kept in the order they are tried, so lookup is a plain walk.
#[derive(Debug, Default)]
pub(crate) struct Node {
    /// Only one can match a segment, so they need no order among themselves.
    statics: StaticChildren<Node>,
    /// Most literal characters first, ties in insertion order.
    mixed: Vec<(Pattern, Node)>,
    param: Option<Box<Node>>,
    /// `{name+}`: a leaf, since a greedy parameter ends its template.
    greedy: Option<Box<Node>>,
    /// Whether some mixed child can match [`Fit::Loose`], which needs a second pass.
    loose_mixed: bool,
    /// The routes whose template ends at this node.
    endpoint: Option<Box<Endpoint>>,
}

/// The routes of one shape: what a path that reaches its node can be answered with.
#[derive(Debug, Default)]
pub(crate) struct Endpoint {
    pub(crate) methods: MethodSet,
    /// Index into the router's route table, per [`Method::index`].
    by_method: [Option<usize>; Method::ALL.len()],
}

// `Method::index` is below `Method::ALL.len()` for every variant, so indexing `by_method`
// cannot fail.
impl Endpoint {
    pub(crate) fn route(&self, method: Method) -> Option<usize> {
        self.by_method[method.index()]
    }

    pub(crate) fn route_mut(&mut self, method: Method) -> &mut Option<usize> {
        &mut self.by_method[method.index()]
    }
}

impl Node {
    /// The child for `segment`, created if missing.
    pub(crate) fn child_mut(&mut self, segment: &Segment) -> &mut Node {
        match segment {
            Segment::Static(label) => self.statics.get_or_insert_with(label, Node::default),
            Segment::Mixed(pattern) => {
                self.loose_mixed |= pattern.can_be_loose();
                let i = match self.mixed.iter().position(|(p, _)| p == pattern) {
                    Some(i) => i,
                    None => {
                        let i = self
                            .mixed
                            .iter()
                            .position(|(p, _)| p.literal_chars() < pattern.literal_chars())
                            .unwrap_or(self.mixed.len());
                        self.mixed.insert(i, (pattern.clone(), Node::default()));
                        i
                    }
                };
                // `i` is in bounds: found by the search or just inserted there.
                &mut self.mixed[i].1
            }
            Segment::Param => self.param.get_or_insert_with(Box::default),
            Segment::Greedy => self.greedy.get_or_insert_with(Box::default),
        }
    }

    /// Prepares the subtree for lookup once all routes are in.
    pub(crate) fn freeze(&mut self) {
        self.statics.freeze();
        for child in self.statics.values_mut() {
            child.freeze();
        }
        for (_, child) in &mut self.mixed {
            child.freeze();
        }
        if let Some(child) = &mut self.param {
            child.freeze();
        }
        if let Some(child) = &mut self.greedy {
            child.freeze();
        }
    }

    pub(crate) fn endpoint_mut(&mut self) -> &mut Endpoint {
        self.endpoint.get_or_insert_with(Box::default)
    }

    /// The endpoint of the first path, in priority order, that matches the segments from
    /// `depth` on, with the parameter values along that path pushed onto `caps` (and, for a
    /// greedy parameter, where its segments start in `caps.greedy_from`).
    ///
    /// Order: the static child, mixed children that match [`Fit::Full`], the parameter
    /// child, mixed children that match only [`Fit::Loose`], the greedy child.
    ///
    /// Each node is visited at most once per lookup (a mixed segment's split does not
    /// affect deeper matching, so only its first, greedy split is tried, and a mixed child
    /// is entered in one pass only), so the work is bounded by the size of the trie whatever
    /// the input. Recursion depth is bounded by the longest template, at most
    /// [`crate::MAX_SEGMENTS`].
    pub(crate) fn find<'p, S: Segments<'p> + ?Sized>(
        &self,
        segments: &S,
        depth: usize,
        caps: &mut Captures,
    ) -> Option<&Endpoint> {
        let Some(segment) = segments.segment(depth) else {
            return self.endpoint.as_deref();
        };
        let rest = depth + 1;
        if let Some(child) = self.statics.get(segment) {
            let found = child.find(segments, rest, caps);
            if found.is_some() {
                return found;
            }
        }
        if !self.mixed.is_empty()
            && let found @ Some(_) = self.find_mixed(segment, segments, depth, caps, Fit::Full)
        {
            return found;
        }
        if let Some(child) = &self.param
            && !segment.is_empty()
        {
            let mark = caps.len();
            if caps.push(Span::WHOLE) {
                let found = child.find(segments, rest, caps);
                if found.is_some() {
                    return found;
                }
            }
            caps.truncate(mark);
        }
        if self.loose_mixed
            && let found @ Some(_) = self.find_mixed(segment, segments, depth, caps, Fit::Loose)
        {
            return found;
        }
        if self.greedy.is_some() {
            return self.find_greedy(segments, depth, caps);
        }
        None
    }

    /// The mixed children that match `segment`, the one at `depth`, with `fit`, tried in
    /// order.
    fn find_mixed<'p, S: Segments<'p> + ?Sized>(
        &self,
        segment: &str,
        segments: &S,
        depth: usize,
        caps: &mut Captures,
        fit: Fit,
    ) -> Option<&Endpoint> {
        for (pattern, child) in &self.mixed {
            if fit == Fit::Loose && !pattern.can_be_loose() {
                continue;
            }
            let mark = caps.len();
            match pattern.capture(segment, caps) {
                Some(got) if got == fit => {
                    let found = child.find(segments, depth + 1, caps);
                    if found.is_some() {
                        return found;
                    }
                }
                _ => {}
            }
            caps.truncate(mark);
        }
        None
    }

    /// The greedy child's endpoint, when there are segments from `depth` on and none of them
    /// is empty (a normalized path has no empty segment; a slice given by hand may).
    fn find_greedy<'p, S: Segments<'p> + ?Sized>(
        &self,
        segments: &S,
        depth: usize,
        caps: &mut Captures,
    ) -> Option<&Endpoint> {
        let endpoint = self.greedy.as_deref()?.endpoint.as_deref()?;
        let mut any = false;
        for i in depth..segments.count() {
            if segments.segment(i)?.is_empty() {
                return None;
            }
            any = true;
        }
        if any {
            caps.greedy_from = Some(depth);
            return Some(endpoint);
        }
        None
    }
}
