//! Features real public API descriptions use: a root-level dispatcher default, `content`
//! parameters, empty path segments, OpenAPI 3.2 and foreign regex dialects.

use barbacane_compiler::{CompileOptions, CompileOutput, Diagnostic, MemoryFs, compile};

/// Compiles one inline YAML document.
pub(crate) fn build(yaml: &str) -> Result<CompileOutput, Vec<Diagnostic>> {
    build_with(yaml, CompileOptions::default())
}

pub(crate) fn build_with(
    yaml: &str,
    options: CompileOptions,
) -> Result<CompileOutput, Vec<Diagnostic>> {
    let mut fs = MemoryFs::default();
    fs.insert("p/api.yaml", yaml.as_bytes().to_vec());
    compile(
        &fs,
        &CompileOptions {
            specs: vec!["/p/api.yaml".into()],
            ..options
        },
    )
}

fn codes(diags: &[Diagnostic]) -> Vec<String> {
    diags.iter().map(|d| d.code.to_string()).collect()
}

#[test]
fn a_root_dispatcher_is_the_default_and_an_operation_replaces_it() {
    let out = build(
        r#"
openapi: 3.1.0
info: {title: t, version: "1"}
x-barbacane-dispatch: {name: mock, config: {status: 204}}
paths:
  /a:
    get: {responses: {"200": {description: ok}}}
  /b:
    get:
      x-barbacane-dispatch: {name: mock, config: {status: 201}}
      responses: {"200": {description: ok}}
"#,
    )
    .unwrap();
    let status = |path: &str| {
        let op = out
            .config
            .operations
            .iter()
            .find(|o| o.path == path)
            .unwrap();
        assert_eq!(op.dispatch.name, "mock");
        op.dispatch.config["status"].clone()
    };
    assert_eq!(status("/a"), 204);
    assert_eq!(status("/b"), 201);
}

#[test]
fn a_bad_root_dispatcher_is_reported_at_the_root() {
    let diags = build(
        r#"
openapi: 3.1.0
info: {title: t, version: "1"}
x-barbacane-dispatch: {name: teleport}
paths:
  /a:
    get: {responses: {"200": {description: ok}}}
"#,
    )
    .unwrap_err();
    let d = diags
        .iter()
        .find(|d| d.code.to_string() == "E1012")
        .unwrap();
    assert_eq!(d.json_pointer, "/x-barbacane-dispatch/name", "{d}");
    // Without either, every operation is E1011.
    let diags = build(
        r#"
openapi: 3.1.0
info: {title: t, version: "1"}
paths:
  /a:
    get: {responses: {"200": {description: ok}}}
"#,
    )
    .unwrap_err();
    assert_eq!(codes(&diags), ["E1011"]);
}

fn validator(out: &CompileOutput, path: &str) -> barbacane_validator::OperationValidator {
    let op = out
        .config
        .operations
        .iter()
        .find(|o| o.path == path)
        .unwrap();
    barbacane_validator::OperationValidator::build_with_definitions(op, &out.config.definitions)
        .unwrap()
}

fn query_ok(v: &barbacane_validator::OperationValidator, query: &str) -> bool {
    let headers = http::HeaderMap::new();
    v.validate_head(
        |_| None,
        barbacane_validator::RequestParts {
            query: Some(query),
            headers: &headers,
        },
    )
    .is_ok()
}

#[test]
fn content_parameters_are_decoded_and_checked() {
    let out = build(
        r#"
openapi: 3.0.3
info: {title: t, version: "1"}
x-barbacane-dispatch: {name: mock}
paths:
  /search:
    get:
      parameters:
        - name: filter
          in: query
          required: true
          content:
            application/json:
              schema:
                type: object
                required: [n]
                properties: {n: {type: integer}}
      responses: {"200": {description: ok}}
"#,
    )
    .unwrap();
    let op = &out.config.operations[0];
    assert_eq!(
        op.parameters[0].content_type.as_deref(),
        Some("application/json")
    );
    let v = validator(&out, "/search");
    assert!(query_ok(&v, "filter=%7B%22n%22%3A1%7D"));
    assert!(query_ok(&v, r#"filter={"n":2}"#));
    assert!(!query_ok(&v, r#"filter={"n":"x"}"#));
    assert!(!query_ok(&v, r#"filter={}"#));
    assert!(!query_ok(&v, "filter={bad"));
    assert!(!query_ok(&v, "other=1"));
}

#[test]
fn the_32_querystring_parameter_is_the_whole_query() {
    let yaml = |version: &str| {
        format!(
            r#"
openapi: {version}
info: {{title: t, version: "1"}}
x-barbacane-dispatch: {{name: mock}}
paths:
  /q:
    get:
      parameters:
        - name: all
          in: querystring
          content:
            application/x-www-form-urlencoded:
              schema:
                type: object
                required: [a]
                properties:
                  a: {{type: integer}}
                  t: {{type: array, items: {{type: integer}}}}
                additionalProperties: false
      responses: {{"200": {{description: ok}}}}
"#
        )
    };
    let out = build(&yaml("3.2.0")).unwrap();
    let v = validator(&out, "/q");
    assert!(query_ok(&v, "a=1"));
    assert!(query_ok(&v, "a=1&t=2&t=3"));
    assert!(!query_ok(&v, "a=x"));
    assert!(!query_ok(&v, "a=1&t=x"));
    assert!(!query_ok(&v, "a=1&zzz=2"));
    // 3.1 has no such location.
    let diags = build(&yaml("3.1.0")).unwrap_err();
    let d = diags
        .iter()
        .find(|d| d.code.to_string() == "E1006")
        .unwrap();
    assert_eq!(d.json_pointer, "/paths/~1q/get/parameters/0", "{d}");
}

#[test]
fn a_parameter_with_schema_and_content_or_several_media_types_is_refused() {
    for parameter in [
        "{name: f, in: query, schema: {type: string}, content: {application/json: {schema: {}}}}",
        "{name: f, in: query, content: {application/json: {}, text/plain: {}}}",
        "{name: f, in: query, content: {}}",
    ] {
        let diags = build(&format!(
            r#"
openapi: 3.1.0
info: {{title: t, version: "1"}}
x-barbacane-dispatch: {{name: mock}}
paths:
  /a:
    get:
      parameters: [{parameter}]
      responses: {{"200": {{description: ok}}}}
"#
        ))
        .unwrap_err();
        assert_eq!(codes(&diags), ["E1006"], "{parameter}");
    }
}

fn body_ok(v: &barbacane_validator::OperationValidator, content_type: &str, body: &[u8]) -> bool {
    let mut headers = http::HeaderMap::new();
    headers.insert("content-type", content_type.parse().unwrap());
    let parts = barbacane_validator::RequestParts {
        query: None,
        headers: &headers,
    };
    v.validate_head(|_| None, parts).is_ok() && v.validate_body(&headers, body).is_ok()
}

#[test]
fn form_multipart_and_text_bodies_are_checked_against_their_schema() {
    let out = build(
        r##"
openapi: 3.1.0
info: {title: t, version: "1"}
x-barbacane-dispatch: {name: mock}
components:
  schemas:
    Upload:
      type: object
      required: [n, file]
      properties:
        n: {type: integer, minimum: 1}
        tags: {type: array, items: {type: string, maxLength: 3}}
        meta: {type: object, required: [k]}
        file: {type: string}
paths:
  /upload:
    post:
      requestBody:
        required: true
        content:
          application/x-www-form-urlencoded:
            schema: {$ref: "#/components/schemas/Upload"}
            encoding:
              tags: {style: form, explode: false}
              meta: {contentType: application/json}
          multipart/form-data:
            schema: {$ref: "#/components/schemas/Upload"}
            encoding:
              file: {contentType: "image/png, image/jpeg"}
          text/plain:
            schema: {type: string, pattern: "^[a-z]+$"}
          application/octet-stream: {}
      responses: {"200": {description: ok}}
"##,
    )
    .unwrap();
    let v = validator(&out, "/upload");
    assert!(v.needs_body());
    let form = "application/x-www-form-urlencoded";
    assert!(body_ok(
        &v,
        form,
        b"n=2&file=x&tags=a,bc&meta=%7B%22k%22%3A1%7D"
    ));
    assert!(!body_ok(&v, form, b"n=0&file=x"));
    assert!(!body_ok(&v, form, b"n=2"));
    assert!(!body_ok(&v, form, b"n=2&file=x&tags=abcd"));
    assert!(!body_ok(&v, form, b"n=2&file=x&meta=%7B%7D"));
    let multipart = |parts: &[(&str, Option<&str>, &str)]| {
        let mut body = String::new();
        for (name, ct, value) in parts {
            body.push_str(&format!(
                "--b0\r\nContent-Disposition: form-data; name=\"{name}\"{}\r\n",
                if ct.is_some() { "; filename=\"f\"" } else { "" }
            ));
            if let Some(ct) = ct {
                body.push_str(&format!("Content-Type: {ct}\r\n"));
            }
            body.push_str(&format!("\r\n{value}\r\n"));
        }
        body.push_str("--b0--\r\n");
        body.into_bytes()
    };
    let mp = "multipart/form-data; boundary=b0";
    assert!(body_ok(
        &v,
        mp,
        &multipart(&[("n", None, "3"), ("file", Some("image/png"), "PNG")])
    ));
    assert!(!body_ok(
        &v,
        mp,
        &multipart(&[("n", None, "x"), ("file", Some("image/png"), "PNG")])
    ));
    assert!(!body_ok(&v, mp, &multipart(&[("n", None, "3")])));
    assert!(!body_ok(
        &v,
        mp,
        &multipart(&[("n", None, "3"), ("file", Some("text/html"), "<p>")])
    ));
    assert!(!body_ok(
        &v,
        "multipart/form-data",
        &multipart(&[("n", None, "3")])
    ));
    assert!(!body_ok(&v, mp, b"garbage"));
    assert!(body_ok(&v, "text/plain; charset=utf-8", b"abc"));
    assert!(!body_ok(&v, "text/plain", b"ABC"));
    assert!(!body_ok(&v, "text/plain", b"\xff"));
    // Other media types get the content-type check only.
    assert!(body_ok(&v, "application/octet-stream", b"\x00\x01"));
    assert!(!body_ok(&v, "application/xml", b"<a/>"));
}

#[test]
fn empty_segments_are_removed_with_one_warning_per_path() {
    let out = build(
        r#"
openapi: 3.0.0
info: {title: t, version: "1"}
x-barbacane-dispatch: {name: mock}
paths:
  //openapi:
    get: {responses: {"200": {description: ok}}}
    post: {responses: {"200": {description: ok}}}
  /vendor//apps/{id}//logs//:
    get: {responses: {"200": {description: ok}}}
"#,
    )
    .unwrap();
    let mut paths: Vec<&str> = out
        .config
        .operations
        .iter()
        .map(|o| o.path.as_str())
        .collect();
    paths.dedup();
    assert_eq!(paths, ["/openapi", "/vendor/apps/{id}/logs"]);
    let warnings: Vec<&Diagnostic> = out
        .warnings
        .iter()
        .filter(|d| d.code.to_string() == "W1002")
        .collect();
    assert_eq!(warnings.len(), 2, "{warnings:#?}");
    assert_eq!(warnings[0].json_pointer, "/paths/~1~1openapi");
    // Collapsing can make two paths the same route: that stays a conflict.
    let diags = build(
        r#"
openapi: 3.0.0
info: {title: t, version: "1"}
x-barbacane-dispatch: {name: mock}
paths:
  /a//b:
    get: {responses: {"200": {description: ok}}}
  /a/b:
    get: {responses: {"200": {description: ok}}}
"#,
    )
    .unwrap_err();
    assert!(codes(&diags).contains(&"E1010".to_owned()), "{diags:#?}");
}

const FOREIGN_PATTERNS: &str = r#"
openapi: 3.1.0
info: {title: t, version: "1"}
x-barbacane-dispatch: {name: mock}
paths:
  /p:
    get:
      parameters:
        - {name: java, in: query, schema: {type: string, pattern: '^(\p{LD}|\p{Punct}| )+$'}}
        - {name: email, in: query, schema: {type: string, pattern: '^[\w-.+]+@[\w-.+]+$'}}
        - {name: ctl, in: query, schema: {type: string, pattern: '[^/:|\000-\037]+'}}
        - {name: broken, in: query, schema: {type: string, pattern: '(unclosed'}}
      responses: {"200": {description: ok}}
"#;

#[test]
fn foreign_regex_dialects_are_translated_and_enforced() {
    let ok = FOREIGN_PATTERNS.replace("(unclosed", "^[a-z]+$");
    let out = build(&ok).unwrap();
    let v = validator(&out, "/p");
    assert!(query_ok(&v, "java=abc%21%20d9"));
    assert!(!query_ok(&v, "java=abc%7F"));
    assert!(query_ok(&v, "email=a-b.c%2Bd%40x-y.z"));
    assert!(!query_ok(&v, "email=a%20b%40x"));
    assert!(query_ok(&v, "ctl=abc"));
    assert!(!query_ok(&v, "ctl=%01%1F"));
}

#[test]
fn an_uncompilable_pattern_is_e1005_at_its_pointer_or_skipped_when_lenient() {
    let diags = build(FOREIGN_PATTERNS).unwrap_err();
    assert_eq!(codes(&diags), ["E1005"]);
    assert_eq!(
        diags[0].json_pointer,
        "/paths/~1p/get/parameters/3/schema/pattern"
    );
    let out = build_with(
        FOREIGN_PATTERNS,
        CompileOptions {
            lenient_patterns: true,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(codes(&out.warnings), ["W1003"]);
    assert_eq!(out.config.skipped_checks.len(), 1);
    assert_eq!(
        out.config.skipped_checks[0].pointer,
        "/paths/~1p/get/parameters/3/schema/pattern"
    );
    // The other checks still hold; the skipped one accepts anything.
    let v = validator(&out, "/p");
    assert!(query_ok(&v, "broken=%28%28"));
    assert!(!query_ok(&v, "ctl=%01%1F"));
    // The flag is an input of the fingerprint.
    let ok = FOREIGN_PATTERNS.replace("(unclosed", "^[a-z]+$");
    let strict = build(&ok).unwrap();
    let lenient = build_with(
        &ok,
        CompileOptions {
            lenient_patterns: true,
            ..Default::default()
        },
    )
    .unwrap();
    assert_ne!(strict.header.artifact_hash, lenient.header.artifact_hash);
}

#[test]
fn unenforced_security_is_an_error_unless_the_upstream_is_trusted() {
    let yaml = r#"
openapi: 3.0.0
info: {title: t, version: "1"}
x-barbacane-dispatch: {name: mock}
security: [{key: []}]
components:
  securitySchemes:
    key: {type: apiKey, in: header, name: X-Key}
paths:
  /a:
    get: {responses: {"200": {description: ok}}}
  /b:
    get: {responses: {"200": {description: ok}}}
  /public:
    get: {security: [], responses: {"200": {description: ok}}}
"#;
    let diags = build(yaml).unwrap_err();
    assert_eq!(codes(&diags), ["E1032", "E1032"]);
    let trusting = CompileOptions {
        allow_unenforced_security: true,
        ..Default::default()
    };
    let out = build_with(yaml, trusting).unwrap();
    assert_eq!(codes(&out.warnings), ["W1004"]);
    assert!(
        out.warnings[0].message.starts_with("2 operation(s)"),
        "{}",
        out.warnings[0]
    );
}

#[test]
fn additional_operations_need_32_and_a_routable_extension_method() {
    let yaml = |version: &str, extra: &str| {
        format!(
            r#"
openapi: {version}
info: {{title: t, version: "1"}}
x-barbacane-dispatch: {{name: mock}}
paths:
  /a:
    query: {{responses: {{"200": {{description: ok}}}}}}
    additionalOperations:
      {extra}: {{responses: {{"200": {{description: ok}}}}}}
"#
        )
    };
    let out = build(&yaml("3.2.0", "LINK")).unwrap();
    let methods: Vec<&str> = out
        .config
        .operations
        .iter()
        .map(|o| o.method.as_str())
        .collect();
    assert_eq!(methods, ["LINK", "QUERY"]);
    // 3.1 has neither `query` nor `additionalOperations`: both are ignored as unknown keys.
    let out = build(&yaml("3.1.0", "LINK")).unwrap();
    assert!(out.config.operations.is_empty());
    for bad in ["GET", "FROB"] {
        let diags = build(&yaml("3.2.0", bad)).unwrap_err();
        let d = diags
            .iter()
            .find(|d| d.code.to_string() == "E1006")
            .unwrap();
        assert_eq!(
            d.json_pointer,
            format!("/paths/~1a/additionalOperations/{bad}")
        );
    }
}

#[test]
fn item_schemas_check_each_record_of_a_json_lines_body() {
    let out = build(
        r#"
openapi: 3.2.0
info: {title: t, version: "1"}
x-barbacane-dispatch: {name: mock}
paths:
  /events:
    post:
      requestBody:
        content:
          application/jsonl:
            itemSchema: {type: object, required: [id], properties: {id: {type: integer}}}
          application/json-seq:
            itemSchema: {type: integer}
      responses: {"200": {description: ok}}
"#,
    )
    .unwrap();
    let v = validator(&out, "/events");
    assert!(v.needs_body());
    let jsonl = "application/jsonl";
    assert!(body_ok(&v, jsonl, b"{\"id\":1}\n{\"id\":2}\n"));
    assert!(body_ok(&v, jsonl, b"{\"id\":1}\r\n\r\n{\"id\":2}"));
    assert!(!body_ok(&v, jsonl, b"{\"id\":1}\n{\"id\":\"x\"}\n"));
    assert!(!body_ok(&v, jsonl, b"{\"id\":1}\n{oops\n"));
    assert!(body_ok(&v, "application/json-seq", b"\x1e1\n\x1e2\n"));
    assert!(!body_ok(
        &v,
        "application/json-seq",
        b"\x1e1\n\x1e\"two\"\n"
    ));
}

#[test]
fn a_broken_shared_schema_is_reported_once_at_its_pointer() {
    let diags = build(
        r#"
openapi: 3.0.0
info: {title: t, version: "1"}
x-barbacane-dispatch: {name: mock}
components:
  schemas:
    Name: {type: string, pattern: '[\p{Print}&&[^|]]+'}
    Plan: {type: object, properties: {name: {$ref: '#/components/schemas/Name'}}}
paths:
  /a:
    post:
      requestBody: {content: {application/json: {schema: {$ref: '#/components/schemas/Plan'}}}}
      responses: {"200": {description: ok}}
  /b:
    post:
      requestBody: {content: {application/json: {schema: {$ref: '#/components/schemas/Name'}}}}
      responses: {"200": {description: ok}}
"#,
    )
    .unwrap_err();
    assert_eq!(codes(&diags), ["E1005"], "{diags:#?}");
    assert_eq!(diags[0].json_pointer, "/components/schemas/Name/pattern");
}
