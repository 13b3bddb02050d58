//! `opa-authz` policies: bundled as fingerprinted inputs, compile errors as E1060.

use super::*;

const POLICY: &str = r#"package barbacane.authz

default allow := false

allow if input.request.method == "GET"
"#;

fn spec(config: &str) -> Vec<u8> {
    format!(
        "openapi: 3.1.0\ninfo: {{title: t, version: '1'}}\npaths:\n  /a:\n    get:\n      x-barbacane-middlewares:\n        - name: opa-authz\n          config: {config}\n      x-barbacane-dispatch: {{name: mock}}\n      responses: {{'200': {{description: ok}}}}\n"
    )
    .into_bytes()
}

fn project(config: &str, files: &[(&str, &str)]) -> MemoryFs {
    let mut fs = MemoryFs::default();
    fs.insert("p/specs/api.yaml", spec(config));
    for (path, text) in files {
        fs.insert(path, text.as_bytes().to_vec());
    }
    fs
}

fn build(fs: &MemoryFs) -> Result<CompileOutput, Vec<Diagnostic>> {
    compile(
        fs,
        &CompileOptions {
            specs: vec!["/p/specs/api.yaml".into()],
            build_time: 1_700_000_000,
            ..Default::default()
        },
    )
}

#[test]
fn a_policy_file_is_bundled_as_a_fingerprinted_input() {
    let fs = project(
        "{policy: ../policies/authz.rego}",
        &[("p/policies/authz.rego", POLICY)],
    );
    let out = build(&fs).unwrap();
    let policy_inputs: Vec<_> = out
        .header
        .inputs
        .iter()
        .filter(|i| i.kind == InputKind::Policy)
        .map(|i| i.name.as_str())
        .collect();
    assert_eq!(policy_inputs, ["policies/authz.rego"]);
    // The policy outside the spec's directory widened the project root.
    assert!(
        out.header
            .inputs
            .iter()
            .any(|i| i.kind == InputKind::Spec && i.name == "specs/api.yaml")
    );
    let bundle = &out.config.policies["policies/authz.rego"];
    assert_eq!(bundle.files, ["policies/policies/authz.rego"]);
    assert_eq!(bundle.queries, ["data.barbacane.authz.allow"]);
    let used = &out.config.operations[0].middlewares[0];
    assert_eq!(used.config["policy"], "policies/authz.rego");
    let artifact = Artifact::from_bytes(&out.artifact).unwrap();
    assert_eq!(
        artifact.member("policies/policies/authz.rego"),
        Some(POLICY.as_bytes())
    );

    let changed = project(
        "{policy: ../policies/authz.rego}",
        &[("p/policies/authz.rego", &POLICY.replace("GET", "HEAD"))],
    );
    let again = build(&changed).unwrap();
    assert_ne!(out.header.artifact_hash, again.header.artifact_hash);
    assert_eq!(
        build(&fs).unwrap().header.artifact_hash,
        out.header.artifact_hash
    );
}

#[test]
fn a_directory_bundles_its_rego_files_in_order() {
    let helper = "package barbacane.lib\n\nis_get if input.request.method == \"GET\"\n";
    let main = "package barbacane.authz\n\nimport data.barbacane.lib\n\nallow if lib.is_get\n";
    let fs = project(
        "{policy: rules, query: data.barbacane.authz.allow}",
        &[
            ("p/specs/rules/main.rego", main),
            ("p/specs/rules/a_lib.rego", helper),
            ("p/specs/rules/README.md", "not a policy"),
        ],
    );
    let out = build(&fs).unwrap();
    let bundle = &out.config.policies["rules"];
    assert_eq!(
        bundle.files,
        ["policies/rules/a_lib.rego", "policies/rules/main.rego"]
    );
    let kinds: Vec<_> = out
        .header
        .inputs
        .iter()
        .filter(|i| i.kind == InputKind::Policy)
        .map(|i| i.name.as_str())
        .collect();
    assert_eq!(kinds, ["rules/a_lib.rego", "rules/main.rego"]);
}

fn e1060(fs: &MemoryFs) -> Diagnostic {
    let diags = build(fs).unwrap_err();
    diags
        .into_iter()
        .find(|d| d.code == Code::E1060)
        .expect("an E1060")
}

#[test]
fn a_policy_that_does_not_compile_is_e1060_with_its_line() {
    let broken = "package barbacane.authz\n\nallow if {\n  input.request.method ==\n}\n";
    let d = e1060(&project(
        "{policy: authz.rego}",
        &[("p/specs/authz.rego", broken)],
    ));
    assert_eq!(
        d.json_pointer,
        "/paths/~1a/get/x-barbacane-middlewares/0/config/policy"
    );
    assert!(d.message.contains("authz.rego:"), "{}", d.message);
    assert_eq!(d.file, "/p/specs/api.yaml");
}

#[test]
fn a_query_must_name_a_rule_of_the_policy() {
    let d = e1060(&project(
        "{policy: authz.rego, query: data.barbacane.authz.permit}",
        &[("p/specs/authz.rego", POLICY)],
    ));
    assert_eq!(
        d.json_pointer,
        "/paths/~1a/get/x-barbacane-middlewares/0/config/query"
    );
}

#[test]
fn a_missing_policy_is_e1060_and_no_source_at_all_is_e1022() {
    let d = e1060(&project("{policy: nowhere.rego}", &[]));
    assert!(d.message.contains("nowhere.rego"), "{}", d.message);
    let d = e1060(&project("{policy: empty}", &[("p/specs/empty/x.txt", "")]));
    assert!(d.message.contains("no .rego"), "{}", d.message);
    let diags = build(&project("{include_body: true}", &[])).unwrap_err();
    assert_eq!(diags[0].code, Code::E1022, "{diags:?}");
}

#[test]
fn an_opa_server_configuration_bundles_nothing() {
    let fs = project("{opa_url: 'http://opa:8181/v1/data/authz/allow'}", &[]);
    let out = build(&fs).unwrap();
    assert!(out.config.policies.is_empty());
    assert!(
        !out.header
            .inputs
            .iter()
            .any(|i| i.kind == InputKind::Policy)
    );
}
