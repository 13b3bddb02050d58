//! Specs: upload, validation, revisions with If-Match, multipart with `$ref` files, history.

use axum::body::Body;
use axum::http::{Method, StatusCode, header};

use crate::support::{AppOptions, TestApp, mini_spec, petstore, req};

#[tokio::test]
async fn upload_yaml_and_json_then_show() {
    let app = TestApp::new().await;
    let project = app.project("p").await;
    let r = app.upload_yaml(&project, "api.yaml", &petstore()).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let body = r.json();
    assert_eq!(body["revision"], 1);
    assert_eq!(r.header("etag"), Some("\"1\""));
    let id = body["id"].as_str().unwrap();

    let shown = app.get(&format!("/specs/{id}")).await;
    assert_eq!(shown.status, StatusCode::OK);
    assert_eq!(shown.header("etag"), Some("\"1\""));
    let spec = shown.json();
    assert_eq!(spec["name"], "api.yaml");
    assert_eq!(spec["content"], petstore());
    assert_eq!(spec["files"].as_array().unwrap().len(), 1);

    let json_spec = serde_json::json!({
        "openapi": "3.1.0",
        "info": {"title": "j", "version": "1"},
        "paths": {"/j": {"get": {
            "x-barbacane-dispatch": {"name": "mock", "config": {"status": 200}},
            "responses": {"200": {"description": "ok"}}
        }}}
    });
    let r = app
        .send(
            req(
                Method::POST,
                &format!("/projects/{project}/specs?name=j.json"),
            )
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(json_spec.to_string()))
            .unwrap(),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());

    let list = app
        .get(&format!("/specs?project_id={project}"))
        .await
        .json();
    assert_eq!(list.as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn invalid_specs_get_every_diagnostic() {
    let app = TestApp::new().await;
    let project = app.project("p").await;
    // Invalid YAML.
    let r = app
        .upload_yaml(&project, "bad.yaml", "a: [1,\n  b: c\n")
        .await;
    let problem = r.assert_problem(422, "invalid-spec");
    assert_eq!(problem["errors"][0]["code"], "E1003");
    assert!(problem["errors"][0]["line_column"].is_array());
    // Two problems at once: both are listed.
    let two = "openapi: 3.1.0\ninfo: {title: t, version: '1'}\npaths:\n  /a:\n    get:\n      responses: {'200': {description: ok}}\n  /b:\n    get:\n      x-barbacane-dispatch: {name: teleport, config: {}}\n      responses: {'200': {description: ok}}\n";
    let problem = app
        .upload_yaml(&project, "two.yaml", two)
        .await
        .assert_problem(422, "invalid-spec");
    let codes: Vec<&str> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["code"].as_str().unwrap())
        .collect();
    assert!(
        codes.contains(&"E1011") && codes.contains(&"E1012"),
        "{codes:?}"
    );
    assert_eq!(problem["errors"][0]["file"], "two.yaml");
    // Nothing was stored.
    let list = app.get("/specs").await.json();
    assert!(list.as_array().unwrap().is_empty());
}

#[tokio::test]
async fn upload_errors() {
    let app = TestApp::with(AppOptions {
        max_upload_bytes: 4096,
        ..Default::default()
    })
    .await;
    let project = app.project("p").await;
    // Too large.
    let big = format!("{}\n# {}\n", mini_spec("/a", "x"), "x".repeat(8192));
    app.upload_yaml(&project, "big.yaml", &big)
        .await
        .assert_problem(413, "payload-too-large");
    // Too large, as multipart.
    let padding = "x".repeat(8192);
    let (ct, body) = multipart(&[("spec", "big.yaml", padding.as_str())]);
    let r = app
        .send(
            req(Method::POST, &format!("/projects/{project}/specs"))
                .header(header::CONTENT_TYPE, ct)
                .body(Body::from(body))
                .unwrap(),
        )
        .await;
    r.assert_problem(413, "payload-too-large");
    // No name.
    let r = app
        .send(
            req(Method::POST, &format!("/projects/{project}/specs"))
                .header(header::CONTENT_TYPE, "application/yaml")
                .body(Body::from(mini_spec("/a", "x")))
                .unwrap(),
        )
        .await;
    r.assert_problem(400, "invalid-request");
    // Bad name.
    app.upload_yaml(&project, "../up.yaml", &mini_spec("/a", "x"))
        .await
        .assert_problem(400, "invalid-request");
    // Unsupported type.
    let r = app
        .send(
            req(
                Method::POST,
                &format!("/projects/{project}/specs?name=a.yaml"),
            )
            .header(header::CONTENT_TYPE, "text/plain")
            .body(Body::from(mini_spec("/a", "x")))
            .unwrap(),
        )
        .await;
    r.assert_problem(415, "unsupported-media-type");
    // Unknown project.
    app.upload_yaml(
        &uuid::Uuid::new_v4().to_string(),
        "a.yaml",
        &mini_spec("/a", "x"),
    )
    .await
    .assert_problem(404, "not-found");
    // Duplicate name.
    app.spec(&project, "a.yaml", &mini_spec("/a", "x")).await;
    app.upload_yaml(&project, "a.yaml", &mini_spec("/a", "y"))
        .await
        .assert_problem(409, "already-exists");
}

fn put(id: &str, if_match: Option<&str>, text: &str) -> axum::http::Request<Body> {
    let mut b =
        req(Method::PUT, &format!("/specs/{id}")).header(header::CONTENT_TYPE, "application/yaml");
    if let Some(tag) = if_match {
        b = b.header(header::IF_MATCH, tag);
    }
    b.body(Body::from(text.to_owned())).unwrap()
}

#[tokio::test]
async fn revisions_need_the_current_etag() {
    let app = TestApp::new().await;
    let project = app.project("p").await;
    let id = app.spec(&project, "a.yaml", &mini_spec("/a", "one")).await;

    app.send(put(&id, None, &mini_spec("/a", "two")))
        .await
        .assert_problem(428, "precondition-required");
    let r = app
        .send(put(&id, Some("\"1\""), &mini_spec("/a", "two")))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["revision"], 2);
    assert_eq!(r.header("etag"), Some("\"2\""));
    // A second writer who read revision 1 loses, and learns the current ETag.
    let r = app
        .send(put(&id, Some("\"1\""), &mini_spec("/a", "three")))
        .await;
    r.assert_problem(412, "precondition-failed");
    assert_eq!(r.header("etag"), Some("\"2\""));
    // Weak tags never match.
    app.send(put(&id, Some("W/\"2\""), &mini_spec("/a", "three")))
        .await
        .assert_problem(412, "precondition-failed");
    // `*` overwrites whatever is current.
    let r = app
        .send(put(&id, Some("*"), &mini_spec("/a", "three")))
        .await;
    assert_eq!(r.json()["revision"], 3);
    // An invalid revision is refused and changes nothing.
    app.send(put(&id, Some("\"3\""), "openapi: [3.1.0\n"))
        .await
        .assert_problem(422, "invalid-spec");
    app.send(put(
        &uuid::Uuid::new_v4().to_string(),
        Some("\"1\""),
        &mini_spec("/a", "x"),
    ))
    .await
    .assert_problem(404, "not-found");

    let history = app.get(&format!("/specs/{id}/history")).await.json();
    let numbers: Vec<i64> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["revision"].as_i64().unwrap())
        .collect();
    assert_eq!(numbers, vec![3, 2, 1]);
    assert_eq!(history[0]["files"][0]["path"], "a.yaml");
    let old = app.get(&format!("/specs/{id}?revision=1")).await.json();
    assert!(old["content"].as_str().unwrap().contains("one"));
    assert_eq!(old["current_revision"], 3);
    app.get(&format!("/specs/{id}?revision=9"))
        .await
        .assert_problem(404, "not-found");
}

#[tokio::test]
async fn concurrent_revisions_lose_no_update() {
    let app = TestApp::new().await;
    let project = app.project("p").await;
    let id = app.spec(&project, "a.yaml", &mini_spec("/a", "v1")).await;
    let writers = (0..8).map(|n| {
        let request = put(&id, Some("\"1\""), &mini_spec("/a", &format!("w{n}")));
        let router = app.router.clone();
        tokio::spawn(async move {
            use tower::ServiceExt;
            router.oneshot(request).await.unwrap().status()
        })
    });
    let mut statuses = Vec::new();
    for w in writers {
        statuses.push(w.await.unwrap());
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == StatusCode::OK).count(),
        1,
        "{statuses:?}"
    );
    assert!(
        statuses
            .iter()
            .all(|s| *s == StatusCode::OK || *s == StatusCode::PRECONDITION_FAILED)
    );
    let history = app.get(&format!("/specs/{id}/history")).await.json();
    assert_eq!(history.as_array().unwrap().len(), 2);
}

const ROOT_WITH_REF: &str = "openapi: 3.1.0\ninfo: {title: r, version: '1'}\npaths:\n  /pets:\n    post:\n      requestBody:\n        content:\n          application/json:\n            schema: {$ref: 'schemas/pet.yaml#/Pet'}\n      x-barbacane-dispatch: {name: mock, config: {status: 201}}\n      responses: {'201': {description: ok}}\n";
const PET: &str =
    "Pet:\n  type: object\n  required: [name]\n  properties:\n    name: {type: string}\n";

pub fn multipart(parts: &[(&str, &str, &str)]) -> (String, Vec<u8>) {
    let boundary = "XbarbacaneX";
    let mut body = Vec::new();
    for (field, file, content) in parts {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"{file}\"\r\nContent-Type: application/octet-stream\r\n\r\n{content}\r\n"
            )
            .as_bytes(),
        );
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

#[tokio::test]
async fn multipart_upload_with_referenced_files() {
    let app = TestApp::new().await;
    let project = app.project("p").await;
    let send = |parts: Vec<(&'static str, &'static str, &'static str)>| {
        let (ct, body) = multipart(&parts);
        req(Method::POST, &format!("/projects/{project}/specs"))
            .header(header::CONTENT_TYPE, ct)
            .body(Body::from(body))
            .unwrap()
    };
    // The reference is missing: the compiler says so.
    let problem = app
        .send(send(vec![("spec", "api.yaml", ROOT_WITH_REF)]))
        .await
        .assert_problem(422, "invalid-spec");
    assert_eq!(problem["errors"][0]["code"], "E1004");
    // A file no $ref reaches is refused.
    app.send(send(vec![
        ("spec", "api.yaml", ROOT_WITH_REF),
        ("file", "schemas/pet.yaml", PET),
        ("file", "stray.yaml", "x: 1"),
    ]))
    .await
    .assert_problem(422, "invalid-spec");
    // Bad shapes.
    app.send(send(vec![("file", "schemas/pet.yaml", PET)]))
        .await
        .assert_problem(400, "invalid-request");
    app.send(send(vec![("other", "x.yaml", PET)]))
        .await
        .assert_problem(400, "invalid-request");
    // Complete.
    let r = app
        .send(send(vec![
            ("spec", "api.yaml", ROOT_WITH_REF),
            ("file", "schemas/pet.yaml", PET),
        ]))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let id = r.json()["id"].as_str().unwrap().to_owned();
    let spec = app.get(&format!("/specs/{id}")).await.json();
    let paths: Vec<&str> = spec["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths, vec!["api.yaml", "schemas/pet.yaml"]);
}

#[tokio::test]
async fn delete_spec() {
    let app = TestApp::new().await;
    let project = app.project("p").await;
    let id = app.spec(&project, "a.yaml", &mini_spec("/a", "x")).await;
    assert_eq!(
        app.delete(&format!("/specs/{id}")).await.status,
        StatusCode::NO_CONTENT
    );
    app.get(&format!("/specs/{id}"))
        .await
        .assert_problem(404, "not-found");
    app.get(&format!("/specs/{id}/history"))
        .await
        .assert_problem(404, "not-found");
    app.delete(&format!("/specs/{id}"))
        .await
        .assert_problem(404, "not-found");
}
