//! Parameter validation: coercion, keywords, query styles, header, cookie, path styles.

use barbacane_test::TestGateway;

use crate::common::{assert_ok, assert_problem, send_with};

/// One `GET` operation per path, each with the given parameter list (YAML flow items).
const ROUTES: &[(&str, &str)] = &[
    (
        "/page",
        "{name: page, in: query, required: true, schema: {type: integer, minimum: 1}}",
    ),
    (
        "/optional",
        "{name: page, in: query, schema: {type: integer}}",
    ),
    (
        "/enum",
        "{name: color, in: query, required: true, schema: {type: string, enum: [red, green]}}",
    ),
    (
        "/pattern",
        "{name: code, in: query, required: true, schema: {type: string, pattern: '^[A-Z]{3}$'}}",
    ),
    (
        "/len",
        "{name: name, in: query, required: true, schema: {type: string, minLength: 2, maxLength: 5}}",
    ),
    (
        "/num",
        "{name: n, in: query, required: true, schema: {type: number, exclusiveMinimum: 0, maximum: 10}}",
    ),
    (
        "/flag",
        "{name: flag, in: query, required: true, schema: {type: boolean}}",
    ),
    (
        "/form-explode",
        "{name: id, in: query, required: true, style: form, explode: true, schema: {type: array, items: {type: integer}}}",
    ),
    (
        "/form-csv",
        "{name: id, in: query, required: true, style: form, explode: false, schema: {type: array, items: {type: integer}}}",
    ),
    (
        "/space",
        "{name: id, in: query, required: true, style: spaceDelimited, explode: false, schema: {type: array, items: {type: integer}}}",
    ),
    (
        "/pipe",
        "{name: id, in: query, required: true, style: pipeDelimited, explode: false, schema: {type: array, items: {type: integer}}}",
    ),
    (
        "/deep",
        "{name: filter, in: query, required: true, style: deepObject, explode: true, schema: {type: object, additionalProperties: false, properties: {min: {type: integer}, max: {type: integer}}}}",
    ),
    (
        "/header",
        "{name: X-Rate, in: header, required: true, schema: {type: integer, maximum: 100}}",
    ),
    (
        "/cookie",
        "{name: sid, in: cookie, required: true, schema: {type: integer}}",
    ),
    (
        "/label/{id}",
        "{name: id, in: path, required: true, style: label, schema: {type: integer}}",
    ),
    (
        "/matrix/{id}",
        "{name: id, in: path, required: true, style: matrix, schema: {type: integer}}",
    ),
];

fn spec() -> String {
    let mut out = String::from("openapi: 3.1.0\ninfo: {title: Params, version: \"1\"}\npaths:\n");
    for (path, param) in ROUTES {
        out.push_str(&format!(
            "  {path}:\n    get:\n      parameters: [{param}]\n      x-barbacane-dispatch: {{name: mock}}\n      responses: {{\"200\": {{description: ok}}}}\n"
        ));
    }
    out
}

const SPEC_30: &str = r#"
openapi: 3.0.3
info: {title: Params 3.0, version: "1"}
paths:
  /excl:
    get:
      parameters:
        - {name: n, in: query, required: true, schema: {type: number, minimum: 0, exclusiveMinimum: true, maximum: 10, exclusiveMaximum: false}}
      x-barbacane-dispatch: {name: mock}
      responses: {"200": {description: ok}}
"#;

async fn gateway() -> TestGateway {
    TestGateway::from_specs(&[("api.yaml", &spec())]).await
}

/// Asserts each target is accepted (200) and each of `rejected` is a 400 `validation-failed`.
async fn check(gw: &TestGateway, accepted: &[&str], rejected: &[&str]) {
    for target in accepted {
        let resp = gw.get(target).await;
        assert_eq!(
            resp.status(),
            200,
            "{target} should be accepted: {}",
            resp.text()
        );
    }
    for target in rejected {
        let resp = gw.get(target).await;
        assert_eq!(
            resp.status(),
            400,
            "{target} should be rejected: {}",
            resp.text()
        );
        assert_problem(&resp, 400, "validation-failed");
    }
}

#[tokio::test]
async fn query_integer_coercion_and_minimum() {
    let gw = gateway().await;
    check(
        &gw,
        &["/page?page=2", "/page?page=1&other=x"],
        &[
            "/page?page=x",
            "/page?page=0",
            "/page?page=2.5",
            "/page?page=",
        ],
    )
    .await;
}

#[tokio::test]
async fn required_query_missing_vs_optional() {
    let gw = gateway().await;
    check(
        &gw,
        &["/optional", "/optional?page=3"],
        &["/page", "/page?pages=2", "/optional?page=x"],
    )
    .await;
}

#[tokio::test]
async fn enum_keyword() {
    let gw = gateway().await;
    check(
        &gw,
        &["/enum?color=red", "/enum?color=green"],
        &["/enum?color=blue", "/enum?color=RED"],
    )
    .await;
}

#[tokio::test]
async fn pattern_keyword() {
    let gw = gateway().await;
    check(
        &gw,
        &["/pattern?code=ABC"],
        &[
            "/pattern?code=abc",
            "/pattern?code=ABCD",
            "/pattern?code=AB",
        ],
    )
    .await;
}

#[tokio::test]
async fn string_length_bounds() {
    let gw = gateway().await;
    check(
        &gw,
        &["/len?name=ab", "/len?name=abcde"],
        &["/len?name=a", "/len?name=abcdef", "/len?name="],
    )
    .await;
}

#[tokio::test]
async fn number_bounds_with_numeric_exclusive_minimum() {
    let gw = gateway().await;
    check(
        &gw,
        &["/num?n=0.5", "/num?n=10", "/num?n=1e1"],
        &["/num?n=0", "/num?n=-1", "/num?n=10.01", "/num?n=abc"],
    )
    .await;
}

#[tokio::test]
async fn number_bounds_with_openapi30_boolean_exclusive_minimum() {
    let gw = TestGateway::from_specs(&[("api.yaml", SPEC_30)]).await;
    // exclusiveMinimum: true makes 0 itself invalid; exclusiveMaximum: false keeps 10 valid.
    check(
        &gw,
        &["/excl?n=0.001", "/excl?n=10"],
        &["/excl?n=0", "/excl?n=-0.5", "/excl?n=10.5"],
    )
    .await;
}

#[tokio::test]
async fn boolean_coercion() {
    let gw = gateway().await;
    check(
        &gw,
        &["/flag?flag=true", "/flag?flag=false"],
        &["/flag?flag=yes", "/flag?flag=1", "/flag?flag=TRUE"],
    )
    .await;
}

#[tokio::test]
async fn array_form_explode() {
    let gw = gateway().await;
    check(
        &gw,
        &["/form-explode?id=1&id=2", "/form-explode?id=7"],
        &["/form-explode?id=1&id=x", "/form-explode"],
    )
    .await;
}

#[tokio::test]
async fn array_form_no_explode() {
    let gw = gateway().await;
    check(
        &gw,
        &["/form-csv?id=1,2", "/form-csv?id=3"],
        &["/form-csv?id=1,x", "/form-csv?id=1,,2"],
    )
    .await;
}

#[tokio::test]
async fn array_space_delimited() {
    let gw = gateway().await;
    check(
        &gw,
        &["/space?id=1%202", "/space?id=1+2"],
        &["/space?id=1%20x", "/space?id=1,2"],
    )
    .await;
}

#[tokio::test]
async fn array_pipe_delimited() {
    let gw = gateway().await;
    check(
        &gw,
        &["/pipe?id=1|2", "/pipe?id=1%7C2"],
        &["/pipe?id=1|x", "/pipe?id=1,2"],
    )
    .await;
}

#[tokio::test]
async fn deep_object() {
    let gw = gateway().await;
    check(
        &gw,
        &[
            "/deep?filter[min]=1&filter[max]=5",
            "/deep?filter%5Bmin%5D=1",
        ],
        &[
            "/deep?filter[min]=x",
            "/deep?filter[other]=1",
            "/deep?min=1",
        ],
    )
    .await;
}

#[tokio::test]
async fn header_parameter() {
    let gw = gateway().await;
    assert_ok(
        &send_with(&gw, "GET", "/header", &[("x-rate", "42")], "").await,
        200,
    );
    // Header names are case-insensitive.
    assert_ok(
        &send_with(&gw, "GET", "/header", &[("X-RATE", "7")], "").await,
        200,
    );
    assert_problem(&gw.get("/header").await, 400, "validation-failed");
    assert_problem(
        &send_with(&gw, "GET", "/header", &[("x-rate", "fast")], "").await,
        400,
        "validation-failed",
    );
    assert_problem(
        &send_with(&gw, "GET", "/header", &[("x-rate", "101")], "").await,
        400,
        "validation-failed",
    );
}

#[tokio::test]
async fn cookie_parameter() {
    let gw = gateway().await;
    assert_ok(
        &send_with(&gw, "GET", "/cookie", &[("cookie", "sid=42")], "").await,
        200,
    );
    assert_ok(
        &send_with(
            &gw,
            "GET",
            "/cookie",
            &[("cookie", "theme=dark; sid=9")],
            "",
        )
        .await,
        200,
    );
    assert_problem(&gw.get("/cookie").await, 400, "validation-failed");
    assert_problem(
        &send_with(&gw, "GET", "/cookie", &[("cookie", "sid=abc")], "").await,
        400,
        "validation-failed",
    );
    assert_problem(
        &send_with(&gw, "GET", "/cookie", &[("cookie", "other=1")], "").await,
        400,
        "validation-failed",
    );
}

#[tokio::test]
async fn path_label_style() {
    let gw = gateway().await;
    check(&gw, &["/label/.5"], &["/label/.x", "/label/5"]).await;
}

#[tokio::test]
async fn path_matrix_style() {
    let gw = gateway().await;
    check(
        &gw,
        &["/matrix/;id=5"],
        &["/matrix/;id=x", "/matrix/5", "/matrix/;other=5"],
    )
    .await;
}
