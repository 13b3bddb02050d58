//! `lambda` against a real HTTP server standing in for a function URL: what goes on the wire,
//! and a SigV4 signature recomputed here, independently of the plugin's code, from what the
//! server received.

use crate::{assert_problem, one, text, values};
use barbacane_test::capture::{CaptureServer, Captured, Reply};
use barbacane_test::harness::{PluginHarness, exchange};
use serde_json::json;
use sha2::{Digest, Sha256};
use std::path::Path;
use std::time::{Duration, Instant};

const ACCESS_KEY: &str = "AKIDEXAMPLE";
const SECRET_KEY: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
const REGION: &str = "us-east-1";

// ---- An independent SigV4 (SHA-256 from `sha2`, HMAC by hand, RFC 2104) ----

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn sha256_hex(data: &[u8]) -> String {
    hex(&Sha256::digest(data))
}

fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    const BLOCK: usize = 64;
    let mut k = [0u8; BLOCK];
    if key.len() > BLOCK {
        k[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        k[..key.len()].copy_from_slice(key);
    }
    let mut inner = Sha256::new();
    inner.update(k.map(|b| b ^ 0x36));
    inner.update(data);
    let mut outer = Sha256::new();
    outer.update(k.map(|b| b ^ 0x5c));
    outer.update(inner.finalize());
    outer.finalize().into()
}

/// RFC 3986 unreserved characters stay; everything else is `%XY` (uppercase), `/` too
/// unless `keep_slash`.
fn uri_encode(bytes: &[u8], keep_slash: bool) -> String {
    let mut out = String::new();
    for &b in bytes {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) || (keep_slash && b == b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Decodes `%XY` escapes (and `+` as a space, as query strings are form-decoded by AWS).
fn query_decode(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' if i + 2 < b.len()
                && b[i + 1].is_ascii_hexdigit()
                && b[i + 2].is_ascii_hexdigit() =>
            {
                let h = std::str::from_utf8(&b[i + 1..i + 3]).unwrap();
                out.push(u8::from_str_radix(h, 16).unwrap());
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    out
}

/// Checks the request the server received against its `Authorization` header: recomputes
/// the canonical request, string to sign and signature from the received method, target,
/// headers and body. Returns the `SignedHeaders` list.
fn verify_sigv4(seen: &Captured, access_key: &str, secret_key: &str) -> String {
    let authorization = one(&seen.headers, "authorization");
    let rest = authorization
        .strip_prefix("AWS4-HMAC-SHA256 ")
        .unwrap_or_else(|| panic!("{authorization}"));
    let mut parts = rest.split(", ");
    let credential = parts.next().unwrap().strip_prefix("Credential=").unwrap();
    let signed = parts
        .next()
        .unwrap()
        .strip_prefix("SignedHeaders=")
        .unwrap();
    let signature = parts.next().unwrap().strip_prefix("Signature=").unwrap();
    assert!(parts.next().is_none(), "{authorization}");

    let amz_date = one(&seen.headers, "x-amz-date");
    let day = &amz_date[..8];
    let scope = format!("{day}/{REGION}/lambda/aws4_request");
    assert_eq!(credential, format!("{access_key}/{scope}"));

    // The body the server got is the one whose hash was signed.
    let payload_hash = one(&seen.headers, "x-amz-content-sha256");
    assert_eq!(payload_hash, sha256_hex(&seen.body));

    let (path, query) = seen
        .target
        .split_once('?')
        .unwrap_or((seen.target.as_str(), ""));
    // Every service but S3: the (already encoded) path is encoded once more.
    let canonical_uri = uri_encode(path.as_bytes(), true);
    let mut params: Vec<(String, String)> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (n, v) = p.split_once('=').unwrap_or((p, ""));
            (
                uri_encode(&query_decode(n), false),
                uri_encode(&query_decode(v), false),
            )
        })
        .collect();
    params.sort();
    let canonical_query = params
        .iter()
        .map(|(n, v)| format!("{n}={v}"))
        .collect::<Vec<_>>()
        .join("&");

    let names: Vec<&str> = signed.split(';').collect();
    let mut sorted = names.clone();
    sorted.sort_unstable();
    assert_eq!(names, sorted, "SignedHeaders must be sorted");
    let mut canonical_headers = String::new();
    for name in &names {
        let vals = values(&seen.headers, name);
        assert!(!vals.is_empty(), "signed header `{name}` was not received");
        let joined = vals
            .iter()
            .map(|v| {
                v.split(' ')
                    .filter(|w| !w.is_empty())
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect::<Vec<_>>()
            .join(",");
        canonical_headers.push_str(&format!("{name}:{joined}\n"));
    }
    let canonical_request = format!(
        "{}\n{canonical_uri}\n{canonical_query}\n{canonical_headers}\n{signed}\n{payload_hash}",
        seen.method
    );
    let string_to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
        sha256_hex(canonical_request.as_bytes())
    );
    let k_date = hmac_sha256(format!("AWS4{secret_key}").as_bytes(), day.as_bytes());
    let k_region = hmac_sha256(&k_date, REGION.as_bytes());
    let k_service = hmac_sha256(&k_region, b"lambda");
    let k_signing = hmac_sha256(&k_service, b"aws4_request");
    let expected = hex(&hmac_sha256(&k_signing, string_to_sign.as_bytes()));
    assert_eq!(
        signature, expected,
        "signature mismatch; canonical request:\n{canonical_request}"
    );
    signed.to_owned()
}

#[test]
fn the_tests_own_hmac_and_signing_key_match_published_vectors() {
    // RFC 4231 test cases 2 and 6 (a key longer than the block).
    assert_eq!(
        hex(&hmac_sha256(b"Jefe", b"what do ya want for nothing?")),
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    );
    assert_eq!(
        hex(&hmac_sha256(
            &[0xaa; 131],
            b"Test Using Larger Than Block-Size Key - Hash Key First"
        )),
        "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
    );
    // The AWS documentation's signing key derivation example.
    let k = hmac_sha256(b"AWS4wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", b"20120215");
    let k = hmac_sha256(&k, b"us-east-1");
    let k = hmac_sha256(&k, b"iam");
    let k = hmac_sha256(&k, b"aws4_request");
    assert_eq!(
        hex(&k),
        "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d"
    );
}

// ---- Set-up ----

/// Writes the credentials as secret files (with the trailing newline editors add).
fn credentials(dir: &Path, access_key: &str, secret_key: &str) {
    std::fs::write(dir.join("akid"), format!("{access_key}\n")).unwrap();
    std::fs::write(dir.join("secret"), format!("{secret_key}\n")).unwrap();
}

fn lambda(url: &str, dir: &Path, extra: serde_json::Value) -> PluginHarness {
    let mut config = json!({
        "url": url,
        "region": REGION,
        "access_key_id": format!("file://{}", dir.join("akid").display()),
        "secret_access_key": format!("file://{}", dir.join("secret").display()),
        "session_token": "",
    });
    for (k, v) in extra.as_object().unwrap() {
        config[k] = v.clone();
    }
    PluginHarness::official("lambda", config).unwrap()
}

fn names(headers: &http::HeaderMap) -> Vec<String> {
    let mut names: Vec<String> = headers.keys().map(|n| n.as_str().to_owned()).collect();
    names.sort();
    names
}

// ---- Tests ----

#[tokio::test]
async fn forwarded_request_is_exactly_what_was_signed() {
    let server = CaptureServer::start(Reply {
        headers: vec![
            ("content-type".into(), "application/json".into()),
            ("x-fn".into(), "yes".into()),
        ],
        ..Reply::new(201, "application/json", "{\"id\":7}")
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    credentials(dir.path(), ACCESS_KEY, SECRET_KEY);
    let plugin = lambda(&format!("{}/fn", server.url()), dir.path(), json!({}));
    let body = "{\"name\":\"rex\"}";
    let r = plugin
        .dispatch(
            exchange("POST", "/pets/7?b=2&a=1&q=a+b")
                .header("host", "api.example.com")
                .header("content-type", "application/json")
                .header("content-length", "14")
                .header("x-multi", "one")
                .header("x-multi", "two")
                .header("connection", "x-drop-me")
                .header("x-drop-me", "1")
                .header("keep-alive", "timeout=5")
                .header("te", "trailers")
                .header("upgrade", "websocket")
                .header("proxy-authorization", "Basic Zm9vOmJhcg==")
                .header("authorization", "Bearer client-token")
                .header("x-amz-date", "20000101T000000Z")
                .body(body),
        )
        .await
        .unwrap();

    // The function's answer comes back as it is, minus content-length.
    assert_eq!(r.status, 201);
    assert_eq!(text(&r), "{\"id\":7}");
    assert_eq!(one(&r.headers, "content-type"), "application/json");
    assert_eq!(one(&r.headers, "x-fn"), "yes");
    assert!(r.headers.get("content-length").is_none(), "{:?}", r.headers);

    let seen = server.requests();
    assert_eq!(seen.len(), 1);
    let seen = &seen[0];
    assert_eq!(seen.method, "POST");
    // Base path + request path; the query re-encoded the SigV4 way, order kept.
    assert_eq!(seen.target, "/fn/pets/7?b=2&a=1&q=a%20b");
    assert_eq!(&seen.body[..], body.as_bytes());
    assert_eq!(
        names(&seen.headers),
        [
            "authorization",
            "content-length",
            "content-type",
            "host",
            "x-amz-content-sha256",
            "x-amz-date",
            "x-multi",
        ]
    );
    assert_eq!(
        one(&seen.headers, "host"),
        server.url().strip_prefix("http://").unwrap()
    );
    assert_eq!(one(&seen.headers, "content-length"), "14");
    assert_eq!(values(&seen.headers, "x-multi"), ["one", "two"]);
    // The client's Authorization and X-Amz-Date did not get through: these are the plugin's.
    assert!(one(&seen.headers, "authorization").starts_with("AWS4-HMAC-SHA256 "));
    let amz_date = one(&seen.headers, "x-amz-date");
    let signed_at = chrono::NaiveDateTime::parse_from_str(&amz_date, "%Y%m%dT%H%M%SZ")
        .unwrap_or_else(|e| panic!("{amz_date}: {e}"));
    let skew = (chrono::Utc::now().naive_utc() - signed_at)
        .num_seconds()
        .abs();
    assert!(
        skew < 300,
        "x-amz-date {amz_date} is {skew}s off the host clock"
    );

    let signed = verify_sigv4(seen, ACCESS_KEY, SECRET_KEY);
    assert_eq!(signed, "content-type;host;x-amz-content-sha256;x-amz-date");
}

#[tokio::test]
async fn session_token_is_sent_and_signed_and_credentials_are_read_per_request() {
    let server = CaptureServer::start(Reply::new(200, "text/plain", "ok")).await;
    let dir = tempfile::tempdir().unwrap();
    credentials(dir.path(), ACCESS_KEY, SECRET_KEY);
    std::fs::write(dir.path().join("token"), "session-token-1").unwrap();
    let plugin = lambda(
        &server.url(),
        dir.path(),
        json!({"session_token": format!("file://{}", dir.path().join("token").display())}),
    );
    let r = plugin.dispatch(exchange("GET", "/")).await.unwrap();
    assert_eq!(r.status, 200);
    // Rotated credentials are picked up by the next request.
    credentials(dir.path(), "AKIDROTATED", "rotated-secret");
    let r = plugin.dispatch(exchange("GET", "/x%20y/")).await.unwrap();
    assert_eq!(r.status, 200);

    let seen = server.requests();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0].target, "/");
    assert_eq!(seen[0].body.len(), 0);
    assert_eq!(
        one(&seen[0].headers, "x-amz-security-token"),
        "session-token-1"
    );
    assert_eq!(
        verify_sigv4(&seen[0], ACCESS_KEY, SECRET_KEY),
        "host;x-amz-content-sha256;x-amz-date;x-amz-security-token"
    );
    assert_eq!(seen[1].target, "/x%20y/");
    verify_sigv4(&seen[1], "AKIDROTATED", "rotated-secret");
}

#[tokio::test]
async fn unsigned_calls_carry_no_signature_and_no_client_credentials() {
    let server = CaptureServer::start(Reply::new(200, "text/plain", "ok")).await;
    let dir = tempfile::tempdir().unwrap();
    // No credential files at all: with sign false they are never read.
    let plugin = lambda(&server.url(), dir.path(), json!({"sign": false}));
    let r = plugin
        .dispatch(
            exchange("GET", "/hello")
                .header("authorization", "Bearer client-token")
                .header("x-amz-security-token", "forged")
                .header("accept", "text/plain"),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200);
    let seen = server.requests();
    assert_eq!(seen.len(), 1);
    assert_eq!(names(&seen[0].headers), ["accept", "host"]);
}

#[tokio::test]
async fn function_error_status_passes_through() {
    let server = CaptureServer::start(Reply::new(500, "text/plain", "function blew up")).await;
    let dir = tempfile::tempdir().unwrap();
    credentials(dir.path(), ACCESS_KEY, SECRET_KEY);
    let plugin = lambda(&server.url(), dir.path(), json!({}));
    let r = plugin
        .dispatch(exchange("DELETE", "/pets/1"))
        .await
        .unwrap();
    assert_eq!(r.status, 500);
    assert_eq!(one(&r.headers, "content-type"), "text/plain");
    assert_eq!(text(&r), "function blew up");
    assert_eq!(server.requests()[0].method, "DELETE");
}

#[tokio::test]
async fn slow_function_is_a_504_after_the_timeout() {
    let server = CaptureServer::start(Reply {
        delay: Duration::from_secs(5),
        ..Reply::new(200, "text/plain", "too late")
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    credentials(dir.path(), ACCESS_KEY, SECRET_KEY);
    let plugin = lambda(&server.url(), dir.path(), json!({"timeout": 0.3}));
    let started = Instant::now();
    let r = plugin.dispatch(exchange("GET", "/slow")).await.unwrap();
    let took = started.elapsed();
    assert_problem(
        &r,
        504,
        "upstream-timeout",
        "Gateway Timeout",
        "The Lambda function did not answer in time.",
    );
    // The wait does not count against the guest's 100 ms budget, and the limit is honoured.
    assert!(took >= Duration::from_millis(300), "{took:?}");
    assert!(took < Duration::from_secs(3), "{took:?}");
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn unreachable_function_is_a_502() {
    // A port that was just free: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = tempfile::tempdir().unwrap();
    credentials(dir.path(), ACCESS_KEY, SECRET_KEY);
    let plugin = lambda(&format!("http://127.0.0.1:{port}/"), dir.path(), json!({}));
    let r = plugin.dispatch(exchange("GET", "/")).await.unwrap();
    assert_problem(
        &r,
        502,
        "upstream-unavailable",
        "Bad Gateway",
        "The Lambda function could not be reached.",
    );
}

#[tokio::test]
async fn missing_credentials_are_a_500_and_nothing_is_sent() {
    let server = CaptureServer::start(Reply::new(200, "text/plain", "ok")).await;
    let dir = tempfile::tempdir().unwrap();
    // Only the access key id exists.
    std::fs::write(dir.path().join("akid"), ACCESS_KEY).unwrap();
    let plugin = lambda(&server.url(), dir.path(), json!({}));
    let r = plugin.dispatch(exchange("GET", "/")).await.unwrap();
    assert_problem(
        &r,
        500,
        "plugin-misconfigured",
        "Internal Server Error",
        "The gateway has no AWS credentials for this function.",
    );
    // An empty file counts as missing too.
    std::fs::write(dir.path().join("secret"), "\n").unwrap();
    let r = plugin.dispatch(exchange("GET", "/")).await.unwrap();
    assert_eq!(r.status, 500);
    assert!(server.requests().is_empty());
}
