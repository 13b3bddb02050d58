//! Loading, `$ref` resolution, model extraction and schema bundling.

use barbacane_spec::*;
use proptest::prelude::*;
use serde_json::json;
use std::path::PathBuf;

fn load(files: &[(&str, &str)]) -> Result<DocumentSet, Vec<Diagnostic>> {
    let mut fs = MemoryFs::default();
    for (name, text) in files {
        fs.insert(name, text.as_bytes().to_vec());
    }
    DocumentSet::load(&fs, &[PathBuf::from(format!("/{}", files[0].0))], &[])
}

fn spec(files: &[(&str, &str)]) -> Result<Spec, Vec<Diagnostic>> {
    let set = load(files)?;
    let root = set.roots().next().unwrap().clone();
    parse_spec(&set, &root)
}

fn codes(diags: &[Diagnostic]) -> Vec<Code> {
    diags.iter().map(|d| d.code).collect()
}

const PETS: &str = r#"
openapi: 3.0.3
info: {title: Pets, version: "1"}
paths:
  /pets/{id}:
    parameters:
      - {name: id, in: path, required: true, schema: {type: integer}}
      - {name: verbose, in: query, schema: {type: boolean}}
    get:
      operationId: getPet
      parameters:
        - {name: verbose, in: query, required: true, schema: {type: string}}
        - $ref: 'common.yaml#/parameters/Trace'
      x-barbacane-dispatch: {name: mock, config: {status: 200}}
    put:
      requestBody:
        required: true
        content:
          application/json; charset=utf-8:
            schema: {$ref: '#/components/schemas/Pet'}
components:
  schemas:
    Pet:
      type: object
      required: [name]
      properties:
        name: {type: string, nullable: true}
        age: {type: integer, minimum: 0, exclusiveMinimum: true}
        owner: {$ref: 'common.yaml#/schemas/Owner'}
"#;

const COMMON: &str = r#"
parameters:
  Trace: {name: X-Trace, in: header, schema: {type: string}}
schemas:
  Owner:
    type: object
    properties:
      pets: {type: array, items: {$ref: 'pets.yaml#/components/schemas/Pet'}}
"#;

#[test]
fn parameters_merge_and_external_refs_load() {
    let spec = spec(&[("p/pets.yaml", PETS), ("p/common.yaml", COMMON)]).unwrap();
    assert_eq!(spec.logical, "pets.yaml");
    let get = &spec
        .operations
        .iter()
        .find(|o| o.method == Method::Get)
        .unwrap();
    assert_eq!(get.operation_id.as_deref(), Some("getPet"));
    let names: Vec<_> = get
        .parameters
        .iter()
        .map(|p| (p.name.as_str(), p.required))
        .collect();
    assert_eq!(
        names,
        vec![("id", true), ("verbose", true), ("X-Trace", false)]
    );
    assert_eq!(
        get.dispatch.as_ref().unwrap().pointer,
        "/paths/~1pets~1{id}/get/x-barbacane-dispatch"
    );
}

#[test]
fn logical_names_are_root_relative() {
    let set = load(&[("p/pets.yaml", PETS), ("p/common.yaml", COMMON)]).unwrap();
    let mut names: Vec<_> = set.files().map(|f| f.logical.clone()).collect();
    names.sort();
    assert_eq!(names, vec!["common.yaml", "pets.yaml"]);
}

#[test]
fn schema_bundles_cross_file_cycles_and_translates_30() {
    let set = load(&[("p/pets.yaml", PETS), ("p/common.yaml", COMMON)]).unwrap();
    let root = set.roots().next().unwrap().clone();
    let spec = parse_spec(&set, &root).unwrap();
    let put = spec
        .operations
        .iter()
        .find(|o| o.method == Method::Put)
        .unwrap();
    let body = put.body.as_ref().unwrap();
    assert_eq!(body.content[0].media_type, "application/json");
    let schema = bundle_schema(
        &set,
        body.content[0].schema.as_ref().unwrap(),
        Dialect::OpenApi30,
    )
    .unwrap();
    assert_eq!(schema["$ref"], "#/$defs/Pet");
    let pet = &schema["$defs"]["Pet"];
    assert_eq!(pet["properties"]["name"]["type"], json!(["string", "null"]));
    assert_eq!(
        pet["properties"]["age"],
        json!({"type": "integer", "exclusiveMinimum": 0})
    );
    assert_eq!(pet["properties"]["owner"]["$ref"], "#/$defs/Owner");
    assert_eq!(
        schema["$defs"]["Owner"]["properties"]["pets"]["items"]["$ref"],
        "#/$defs/Pet"
    );
}

#[test]
fn unresolved_refs_are_e1004_with_pointer() {
    let doc = PETS.replace(
        "common.yaml#/parameters/Trace",
        "common.yaml#/parameters/Nope",
    );
    let err = load(&[("p/pets.yaml", &doc), ("p/common.yaml", COMMON)]).unwrap_err();
    assert_eq!(codes(&err), vec![Code::E1004]);
    assert_eq!(err[0].json_pointer, "/paths/~1pets~1{id}/get/parameters/1");
    let err = load(&[("p/pets.yaml", PETS)]).unwrap_err();
    assert!(codes(&err).contains(&Code::E1004), "{err:?}");
}

#[test]
fn not_openapi_and_versions() {
    assert_eq!(
        codes(&spec(&[("a.yaml", "hello: world")]).unwrap_err()),
        vec![Code::E1001]
    );
    assert_eq!(
        codes(&spec(&[("a.yaml", "- 1")]).unwrap_err()),
        vec![Code::E1001]
    );
    assert_eq!(
        codes(&spec(&[("a.yaml", "swagger: '2.0'")]).unwrap_err()),
        vec![Code::E1002]
    );
    assert_eq!(
        codes(&spec(&[("a.yaml", "openapi: 2.0.0")]).unwrap_err()),
        vec![Code::E1002]
    );
    assert_eq!(
        codes(
            &spec(&[("a.yaml", "openapi: 3.1.0\npaths: {}")])
                .map(|_| vec![])
                .unwrap()
        ),
        vec![]
    );
}

#[test]
fn parse_errors_are_e1003_with_position() {
    let err = load(&[("a.yaml", "openapi: 3.1.0\npaths: [\n")]).unwrap_err();
    assert_eq!(codes(&err), vec![Code::E1003]);
    assert!(err[0].line_column.is_some());
}

#[test]
fn invalid_parameters_are_e1006() {
    let doc = r#"
openapi: 3.1.0
paths:
  /a:
    get:
      parameters:
        - {name: x, in: body}
        - {in: query}
        - {name: y, in: header, style: form}
"#;
    assert_eq!(
        codes(&spec(&[("a.yaml", doc)]).unwrap_err()),
        vec![Code::E1006; 3]
    );
}

proptest! {
    #[test]
    fn loader_never_panics(text in "\\PC{0,200}") {
        let _ = spec(&[("a.yaml", &text)]);
    }

    #[test]
    fn loader_never_panics_on_structured_garbage(
        path in "/[a-z{}/.]{0,12}",
        method in "get|put|post|x",
        reference in "#/[a-z/~]{0,10}|[a-z]{1,4}\\.yaml",
    ) {
        let doc = json!({"openapi": "3.0.0", "paths": {path: {method: {"parameters": [{"$ref": reference}], "requestBody": {"$ref": "#/x"}}}}});
        let _ = spec(&[("a.json", &doc.to_string())]);
    }
}
