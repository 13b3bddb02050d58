//! Request body validation: presence, JSON syntax, schema, formats, media types, 3.0 nullable.

use barbacane_test::TestGateway;

use crate::common::{assert_ok, assert_problem, post_json, send_with};

const SPEC: &str = r#"
openapi: 3.1.0
info: {title: Bodies, version: "1"}
paths:
  /pets:
    post:
      requestBody:
        required: true
        content:
          application/json:
            schema:
              type: object
              required: [name]
              additionalProperties: false
              properties:
                name: {type: string, minLength: 1}
                age: {type: integer, minimum: 0}
      x-barbacane-dispatch: {name: mock, config: {status: 201}}
      responses: {"201": {description: created}}
  /optional-body:
    post:
      requestBody:
        content:
          application/json:
            schema: {type: object, required: [a]}
      x-barbacane-dispatch: {name: mock}
      responses: {"200": {description: ok}}
  /formats:
    post:
      requestBody:
        required: true
        content:
          application/json:
            schema:
              type: object
              properties:
                when: {type: string, format: date-time}
                mail: {type: string, format: email}
                id: {type: string, format: uuid}
                link: {type: string, format: uri}
                v4: {type: string, format: ipv4}
                v6: {type: string, format: ipv6}
      x-barbacane-dispatch: {name: mock}
      responses: {"200": {description: ok}}
  /multi:
    post:
      requestBody:
        required: true
        content:
          application/json:
            schema: {type: object, required: [a]}
          text/plain: {}
      x-barbacane-dispatch: {name: mock}
      responses: {"200": {description: ok}}
"#;

const SPEC_30: &str = r#"
openapi: 3.0.3
info: {title: Nullable, version: "1"}
paths:
  /people:
    post:
      requestBody:
        required: true
        content:
          application/json:
            schema:
              type: object
              properties:
                nickname: {type: string, nullable: true}
                name: {type: string}
                role: {type: string, enum: [admin, user], nullable: true}
      x-barbacane-dispatch: {name: mock}
      responses: {"200": {description: ok}}
"#;

async fn gateway() -> TestGateway {
    TestGateway::from_specs(&[("api.yaml", SPEC)]).await
}

#[tokio::test]
async fn json_body_matching_the_schema_is_accepted() {
    let gw = gateway().await;
    assert_ok(
        &post_json(&gw, "/pets", r#"{"name":"Rex","age":3}"#).await,
        201,
    );
    assert_ok(&post_json(&gw, "/pets", r#"{"name":"Rex"}"#).await, 201);
}

#[tokio::test]
async fn body_schema_mismatch_is_validation_failed() {
    let gw = gateway().await;
    for body in [
        r#"{"age":3}"#,
        r#"{"name":""}"#,
        r#"{"name":"Rex","age":-1}"#,
        r#"{"name":"Rex","age":"3"}"#,
        r#"{"name":"Rex","extra":true}"#,
        r#"["Rex"]"#,
        "null",
    ] {
        let resp = post_json(&gw, "/pets", body).await;
        assert_eq!(resp.status(), 400, "{body} should be rejected");
        assert_problem(&resp, 400, "validation-failed");
    }
}

#[tokio::test]
async fn required_body_missing_is_400() {
    let gw = gateway().await;
    assert_problem(&post_json(&gw, "/pets", "").await, 400, "validation-failed");
    assert_problem(
        &send_with(&gw, "POST", "/pets", &[], "").await,
        400,
        "validation-failed",
    );
}

#[tokio::test]
async fn optional_body_may_be_absent_but_is_validated_when_present() {
    let gw = gateway().await;
    assert_ok(
        &send_with(&gw, "POST", "/optional-body", &[], "").await,
        200,
    );
    assert_ok(&post_json(&gw, "/optional-body", r#"{"a":1}"#).await, 200);
    assert_problem(
        &post_json(&gw, "/optional-body", r#"{"b":1}"#).await,
        400,
        "validation-failed",
    );
}

#[tokio::test]
async fn malformed_json_is_400() {
    let gw = gateway().await;
    for body in [
        r#"{"name":"Rex""#,
        "{name: Rex}",
        r#"{"name":"Rex"} trailing"#,
        "\u{0}",
    ] {
        let resp = post_json(&gw, "/pets", body).await;
        assert_problem(&resp, 400, "validation-failed");
    }
}

#[tokio::test]
async fn unlisted_content_type_is_415() {
    let gw = gateway().await;
    let resp = gw
        .send_body("POST", "/pets", "text/plain", r#"{"name":"Rex"}"#)
        .await;
    assert_problem(&resp, 415, "unsupported-media-type");
    let resp = gw
        .send_body("POST", "/pets", "application/xml", "<name>Rex</name>")
        .await;
    assert_problem(&resp, 415, "unsupported-media-type");
    // A body with no content type at all cannot be matched to a listed media type.
    let resp = send_with(&gw, "POST", "/pets", &[], r#"{"name":"Rex"}"#).await;
    assert_problem(&resp, 415, "unsupported-media-type");
}

#[tokio::test]
async fn content_type_parameters_and_case_are_ignored_for_matching() {
    let gw = gateway().await;
    let body = r#"{"name":"Rex"}"#;
    assert_ok(
        &gw.send_body("POST", "/pets", "application/json; charset=utf-8", body)
            .await,
        201,
    );
    assert_ok(
        &gw.send_body("POST", "/pets", "Application/JSON", body)
            .await,
        201,
    );
    // Parameters do not bypass the schema.
    let resp = gw
        .send_body(
            "POST",
            "/pets",
            "application/json; charset=utf-8",
            r#"{"age":1}"#,
        )
        .await;
    assert_problem(&resp, 400, "validation-failed");
}

#[tokio::test]
async fn each_listed_media_type_uses_its_own_rule() {
    let gw = gateway().await;
    assert_ok(
        &gw.send_body("POST", "/multi", "text/plain", "anything at all")
            .await,
        200,
    );
    assert_ok(&post_json(&gw, "/multi", r#"{"a":1}"#).await, 200);
    assert_problem(
        &post_json(&gw, "/multi", r#"{"b":1}"#).await,
        400,
        "validation-failed",
    );
    assert_problem(
        &gw.send_body("POST", "/multi", "text/csv", "a,b").await,
        415,
        "unsupported-media-type",
    );
}

#[tokio::test]
async fn string_formats_are_asserted() {
    let gw = gateway().await;
    let cases: &[(&str, &str, &str)] = &[
        ("when", "2024-01-31T12:30:00Z", "yesterday"),
        ("when", "2024-01-31T12:30:00+02:00", "2024-13-01T00:00:00Z"),
        ("mail", "someone@example.com", "not-an-email"),
        (
            "id",
            "123e4567-e89b-12d3-a456-426614174000",
            "123e4567-e89b-12d3-a456",
        ),
        ("link", "https://example.com/a?b=c", "not a uri"),
        ("v4", "192.168.0.1", "256.1.1.1"),
        ("v6", "2001:db8::1", "2001:db8:::1:zz"),
    ];
    for (field, good, bad) in cases {
        let resp = post_json(&gw, "/formats", &format!(r#"{{"{field}":"{good}"}}"#)).await;
        assert_eq!(
            resp.status(),
            200,
            "{field}={good} should be accepted: {}",
            resp.text()
        );
        let resp = post_json(&gw, "/formats", &format!(r#"{{"{field}":"{bad}"}}"#)).await;
        assert_eq!(
            resp.status(),
            400,
            "{field}={bad} should be rejected: {}",
            resp.text()
        );
        assert_problem(&resp, 400, "validation-failed");
    }
    // ipv4 is not ipv6 and vice versa.
    assert_problem(
        &post_json(&gw, "/formats", r#"{"v6":"10.0.0.1"}"#).await,
        400,
        "validation-failed",
    );
    assert_problem(
        &post_json(&gw, "/formats", r#"{"v4":"::1"}"#).await,
        400,
        "validation-failed",
    );
}

#[tokio::test]
async fn openapi30_nullable_accepts_null() {
    let gw = TestGateway::from_specs(&[("api.yaml", SPEC_30)]).await;
    assert_ok(
        &post_json(&gw, "/people", r#"{"nickname":null}"#).await,
        200,
    );
    assert_ok(
        &post_json(&gw, "/people", r#"{"nickname":"bob"}"#).await,
        200,
    );
    // nullable adds null to an enum as well.
    assert_ok(&post_json(&gw, "/people", r#"{"role":null}"#).await, 200);
    assert_problem(
        &post_json(&gw, "/people", r#"{"role":"root"}"#).await,
        400,
        "validation-failed",
    );
}

#[tokio::test]
async fn openapi30_without_nullable_rejects_null() {
    let gw = TestGateway::from_specs(&[("api.yaml", SPEC_30)]).await;
    assert_ok(&post_json(&gw, "/people", r#"{"name":"Ann"}"#).await, 200);
    assert_problem(
        &post_json(&gw, "/people", r#"{"name":null}"#).await,
        400,
        "validation-failed",
    );
    assert_problem(
        &post_json(&gw, "/people", r#"{"nickname":5}"#).await,
        400,
        "validation-failed",
    );
}
