//! Compiler integration tests: one invalid fixture per diagnostic code, and the fingerprint's
//! reproducibility and sensitivity.

use barbacane_artifact::{Artifact, CONFIG_MEMBER, CompiledConfig, InputKind};
use barbacane_compiler::*;
use std::path::{Path, PathBuf};

mod asyncapi;
mod dialect;
mod policies;
mod public_specs;
mod real_world;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures")
}

fn options(specs: &[&str]) -> CompileOptions {
    CompileOptions {
        specs: specs.iter().map(|s| fixtures().join(s)).collect(),
        build_time: 1_700_000_000,
        ..Default::default()
    }
}

fn errors(specs: &[&str]) -> Vec<Diagnostic> {
    compile(&LocalFs, &options(specs)).expect_err("fixture should not compile")
}

fn assert_code(specs: &[&str], code: Code, pointer: &str) {
    let diags = errors(specs);
    let found = diags.iter().find(|d| d.code == code);
    let d = found.unwrap_or_else(|| panic!("{specs:?}: no {code} in {diags:#?}"));
    assert_eq!(d.json_pointer, pointer, "{d}");
    assert!(!d.hint.is_empty() && !d.file.is_empty(), "{d}");
}

#[test]
fn every_code_has_an_invalid_fixture() {
    assert_code(&["invalid/e1001_not_openapi.yaml"], Code::E1001, "");
    assert_code(&["invalid/e1002_swagger.yaml"], Code::E1002, "");
    assert_code(&["invalid/e1002_version.yaml"], Code::E1002, "/openapi");
    assert_code(&["invalid/e1003_parse.yaml"], Code::E1003, "");
    assert_code(
        &["invalid/e1004_ref.yaml"],
        Code::E1004,
        "/paths/~1a/post/requestBody/content/application~1json/schema",
    );
    assert_code(
        &["invalid/e1005_schema.yaml"],
        Code::E1005,
        "/paths/~1a/get/parameters/0/schema/pattern",
    );
    assert_code(
        &["invalid/e1006_template.yaml"],
        Code::E1006,
        "/paths/~1files~1{name",
    );
    assert_code(
        &["invalid/e1010_a.yaml", "invalid/e1010_b.yaml"],
        Code::E1010,
        "/paths/~1items~1{itemId}/get",
    );
    assert_code(
        &["invalid/e1011_no_dispatch.yaml"],
        Code::E1011,
        "/paths/~1a/get",
    );
    assert_code(
        &["invalid/e1012_unknown_dispatcher.yaml"],
        Code::E1012,
        "/paths/~1a/get/x-barbacane-dispatch/name",
    );
    assert_code(
        &["invalid/e1013_shape.yaml"],
        Code::E1013,
        "/x-barbacane-middlewares",
    );
    assert_code(
        &["invalid/e1032_security.yaml"],
        Code::E1032,
        "/paths/~1a/get",
    );
    assert_code(
        &["invalid/e1040_ratelimit_shape.yaml"],
        Code::E1040,
        "/paths/~1a/get/x-barbacane-ratelimit/burst",
    );
    assert_code(
        &["invalid/e1041_ratelimit_value.yaml"],
        Code::E1041,
        "/x-barbacane-ratelimit/quota",
    );
    assert_code(
        &["invalid/e1030_sunset.yaml"],
        Code::E1030,
        "/paths/~1a/get/x-barbacane-sunset",
    );
    assert_code(
        &["invalid/e1042_cache_shape.yaml"],
        Code::E1042,
        "/paths/~1a/get/x-barbacane-cache",
    );
    assert_code(
        &["invalid/e1022_cache_config.yaml"],
        Code::E1022,
        "/x-barbacane-cache/ttl",
    );
    assert_code(
        &["invalid/e1022_mock_config.yaml"],
        Code::E1022,
        "/paths/~1a/get/x-barbacane-dispatch/config/status",
    );
    // An official middleware's schema (the compiler finds it by name, like `mock`'s).
    assert_code(
        &["invalid/e1022_redirect_config.yaml"],
        Code::E1022,
        "/paths/~1a/get/x-barbacane-middlewares/0/config/status_code",
    );
    assert_code(
        &["invalid/e1060_policy.yaml"],
        Code::E1060,
        "/paths/~1a/get/x-barbacane-middlewares/0/config/policy",
    );
    let mut with_manifest = options(&["valid/minimal.yaml"]);
    with_manifest.manifest = Some(fixtures().join("invalid/e1015_manifest.yaml"));
    let diags = compile(&LocalFs, &with_manifest).unwrap_err();
    assert_eq!(diags[0].code, Code::E1015);
    assert_eq!(diags[0].json_pointer, "/plugins/missing/path");
}

#[test]
fn gateway_paths_are_reserved() {
    let mut fs = MemoryFs::default();
    fs.insert(
        "p/api.yaml",
        b"openapi: 3.1.0\npaths:\n  /__barbacane/health:\n    get:\n      x-barbacane-dispatch: {name: mock}\n".to_vec(),
    );
    let diags = compile(
        &fs,
        &CompileOptions {
            specs: vec!["/p/api.yaml".into()],
            ..Default::default()
        },
    )
    .unwrap_err();
    assert_eq!(diags[0].code, Code::E1006, "{diags:?}");
    assert!(diags[0].message.contains("reserved"));
}

#[test]
fn all_problems_are_reported_at_once() {
    let diags = errors(&[
        "invalid/e1013_shape.yaml",
        "invalid/e1011_no_dispatch.yaml",
        "invalid/e1022_mock_config.yaml",
    ]);
    let mut codes: Vec<_> = diags.iter().map(|d| d.code).collect();
    codes.sort();
    codes.dedup();
    assert!(codes.len() >= 3, "{codes:?}");
}

#[test]
fn parse_errors_carry_line_and_column() {
    let d = &errors(&["invalid/e1003_parse.yaml"])[0];
    assert!(d.line_column.is_some(), "{d}");
}

#[test]
fn refs_across_files_are_inputs_and_compile() {
    let out = compile(&LocalFs, &options(&["valid/refs/api.yaml"])).unwrap();
    let names: Vec<_> = out
        .header
        .inputs
        .iter()
        .map(|i| (i.kind, i.name.as_str()))
        .collect();
    assert_eq!(
        names,
        vec![
            (InputKind::Spec, "api.yaml"),
            (InputKind::Reference, "paths/thing.yaml"),
            (InputKind::Reference, "schemas/thing.yaml"),
            // The official `mock` the spec uses, found by name and hashed like any plugin.
            (InputKind::Plugin, "official/mock/config-schema.json"),
            (InputKind::Plugin, "official/mock/mock.wasm"),
            (InputKind::Plugin, "official/mock/plugin.toml"),
        ]
    );
    let put = out
        .config
        .operations
        .iter()
        .find(|o| o.method == "PUT")
        .unwrap();
    assert_eq!(put.parameters[0].name, "id");
    let schema = put.request_body.as_ref().unwrap().content[0]
        .schema
        .as_ref()
        .unwrap();
    // Referenced schemas are stored once, shared by every operation.
    assert_eq!(schema["$ref"], "#/$defs/Thing");
    assert_eq!(
        out.config.definitions["Thing"]["properties"]["parent"]["$ref"],
        "#/$defs/Thing"
    );
}

#[test]
fn several_specs_make_one_routing_table() {
    let out = compile(
        &LocalFs,
        &options(&["valid/multi/users.yaml", "valid/multi/orders.yaml"]),
    )
    .unwrap();
    let routes: Vec<_> = out
        .config
        .operations
        .iter()
        .map(|o| format!("{} {}", o.method, o.path))
        .collect();
    assert_eq!(routes, vec!["GET /orders", "GET /users-api/users/{id}"]);
}

#[test]
fn base_path_flag_overrides_and_is_an_input() {
    let mut o = options(&["valid/multi/users.yaml"]);
    o.base_path = Some("/v2/".into());
    let out = compile(&LocalFs, &o).unwrap();
    assert_eq!(out.config.operations[0].path, "/v2/users/{id}");
    let plain = compile(&LocalFs, &options(&["valid/multi/users.yaml"])).unwrap();
    assert_ne!(out.header.artifact_hash, plain.header.artifact_hash);
}

#[test]
fn artifact_round_trips_through_the_reader() {
    let out = compile(&LocalFs, &options(&["valid/refs/api.yaml"])).unwrap();
    let artifact = Artifact::from_bytes(&out.artifact).unwrap();
    assert_eq!(artifact.header(), &out.header);
    let config: CompiledConfig = artifact.member_json(CONFIG_MEMBER).unwrap();
    assert_eq!(config, out.config);
    assert!(artifact.member("specs/schemas/thing.yaml").is_some());
}

/// Copies the `refs` fixture into `dir` (optionally changing one file).
fn copy_refs(dir: &Path, tweak: Option<(&str, &str, &str)>) {
    for rel in ["api.yaml", "paths/thing.yaml", "schemas/thing.yaml"] {
        let mut text = std::fs::read_to_string(fixtures().join("valid/refs").join(rel)).unwrap();
        if let Some((file, from, to)) = tweak
            && file == rel
        {
            assert!(text.contains(from));
            text = text.replacen(from, to, 1);
        }
        let target = dir.join(rel);
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::write(target, text).unwrap();
    }
}

#[test]
fn hash_ignores_location_order_and_path_spelling_and_output_is_byte_identical() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    copy_refs(a.path(), None);
    copy_refs(&b.path().join("deeper/project"), None);
    let run = |specs: Vec<PathBuf>| {
        compile(
            &LocalFs,
            &CompileOptions {
                specs,
                build_time: 42,
                ..Default::default()
            },
        )
        .unwrap()
    };
    let first = run(vec![a.path().join("api.yaml")]);
    let second = run(vec![b.path().join("deeper/project/./paths/../api.yaml")]);
    assert_eq!(first.header.artifact_hash, second.header.artifact_hash);
    assert_eq!(
        first.artifact, second.artifact,
        "same inputs and time must give identical bytes"
    );

    let multi = |specs: &[&str]| {
        compile(&LocalFs, &options(specs))
            .unwrap()
            .header
            .artifact_hash
    };
    assert_eq!(
        multi(&["valid/multi/users.yaml", "valid/multi/orders.yaml"]),
        multi(&["valid/multi/orders.yaml", "valid/multi/users.yaml"])
    );
}

#[test]
fn hash_changes_when_any_input_byte_changes() {
    let base_dir = tempfile::tempdir().unwrap();
    copy_refs(base_dir.path(), None);
    let hash = |dir: &Path| {
        compile(
            &LocalFs,
            &CompileOptions {
                specs: vec![dir.join("api.yaml")],
                ..Default::default()
            },
        )
        .unwrap()
        .header
        .artifact_hash
    };
    let base = hash(base_dir.path());
    for (file, from, to) in [
        ("api.yaml", "With refs", "With refz"),
        ("paths/thing.yaml", "minimum: 1", "minimum: 2"),
        ("schemas/thing.yaml", "minLength: 1", "minLength: 1 "),
    ] {
        let dir = tempfile::tempdir().unwrap();
        copy_refs(dir.path(), Some((file, from, to)));
        assert_ne!(
            hash(dir.path()),
            base,
            "changing {file} must change the hash"
        );
    }
}

#[test]
fn manifest_and_plugins_are_hashed_inputs() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        fixtures().join("valid/minimal.yaml"),
        dir.path().join("api.yaml"),
    )
    .unwrap();
    std::fs::create_dir(dir.path().join("plugins")).unwrap();
    std::fs::write(dir.path().join("plugins/x.wasm"), b"\0asm\x01\0\0\0").unwrap();
    std::fs::write(
        dir.path().join("plugins/plugin.toml"),
        "name = \"x\"\nversion = \"1.0.0\"\ntype = \"middleware\"\nwasm = \"x.wasm\"\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("barbacane.yaml"),
        "plugins:\n  x:\n    path: plugins/x.wasm\n",
    )
    .unwrap();
    let o = CompileOptions {
        specs: vec![dir.path().join("api.yaml")],
        manifest: Some(dir.path().join("barbacane.yaml")),
        ..Default::default()
    };
    let first = compile(&LocalFs, &o).unwrap();
    let kinds: Vec<_> = first
        .header
        .inputs
        .iter()
        .map(|i| (i.kind, i.name.as_str()))
        .collect();
    assert_eq!(
        kinds,
        vec![
            (InputKind::Spec, "api.yaml"),
            (InputKind::Manifest, "barbacane.yaml"),
            (InputKind::Plugin, "official/mock/config-schema.json"),
            (InputKind::Plugin, "official/mock/mock.wasm"),
            (InputKind::Plugin, "official/mock/plugin.toml"),
            (InputKind::Plugin, "plugins/plugin.toml"),
            (InputKind::Plugin, "plugins/x.wasm")
        ]
    );
    // Same module plus a custom section: different bytes, still valid.
    std::fs::write(
        dir.path().join("plugins/x.wasm"),
        b"\0asm\x01\0\0\0\x00\x02\x01x",
    )
    .unwrap();
    assert_ne!(
        compile(&LocalFs, &o).unwrap().header.artifact_hash,
        first.header.artifact_hash
    );
}

#[test]
fn compiles_from_memory_like_the_control_plane() {
    let mut fs = MemoryFs::default();
    for rel in ["api.yaml", "paths/thing.yaml", "schemas/thing.yaml"] {
        fs.insert(
            format!("stored/{rel}"),
            std::fs::read(fixtures().join("valid/refs").join(rel)).unwrap(),
        );
    }
    let remote = compile(
        &fs,
        &CompileOptions {
            specs: vec!["/stored/api.yaml".into()],
            ..Default::default()
        },
    )
    .unwrap();
    let local = compile(&LocalFs, &options(&["valid/refs/api.yaml"])).unwrap();
    assert_eq!(remote.header.artifact_hash, local.header.artifact_hash);
}

#[test]
fn security_requirements_are_met_by_the_chain_or_waived() {
    let spec = |security: &str, middlewares: &str| {
        format!(
            "openapi: 3.1.0\ninfo: {{title: t, version: '1'}}\n\
             components:\n  securitySchemes:\n    key: {{type: apiKey, in: header, name: X-API-Key}}\n    \
             basic: {{type: http, scheme: basic}}\n    jwt: {{type: http, scheme: bearer}}\n\
             paths:\n  /a:\n    get:\n      security: {security}\n      \
             x-barbacane-middlewares: {middlewares}\n      x-barbacane-dispatch: {{name: mock}}\n      \
             responses: {{'200': {{description: ok}}}}\n"
        )
    };
    let apikey = "[{name: apikey-auth, config: {keys: [{key: 'sha256:0000000000000000000000000000000000000000000000000000000000000000', id: a}]}}]";
    let compiles = |s: &str| {
        let mut fs = MemoryFs::default();
        fs.insert("p/api.yaml", s.as_bytes().to_vec());
        compile(
            &fs,
            &CompileOptions {
                specs: vec!["/p/api.yaml".into()],
                ..Default::default()
            },
        )
        .map(|_| ())
    };
    // Met: the apiKey scheme by apikey-auth; one alternative of a choice is enough.
    assert!(compiles(&spec("[{key: []}]", apikey)).is_ok());
    assert!(compiles(&spec("[{jwt: []}, {key: []}]", apikey)).is_ok());
    // Waived: public operations.
    assert!(compiles(&spec("[]", "[]")).is_ok());
    assert!(compiles(&spec("[{}, {jwt: []}]", "[]")).is_ok());
    // Not met: every scheme of a requirement is needed.
    let diags = compiles(&spec("[{key: [], basic: []}]", apikey)).unwrap_err();
    let d = diags.iter().find(|d| d.code == Code::E1032).expect("E1032");
    assert_eq!(d.json_pointer, "/paths/~1a/get/security");
    assert!(
        d.message.contains("`basic` (http:basic: basic-auth)"),
        "{}",
        d.message
    );
    assert!(compiles(&spec("[{jwt: []}]", "[{name: correlation-id}]")).is_err());
    // An operation that takes every middleware off itself is served as public, loudly.
    let mut fs = MemoryFs::default();
    fs.insert("p/api.yaml", spec("[{jwt: []}]", "[]").into_bytes());
    let out = compile(
        &fs,
        &CompileOptions {
            specs: vec!["/p/api.yaml".into()],
            ..Default::default()
        },
    )
    .expect("W1006 is a warning");
    let w = out
        .warnings
        .iter()
        .find(|d| d.code == Code::W1006)
        .expect("W1006");
    assert_eq!(w.json_pointer, "/paths/~1a/get");
}

#[test]
fn literal_secrets_are_warnings_that_never_show_the_value() {
    let spec = "openapi: 3.1.0\ninfo: {title: t, version: '1'}\npaths:\n  /a:\n    get:\n      \
                x-barbacane-middlewares:\n        - name: apikey-auth\n          config: {keys: [\
                {key: 'env://K', id: a}, {key: hunter2-literal, id: b}]}\n        - name: basic-auth\n          \
                config: {credentials: [{username: u, password: pw-literal}, {username: v, password: \
                '$2b$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy'}]}\n        \
                - name: oauth2-auth\n          config: {introspection_endpoint: 'https://idp.test/i', \
                client_id: c, client_secret: cs-literal}\n        - name: oauth2-auth\n          \
                config: {introspection_endpoint: 'https://idp.test/i', client_id: c, \
                client_secret: 'file:///run/cs'}\n      \
                x-barbacane-dispatch: {name: mock}\n      responses: {'200': {description: ok}}\n";
    let mut fs = MemoryFs::default();
    fs.insert("p/api.yaml", spec.as_bytes().to_vec());
    let out = compile(
        &fs,
        &CompileOptions {
            specs: vec!["/p/api.yaml".into()],
            ..Default::default()
        },
    )
    .expect("warnings do not stop the build");
    let pointers: Vec<&str> = out
        .warnings
        .iter()
        .filter(|d| d.code == Code::W1001)
        .map(|d| d.json_pointer.as_str())
        .collect();
    assert_eq!(
        pointers,
        [
            "/paths/~1a/get/x-barbacane-middlewares/0/config/keys/1/key",
            "/paths/~1a/get/x-barbacane-middlewares/1/config/credentials/0/password",
            "/paths/~1a/get/x-barbacane-middlewares/2/config/client_secret"
        ]
    );
    for d in &out.warnings {
        let text = d.to_string();
        assert!(
            !text.contains("hunter2")
                && !text.contains("pw-literal")
                && !text.contains("cs-literal"),
            "{text}"
        );
    }
}
