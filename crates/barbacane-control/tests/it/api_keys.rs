//! `/projects/{id}/api-keys`: keys shown once, stored as hashes, scoped to one project, and
//! revocable; what a key may do on the routes machines use (artifact download).

use axum::body::Body;
use axum::http::{Method, StatusCode, header};
use serde_json::{Value, json};

use crate::support::{Reply, TestApp, mini_spec, req};

async fn create_key(app: &TestApp, project: &str, body: Value) -> Reply {
    app.post_json(&format!("/projects/{project}/api-keys"), body)
        .await
}

/// A compiled artifact of a new project; returns (project id, artifact id).
async fn project_with_artifact(app: &TestApp, name: &str) -> (String, String) {
    let project = app.project(name).await;
    let spec = app
        .spec(&project, "api.yaml", &mini_spec("/hello", "{}"))
        .await;
    let c = app.compile(&spec).await;
    assert_eq!(c["status"], "succeeded", "{c}");
    (project, c["artifact_id"].as_str().unwrap().to_owned())
}

async fn download(app: &TestApp, artifact: &str, bearer: Option<&str>) -> Reply {
    let mut r = req(Method::GET, &format!("/artifacts/{artifact}/download"));
    if let Some(token) = bearer {
        r = r.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    app.send(r.body(Body::empty()).unwrap()).await
}

#[tokio::test]
async fn a_key_is_shown_once_listed_without_its_secret_and_revoked() {
    let app = TestApp::new().await;
    let project = app.project("shop").await;
    let r = create_key(&app, &project, json!({"name": "edge nodes"})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    assert_eq!(r.header("cache-control"), Some("no-store"));
    let created = r.json();
    let key = created["key"].as_str().unwrap().to_owned();
    let hex = key.strip_prefix("bbk_").expect("bbk_ prefix");
    assert_eq!(hex.len(), 64);
    assert!(
        hex.bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    );
    assert_eq!(created["prefix"], key[..12]);
    assert_eq!(
        created["scopes"],
        json!(["data-plane:connect", "artifact:read"])
    );
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(
        r.header("location"),
        Some(format!("/projects/{project}/api-keys/{id}").as_str())
    );
    // A second key is a different secret.
    let other = create_key(&app, &project, json!({"name": "ci"}))
        .await
        .json();
    assert_ne!(other["key"], created["key"]);

    let list = app.get(&format!("/projects/{project}/api-keys")).await;
    assert_eq!(list.status, StatusCode::OK);
    let text = list.text();
    assert!(!text.contains(hex), "the secret is never listed: {text}");
    assert!(!text.contains("sha256"), "{text}");
    assert_eq!(list.json().as_array().unwrap().len(), 2);

    let path = format!("/projects/{project}/api-keys/{id}");
    assert_eq!(app.delete(&path).await.status, StatusCode::NO_CONTENT);
    assert_eq!(
        app.delete(&path).await.status,
        StatusCode::NO_CONTENT,
        "idempotent"
    );
    let listed = app
        .get(&format!("/projects/{project}/api-keys"))
        .await
        .json();
    let revoked = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["id"] == id.as_str())
        .unwrap();
    assert!(revoked["revoked_at"].is_string(), "{revoked}");

    let unknown = uuid::Uuid::new_v4();
    app.delete(&format!("/projects/{project}/api-keys/{unknown}"))
        .await
        .assert_problem(404, "not-found");
    // A key of another project is not found through this one.
    let elsewhere = app.project("elsewhere").await;
    app.delete(&format!("/projects/{elsewhere}/api-keys/{id}"))
        .await
        .assert_problem(404, "not-found");
    app.get(&format!("/projects/{unknown}/api-keys"))
        .await
        .assert_problem(404, "not-found");
    create_key(&app, &unknown.to_string(), json!({"name": "x"}))
        .await
        .assert_problem(404, "not-found");
}

#[tokio::test]
async fn bad_key_requests_are_problems() {
    let app = TestApp::new().await;
    let project = app.project("shop").await;
    for body in [
        json!({"name": ""}),
        json!({"name": "x", "scopes": []}),
        json!({"name": "x", "scopes": ["admin"]}),
        json!({"name": "x", "expires_at": "2001-01-01T00:00:00Z"}),
        json!({"name": "x", "expires_at": "tomorrow"}),
        json!({"name": "x", "colour": "red"}),
    ] {
        create_key(&app, &project, body.clone())
            .await
            .assert_problem(400, "invalid-request");
    }
    let r = create_key(
        &app,
        &project,
        json!({"name": "x", "scopes": ["artifact:read", "artifact:read"], "expires_at": "2999-01-01T00:00:00Z"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    assert_eq!(r.json()["scopes"], json!(["artifact:read"]));
    assert_eq!(r.json()["expires_at"], "2999-01-01T00:00:00Z");
}

#[tokio::test]
async fn a_key_downloads_its_own_projects_artifacts_and_nothing_else() {
    let app = TestApp::new().await;
    let (project, artifact) = project_with_artifact(&app, "shop").await;
    let (_, foreign) = project_with_artifact(&app, "other").await;
    let key = create_key(&app, &project, json!({"name": "node"}))
        .await
        .json()["key"]
        .as_str()
        .unwrap()
        .to_owned();
    let connect_only = create_key(
        &app,
        &project,
        json!({"name": "no-read", "scopes": ["data-plane:connect"]}),
    )
    .await
    .json()["key"]
        .as_str()
        .unwrap()
        .to_owned();
    // From now on the admin API needs its token.
    app.state
        .set_tokens(barbacane_posture::Tokens::from_values(["admin-token"]));

    let by_admin = download(&app, &artifact, Some("admin-token")).await;
    assert_eq!(by_admin.status, StatusCode::OK);
    let by_key = download(&app, &artifact, Some(&key)).await;
    assert_eq!(by_key.status, StatusCode::OK, "{}", by_key.text());
    assert_eq!(by_key.body, by_admin.body);

    download(&app, &foreign, Some(&key))
        .await
        .assert_problem(404, "not-found");
    download(&app, &artifact, None)
        .await
        .assert_problem(401, "unauthorized");
    download(&app, &artifact, Some("bbk_0000"))
        .await
        .assert_problem(401, "unauthorized");
    download(&app, &artifact, Some(&connect_only))
        .await
        .assert_problem(403, "insufficient-scope");
    // A key is not an admin token.
    let listing = req(Method::GET, "/projects")
        .header(header::AUTHORIZATION, format!("Bearer {key}"))
        .body(Body::empty())
        .unwrap();
    app.send(listing).await.assert_problem(401, "unauthorized");

    // Expired, then revoked: refused at once.
    sqlx::query("UPDATE api_keys SET expires_at = now() - interval '1 second' WHERE prefix = $1")
        .bind(&connect_only[..12])
        .execute(&app.pool)
        .await
        .unwrap();
    download(&app, &artifact, Some(&connect_only))
        .await
        .assert_problem(401, "unauthorized");
    let id: uuid::Uuid = sqlx::query_scalar("SELECT id FROM api_keys WHERE prefix = $1")
        .bind(&key[..12])
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let revoke = req(
        Method::DELETE,
        &format!("/projects/{project}/api-keys/{id}"),
    )
    .header(header::AUTHORIZATION, "Bearer admin-token")
    .body(Body::empty())
    .unwrap();
    assert_eq!(app.send(revoke).await.status, StatusCode::NO_CONTENT);
    download(&app, &artifact, Some(&key))
        .await
        .assert_problem(401, "unauthorized");
}
