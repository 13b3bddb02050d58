use super::*;

fn router(routes: &[(&str, Method)]) -> Router<usize> {
    let mut b = RouterBuilder::new();
    for (i, (t, m)) in routes.iter().enumerate() {
        b.insert(t, *m, i).unwrap();
    }
    b.build()
}

fn split(path: &str) -> Vec<&str> {
    path.split('/').filter(|s| !s.is_empty()).collect()
}

/// `(route index, params)` for a found route, panicking otherwise.
fn found(r: &Router<usize>, method: Method, path: &str) -> (usize, Vec<(String, String)>) {
    match r.lookup(method, &split(path)) {
        Lookup::Found(m) => {
            let params = m.params.iter().map(|(n, v)| (n.into(), v.into())).collect();
            (*m.value, params)
        }
        other => panic!("{method} {path}: {other:?}"),
    }
}

fn params(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(n, v)| ((*n).into(), (*v).into()))
        .collect()
}

use Method::{Delete, Get, Head, Post, Put};

#[test]
fn root_and_statics() {
    let r = router(&[("/", Get), ("/a", Get), ("/a/b", Get)]);
    assert_eq!(found(&r, Get, "/"), (0, vec![]));
    assert_eq!(found(&r, Get, "/a"), (1, vec![]));
    assert_eq!(found(&r, Get, "/a/b"), (2, vec![]));
    assert!(matches!(r.lookup(Get, &["a", "c"]), Lookup::NotFound));
    assert!(matches!(r.lookup(Get, &["A"]), Lookup::NotFound));
    assert_eq!(r.len(), 3);
    assert!(!r.is_empty());
    assert!(RouterBuilder::<()>::new().build().is_empty());
}

#[test]
fn static_beats_param_in_any_insertion_order() {
    for routes in [
        [("/users/{id}", Get), ("/users/me", Get)],
        [("/users/me", Get), ("/users/{id}", Get)],
    ] {
        let r = router(&routes);
        let me = routes.iter().position(|(t, _)| *t == "/users/me").unwrap();
        assert_eq!(found(&r, Get, "/users/me").0, me);
        assert_eq!(found(&r, Get, "/users/42").0, 1 - me);
    }
}

#[test]
fn param_capture() {
    let r = router(&[("/users/{userId}/orders/{orderId}", Get)]);
    let (_, p) = found(&r, Get, "/users/u1/orders/o%2F2");
    assert_eq!(p, params(&[("userId", "u1"), ("orderId", "o%2F2")]));
    let segs = ["users", "a/b", "orders", "é"];
    match r.lookup(Get, &segs) {
        Lookup::Found(m) => {
            assert_eq!(m.params.get("userId"), Some("a/b"));
            assert_eq!(m.params.get("orderId"), Some("é"));
            assert_eq!(m.params.len(), 2);
            assert_eq!(m.template, "/users/{userId}/orders/{orderId}");
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        r.lookup(Get, &["users", "", "orders", "x"]),
        Lookup::NotFound
    ));
}

#[test]
fn mixed_segments() {
    let r = router(&[
        ("/files/{name}.{ext}", Get),
        ("/v{version}/x", Get),
        ("/d/{a}-{b}.json", Get),
    ]);
    let (_, p) = found(&r, Get, "/files/report.pdf");
    assert_eq!(p, params(&[("name", "report"), ("ext", "pdf")]));
    let (_, p) = found(&r, Get, "/files/a.b.c");
    assert_eq!(p, params(&[("name", "a.b"), ("ext", "c")]));
    let (_, p) = found(&r, Get, "/v2/x");
    assert_eq!(p, params(&[("version", "2")]));
    let (_, p) = found(&r, Get, "/d/x-y-z.json");
    assert_eq!(p, params(&[("a", "x-y"), ("b", "z")]));
    for miss in [
        "/files/noext",
        "/files/.pdf",
        "/files/a.",
        "/v/x",
        "/d/x-.json",
    ] {
        assert!(
            matches!(r.lookup(Get, &split(miss)), Lookup::NotFound),
            "{miss}"
        );
    }
}

#[test]
fn mixed_priority() {
    let r = router(&[
        ("/f/{any}", Get),
        ("/f/{n}.{e}", Get),
        ("/f/{n}.json", Get),
        ("/f/data.json", Get),
    ]);
    assert_eq!(found(&r, Get, "/f/data.json").0, 3);
    assert_eq!(found(&r, Get, "/f/x.json").0, 2);
    assert_eq!(found(&r, Get, "/f/x.xml").0, 1);
    assert_eq!(found(&r, Get, "/f/x").0, 0);
    // Same literal count: insertion order.
    let r = router(&[("/{a}.x", Get), ("/x.{a}", Get)]);
    assert_eq!(found(&r, Get, "/x.x").0, 0);
    let r = router(&[("/x.{a}", Get), ("/{a}.x", Get)]);
    assert_eq!(found(&r, Get, "/x.x").0, 0);
}

#[test]
fn backtracking() {
    let r = router(&[("/a/b/c", Get), ("/a/{x}/d", Get)]);
    assert_eq!(found(&r, Get, "/a/b/c").0, 0);
    let (i, p) = found(&r, Get, "/a/b/d");
    assert_eq!((i, p), (1, params(&[("x", "b")])));
    // A mixed branch that fails deeper down gives way to the parameter, without leaking
    // its captures.
    let r = router(&[("/f/{n}.{e}/meta", Get), ("/f/{id}/raw", Get)]);
    assert_eq!(found(&r, Get, "/f/a.b/raw"), (1, params(&[("id", "a.b")])));
    // A path ending at a node without routes backtracks too.
    let r = router(&[("/a/b/c", Get), ("/a/{x}", Get)]);
    assert_eq!(found(&r, Get, "/a/b").0, 1);
}

#[test]
fn head_falls_back_to_get() {
    let r = router(&[("/a", Get), ("/b", Get), ("/b", Head)]);
    assert_eq!(found(&r, Head, "/a").0, 0);
    assert_eq!(found(&r, Head, "/b").0, 2);
    let r = router(&[("/a", Post)]);
    match r.lookup(Head, &["a"]) {
        Lookup::MethodNotAllowed { allowed } => assert_eq!(allowed.allow_header(), "POST"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn method_not_allowed() {
    let r = router(&[("/a/{id}", Get), ("/a/{id}", Post), ("/a/{id}", Delete)]);
    match r.lookup(Put, &["a", "1"]) {
        Lookup::MethodNotAllowed { allowed } => {
            assert!(allowed.contains(Head));
            assert_eq!(allowed.allow_header(), "GET, HEAD, POST, DELETE");
        }
        other => panic!("{other:?}"),
    }
    // The first matching path decides, even if a lower-priority one has the method.
    let r = router(&[("/a/me", Get), ("/a/{id}", Put)]);
    match r.lookup(Put, &["a", "me"]) {
        Lookup::MethodNotAllowed { allowed } => assert_eq!(allowed.allow_header(), "GET, HEAD"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn not_found() {
    let r = router(&[("/a/{id}", Get)]);
    for path in [&[][..], &["a"], &["a", "1", "2"], &["b", "1"]] {
        assert!(matches!(r.lookup(Get, path), Lookup::NotFound), "{path:?}");
    }
}

#[test]
fn conflicts() {
    let mut b = RouterBuilder::new();
    b.insert("/users/{id}", Get, 0).unwrap();
    let e = b.insert("/users/{userId}", Get, 1).unwrap_err();
    let expected = InsertError::Conflict {
        existing: "/users/{id}".into(),
        method: Get,
    };
    assert_eq!(e, expected);
    assert!(e.to_string().contains("/users/{id}"));
    assert!(std::error::Error::source(&e).is_none());
    let e = b.insert("/users/{id}/", Get, 2).unwrap_err();
    assert!(matches!(e, InsertError::Conflict { .. }));
    b.insert("/users/{userId}", Delete, 3).unwrap();
    let r = b.build();
    assert_eq!(r.len(), 2);
    assert_eq!(found(&r, Get, "/users/7"), (0, params(&[("id", "7")])));
    assert_eq!(
        found(&r, Delete, "/users/7"),
        (3, params(&[("userId", "7")]))
    );
}

#[test]
fn mixed_conflicts_ignore_names() {
    let mut b = RouterBuilder::new();
    b.insert("/f/{a}.{b}", Get, 0).unwrap();
    let e = b.insert("/f/{x}.{y}", Get, 1).unwrap_err();
    assert!(matches!(e, InsertError::Conflict { .. }));
    b.insert("/f/{x}.{y}", Put, 2).unwrap();
    let r = b.build();
    assert_eq!(
        found(&r, Put, "/f/1.2"),
        (2, params(&[("x", "1"), ("y", "2")]))
    );
}

#[test]
fn invalid_template() {
    let mut b = RouterBuilder::<()>::new();
    let e = b.insert("users", Get, ()).unwrap_err();
    assert_eq!(e, InsertError::Template(TemplateError::MustStartWithSlash));
    assert!(std::error::Error::source(&e).is_some());
    assert!(!e.to_string().is_empty());
    assert!(b.build().is_empty());
}

#[test]
fn decoded_literals_match_decoded_segments() {
    let r = router(&[("/a%20b/{x}", Get)]);
    assert_eq!(found(&r, Get, "/a b/1").0, 0);
}

#[test]
fn router_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Router<String>>();
}
