//! Test upstreams: real hyper servers on `127.0.0.1:0` (HTTP/1.1 and HTTP/2 through
//! `auto`, optionally behind TLS), counting the requests they see and the connections they
//! accept.

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body::{Frame, SizeHint};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use serde_json::json;
use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;

/// Response body of the test upstreams.
pub type UpBody = BoxBody<Bytes, Infallible>;

/// [`Behavior::Switch`] modes.
pub const FAIL: u8 = 0;
pub const HEALTHY: u8 = 1;
pub const HANG: u8 = 2;

/// What a test upstream does with each request.
#[derive(Debug, Clone)]
pub enum Behavior {
    /// 200 with a JSON description of the request (see [`echo`]).
    Echo,
    /// Sleeps, then echoes.
    Slow(Duration),
    /// Answers this status with a short text body.
    Status(u16),
    /// [`FAIL`]: 500; [`HEALTHY`]: echo; [`HANG`]: never answers.
    Switch(Arc<AtomicU8>),
    /// Reads the whole body and answers `{"bytes": N}`.
    CountBytes,
    /// Answers 200 with this many bytes, generated chunk by chunk.
    Download(u64),
    /// Echoes with `Connection: close`: every connection serves one request.
    Close,
}

/// A running test upstream; stops accepting when dropped.
#[derive(Debug)]
pub struct TestUpstream {
    pub addr: SocketAddr,
    hits: Arc<AtomicUsize>,
    conns: Arc<AtomicUsize>,
    aborted: Arc<AtomicUsize>,
    task: JoinHandle<()>,
}

impl TestUpstream {
    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
    /// `https://127.0.0.1:PORT` (an address the test server certificate covers).
    pub fn https_url(&self) -> String {
        format!("https://{}", self.addr)
    }
    /// Requests whose head reached the handler.
    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
    /// TCP connections accepted.
    pub fn connections(&self) -> usize {
        self.conns.load(Ordering::SeqCst)
    }
    /// Requests dropped before the handler finished (the peer went away).
    pub fn aborted(&self) -> usize {
        self.aborted.load(Ordering::SeqCst)
    }
}

impl Drop for TestUpstream {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A plaintext upstream (HTTP/1.1, or HTTP/2 with prior knowledge).
pub async fn start(behavior: Behavior) -> TestUpstream {
    start_inner(behavior, None).await
}

/// A TLS upstream (ALPN `h2` and `http/1.1`).
pub async fn start_tls(behavior: Behavior, config: Arc<rustls::ServerConfig>) -> TestUpstream {
    start_inner(behavior, Some(TlsAcceptor::from(config))).await
}

/// An address nothing listens on (bound, then released).
pub fn closed_port() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("local addr")
}

async fn start_inner(behavior: Behavior, tls: Option<TlsAcceptor>) -> TestUpstream {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("local addr");
    let hits = Arc::new(AtomicUsize::new(0));
    let conns = Arc::new(AtomicUsize::new(0));
    let aborted = Arc::new(AtomicUsize::new(0));
    let counters = (Arc::clone(&hits), Arc::clone(&conns), Arc::clone(&aborted));
    let task = tokio::spawn(async move {
        let (hits, conns, aborted) = counters;
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            conns.fetch_add(1, Ordering::SeqCst);
            let (behavior, hits, aborted) =
                (behavior.clone(), Arc::clone(&hits), Arc::clone(&aborted));
            let tls = tls.clone();
            tokio::spawn(async move {
                match tls {
                    None => serve_io(stream, behavior, hits, aborted).await,
                    Some(acceptor) => {
                        // A failed handshake (e.g. no client certificate) just ends here.
                        if let Ok(stream) = acceptor.accept(stream).await {
                            serve_io(stream, behavior, hits, aborted).await;
                        }
                    }
                }
            });
        }
    });
    TestUpstream {
        addr,
        hits,
        conns,
        aborted,
        task,
    }
}

async fn serve_io<I>(io: I, behavior: Behavior, hits: Arc<AtomicUsize>, aborted: Arc<AtomicUsize>)
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = service_fn(move |req: Request<Incoming>| {
        let behavior = behavior.clone();
        hits.fetch_add(1, Ordering::SeqCst);
        let guard = AbortGuard(Some(Arc::clone(&aborted)));
        async move {
            let response = handle(behavior, req).await;
            guard.disarm();
            Ok::<_, Infallible>(response)
        }
    });
    let _ = auto::Builder::new(TokioExecutor::new())
        .serve_connection(TokioIo::new(io), service)
        .await;
}

/// Counts a request as aborted unless disarmed (the handler future was dropped midway).
struct AbortGuard(Option<Arc<AtomicUsize>>);

impl AbortGuard {
    fn disarm(mut self) {
        self.0 = None;
    }
}

impl Drop for AbortGuard {
    fn drop(&mut self) {
        if let Some(counter) = self.0.take() {
            counter.fetch_add(1, Ordering::SeqCst);
        }
    }
}

async fn handle(behavior: Behavior, req: Request<Incoming>) -> Response<UpBody> {
    match behavior {
        Behavior::Echo => echo(req).await,
        Behavior::Slow(delay) => {
            tokio::time::sleep(delay).await;
            echo(req).await
        }
        Behavior::Status(status) => text(status, format!("upstream says {status}")),
        Behavior::Switch(mode) => match mode.load(Ordering::SeqCst) {
            FAIL => text(500, "upstream failing".into()),
            HANG => std::future::pending().await,
            _ => echo(req).await,
        },
        Behavior::CountBytes => {
            let mut body = req.into_body();
            let mut bytes = 0u64;
            while let Some(frame) = body.frame().await {
                match frame {
                    Ok(frame) => bytes += frame.data_ref().map_or(0, |d| d.len() as u64),
                    Err(e) => return text(400, format!("body read failed: {e}")),
                }
            }
            json_response(&json!({ "bytes": bytes }))
        }
        Behavior::Download(len) => Response::new(Repeat::new(len).boxed()),
        Behavior::Close => {
            let mut response = echo(req).await;
            response.headers_mut().insert(
                http::header::CONNECTION,
                http::HeaderValue::from_static("close"),
            );
            response
        }
    }
}

/// 200 with `{"method", "target", "version", "headers": {name: [values]}, "body"}`. Over
/// HTTP/1.x it also sends hop-by-hop fields (`Connection: x-up-hop`, `X-Up-Hop`,
/// `Keep-Alive`) and its own `Server`, for the gateway to strip or replace.
pub async fn echo(req: Request<Incoming>) -> Response<UpBody> {
    let (parts, body) = req.into_parts();
    let body = match body.collect().await {
        Ok(c) => c.to_bytes(),
        Err(e) => return text(400, format!("body read failed: {e}")),
    };
    let mut headers: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (name, value) in &parts.headers {
        headers
            .entry(name.as_str().to_owned())
            .or_default()
            .push(String::from_utf8_lossy(value.as_bytes()).into_owned());
    }
    let description = json!({
        "method": parts.method.as_str(),
        "target": parts.uri.path_and_query().map_or("", |pq| pq.as_str()),
        "version": format!("{:?}", parts.version),
        "headers": headers,
        "body": String::from_utf8_lossy(&body),
    });
    let mut response = json_response(&description);
    let h = response.headers_mut();
    h.insert("server", "upstream-test/1.0".parse().expect("value"));
    h.insert("x-upstream", "echo".parse().expect("value"));
    if parts.version < http::Version::HTTP_2 {
        h.insert("connection", "x-up-hop".parse().expect("value"));
        h.insert("x-up-hop", "secret".parse().expect("value"));
        h.insert("keep-alive", "timeout=5".parse().expect("value"));
    }
    response
}

fn json_response(value: &serde_json::Value) -> Response<UpBody> {
    let mut response = Response::new(full(serde_json::to_vec(value).expect("json")));
    response
        .headers_mut()
        .insert("content-type", "application/json".parse().expect("value"));
    response
}

fn text(status: u16, body: String) -> Response<UpBody> {
    let mut response = Response::new(full(body.into_bytes()));
    *response.status_mut() = StatusCode::from_u16(status).expect("status");
    response
        .headers_mut()
        .insert("content-type", "text/plain".parse().expect("value"));
    response
}

fn full(bytes: Vec<u8>) -> UpBody {
    Full::new(Bytes::from(bytes)).boxed()
}

/// A body of `len` zero bytes in 64 KiB frames that share one buffer: producing it
/// allocates nothing per frame, so it never holds more than one chunk.
#[derive(Debug)]
pub struct Repeat {
    chunk: Bytes,
    remaining: u64,
}

impl Repeat {
    pub fn new(len: u64) -> Repeat {
        static ZEROES: [u8; 64 * 1024] = [0; 64 * 1024];
        Repeat {
            chunk: Bytes::from_static(&ZEROES),
            remaining: len,
        }
    }
}

impl http_body::Body for Repeat {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let this = self.get_mut();
        if this.remaining == 0 {
            return Poll::Ready(None);
        }
        let n = usize::try_from(this.remaining)
            .unwrap_or(usize::MAX)
            .min(this.chunk.len());
        this.remaining -= n as u64;
        Poll::Ready(Some(Ok(Frame::data(this.chunk.slice(..n)))))
    }

    fn is_end_stream(&self) -> bool {
        self.remaining == 0
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.remaining)
    }
}
