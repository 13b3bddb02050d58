//! The data plane's response body: prebuilt bytes, or an upstream response streamed through.

use bytes::Bytes;
use http_body::{Frame, SizeHint};
use std::pin::Pin;
use std::task::{Context, Poll};

/// Boxed error type of bodies crossing the gateway.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A response body. An enum rather than a boxed trait object: the common case (a prebuilt
/// body) stays allocation-free and inlinable.
#[derive(Debug)]
pub enum Body {
    /// Bytes known up front (mock responses, problems); `None` once sent.
    Full(Option<Bytes>),
    /// An upstream response body, streamed frame by frame without buffering.
    Streaming(hyper::body::Incoming),
    /// An upstream response body whose beginning was read (buffering for plugins stopped at
    /// its bound): those bytes, then the rest streamed.
    Resumed(Option<Bytes>, hyper::body::Incoming),
    /// A Server-Sent Events stream: frames produced by the subscription's task, which ends
    /// the stream by dropping its sender.
    Events(tokio::sync::mpsc::Receiver<Bytes>),
}

/// Reads a streamed response body whole, up to `limit` bytes: `Body::Full` when it fits
/// (trailers are dropped), otherwise what was read followed by the rest of the stream. A
/// body that fails mid-way is handed on as it is: the client sees the same failure it would
/// have seen streaming.
pub(crate) async fn buffer_response(mut incoming: hyper::body::Incoming, limit: usize) -> Body {
    use http_body_util::BodyExt;
    let mut read = bytes::BytesMut::new();
    loop {
        match incoming.frame().await {
            None => return Body::Full(Some(read.freeze())),
            Some(Ok(frame)) => {
                if let Ok(data) = frame.into_data() {
                    read.extend_from_slice(&data);
                    if read.len() > limit {
                        return Body::Resumed(Some(read.freeze()), incoming);
                    }
                }
            }
            Some(Err(_)) => return Body::Resumed(Some(read.freeze()), incoming),
        }
    }
}

impl Body {
    /// A body of these bytes.
    pub fn new(bytes: Bytes) -> Body {
        Body::Full(Some(bytes))
    }

    /// An empty body.
    pub fn empty() -> Body {
        Body::Full(None)
    }
}

impl Default for Body {
    fn default() -> Self {
        Body::empty()
    }
}

impl http_body::Body for Body {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        match self.get_mut() {
            Body::Full(bytes) => Poll::Ready(
                bytes
                    .take()
                    .filter(|b| !b.is_empty())
                    .map(|b| Ok(Frame::data(b))),
            ),
            Body::Streaming(incoming) => Pin::new(incoming).poll_frame(cx).map_err(BoxError::from),
            Body::Resumed(head, incoming) => match head.take().filter(|b| !b.is_empty()) {
                Some(bytes) => Poll::Ready(Some(Ok(Frame::data(bytes)))),
                None => Pin::new(incoming).poll_frame(cx).map_err(BoxError::from),
            },
            Body::Events(frames) => frames.poll_recv(cx).map(|f| f.map(|b| Ok(Frame::data(b)))),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            Body::Full(bytes) => bytes.as_ref().is_none_or(Bytes::is_empty),
            Body::Streaming(incoming) => incoming.is_end_stream(),
            Body::Resumed(head, incoming) => {
                head.as_ref().is_none_or(Bytes::is_empty) && incoming.is_end_stream()
            }
            Body::Events(frames) => frames.is_closed() && frames.is_empty(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            Body::Full(bytes) => SizeHint::with_exact(bytes.as_ref().map_or(0, |b| b.len() as u64)),
            Body::Streaming(incoming) => incoming.size_hint(),
            Body::Resumed(head, incoming) => {
                let extra = head.as_ref().map_or(0, |b| b.len() as u64);
                let inner = incoming.size_hint();
                let mut hint = SizeHint::new();
                hint.set_lower(inner.lower() + extra);
                if let Some(upper) = inner.upper() {
                    hint.set_upper(upper + extra);
                }
                hint
            }
            Body::Events(_) => SizeHint::new(),
        }
    }
}

/// A request body on its way to an upstream: the buffered body when validation read it,
/// otherwise the client's body streamed through (bounded by the body limit).
pub type OutgoingBody = http_body_util::combinators::UnsyncBoxBody<Bytes, BoxError>;

/// An empty request body for the upstream client.
pub(crate) fn empty_outgoing() -> OutgoingBody {
    use http_body_util::BodyExt;
    http_body_util::Empty::<Bytes>::new()
        .map_err(|never| match never {})
        .boxed_unsync()
}
