//! `barbacane:policy`: Rego policies bundled in the artifact, evaluated natively.
//!
//! - `eval(policy.., query.., input.., with) -> i32` (three pointer/length pairs and a flag
//!   word): evaluates rule `query` of the bundled policy `policy` over `input` (a JSON
//!   object; length 0 is `{}`), to which the host adds `request` (bit 0 of `with`) and
//!   `context` (bit 1) built from the exchange. Returns the length of the rule's value as
//!   JSON in the result slot, -2 when the rule is undefined for this input, -1 when it
//!   cannot be evaluated (the reason in the result slot).
//! - `input(with) -> i32`: the same `request` / `context` members as a JSON object in the
//!   result slot, for a plugin that sends them elsewhere (an OPA server).

use serde_json::{Map, Value};
use wasmtime::{Caller, Linker};

use crate::memory::{read_bytes, read_str};
use crate::state::{ExchangeState, HostState};

const MODULE: &str = "barbacane:policy";
/// `with` bit: add `request`.
const WITH_REQUEST: i32 = 1;
/// `with` bit: add `context`.
const WITH_CONTEXT: i32 = 2;

pub(crate) fn add_to_linker(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    linker.func_wrap(MODULE, "eval", eval)?;
    linker.func_wrap(
        MODULE,
        "input",
        |mut c: Caller<'_, HostState>, with: i32| {
            let mut object = Map::new();
            add_members(&mut object, &c.data().exchange, with);
            let json = Value::Object(object).to_string();
            c.data_mut().give(json)
        },
    )?;
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn eval(
    mut c: Caller<'_, HostState>,
    pptr: i32,
    plen: i32,
    qptr: i32,
    qlen: i32,
    iptr: i32,
    ilen: i32,
    with: i32,
) -> wasmtime::Result<i32> {
    let policy = read_str(&mut c, pptr, plen)?;
    let query = read_str(&mut c, qptr, qlen)?;
    let raw = read_bytes(&mut c, iptr, ilen)?;
    let state = c.data_mut();
    let Some(policies) = state.policies.clone() else {
        return Ok(fail(
            state,
            "this gateway has no policies for the plugin".into(),
        ));
    };
    let mut object = if raw.is_empty() {
        Map::new()
    } else {
        match serde_json::from_slice::<Value>(&raw) {
            Ok(Value::Object(map)) => map,
            Ok(_) => return Ok(fail(state, "input is not a JSON object".into())),
            Err(e) => return Ok(fail(state, format!("input is not JSON: {e}"))),
        }
    };
    add_members(&mut object, &state.exchange, with);
    let input = regorus::Value::from(Value::Object(object));
    Ok(match policies.eval(&policy, &query, input) {
        Ok(Some(value)) => match value.to_json_str() {
            Ok(json) => state.give(json),
            Err(e) => fail(state, e.to_string()),
        },
        Ok(None) => -2,
        Err(message) => fail(state, message),
    })
}

fn fail(state: &mut HostState, message: String) -> i32 {
    tracing::debug!(plugin = state.plugin.as_str(), %message, "policy evaluation failed");
    state.give(message);
    -1
}

/// Adds `request` and `context` to `object` as `with` asks.
fn add_members(object: &mut Map<String, Value>, exchange: &ExchangeState, with: i32) {
    if with & WITH_REQUEST != 0 {
        object.insert("request".into(), request(exchange));
    }
    if with & WITH_CONTEXT != 0 {
        let context = exchange
            .context
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect();
        object.insert("context".into(), Value::Object(context));
    }
}

/// `{method, path, params, query, query_string, headers, client_ip}`: header values of a
/// repeated name joined by `", "`, query values percent-decoded (the first of a repeated
/// name).
fn request(exchange: &ExchangeState) -> Value {
    let mut headers = Map::new();
    for name in exchange.headers.keys() {
        let mut joined = String::new();
        for value in exchange.headers.get_all(name) {
            if !joined.is_empty() {
                joined.push_str(", ");
            }
            joined.push_str(&String::from_utf8_lossy(value.as_bytes()));
        }
        headers.insert(name.as_str().to_owned(), Value::String(joined));
    }
    let params = exchange
        .path_params
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    let raw_query = exchange.uri.query().unwrap_or("");
    let mut query = Map::new();
    for pair in raw_query.split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        query
            .entry(decode(name))
            .or_insert_with(|| Value::String(decode(value)));
    }
    let mut out = Map::new();
    out.insert("method".into(), exchange.method.as_str().into());
    out.insert("path".into(), exchange.uri.path().into());
    out.insert("params".into(), Value::Object(params));
    out.insert("query".into(), Value::Object(query));
    out.insert("query_string".into(), raw_query.into());
    out.insert("headers".into(), Value::Object(headers));
    if let Some(ip) = exchange.client_ip {
        out.insert("client_ip".into(), ip.to_string().into());
    }
    Value::Object(out)
}

/// Form-style percent-decoding (`+` is a space); invalid escapes are kept as written.
fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let byte = bytes[i];
        let hex = |b: u8| (b as char).to_digit(16);
        match byte {
            b'+' => out.push(b' '),
            b'%' => {
                let digits = bytes.get(i + 1..i + 3).map(|d| (hex(d[0]), hex(d[1])));
                match digits {
                    Some((Some(h), Some(l))) => {
                        out.push((h * 16 + l) as u8);
                        i += 2;
                    }
                    _ => out.push(byte),
                }
            }
            _ => out.push(byte),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_request_member_holds_what_policies_match_on() {
        let mut exchange = ExchangeState {
            method: http::Method::DELETE,
            uri: "/orders/7?force=yes%21&x=1&force=no&flag".parse().unwrap(),
            path_params: vec![("id".into(), "7".into())],
            ..Default::default()
        };
        exchange.headers.append("x-a", "1".parse().unwrap());
        exchange.headers.append("x-a", "2".parse().unwrap());
        exchange.context.insert("auth.sub".into(), "alice".into());
        let mut object = Map::new();
        add_members(&mut object, &exchange, WITH_REQUEST | WITH_CONTEXT);
        let input = Value::Object(object);
        assert_eq!(input["request"]["method"], "DELETE");
        assert_eq!(input["request"]["path"], "/orders/7");
        assert_eq!(input["request"]["params"]["id"], "7");
        assert_eq!(input["request"]["query"]["force"], "yes!");
        assert_eq!(input["request"]["query"]["flag"], "");
        assert_eq!(input["request"]["headers"]["x-a"], "1, 2");
        assert_eq!(input["context"]["auth.sub"], "alice");
        let mut only_request = Map::new();
        add_members(&mut only_request, &exchange, WITH_REQUEST);
        assert!(!only_request.contains_key("context"));
    }

    #[test]
    fn decoding_keeps_broken_escapes() {
        assert_eq!(decode("a+b%20c"), "a b c");
        assert_eq!(decode("100%"), "100%");
        assert_eq!(decode("%zz"), "%zz");
    }
}
