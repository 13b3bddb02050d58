//! `cors`: preflights answered in `on_request`, headers added in `on_response`, the decision
//! carried between the two in the context.

use crate::{assert_problem, one, values};
use barbacane_plugin_abi::Action;
use barbacane_test::harness::{PluginHarness, exchange, response};
use serde_json::json;

const APP: &str = "https://app.example";

fn cors() -> PluginHarness {
    PluginHarness::official(
        "cors",
        json!({
            "allowed_origins": [APP],
            "allowed_methods": ["GET", "put"],
            "allowed_headers": ["X-Api-Key", "content-type"],
            "expose_headers": ["x-total", "x-page"],
            "max_age": 600,
            "allow_credentials": true
        }),
    )
    .unwrap()
}

#[tokio::test]
async fn allowed_preflight_is_answered_204() {
    let mut run = cors()
        .on_request(
            exchange("OPTIONS", "/pets")
                .header("origin", APP)
                .header("access-control-request-method", "PUT")
                // Repeated header lines and odd spacing are one list.
                .header("access-control-request-headers", "X-API-KEY")
                .header("access-control-request-headers", " Content-Type ,"),
        )
        .await
        .unwrap();
    assert_eq!(run.action, Action::Respond);
    let r = run.response().unwrap();
    assert_eq!(r.status, 204);
    assert_eq!(one(&r.headers, "access-control-allow-origin"), APP);
    assert_eq!(one(&r.headers, "access-control-allow-methods"), "GET, PUT");
    assert_eq!(
        one(&r.headers, "access-control-allow-headers"),
        "x-api-key, content-type"
    );
    assert_eq!(one(&r.headers, "access-control-max-age"), "600");
    assert_eq!(one(&r.headers, "access-control-allow-credentials"), "true");
    assert_eq!(
        one(&r.headers, "vary"),
        "Origin, Access-Control-Request-Method, Access-Control-Request-Headers"
    );
    assert_eq!(r.headers.len(), 6, "{:?}", r.headers);
    assert_eq!(run.exchange().context.get("cors").unwrap(), "preflight");
}

#[tokio::test]
async fn denied_preflights_are_403_problems_naming_the_part() {
    let cases = [
        (
            "https://evil.example",
            "GET",
            None,
            "The origin is not allowed",
        ),
        (APP, "DELETE", None, "The requested method is not allowed"),
        (
            APP,
            "GET",
            Some("x-api-key, authorization"),
            "A requested header is not allowed",
        ),
    ];
    for (origin, method, headers, detail) in cases {
        let mut request = exchange("OPTIONS", "/pets")
            .header("origin", origin)
            .header("access-control-request-method", method);
        if let Some(h) = headers {
            request = request.header("access-control-request-headers", h);
        }
        let mut run = cors().on_request(request).await.unwrap();
        assert_eq!(run.action, Action::Respond, "{detail}");
        let r = run.response().unwrap();
        assert_problem(
            &r,
            403,
            "cors-preflight-rejected",
            "The CORS preflight request was rejected",
            detail,
        );
        assert!(
            r.headers
                .keys()
                .all(|n| !n.as_str().starts_with("access-control-")),
            "{:?}",
            r.headers
        );
    }
}

#[tokio::test]
async fn allowed_request_gets_headers_on_the_response() {
    let mut run = cors()
        .on_request(exchange("GET", "/pets").header("origin", APP))
        .await
        .unwrap();
    assert_eq!(run.action, Action::Continue);
    assert_eq!(
        run.exchange().context.get("cors").unwrap(),
        &format!("allow {APP}")
    );
    let r = run
        .on_response(response(
            200,
            &[
                ("content-type", "application/json"),
                // Upstream values the plugin owns are replaced.
                ("access-control-allow-origin", "*"),
                ("access-control-expose-headers", "x-secret"),
            ],
            "[]",
        ))
        .await
        .unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(one(&r.headers, "access-control-allow-origin"), APP);
    assert_eq!(one(&r.headers, "access-control-allow-credentials"), "true");
    assert_eq!(
        one(&r.headers, "access-control-expose-headers"),
        "x-total, x-page"
    );
    assert_eq!(one(&r.headers, "vary"), "Origin");
    assert_eq!(one(&r.headers, "content-type"), "application/json");
    assert_eq!(r.headers.len(), 5, "{:?}", r.headers);
    assert_eq!(crate::text(&r), "[]");
}

#[tokio::test]
async fn disallowed_origin_gets_no_cors_headers() {
    let mut run = cors()
        .on_request(exchange("POST", "/pets").header("origin", "https://evil.example"))
        .await
        .unwrap();
    assert_eq!(run.action, Action::Continue);
    assert_eq!(run.exchange().context.get("cors").unwrap(), "denied");
    let r = run
        .on_response(response(
            201,
            &[
                ("access-control-allow-origin", "https://evil.example"),
                ("access-control-allow-credentials", "true"),
                ("x-kept", "1"),
            ],
            "",
        ))
        .await
        .unwrap();
    assert_eq!(r.status, 201);
    assert!(r.headers.get("access-control-allow-origin").is_none());
    assert!(r.headers.get("access-control-allow-credentials").is_none());
    assert_eq!(one(&r.headers, "x-kept"), "1");
    assert_eq!(one(&r.headers, "vary"), "Origin");
    assert_eq!(r.headers.len(), 2, "{:?}", r.headers);
}

#[tokio::test]
async fn vary_is_appended_to_an_existing_vary_not_replaced() {
    let run = cors()
        .on_request(exchange("GET", "/pets").header("origin", APP))
        .await
        .unwrap();
    let r = run
        .on_response(response(200, &[("vary", "Accept-Encoding")], ""))
        .await
        .unwrap();
    assert_eq!(values(&r.headers, "vary"), ["Accept-Encoding", "Origin"]);

    // Already covered (case-insensitively, inside a list): left alone.
    let run = cors()
        .on_request(exchange("GET", "/pets").header("origin", APP))
        .await
        .unwrap();
    let r = run
        .on_response(response(200, &[("vary", "accept, ORIGIN")], ""))
        .await
        .unwrap();
    assert_eq!(values(&r.headers, "vary"), ["accept, ORIGIN"]);
}

#[tokio::test]
async fn wildcard_origin_answers_star_without_vary() {
    let cors = PluginHarness::official("cors", json!({"allowed_origins": ["*"]})).unwrap();
    let run = cors
        .on_request(exchange("GET", "/pets").header("origin", "https://any.example"))
        .await
        .unwrap();
    let r = run.on_response(response(200, &[], "")).await.unwrap();
    assert_eq!(one(&r.headers, "access-control-allow-origin"), "*");
    assert!(r.headers.get("vary").is_none(), "{:?}", r.headers);
    assert_eq!(r.headers.len(), 1, "{:?}", r.headers);
}

#[tokio::test]
async fn invalid_cors_configurations_are_refused() {
    for (config, needle) in [
        (json!({"allowed_origins": []}), "allowed_origins is empty"),
        (
            json!({"allowed_origins": ["https://app.example/"]}),
            "is not an origin",
        ),
        (
            json!({"allowed_origins": ["*"], "allow_credentials": true}),
            "cannot be combined with allow_credentials",
        ),
    ] {
        match PluginHarness::official("cors", config.clone()) {
            Err(barbacane_wasm::WasmError::Init { message, .. }) => {
                assert!(message.contains(needle), "{config}: {message}")
            }
            other => panic!("{config}: expected an init error, got {other:?}"),
        }
    }
}
