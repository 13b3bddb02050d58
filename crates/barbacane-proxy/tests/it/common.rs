//! Shared helpers: problem+json assertions and a minimal raw HTTP/1.1 client for cases the
//! hyper client cannot express (chunked uploads, pipelining, malformed targets, partial bodies).

use barbacane_test::{TestGateway, TestResponse};
use bytes::Bytes;
use http_body_util::Full;
use std::net::SocketAddr;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Asserts `status` and an RFC 9457 body whose `type` is `urn:barbacane:error:<name>`.
#[track_caller]
pub fn assert_problem(resp: &TestResponse, status: u16, name: &str) {
    assert_eq!(
        resp.status(),
        status,
        "unexpected status; body: {}",
        resp.text()
    );
    assert_eq!(
        resp.header("content-type"),
        Some("application/problem+json"),
        "problem responses are application/problem+json; body: {}",
        resp.text()
    );
    let body = resp.json();
    assert_eq!(
        body["type"],
        format!("urn:barbacane:error:{name}"),
        "body: {body}"
    );
    assert_eq!(body["status"], status, "body: {body}");
}

/// Asserts a success status (not a problem response).
#[track_caller]
pub fn assert_ok(resp: &TestResponse, status: u16) {
    assert_eq!(
        resp.status(),
        status,
        "unexpected status; body: {}",
        resp.text()
    );
    assert_ne!(
        resp.header("content-type"),
        Some("application/problem+json"),
        "body: {}",
        resp.text()
    );
}

/// `method path` with extra headers and an optional body.
pub async fn send_with(
    gw: &TestGateway,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> TestResponse {
    let mut builder = gw.request(method, path);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    let request = builder
        .body(Full::new(Bytes::copy_from_slice(body.as_bytes())))
        .expect("request builds");
    gw.send(request).await
}

/// A POST of a JSON body.
pub async fn post_json(gw: &TestGateway, path: &str, body: &str) -> TestResponse {
    gw.send_body("POST", path, "application/json", body).await
}

/// A response read off a raw connection.
#[derive(Debug)]
pub struct RawResponse {
    pub status: u16,
    /// Header names lowercased.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl RawResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }
    /// `type` of a problem body.
    pub fn problem_type(&self) -> String {
        self.json()["type"].as_str().unwrap_or_default().to_owned()
    }
}

/// A raw HTTP/1.1 connection with its own read buffer, so responses can be read one by one.
#[derive(Debug)]
pub struct RawConn {
    pub stream: TcpStream,
    buf: Vec<u8>,
}

impl RawConn {
    pub async fn connect(addr: SocketAddr) -> RawConn {
        RawConn {
            stream: TcpStream::connect(addr).await.expect("connect"),
            buf: Vec::new(),
        }
    }

    pub fn from_stream(stream: TcpStream) -> RawConn {
        RawConn {
            stream,
            buf: Vec::new(),
        }
    }

    pub async fn write(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).await.expect("write");
        self.stream.flush().await.expect("flush");
    }

    /// Reads more bytes into the buffer; false on EOF (or reset).
    async fn fill(&mut self) -> bool {
        let mut chunk = [0u8; 8192];
        match self.stream.read(&mut chunk).await {
            Ok(0) | Err(_) => false,
            Ok(n) => {
                self.buf.extend_from_slice(&chunk[..n]);
                true
            }
        }
    }

    /// Reads one response (Content-Length or chunked framing; no body for 1xx/204/304 or when
    /// `head` is set). `None` if the connection closes before a full status line and head.
    pub async fn read_response_for(&mut self, head: bool) -> Option<RawResponse> {
        let end = loop {
            if let Some(pos) = find(&self.buf, b"\r\n\r\n") {
                break pos;
            }
            if !self.fill().await {
                return None;
            }
        };
        let head_text = String::from_utf8_lossy(&self.buf[..end]).into_owned();
        self.buf.drain(..end + 4);
        let mut lines = head_text.split("\r\n");
        let status_line = lines.next()?;
        let status: u16 = status_line.split(' ').nth(1)?.parse().ok()?;
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
            .collect();
        let get = |name: &str| {
            headers
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.clone())
        };
        let mut body = Vec::new();
        if !(head || (100..200).contains(&status) || status == 204 || status == 304) {
            if get("transfer-encoding").is_some_and(|te| te.eq_ignore_ascii_case("chunked")) {
                loop {
                    let line_end = loop {
                        if let Some(p) = find(&self.buf, b"\r\n") {
                            break p;
                        }
                        if !self.fill().await {
                            return None;
                        }
                    };
                    let size_text = String::from_utf8_lossy(&self.buf[..line_end]).into_owned();
                    let size =
                        usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
                    self.buf.drain(..line_end + 2);
                    while self.buf.len() < size + 2 {
                        if !self.fill().await {
                            return None;
                        }
                    }
                    body.extend_from_slice(&self.buf[..size]);
                    self.buf.drain(..size + 2);
                    if size == 0 {
                        break;
                    }
                }
            } else if let Some(len) = get("content-length").and_then(|v| v.parse::<usize>().ok()) {
                while self.buf.len() < len {
                    if !self.fill().await {
                        return None;
                    }
                }
                body = self.buf.drain(..len).collect();
            }
        }
        Some(RawResponse {
            status,
            headers,
            body,
        })
    }

    pub async fn read_response(&mut self) -> Option<RawResponse> {
        self.read_response_for(false).await
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Sends `bytes` on a fresh connection and reads one response.
pub async fn raw_request(addr: SocketAddr, bytes: &[u8]) -> RawResponse {
    let mut conn = RawConn::connect(addr).await;
    conn.write(bytes).await;
    conn.read_response().await.expect("a complete response")
}

/// `GET target` on a fresh raw connection, target sent byte for byte.
pub async fn raw_get(addr: SocketAddr, target: &str) -> RawResponse {
    raw_request(
        addr,
        format!("GET {target} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .await
}

/// Asserts a raw response is the problem `name` with `status`.
#[track_caller]
pub fn assert_raw_problem(resp: &RawResponse, status: u16, name: &str) {
    assert_eq!(
        resp.status,
        status,
        "body: {}",
        String::from_utf8_lossy(&resp.body)
    );
    assert_eq!(
        resp.header("content-type"),
        Some("application/problem+json")
    );
    assert_eq!(resp.problem_type(), format!("urn:barbacane:error:{name}"));
}

/// True if `s` is a lowercase hyphenated UUID version 4 (RFC 9562 variant).
pub fn is_uuid_v4(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| {
            if [8, 13, 18, 23].contains(&i) {
                *c == b'-'
            } else {
                c.is_ascii_hexdigit()
            }
        })
        && b[14] == b'4'
        && matches!(b[19], b'8' | b'9' | b'a' | b'b' | b'A' | b'B')
}
