//! The plugin's own metrics and spans (`telemetry` capability).
//!
//! Metrics appear in the gateway's exposition as `barbacane_plugin_<plugin>_<name>` (a `-`
//! in the plugin's name becomes `_`). Names and label names are `[a-zA-Z_][a-zA-Z0-9_]*`;
//! at most 8 labels per update, 32 metric names per plugin and 64 label sets per metric: an
//! update beyond that is refused (`false`) and changes nothing, so a plugin cannot make the
//! scrape grow without bound. Keep label values to a small known set (a status class, an
//! outcome), never request data such as paths or user ids.
//!
//! Spans are recorded only when the request is traced; they nest under the span of the hook
//! that made them. A [`Span`] ends when dropped.
//!
//! ```ignore
//! telemetry::counter_inc("decisions_total", &[("outcome", "allowed")], 1);
//! let span = telemetry::Span::start("lookup");
//! span.set_attribute("cache", "miss");
//! ```

use crate::host;

/// Adds `by` to counter `name` with `labels`. False when refused (bad name or label, a cap
/// reached, or `name` already a histogram).
pub fn counter_inc(name: &str, labels: &[(&str, &str)], by: u64) -> bool {
    host::metric_counter_inc(name, &encode(labels), by)
}

/// Observes `value` (seconds, for durations) in histogram `name` with `labels`. False when
/// refused.
pub fn histogram_observe(name: &str, labels: &[(&str, &str)], value: f64) -> bool {
    host::metric_histogram_observe(name, &encode(labels), value)
}

/// `name=value` lines, the ABI's label encoding. A label containing `\n` or a name
/// containing `=` cannot be encoded: the host then refuses the update.
fn encode(labels: &[(&str, &str)]) -> String {
    let mut out = String::new();
    for (name, value) in labels {
        if !out.is_empty() {
            out.push('\n');
        }
        out.push_str(name);
        out.push('=');
        out.push_str(value);
    }
    out
}

/// A span under the current hook's span; ends when dropped (or with [`Span::end`]).
#[derive(Debug)]
pub struct Span {
    handle: i32,
}

impl Span {
    /// Starts a span. When the request is not traced this records nothing and costs one
    /// host call.
    pub fn start(name: &str) -> Span {
        Span {
            handle: host::span_start(name),
        }
    }

    /// Whether the span is being recorded.
    pub fn is_recording(&self) -> bool {
        self.handle > 0
    }

    /// Adds an attribute (at most 16 per span).
    pub fn set_attribute(&self, key: &str, value: &str) {
        if self.handle > 0 {
            host::span_set_attribute(self.handle, key, value);
        }
    }

    /// Ends the span now.
    pub fn end(self) {}
}

impl Drop for Span {
    fn drop(&mut self) {
        if self.handle > 0 {
            host::span_end(self.handle);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::FakeHost;

    #[test]
    fn metrics_and_spans_reach_the_host() {
        let host = FakeHost::new();
        assert!(counter_inc("decisions_total", &[("outcome", "allowed")], 2));
        assert!(histogram_observe("lookup_seconds", &[], 0.25));
        assert!(!counter_inc("bad-name", &[], 1));
        assert_eq!(
            host.counters(),
            vec![(
                "decisions_total".to_owned(),
                "outcome=allowed".to_owned(),
                2
            )]
        );
        assert_eq!(
            host.histograms(),
            vec![("lookup_seconds".to_owned(), String::new(), 0.25)]
        );
        // Untraced: nothing recorded.
        Span::start("quiet").set_attribute("k", "v");
        assert!(host.spans().is_empty());
        let mut host = host;
        host.traced(true);
        {
            let span = Span::start("lookup");
            assert!(span.is_recording());
            span.set_attribute("cache", "miss");
        }
        assert_eq!(
            host.spans(),
            vec![(
                "lookup".to_owned(),
                vec![("cache".to_owned(), "miss".to_owned())],
                true
            )]
        );
    }
}
