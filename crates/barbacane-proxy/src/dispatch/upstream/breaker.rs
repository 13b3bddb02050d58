//! A circuit breaker per `http-upstream` use: `threshold` failures (transport errors,
//! timeouts, 5xx answers) within `window` seconds open it for `window` seconds, during which
//! requests get 503 without touching the upstream. Then one probe request goes through:
//! success closes it, failure opens it again.

use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Debug)]
pub(crate) struct Breaker {
    threshold: u32,
    window: Duration,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    window_start: Instant,
    failures: u32,
    open_until: Option<Instant>,
    probing: bool,
}

/// How an attempt ended, from the upstream's point of view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// The upstream answered below 500.
    Success,
    /// Transport error, timeout, or a 5xx answer.
    Failure,
    /// Ended for a reason that says nothing about the upstream (client error, cancellation).
    Neutral,
}

/// Reports one attempt's outcome; dropping it unreported counts as [`Outcome::Neutral`].
pub(crate) struct Guard<'a> {
    breaker: &'a Breaker,
    admission: Admission,
    done: bool,
}

impl Guard<'_> {
    pub(crate) fn finish(mut self, outcome: Outcome) {
        self.done = true;
        self.breaker.record(self.admission, outcome);
    }
}

impl Drop for Guard<'_> {
    fn drop(&mut self) {
        if !self.done {
            self.breaker.record(self.admission, Outcome::Neutral);
        }
    }
}

/// Whether a request may go to the upstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Admission {
    /// Closed: go.
    Pass,
    /// Half-open: this request is the probe.
    Probe,
    /// Open: answer 503.
    Reject,
}

impl Breaker {
    pub(crate) fn new(threshold: u32, window: Duration) -> Breaker {
        Breaker {
            threshold: threshold.max(1),
            window,
            state: Mutex::new(State {
                window_start: Instant::now(),
                failures: 0,
                open_until: None,
                probing: false,
            }),
        }
    }

    pub(crate) fn admit(&self) -> Admission {
        self.admit_at(Instant::now())
    }

    pub(crate) fn record(&self, admission: Admission, outcome: Outcome) {
        self.record_at(admission, outcome, Instant::now());
    }

    pub(crate) fn guard(&self, admission: Admission) -> Guard<'_> {
        Guard {
            breaker: self,
            admission,
            done: false,
        }
    }

    fn admit_at(&self, now: Instant) -> Admission {
        let Ok(mut s) = self.state.lock() else {
            return Admission::Pass;
        };
        match s.open_until {
            None => Admission::Pass,
            Some(until) if now < until => Admission::Reject,
            Some(_) if s.probing => Admission::Reject,
            Some(_) => {
                s.probing = true;
                Admission::Probe
            }
        }
    }

    fn record_at(&self, admission: Admission, outcome: Outcome, now: Instant) {
        let Ok(mut s) = self.state.lock() else { return };
        if admission == Admission::Probe {
            // A neutral probe frees the slot; the breaker stays open-expired, so the next
            // request probes again.
            s.probing = false;
            if outcome == Outcome::Success {
                *s = State {
                    window_start: now,
                    failures: 0,
                    open_until: None,
                    probing: false,
                };
            } else if outcome == Outcome::Failure {
                s.open_until = Some(now + self.window);
            }
            return;
        }
        if outcome != Outcome::Failure {
            return;
        }
        if now.duration_since(s.window_start) > self.window {
            s.window_start = now;
            s.failures = 0;
        }
        s.failures += 1;
        if s.failures >= self.threshold && s.open_until.is_none() {
            tracing::warn!(failures = s.failures, "circuit breaker opened");
            s.open_until = Some(now + self.window);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WINDOW: Duration = Duration::from_secs(10);

    #[test]
    fn opens_after_threshold_within_the_window_then_probes_and_closes() {
        let t0 = Instant::now();
        let b = Breaker::new(2, WINDOW);
        assert_eq!(b.admit_at(t0), Admission::Pass);
        b.record_at(Admission::Pass, Outcome::Failure, t0);
        b.record_at(
            Admission::Pass,
            Outcome::Failure,
            t0 + Duration::from_secs(1),
        );
        assert_eq!(b.admit_at(t0 + Duration::from_secs(2)), Admission::Reject);
        // Open for one window, then one probe at a time.
        let later = t0 + Duration::from_secs(12);
        assert_eq!(b.admit_at(later), Admission::Probe);
        assert_eq!(b.admit_at(later), Admission::Reject);
        b.record_at(Admission::Probe, Outcome::Success, later);
        assert_eq!(b.admit_at(later), Admission::Pass);
    }

    #[test]
    fn failures_spread_over_more_than_a_window_do_not_open() {
        let t0 = Instant::now();
        let b = Breaker::new(2, WINDOW);
        b.record_at(Admission::Pass, Outcome::Failure, t0);
        b.record_at(
            Admission::Pass,
            Outcome::Failure,
            t0 + Duration::from_secs(11),
        );
        assert_eq!(b.admit_at(t0 + Duration::from_secs(11)), Admission::Pass);
    }

    #[test]
    fn a_failed_probe_reopens() {
        let t0 = Instant::now();
        let b = Breaker::new(1, WINDOW);
        b.record_at(Admission::Pass, Outcome::Failure, t0);
        let probe_time = t0 + Duration::from_secs(11);
        assert_eq!(b.admit_at(probe_time), Admission::Probe);
        b.record_at(Admission::Probe, Outcome::Failure, probe_time);
        assert_eq!(
            b.admit_at(probe_time + Duration::from_secs(1)),
            Admission::Reject
        );
        assert_eq!(
            b.admit_at(probe_time + Duration::from_secs(11)),
            Admission::Probe
        );
    }

    #[test]
    fn a_dropped_probe_frees_the_slot_and_neutral_outcomes_do_not_count() {
        let t0 = Instant::now();
        let b = Breaker::new(1, WINDOW);
        b.record_at(Admission::Pass, Outcome::Neutral, t0);
        assert_eq!(b.admit_at(t0), Admission::Pass);
        b.record_at(Admission::Pass, Outcome::Failure, t0);
        let later = t0 + Duration::from_secs(11);
        assert_eq!(b.admit_at(later), Admission::Probe);
        drop(b.guard(Admission::Probe));
        assert_eq!(b.admit_at(later), Admission::Probe);
    }

    #[test]
    fn successes_do_not_open() {
        let b = Breaker::new(1, WINDOW);
        for _ in 0..10 {
            b.record(Admission::Pass, Outcome::Success);
        }
        assert_eq!(b.admit(), Admission::Pass);
    }
}
