//! `barbacane compile`: writes a verifiable artifact, or nothing on error.

use barbacane_artifact::{Artifact, CONFIG_MEMBER, CompiledConfig, MAGIC};

use crate::support::{barbacane, compile_in, fixture, petstore, root, run, run_args};

#[test]
fn compiles_the_petstore_example() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out_path = dir.path().join("petstore.bca");
    let out = compile_in(&root(), &["examples/petstore/api.yaml"], &out_path, &[]);
    assert!(
        out.stderr
            // The spec, plus the official `mock` plugin it uses (manifest, module, schema).
            .contains("compiled 5 operation(s) from 4 input(s)"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("artifact_hash: sha256:"),
        "{}",
        out.stderr
    );

    let bytes = std::fs::read(&out_path).expect("artifact written");
    assert_eq!(bytes[..8], MAGIC);
    let artifact = Artifact::from_bytes(&bytes).expect("artifact verifies");
    let config: CompiledConfig = artifact.member_json(CONFIG_MEMBER).expect("config member");
    let routes: Vec<(String, String)> = config
        .operations
        .iter()
        .map(|o| (o.method.clone(), o.path.clone()))
        .collect();
    assert!(
        routes.contains(&("GET".into(), "/pets".into())),
        "{routes:?}"
    );
    assert!(
        routes.contains(&("DELETE".into(), "/pets/{petId}".into())),
        "{routes:?}"
    );
    assert_eq!(routes.len(), 5, "{routes:?}");
    assert_eq!(
        artifact.member("specs/api.yaml"),
        Some(std::fs::read(petstore()).expect("spec").as_slice())
    );

    // The stderr summary hash is the header's.
    let hash = &artifact.header().artifact_hash;
    assert!(out.stderr.contains(hash.as_str()), "{}", out.stderr);

    // Nothing but the artifact is left behind (the temporary file was renamed).
    let entries: Vec<_> = std::fs::read_dir(dir.path()).expect("list").collect();
    assert_eq!(entries.len(), 1, "{entries:?}");
}

#[test]
fn compiles_specs_with_external_refs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out_path = dir.path().join("refs.bca");
    compile_in(&root(), &[fixture("valid/refs/api.yaml")], &out_path, &[]);
    let artifact =
        Artifact::from_bytes(&std::fs::read(&out_path).expect("read")).expect("verifies");
    let names: Vec<&str> = artifact.member_names().collect();
    for expected in [
        "config.json",
        "specs/api.yaml",
        "specs/paths/thing.yaml",
        "specs/schemas/thing.yaml",
    ] {
        assert!(names.contains(&expected), "{names:?}");
    }
    let kinds: Vec<(String, String)> = artifact
        .header()
        .inputs
        .iter()
        .map(|i| (i.kind.to_string(), i.name.clone()))
        .collect();
    assert!(
        kinds.contains(&("spec".into(), "api.yaml".into())),
        "{kinds:?}"
    );
    assert!(
        kinds.contains(&("reference".into(), "schemas/thing.yaml".into())),
        "{kinds:?}"
    );
}

#[test]
fn an_invalid_spec_writes_nothing_and_exits_1() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out_path = dir.path().join("bad.bca");
    let out = run(barbacane()
        .current_dir(root())
        .args([
            "compile",
            "--spec",
            "tests/fixtures/invalid/e1011_no_dispatch.yaml",
            "-o",
        ])
        .arg(&out_path));
    out.assert_code(1);
    assert!(out.stderr.contains("error[E1011]"), "{}", out.stderr);
    assert_eq!(
        std::fs::read_dir(dir.path()).expect("list").count(),
        0,
        "something was written"
    );
}

#[test]
fn a_failed_compile_keeps_the_previous_artifact() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out_path = dir.path().join("api.bca");
    compile_in(&root(), &[fixture("valid/minimal.yaml")], &out_path, &[]);
    let before = std::fs::read(&out_path).expect("read");
    let out = run(barbacane()
        .current_dir(root())
        .args([
            "compile",
            "--spec",
            "tests/fixtures/invalid/e1004_ref.yaml",
            "--output",
        ])
        .arg(&out_path));
    out.assert_code(1);
    assert_eq!(std::fs::read(&out_path).expect("read"), before);
}

#[test]
fn an_unwritable_output_exits_1() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out_path = dir.path().join("no/such/dir/api.bca");
    let out = run(barbacane()
        .args(["compile", "--spec"])
        .arg(fixture("valid/minimal.yaml"))
        .arg("--output")
        .arg(&out_path));
    out.assert_code(1);
    assert!(out.stderr.contains("cannot write"), "{}", out.stderr);
}

#[test]
fn a_bad_source_date_epoch_is_a_usage_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = run(barbacane()
        .env("SOURCE_DATE_EPOCH", "yesterday")
        .args(["compile", "--spec"])
        .arg(fixture("valid/minimal.yaml"))
        .arg("--output")
        .arg(dir.path().join("api.bca")));
    out.assert_code(10);
    assert!(out.stderr.contains("SOURCE_DATE_EPOCH"), "{}", out.stderr);
    assert!(!dir.path().join("api.bca").exists());
}

#[test]
fn a_malformed_provenance_pair_exits_2() {
    let out = run_args(&[
        "compile",
        "--spec",
        "tests/fixtures/valid/minimal.yaml",
        "-o",
        "/nonexistent/never-written.bca",
        "--provenance",
        "no-equals-sign",
    ]);
    out.assert_code(2);
    assert!(out.stderr.contains("is not KEY=VALUE"), "{}", out.stderr);
}

#[test]
fn compile_without_output_or_spec_exits_2() {
    let out = run_args(&["compile", "--spec", "tests/fixtures/valid/minimal.yaml"]);
    out.assert_code(2);
    assert!(out.stderr.contains("--output"), "{}", out.stderr);
    let out = run_args(&["compile", "--output", "/nonexistent/x.bca"]);
    out.assert_code(2);
    assert!(out.stderr.contains("--spec"), "{}", out.stderr);
}
