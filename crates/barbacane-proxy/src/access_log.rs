//! The access log's writer: one `request_completed` line per request, formatted here and
//! appended to a shared buffer that goes out in chunks (every 16 KiB, and at least every
//! 100 ms from a flusher thread), the way nginx's `access_log ... buffer=` does.
//!
//! Written by hand because the general-purpose path (a `tracing` event formatted by
//! `tracing-subscriber`, then one channel message per line) cost about 5 µs of CPU per
//! request, half of what serving a mock route costs; this one formats a fixed set of fields
//! into a reused buffer. The lines have the shape `tracing-subscriber` gives every other
//! log line (`--log-format text|json`), and the chunks go to the same writer (the binary's
//! non-blocking stderr), so access lines never interleave with other lines mid-line.
//! Whether a line is written follows the log filter (`barbacane::access` at INFO).

use std::fmt::Write as _;
use std::io::Write;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, SystemTime};

/// How lines look (the binary's `--log-format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccessFormat {
    /// `tracing-subscriber`'s text layout: timestamp, level, target, message, `key=value`.
    Text,
    /// One JSON object per line, fields at the top level.
    Json,
}

/// One request, as logged.
pub(crate) struct AccessLine<'a> {
    pub method: &'a str,
    pub route: &'a str,
    pub path: &'a str,
    pub status: u16,
    pub duration_us: u64,
    pub bytes_in: Option<u64>,
    pub bytes_out: Option<u64>,
    pub client: Option<std::net::IpAddr>,
    pub request_id: &'a str,
    pub trace_id: &'a str,
    /// The request span's id, when the request was traced (`--otlp-endpoint`).
    pub span_id: Option<u64>,
}

struct Sink {
    buf: Vec<u8>,
    out: Box<dyn Write + Send>,
}

struct AccessLog {
    format: AccessFormat,
    sink: Mutex<Sink>,
}

static LOG: OnceLock<AccessLog> = OnceLock::new();

/// Chunk size: lines are handed to the writer when this much is buffered.
const CHUNK: usize = 16 << 10;
/// Longest a line waits in the buffer on a quiet gateway.
const FLUSH_EVERY: Duration = Duration::from_millis(100);

/// Sends access lines to `out` in `format` from now on (once per process; later calls are
/// ignored). Without it, access records are plain `tracing` events.
pub fn install(out: Box<dyn Write + Send>, format: AccessFormat) {
    let installed = LOG.set(AccessLog {
        format,
        sink: Mutex::new(Sink {
            buf: Vec::with_capacity(CHUNK * 2),
            out,
        }),
    });
    if installed.is_ok() {
        let _ = std::thread::Builder::new()
            .name("barbacane-access-log".into())
            .spawn(|| {
                loop {
                    std::thread::sleep(FLUSH_EVERY);
                    flush();
                }
            });
    }
}

/// Hands what is buffered to the writer (also called at shutdown).
pub fn flush() {
    if let Some(log) = LOG.get() {
        let mut sink = log
            .sink
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let Sink { buf, out } = &mut *sink;
        if !buf.is_empty() {
            let _ = out.write_all(buf);
            let _ = out.flush();
            buf.clear();
        }
    }
}

/// Writes one line; false when no writer is installed (the caller logs a `tracing` event).
pub(crate) fn write(line: &AccessLine<'_>) -> bool {
    let Some(log) = LOG.get() else {
        return false;
    };
    thread_local! {
        static SCRATCH: std::cell::RefCell<String> = std::cell::RefCell::new(String::with_capacity(512));
    }
    SCRATCH.with(|scratch| {
        let mut text = scratch.borrow_mut();
        text.clear();
        format_line(&mut text, log.format, SystemTime::now(), line);
        let mut sink = log
            .sink
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        sink.buf.extend_from_slice(text.as_bytes());
        if sink.buf.len() >= CHUNK {
            let Sink { buf, out } = &mut *sink;
            let _ = out.write_all(buf);
            buf.clear();
        }
    });
    true
}

fn format_line(out: &mut String, format: AccessFormat, now: SystemTime, l: &AccessLine<'_>) {
    let client = l.client.map(|c| c.to_string());
    match format {
        AccessFormat::Json => {
            out.push_str("{\"timestamp\":\"");
            timestamp(out, now);
            out.push_str("\",\"level\":\"INFO\",\"message\":\"request_completed\",\"method\":");
            json_str(out, l.method);
            out.push_str(",\"route\":");
            json_str(out, l.route);
            out.push_str(",\"path\":");
            json_str(out, l.path);
            let _ = write!(
                out,
                ",\"status\":{},\"duration_us\":{}",
                l.status, l.duration_us
            );
            if let Some(n) = l.bytes_in {
                let _ = write!(out, ",\"bytes_in\":{n}");
            }
            if let Some(n) = l.bytes_out {
                let _ = write!(out, ",\"bytes_out\":{n}");
            }
            if let Some(c) = &client {
                out.push_str(",\"client\":");
                json_str(out, c);
            }
            out.push_str(",\"request_id\":");
            json_str(out, l.request_id);
            out.push_str(",\"trace_id\":");
            json_str(out, l.trace_id);
            if let Some(span) = l.span_id {
                let _ = write!(out, ",\"span_id\":\"{span:016x}\"");
            }
            out.push_str(",\"target\":\"barbacane::access\"}\n");
        }
        AccessFormat::Text => {
            timestamp(out, now);
            let _ = write!(
                out,
                "  INFO barbacane::access: request_completed method={} route={} path={} status={} duration_us={}",
                l.method,
                l.route,
                text_value(l.path),
                l.status,
                l.duration_us
            );
            if let Some(n) = l.bytes_in {
                let _ = write!(out, " bytes_in={n}");
            }
            if let Some(n) = l.bytes_out {
                let _ = write!(out, " bytes_out={n}");
            }
            if let Some(c) = &client {
                let _ = write!(out, " client={c}");
            }
            let _ = write!(
                out,
                " request_id={} trace_id={}",
                text_value(l.request_id),
                l.trace_id
            );
            if let Some(span) = l.span_id {
                let _ = write!(out, " span_id={span:016x}");
            }
            out.push('\n');
        }
    }
}

/// A value for the text layout: control characters would forge lines, so they are escaped.
fn text_value(s: &str) -> std::borrow::Cow<'_, str> {
    if s.bytes().all(|b| b.is_ascii_graphic()) {
        std::borrow::Cow::Borrowed(s)
    } else {
        std::borrow::Cow::Owned(s.escape_debug().to_string())
    }
}

/// A JSON string (RFC 8259 escaping).
fn json_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// RFC 3339 UTC with microseconds, as `tracing-subscriber` writes them. The civil date is
/// computed once per second per thread.
fn timestamp(out: &mut String, now: SystemTime) {
    let since = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    let secs = since.as_secs();
    thread_local! {
        static DAY: std::cell::RefCell<(u64, String)> = const { std::cell::RefCell::new((u64::MAX, String::new())) };
    }
    DAY.with(|day| {
        let mut day = day.borrow_mut();
        if day.0 != secs {
            // `2026-11-25T14:14:26Z` without its `Z`.
            let mut whole = barbacane_artifact::rfc3339(secs);
            whole.pop();
            *day = (secs, whole);
        }
        out.push_str(&day.1);
    });
    let _ = write!(out, ".{:06}Z", since.subsec_micros());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line() -> AccessLine<'static> {
        AccessLine {
            method: "GET",
            route: "/pets/{id}",
            path: "/pets/\"1\"\n",
            status: 200,
            duration_us: 42,
            bytes_in: None,
            bytes_out: Some(37),
            client: Some("127.0.0.1".parse().unwrap()),
            request_id: "r-1",
            trace_id: "4bf92f3577b34da6a3ce929d0e0e4736",
            span_id: Some(0x00f0_67aa_0ba9_02b7),
        }
    }

    #[test]
    fn json_lines_parse_and_escape() {
        let mut out = String::new();
        let at = SystemTime::UNIX_EPOCH + Duration::from_micros(1_795_616_066_000_123);
        format_line(&mut out, AccessFormat::Json, at, &line());
        assert!(
            out.ends_with('\n') && out.matches('\n').count() == 1,
            "{out}"
        );
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["timestamp"], "2026-11-25T14:14:26.000123Z");
        assert_eq!(v["level"], "INFO");
        assert_eq!(v["target"], "barbacane::access");
        assert_eq!(v["message"], "request_completed");
        assert_eq!(v["path"], "/pets/\"1\"\n");
        assert_eq!(v["status"], 200);
        assert_eq!(v["bytes_out"], 37);
        assert!(v.get("bytes_in").is_none());
        assert_eq!(v["client"], "127.0.0.1");
        assert_eq!(v["span_id"], "00f067aa0ba902b7");
    }

    #[test]
    fn text_lines_stay_one_line() {
        let mut out = String::new();
        format_line(
            &mut out,
            AccessFormat::Text,
            SystemTime::UNIX_EPOCH,
            &line(),
        );
        assert_eq!(out.matches('\n').count(), 1, "{out}");
        assert!(
            out.starts_with(
                "1970-01-01T00:00:00.000000Z  INFO barbacane::access: request_completed method=GET"
            ),
            "{out}"
        );
        assert!(out.contains("path=/pets/\\\"1\\\"\\n status=200"), "{out}");
    }
}
