//! Reading parameter values out of a request per OpenAPI `style` and `explode`.
//!
//! Each function returns `None` when the parameter is absent and the deserialized,
//! type-coerced value otherwise. Styles follow the OpenAPI 3.1 "Style Values" table.

use barbacane_artifact::ParamStyle;
use percent_encoding::percent_decode_str;
use serde_json::Value;
use std::borrow::Cow;

use crate::coerce::Shape;

/// Decoded `key=value` pairs of a query string or form body (`+` is a space).
pub(crate) fn parse_query(raw: &str) -> Vec<(Cow<'_, str>, Cow<'_, str>)> {
    raw.split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (decode_form(k), decode_form(v))
        })
        .collect()
}

pub(crate) fn decode_form(s: &str) -> Cow<'_, str> {
    if !s.contains(['+', '%']) {
        return Cow::Borrowed(s);
    }
    let spaced = s.replace('+', " ");
    Cow::Owned(percent_decode_str(&spaced).decode_utf8_lossy().into_owned())
}

/// `name=value` pairs of a `Cookie` header.
pub(crate) fn parse_cookies(raw: &str) -> Vec<(&str, &str)> {
    raw.split(';')
        .filter_map(|c| {
            let (k, v) = c.trim().split_once('=')?;
            Some((k.trim(), v.trim().trim_matches('"')))
        })
        .collect()
}

fn list(shape: &Shape, items: impl Iterator<Item = impl AsRef<str>>) -> Value {
    let types = match shape {
        Shape::Array(t) => *t,
        _ => crate::coerce::Types::ANY,
    };
    Value::Array(items.map(|s| types.coerce(s.as_ref())).collect())
}

/// `k,v,k,v` as an object.
fn flat_pairs(shape: &Shape, raw: &str, sep: char) -> Value {
    let parts: Vec<&str> = raw.split(sep).collect();
    shape.object_value(parts.chunks(2).map(|c| {
        (
            c.first().copied().unwrap_or(""),
            c.get(1).copied().unwrap_or(""),
        )
    }))
}

/// `k=v<sep>k=v` as an object.
fn kv_pairs(shape: &Shape, raw: &str, sep: char) -> Value {
    shape.object_value(
        raw.split(sep)
            .filter(|p| !p.is_empty())
            .map(|p| p.split_once('=').unwrap_or((p, ""))),
    )
}

/// A value in `simple` style (also the body of `label` and `matrix` once their prefix is gone).
fn simple(shape: &Shape, raw: &str, explode: bool) -> Value {
    match shape {
        Shape::Primitive(t) => t.coerce(raw),
        Shape::Array(_) => list(shape, raw.split(',')),
        Shape::Object { .. } if explode => kv_pairs(shape, raw, ','),
        Shape::Object { .. } => flat_pairs(shape, raw, ','),
    }
}

/// A path parameter (already percent-decoded by the router's normalization).
pub(crate) fn path(
    shape: &Shape,
    style: ParamStyle,
    explode: bool,
    name: &str,
    raw: &str,
) -> Option<Value> {
    match style {
        ParamStyle::Label => {
            let body = raw.strip_prefix('.')?;
            Some(match shape {
                Shape::Primitive(t) => t.coerce(body),
                Shape::Array(_) => list(shape, body.split(if explode { '.' } else { ',' })),
                Shape::Object { .. } if explode => kv_pairs(shape, body, '.'),
                Shape::Object { .. } => flat_pairs(shape, body, ','),
            })
        }
        ParamStyle::Matrix => {
            let body = raw.strip_prefix(';')?;
            match shape {
                Shape::Object { .. } if explode => Some(kv_pairs(shape, body, ';')),
                Shape::Array(_) if explode => {
                    let prefix = format!("{name}=");
                    Some(list(
                        shape,
                        body.split(';')
                            .filter_map(|p| p.strip_prefix(prefix.as_str())),
                    ))
                }
                _ => {
                    let value = body.strip_prefix(name)?.strip_prefix('=').unwrap_or("");
                    Some(simple(shape, value, false))
                }
            }
        }
        _ => Some(simple(shape, raw, explode)),
    }
}

/// A query parameter.
pub(crate) fn query(
    shape: &Shape,
    style: ParamStyle,
    explode: bool,
    name: &str,
    pairs: &[(Cow<'_, str>, Cow<'_, str>)],
    claimed: &dyn Fn(&str) -> bool,
) -> Option<Value> {
    let mut values = pairs
        .iter()
        .filter(|(k, _)| k == name)
        .map(|(_, v)| v.as_ref());
    match (style, shape) {
        (ParamStyle::DeepObject, _) => {
            let prefix = format!("{name}[");
            let mut found = pairs
                .iter()
                .filter_map(|(k, v)| {
                    Some((
                        k.strip_prefix(prefix.as_str())?.strip_suffix(']')?,
                        v.as_ref(),
                    ))
                })
                .peekable();
            found.peek()?;
            Some(shape.object_value(found))
        }
        (_, Shape::Object { properties, .. }) if explode => {
            // Exploded form objects spread their properties over the query string: take the
            // declared properties, or every key no other parameter claims.
            let mut found = pairs
                .iter()
                .filter(|(k, _)| {
                    if properties.is_empty() {
                        !claimed(k)
                    } else {
                        properties.contains_key(k.as_ref())
                    }
                })
                .map(|(k, v)| (k.as_ref(), v.as_ref()))
                .peekable();
            found.peek()?;
            Some(shape.object_value(found))
        }
        (_, Shape::Array(_)) if explode => {
            let all: Vec<&str> = values.collect();
            (!all.is_empty()).then(|| list(shape, all.into_iter()))
        }
        (ParamStyle::SpaceDelimited, Shape::Array(_)) => {
            values.next().map(|v| list(shape, v.split(' ')))
        }
        (ParamStyle::PipeDelimited, Shape::Array(_)) => {
            values.next().map(|v| list(shape, v.split('|')))
        }
        _ => values.next().map(|v| simple(shape, v, false)),
    }
}

/// A header parameter; repeated header lines are joined with `,` as RFC 9110 allows.
pub(crate) fn header(shape: &Shape, explode: bool, values: &[&str]) -> Option<Value> {
    match (values, shape) {
        ([], _) => None,
        ([one], Shape::Primitive(_)) => Some(simple(shape, one.trim(), explode)),
        _ => {
            // Lists may be split over lines and padded after commas (RFC 9110 section 5.6.1).
            let joined = values
                .iter()
                .flat_map(|v| v.split(','))
                .map(str::trim)
                .collect::<Vec<_>>()
                .join(",");
            Some(simple(shape, &joined, explode))
        }
    }
}

/// A cookie parameter (`form` style).
pub(crate) fn cookie(shape: &Shape, name: &str, cookies: &[(&str, &str)]) -> Option<Value> {
    let raw = cookies.iter().find(|(k, _)| *k == name)?.1;
    Some(simple(shape, raw, false))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn shape(s: Value) -> Shape {
        Shape::of(Some(&s))
    }

    fn ints() -> Shape {
        shape(json!({"type": "array", "items": {"type": "integer"}}))
    }

    fn obj() -> Shape {
        shape(
            json!({"type": "object", "properties": {"r": {"type": "integer"}, "g": {"type": "string"}}}),
        )
    }

    #[test]
    fn path_styles() {
        let one = shape(json!({"type": "integer"}));
        assert_eq!(
            path(&one, ParamStyle::Simple, false, "id", "5"),
            Some(json!(5))
        );
        assert_eq!(
            path(&ints(), ParamStyle::Simple, false, "id", "3,4"),
            Some(json!([3, 4]))
        );
        assert_eq!(
            path(&obj(), ParamStyle::Simple, false, "c", "r,1,g,x"),
            Some(json!({"r": 1, "g": "x"}))
        );
        assert_eq!(
            path(&obj(), ParamStyle::Simple, true, "c", "r=1,g=x"),
            Some(json!({"r": 1, "g": "x"}))
        );
        assert_eq!(
            path(&ints(), ParamStyle::Label, false, "id", ".3,4"),
            Some(json!([3, 4]))
        );
        assert_eq!(
            path(&ints(), ParamStyle::Label, true, "id", ".3.4"),
            Some(json!([3, 4]))
        );
        assert_eq!(path(&one, ParamStyle::Label, false, "id", "5"), None);
        assert_eq!(
            path(&one, ParamStyle::Matrix, false, "id", ";id=5"),
            Some(json!(5))
        );
        assert_eq!(
            path(&ints(), ParamStyle::Matrix, false, "id", ";id=3,4"),
            Some(json!([3, 4]))
        );
        assert_eq!(
            path(&ints(), ParamStyle::Matrix, true, "id", ";id=3;id=4"),
            Some(json!([3, 4]))
        );
        assert_eq!(
            path(&obj(), ParamStyle::Matrix, true, "c", ";r=1;g=x"),
            Some(json!({"r": 1, "g": "x"}))
        );
    }

    #[test]
    fn query_styles() {
        let none = |_: &str| false;
        let q = parse_query("id=3&id=4&csv=1,2&sp=1%202&pi=1|2&r=7&g=x&c%5Br%5D=9&name=a+b");
        assert_eq!(
            query(&ints(), ParamStyle::Form, true, "id", &q, &none),
            Some(json!([3, 4]))
        );
        assert_eq!(
            query(&ints(), ParamStyle::Form, false, "csv", &q, &none),
            Some(json!([1, 2]))
        );
        assert_eq!(
            query(&ints(), ParamStyle::SpaceDelimited, false, "sp", &q, &none),
            Some(json!([1, 2]))
        );
        assert_eq!(
            query(&ints(), ParamStyle::PipeDelimited, false, "pi", &q, &none),
            Some(json!([1, 2]))
        );
        assert_eq!(
            query(&obj(), ParamStyle::Form, true, "c", &q, &none),
            Some(json!({"r": 7, "g": "x"}))
        );
        assert_eq!(
            query(&obj(), ParamStyle::DeepObject, true, "c", &q, &none),
            Some(json!({"r": 9}))
        );
        let s = shape(json!({"type": "string"}));
        assert_eq!(
            query(&s, ParamStyle::Form, true, "name", &q, &none),
            Some(json!("a b"))
        );
        assert_eq!(
            query(&s, ParamStyle::Form, true, "missing", &q, &none),
            None
        );
    }

    #[test]
    fn headers_and_cookies() {
        assert_eq!(
            header(&ints(), false, &["1, 2", "3"]),
            Some(json!([1, 2, 3]))
        );
        assert_eq!(header(&ints(), false, &[]), None);
        let cookies = parse_cookies("a=1; session=\"abc\"; b");
        assert_eq!(
            cookie(&shape(json!({"type": "integer"})), "a", &cookies),
            Some(json!(1))
        );
        assert_eq!(
            cookie(&shape(json!({"type": "string"})), "session", &cookies),
            Some(json!("abc"))
        );
    }
}
