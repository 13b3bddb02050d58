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

use regorus::Value;
use regorus::value::Object;
use std::sync::LazyLock;
use wasmtime::{Caller, Linker};

use crate::memory::{read_bytes, read_str};
use crate::state::{ExchangeState, HostState};

const MODULE: &str = "barbacane:policy";
/// `with` bit: add `request`.
const WITH_REQUEST: i32 = 1;
/// `with` bit: add `context`.
const WITH_CONTEXT: i32 = 2;

/// The member names of the input, made once: each use is a reference count, not a string.
struct Keys {
    request: Value,
    context: Value,
    method: Value,
    path: Value,
    params: Value,
    query: Value,
    query_string: Value,
    headers: Value,
    client_ip: Value,
}

static KEYS: LazyLock<Keys> = LazyLock::new(|| Keys {
    request: "request".into(),
    context: "context".into(),
    method: "method".into(),
    path: "path".into(),
    params: "params".into(),
    query: "query".into(),
    query_string: "query_string".into(),
    headers: "headers".into(),
    client_ip: "client_ip".into(),
});

pub(crate) fn add_to_linker(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    linker.func_wrap(MODULE, "eval", eval)?;
    linker.func_wrap(
        MODULE,
        "input",
        |mut c: Caller<'_, HostState>, with: i32| {
            let mut object = Object::new();
            add_members(&mut object, &c.data().exchange, with);
            // Strings only: serializing cannot fail.
            let json = serde_json::to_string(&Value::from(object)).unwrap_or_default();
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
    // Parsed straight into regorus's values (no `serde_json::Value` in between).
    let mut object = if raw.is_empty() {
        Object::new()
    } else {
        match serde_json::from_slice::<Value>(&raw) {
            Ok(Value::Object(map)) => regorus::Rc::unwrap_or_clone(map),
            Ok(_) => return Ok(fail(state, "input is not a JSON object".into())),
            Err(e) => return Ok(fail(state, format!("input is not JSON: {e}"))),
        }
    };
    add_members(&mut object, &state.exchange, with);
    Ok(match policies.eval(&policy, &query, Value::from(object)) {
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
fn add_members(object: &mut Object, exchange: &ExchangeState, with: i32) {
    let keys = &*KEYS;
    if with & WITH_REQUEST != 0 {
        object.insert(keys.request.clone(), request(exchange, keys));
    }
    if with & WITH_CONTEXT != 0 {
        let context: Object = exchange
            .context
            .iter()
            .map(|(k, v)| (Value::from(k.as_str()), Value::from(v.as_str())))
            .collect();
        object.insert(keys.context.clone(), context.into());
    }
}

/// `{method, path, params, query, query_string, headers, client_ip}`: header values of a
/// repeated name joined by `", "`, query values percent-decoded (the first of a repeated
/// name).
fn request(exchange: &ExchangeState, keys: &Keys) -> Value {
    let mut headers = Object::new();
    // A name's values come one after another.
    let mut pairs = exchange.headers.iter().peekable();
    while let Some((name, first)) = pairs.next() {
        let value = if pairs.peek().is_some_and(|(next, _)| *next == name) {
            let mut joined = String::from_utf8_lossy(first.as_bytes()).into_owned();
            while let Some((_, value)) = pairs.next_if(|(next, _)| *next == name) {
                joined.push_str(", ");
                joined.push_str(&String::from_utf8_lossy(value.as_bytes()));
            }
            Value::from(joined)
        } else {
            Value::from(&*String::from_utf8_lossy(first.as_bytes()))
        };
        headers.insert(Value::from(name.as_str()), value);
    }
    let params: Object = exchange
        .path_params
        .iter()
        .map(|(k, v)| (Value::from(k.as_str()), Value::from(v.as_str())))
        .collect();
    let raw_query = exchange.uri.query().unwrap_or("");
    let mut query = Object::new();
    for pair in raw_query.split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        query.get_or_insert_with(decoded(name), || decoded(value));
    }
    let mut out = Object::new();
    out.insert(keys.method.clone(), exchange.method.as_str().into());
    out.insert(keys.path.clone(), exchange.uri.path().into());
    out.insert(keys.params.clone(), params.into());
    out.insert(keys.query.clone(), query.into());
    out.insert(keys.query_string.clone(), raw_query.into());
    out.insert(keys.headers.clone(), headers.into());
    if let Some(ip) = exchange.client_ip {
        out.insert(keys.client_ip.clone(), ip.to_string().into());
    }
    out.into()
}

/// [`decode`]d `text` as a string value (copied once when there is nothing to decode).
fn decoded(text: &str) -> Value {
    if text.contains(['%', '+']) {
        Value::from(decode(text))
    } else {
        Value::from(text)
    }
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
        exchange.headers.append("x-b", "b".parse().unwrap());
        exchange.headers.append("x-a", "2".parse().unwrap());
        exchange.headers.append("x-a", "3".parse().unwrap());
        exchange.context.insert("auth.sub".into(), "alice".into());
        let mut object = Object::new();
        add_members(&mut object, &exchange, WITH_REQUEST | WITH_CONTEXT);
        let input = serde_json::to_value(Value::from(object)).unwrap();
        assert_eq!(input["request"]["method"], "DELETE");
        assert_eq!(input["request"]["path"], "/orders/7");
        assert_eq!(input["request"]["params"]["id"], "7");
        assert_eq!(input["request"]["query"]["force"], "yes!");
        assert_eq!(input["request"]["query"]["flag"], "");
        assert_eq!(input["request"]["headers"]["x-a"], "1, 2, 3");
        assert_eq!(input["request"]["headers"]["x-b"], "b");
        assert_eq!(input["context"]["auth.sub"], "alice");
        let mut only_request = Object::new();
        add_members(&mut only_request, &exchange, WITH_REQUEST);
        assert!(!only_request.contains_key(&"context".into()));
    }

    #[test]
    fn decoding_keeps_broken_escapes() {
        assert_eq!(decode("a+b%20c"), "a b c");
        assert_eq!(decode("100%"), "100%");
        assert_eq!(decode("%zz"), "%zz");
    }
}
