//! The bearer token of a request (RFC 6750) and its compact JWS serialization (RFC 7515).

use crate::keys::{self, Alg};
use barbacane_plugin_sdk::prelude::Request;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};

/// A compact JWS, decoded.
#[derive(Debug)]
pub struct Jws<'a> {
    /// `header.payload`, as sent: what was signed.
    pub signing_input: &'a str,
    /// The header's `alg`, accepted.
    pub alg: Alg,
    /// The header's `kid`.
    pub kid: Option<String>,
    /// The payload.
    pub claims: Map<String, Value>,
    /// The signature, decoded (never empty).
    pub signature: Vec<u8>,
}

/// The token of an `Authorization: Bearer <token>` field (the first one), when there is one:
/// the scheme in any case, one or more spaces, the token.
pub fn bearer_token(request: &Request) -> Option<String> {
    let value = request.header("authorization")?;
    let (scheme, token) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let token = token.trim_start_matches(' ');
    (!token.is_empty()).then(|| token.to_owned())
}

/// The first non-empty `access_token` parameter of a query string (RFC 6750, section 2.3),
/// percent-decoded (`+` is a space, as in forms; a token never holds one, so such a value
/// fails as a malformed token).
pub fn query_token(query: &str) -> Option<String> {
    query
        .split('&')
        .filter_map(|pair| pair.strip_prefix("access_token="))
        .map(percent_decode)
        .find(|token| !token.is_empty())
}

/// `%XX` escapes and `+` decoded; a malformed escape is kept as is.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| char::from(b).to_digit(16);
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push((h * 16 + l) as u8);
                    i += 3;
                    continue;
                }
                _ => out.push(b'%'),
            },
            b'+' => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A base64url part of a token: no padding, canonical.
fn decode_part(part: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(part).ok()
}

/// A JSON object from a token part.
fn json_object(part: &str) -> Option<Map<String, Value>> {
    match serde_json::from_slice(&decode_part(part)?) {
        Ok(Value::Object(map)) => Some(map),
        _ => None,
    }
}

/// Splits and decodes a compact JWS, and checks its header against `allowed`: `alg` must be
/// one of them (`none` and HMAC algorithms never are), no `crit`, `kid` a string when
/// present.
pub fn parse_jws<'a>(token: &'a str, allowed: &[Alg]) -> Result<Jws<'a>, String> {
    let parts: Vec<&str> = token.split('.').collect();
    let [header, payload, signature] = parts[..] else {
        return Err(if parts.len() == 5 {
            "a JWE (five parts): only signed tokens (JWS) are accepted".to_owned()
        } else {
            format!("{} parts: a compact JWS has three", parts.len())
        });
    };
    let header_json = json_object(header).ok_or("the header is not a base64url JSON object")?;
    let alg = match header_json.get("alg") {
        Some(Value::String(alg)) => alg,
        Some(_) => return Err("the header's `alg` is not a string".into()),
        None => return Err("the header has no `alg`".into()),
    };
    if let Some(why) = keys::refusal(alg) {
        return Err(format!("alg: {why}"));
    }
    let alg = Alg::parse(alg).ok_or("alg: not supported")?;
    if !allowed.contains(&alg) {
        return Err(format!("alg: {} is not in `algorithms`", alg.name()));
    }
    if header_json.contains_key("crit") {
        return Err("the header has `crit`: no extension is understood".into());
    }
    let kid = match header_json.get("kid") {
        None => None,
        Some(Value::String(kid)) => Some(kid.clone()),
        Some(_) => return Err("the header's `kid` is not a string".into()),
    };
    let claims = json_object(payload).ok_or("the payload is not a base64url JSON object")?;
    let signature = decode_part(signature).ok_or("the signature is not base64url")?;
    if signature.is_empty() {
        return Err("the signature is empty".into());
    }
    Ok(Jws {
        signing_input: &token[..header.len() + 1 + payload.len()],
        alg,
        kid,
        claims,
        signature,
    })
}

/// The values of a claim that lists names: a space-separated string, or an array of
/// strings (values holding whitespace, or empty, skipped).
pub fn names(value: Option<&Value>) -> Vec<String> {
    match value {
        Some(Value::String(s)) => s.split_whitespace().map(str::to_owned).collect(),
        Some(Value::Array(items)) => array_names(items),
        _ => Vec::new(),
    }
}

/// The strings of an array that are usable names (not empty, no whitespace).
pub fn array_names(items: &[Value]) -> Vec<String> {
    items
        .iter()
        .filter_map(Value::as_str)
        .filter(|s| is_name(s))
        .map(str::to_owned)
        .collect()
}

/// Whether a value can be one name of a space-joined list: not empty, no whitespace.
pub fn is_name(s: &str) -> bool {
    !s.is_empty() && !s.chars().any(char::is_whitespace)
}

/// An RFC 6749 `scope-token`: `%x21 / %x23-5B / %x5D-7E`, at least one.
pub fn is_scope_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b == 0x21 || (0x23..=0x5b).contains(&b) || (0x5d..=0x7e).contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_access_token_parameter_is_found_and_decoded() {
        assert_eq!(query_token("access_token=a.b.c"), Some("a.b.c".into()));
        assert_eq!(
            query_token("x=1&access_token=&access_token=a%2Eb%2ec&y"),
            Some("a.b.c".into())
        );
        assert_eq!(query_token("my_access_token=a.b.c"), None);
        assert_eq!(query_token("access_token"), None);
        assert_eq!(query_token("access_token=a+b%4"), Some("a b%4".into()));
        assert_eq!(query_token("access_token=%zz%"), Some("%zz%".into()));
    }
}
