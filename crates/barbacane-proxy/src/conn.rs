//! What guards a traffic connection before and around hyper: the deadline for the first
//! bytes (hyper's automatic HTTP/1-or-HTTP/2 detection waits for them without a timer, so a
//! client that connects and sends nothing, or half an HTTP/2 preface, would hold the socket
//! forever), the inactivity timeout of request bodies, and the connection cap's default.

use bytes::{Buf, Bytes};
use http_body::{Body, Frame, SizeHint};
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

/// The HTTP/2 connection preface.
const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Reads the first bytes of a connection, before `deadline`: enough to tell HTTP/1 (any byte
/// that diverges from the HTTP/2 preface) from HTTP/2 (the whole preface). `None` when the
/// client closes, fails or is too slow; the bytes are handed back to hyper through
/// [`Prefixed`].
pub async fn first_bytes<S: AsyncRead + Unpin>(
    stream: &mut S,
    deadline: tokio::time::Instant,
) -> Option<Bytes> {
    let read = async {
        let mut buf = Vec::with_capacity(PREFACE.len());
        loop {
            let mut chunk = [0u8; 24];
            let want = PREFACE.len() - buf.len();
            let n = stream.read(&mut chunk[..want]).await.ok()?;
            if n == 0 {
                return None;
            }
            buf.extend_from_slice(&chunk[..n]);
            if buf.len() == PREFACE.len() || !PREFACE.starts_with(&buf) {
                return Some(Bytes::from(buf));
            }
        }
    };
    tokio::time::timeout_at(deadline, read).await.ok().flatten()
}

/// Writes one HTTP/1.1 problem response on a raw connection (`extra_headers` are whole
/// `name: value\r\n` lines) and closes it, within one second.
pub(crate) async fn answer_and_close(
    stream: tokio::net::TcpStream,
    status: &str,
    extra_headers: &str,
    body: &str,
) {
    let response = format!(
        "HTTP/1.1 {status}\r\ncontent-type: application/problem+json\r\n{extra_headers}connection: close\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    write_and_linger(stream, response.as_bytes()).await;
}

/// Writes `bytes`, half-closes, and reads what the client still sends until it closes too,
/// all within one second: closing with unread bytes would make the kernel answer with a
/// reset that can destroy the answer before the client reads it.
pub(crate) async fn write_and_linger(mut stream: tokio::net::TcpStream, bytes: &[u8]) {
    use tokio::io::AsyncWriteExt;
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        stream.write_all(bytes).await?;
        stream.shutdown().await?;
        let mut sink = [0u8; 1024];
        while stream.read(&mut sink).await? > 0 {}
        Ok::<_, std::io::Error>(())
    })
    .await;
}

/// Whether the first bytes were the HTTP/2 preface.
pub fn is_h2_preface(prefix: &[u8]) -> bool {
    prefix == PREFACE
}

/// A stream whose first reads return `prefix` (bytes already taken off the socket).
#[derive(Debug)]
pub struct Prefixed<S> {
    prefix: Bytes,
    inner: S,
}

impl<S> Prefixed<S> {
    /// `inner`, replaying `prefix` first.
    pub fn new(prefix: Bytes, inner: S) -> Self {
        Prefixed { prefix, inner }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Prefixed<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if !self.prefix.is_empty() {
            let n = self.prefix.len().min(buf.remaining());
            buf.put_slice(&self.prefix[..n]);
            self.prefix.advance(n);
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Prefixed<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// The error of a request body that stalled.
#[derive(Debug, thiserror::Error)]
#[error("no request body data for {0:?}")]
pub struct BodyStalled(pub Duration);

/// A request body that fails with [`BodyStalled`] when no frame arrives for `timeout` (the
/// clock restarts at every frame, so a slow but steady upload is fine). Bodies that are
/// already complete (no body) never arm a timer.
#[derive(Debug)]
pub struct TimedBody<B> {
    inner: B,
    timeout: Duration,
    sleep: Option<Pin<Box<Sleep>>>,
}

impl<B: Body> TimedBody<B> {
    /// Wraps `inner`.
    pub fn new(inner: B, timeout: Duration) -> Self {
        TimedBody {
            inner,
            timeout,
            sleep: None,
        }
    }
}

impl<B> Body for TimedBody<B>
where
    B: Body + Unpin,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Data = B::Data;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(frame) => {
                // Progress: the next wait starts from now.
                if let Some(sleep) = this.sleep.as_mut() {
                    sleep.as_mut().reset(Instant::now() + this.timeout);
                }
                Poll::Ready(frame.map(|f| f.map_err(Into::into)))
            }
            Poll::Pending => {
                let timeout = this.timeout;
                let sleep = this
                    .sleep
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
                ready!(sleep.as_mut().poll(cx));
                Poll::Ready(Some(Err(Box::new(BodyStalled(timeout)))))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// The default connection cap: half the process's open-file limit (the other half is left
/// for upstream connections, plugins and files), at least 64. Linux reads the soft limit
/// from `/proc/self/limits`; elsewhere 1024 is assumed.
pub fn default_max_connections() -> usize {
    let soft = std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|l| l.starts_with("Max open files"))
                .and_then(|l| l.split_whitespace().nth(3).map(str::to_owned))
        })
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(1024);
    (soft / 2).max(64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    fn in_(d: Duration) -> tokio::time::Instant {
        tokio::time::Instant::now() + d
    }

    #[tokio::test]
    async fn first_bytes_tell_http1_from_http2_and_time_out() {
        let (mut client, mut server) = tokio::io::duplex(64);
        tokio::io::AsyncWriteExt::write_all(&mut client, b"GET / HTTP/1.1\r\n")
            .await
            .unwrap();
        let got = first_bytes(&mut server, in_(Duration::from_secs(1)))
            .await
            .unwrap();
        assert!(got.starts_with(b"G"));
        let (mut client, mut server) = tokio::io::duplex(64);
        tokio::io::AsyncWriteExt::write_all(&mut client, PREFACE)
            .await
            .unwrap();
        assert_eq!(
            first_bytes(&mut server, in_(Duration::from_secs(1)))
                .await
                .unwrap(),
            PREFACE
        );
        // Half a preface, then nothing: refused at the deadline.
        let (mut client, mut server) = tokio::io::duplex(64);
        tokio::io::AsyncWriteExt::write_all(&mut client, &PREFACE[..10])
            .await
            .unwrap();
        assert!(
            first_bytes(&mut server, in_(Duration::from_millis(50)))
                .await
                .is_none()
        );
        // Prefixed replays what was read.
        let mut replay = Prefixed::new(Bytes::from_static(b"ab"), &b"cd"[..]);
        let mut all = Vec::new();
        replay.read_to_end(&mut all).await.unwrap();
        assert_eq!(all, b"abcd");
    }

    /// A body fed through a channel.
    struct Fed(tokio::sync::mpsc::Receiver<Bytes>);

    impl Body for Fed {
        type Data = Bytes;
        type Error = std::io::Error;
        fn poll_frame(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
            self.0.poll_recv(cx).map(|b| b.map(|b| Ok(Frame::data(b))))
        }
    }

    #[tokio::test]
    async fn a_stalled_body_fails_and_a_steady_one_does_not() {
        let (tx, rx) = tokio::sync::mpsc::channel(4);
        let timed = TimedBody::new(Fed(rx), Duration::from_millis(100));
        let sender = tokio::spawn(async move {
            for _ in 0..4 {
                tokio::time::sleep(Duration::from_millis(40)).await;
                tx.send(Bytes::from_static(b"x")).await.unwrap();
            }
        });
        let collected = timed.collect().await.unwrap().to_bytes();
        assert_eq!(collected, "xxxx");
        sender.await.unwrap();
        let (_tx, rx) = tokio::sync::mpsc::channel(1);
        let err = TimedBody::new(Fed(rx), Duration::from_millis(30))
            .collect()
            .await
            .unwrap_err();
        assert!(err.is::<BodyStalled>());
    }

    #[test]
    fn the_default_cap_follows_the_file_limit() {
        assert!(default_max_connections() >= 64);
    }
}
