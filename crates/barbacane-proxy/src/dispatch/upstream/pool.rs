//! Upstream connections owned by the worker thread that uses them, on hyper's `client::conn`.
//!
//! Written here rather than taken from hyper-util's pooled client because that client pays,
//! on every request, for a pool shared behind a mutex, a spawned task per HTTP/1 exchange
//! that waits for the connection to become idle before putting it back, and boxed futures.
//! Here a worker thread owns its connections: an HTTP/1 connection stays in its pool while
//! busy and is picked again as soon as hyper says it wants the next request, an HTTP/2
//! connection is shared by every request to its origin, and nothing crosses threads.
//!
//! Kept from the pooled client: connect timeout, `TCP_NODELAY`, TLS with ALPN (`h2`,
//! `http/1.1`) or HTTP/2 by prior knowledge, `Host` and origin-form targets on HTTP/1,
//! one retry on a fresh connection of a request a reused connection closed before sending,
//! and idle connections closed after 90 seconds.

use http::uri::{Authority, PathAndQuery, Scheme};
use http::{HeaderValue, Request, Response, Uri};
use hyper::body::Incoming;
use hyper::client::conn::{TrySendError, http1, http2};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use rustls::ClientConfig;
use rustls::pki_types::ServerName;
use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::TcpStream;

use crate::body::OutgoingBody;

/// How long a TCP connection may take to establish.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// An idle connection unused this long is closed.
const IDLE_TIMEOUT: Duration = Duration::from_secs(90);

/// How connections of one client setup are made.
#[derive(Debug)]
pub(crate) struct Setup {
    /// TLS for `https` origins, ALPN included.
    pub(crate) tls: Arc<ClientConfig>,
    /// HTTP/2 on every connection (prior knowledge on cleartext).
    pub(crate) http2_only: bool,
}

/// Why an exchange failed. Sources are kept so the caller can find a body-limit error and
/// log the whole chain.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ClientError {
    #[error("{0}")]
    Request(String),
    #[error("connecting to the upstream failed")]
    Connect(#[source] std::io::Error),
    #[error("connecting to the upstream timed out after {0:?}")]
    ConnectTimeout(Duration),
    #[error("TLS handshake with the upstream failed")]
    Tls(#[source] std::io::Error),
    #[error("HTTP exchange with the upstream failed")]
    Http(#[source] hyper::Error),
}

enum Conn {
    H1(http1::SendRequest<OutgoingBody>),
    H2(http2::SendRequest<OutgoingBody>),
}

struct Pooled {
    conn: Conn,
    last_used: Instant,
}

impl Pooled {
    fn closed(&self) -> bool {
        match &self.conn {
            Conn::H1(s) => s.is_closed(),
            Conn::H2(s) => s.is_closed(),
        }
    }

    /// Ready for a request now (an HTTP/1 connection is ready once its last exchange ended).
    fn ready(&self) -> bool {
        match &self.conn {
            Conn::H1(s) => s.is_ready(),
            Conn::H2(s) => s.is_ready(),
        }
    }

    fn expired(&self, now: Instant) -> bool {
        self.closed() || (self.ready() && now.duration_since(self.last_used) > IDLE_TIMEOUT)
    }
}

/// One origin's connections on this thread.
struct Origin {
    https: bool,
    authority: Authority,
    /// `Host` for HTTP/1 requests that carry none: the host, and the port unless it is the
    /// scheme's own (as browsers and hyper-util write it).
    host: HeaderValue,
    conns: Vec<Pooled>,
    /// Set while this thread opens an HTTP/2-only connection to the origin: requests that
    /// find no connection wait for that one instead of each opening their own.
    h2_connecting: Option<Arc<tokio::sync::Notify>>,
}

thread_local! {
    /// This thread's origins, by client id. A short list per client: linear search with a
    /// byte comparison beats hashing the authority on every request.
    static POOLS: RefCell<Vec<Vec<Origin>>> = const { RefCell::new(Vec::new()) };
    /// The task closing this thread's idle connections, while its runtime lives.
    static SWEEPER: RefCell<Option<tokio::task::AbortHandle>> = const { RefCell::new(None) };
}

/// The origin of a request, taken out of its URI (which keeps only its path and query).
struct Target {
    client: usize,
    https: bool,
    authority: Authority,
}

impl Target {
    /// Splits `request`'s absolute URI: the origin here, origin-form left in the request.
    fn take(client: usize, request: &mut Request<OutgoingBody>) -> Result<Target, ClientError> {
        let parts = std::mem::take(request.uri_mut()).into_parts();
        let https = match &parts.scheme {
            Some(s) if *s == Scheme::HTTPS => true,
            Some(s) if *s == Scheme::HTTP => false,
            _ => {
                return Err(ClientError::Request(
                    "an upstream URL needs http:// or https://".into(),
                ));
            }
        };
        let authority = parts
            .authority
            .ok_or_else(|| ClientError::Request("an upstream URL needs a host".into()))?;
        *request.uri_mut() = Uri::from(
            parts
                .path_and_query
                .unwrap_or_else(|| PathAndQuery::from_static("/")),
        );
        Ok(Target {
            client,
            https,
            authority,
        })
    }

    /// Puts `request` in the form its connection speaks: origin-form with a `Host` on
    /// HTTP/1, absolute on HTTP/2 (its `:scheme` and `:authority`). The path is moved, not
    /// cloned: a clone of a per-request `Bytes` allocates.
    fn apply(
        &self,
        request: &mut Request<OutgoingBody>,
        h2: bool,
        host: impl FnOnce() -> HeaderValue,
    ) {
        let absolute = request.uri().scheme().is_some();
        if h2 != absolute {
            let mut parts = std::mem::take(request.uri_mut()).into_parts();
            if h2 {
                parts.scheme = Some(if self.https {
                    Scheme::HTTPS
                } else {
                    Scheme::HTTP
                });
                parts.authority = Some(self.authority.clone());
            } else {
                parts.scheme = None;
                parts.authority = None;
            }
            if let Ok(uri) = Uri::from_parts(parts) {
                *request.uri_mut() = uri;
            }
        }
        if !h2 {
            request
                .headers_mut()
                .entry(http::header::HOST)
                .or_insert_with(host);
        }
    }
}

/// What a response future waits on.
pub(crate) type Exchange =
    Pin<Box<dyn Future<Output = Result<Response<Incoming>, ClientError>> + Send>>;

/// Sends `request` (absolute URI) on one of this thread's connections to its origin, or on a
/// new one. Everything up to handing the request to a pooled connection runs now; the
/// future only waits. Boxed: the wait holds a request-sized hyper future, and the caller's
/// future is part of every proxied request's state, moved by value several times (one
/// allocation is cheaper than those copies).
pub(crate) fn send(
    client: usize,
    http2_only: bool,
    setup: impl FnOnce() -> Result<Arc<Setup>, ClientError> + Send + 'static,
    mut request: Request<OutgoingBody>,
) -> Exchange {
    let target = match Target::take(client, &mut request) {
        Ok(target) => target,
        Err(e) => return Box::pin(std::future::ready(Err(e))),
    };
    match POOLS.with(|pools| pooled_send(&mut pools.borrow_mut(), &target, request)) {
        Sent::H1(f) => Box::pin(wait(f, target, http2_only, setup)),
        Sent::H2(f) => Box::pin(wait(f, target, http2_only, setup)),
        Sent::Connect(request) => connect_and_send(target, http2_only, setup, request),
    }
}

/// Waits for an exchange on a pooled connection. A request that connection closed before it
/// left (the server timed it out as we picked it) goes once on a fresh connection.
async fn wait(
    exchange: impl Pending,
    target: Target,
    http2_only: bool,
    setup: impl FnOnce() -> Result<Arc<Setup>, ClientError> + Send + 'static,
) -> Result<Response<Incoming>, ClientError> {
    match exchange.await {
        Ok(response) => Ok(response),
        Err(mut e) => match e.take_message() {
            Some(request) => connect_and_send(target, http2_only, setup, request).await,
            None => Err(ClientError::Http(e.into_error())),
        },
    }
}

/// Why [`exchange`] gave no response (returned once per exchange, never stored).
#[allow(clippy::large_enum_variant)]
enum Retry {
    /// The request never left: send it elsewhere.
    Unsent(Request<OutgoingBody>),
    Failed(ClientError),
}

/// Waits for a pooled exchange; a request that could not be sent comes back.
async fn exchange(sent: Sent<impl Pending, impl Pending>) -> Result<Response<Incoming>, Retry> {
    let result = match sent {
        Sent::H1(f) => f.await,
        Sent::H2(f) => f.await,
        Sent::Connect(request) => return Err(Retry::Unsent(request)),
    };
    result.map_err(|mut e| match e.take_message() {
        Some(request) => Retry::Unsent(request),
        None => Retry::Failed(ClientError::Http(e.into_error())),
    })
}

/// Hands `request` to a ready connection of this thread to the target's origin, dropping
/// expired ones on the way, or gives it back to be sent on a new connection.
fn pooled_send(
    pools: &mut [Vec<Origin>],
    target: &Target,
    mut request: Request<OutgoingBody>,
) -> Sent<impl Pending + use<>, impl Pending + use<>> {
    let Some(origin) = pools
        .get_mut(target.client)
        .and_then(|origins| origins.iter_mut().find(|o| o.serves(target)))
    else {
        return Sent::Connect(request);
    };
    let now = Instant::now();
    let mut i = 0;
    while i < origin.conns.len() {
        if origin.conns[i].expired(now) {
            origin.conns.swap_remove(i);
            continue;
        }
        if origin.conns[i].ready() {
            // To the back: the front keeps the connections busy the longest ago, the likeliest
            // to be free again, so the next scan is short.
            let last = origin.conns.len() - 1;
            origin.conns.swap(i, last);
            let pooled = &mut origin.conns[last];
            pooled.last_used = now;
            return match &mut pooled.conn {
                Conn::H1(sender) => {
                    target.apply(&mut request, false, || origin.host.clone());
                    Sent::H1(sender.try_send_request(request))
                }
                Conn::H2(sender) => {
                    target.apply(&mut request, true, || origin.host.clone());
                    Sent::H2(sender.try_send_request(request))
                }
            };
        }
        i += 1;
    }
    Sent::Connect(request)
}

/// An exchange handed to a pooled connection: the response, or the request back if it
/// never left.
trait Pending:
    Future<Output = Result<Response<Incoming>, TrySendError<Request<OutgoingBody>>>>
{
}

impl<F> Pending for F where
    F: Future<Output = Result<Response<Incoming>, TrySendError<Request<OutgoingBody>>>>
{
}

/// Where a request went. (The lint sees generic variants as empty; hyper's are as large as
/// the request.)
#[allow(clippy::large_enum_variant)]
enum Sent<A, B> {
    H1(A),
    H2(B),
    Connect(Request<OutgoingBody>),
}

/// Connects to the target's origin, sends `request` on the new connection and pools it.
/// Boxed: a rare path whose state would otherwise be part of every request's future.
fn connect_and_send(
    target: Target,
    http2_only: bool,
    setup: impl FnOnce() -> Result<Arc<Setup>, ClientError> + Send + 'static,
    mut request: Request<OutgoingBody>,
) -> Exchange {
    Box::pin(async move {
        // One HTTP/2 connection per origin and thread: while it is being opened, other
        // requests wait for it rather than each opening their own. A request waits for one
        // attempt at most: when that one failed (or its connection is gone), it connects on
        // its own rather than queueing behind the next attempt, which against an upstream
        // that drops packets would serialize the connect timeouts.
        let mut connecting = None;
        if http2_only {
            let waiting = POOLS.with(|pools| {
                let mut pools = pools.borrow_mut();
                let origin = origin_entry(&mut pools, &target);
                match &origin.h2_connecting {
                    Some(notify) => Some(Arc::clone(notify).notified_owned()),
                    None => {
                        origin.h2_connecting = Some(Arc::new(tokio::sync::Notify::new()));
                        None
                    }
                }
            });
            match waiting {
                None => connecting = Some(Connecting(&target)),
                Some(notified) => {
                    notified.await;
                    let sent =
                        POOLS.with(|pools| pooled_send(&mut pools.borrow_mut(), &target, request));
                    match exchange(sent).await {
                        Ok(response) => return Ok(response),
                        Err(Retry::Unsent(unsent)) => request = unsent,
                        Err(Retry::Failed(e)) => return Err(e),
                    }
                }
            }
        }
        let setup = setup()?;
        let conn = connect(&target, &setup).await?;
        let response = POOLS.with(|pools| {
            let mut pools = pools.borrow_mut();
            let origin = origin_entry(&mut pools, &target);
            let host = origin.host.clone();
            match conn {
                Conn::H1(mut sender) => {
                    target.apply(&mut request, false, || host);
                    let response = sender.send_request(request);
                    origin.keep(Conn::H1(sender));
                    futures_util::future::Either::Left(response)
                }
                Conn::H2(mut sender) => {
                    target.apply(&mut request, true, || host);
                    let response = sender.send_request(request);
                    origin.keep(Conn::H2(sender));
                    futures_util::future::Either::Right(response)
                }
            }
        });
        // The connection is pooled: waiting requests can use it now.
        drop(connecting);
        ensure_sweeper();
        response.await.map_err(ClientError::Http)
    })
}

/// Marks an HTTP/2 connection being opened to the target's origin on this thread; dropped
/// (connected, failed or abandoned), it lets the waiting requests look again. Relies on the
/// future staying on its thread, as every runtime of the gateway is single-threaded (a
/// future moved to another thread would leave the mark set on the first one).
struct Connecting<'a>(&'a Target);

impl Drop for Connecting<'_> {
    fn drop(&mut self) {
        POOLS.with(|pools| {
            let mut pools = pools.borrow_mut();
            if let Some(notify) = origin_entry(&mut pools, self.0).h2_connecting.take() {
                notify.notify_waiters();
            }
        });
    }
}

/// This thread's entry for the target's origin, created on first use.
fn origin_entry<'a>(pools: &'a mut Vec<Vec<Origin>>, target: &Target) -> &'a mut Origin {
    if pools.len() <= target.client {
        pools.resize_with(target.client + 1, Vec::new);
    }
    let origins = &mut pools[target.client];
    let index = match origins.iter().position(|o| o.serves(target)) {
        Some(i) => i,
        None => {
            origins.push(Origin {
                https: target.https,
                authority: target.authority.clone(),
                host: host_value(target),
                conns: Vec::new(),
                h2_connecting: None,
            });
            origins.len() - 1
        }
    };
    &mut origins[index]
}

impl Origin {
    fn serves(&self, target: &Target) -> bool {
        self.https == target.https && self.authority == target.authority
    }

    /// Adds a new connection. An HTTP/2 connection is kept only if the origin has no live
    /// one (concurrent first requests over ALPN may each open one; one is enough): the
    /// others close once their request ends.
    fn keep(&mut self, conn: Conn) {
        if matches!(conn, Conn::H2(_))
            && self
                .conns
                .iter()
                .any(|p| matches!(p.conn, Conn::H2(_)) && !p.closed())
        {
            return;
        }
        self.conns.push(Pooled {
            conn,
            last_used: Instant::now(),
        });
    }
}

/// `Host` as the origin's authority without the scheme's default port.
fn host_value(target: &Target) -> HeaderValue {
    let default = if target.https { 443 } else { 80 };
    let value = match target.authority.port_u16() {
        Some(port) if port != default => target.authority.as_str().to_owned(),
        _ => target.authority.host().to_owned(),
    };
    HeaderValue::from_str(&value).unwrap_or_else(|_| HeaderValue::from_static("localhost"))
}

async fn connect(target: &Target, setup: &Setup) -> Result<Conn, ClientError> {
    let host = target.authority.host();
    let port = target
        .authority
        .port_u16()
        .unwrap_or(if target.https { 443 } else { 80 });
    // An IPv6 literal is written in brackets in a URL, not in an address.
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let tcp = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect((bare, port)))
        .await
        .map_err(|_| ClientError::ConnectTimeout(CONNECT_TIMEOUT))?
        .map_err(ClientError::Connect)?;
    tcp.set_nodelay(true).map_err(ClientError::Connect)?;
    if !target.https {
        return handshake(TokioIo::new(tcp), setup.http2_only).await;
    }
    let name = ServerName::try_from(bare.to_owned())
        .map_err(|e| ClientError::Request(format!("`{bare}` is not a TLS server name: {e}")))?;
    let tls = tokio_rustls::TlsConnector::from(Arc::clone(&setup.tls))
        .connect(name, tcp)
        .await
        .map_err(ClientError::Tls)?;
    let h2 = setup.http2_only || tls.get_ref().1.alpn_protocol() == Some(b"h2");
    handshake(TokioIo::new(tls), h2).await
}

/// Handshakes HTTP on `io` and spawns the connection's task on this thread's runtime.
async fn handshake<T>(io: T, h2: bool) -> Result<Conn, ClientError>
where
    T: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    if h2 {
        let (sender, conn) = http2::Builder::new(TokioExecutor::new())
            .timer(TokioTimer::new())
            .handshake(io)
            .await
            .map_err(ClientError::Http)?;
        drive(conn, "HTTP/2");
        Ok(Conn::H2(sender))
    } else {
        let (sender, conn) = http1::Builder::new()
            .handshake(io)
            .await
            .map_err(ClientError::Http)?;
        drive(conn, "HTTP/1");
        Ok(Conn::H1(sender))
    }
}

/// Runs a connection's task on this thread's runtime until the connection ends.
fn drive(conn: impl Future<Output = hyper::Result<()>> + Send + 'static, version: &'static str) {
    tokio::spawn(async move {
        if let Err(e) = conn.await {
            tracing::debug!(error = %e, version, "upstream connection ended");
        }
    });
}

/// Starts this thread's idle sweep if it is not running on the current runtime (a test's
/// runtime may end and another start on the same thread).
fn ensure_sweeper() {
    SWEEPER.with(|sweeper| {
        let mut sweeper = sweeper.borrow_mut();
        if sweeper.as_ref().is_some_and(|h| !h.is_finished()) {
            return;
        }
        let task = tokio::spawn(async {
            loop {
                tokio::time::sleep(IDLE_TIMEOUT / 3).await;
                sweep(Instant::now());
            }
        });
        *sweeper = Some(task.abort_handle());
    });
}

/// Closes this thread's expired connections (dropping the sender ends the connection).
fn sweep(now: Instant) {
    POOLS.with(|pools| {
        for origins in pools.borrow_mut().iter_mut() {
            for origin in origins.iter_mut() {
                origin.conns.retain(|c| !c.expired(now));
            }
        }
    });
}
