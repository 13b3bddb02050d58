//! `barbacane inspect`: the header as JSON, and a text listing of routes and inputs.

use barbacane_artifact::{Artifact, Header};

use crate::support::{
    EPOCH_RFC3339, barbacane, compile_in, compile_petstore, fixture, inspect_json, petstore, root,
    run,
};

const PROVENANCE: [&str; 8] = [
    "--provenance-commit",
    "abc",
    "--provenance-source",
    "git+https://example.invalid/r",
    "--provenance",
    "team=core",
    "--provenance",
    "env=prod",
];

#[test]
fn json_has_exactly_the_documented_fields() {
    let dir = tempfile::tempdir().expect("tempdir");
    let artifact = compile_petstore(dir.path());
    let header = inspect_json(&artifact);
    let object = header.as_object().expect("an object");
    let mut keys: Vec<&str> = object.keys().map(String::as_str).collect();
    keys.sort_unstable();
    let mut expected = [
        "format_version",
        "artifact_hash",
        "build_timestamp",
        "compiler_version",
        "inputs",
        "provenance_commit",
        "provenance_source",
        "metadata",
        "members",
        "content_hash",
    ];
    expected.sort_unstable();
    assert_eq!(keys, expected);
    let content = header["content_hash"].as_str().expect("content_hash");
    assert!(
        content.starts_with("sha256:") && content.len() == 71,
        "{content}"
    );

    assert_eq!(header["format_version"], 1);
    assert_eq!(header["build_timestamp"], EPOCH_RFC3339);
    assert_eq!(header["compiler_version"], env!("CARGO_PKG_VERSION"));
    assert!(header["provenance_commit"].is_null());
    assert!(header["provenance_source"].is_null());
    assert_eq!(header["metadata"], serde_json::json!({}));
    let inputs = header["inputs"].as_array().expect("inputs");
    // The spec and the official `mock` plugin's three files.
    let mut names: Vec<&str> = inputs
        .iter()
        .map(|i| i["name"].as_str().unwrap_or(""))
        .collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "api.yaml",
            "official/mock/config-schema.json",
            "official/mock/mock.wasm",
            "official/mock/plugin.toml"
        ]
    );
    for input in inputs {
        let mut fields: Vec<&str> = input
            .as_object()
            .expect("object")
            .keys()
            .map(String::as_str)
            .collect();
        fields.sort_unstable();
        assert_eq!(fields, ["kind", "name", "sha256"]);
    }
    assert_eq!(inputs[0]["kind"], "spec");
    assert_eq!(inputs[0]["name"], "api.yaml");
    assert_eq!(inputs[0]["sha256"].as_str().map(str::len), Some(64));
    let members: Vec<&str> = header["members"]
        .as_array()
        .expect("members")
        .iter()
        .map(|m| m["name"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(
        members,
        [
            "config.json",
            "plugins/mock.schema.json",
            "plugins/mock.toml",
            "plugins/mock.wasm",
            "specs/api.yaml"
        ]
    );

    // The JSON is the header the artifact library reads.
    let parsed: Header = serde_json::from_value(header).expect("a Header");
    let from_lib =
        Artifact::from_bytes(&std::fs::read(&artifact).expect("read")).expect("verifies");
    assert_eq!(&parsed, from_lib.header());
}

#[test]
fn provenance_flags_are_recorded() {
    let dir = tempfile::tempdir().expect("tempdir");
    let plain = dir.path().join("plain.bca");
    let with = dir.path().join("with.bca");
    compile_in(&root(), &[petstore()], &plain, &[]);
    compile_in(&root(), &[petstore()], &with, &PROVENANCE);
    let header = inspect_json(&with);
    assert_eq!(header["provenance_commit"], "abc");
    assert_eq!(header["provenance_source"], "git+https://example.invalid/r");
    assert_eq!(
        header["metadata"],
        serde_json::json!({"env": "prod", "team": "core"})
    );
    // Provenance describes the build; it is not an input.
    assert_eq!(
        header["artifact_hash"],
        inspect_json(&plain)["artifact_hash"]
    );

    let text = run(barbacane().arg("inspect").arg(&with));
    text.assert_code(0);
    for needle in [
        "provenance_commit: abc",
        "git+https://example.invalid/r",
        "team=core",
        "env=prod",
    ] {
        assert!(
            text.stdout.contains(needle),
            "missing {needle:?}:\n{}",
            text.stdout
        );
    }
}

#[test]
fn text_lists_routes_inputs_and_members() {
    let dir = tempfile::tempdir().expect("tempdir");
    let artifact = compile_petstore(dir.path());
    let out = run(barbacane().arg("inspect").arg(&artifact));
    out.assert_code(0);
    let text = &out.stdout;
    let hash = inspect_json(&artifact)["artifact_hash"]
        .as_str()
        .unwrap_or("")
        .to_owned();
    assert!(
        text.contains(&format!("artifact_hash:     {hash}")),
        "{text}"
    );
    assert!(
        text.contains(&format!("build_timestamp:   {EPOCH_RFC3339}")),
        "{text}"
    );
    assert!(text.contains("inputs (4):"), "{text}");
    assert!(text.contains("routes (5):"), "{text}");
    // config.json, the spec, and the bundled mock plugin (module, manifest, schema).
    assert!(text.contains("members (5):"), "{text}");
    let route = |method: &str, path: &str| {
        text.lines().any(|l| {
            let words: Vec<&str> = l.split_whitespace().collect();
            words.len() >= 4
                && words[0] == method
                && words[1] == path
                && words[2] == "->"
                && words[3] == "mock"
        })
    };
    for (method, path) in [
        ("GET", "/pets"),
        ("POST", "/pets"),
        ("GET", "/pets/{petId}"),
        ("DELETE", "/pets/{petId}"),
        ("GET", "/pets/{petId}/photos/{name}.{ext}"),
    ] {
        assert!(
            route(method, path),
            "route {method} {path} not listed:\n{text}"
        );
    }
    let sha = inspect_json(&artifact)["inputs"]
        .as_array()
        .and_then(|i| i.iter().find(|i| i["name"] == "api.yaml"))
        .map(|i| i["sha256"].clone())
        .unwrap_or_default()
        .as_str()
        .unwrap_or("")
        .to_owned();
    assert!(
        text.lines()
            .any(|l| l.split_whitespace().eq(["spec", "api.yaml", sha.as_str()])),
        "input not listed:\n{text}"
    );
}

#[test]
fn text_shows_base_path_prefixed_routes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let artifact = dir.path().join("multi.bca");
    compile_in(
        &root(),
        &[
            fixture("valid/multi/users.yaml"),
            fixture("valid/multi/orders.yaml"),
        ],
        &artifact,
        &[],
    );
    let out = run(barbacane().arg("inspect").arg(&artifact));
    out.assert_code(0);
    assert!(
        out.stdout.contains("/users-api/users/{id}"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("/orders"), "{}", out.stdout);

    let based = dir.path().join("based.bca");
    compile_in(
        &root(),
        &[fixture("valid/minimal.yaml")],
        &based,
        &["--base-path", "/v1"],
    );
    let out = run(barbacane().arg("inspect").arg(&based));
    assert!(out.stdout.contains("/v1/hello"), "{}", out.stdout);
}

#[test]
fn inspect_of_a_missing_file_exits_11() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = run(barbacane().arg("inspect").arg(dir.path().join("nope.bca")));
    out.assert_code(11);
    assert!(out.stderr.contains("cannot read"), "{}", out.stderr);
}

/// The inputs table is printed with `{:<10}` for the kind, but `InputKind`'s `Display` uses
/// `f.write_str`, which ignores width, so the columns are not aligned.
#[test]
fn text_input_kind_column_is_padded() {
    let dir = tempfile::tempdir().expect("tempdir");
    let artifact = compile_petstore(dir.path());
    let out = run(barbacane().arg("inspect").arg(&artifact));
    out.assert_code(0);
    assert!(
        out.stdout.contains("\n  spec       api.yaml"),
        "{}",
        out.stdout
    );
}

#[test]
fn lenient_patterns_are_warned_and_listed_as_skipped_checks() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("api.yaml"),
        r#"openapi: 3.1.0
info: {title: t, version: "1"}
x-barbacane-dispatch: {name: mock}
paths:
  /a:
    get:
      parameters:
        - {name: q, in: query, schema: {type: string, pattern: '(unclosed'}}
      responses: {"200": {description: ok}}
"#,
    )
    .expect("write spec");
    let out = dir.path().join("api.bca");
    let strict = run(barbacane()
        .current_dir(dir.path())
        .args(["compile", "--spec", "api.yaml", "--output"])
        .arg(&out));
    assert_eq!(strict.status.code(), Some(1));
    assert!(strict.stderr.contains("error[E1005]"), "{}", strict.stderr);
    let lenient = compile_in(dir.path(), &["api.yaml"], &out, &["--lenient-patterns"]);
    assert!(
        lenient.stderr.contains("warning[W1003]"),
        "{}",
        lenient.stderr
    );
    let text = run(barbacane().arg("inspect").arg(&out));
    text.assert_code(0);
    assert!(text.stdout.contains("skipped checks (1"), "{}", text.stdout);
    assert!(
        text.stdout
            .contains("/paths/~1a/get/parameters/0/schema/pattern"),
        "{}",
        text.stdout
    );
    let json = inspect_json(&out);
    assert_eq!(
        json["skipped_checks"][0]["pointer"],
        "/paths/~1a/get/parameters/0/schema/pattern"
    );
}
