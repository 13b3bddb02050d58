use super::*;
use barbacane_plugin_sdk::testing::{FakeHost, middleware_from};
use serde_json::{Value as Json, json};

#[test]
fn probe() {
    for e in ["request.method ==", "", "reqest.method == 'GET'", "request.methd == 'x'", "1 +", "request.headers.exists(h, h == 'x')", "'a' in request.headers", "has(request.foo)", "request.?foo.orValue(1) == 1"] {
        let r = middleware_from::<Cel>(&json!({"expression": e}));
        println!("{e:?} => {:?}", r.map(|c| c.compiled.map(|c| c.uses)));
    }
    let mut host = FakeHost::new();
    for e in ["request.path", "request.headers['x'] == 'a'", "1 == 1.0", "1 < 2.5", "request.path.matches('[')", "'A'.lowerAscii() == 'a'", "request.headers.?x.orValue('') == ''", "size(request.path_params) == 0", "request.path_params", "1/0 == 1", "request.query == ''"] {
        let mut c: Cel = middleware_from(&json!({"expression": e})).unwrap();
        let a = host.on_request(&mut c);
        let body = match &a { Action::Respond(r) => String::from_utf8_lossy(&r.body).into_owned(), _ => String::new() };
        println!("{e:?} => {a:?} {body}");
    }
    let _ = Json::Null;
}
