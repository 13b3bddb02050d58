//! One request's spans while it runs. Only a sampled request has a [`Recorder`]; every
//! method of [`Spans`] is a no-op without one, so a request that is not traced pays one
//! branch per phase and reads no clock for spans.

use std::borrow::Cow;
use std::time::{Instant, SystemTime};

/// An attribute value.
#[derive(Debug, Clone, PartialEq)]
pub enum AttrValue {
    /// A string.
    Str(Cow<'static, str>),
    /// An integer.
    Int(i64),
    /// A boolean.
    Bool(bool),
    /// A float.
    F64(f64),
}

impl From<&'static str> for AttrValue {
    fn from(s: &'static str) -> Self {
        AttrValue::Str(Cow::Borrowed(s))
    }
}

impl From<String> for AttrValue {
    fn from(s: String) -> Self {
        AttrValue::Str(Cow::Owned(s))
    }
}

impl From<i64> for AttrValue {
    fn from(n: i64) -> Self {
        AttrValue::Int(n)
    }
}

impl From<bool> for AttrValue {
    fn from(b: bool) -> Self {
        AttrValue::Bool(b)
    }
}

/// OpenTelemetry's span kinds (the numbers are OTLP's).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Work inside the gateway.
    Internal = 1,
    /// The request as the gateway received it.
    Server = 2,
    /// A call the gateway made (the upstream exchange).
    Client = 3,
    /// A message the gateway published.
    Producer = 4,
}

/// A finished span.
#[derive(Debug, Clone)]
pub struct SpanData {
    /// Span id (never 0).
    pub id: u64,
    /// Parent span id; 0 for the request span without a remote parent.
    pub parent: u64,
    /// Span name.
    pub name: Cow<'static, str>,
    /// Kind.
    pub kind: Kind,
    /// Start, nanoseconds since the Unix epoch.
    pub start: u64,
    /// End, nanoseconds since the Unix epoch.
    pub end: u64,
    /// Attributes in order.
    pub attrs: Vec<(Cow<'static, str>, AttrValue)>,
    /// Set when the span's work failed (OTLP status `ERROR` with this message).
    pub error: Option<String>,
}

/// A whole request's spans, ready for export.
#[derive(Debug)]
pub struct FinishedTrace {
    /// The trace id.
    pub trace_id: [u8; 16],
    /// The incoming `tracestate`, kept on the request span.
    pub tracestate: String,
    /// Its spans, the request span first.
    pub spans: Vec<SpanData>,
}

/// The spans of one sampled request.
#[derive(Debug)]
pub struct Recorder {
    trace_id: [u8; 16],
    tracestate: String,
    /// The request span's id.
    pub(crate) root: u64,
    /// The caller's span, when the request came with a valid `traceparent`.
    remote_parent: u64,
    /// The dispatch span's id, chosen up front: it is the parent the upstream is told about.
    pub(crate) dispatch: u64,
    epoch_ns: u64,
    base: Instant,
    spans: Vec<SpanData>,
    root_attrs: Vec<(Cow<'static, str>, AttrValue)>,
}

/// A random span id (never 0, as W3C requires).
pub(crate) fn span_id() -> u64 {
    loop {
        let id = rand::random::<u64>();
        if id != 0 {
            return id;
        }
    }
}

impl Recorder {
    /// Starts recording at `base` (the request's arrival).
    pub(crate) fn new(
        trace_id: [u8; 16],
        remote_parent: u64,
        tracestate: String,
        base: Instant,
    ) -> Recorder {
        let now = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default();
        let epoch_ns = u64::try_from(now.as_nanos())
            .unwrap_or(u64::MAX)
            .saturating_sub(u64::try_from(base.elapsed().as_nanos()).unwrap_or(0));
        Recorder {
            trace_id,
            tracestate,
            root: span_id(),
            remote_parent,
            dispatch: span_id(),
            epoch_ns,
            base,
            spans: Vec::with_capacity(8),
            root_attrs: Vec::with_capacity(16),
        }
    }

    /// Now, in nanoseconds since the Unix epoch, on the request's monotonic clock.
    pub(crate) fn now(&self) -> u64 {
        self.epoch_ns + u64::try_from(self.base.elapsed().as_nanos()).unwrap_or(0)
    }

    /// `instant` in nanoseconds since the Unix epoch.
    pub(crate) fn at(&self, instant: Instant) -> u64 {
        self.epoch_ns
            + u64::try_from(instant.saturating_duration_since(self.base).as_nanos()).unwrap_or(0)
    }

    /// Adds an attribute to the request span.
    pub(crate) fn root_attr(&mut self, key: &'static str, value: AttrValue) {
        self.root_attrs.push((Cow::Borrowed(key), value));
    }

    /// Adds a finished span.
    pub(crate) fn push(&mut self, span: SpanData) {
        self.spans.push(span);
    }

    /// A span from `start` to now, child of the request span.
    pub(crate) fn child(&self, name: impl Into<Cow<'static, str>>, start: u64) -> SpanData {
        SpanData {
            id: span_id(),
            parent: self.root,
            name: name.into(),
            kind: Kind::Internal,
            start,
            end: self.now(),
            attrs: Vec::new(),
            error: None,
        }
    }

    /// Closes the request span (`barbacane.request`, started at the request's arrival) and
    /// hands back everything for export.
    pub(crate) fn finish(
        mut self,
        attrs: Vec<(Cow<'static, str>, AttrValue)>,
        error: Option<String>,
    ) -> FinishedTrace {
        let mut all = std::mem::take(&mut self.root_attrs);
        all.extend(attrs);
        let attrs = all;
        let root = SpanData {
            id: self.root,
            parent: self.remote_parent,
            name: Cow::Borrowed("barbacane.request"),
            kind: Kind::Server,
            start: self.epoch_ns,
            end: self.now(),
            attrs,
            error,
        };
        self.spans.insert(0, root);
        FinishedTrace {
            trace_id: self.trace_id,
            tracestate: self.tracestate,
            spans: self.spans,
        }
    }
}

/// A request's recorder, if it is sampled.
#[derive(Debug, Default)]
pub(crate) struct Spans(pub(crate) Option<Box<Recorder>>);

impl Spans {
    /// The start of a span: now, or 0 when the request is not recorded (no clock read).
    pub(crate) fn mark(&self) -> u64 {
        self.0.as_ref().map_or(0, |r| r.now())
    }

    /// Records a child of the request span from `start` to now; `describe` adds attributes
    /// and runs only when the request is recorded. Returns the span's id (0 when not
    /// recorded).
    pub(crate) fn close(
        &mut self,
        name: &'static str,
        start: u64,
        describe: impl FnOnce(&mut SpanData),
    ) -> u64 {
        match &mut self.0 {
            Some(recorder) => {
                let mut span = recorder.child(name, start);
                describe(&mut span);
                let id = span.id;
                recorder.push(span);
                id
            }
            None => 0,
        }
    }

    /// Records the spans a plugin made during one hook as children of `parent` (the hook's
    /// span); a span the plugin did not end ends now.
    pub(crate) fn guest(&mut self, parent: u64, spans: Vec<barbacane_wasm::GuestSpan>) {
        let Some(recorder) = &mut self.0 else {
            return;
        };
        let now = recorder.now();
        for guest in spans {
            let mut span = recorder.child(guest.name, recorder.at(guest.start));
            span.parent = parent;
            span.end = guest.end.map_or(now, |end| recorder.at(end));
            span.attrs = guest
                .attributes
                .into_iter()
                .map(|(k, v)| (Cow::Owned(k), AttrValue::Str(Cow::Owned(v))))
                .collect();
            recorder.push(span);
        }
    }
}

impl Spans {
    /// Records the dispatch span from `start` to now, under the id the upstream was given as
    /// its parent.
    pub(crate) fn close_dispatch(&mut self, start: u64, describe: impl FnOnce(&mut SpanData)) {
        if let Some(recorder) = &mut self.0 {
            let mut span = recorder.child("barbacane.dispatch", start);
            span.id = recorder.dispatch;
            describe(&mut span);
            recorder.push(span);
        }
    }
}

impl SpanData {
    /// Adds an attribute.
    pub(crate) fn attr(&mut self, key: &'static str, value: impl Into<AttrValue>) {
        self.attrs.push((Cow::Borrowed(key), value.into()));
    }
}
