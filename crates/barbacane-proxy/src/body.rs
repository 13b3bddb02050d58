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
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            Body::Full(bytes) => bytes.as_ref().is_none_or(Bytes::is_empty),
            Body::Streaming(incoming) => incoming.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            Body::Full(bytes) => SizeHint::with_exact(bytes.as_ref().map_or(0, |b| b.len() as u64)),
            Body::Streaming(incoming) => incoming.size_hint(),
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
