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
mod tests;
