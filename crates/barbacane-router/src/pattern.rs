//! Mixed segments: literals and parameters inside one path segment (`{name}.{ext}`).

use crate::encoding::encode_segment;
use crate::params::{Captures, MAX_PARAMS};

/// Pieces alternate (a template with `{a}{b}` is rejected), so there is at most one more
/// literal than there are parameters.
const MAX_PIECES: usize = 2 * MAX_PARAMS + 1;

/// One piece of a mixed segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Piece {
    /// Decoded literal text, never empty.
    Literal(Box<str>),
    /// A parameter; its name lives in the template, not here, so that patterns that differ
    /// only by names compare equal.
    Param,
}

/// A mixed segment, matched by [`Pattern::capture`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Pattern {
    pieces: Box<[Piece]>,
    literal_chars: usize,
}

impl Pattern {
    /// `pieces` must alternate and hold at most [`MAX_PARAMS`] parameters; the template parser
    /// guarantees both.
    pub(crate) fn new(pieces: Vec<Piece>) -> Self {
        let literal_chars = pieces
            .iter()
            .map(|p| match p {
                Piece::Literal(l) => l.chars().count(),
                Piece::Param => 0,
            })
            .sum();
        Pattern {
            pieces: pieces.into_boxed_slice(),
            literal_chars,
        }
    }

    /// Number of literal characters: the more a pattern has, the more specific it is and the
    /// earlier it is tried.
    pub(crate) fn literal_chars(&self) -> usize {
        self.literal_chars
    }

    /// Writes the pattern with parameter names erased, e.g. `{}.{}`.
    pub(crate) fn write_shape(&self, out: &mut String) {
        for piece in &self.pieces {
            match piece {
                Piece::Literal(l) => encode_segment(l, out),
                Piece::Param => out.push_str("{}"),
            }
        }
    }

    /// Matches the whole of `text`, pushing one value per parameter onto `caps`. On failure
    /// `caps` is left as it was.
    ///
    /// Each parameter is non-empty and as long as possible given the ones before it (for
    /// `{name}.{ext}` on `a.b.c`: `a.b` and `c`). Rather than backtracking over every split,
    /// which is exponential in the number of parameters on hostile input, one right-to-left
    /// pass places each literal at its rightmost position that still leaves room for what
    /// follows; that placement is exactly the greedy one, and the whole match is linear in
    /// the length of `text` for each literal.
    pub(crate) fn capture<'p>(&self, text: &'p str, caps: &mut Captures<'p>) -> bool {
        let mark = caps.len();
        if self.capture_inner(text, caps).is_some() {
            true
        } else {
            caps.truncate(mark);
            false
        }
    }

    fn capture_inner<'p>(&self, text: &'p str, caps: &mut Captures<'p>) -> Option<()> {
        let starts = self.place_literals(text)?;
        let last = self.pieces.len().checked_sub(1)?;
        let mut pos = 0;
        for (i, piece) in self.pieces.iter().enumerate() {
            match piece {
                Piece::Literal(l) => pos = starts.get(i)? + l.len(),
                Piece::Param => {
                    let stop = if i == last {
                        text.len()
                    } else {
                        *starts.get(i + 1)?
                    };
                    if !caps.push(text.get(pos..stop)?) {
                        return None;
                    }
                    pos = stop;
                }
            }
        }
        Some(())
    }

    /// Start offset of every literal piece (entries for parameters are unused).
    fn place_literals(&self, text: &str) -> Option<[usize; MAX_PIECES]> {
        let mut starts = [0; MAX_PIECES];
        let last = self.pieces.len().checked_sub(1)?;
        // Everything left of `end` is still free for the pieces not yet placed.
        let mut end = text.len();
        for (i, piece) in self.pieces.iter().enumerate().rev() {
            match piece {
                Piece::Literal(lit) => {
                    let free = text.get(..end)?;
                    let start = if i == last {
                        let start = free.strip_suffix(&**lit).map(str::len)?;
                        if i == 0 && start != 0 {
                            return None;
                        }
                        start
                    } else if i == 0 {
                        free.starts_with(&**lit).then_some(0)?
                    } else {
                        free.rfind(&**lit)?
                    };
                    *starts.get_mut(i)? = start;
                    end = start;
                }
                Piece::Param => {
                    // Leave at least one whole character for the parameter.
                    let (before_last_char, _) = text.get(..end)?.char_indices().next_back()?;
                    end = before_last_char;
                }
            }
        }
        Some(starts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lit(s: &str) -> Piece {
        Piece::Literal(s.into())
    }

    fn run(pieces: Vec<Piece>, text: &str) -> Option<Vec<String>> {
        let mut caps = Captures::new();
        assert!(caps.push("before"));
        let names: Vec<String> = (0..MAX_PARAMS + 1).map(|i| i.to_string()).collect();
        let ok = Pattern::new(pieces).capture(text, &mut caps);
        let params = crate::Params::new(&names, caps);
        let values: Vec<String> = params.iter().skip(1).map(|(_, v)| v.to_owned()).collect();
        if ok {
            Some(values)
        } else {
            assert!(values.is_empty(), "captures must be rolled back");
            None
        }
    }

    #[test]
    fn greedy_split() {
        let p = || vec![Piece::Param, lit("."), Piece::Param];
        assert_eq!(run(p(), "a.b.c"), Some(vec!["a.b".into(), "c".into()]));
        assert_eq!(run(p(), "a.b"), Some(vec!["a".into(), "b".into()]));
        assert_eq!(run(p(), "a."), None);
        assert_eq!(run(p(), ".b"), None);
        assert_eq!(run(p(), "."), None);
        assert_eq!(run(p(), "ab"), None);
        assert_eq!(run(p(), "a..b"), Some(vec!["a.".into(), "b".into()]));
    }

    #[test]
    fn several_literals() {
        let p = || vec![Piece::Param, lit("-"), Piece::Param, lit(".json")];
        assert_eq!(run(p(), "x-y-z.json"), Some(vec!["x-y".into(), "z".into()]));
        assert_eq!(run(p(), "x-.json"), None);
        assert_eq!(run(p(), "x-y.jso"), None);
        let p = vec![lit("v"), Piece::Param];
        assert_eq!(run(p, "v2"), Some(vec!["2".into()]));
        let p = || vec![lit("v"), Piece::Param, lit("x")];
        assert_eq!(run(p(), "v1x"), Some(vec!["1".into()]));
        assert_eq!(run(p(), "vx"), None);
        assert_eq!(run(p(), "v"), None);
    }

    #[test]
    fn overlapping_literals() {
        let p = vec![Piece::Param, lit("aa"), Piece::Param];
        assert_eq!(run(p, "xaaay"), Some(vec!["xa".into(), "y".into()]));
        let p = vec![lit("ab"), Piece::Param, lit("ba")];
        assert_eq!(run(p.clone(), "aba"), None);
        assert_eq!(run(p, "abxba"), Some(vec!["x".into()]));
    }

    #[test]
    fn multibyte_values() {
        let p = || vec![Piece::Param, lit("é"), Piece::Param];
        assert_eq!(run(p(), "ñéü"), Some(vec!["ñ".into(), "ü".into()]));
        assert_eq!(run(p(), "éé"), None);
        assert_eq!(run(p(), "ééé"), Some(vec!["é".into(), "é".into()]));
    }

    #[test]
    fn shape_and_specificity() {
        let p = Pattern::new(vec![Piece::Param, lit(".{x}"), Piece::Param]);
        let mut s = String::new();
        p.write_shape(&mut s);
        assert_eq!(s, "{}.%7Bx%7D{}");
        assert_eq!(p.literal_chars(), 4);
    }
}
