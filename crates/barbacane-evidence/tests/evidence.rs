//! The evidence documents of a hand-built artifact: SBOM contents, layout round trip and its
//! refusals, attestation checks and each of their failures. (Validation by independent tools
//! is in `crates/barbacane/tests/it/evidence.rs`.)

use barbacane_artifact::{Artifact, ArtifactBuilder, Input, InputKind, fingerprint, generate_key};
use barbacane_evidence::attestation::{self, Build, Failure};
use barbacane_evidence::{oci, sbom, sha256_hex};
use serde_json::{Value, json};

const PLUGIN_TOML: &[u8] =
    b"name = \"auth\"\nversion = \"2.1.0\"\ntype = \"middleware\"\nwasm = \"auth.wasm\"\n";

const POLICY: &[u8] = b"package barbacane.authz\n\ndefault allow := false\n";

fn artifact(spec: &str) -> Vec<u8> {
    let mut b = ArtifactBuilder::default();
    let inputs = vec![
        Input::new(InputKind::Spec, "api.yaml", spec.as_bytes()),
        Input::new(InputKind::Reference, "schemas/pet.yaml", b"type: object"),
        Input::new(InputKind::Manifest, "barbacane.yaml", b"plugins: {}"),
        Input::new(InputKind::Plugin, "plugins/auth/auth.wasm", b"\0asm-auth"),
        Input::new(InputKind::Plugin, "plugins/auth/plugin.toml", PLUGIN_TOML),
        Input::new(InputKind::Option, "base-path", b"/v1"),
        Input::new(InputKind::Policy, "policies/authz.rego", POLICY),
    ];
    let (hash, inputs) = fingerprint(inputs).unwrap();
    b.artifact_hash = hash;
    b.inputs = inputs;
    b.build_timestamp = "2026-01-02T03:04:05Z".into();
    b.compiler_version = "9.9.9".into();
    b.provenance_commit = Some("abc123".into());
    b.provenance_source = Some("git+https://example.invalid/r".into());
    b.add_member("specs/api.yaml", spec.as_bytes().to_vec())
        .unwrap();
    b.add_member("plugins/auth.wasm", b"\0asm-auth".to_vec())
        .unwrap();
    b.add_member("plugins/auth.toml", PLUGIN_TOML.to_vec())
        .unwrap();
    b.add_member("specs/schemas/pet.yaml", b"type: object".to_vec())
        .unwrap();
    b.add_member("manifest/barbacane.yaml", b"plugins: {}".to_vec())
        .unwrap();
    b.add_member("policies/policies/authz.rego", POLICY.to_vec())
        .unwrap();
    b.add_json_member("config.json", &json!({"operations": []}))
        .unwrap();
    b.encode().unwrap()
}

fn component<'a>(bom: &'a Value, r: &str) -> &'a Value {
    bom["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["bom-ref"] == r)
        .unwrap_or_else(|| panic!("no component {r} in {bom:#}"))
}

#[test]
fn the_sbom_lists_every_input_and_plugin_deterministically() {
    let bytes = artifact("openapi: 3.1.0");
    let bom = sbom::sbom_of_bytes(&bytes, "api.bca").unwrap();
    assert_eq!(bom, sbom::sbom_of_bytes(&bytes, "api.bca").unwrap());
    let root = &bom["metadata"]["component"];
    assert_eq!(root["name"], "api.bca");
    assert_eq!(root["hashes"][0]["content"], sha256_hex(&bytes));
    let props: Vec<(&str, &str)> = root["properties"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["name"].as_str().unwrap(), p["value"].as_str().unwrap()))
        .collect();
    assert!(
        props.contains(&("barbacane:provenance_commit", "abc123")),
        "{props:?}"
    );
    assert!(
        props
            .iter()
            .any(|(k, _)| *k == "barbacane:option:base-path")
    );
    let plugin = component(&bom, "plugin:auth");
    assert_eq!(
        (plugin["type"].as_str(), plugin["version"].as_str()),
        (Some("library"), Some("2.1.0"))
    );
    assert_eq!(plugin["hashes"][0]["content"], sha256_hex(b"\0asm-auth"));
    assert_eq!(component(&bom, "spec:api.yaml")["type"], "data");
    assert_eq!(component(&bom, "manifest:barbacane.yaml")["type"], "data");
    let policy = component(&bom, "policy:policies/authz.rego");
    assert_eq!(policy["hashes"][0]["content"], sha256_hex(POLICY));
    let deps = bom["dependencies"].as_array().unwrap();
    let of = |r: &str| deps.iter().find(|d| d["ref"] == r).unwrap()["dependsOn"].clone();
    assert_eq!(of("spec:api.yaml"), json!(["reference:schemas/pet.yaml"]));
    let root_deps = of(root["bom-ref"].as_str().unwrap());
    assert!(
        root_deps
            .as_array()
            .unwrap()
            .contains(&json!("plugin:auth"))
    );
    assert!(
        root_deps
            .as_array()
            .unwrap()
            .contains(&json!("policy:policies/authz.rego"))
    );
    assert_eq!(
        bom["metadata"]["tools"]["components"][0]["version"],
        "9.9.9"
    );
    // Another artifact, another serial number.
    let other = sbom::sbom_of_bytes(&artifact("openapi: 3.0.3"), "api.bca").unwrap();
    assert_ne!(other["serialNumber"], bom["serialNumber"]);
}

fn build<'a>(name: &'a str, sha: &'a str, header: &'a barbacane_artifact::Header) -> Build<'a> {
    Build {
        subject_name: name,
        subject_sha256: sha,
        header,
        external_parameters: json!({"specs": ["api.yaml"]}),
        builder_id: attestation::CLI_BUILDER,
        started_on: "2026-01-02T03:04:05Z",
        finished_on: "2026-01-02T03:04:05Z",
        invocation_id: None,
    }
}

#[test]
fn attestations_verify_and_each_check_fails_on_its_own() {
    let bytes = artifact("openapi: 3.1.0");
    let a = Artifact::from_bytes(&bytes).unwrap();
    let sha = sha256_hex(&bytes);
    let key = generate_key().unwrap();
    let trusted = [key.verifying_key()];
    let env = attestation::envelope(&build("api.bca", &sha, a.header()), Some(&key));
    let ok = attestation::verify(&env, &bytes, a.header(), &trusted).unwrap();
    assert_eq!(
        ok.dependencies, 7,
        "every input of the artifact, the policy included"
    );
    assert_eq!(ok.builder_id, attestation::CLI_BUILDER);

    let failure = |env: &[u8], file: &[u8], trusted: &[barbacane_artifact::PublicKey]| {
        let header = Artifact::from_bytes(file).unwrap().header().clone();
        attestation::verify(env, file, &header, trusted)
            .unwrap_err()
            .failure
    };
    // Wrong key, unsigned.
    let other = generate_key().unwrap();
    assert_eq!(
        failure(&env, &bytes, &[other.verifying_key()]),
        Failure::Untrusted
    );
    let unsigned = attestation::envelope(&build("api.bca", &sha, a.header()), None);
    assert_eq!(failure(&unsigned, &bytes, &trusted), Failure::Untrusted);
    // Tampered payload: one byte of the statement changed, signature kept.
    let mut e: Value = serde_json::from_slice(&env).unwrap();
    let payload = e["payload"].as_str().unwrap().to_owned();
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut stmt = b64.decode(payload).unwrap();
    let at = stmt.windows(7).position(|w| w == b"api.bca").unwrap();
    stmt[at] = b'x';
    e["payload"] = json!(b64.encode(&stmt));
    let tampered = serde_json::to_vec(&e).unwrap();
    assert_eq!(failure(&tampered, &bytes, &trusted), Failure::BadSignature);
    // Another artifact.
    let other_bytes = artifact("openapi: 3.0.3");
    assert_eq!(failure(&env, &other_bytes, &trusted), Failure::Subject);
    // A right subject whose dependencies do not match: attest this file with another header.
    let other_header = Artifact::from_bytes(&other_bytes).unwrap().header().clone();
    let lying = attestation::envelope(&build("api.bca", &sha, &other_header), Some(&key));
    let err = attestation::verify(&lying, &bytes, a.header(), &trusted).unwrap_err();
    assert_eq!(err.failure, Failure::Dependencies);
    assert!(err.message.contains("spec api.yaml"), "{}", err.message);
    // Not an envelope.
    assert_eq!(failure(b"{\"x\":1}", &bytes, &trusted), Failure::Malformed);
}

#[test]
fn a_layout_round_trips_and_refuses_what_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = artifact("openapi: 3.1.0");
    let a = Artifact::from_bytes(&bytes).unwrap();
    let bom = serde_json::to_vec(&sbom::sbom(&a, "api.bca", &sha256_hex(&bytes))).unwrap();
    let write = |tag: &str, bytes: &[u8]| {
        let header = Artifact::from_bytes(bytes).unwrap().header().clone();
        oci::write_layout(
            dir.path(),
            &oci::LayoutContents {
                artifact: bytes,
                header: &header,
                sbom: &bom,
                attestation: None,
                tag,
            },
        )
        .unwrap()
    };
    write("v1", &bytes);
    assert_eq!(oci::read_layout(dir.path(), None).unwrap(), bytes);
    let second = artifact("openapi: 3.0.3");
    write("v2", &second);
    assert_eq!(oci::read_layout(dir.path(), Some("v2")).unwrap(), second);
    assert_eq!(oci::read_layout(dir.path(), Some("v1")).unwrap(), bytes);
    let err = oci::read_layout(dir.path(), None).unwrap_err().to_string();
    assert!(err.contains("tags: v1, v2"), "{err}");
    let err = oci::read_layout(dir.path(), Some("v3"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("no manifest tagged `v3`"), "{err}");
    // Re-tagging replaces, never duplicates.
    write("v1", &second);
    let index: Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("index.json")).unwrap()).unwrap();
    assert_eq!(index["manifests"].as_array().unwrap().len(), 2);
    assert_eq!(oci::read_layout(dir.path(), Some("v1")).unwrap(), second);

    // A corrupted blob is refused.
    let blob = dir.path().join("blobs/sha256").join(sha256_hex(&second));
    let mut corrupt = second.clone();
    corrupt[10] ^= 1;
    std::fs::write(&blob, &corrupt).unwrap();
    let err = oci::read_layout(dir.path(), Some("v2"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("do not match its digest"), "{err}");
    // A digest that would leave blobs/ is refused before any file is opened.
    let mut index = index;
    index["manifests"][0]["digest"] = json!("sha256:../../../etc/passwd");
    std::fs::write(dir.path().join("index.json"), index.to_string()).unwrap();
    let err = oci::read_layout(dir.path(), Some("v2"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("is not a sha256 digest"), "{err}");
    // Not a layout at all.
    let empty = tempfile::tempdir().unwrap();
    assert!(oci::read_layout(empty.path(), None).is_err());
}
