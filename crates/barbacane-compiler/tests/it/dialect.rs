//! Property test: OpenAPI 3.0 numeric bounds (boolean `exclusiveMinimum`/`exclusiveMaximum`)
//! and `nullable`, translated to JSON Schema 2020-12, accept exactly the values the 3.0
//! specification says they accept, end to end through the compiler and the validator.

use barbacane_compiler::{CompileOptions, MemoryFs, compile};
use barbacane_validator::{OperationValidator, RequestParts};
use proptest::prelude::*;

fn validator(
    min: i64,
    max: i64,
    excl_min: bool,
    excl_max: bool,
    nullable: bool,
) -> OperationValidator {
    let spec = format!(
        r#"
openapi: 3.0.3
info: {{title: t, version: "1"}}
paths:
  /n:
    post:
      parameters:
        - name: n
          in: query
          required: true
          schema: {{type: integer, minimum: {min}, maximum: {max}, exclusiveMinimum: {excl_min}, exclusiveMaximum: {excl_max}}}
      requestBody:
        content:
          application/json:
            schema: {{type: integer, nullable: {nullable}}}
      x-barbacane-dispatch: {{name: mock}}
      responses: {{"200": {{description: ok}}}}
"#
    );
    let mut fs = MemoryFs::default();
    fs.insert("p/api.yaml", spec.into_bytes());
    let out = compile(
        &fs,
        &CompileOptions {
            specs: vec!["/p/api.yaml".into()],
            ..Default::default()
        },
    )
    .unwrap();
    OperationValidator::build_with_definitions(&out.config.operations[0], &out.config.definitions)
        .unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn bounds_match_the_30_semantics(
        min in -50i64..50, span in 0i64..50, excl_min: bool, excl_max: bool, nullable: bool,
        values in proptest::collection::vec(-120i64..120, 8),
    ) {
        let max = min + span;
        let v = validator(min, max, excl_min, excl_max, nullable);
        let headers = http::HeaderMap::new();
        for n in values {
            let query = format!("n={n}");
            let ok = v.validate_head(|_| None, RequestParts { query: Some(&query), headers: &headers }).is_ok();
            let expected = (if excl_min { n > min } else { n >= min }) && (if excl_max { n < max } else { n <= max });
            prop_assert_eq!(ok, expected, "n={} min={} max={} excl=({}, {})", n, min, max, excl_min, excl_max);
        }
        let mut json = http::HeaderMap::new();
        json.insert("content-type", "application/json".parse().unwrap());
        prop_assert_eq!(v.validate_body(&json, b"null").is_ok(), nullable);
        prop_assert!(v.validate_body(&json, b"7").is_ok());
        prop_assert!(v.validate_body(&json, b"\"7\"").is_err());
    }
}
