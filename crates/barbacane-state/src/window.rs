//! The counting rule shared by both backends: a sliding window over 60 slots.
//!
//! Why not GCRA or a fixed window: `RateLimit-Policy: "p";q=100;w=10` promises at most 100
//! requests in any 10 s. A fixed window lets 200 through around a boundary; GCRA (a token
//! bucket) refills continuously, so it also admits more than `q` in some span of `w`. An exact
//! sliding log keeps one timestamp per request (memory grows with the quota). Slots bound the
//! memory (at most 62 per key) and never over-admit: time is cut into slots of `w / 60`
//! (rounded up, at least 1 ms); a unit taken in slot `k` is counted until `(k + 1) * s + w`,
//! i.e. for at least `w` after it was taken and at most one slot longer. The price is that a
//! unit frees up to one slot (1/60 of the window) late.
//!
//! ```text
//! s  = max(1, ceil(w / 60))           slot width, ms
//! lo = floor((now - w) / s)           oldest slot still counted
//! n  = sum of counts of slots >= lo   units in the window
//! take: allowed when n < q, then the slot floor(now / s) counts one more
//! remaining = q - n (after the take);  reset = (oldest counted slot + 1) * s + w - now
//! ```
//!
//! The Redis backend runs the same rule in a Lua script over a hash of slot counts, with
//! Redis's clock, so gateways whose clocks differ still agree.

/// Slots per window.
pub const SLOTS: u64 = 60;

/// The slot width for a window, in milliseconds.
pub fn slot_width(window_ms: u64) -> u64 {
    window_ms.div_ceil(SLOTS).max(1)
}

/// The oldest slot still counted at `now_ms`.
pub fn oldest_counted(now_ms: u64, window_ms: u64) -> u64 {
    now_ms.saturating_sub(window_ms) / slot_width(window_ms)
}

/// One key's counts: `(slot, count)` in increasing slot order.
#[derive(Debug, Clone, Default)]
pub struct Window {
    slots: std::collections::VecDeque<(u64, u64)>,
    total: u64,
}

/// What one take decided (times in milliseconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Taken {
    /// Whether the unit was taken.
    pub allowed: bool,
    /// Units left.
    pub remaining: u64,
    /// Until the oldest counted unit leaves the window.
    pub reset_ms: u64,
}

impl Window {
    /// Takes one unit at `now_ms` if fewer than `quota` are counted.
    pub fn take(&mut self, now_ms: u64, quota: u64, window_ms: u64) -> Taken {
        self.expire(now_ms, window_ms);
        let s = slot_width(window_ms);
        let allowed = self.total < quota;
        if allowed {
            let current = now_ms / s;
            match self.slots.back_mut() {
                Some((slot, count)) if *slot == current => *count += 1,
                _ => self.slots.push_back((current, 1)),
            }
            self.total += 1;
        }
        let reset_ms = self.slots.front().map_or(window_ms, |(slot, _)| {
            ((slot + 1) * s + window_ms).saturating_sub(now_ms)
        });
        Taken {
            allowed,
            remaining: quota.saturating_sub(self.total),
            reset_ms,
        }
    }

    /// Forgets the slots no longer counted at `now_ms`.
    pub fn expire(&mut self, now_ms: u64, window_ms: u64) {
        let lo = oldest_counted(now_ms, window_ms);
        while let Some(&(slot, count)) = self.slots.front() {
            if slot >= lo {
                break;
            }
            self.total -= count;
            self.slots.pop_front();
        }
    }

    /// Whether nothing is counted any more.
    pub fn is_empty(&self) -> bool {
        self.total == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_quota_is_spent_then_frees_up_after_the_window() {
        let mut w = Window::default();
        for i in 0..3 {
            let t = w.take(1_000 + i, 3, 10_000);
            assert!(t.allowed);
            assert_eq!(t.remaining, 2 - i);
        }
        let t = w.take(1_500, 3, 10_000);
        assert!(!t.allowed);
        assert_eq!(t.remaining, 0);
        // The first units were taken in slot 1000/167 = 5: counted until 6*167 + 10000.
        assert_eq!(t.reset_ms, 6 * 167 + 10_000 - 1_500);
        assert!(!w.take(11_001, 3, 10_000).allowed);
        assert!(w.take(6 * 167 + 10_000, 3, 10_000).allowed);
    }

    proptest! {
        /// Never more than `quota` units in any span of `window`, whatever the arrival times.
        #[test]
        fn never_more_than_the_quota_in_any_window(
            gaps in proptest::collection::vec(0u64..400, 1..400),
            quota in 1u64..20,
            window in 1u64..3_000,
        ) {
            let mut w = Window::default();
            let mut now = 0;
            let mut taken = Vec::new();
            for gap in gaps {
                now += gap;
                if w.take(now, quota, window).allowed {
                    taken.push(now);
                }
            }
            for (i, start) in taken.iter().enumerate() {
                let within = taken[i..].iter().take_while(|t| **t < start + window).count();
                prop_assert!(within as u64 <= quota, "{within} units within {window} ms of {start}");
            }
        }
    }
}
