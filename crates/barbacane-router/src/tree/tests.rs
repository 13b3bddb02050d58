use super::*;
use crate::MAX_PARAMS;

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

#[test]
fn many_params() {
    // Ten parameters, as in some public descriptions.
    let t = "/a/{p0}/{p1}/{p2}/{p3}/{p4}/{p5}/{p6}/{p7}/{p8}.{p9}";
    let r = router(&[(t, Get)]);
    let (_, p) = found(&r, Get, "/a/0/1/2/3/4/5/6/7/8.9");
    let want: Vec<(String, String)> = (0..10).map(|i| (format!("p{i}"), i.to_string())).collect();
    assert_eq!(p, want);
    // The maximum, each in its own segment.
    let t: String = (0..MAX_PARAMS).map(|i| format!("/{{p{i}}}")).collect();
    let path: String = (0..MAX_PARAMS).map(|i| format!("/v{i}")).collect();
    let r = router(&[(&t, Get)]);
    let (_, p) = found(&r, Get, &path);
    assert_eq!(p.len(), MAX_PARAMS);
    assert_eq!(p[31], ("p31".into(), "v31".into()));
}

#[test]
fn adjacent_params() {
    let r = router(&[
        ("/profiles/{id}{mediaTypeExtension}", Get),
        ("/api/projects/{id}{.format}", Get),
    ]);
    let (_, p) = found(&r, Get, "/profiles/42.json");
    assert_eq!(p, params(&[("id", "42"), ("mediaTypeExtension", ".json")]));
    let (_, p) = found(&r, Get, "/profiles/a.b.json");
    assert_eq!(p, params(&[("id", "a.b"), ("mediaTypeExtension", ".json")]));
    // No dot: the extension is empty, for request validation to judge.
    let (_, p) = found(&r, Get, "/profiles/42");
    assert_eq!(p, params(&[("id", "42"), ("mediaTypeExtension", "")]));
    let (_, p) = found(&r, Get, "/api/projects/42.json");
    assert_eq!(p, params(&[("id", "42"), (".format", "json")]));
    assert!(matches!(
        r.lookup(Get, &["api", "projects", "42"]),
        Lookup::NotFound
    ));
    assert!(matches!(
        r.lookup(Get, &["profiles", ".json"]),
        Lookup::NotFound
    ));
}

#[test]
fn adjacent_params_next_to_a_plain_param() {
    // A description with both: the extension route wins when there is a dot, the plain one
    // when there is none, whatever the insertion order.
    for routes in [
        [("/p/{id}", Get), ("/p/{id}{ext}", Get)],
        [("/p/{id}{ext}", Get), ("/p/{id}", Get)],
    ] {
        let r = router(&routes);
        let plain = routes.iter().position(|(t, _)| *t == "/p/{id}").unwrap();
        assert_eq!(found(&r, Get, "/p/42"), (plain, params(&[("id", "42")])));
        let (i, p) = found(&r, Get, "/p/42.json");
        assert_eq!(i, 1 - plain);
        assert_eq!(p, params(&[("id", "42"), ("ext", ".json")]));
    }
    // Without the plain route, the loose match is still found, after deeper parameters.
    let r = router(&[("/p/{id}{ext}", Get), ("/p/{id}/x", Get)]);
    assert_eq!(found(&r, Get, "/p/42").0, 0);
    assert_eq!(found(&r, Get, "/p/42/x").0, 1);
    // Any mixed segment that only matches by leaving an adjacent parameter empty comes
    // after the plain parameter, literals or not.
    let r = router(&[("/p/{id}", Get), ("/p/{a}{b}.json", Get)]);
    assert_eq!(
        found(&r, Get, "/p/x.json"),
        (0, params(&[("id", "x.json")]))
    );
    assert_eq!(
        found(&r, Get, "/p/x.y.json"),
        (1, params(&[("a", "x"), ("b", ".y")]))
    );
    let r = router(&[("/p/{a}{b}.json", Get)]);
    assert_eq!(
        found(&r, Get, "/p/x.json"),
        (0, params(&[("a", "x"), ("b", "")]))
    );
}

#[test]
fn adjacent_conflicts() {
    let mut b = RouterBuilder::new();
    b.insert("/p/{a}{b}", Get, 0).unwrap();
    let e = b.insert("/p/{x}{y}", Get, 1).unwrap_err();
    assert!(matches!(e, InsertError::Conflict { .. }));
    b.insert("/p/{x}{.y}", Get, 2).unwrap();
    let e = b.insert("/p/{z}{.w}", Get, 3).unwrap_err();
    assert!(matches!(e, InsertError::Conflict { .. }));
    b.insert("/p/{x}.{y}", Get, 4).unwrap();
    b.insert("/p/{x}", Get, 5).unwrap();
    let r = b.build();
    // The label route and `{x}.{y}` both have one literal character's worth of dot, but
    // the label route has none: `{x}.{y}` goes first.
    assert_eq!(found(&r, Get, "/p/1.2").0, 4);
    assert_eq!(found(&r, Get, "/p/1").0, 5);
}

#[test]
fn greedy_params() {
    let r = router(&[
        ("/files/{path+}", Get),
        ("/files/readme", Get),
        ("/files/{id}", Delete),
        ("/files/{id}/meta", Get),
    ]);
    assert_eq!(found(&r, Get, "/files/readme"), (1, vec![]));
    assert_eq!(
        found(&r, Get, "/files/a/b/c"),
        (0, params(&[("path", "a/b/c")]))
    );
    // One segment: the plain parameter's node matches first, and decides the methods.
    assert_eq!(found(&r, Delete, "/files/7"), (2, params(&[("id", "7")])));
    match r.lookup(Get, &["files", "7"]) {
        Lookup::MethodNotAllowed { allowed } => assert_eq!(allowed.allow_header(), "DELETE"),
        other => panic!("{other:?}"),
    }
    // A deeper route that matches wins; one that does not gives way to the greedy one.
    assert_eq!(found(&r, Get, "/files/7/meta"), (3, params(&[("id", "7")])));
    assert_eq!(
        found(&r, Get, "/files/7/other"),
        (0, params(&[("path", "7/other")]))
    );
    assert_eq!(
        found(&r, Get, "/files/readme/x"),
        (0, params(&[("path", "readme/x")]))
    );
    // Never zero segments.
    assert!(matches!(r.lookup(Get, &["files"]), Lookup::NotFound));
    assert!(matches!(r.lookup(Get, &["files", ""]), Lookup::NotFound));
    assert!(matches!(
        r.lookup(Get, &["files", "a", ""]),
        Lookup::NotFound
    ));
}

#[test]
fn greedy_alone() {
    let r = router(&[("/files/{path+}", Get), ("/{proxy+}", Post)]);
    assert_eq!(found(&r, Get, "/files/x"), (0, params(&[("path", "x")])));
    assert_eq!(found(&r, Post, "/a/b"), (1, params(&[("proxy", "a/b")])));
    // `/files/x` reaches the first route, which has no POST: the path decides.
    assert!(matches!(
        r.lookup(Post, &["files", "x"]),
        Lookup::MethodNotAllowed { .. }
    ));
    assert!(matches!(r.lookup(Post, &[]), Lookup::NotFound));
    assert_eq!(
        found(&r, Post, "/files"),
        (1, params(&[("proxy", "files")]))
    );
}

#[test]
fn greedy_value_from_a_normalized_path() {
    let r = router(&[("/f/{a}/{rest+}", Get)]);
    for (raw, want) in [
        ("/f/1/a/b/c", "a/b/c"),
        ("/f/1/a//b/", "a/b"),
        ("/f/1/a/./b/x/../c", "a/b/c"),
        ("/f/1/a%20b/c%2Fd", "a b/c/d"),
        ("/f/1/a/b%20c/d", "a/b c/d"),
        ("/f/1/%41", "A"),
        ("/f/1/x", "x"),
    ] {
        let path = crate::normalize_path(raw).unwrap();
        let Lookup::Found(m) = r.lookup_normalized(Get, &path) else {
            panic!("{raw}");
        };
        assert_eq!(m.params.get("rest"), Some(want), "{raw}");
        assert_eq!(m.params.get("a"), Some("1"));
        assert_eq!(m.params.len(), 2);
        let segments = path.as_strs();
        let Lookup::Found(s) = r.lookup(Get, &segments) else {
            panic!("{raw}");
        };
        assert_eq!(s.params.get("rest"), Some(want), "{raw}");
    }
}

#[test]
fn greedy_conflicts() {
    let mut b = RouterBuilder::new();
    b.insert("/f/{path+}", Get, 0).unwrap();
    b.insert("/f/{id}", Get, 1).unwrap();
    b.insert("/f/{name}.{ext}", Get, 2).unwrap();
    let e = b.insert("/f/{other+}", Get, 3).unwrap_err();
    assert_eq!(
        e,
        InsertError::Conflict {
            existing: "/f/{path+}".into(),
            method: Get,
        }
    );
    b.insert("/f/{other+}", Put, 4).unwrap();
    let r = b.build();
    assert_eq!(found(&r, Get, "/f/x").0, 1);
    assert_eq!(found(&r, Get, "/f/x.y").0, 2);
    assert_eq!(found(&r, Get, "/f/x/y").0, 0);
    assert_eq!(found(&r, Put, "/f/x/y"), (4, params(&[("other", "x/y")])));
}

#[test]
fn new_methods() {
    let r = router(&[
        ("/r", Method::Query),
        ("/r", Method::Purge),
        ("/r", Method::Link),
        ("/r", Get),
    ]);
    assert_eq!(found(&r, Method::Query, "/r").0, 0);
    assert_eq!(found(&r, Method::Purge, "/r").0, 1);
    match r.lookup(Method::Unlock, &["r"]) {
        Lookup::MethodNotAllowed { allowed } => {
            assert_eq!(allowed.allow_header(), "GET, HEAD, QUERY, LINK, PURGE");
        }
        other => panic!("{other:?}"),
    }
    let mut b = RouterBuilder::new();
    for (i, m) in Method::ALL.into_iter().enumerate() {
        b.insert("/all", m, i).unwrap();
    }
    let r = b.build();
    for (i, m) in Method::ALL.into_iter().enumerate() {
        assert_eq!(found(&r, m, "/all").0, i);
    }
}
