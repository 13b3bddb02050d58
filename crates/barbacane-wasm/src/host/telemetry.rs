//! `barbacane:telemetry`: a plugin's own metrics and spans.
//!
//! - `metric_counter_inc(name, name_len, labels, labels_len, by: i64) -> i32`
//! - `metric_histogram_observe(name, name_len, labels, labels_len, value: f64) -> i32`
//! - `span_start(name, name_len) -> i32`, `span_set_attribute(span, key, key_len, value,
//!   value_len) -> i32`, `span_end(span) -> i32`
//!
//! Labels are `name=value` lines (`\n`-separated). Metrics are exposed as
//! `barbacane_plugin_<plugin>_<name>`; a plugin has at most 32 metric names of at most 64
//! label sets each (`stats`), and an update beyond that, a bad name or a bad label returns
//! -1 and changes nothing. Spans are recorded only when the request is traced (`span_start`
//! returns 0 otherwise and the other calls ignore handle 0); the gateway nests them under
//! the span of the hook that made them.

use std::time::Instant;
use wasmtime::{Caller, Linker};

use crate::memory::read_str;
use crate::state::{GuestSpan, HostState};

/// Spans one hook call may record at most.
pub const MAX_SPANS: usize = 32;
/// Attributes one span may carry at most.
pub const MAX_ATTRIBUTES: usize = 16;
/// Labels one update may carry at most.
pub const MAX_LABELS: usize = 8;

pub(crate) fn add_to_linker(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    const M: &str = "barbacane:telemetry";
    linker.func_wrap(M, "metric_counter_inc", counter_inc)?;
    linker.func_wrap(M, "metric_histogram_observe", histogram_observe)?;
    linker.func_wrap(M, "span_start", span_start)?;
    linker.func_wrap(M, "span_set_attribute", span_set_attribute)?;
    linker.func_wrap(M, "span_end", span_end)?;
    Ok(())
}

fn counter_inc(
    mut caller: Caller<'_, HostState>,
    name: i32,
    name_len: i32,
    labels: i32,
    labels_len: i32,
    by: i64,
) -> wasmtime::Result<i32> {
    let Ok(by) = u64::try_from(by) else {
        return Ok(-1);
    };
    update(
        &mut caller,
        (name, name_len),
        (labels, labels_len),
        |m, n, l| m.counter_add(n, l, by),
    )
}

fn histogram_observe(
    mut caller: Caller<'_, HostState>,
    name: i32,
    name_len: i32,
    labels: i32,
    labels_len: i32,
    value: f64,
) -> wasmtime::Result<i32> {
    if !value.is_finite() {
        return Ok(-1);
    }
    update(
        &mut caller,
        (name, name_len),
        (labels, labels_len),
        |m, n, l| m.histogram_observe(n, l, value),
    )
}

/// Reads and checks a metric's name and labels, then applies `change` to the plugin's
/// metrics: 0 when it took, -1 when anything was refused.
fn update(
    caller: &mut Caller<'_, HostState>,
    (name, name_len): (i32, i32),
    (labels, labels_len): (i32, i32),
    change: impl FnOnce(&mut crate::stats::CustomMetrics, &str, &str) -> bool,
) -> wasmtime::Result<i32> {
    let name = read_str(caller, name, name_len)?;
    let labels = read_str(caller, labels, labels_len)?;
    let (Some(labels), true, Some(stats)) = (
        render_labels(&labels),
        valid_name(&name),
        caller.data().stats.clone(),
    ) else {
        return Ok(-1);
    };
    let mut custom = stats
        .custom
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    Ok(if change(&mut custom, &name, &labels) {
        0
    } else {
        -1
    })
}

fn span_start(
    mut caller: Caller<'_, HostState>,
    name: i32,
    name_len: i32,
) -> wasmtime::Result<i32> {
    let name = read_str(&mut caller, name, name_len)?;
    let exchange = &mut caller.data_mut().exchange;
    if !exchange.traced || exchange.guest_spans.len() >= MAX_SPANS || name.is_empty() {
        return Ok(0);
    }
    exchange.guest_spans.push(GuestSpan {
        name,
        start: Instant::now(),
        end: None,
        attributes: Vec::new(),
    });
    Ok(i32::try_from(exchange.guest_spans.len()).unwrap_or(0))
}

fn span_set_attribute(
    mut caller: Caller<'_, HostState>,
    span: i32,
    key: i32,
    key_len: i32,
    value: i32,
    value_len: i32,
) -> wasmtime::Result<i32> {
    let key = read_str(&mut caller, key, key_len)?;
    let value = read_str(&mut caller, value, value_len)?;
    let Some(span) = open_span(&mut caller, span) else {
        return Ok(-1);
    };
    if span.attributes.len() >= MAX_ATTRIBUTES || key.is_empty() {
        return Ok(-1);
    }
    span.attributes.push((key, value));
    Ok(0)
}

fn span_end(mut caller: Caller<'_, HostState>, span: i32) -> wasmtime::Result<i32> {
    match open_span(&mut caller, span) {
        Some(span) => {
            span.end = Some(Instant::now());
            Ok(0)
        }
        None => Ok(-1),
    }
}

/// The span with handle `handle` (1-based), if it is still open.
fn open_span<'c>(caller: &'c mut Caller<'_, HostState>, handle: i32) -> Option<&'c mut GuestSpan> {
    let index = usize::try_from(handle).ok()?.checked_sub(1)?;
    caller
        .data_mut()
        .exchange
        .guest_spans
        .get_mut(index)
        .filter(|s| s.end.is_none())
}

/// A metric or label name: `[a-zA-Z_][a-zA-Z0-9_]*`, at most 64 bytes.
fn valid_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    name.len() <= 64
        && bytes
            .next()
            .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// `a=1\nb=2` as the exposition's `a="1",b="2"` (sorted, escaped), or `None` when a line is
/// not `name=value`, a name repeats, or there are too many.
fn render_labels(text: &str) -> Option<String> {
    let mut pairs: Vec<(&str, &str)> = Vec::new();
    for line in text.split('\n').filter(|l| !l.is_empty()) {
        let (name, value) = line.split_once('=')?;
        if !valid_name(name) || name.starts_with("__") || value.len() > 128 {
            return None;
        }
        pairs.push((name, value));
    }
    pairs.sort_unstable();
    if pairs.len() > MAX_LABELS || pairs.windows(2).any(|w| w[0].0 == w[1].0) {
        return None;
    }
    let mut out = String::new();
    for (i, (name, value)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(name);
        out.push_str("=\"");
        for c in value.chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                '"' => out.push_str("\\\""),
                c => out.push(c),
            }
        }
        out.push('"');
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_canonical_and_checked() {
        assert_eq!(
            render_labels("b=2\na=x\"y").as_deref(),
            Some("a=\"x\\\"y\",b=\"2\"")
        );
        assert_eq!(render_labels("").as_deref(), Some(""));
        assert_eq!(render_labels("novalue"), None);
        assert_eq!(render_labels("1a=x"), None);
        assert_eq!(render_labels("__name__=x"), None);
        assert_eq!(render_labels("a=1\na=2"), None);
        let many: Vec<String> = (0..9).map(|i| format!("l{i}=v")).collect();
        assert_eq!(render_labels(&many.join("\n")), None);
        assert!(valid_name("requests_total") && !valid_name("bad-name") && !valid_name(""));
    }
}
