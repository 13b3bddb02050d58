//! Captured path parameters.

/// Most parameters one template may have; [`crate::Template::parse`] rejects more so that
/// captures fit in a fixed array and lookup never allocates.
pub const MAX_PARAMS: usize = 8;

/// Captured path parameters of a [`crate::Match`].
///
/// Names come from the matched route's template. Routes with the same shape but different
/// methods may name their parameters differently (`GET /users/{id}`, `DELETE
/// /users/{userId}`): names are per (route, method), values are positional. Up to
/// [`MAX_PARAMS`] values are stored inline, without heap allocation.
#[derive(Debug, Clone, Copy)]
pub struct Params<'r, 'p> {
    names: &'r [String],
    values: [&'p str; MAX_PARAMS],
    len: usize,
}

impl<'r, 'p> Params<'r, 'p> {
    pub(crate) fn new(names: &'r [String], captures: Captures<'p>) -> Self {
        Params {
            names,
            values: captures.values,
            len: captures.len.min(names.len()),
        }
    }

    /// The value of the parameter called `name`.
    pub fn get(&self, name: &str) -> Option<&'p str> {
        self.iter().find(|(n, _)| *n == name).map(|(_, v)| v)
    }

    /// `(name, value)` pairs in the order the parameters appear in the template.
    pub fn iter(&self) -> impl Iterator<Item = (&'r str, &'p str)> + use<'r, 'p> {
        let names = self.names.iter().map(String::as_str);
        names.zip(self.values.into_iter().take(self.len))
    }

    /// Number of captured parameters.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no parameter was captured.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// Values captured while walking the trie; a stack, since backtracking drops the values of
/// branches that did not lead to a route.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Captures<'p> {
    values: [&'p str; MAX_PARAMS],
    len: usize,
}

impl<'p> Captures<'p> {
    pub(crate) fn new() -> Self {
        Captures {
            values: [""; MAX_PARAMS],
            len: 0,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Returns `false` when full; cannot happen for a trie built from valid templates, but a
    /// failed match is the safe answer if it ever did.
    #[must_use]
    pub(crate) fn push(&mut self, value: &'p str) -> bool {
        match self.values.get_mut(self.len) {
            Some(slot) => {
                *slot = value;
                self.len += 1;
                true
            }
            None => false,
        }
    }

    pub(crate) fn truncate(&mut self, len: usize) {
        self.len = self.len.min(len);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn captures_stack() {
        let mut c = Captures::new();
        for i in 0..MAX_PARAMS {
            assert!(c.push(if i % 2 == 0 { "a" } else { "b" }));
        }
        assert!(!c.push("overflow"));
        c.truncate(2);
        assert_eq!(c.len(), 2);
        let names: Vec<String> = vec!["x".into(), "y".into()];
        let p = Params::new(&names, c);
        assert_eq!(p.len(), 2);
        assert_eq!(p.get("x"), Some("a"));
        assert_eq!(p.get("y"), Some("b"));
        assert_eq!(p.get("z"), None);
        assert_eq!(p.iter().collect::<Vec<_>>(), [("x", "a"), ("y", "b")]);
    }

    #[test]
    fn names_bound_values() {
        let mut c = Captures::new();
        assert!(c.push("1"));
        assert!(c.push("2"));
        let names: Vec<String> = vec!["only".into()];
        let p = Params::new(&names, c);
        assert_eq!(p.len(), 1);
        assert!(!p.is_empty());
        let empty = Params::new(&[], Captures::new());
        assert!(empty.is_empty());
    }
}
