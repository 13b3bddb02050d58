//! Every log event of the test process, at every level and from every crate, captured so
//! that tests can check what an outage logs and that no payload or header value is logged.

use std::fmt::Write;
use std::sync::{Mutex, Once};
use tracing::field::{Field, Visit};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};

static EVENTS: Mutex<Vec<String>> = Mutex::new(Vec::new());

struct Capture;

struct Fields(String);

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let _ = write!(self.0, "{}={value:?} ", field.name());
    }
}

impl<S: tracing::Subscriber> Layer<S> for Capture {
    fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
        let meta = event.metadata();
        let mut fields = Fields(format!("{} {}: ", meta.level(), meta.target()));
        event.record(&mut fields);
        EVENTS.lock().unwrap().push(fields.0);
    }
}

/// Starts capturing (once per process).
pub fn install() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let subscriber = tracing_subscriber::registry().with(Capture);
        tracing::subscriber::set_global_default(subscriber).unwrap();
    });
}

/// The captured events (level, target, fields) that contain `needle`.
pub fn containing(needle: &str) -> Vec<String> {
    EVENTS
        .lock()
        .unwrap()
        .iter()
        .filter(|e| e.contains(needle))
        .cloned()
        .collect()
}

/// Captured events that contain `needle`, except async-nats' TRACE lines, which dump outgoing
/// headers, incoming messages and credentials. The crate docs say so; production filters keep
/// `async_nats` above TRACE.
pub fn leaking(needle: &str) -> Vec<String> {
    containing(needle)
        .into_iter()
        .filter(|e| !e.starts_with("TRACE async_nats"))
        .collect()
}
