//! Values serialized per a media type rather than a `style`: parameters described with
//! `content` (JSON-encoded query parameters, OpenAPI 3.2 `in: querystring`) and non-JSON
//! request bodies share these decoders.

use barbacane_artifact::{Encoding, ParamStyle};
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::collections::BTreeMap;

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
    /// `multipart/form-data`: named parts as an object (bodies only).
    Multipart,
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
        } else if media_type.eq_ignore_ascii_case("multipart/form-data") {
            Content::Multipart
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
            Content::Form => form_object(
                shape,
                &BTreeMap::new(),
                crate::params::parse_query(raw).iter(),
            )
            .map(Some),
            Content::Text => Ok(Some(Value::String(raw.to_owned()))),
            Content::Multipart | Content::Opaque => Ok(None),
        }
    }
}

/// Form pairs as an object, per the body's `encoding` (parameters have none):
/// - a property whose schema is an array collects every value of its repeated key
///   (`tag=a&tag=b`); with `explode: false` one value is split on the style's delimiter
///   (`form` `,`, `spaceDelimited` ` `, `pipeDelimited` `|`);
/// - with `style: deepObject`, `name[key]=v` pairs build the object property `name`;
/// - a property whose `contentType` is JSON is parsed as JSON;
/// - other values are coerced to the property's type.
pub(crate) fn form_object<'a>(
    shape: &Shape,
    encoding: &BTreeMap<String, Encoding>,
    pairs: impl Iterator<Item = &'a (Cow<'a, str>, Cow<'a, str>)>,
) -> Result<Value, String> {
    let mut map = Map::new();
    for (k, v) in pairs {
        if let Some((base, key)) = deep_key(k, encoding) {
            let entry = map
                .entry(base.to_owned())
                .or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(obj) = entry {
                obj.insert(key.to_owned(), Value::String(v.to_string()));
            }
            continue;
        }
        let enc = encoding.get(k.as_ref());
        if enc
            .and_then(|e| e.content_type.as_deref())
            .is_some_and(crate::body::is_json)
        {
            let parsed = serde_json::from_str(v)
                .map_err(|_| format!("form field `{k}` is not valid JSON"))?;
            map.insert(k.to_string(), parsed);
            continue;
        }
        let types = shape.property_types(k);
        if !types.is_array() {
            map.insert(k.to_string(), types.coerce(v));
            continue;
        }
        let items = shape.property_item_types(k);
        let delimiter = match (enc.and_then(|e| e.explode), enc.and_then(|e| e.style)) {
            (_, Some(ParamStyle::SpaceDelimited)) => Some(' '),
            (_, Some(ParamStyle::PipeDelimited)) => Some('|'),
            (Some(false), _) => Some(','),
            _ => None,
        };
        let list = map
            .entry(k.to_string())
            .or_insert_with(|| Value::Array(Vec::new()));
        if let Value::Array(list) = list {
            match delimiter {
                Some(d) => list.extend(v.split(d).map(|item| items.coerce(item))),
                None => list.push(items.coerce(v)),
            }
        }
    }
    Ok(Value::Object(map))
}

/// `name[key]` when `name` is encoded as a `deepObject`.
fn deep_key<'k>(key: &'k str, encoding: &BTreeMap<String, Encoding>) -> Option<(&'k str, &'k str)> {
    let (base, rest) = key.split_once('[')?;
    let inner = rest.strip_suffix(']')?;
    (encoding.get(base)?.style == Some(ParamStyle::DeepObject)).then_some((base, inner))
}

/// A multipart form as an object: each part under its name (repeated names collect into an
/// array when the property's schema is an array). A part is parsed as JSON when it says it
/// is JSON or its `encoding` says so; file parts and other parts are strings (file bytes that
/// are not UTF-8 are replaced, so only their presence and length are meaningful); a part
/// whose type its `encoding.contentType` does not accept is refused.
pub(crate) fn multipart_object(
    shape: &Shape,
    encoding: &BTreeMap<String, Encoding>,
    parts: &[crate::multipart::Part<'_>],
) -> Result<Value, String> {
    let mut map = Map::new();
    for part in parts {
        let declared = encoding
            .get(&part.name)
            .and_then(|e| e.content_type.as_deref());
        if let (Some(declared), Some(sent)) = (declared, part.content_type.as_deref())
            && !accepts(declared, sent)
        {
            return Err(format!(
                "part `{}` has content type {sent}; accepted: {declared}",
                part.name
            ));
        }
        let json = part
            .content_type
            .as_deref()
            .or(declared)
            .is_some_and(crate::body::is_json);
        let types = shape.property_types(&part.name);
        let value = if json {
            serde_json::from_slice(part.body)
                .map_err(|_| format!("part `{}` is not valid JSON", part.name))?
        } else {
            let text = String::from_utf8_lossy(part.body);
            if part.is_file {
                Value::String(text.into_owned())
            } else if types.is_array() {
                shape.property_item_types(&part.name).coerce(&text)
            } else {
                types.coerce(&text)
            }
        };
        if types.is_array() {
            let list = map
                .entry(part.name.clone())
                .or_insert_with(|| Value::Array(Vec::new()));
            if let Value::Array(list) = list {
                list.push(value);
            }
        } else {
            map.insert(part.name.clone(), value);
        }
    }
    Ok(Value::Object(map))
}

/// Whether a comma-separated list of types and ranges (`image/png, image/*`) accepts `sent`.
fn accepts(declared: &str, sent: &str) -> bool {
    declared.split(',').map(str::trim).any(|range| {
        range == "*/*"
            || range.eq_ignore_ascii_case(sent)
            || range.strip_suffix("/*").is_some_and(|major| {
                sent.split('/')
                    .next()
                    .is_some_and(|m| m.eq_ignore_ascii_case(major))
            })
    })
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

    #[test]
    fn form_encoding_styles_and_json_fields() {
        let s = shape(json!({
            "type": "object",
            "properties": {
                "csv": {"type": "array", "items": {"type": "integer"}},
                "pipes": {"type": "array", "items": {"type": "integer"}},
                "meta": {"type": "object"},
                "filter": {"type": "object"}
            }
        }));
        let enc = |style: Option<ParamStyle>, explode: Option<bool>, ct: Option<&str>| Encoding {
            content_type: ct.map(str::to_owned),
            style,
            explode,
        };
        let encoding = BTreeMap::from([
            ("csv".to_owned(), enc(None, Some(false), None)),
            (
                "pipes".to_owned(),
                enc(Some(ParamStyle::PipeDelimited), None, None),
            ),
            ("meta".to_owned(), enc(None, None, Some("application/json"))),
            (
                "filter".to_owned(),
                enc(Some(ParamStyle::DeepObject), None, None),
            ),
        ]);
        let pairs = crate::params::parse_query(
            "csv=1,2&pipes=3|4&meta=%7B%22a%22%3A1%7D&filter[x]=y&filter[z]=w",
        );
        assert_eq!(
            form_object(&s, &encoding, pairs.iter()),
            Ok(json!({
                "csv": [1, 2], "pipes": [3, 4], "meta": {"a": 1},
                "filter": {"x": "y", "z": "w"}
            }))
        );
        let bad = crate::params::parse_query("meta={oops");
        assert!(form_object(&s, &encoding, bad.iter()).is_err());
    }

    #[test]
    fn multipart_parts_become_properties() {
        use crate::multipart::Part;
        let s = shape(json!({
            "type": "object",
            "properties": {
                "n": {"type": "integer"},
                "tags": {"type": "array", "items": {"type": "string"}},
                "doc": {"type": "object"},
                "file": {"type": "string"}
            }
        }));
        let part = |name: &str, ct: Option<&str>, is_file: bool, body: &'static [u8]| Part {
            name: name.to_owned(),
            content_type: ct.map(str::to_owned),
            is_file,
            body,
        };
        let parts = [
            part("n", None, false, b"7"),
            part("tags", None, false, b"a"),
            part("tags", None, false, b"b"),
            part("doc", Some("application/json"), false, b"{\"k\":1}"),
            part("file", Some("image/png"), true, b"\x89PNG"),
        ];
        let encoding = BTreeMap::from([(
            "file".to_owned(),
            Encoding {
                content_type: Some("image/png, image/jpeg".into()),
                ..Default::default()
            },
        )]);
        let value = multipart_object(&s, &encoding, &parts).unwrap();
        assert_eq!(value["n"], json!(7));
        assert_eq!(value["tags"], json!(["a", "b"]));
        assert_eq!(value["doc"], json!({"k": 1}));
        assert!(value["file"].is_string());
        let wrong = [part("file", Some("text/html"), true, b"<p>")];
        assert!(multipart_object(&s, &encoding, &wrong).is_err());
        let bad_json = [part("doc", Some("application/json"), false, b"{")];
        assert!(multipart_object(&s, &encoding, &bad_json).is_err());
    }
}
