//! Supply-chain evidence through the real binary, checked by tools nobody on the team wrote:
//! the SBOM against CycloneDX's official 1.6 schema (cyclonedx-python-lib), the attestation
//! with securesystemslib (DSSE) and the in-toto-attestation bindings, the OCI layout with
//! `skopeo inspect`; `verify --attestation` and its exit codes; `serve --artifact oci:...`.
//! The Python checkers come from `scripts/evidence-tools.sh` (run by `scripts/test.sh`).

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::{Launch, Out, Server, barbacane, compile_in, fixture, free_port, run};

const ARTIFACT_INVALID: i32 = 11;
const MALFORMED: i32 = 20;
const UNTRUSTED: i32 = 21;
const TAMPERED: i32 = 22;
const SUBJECT: i32 = 23;
const DEPENDENCIES: i32 = 24;

/// `scripts/evidence-check.py ARGS`, which must succeed; returns what it printed.
#[track_caller]
fn independent_check(args: &[&Path]) -> String {
    let (ok, said) = barbacane_test::evidence::evidence_check(args);
    assert!(ok, "{said}");
    said
}

/// Compiles the `$ref` fixture (a spec, two referenced files, the official mock plugin),
/// signed, with its attestation next to it.
fn signed_build(dir: &Path, stem: &str) -> (PathBuf, PathBuf) {
    if !dir.join("k.key").exists() {
        run(barbacane().arg("keygen").arg("--out").arg(dir.join("k"))).assert_code(0);
    }
    let out = dir.join(format!("{stem}.bca"));
    let att = dir.join(format!("{stem}.att.json"));
    let key = dir.join("k.key");
    compile_in(
        &fixture("valid/refs"),
        &["api.yaml"],
        &out,
        &[
            "--signing-key",
            key.to_str().unwrap(),
            "--attestation",
            att.to_str().unwrap(),
            "--provenance-commit",
            "c0ffee",
            "--provenance-source",
            "git+https://example.invalid/r",
        ],
    );
    (out, att)
}

fn verify(artifact: &Path, attestation: &Path, key: &Path) -> Out {
    run(barbacane()
        .arg("verify")
        .arg(artifact)
        .arg("--trusted-key")
        .arg(key)
        .arg("--attestation")
        .arg(attestation))
}

#[test]
fn the_sbom_is_valid_cyclonedx_and_deterministic() {
    let dir = tempfile::tempdir().unwrap();
    let (artifact, _) = signed_build(dir.path(), "api");
    let bom = dir.path().join("api.cdx.json");
    run(barbacane().arg("sbom").arg(&artifact).arg("-o").arg(&bom)).assert_code(0);
    let said = independent_check(&[Path::new("sbom"), &bom]);
    assert!(
        said.contains("valid CycloneDX 1.6 (4 components)"),
        "{said}"
    );
    // Standard output, byte for byte the same document.
    let stdout = run(barbacane().arg("sbom").arg(&artifact));
    stdout.assert_code(0);
    assert_eq!(stdout.stdout, std::fs::read_to_string(&bom).unwrap());
    let doc: serde_json::Value = serde_json::from_str(&stdout.stdout).unwrap();
    let names: Vec<&str> = doc["components"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["api.yaml", "paths/thing.yaml", "schemas/thing.yaml", "mock"]
    );
    assert_eq!(doc["metadata"]["timestamp"], crate::support::EPOCH_RFC3339);
    // Not an artifact: exit 11.
    let bad = run(barbacane().arg("sbom").arg(&bom));
    bad.assert_code(ARTIFACT_INVALID);
}

#[test]
fn attestations_verify_independently_and_every_failure_has_its_code() {
    let dir = tempfile::tempdir().unwrap();
    let (artifact, att) = signed_build(dir.path(), "api");
    let key = dir.path().join("k.pub");
    let said = independent_check(&[Path::new("attestation"), &att, &key, &artifact]);
    assert!(said.contains("signature verified"), "{said}");
    let inputs = crate::support::inspect_json(&artifact)["inputs"]
        .as_array()
        .unwrap()
        .len();
    assert!(
        said.contains(&format!("{inputs} resolved dependencies")),
        "{said}"
    );
    let ok = verify(&artifact, &att, &key);
    ok.assert_code(0);
    assert!(ok.stdout.contains("attestation: verified"), "{}", ok.stdout);

    // SOURCE_DATE_EPOCH makes the attestation reproducible too.
    let (again, att_again) = signed_build(dir.path(), "again");
    assert_eq!(
        std::fs::read(&artifact).unwrap(),
        std::fs::read(&again).unwrap()
    );
    let statement = |p: &Path| {
        let env: serde_json::Value = serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap();
        use base64::Engine;
        let payload = base64::engine::general_purpose::STANDARD
            .decode(env["payload"].as_str().unwrap())
            .unwrap();
        serde_json::from_slice::<serde_json::Value>(&payload).unwrap()
    };
    let (s1, s2) = (statement(&att), statement(&att_again));
    assert_eq!(s1["predicate"], s2["predicate"]);
    assert_eq!(
        s1["predicate"]["runDetails"]["metadata"]["startedOn"],
        crate::support::EPOCH_RFC3339
    );

    // A wrong key.
    run(barbacane()
        .arg("keygen")
        .arg("--out")
        .arg(dir.path().join("other")))
    .assert_code(0);
    let other = dir.path().join("other.pub");
    let wrong = verify(&artifact, &att, &other);
    // The artifact's own signature is checked first, by the same key: 16.
    wrong.assert_code(16);

    // A tampered attestation: the subject's name changed, the signature kept.
    let tampered = dir.path().join("tampered.json");
    let mut env: serde_json::Value = serde_json::from_slice(&std::fs::read(&att).unwrap()).unwrap();
    let mut stmt = s1.clone();
    stmt["subject"][0]["name"] = "evil.bca".into();
    use base64::Engine;
    env["payload"] = base64::engine::general_purpose::STANDARD
        .encode(serde_json::to_vec(&stmt).unwrap())
        .into();
    std::fs::write(&tampered, env.to_string()).unwrap();
    let out = verify(&artifact, &tampered, &key);
    out.assert_code(TAMPERED);
    assert!(
        out.stdout.contains("FAIL attestation signature"),
        "{}",
        out.stdout
    );
    let (ok, said) = barbacane_test::evidence::evidence_check(&[
        Path::new("attestation"),
        &tampered,
        &key,
        &artifact,
    ]);
    assert!(!ok && said.contains("VerificationError"), "{said}");

    // Signed by another key than the trusted one (artifact signed by the trusted key).
    let resigned = dir.path().join("resigned.json");
    let other_key = barbacane_artifact::parse_private_key(
        &std::fs::read_to_string(dir.path().join("other.key")).unwrap(),
    )
    .unwrap();
    let sealed = barbacane_evidence::dsse::seal(
        &serde_json::to_vec(&s1).unwrap(),
        barbacane_evidence::dsse::IN_TOTO_PAYLOAD_TYPE,
        Some(&other_key),
    );
    std::fs::write(&resigned, serde_json::to_vec(&sealed).unwrap()).unwrap();
    verify(&artifact, &resigned, &key).assert_code(UNTRUSTED);

    // The attestation of another artifact.
    let other_dir = tempfile::tempdir().unwrap();
    std::fs::copy(dir.path().join("k.key"), other_dir.path().join("k.key")).unwrap();
    let spec = crate::support::one_route_spec(other_dir.path(), "o.yaml", "/o", "{}");
    let other_artifact = other_dir.path().join("o.bca");
    compile_in(
        other_dir.path(),
        &[spec],
        &other_artifact,
        &[
            "--signing-key",
            other_dir.path().join("k.key").to_str().unwrap(),
        ],
    );
    let out = verify(&other_artifact, &att, &key);
    out.assert_code(SUBJECT);
    assert!(
        out.stdout.contains("FAIL attestation subject"),
        "{}",
        out.stdout
    );

    // Right subject, wrong dependency list, validly signed by the trusted key.
    let mut lying = s1.clone();
    lying["predicate"]["buildDefinition"]["resolvedDependencies"]
        .as_array_mut()
        .unwrap()
        .pop();
    let key_pair = barbacane_artifact::parse_private_key(
        &std::fs::read_to_string(dir.path().join("k.key")).unwrap(),
    )
    .unwrap();
    let sealed = barbacane_evidence::dsse::seal(
        &serde_json::to_vec(&lying).unwrap(),
        barbacane_evidence::dsse::IN_TOTO_PAYLOAD_TYPE,
        Some(&key_pair),
    );
    let lying_path = dir.path().join("lying.json");
    std::fs::write(&lying_path, serde_json::to_vec(&sealed).unwrap()).unwrap();
    let out = verify(&artifact, &lying_path, &key);
    out.assert_code(DEPENDENCIES);
    assert!(
        out.stdout.contains("not attested [plugin official/mock"),
        "{}",
        out.stdout
    );

    // Not an attestation at all.
    verify(&artifact, &key, &key).assert_code(MALFORMED);
    // --attestation without a key to check it against is a usage error.
    let usage = run(barbacane()
        .arg("verify")
        .arg(&artifact)
        .arg("--attestation")
        .arg(&att));
    usage.assert_code(2);
    // compile --attestation needs --signing-key.
    let usage = run(barbacane()
        .arg("compile")
        .arg("--spec")
        .arg(fixture("valid/minimal.yaml"))
        .arg("-o")
        .arg(dir.path().join("x.bca"))
        .arg("--attestation")
        .arg(dir.path().join("x.json")));
    usage.assert_code(2);
}

#[test]
fn an_oci_layout_is_inspected_by_skopeo_and_served() {
    let dir = tempfile::tempdir().unwrap();
    let (artifact, att) = signed_build(dir.path(), "api");
    let layout = dir.path().join("layout");
    run(barbacane()
        .arg("oci-layout")
        .arg(&artifact)
        .arg("-o")
        .arg(&layout)
        .arg("--tag")
        .arg("v1")
        .arg("--attestation")
        .arg(&att))
    .assert_code(0);

    let inspect = Command::new("skopeo")
        .arg("inspect")
        .arg(format!("oci:{}", layout.display()))
        .output()
        .expect("skopeo (Debian package skopeo; .ci/run installs it)");
    let stdout = String::from_utf8_lossy(&inspect.stdout);
    assert!(
        inspect.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&inspect.stderr)
    );
    let inspected: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let header = crate::support::inspect_json(&artifact);
    assert_eq!(
        inspected["Labels"]["dev.barbacane.artifact.hash"],
        header["artifact_hash"]
    );
    assert_eq!(
        inspected["Labels"]["org.opencontainers.image.revision"],
        "c0ffee"
    );
    assert_eq!(inspected["Layers"].as_array().unwrap().len(), 3);
    // The labels `oci-labels` prints are the image's.
    let labels = run(barbacane()
        .arg("oci-labels")
        .arg(&artifact)
        .arg("--format")
        .arg("json"));
    labels.assert_code(0);
    let labels: serde_json::Value = serde_json::from_str(&labels.stdout).unwrap();
    assert_eq!(labels, inspected["Labels"]);
    let args = run(barbacane().arg("oci-labels").arg(&artifact));
    assert!(
        args.stdout
            .lines()
            .any(|l| l == "--label=org.opencontainers.image.revision=c0ffee"),
        "{}",
        args.stdout
    );

    // skopeo copies it (what a push does), digests checked on the way; the copy serves.
    let copy = dir.path().join("copy");
    let copied = Command::new("skopeo")
        .arg("copy")
        .arg(format!("oci:{}:v1", layout.display()))
        .arg(format!("oci:{}:v1", copy.display()))
        .output()
        .unwrap();
    assert!(
        copied.status.success(),
        "{}",
        String::from_utf8_lossy(&copied.stderr)
    );
    let reference = format!("oci:{}:v1", copy.display());
    let server = Server::start_with(
        dir.path(),
        &["serve", "--artifact", &reference],
        &Launch::default(),
    );
    let r = server.get("/things/1");
    assert_ne!(r.status, 404, "{r:?}");
    assert_eq!(
        server.provenance(None)["artifact_hash"],
        header["artifact_hash"]
    );
    // verify reads layouts too.
    verify(Path::new(&reference), &att, &dir.path().join("k.pub")).assert_code(0);

    // Malformed layouts: exit 11 with the reason.
    let fails = |reference: String| {
        run(barbacane()
            .arg("serve")
            .arg("--artifact")
            .arg(reference)
            .arg("--listen")
            .arg(format!("127.0.0.1:{}", free_port()))
            .arg("--admin-listen")
            .arg(format!("127.0.0.1:{}", free_port())))
    };
    let out = fails(format!("oci:{}:v2", layout.display()));
    out.assert_code(ARTIFACT_INVALID);
    assert!(
        out.stderr.contains("no manifest tagged `v2`"),
        "{}",
        out.stderr
    );
    let out = fails(format!("oci:{}", dir.path().display()));
    out.assert_code(ARTIFACT_INVALID);
    let blob = layout
        .join("blobs/sha256")
        .join(barbacane_evidence::sha256_hex(
            &std::fs::read(&artifact).unwrap(),
        ));
    let mut bytes = std::fs::read(&blob).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(&blob, bytes).unwrap();
    let out = fails(format!("oci:{}:v1", layout.display()));
    out.assert_code(ARTIFACT_INVALID);
    assert!(
        out.stderr.contains("do not match its digest"),
        "{}",
        out.stderr
    );

    // An attestation of another file is refused by oci-layout.
    let (_, other_att) = {
        let d2 = tempfile::tempdir().unwrap();
        std::fs::copy(dir.path().join("k.key"), d2.path().join("k.key")).unwrap();
        let spec = crate::support::one_route_spec(d2.path(), "o.yaml", "/o", "{}");
        let o = d2.path().join("o.bca");
        let a = dir.path().join("o.att.json");
        compile_in(
            d2.path(),
            &[spec],
            &o,
            &[
                "--signing-key",
                d2.path().join("k.key").to_str().unwrap(),
                "--attestation",
                a.to_str().unwrap(),
            ],
        );
        (o, a)
    };
    let out = run(barbacane()
        .arg("oci-layout")
        .arg(&artifact)
        .arg("-o")
        .arg(dir.path().join("l2"))
        .arg("--attestation")
        .arg(&other_att));
    out.assert_code(SUBJECT);
}
