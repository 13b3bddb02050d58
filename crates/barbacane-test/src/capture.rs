//! [`CaptureServer`]: a real HTTP/1.1 server on `127.0.0.1:0` that records every request
//! and answers with a response the test chooses.

use bytes::Bytes;
use http::{HeaderMap, Method, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use tokio::net::TcpListener;

/// One request as the server received it.
#[derive(Debug, Clone)]
pub struct Captured {
    /// Method.
    pub method: Method,
    /// Path and query.
    pub target: String,
    /// Headers.
    pub headers: HeaderMap,
    /// Body.
    pub body: Bytes,
}

impl Captured {
    /// A header as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// What the server answers.
#[derive(Debug, Clone)]
pub struct Reply {
    /// Status.
    pub status: u16,
    /// Headers.
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: Bytes,
    /// Wait this long before answering.
    pub delay: std::time::Duration,
}

impl Reply {
    /// `status` with `body` and a content type.
    pub fn new(status: u16, content_type: &str, body: &str) -> Reply {
        Reply {
            status,
            headers: vec![("content-type".into(), content_type.into())],
            body: Bytes::copy_from_slice(body.as_bytes()),
            delay: std::time::Duration::ZERO,
        }
    }
}

/// The running server; stops when dropped.
#[derive(Debug)]
pub struct CaptureServer {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<Captured>>>,
    reply: Arc<Mutex<Reply>>,
    task: tokio::task::JoinHandle<()>,
}

impl CaptureServer {
    /// Starts a server answering every request with `reply`.
    pub async fn start(reply: Reply) -> CaptureServer {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap_or_else(|e| panic!("bind: {e}"));
        let addr = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
        let seen: Arc<Mutex<Vec<Captured>>> = Arc::default();
        let reply = Arc::new(Mutex::new(reply));
        let (s, r) = (Arc::clone(&seen), Arc::clone(&reply));
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (seen, reply) = (Arc::clone(&s), Arc::clone(&r));
                tokio::spawn(async move {
                    let service =
                        service_fn(move |request: http::Request<hyper::body::Incoming>| {
                            let (seen, reply) = (Arc::clone(&seen), Arc::clone(&reply));
                            async move {
                                let (head, body) = request.into_parts();
                                let body = body
                                    .collect()
                                    .await
                                    .map(|c| c.to_bytes())
                                    .unwrap_or_default();
                                if let Ok(mut seen) = seen.lock() {
                                    seen.push(Captured {
                                        method: head.method,
                                        target: head
                                            .uri
                                            .path_and_query()
                                            .map(|p| p.to_string())
                                            .unwrap_or_default(),
                                        headers: head.headers,
                                        body,
                                    });
                                }
                                let reply = reply
                                    .lock()
                                    .map(|r| r.clone())
                                    .unwrap_or_else(|e| e.into_inner().clone());
                                tokio::time::sleep(reply.delay).await;
                                let mut response = Response::new(Full::new(reply.body));
                                *response.status_mut() =
                                    StatusCode::from_u16(reply.status).unwrap_or(StatusCode::OK);
                                for (n, v) in &reply.headers {
                                    if let (Ok(n), Ok(v)) = (
                                        http::HeaderName::from_bytes(n.as_bytes()),
                                        http::HeaderValue::from_str(v),
                                    ) {
                                        response.headers_mut().append(n, v);
                                    }
                                }
                                Ok::<_, std::convert::Infallible>(response)
                            }
                        });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        CaptureServer {
            addr,
            seen,
            reply,
            task,
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every request received so far.
    pub fn requests(&self) -> Vec<Captured> {
        self.seen.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Changes the reply for later requests.
    pub fn set_reply(&self, reply: Reply) {
        if let Ok(mut r) = self.reply.lock() {
            *r = reply;
        }
    }
}

impl Drop for CaptureServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}
