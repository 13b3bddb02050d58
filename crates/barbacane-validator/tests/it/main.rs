//! Property tests: the validator never panics on any request, and parameter coercion
//! round-trips typed values through their OpenAPI serialization.

use barbacane_artifact::{
    MediaType, Operation, ParamLocation, ParamStyle, Parameter, PluginUse, RequestBody,
};
use barbacane_validator::{OperationValidator, RequestParts};
use http::{HeaderMap, HeaderName, HeaderValue};
use proptest::prelude::*;
use serde_json::json;

fn param(
    name: &str,
    location: ParamLocation,
    style: ParamStyle,
    explode: bool,
    schema: serde_json::Value,
) -> Parameter {
    Parameter {
        name: name.into(),
        location,
        required: false,
        style,
        explode,
        allow_empty_value: false,
        schema: Some(schema),
        content_type: None,
    }
}

fn operation() -> Operation {
    let ints = json!({"type": "array", "items": {"type": "integer"}});
    let obj = json!({"type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "boolean"}}});
    Operation {
        spec: "p.yaml".into(),
        pointer: "/paths/~1x/post".into(),
        operation_id: None,
        method: "POST".into(),
        path: "/x/{id}".into(),
        parameters: vec![
            param(
                "id",
                ParamLocation::Path,
                ParamStyle::Matrix,
                true,
                ints.clone(),
            ),
            param(
                "f",
                ParamLocation::Query,
                ParamStyle::Form,
                true,
                ints.clone(),
            ),
            param(
                "s",
                ParamLocation::Query,
                ParamStyle::SpaceDelimited,
                false,
                ints.clone(),
            ),
            param(
                "d",
                ParamLocation::Query,
                ParamStyle::DeepObject,
                true,
                obj.clone(),
            ),
            param("o", ParamLocation::Query, ParamStyle::Form, false, obj),
            param(
                "x-list",
                ParamLocation::Header,
                ParamStyle::Simple,
                false,
                ints.clone(),
            ),
            param("c", ParamLocation::Cookie, ParamStyle::Form, false, ints),
        ],
        request_body: Some(RequestBody {
            required: false,
            content: vec![MediaType {
                media_type: "application/json".into(),
                encoding: Default::default(),
                item_schema: None,
                schema: Some(
                    json!({"type": "object", "properties": {"n": {"type": "number", "format": "double"}, "e": {"format": "email"}}}),
                ),
            }],
        }),
        dispatch: PluginUse {
            name: "mock".into(),
            config: json!({}),
        },
        middlewares: vec![],
        deprecated: false,
        deprecated_since: None,
        sunset: None,
        sunset_link: None,
        observability: Default::default(),
        event: None,
    }
}

proptest! {
    #[test]
    fn never_panics_on_arbitrary_requests(
        path in "\\PC{0,40}",
        query in "\\PC{0,80}",
        header in "[ -~]{0,40}",
        cookie in "[ -~]{0,40}",
        content_type in "[ -~]{0,30}",
        body in proptest::collection::vec(any::<u8>(), 0..200),
    ) {
        let v = OperationValidator::build(&operation()).unwrap();
        let mut headers = HeaderMap::new();
        if let Ok(h) = HeaderValue::from_str(&header) {
            headers.insert(HeaderName::from_static("x-list"), h);
        }
        if let Ok(c) = HeaderValue::from_str(&cookie) {
            headers.insert(http::header::COOKIE, c);
        }
        if let Ok(ct) = HeaderValue::from_str(&content_type) {
            headers.insert(http::header::CONTENT_TYPE, ct);
        }
        let _ = v.validate_head(|_| Some(path.as_str()), RequestParts { query: Some(&query), headers: &headers });
        let _ = v.validate_body(&headers, &body);
    }

    #[test]
    fn serialized_integer_lists_are_accepted_in_every_style(values in proptest::collection::vec(any::<i64>(), 1..6)) {
        let v = OperationValidator::build(&operation()).unwrap();
        let csv = values.iter().map(i64::to_string).collect::<Vec<_>>();
        let matrix = csv.iter().map(|n| format!(";id={n}")).collect::<String>();
        let query = format!(
            "{}&s={}&d[a]={}&o=a,{},b,true",
            csv.iter().map(|n| format!("f={n}")).collect::<Vec<_>>().join("&"),
            csv.join("%20"),
            csv[0],
            csv[0],
        );
        let mut headers = HeaderMap::new();
        headers.insert("x-list", HeaderValue::from_str(&csv.join(", ")).unwrap());
        headers.insert(http::header::COOKIE, HeaderValue::from_str(&format!("c={}", csv.join(","))).unwrap());
        let result = v.validate_head(|_| Some(matrix.as_str()), RequestParts { query: Some(&query), headers: &headers });
        prop_assert!(result.is_ok(), "{:?} for query {} and path {}", result, query, matrix);
    }

    #[test]
    fn a_non_integer_item_is_refused(values in proptest::collection::vec(any::<i64>(), 0..4), bad in "[a-z]{1,5}") {
        let v = OperationValidator::build(&operation()).unwrap();
        let mut items: Vec<String> = values.iter().map(i64::to_string).collect();
        items.push(bad);
        let query = items.iter().map(|n| format!("f={n}")).collect::<Vec<_>>().join("&");
        let headers = HeaderMap::new();
        let result = v.validate_head(|_| None, RequestParts { query: Some(&query), headers: &headers });
        prop_assert!(result.is_err());
    }
}
