//! The dispatcher against the SDK's fake gateway.

use super::*;
use barbacane_plugin_sdk::testing::{FakeHost, dispatcher_from};
use serde_json::{Value, json};

const URL: &str = "https://abc123.lambda-url.eu-west-1.on.aws/";
const HOST: &str = "abc123.lambda-url.eu-west-1.on.aws";
const AKID: &str = "AKIDEXAMPLE";
const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
const NOW: i64 = 1_700_000_000_000; // 20231114T221320Z

fn lambda(config: Value) -> Lambda {
    dispatcher_from(&config).unwrap()
}

fn ok(status: u16, headers: &[(&str, &str)], body: &[u8]) -> HttpResponse {
    HttpResponse {
        status,
        headers: headers
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect(),
        body: body.to_vec(),
    }
}

/// A host with credentials (and a session token) and an upstream answering 200 "done".
fn host() -> FakeHost {
    let mut host = FakeHost::new();
    host.now_ms(NOW)
        .secret("env://AWS_ACCESS_KEY_ID", AKID)
        .secret("env://AWS_SECRET_ACCESS_KEY", SECRET)
        .http(|_| Ok(ok(200, &[], b"done")));
    host
}

fn only_call(host: &FakeHost) -> HttpRequest {
    let calls = host.http_calls();
    assert_eq!(calls.len(), 1, "{calls:?}");
    calls.into_iter().next().unwrap()
}

fn header<'a>(request: &'a HttpRequest, name: &str) -> Option<&'a str> {
    request
        .headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

fn problem(response: &OutgoingResponse) -> Value {
    assert_eq!(
        response.headers,
        vec![(
            "content-type".to_owned(),
            "application/problem+json".to_owned()
        )]
    );
    serde_json::from_slice(&response.body).unwrap()
}

/// The Authorization header expected for `canonical` (written out by hand in each test).
fn expected_authorization(canonical: &str, signed_headers: &str, region: &str) -> String {
    let date = AmzDate::from_unix_ms(NOW);
    let scope = Scope {
        date: &date,
        region,
        service: "lambda",
    };
    let key = sigv4::signing_key(SECRET, &scope);
    let signature = sigv4::signature(&key, &sigv4::string_to_sign(&scope, canonical));
    sigv4::authorization(AKID, &scope, signed_headers, &signature)
}

#[test]
fn function_url_requests_are_forwarded_and_signed() {
    let mut plugin = lambda(json!({"url": "https://ABC123.lambda-url.eu-west-1.on.aws/v1/"}));
    let mut host = host();
    host.secret("env://AWS_SESSION_TOKEN", "the-token")
        .method("PUT")
        .path("/pets/caf%C3%A9")
        .query("b=x+y&a=1&flag")
        .header("Host", "api.example.com")
        .header("Content-Type", "application/json")
        .header("Content-Length", "11")
        .header("Accept", "text/plain")
        .header("Accept", "application/json")
        .header("Authorization", "Bearer client")
        .header("X-Amz-Date", "19990101T000000Z")
        .header("Connection", "close, x-hop")
        .header("X-Hop", "1")
        .header("Transfer-Encoding", "chunked")
        .body(br#"{"n":"Rex"}"#);
    let response = host.dispatch(&mut plugin);
    assert_eq!(
        (response.status, response.body.as_slice()),
        (200, &b"done"[..])
    );

    let call = only_call(&host);
    assert_eq!(call.method, "PUT");
    assert_eq!(
        call.url,
        format!("https://{HOST}/v1/pets/caf%C3%A9?b=x%20y&a=1&flag")
    );
    assert_eq!(call.body, br#"{"n":"Rex"}"#);
    assert_eq!(call.timeout_ms, Some(30_000));
    let hash = sigv4::sha256_hex(br#"{"n":"Rex"}"#);
    let names: Vec<&str> = call.headers.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "content-type",
            "accept",
            "accept",
            "x-amz-content-sha256",
            "x-amz-date",
            "x-amz-security-token",
            "authorization"
        ]
    );
    assert_eq!(header(&call, "x-amz-content-sha256"), Some(hash.as_str()));
    assert_eq!(header(&call, "x-amz-date"), Some("20231114T221320Z"));
    assert_eq!(header(&call, "x-amz-security-token"), Some("the-token"));

    let canonical = format!(
        "PUT\n/v1/pets/caf%25C3%25A9\na=1&b=x%20y&flag=\n\
         content-type:application/json\nhost:{HOST}\nx-amz-content-sha256:{hash}\n\
         x-amz-date:20231114T221320Z\nx-amz-security-token:the-token\n\n\
         content-type;host;x-amz-content-sha256;x-amz-date;x-amz-security-token\n{hash}"
    );
    assert_eq!(
        header(&call, "authorization").unwrap(),
        expected_authorization(
            &canonical,
            "content-type;host;x-amz-content-sha256;x-amz-date;x-amz-security-token",
            "eu-west-1"
        )
    );
    assert!(header(&call, "authorization").unwrap().starts_with(
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20231114/eu-west-1/lambda/aws4_request, "
    ));
}

#[test]
fn without_a_session_token_none_is_sent_and_secrets_are_trimmed() {
    let mut plugin = lambda(json!({
        "url": URL,
        "access_key_id": "file:///run/secrets/akid",
        "secret_access_key": "file:///run/secrets/secret",
        "session_token": "",
    }));
    let mut host = host();
    host.secret("file:///run/secrets/akid", "AKIDEXAMPLE\n")
        .secret("file:///run/secrets/secret", &format!("{SECRET}\n"))
        .secret("env://AWS_SESSION_TOKEN", "must-not-be-used");
    host.dispatch(&mut plugin);
    let call = only_call(&host);
    assert_eq!(call.url, format!("https://{HOST}/"));
    assert_eq!(header(&call, "x-amz-security-token"), None);
    let hash = sigv4::sha256_hex(b"");
    let canonical = format!(
        "GET\n/\n\nhost:{HOST}\nx-amz-content-sha256:{hash}\nx-amz-date:20231114T221320Z\n\n\
         host;x-amz-content-sha256;x-amz-date\n{hash}"
    );
    assert_eq!(
        header(&call, "authorization").unwrap(),
        expected_authorization(
            &canonical,
            "host;x-amz-content-sha256;x-amz-date",
            "eu-west-1"
        )
    );
}

#[test]
fn upstream_responses_come_back_without_hop_by_hop_headers() {
    let mut plugin = lambda(json!({"url": URL}));
    let mut host = host();
    host.http(|_| {
        Ok(ok(
            418,
            &[
                ("Content-Type", "text/plain"),
                ("Content-Length", "5"),
                ("Connection", "keep-alive, x-hop"),
                ("Keep-Alive", "timeout=5"),
                ("X-Hop", "1"),
                ("Set-Cookie", "a=1"),
                ("Set-Cookie", "b=2"),
                ("x-amzn-RequestId", "r-1"),
            ],
            b"short",
        ))
    });
    let response = host.dispatch(&mut plugin);
    assert_eq!(response.status, 418);
    assert_eq!(response.body, b"short");
    assert_eq!(
        response.headers,
        vec![
            ("content-type".to_owned(), "text/plain".to_owned()),
            ("set-cookie".to_owned(), "a=1".to_owned()),
            ("set-cookie".to_owned(), "b=2".to_owned()),
            ("x-amzn-requestid".to_owned(), "r-1".to_owned()),
        ]
    );
}

#[test]
fn headers_stay_behind_when_pass_through_is_off() {
    let mut plugin = lambda(json!({"url": URL, "pass_through_headers": false, "sign": false}));
    let mut host = FakeHost::new();
    host.http(|_| Ok(ok(204, &[], b"")))
        .method("POST")
        .header("Content-Type", "text/csv")
        .header("Accept", "*/*")
        .header("X-Custom", "1")
        .body(b"a,b");
    assert_eq!(host.dispatch(&mut plugin).status, 204);
    let call = only_call(&host);
    assert_eq!(
        call.headers,
        vec![("content-type".to_owned(), "text/csv".to_owned())]
    );
    assert_eq!(call.body, b"a,b");
}

#[test]
fn unsigned_mode_reads_no_credentials_and_signs_nothing() {
    let mut plugin = lambda(json!({"url": "http://127.0.0.1:9001", "sign": false, "timeout": 2.5}));
    let mut host = FakeHost::new();
    host.http(|_| Ok(ok(200, &[], b"{}")))
        .path("/a b/ü")
        .header("Authorization", "Bearer client")
        .header("X-Amz-Security-Token", "forged")
        .header("Accept", "*/*");
    assert_eq!(host.dispatch(&mut plugin).status, 200);
    let call = only_call(&host);
    assert_eq!(call.url, "http://127.0.0.1:9001/a%20b/%C3%BC");
    assert_eq!(call.timeout_ms, Some(2500));
    assert_eq!(call.headers, vec![("accept".to_owned(), "*/*".to_owned())]);
}

#[test]
fn missing_credentials_answer_500_without_calling() {
    for missing in ["env://AWS_ACCESS_KEY_ID", "env://AWS_SECRET_ACCESS_KEY"] {
        let mut plugin = lambda(json!({"url": URL}));
        let mut host = FakeHost::new();
        host.http(|_| Ok(ok(200, &[], b"")));
        for reference in ["env://AWS_ACCESS_KEY_ID", "env://AWS_SECRET_ACCESS_KEY"] {
            if reference != missing {
                host.secret(reference, "value");
            }
        }
        let response = host.dispatch(&mut plugin);
        assert_eq!(response.status, 500);
        let body = problem(&response);
        assert_eq!(body["type"], "urn:barbacane:error:plugin-misconfigured");
        assert!(!body.to_string().contains("value"));
        assert!(host.http_calls().is_empty());
        let logs = host.logs();
        assert_eq!(logs.len(), 1);
        assert_eq!(logs[0].0, 0);
        assert!(logs[0].1.contains(missing), "{logs:?}");
    }
    // An empty value counts as missing.
    let mut plugin = lambda(json!({"url": URL}));
    let mut host = host();
    host.secret("env://AWS_ACCESS_KEY_ID", "  ");
    assert_eq!(host.dispatch(&mut plugin).status, 500);
}

#[test]
fn transport_failures_map_to_problems_without_internals() {
    let cases = [
        (HttpErrorKind::Timeout, 504, "upstream-timeout"),
        (HttpErrorKind::Connect, 502, "upstream-unavailable"),
        (HttpErrorKind::Invalid, 502, "upstream-unavailable"),
        (HttpErrorKind::TooLarge, 502, "upstream-unavailable"),
    ];
    for (kind, status, name) in cases {
        for config in [
            json!({"url": URL}),
            json!({"function_name": "f", "region": "eu-west-1"}),
        ] {
            let mut plugin = lambda(config);
            let mut host = host();
            host.http(move |_| {
                Err(HttpError {
                    kind,
                    message: "dns lookup of internal-host-7 failed".into(),
                })
            });
            let response = host.dispatch(&mut plugin);
            assert_eq!(response.status, status, "{kind:?}");
            let body = problem(&response);
            assert_eq!(body["type"], format!("urn:barbacane:error:{name}"));
            assert_eq!(body["status"], status);
            assert!(!body.to_string().contains("internal-host-7"), "{body}");
            assert!(
                host.logs()
                    .iter()
                    .any(|(level, m)| *level == 1 && m.contains("internal-host-7"))
            );
        }
    }
}

#[test]
fn invoke_api_calls_carry_the_event_and_are_signed() {
    let mut plugin = lambda(json!({
        "function_name": "arn:aws:lambda:us-west-2:123456789012:function:pets:live",
        "timeout": 10,
    }));
    let mut host = host();
    host.http(|_| {
        Ok(ok(
            200,
            &[
                ("Content-Type", "application/json"),
                ("X-Amz-Executed-Version", "3"),
            ],
            br#"{"statusCode":201,"headers":{"Location":"/pets/1"},"body":"created"}"#,
        ))
    })
    .method("POST")
    .path("/pets")
    .query("dry=1")
    .header("Host", "api.example.com")
    .header("Content-Type", "application/json")
    .header("Authorization", "Bearer client")
    .body(br#"{"n":"Rex"}"#);
    let response = host.dispatch(&mut plugin);
    assert_eq!(response.status, 201);
    assert_eq!(response.body, b"created");
    assert_eq!(
        response.headers,
        vec![("location".to_owned(), "/pets/1".to_owned())]
    );

    let call = only_call(&host);
    assert_eq!(call.method, "POST");
    let path = "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-west-2%3A123456789012%3Afunction%3Apets%3Alive/invocations";
    assert_eq!(
        call.url,
        format!("https://lambda.us-west-2.amazonaws.com{path}")
    );
    assert_eq!(call.timeout_ms, Some(10_000));
    let event: Value = serde_json::from_slice(&call.body).unwrap();
    assert_eq!(event["version"], "2.0");
    assert_eq!(event["rawPath"], "/pets");
    assert_eq!(event["rawQueryString"], "dry=1");
    assert_eq!(event["requestContext"]["http"]["method"], "POST");
    assert_eq!(event["requestContext"]["timeEpoch"], NOW);
    assert_eq!(event["headers"]["authorization"], "Bearer client");
    assert_eq!(event["body"], r#"{"n":"Rex"}"#);

    let hash = sigv4::sha256_hex(&call.body);
    let canonical = format!(
        "POST\n{}\n\ncontent-type:application/json\nhost:lambda.us-west-2.amazonaws.com\n\
         x-amz-content-sha256:{hash}\nx-amz-date:20231114T221320Z\n\n\
         content-type;host;x-amz-content-sha256;x-amz-date\n{hash}",
        path.replace('%', "%25")
    );
    assert_eq!(
        header(&call, "authorization").unwrap(),
        expected_authorization(
            &canonical,
            "content-type;host;x-amz-content-sha256;x-amz-date",
            "us-west-2"
        )
    );
}

#[test]
fn invoke_results_without_status_are_json_bodies() {
    let mut plugin = lambda(json!({"function_name": "pets", "region": "eu-west-1"}));
    let mut host = host();
    host.http(|_| Ok(ok(200, &[], br#"{"pets":[]}"#)));
    let response = host.dispatch(&mut plugin);
    assert_eq!(response.status, 200);
    assert_eq!(response.body, br#"{"pets":[]}"#);
    assert_eq!(
        response.headers,
        vec![("content-type".to_owned(), "application/json".to_owned())]
    );
    assert_eq!(
        only_call(&host).url,
        "https://lambda.eu-west-1.amazonaws.com/2015-03-31/functions/pets/invocations"
    );
}

#[test]
fn invoke_failures_answer_502_upstream_error() {
    let cases: [(HttpResponse, &str); 4] = [
        (
            ok(
                200,
                &[("X-Amz-Function-Error", "Unhandled")],
                br#"{"errorMessage":"boom at /var/task/secret.js","errorType":"Error"}"#,
            ),
            "The Lambda function failed.",
        ),
        (
            ok(
                403,
                &[("x-amzn-ErrorType", "AccessDeniedException")],
                br#"{"Message":"User arn:aws:iam::123:user/x is not authorized"}"#,
            ),
            "The Lambda Invoke API refused the call.",
        ),
        (ok(200, &[], b"<html>"), "the function's result is not JSON"),
        (
            ok(200, &[], br#"{"statusCode":1000}"#),
            "the function's statusCode is not an HTTP status",
        ),
    ];
    for (answer, detail) in cases {
        let mut plugin = lambda(json!({"function_name": "pets", "region": "eu-west-1"}));
        let mut host = host();
        host.http(move |_| Ok(answer.clone()));
        let response = host.dispatch(&mut plugin);
        assert_eq!(response.status, 502);
        let body = problem(&response);
        assert_eq!(body["type"], "urn:barbacane:error:upstream-error");
        assert_eq!(body["detail"], detail);
        assert!(!body.to_string().contains("secret.js"));
        assert!(!body.to_string().contains("arn:aws:iam"));
        assert_eq!(host.logs().len(), 1, "{:?}", host.logs());
    }
}

#[test]
fn regions_are_derived_or_required() {
    let region_of = |config: Value| lambda(config).target.unwrap().region;
    assert_eq!(region_of(json!({"url": URL})), "eu-west-1");
    assert_eq!(
        region_of(json!({"url": "https://fn.example.com", "region": "ap-south-1"})),
        "ap-south-1"
    );
    assert_eq!(
        region_of(json!({"url": URL, "region": "eu-west-1"})),
        "eu-west-1"
    );
    assert_eq!(
        region_of(json!({"function_name": "arn:aws:lambda:sa-east-1:1:function:f"})),
        "sa-east-1"
    );
    assert_eq!(
        region_of(json!({"function_name": "f", "region": "us-east-2"})),
        "us-east-2"
    );
    let t = lambda(json!({"function_name": "f", "region": "cn-north-1"}))
        .target
        .unwrap();
    assert_eq!(
        t.endpoint.origin,
        "https://lambda.cn-north-1.amazonaws.com.cn"
    );
}

#[test]
fn bad_configurations_are_refused_with_a_reason() {
    let _host = FakeHost::new();
    let refused = |config: Value, needle: &str| {
        let err = dispatcher_from::<Lambda>(&config).unwrap_err();
        assert!(err.contains(needle), "{config}: {err}");
    };
    refused(json!({}), "set `url`");
    refused(json!({"url": URL, "function_name": "f"}), "not both");
    refused(
        json!({"url": "abc.lambda-url.eu-west-1.on.aws"}),
        "not an absolute",
    );
    refused(json!({"url": "ftp://example.com"}), "not an http(s) URL");
    refused(json!({"url": "https://example.com/?x=1"}), "query");
    refused(json!({"url": 42}), "invalid configuration");
    refused(json!({"url": URL, "timeout": 0}), "timeout");
    refused(json!({"url": URL, "timeout": -1}), "timeout");
    refused(json!({"url": URL, "timeout": 301}), "at most 300");
    refused(
        json!({"url": URL, "timeout": "30"}),
        "invalid configuration",
    );
    refused(json!({"url": URL, "region": "us-east-1"}), "does not match");
    refused(json!({"url": URL, "region": "Europe"}), "not an AWS region");
    refused(json!({"url": "https://fn.example.com"}), "set `region`");
    refused(json!({"function_name": "f"}), "set `region`");
    refused(
        json!({"function_name": "a/b", "region": "eu-west-1"}),
        "not a function name",
    );
    refused(
        json!({"function_name": "arn:aws:lambda:us-west-2:1:function:f", "region": "eu-west-1"}),
        "does not match",
    );
    refused(
        json!({"function_name": "f", "region": "eu-west-1", "sign": false}),
        "signed",
    );
    refused(
        json!({"url": URL, "access_key_id": ""}),
        "must name secrets",
    );
    refused(json!({"url": URL, "pass_through": true}), "pass_through");
    // Unsigned function URLs do not need a region.
    assert!(
        dispatcher_from::<Lambda>(&json!({"url": "https://fn.example.com", "sign": false})).is_ok()
    );
    assert!(dispatcher_from::<Lambda>(&json!({"url": URL, "timeout": 300})).is_ok());
}
