//! Per-plugin statistics, process-wide and surviving reloads: guest execution time by hook,
//! traps and timeouts, time spent as a middleware, short circuits, and the metrics plugins
//! define themselves through the `telemetry` capability. Recording is lock-free (relaxed
//! atomic adds); a plugin's own metrics take a short lock to find their series, bounded in
//! count so a plugin cannot grow the exposition without limit.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

/// A Prometheus histogram: fixed upper bounds, non-cumulative counts, a sum in nanos (or in
/// thousandths for non-time values).
#[derive(Debug)]
pub struct Histogram {
    bounds: &'static [f64],
    counts: Box<[AtomicU64]>,
    /// Sum of observations times 1e9 (nanoseconds for seconds).
    sum: AtomicU64,
}

/// A counter every worker adds to on its request path (a cache hit's short circuit): one
/// slot per thread, each on its own cache line, so workers counting at once do not take the
/// line from each other on every request. Threads past [`COUNTER_SLOTS`] share slots.
#[derive(Debug, Default)]
pub struct Counter {
    slots: [Slot; COUNTER_SLOTS],
}

/// Slots of a [`Counter`].
pub const COUNTER_SLOTS: usize = 8;

#[derive(Debug, Default)]
#[repr(align(128))]
struct Slot(AtomicU64);

impl Counter {
    /// Adds `n`.
    pub fn add(&self, n: u64) {
        self.slots[thread_slot()].0.fetch_add(n, Ordering::Relaxed);
    }

    /// The total.
    pub fn get(&self) -> u64 {
        self.slots.iter().map(|s| s.0.load(Ordering::Relaxed)).sum()
    }
}

/// This thread's slot in every [`Counter`], handed out in turn.
fn thread_slot() -> usize {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    thread_local! {
        static SLOT: usize = (NEXT.fetch_add(1, Ordering::Relaxed) % COUNTER_SLOTS as u64) as usize;
    }
    SLOT.with(|s| *s)
}

/// Upper bounds (seconds) for guest and middleware execution times.
pub const FAST_BUCKETS: [f64; 12] = [
    0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1,
];

impl Histogram {
    /// A histogram with these upper bounds (ascending).
    pub fn new(bounds: &'static [f64]) -> Histogram {
        Histogram {
            bounds,
            counts: (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect(),
            sum: AtomicU64::new(0),
        }
    }

    /// Records one value.
    pub fn observe(&self, value: f64) {
        let slot = self
            .bounds
            .iter()
            .position(|b| value <= *b)
            .unwrap_or(self.bounds.len());
        self.counts[slot].fetch_add(1, Ordering::Relaxed);
        // Saturating float-to-int conversion: a negative or NaN value adds nothing.
        self.sum.fetch_add((value * 1e9) as u64, Ordering::Relaxed);
    }

    /// Records a duration.
    pub fn observe_duration(&self, d: Duration) {
        self.observe(d.as_secs_f64());
    }

    /// Observations so far.
    pub fn count(&self) -> u64 {
        self.counts.iter().map(|c| c.load(Ordering::Relaxed)).sum()
    }

    /// Writes `<name>_bucket`, `_sum` and `_count` lines with `labels` (already escaped,
    /// without braces; may be empty).
    pub fn render(&self, out: &mut String, name: &str, labels: &str) {
        use std::fmt::Write;
        let sep = if labels.is_empty() { "" } else { "," };
        let mut cumulative = 0;
        for (i, c) in self.counts.iter().enumerate() {
            cumulative += c.load(Ordering::Relaxed);
            let le = self
                .bounds
                .get(i)
                .map_or_else(|| "+Inf".to_owned(), f64::to_string);
            let _ = writeln!(
                out,
                "{name}_bucket{{{labels}{sep}le=\"{le}\"}} {cumulative}"
            );
        }
        let sum = self.sum.load(Ordering::Relaxed) as f64 / 1e9;
        let braces = |s: &str| {
            if s.is_empty() {
                String::new()
            } else {
                format!("{{{s}}}")
            }
        };
        let _ = writeln!(out, "{name}_sum{} {sum}", braces(labels));
        let _ = writeln!(out, "{name}_count{} {cumulative}", braces(labels));
    }
}

/// The guest hooks timed separately.
pub const HOOKS: [&str; 3] = ["on_request", "on_response", "dispatch"];

/// One plugin's statistics.
#[derive(Debug)]
pub struct PluginStats {
    /// The plugin's name.
    pub name: String,
    /// Guest execution time, by hook (`HOOKS` order).
    pub execution: [Histogram; 3],
    /// Calls that trapped, by hook.
    pub traps: [AtomicU64; 3],
    /// Calls cut off by the time limit, by hook.
    pub timeouts: [AtomicU64; 3],
    /// Time as a middleware (checkout, start and the hook), by phase: request, response.
    pub middleware: [Histogram; 2],
    /// Requests it answered itself in `on_request` (authentication refused, rate limited,
    /// cached response...).
    pub short_circuits: Counter,
    /// Its own metrics (`telemetry` capability).
    pub custom: Mutex<CustomMetrics>,
    /// The second (since the epoch) of the last `wasm_trap` log line: at most one per second
    /// per plugin, so a plugin failing on every request cannot flood the log.
    last_trap_log: AtomicU64,
}

impl PluginStats {
    fn new(name: &str) -> PluginStats {
        PluginStats {
            name: name.to_owned(),
            execution: std::array::from_fn(|_| Histogram::new(&FAST_BUCKETS)),
            traps: Default::default(),
            timeouts: Default::default(),
            middleware: std::array::from_fn(|_| Histogram::new(&FAST_BUCKETS)),
            short_circuits: Counter::default(),
            custom: Mutex::new(CustomMetrics::default()),
            last_trap_log: AtomicU64::new(0),
        }
    }

    /// Whether a `wasm_trap` line may be logged now (once per second per plugin).
    pub fn may_log_trap(&self) -> bool {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        self.last_trap_log.swap(now, Ordering::Relaxed) != now
    }

    /// The index of `hook` in [`HOOKS`].
    pub fn hook_index(hook: &str) -> Option<usize> {
        HOOKS.iter().position(|h| *h == hook)
    }
}

/// Metrics a plugin defines: counters and histograms by name, each with label sets.
#[derive(Debug, Default)]
pub struct CustomMetrics {
    /// Counters: metric name -> label set (rendered) -> value.
    pub counters: BTreeMap<String, BTreeMap<String, u64>>,
    /// Histograms: metric name -> label set (rendered) -> histogram.
    pub histograms: BTreeMap<String, BTreeMap<String, Histogram>>,
    /// Updates refused by the caps (new names or label sets beyond them).
    pub refused: u64,
}

/// Metric names one plugin may define at most.
pub const MAX_CUSTOM_METRICS: usize = 32;
/// Label sets one metric of a plugin may have at most.
pub const MAX_LABEL_SETS: usize = 64;
/// Upper bounds of plugins' histograms (seconds, or any unit the plugin observes in).
pub const CUSTOM_BUCKETS: [f64; 11] = [
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

impl CustomMetrics {
    fn room_for(&self, name: &str, labels: &str) -> bool {
        let names = self.counters.len() + self.histograms.len();
        let known = self.counters.contains_key(name) || self.histograms.contains_key(name);
        if !known && names >= MAX_CUSTOM_METRICS {
            return false;
        }
        let sets = self
            .counters
            .get(name)
            .map(|m| (m.len(), m.contains_key(labels)))
            .or_else(|| {
                self.histograms
                    .get(name)
                    .map(|m| (m.len(), m.contains_key(labels)))
            });
        !matches!(sets, Some((n, false)) if n >= MAX_LABEL_SETS)
    }

    /// Adds `by` to counter `name` with `labels`; false when refused by a cap or because
    /// `name` is a histogram.
    pub fn counter_add(&mut self, name: &str, labels: &str, by: u64) -> bool {
        if self.histograms.contains_key(name) || !self.room_for(name, labels) {
            self.refused += 1;
            return false;
        }
        *self
            .counters
            .entry(name.to_owned())
            .or_default()
            .entry(labels.to_owned())
            .or_default() += by;
        true
    }

    /// Observes `value` in histogram `name` with `labels`; false when refused.
    pub fn histogram_observe(&mut self, name: &str, labels: &str, value: f64) -> bool {
        if self.counters.contains_key(name) || !self.room_for(name, labels) {
            self.refused += 1;
            return false;
        }
        self.histograms
            .entry(name.to_owned())
            .or_default()
            .entry(labels.to_owned())
            .or_insert_with(|| Histogram::new(&CUSTOM_BUCKETS))
            .observe(value);
        true
    }
}

fn registry() -> &'static Mutex<BTreeMap<String, Arc<PluginStats>>> {
    static REGISTRY: OnceLock<Mutex<BTreeMap<String, Arc<PluginStats>>>> = OnceLock::new();
    REGISTRY.get_or_init(Default::default)
}

/// The statistics of plugin `name` (created on first use; shared by every configuration
/// and every artifact that uses the plugin).
pub fn for_plugin(name: &str) -> Arc<PluginStats> {
    let mut map = registry()
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    Arc::clone(
        map.entry(name.to_owned())
            .or_insert_with(|| Arc::new(PluginStats::new(name))),
    )
}

/// Every plugin's statistics, by name.
pub fn all() -> Vec<Arc<PluginStats>> {
    registry()
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .values()
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_counter_sums_what_every_thread_added() {
        let counter = Counter::default();
        std::thread::scope(|s| {
            for _ in 0..2 * COUNTER_SLOTS {
                s.spawn(|| {
                    for _ in 0..1000 {
                        counter.add(1);
                    }
                });
            }
        });
        counter.add(5);
        assert_eq!(counter.get(), 2 * COUNTER_SLOTS as u64 * 1000 + 5);
    }

    #[test]
    fn histogram_renders_cumulative_buckets() {
        let h = Histogram::new(&FAST_BUCKETS);
        h.observe(0.00002);
        h.observe(0.2);
        let mut out = String::new();
        h.render(&mut out, "x_seconds", "plugin=\"a\"");
        assert!(
            out.contains("x_seconds_bucket{plugin=\"a\",le=\"0.00001\"} 0"),
            "{out}"
        );
        assert!(
            out.contains("x_seconds_bucket{plugin=\"a\",le=\"0.000025\"} 1"),
            "{out}"
        );
        assert!(
            out.contains("x_seconds_bucket{plugin=\"a\",le=\"+Inf\"} 2"),
            "{out}"
        );
        assert!(out.contains("x_seconds_count{plugin=\"a\"} 2"), "{out}");
        let mut bare = String::new();
        h.render(&mut bare, "y", "");
        assert!(
            bare.contains("y_bucket{le=\"0.1\"} 1") && bare.contains("y_count 2"),
            "{bare}"
        );
    }

    #[test]
    fn custom_metrics_are_capped() {
        let mut m = CustomMetrics::default();
        for i in 0..MAX_CUSTOM_METRICS {
            assert!(m.counter_add(&format!("c{i}"), "", 1));
        }
        assert!(!m.counter_add("one_too_many", "", 1));
        assert!(m.counter_add("c0", "", 2), "known names still count");
        for i in 0..MAX_LABEL_SETS - 1 {
            assert!(m.counter_add("c1", &format!("k=\"{i}\""), 1));
        }
        assert!(!m.counter_add("c1", "k=\"new\"", 1));
        assert!(
            !m.histogram_observe("c2", "", 1.0),
            "a counter is not a histogram"
        );
        assert_eq!(m.counters["c0"][""], 3);
        assert_eq!(m.refused, 3);
    }
}
