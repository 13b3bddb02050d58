//! Mixed segments: literals and parameters inside one path segment (`{name}.{ext}`,
//! `{id}{ext}`).

use std::ops::Range;

use crate::encoding::encode_segment;
use crate::params::{Captures, Span};

/// One piece of a mixed segment, as parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Piece {
    /// Decoded literal text, never empty.
    Literal(Box<str>),
    /// A parameter; its name lives in the template, not here, so that patterns that differ
    /// only by names compare equal.
    Param,
    /// A parameter whose name starts with `.`, right after another parameter (RFC 6570
    /// label expansion, `{id}{.format}`): its value is what follows the dot that starts it.
    Label,
}

/// Pieces grouped for matching: literals alternate with runs of adjacent parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Group {
    /// Decoded literal text, never empty.
    Literal(Box<str>),
    /// One or more adjacent parameters.
    Run(Run),
}

/// A run of `len` adjacent parameters (at most [`MAX_PARAMS`](crate::MAX_PARAMS)); bit `i`
/// of `labels` is set when member `i` (never the first) is a label parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Run {
    len: usize,
    labels: u32,
}

/// How a mixed segment matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fit {
    /// Every parameter after the first of a run found its dot.
    Full,
    /// Some parameter after the first of a run found no dot and got the empty string: such a
    /// match ranks below a plain `{param}` sibling (see [`crate::Router`]).
    Loose,
}

/// A mixed segment, matched by [`Pattern::capture`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Pattern {
    groups: Box<[Group]>,
    params: usize,
    literal_chars: usize,
    /// Whether some run has a plain member after its first, which can match [`Fit::Loose`].
    can_be_loose: bool,
}

impl Pattern {
    /// `pieces` must hold at most [`MAX_PARAMS`](crate::MAX_PARAMS) parameters and no empty
    /// literal; the template parser guarantees both. A [`Piece::Label`] that starts a run is
    /// an ordinary parameter.
    pub(crate) fn new(pieces: Vec<Piece>) -> Self {
        let mut groups: Vec<Group> = Vec::new();
        let mut params = 0;
        let mut literal_chars = 0;
        let mut can_be_loose = false;
        for piece in pieces {
            let label = match piece {
                Piece::Literal(l) => {
                    literal_chars += l.chars().count();
                    groups.push(Group::Literal(l));
                    continue;
                }
                Piece::Param => false,
                Piece::Label => true,
            };
            params += 1;
            match groups.last_mut() {
                Some(Group::Run(run)) => {
                    if label {
                        run.labels |= 1u32.checked_shl(run.len as u32).unwrap_or(0);
                    } else {
                        can_be_loose = true;
                    }
                    run.len += 1;
                }
                _ => groups.push(Group::Run(Run { len: 1, labels: 0 })),
            }
        }
        Pattern {
            groups: groups.into_boxed_slice(),
            params,
            literal_chars,
            can_be_loose,
        }
    }

    /// Number of literal characters: the more a pattern has, the more specific it is and the
    /// earlier it is tried.
    pub(crate) fn literal_chars(&self) -> usize {
        self.literal_chars
    }

    /// Whether [`Pattern::capture`] can answer [`Fit::Loose`].
    pub(crate) fn can_be_loose(&self) -> bool {
        self.can_be_loose
    }

    /// Writes the pattern with parameter names erased: `{}` per parameter, `{.}` for a label
    /// parameter, e.g. `{}.{}`, `{}{}`, `{}{.}`.
    pub(crate) fn write_shape(&self, out: &mut String) {
        for group in &self.groups {
            match group {
                Group::Literal(l) => encode_segment(l, out),
                Group::Run(run) => {
                    for i in 0..run.len {
                        out.push_str(if run.is_label(i) { "{.}" } else { "{}" });
                    }
                }
            }
        }
    }

    /// Matches the whole of `text`, a segment, pushing one value per parameter onto `caps`.
    /// On failure `caps` is left as it was.
    ///
    /// A run of adjacent parameters is placed like one parameter, then split (see
    /// [`Run::split`]). Each run is as long as possible given the ones before it (for
    /// `{name}.{ext}` on `a.b.c`: `a.b` and `c`). Rather than backtracking over every split,
    /// which is exponential in the number of parameters on hostile input, one right-to-left
    /// pass places each literal at its rightmost position that still leaves a splittable
    /// run after it. A run's text is splittable from any start left of some bound except
    /// at fewer dots than it has members, and moving the literal after it to the right only
    /// loosens that, so this placement is exactly the greedy one; the whole match costs
    /// O(parameters × length of `text`) per literal.
    pub(crate) fn capture(&self, text: &str, caps: &mut Captures) -> Option<Fit> {
        let mark = caps.len();
        let slots = caps.grow(self.params)?;
        let mut out = Out {
            loose: false,
            slots,
        };
        if self.fill(text, &mut out).is_some() {
            Some(if out.loose { Fit::Loose } else { Fit::Full })
        } else {
            caps.truncate(mark);
            None
        }
    }

    /// Fills `out.slots` (one per parameter) right to left.
    fn fill(&self, text: &str, out: &mut Out<'_>) -> Option<()> {
        // Parameters from `filled` on have their values.
        let mut filled = out.slots.len();
        // The run right of the literal being placed, and where it ends.
        let mut pending: Option<(Run, usize)> = None;
        // Everything from `end` on is placed.
        let mut end = text.len();
        for (i, group) in self.groups.iter().enumerate().rev() {
            match group {
                Group::Run(run) => pending = Some((*run, end)),
                Group::Literal(lit) => {
                    let free = text.get(..end)?;
                    let start = match pending.take() {
                        None => free.strip_suffix(&**lit).map(str::len)?,
                        Some((run, run_end)) => {
                            let from = filled.checked_sub(run.len)?;
                            let lit_end = if i == 0 {
                                let lit_end = free.starts_with(&**lit).then_some(lit.len())?;
                                run.split(text, lit_end..run_end, from, out)?;
                                lit_end
                            } else {
                                run.place_before(text, lit, run_end, from, out)?
                            };
                            filled = from;
                            lit_end - lit.len()
                        }
                    };
                    if i == 0 && start != 0 {
                        return None;
                    }
                    end = start;
                }
            }
        }
        if let Some((run, run_end)) = pending {
            run.split(text, 0..run_end, 0, out)?;
        }
        Some(())
    }
}

/// Where [`Pattern::capture`] writes values.
struct Out<'c> {
    /// Set when some run matched [`Fit::Loose`].
    loose: bool,
    slots: &'c mut [Span],
}

impl Out<'_> {
    fn set(&mut self, slot: usize, start: usize, end: usize) -> Option<()> {
        *self.slots.get_mut(slot)? = Span::new(start, end)?;
        Some(())
    }
}

impl Run {
    fn is_label(self, member: usize) -> bool {
        u32::try_from(member)
            .ok()
            .and_then(|m| 1u32.checked_shl(m))
            .is_some_and(|bit| self.labels & bit != 0)
    }

    /// Splits `text[range]` among the members of the run, writing them to slots `first..`:
    /// right to left, each member after the first takes the suffix that starts at the last
    /// `.` of what is left (a label member without that dot), or the empty string when no
    /// `.` is left (a label member then fails the match); the first member takes the rest,
    /// which must not be empty.
    fn split(self, text: &str, range: Range<usize>, first: usize, out: &mut Out<'_>) -> Option<()> {
        let start = range.start;
        let mut rest = text.get(range)?;
        let mut no_dot = false;
        for member in (1..self.len).rev() {
            let slot = first + member;
            match rest.rfind('.') {
                Some(dot) => {
                    let skip = usize::from(self.is_label(member));
                    out.set(slot, start + dot + skip, start + rest.len())?;
                    rest = rest.get(..dot)?;
                }
                None if self.is_label(member) => return None,
                None => {
                    no_dot = true;
                    let at = start + rest.len();
                    out.set(slot, at, at)?;
                }
            }
        }
        if rest.is_empty() {
            return None;
        }
        out.set(first, start, start + rest.len())?;
        out.loose |= no_dot;
        Some(())
    }

    /// Places `lit` at its rightmost position in `text` such that this run, which follows
    /// it and ends at `run_end`, can be split; splits the run into slots `first..` and
    /// returns where `lit` ends.
    ///
    /// The run's text must start left of `bound`: `run_end`, or with label members the dot
    /// the leftmost label needs. Left of that, a start fails only on one of the last
    /// `len - 1` dots (the first member would be empty), so there are fewer than `len`
    /// retries.
    fn place_before(
        self,
        text: &str,
        lit: &str,
        run_end: usize,
        first: usize,
        out: &mut Out<'_>,
    ) -> Option<usize> {
        let mut bound = run_end;
        if self.labels != 0 {
            // Member `m` takes the `len - m`-th dot from the right.
            let leftmost = self.labels.trailing_zeros() as usize;
            let nth = self.len.checked_sub(leftmost)?.checked_sub(1)?;
            bound = text.get(..run_end)?.rmatch_indices('.').nth(nth)?.0;
        }
        for _ in 0..=self.len {
            // The run needs at least one character: `lit` ends before the last one.
            let (before_last_char, _) = text.get(..bound)?.char_indices().next_back()?;
            let lit_end = text.get(..before_last_char)?.rfind(lit)? + lit.len();
            if self.split(text, lit_end..run_end, first, out).is_some() {
                return Some(lit_end);
            }
            bound = lit_end;
        }
        None
    }
}

#[cfg(test)]
mod tests;
