//! The route trie: one node per template segment position.

use crate::method::{Method, MethodSet};
use crate::normalize::NormalizedPath;
use crate::params::Captures;
use crate::pattern::Pattern;
use crate::statics::StaticChildren;
use crate::template::Segment;

/// Request path segments, by position: a slice, or a [`NormalizedPath`] read in place.
pub(crate) trait Segments<'p> {
    /// The segment at `index`, `None` past the end.
    fn segment(&self, index: usize) -> Option<&'p str>;
}

impl<'p> Segments<'p> for [&'p str] {
    #[inline]
    fn segment(&self, index: usize) -> Option<&'p str> {
        self.get(index).copied()
    }
}

impl<'p> Segments<'p> for &'p NormalizedPath<'_> {
    #[inline]
    fn segment(&self, index: usize) -> Option<&'p str> {
        self.get(index)
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
    }

    pub(crate) fn endpoint_mut(&mut self) -> &mut Endpoint {
        self.endpoint.get_or_insert_with(Box::default)
    }

    /// The endpoint of the first path, in priority order, that matches the segments from
    /// `depth` on, with the parameter values along that path pushed onto `caps`.
    ///
    /// Each node is visited at most once per lookup (a mixed segment's split does not
    /// affect deeper matching, so only its first, greedy split is tried), so the work is
    /// bounded by the size of the trie whatever the input. Recursion depth is bounded by
    /// the longest template, at most [`crate::MAX_SEGMENTS`].
    pub(crate) fn find<'p, S: Segments<'p> + ?Sized>(
        &self,
        segments: &S,
        depth: usize,
        caps: &mut Captures<'p>,
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
        for (pattern, child) in &self.mixed {
            let mark = caps.len();
            if pattern.capture(segment, caps) {
                let found = child.find(segments, rest, caps);
                if found.is_some() {
                    return found;
                }
                caps.truncate(mark);
            }
        }
        if let Some(child) = &self.param {
            if segment.is_empty() {
                return None;
            }
            let mark = caps.len();
            if caps.push(segment) {
                let found = child.find(segments, rest, caps);
                if found.is_some() {
                    return found;
                }
            }
            caps.truncate(mark);
        }
        None
    }
}
