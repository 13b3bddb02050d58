//! Each compilation records its SBOM and its provenance attestation; both are served and
//! checked by tools nobody on the team wrote (CycloneDX's schema, securesystemslib,
//! in-toto-attestation), and the attestation verifies against the downloaded `.bca`.

use axum::body::Body;
use axum::http::{Method, StatusCode, header};
use serde_json::{Value, json};
use std::sync::Arc;

use crate::support::{AppOptions, Reply, TestApp, petstore, req};

async fn get_as(app: &TestApp, path: &str, bearer: Option<&str>) -> Reply {
    let mut r = req(Method::GET, path);
    if let Some(token) = bearer {
        r = r.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    app.send(r.body(Body::empty()).unwrap()).await
}

async fn built(app: &TestApp, project_name: &str) -> (String, String) {
    let project = app.project(project_name).await;
    let spec = app.spec(&project, "petstore.yaml", &petstore()).await;
    let c = app.compile(&spec).await;
    assert_eq!(c["status"], "succeeded", "{c}");
    (project, c["artifact_id"].as_str().unwrap().to_owned())
}

fn write(dir: &std::path::Path, name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

#[tokio::test]
async fn every_build_has_a_valid_sbom_and_a_signed_attestation() {
    let key = barbacane_artifact::generate_key().unwrap();
    let public = barbacane_artifact::public_key_pem(&key.verifying_key()).unwrap();
    let app = TestApp::with(AppOptions {
        signing_key: Some(Arc::new(key.clone())),
        ..AppOptions::default()
    })
    .await;
    let (project, artifact) = built(&app, "shop").await;
    let dir = tempfile::tempdir().unwrap();
    let bca = app.get(&format!("/artifacts/{artifact}/download")).await;
    // The artifact itself is signed by the same key.
    let header = barbacane_artifact::read_header(&bca.body[..]).unwrap();
    assert!(matches!(
        barbacane_artifact::verify_header(&header, &[key.verifying_key()]),
        barbacane_artifact::SignatureStatus::Verified { .. }
    ));
    let bca_path = write(dir.path(), &format!("{artifact}.bca"), &bca.body);
    let key_path = write(dir.path(), "cp.pub", public.as_bytes());

    let sbom = app.get(&format!("/artifacts/{artifact}/sbom")).await;
    assert_eq!(sbom.status, StatusCode::OK);
    assert_eq!(
        sbom.header("content-type"),
        Some("application/vnd.cyclonedx+json")
    );
    let sbom_path = write(dir.path(), "sbom.json", &sbom.body);
    let (ok, said) =
        barbacane_test::evidence::evidence_check(&[std::path::Path::new("sbom"), &sbom_path]);
    assert!(ok, "{said}");
    // What the CLI derives from the downloaded file is the same document.
    let derived =
        barbacane_evidence::sbom::sbom_of_bytes(&bca.body, &format!("{artifact}.bca")).unwrap();
    assert_eq!(sbom.json(), derived);

    let att = app.get(&format!("/artifacts/{artifact}/attestation")).await;
    assert_eq!(att.status, StatusCode::OK);
    assert_eq!(
        att.header("content-type"),
        Some("application/vnd.dsse.envelope.v1+json")
    );
    let att_path = write(dir.path(), "att.json", &att.body);
    let (ok, said) = barbacane_test::evidence::evidence_check(&[
        std::path::Path::new("attestation"),
        &att_path,
        &key_path,
        &bca_path,
    ]);
    assert!(ok, "{said}");
    assert!(
        said.contains("builder urn:barbacane:builder:control-plane"),
        "{said}"
    );
    let verified = barbacane_evidence::attestation::verify(
        &att.body,
        &bca.body,
        &header,
        &[key.verifying_key()],
    )
    .unwrap();
    assert_eq!(verified.dependencies, header.inputs.len());
    // The external parameters name the project and the compilation.
    let envelope: Value = att.json();
    use base64::Engine;
    let statement: Value = serde_json::from_slice(
        &base64::engine::general_purpose::STANDARD
            .decode(envelope["payload"].as_str().unwrap())
            .unwrap(),
    )
    .unwrap();
    let external = &statement["predicate"]["buildDefinition"]["externalParameters"];
    assert_eq!(external["project_id"], project.as_str());
    assert_eq!(external["spec_revisions"][0]["revision"], 1);

    // An API key of the project with artifact:read may read both; another project's may not.
    let key_of = |p: String| {
        let app = &app;
        async move {
            app.post_json(&format!("/projects/{p}/api-keys"), json!({"name": "n"}))
                .await
                .json()["key"]
                .as_str()
                .unwrap()
                .to_owned()
        }
    };
    let own = key_of(project.clone()).await;
    let (other_project, _) = built(&app, "other").await;
    let foreign = key_of(other_project).await;
    app.state
        .set_tokens(barbacane_posture::Tokens::from_values(["admin-token"]));
    for doc in ["sbom", "attestation"] {
        let path = format!("/artifacts/{artifact}/{doc}");
        assert_eq!(get_as(&app, &path, Some(&own)).await.status, StatusCode::OK);
        get_as(&app, &path, Some(&foreign))
            .await
            .assert_problem(404, "not-found");
        get_as(&app, &path, None)
            .await
            .assert_problem(401, "unauthorized");
    }
}

#[tokio::test]
async fn without_a_key_the_envelope_is_unsigned_and_old_artifacts_still_have_an_sbom() {
    let app = TestApp::new().await;
    let (_, artifact) = built(&app, "shop").await;
    let bca = app.get(&format!("/artifacts/{artifact}/download")).await;
    let header = barbacane_artifact::read_header(&bca.body[..]).unwrap();
    assert!(header.signature.is_none());
    let att = app.get(&format!("/artifacts/{artifact}/attestation")).await;
    assert_eq!(att.json()["signatures"], json!([]));
    let other = barbacane_artifact::generate_key().unwrap();
    let err = barbacane_evidence::attestation::verify(
        &att.body,
        &bca.body,
        &header,
        &[other.verifying_key()],
    )
    .unwrap_err();
    assert_eq!(
        err.failure,
        barbacane_evidence::attestation::Failure::Untrusted
    );

    // An artifact recorded before evidence existed: the SBOM is derived, identically; the
    // attestation is a 404 that says why.
    let recorded = app.get(&format!("/artifacts/{artifact}/sbom")).await.body;
    sqlx::query("UPDATE artifacts SET sbom = NULL, attestation = NULL")
        .execute(&app.pool)
        .await
        .unwrap();
    assert_eq!(
        app.get(&format!("/artifacts/{artifact}/sbom")).await.body,
        recorded
    );
    app.get(&format!("/artifacts/{artifact}/attestation"))
        .await
        .assert_problem(404, "no-attestation");
    app.get("/artifacts/00000000-0000-0000-0000-000000000000/sbom")
        .await
        .assert_problem(404, "not-found");
}
