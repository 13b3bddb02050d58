//! Values serialized per a media type rather than a `style`: parameters described with
//! `content` (JSON-encoded query parameters, OpenAPI 3.2 `in: querystring`) and non-JSON
//! request bodies share these decoders.

use serde_json::{Map, Value};
use std::borrow::Cow;

use crate::coerce::Shape;

/// How a media type's payload becomes a JSON value for the schema check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Content {
    /// `application/json` and `+json`: parsed as JSON.
    Json,
    /// `application/x-www-form-urlencoded`: `key=value` pairs as an object.
    Form,
    /// `text/*`: the payload is one string.
    Text,
    /// Anything else: not decoded, so not checked against a schema.
    Opaque,
}

impl Content {
    /// The decoder for a lowercase media type essence (or range).
    pub(crate) fn of(media_type: &str) -> Content {
        if crate::body::is_json(media_type) {
            Content::Json
        } else if media_type.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
            Content::Form
        } else if media_type
            .get(..5)
            .is_some_and(|t| t.eq_ignore_ascii_case("text/"))
        {
            Content::Text
        } else {
            Content::Opaque
        }
    }

    /// Decodes one text value (a parameter's raw value, or a whole body read as UTF-8).
    /// `Ok(None)` means the media type is not one this gateway decodes.
    pub(crate) fn decode(self, shape: &Shape, raw: &str) -> Result<Option<Value>, String> {
        match self {
            Content::Json => serde_json::from_str(raw)
                .map(Some)
                .map_err(|e| format!("value is not valid JSON (column {})", e.column())),
            Content::Form => Ok(Some(form_object(
                shape,
                crate::params::parse_query(raw).iter(),
            ))),
            Content::Text => Ok(Some(Value::String(raw.to_owned()))),
            Content::Opaque => Ok(None),
        }
    }
}

/// Form pairs as an object: a property whose schema is an array collects every value of its
/// key (`tag=a&tag=b`), others take the last one; values are coerced to the property's type.
pub(crate) fn form_object<'a>(
    shape: &Shape,
    pairs: impl Iterator<Item = &'a (Cow<'a, str>, Cow<'a, str>)>,
) -> Value {
    let mut map = Map::new();
    for (k, v) in pairs {
        let types = shape.property_types(k);
        if types.is_array() {
            let items = shape.property_item_types(k);
            match map
                .entry(k.to_string())
                .or_insert_with(|| Value::Array(Vec::new()))
            {
                Value::Array(list) => list.push(items.coerce(v)),
                other => *other = Value::Array(vec![items.coerce(v)]),
            }
        } else {
            map.insert(k.to_string(), types.coerce(v));
        }
    }
    Value::Object(map)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn shape(s: Value) -> Shape {
        Shape::of(Some(&s))
    }

    #[test]
    fn media_types_pick_their_decoder() {
        assert_eq!(Content::of("application/json"), Content::Json);
        assert_eq!(Content::of("application/problem+json"), Content::Json);
        assert_eq!(
            Content::of("application/x-www-form-urlencoded"),
            Content::Form
        );
        assert_eq!(Content::of("text/plain"), Content::Text);
        assert_eq!(Content::of("text/csv"), Content::Text);
        assert_eq!(Content::of("application/octet-stream"), Content::Opaque);
        assert_eq!(Content::of("image/*"), Content::Opaque);
    }

    #[test]
    fn json_values_are_parsed_and_bad_json_is_an_error() {
        let any = shape(json!({}));
        assert_eq!(
            Content::Json.decode(&any, r#"{"a":[1,2]}"#),
            Ok(Some(json!({"a": [1, 2]})))
        );
        assert!(Content::Json.decode(&any, "{a").is_err());
        assert_eq!(Content::Text.decode(&any, "hi"), Ok(Some(json!("hi"))));
        assert_eq!(Content::Opaque.decode(&any, "hi"), Ok(None));
    }

    #[test]
    fn form_pairs_follow_the_schema() {
        let s = shape(json!({
            "type": "object",
            "properties": {
                "n": {"type": "integer"},
                "tags": {"type": "array", "items": {"type": "integer"}},
                "name": {"type": "string"}
            }
        }));
        assert_eq!(
            Content::Form.decode(&s, "n=3&tags=1&tags=2&name=a+b%21"),
            Ok(Some(json!({"n": 3, "tags": [1, 2], "name": "a b!"})))
        );
        assert_eq!(Content::Form.decode(&s, ""), Ok(Some(json!({}))));
    }
}
