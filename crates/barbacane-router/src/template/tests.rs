use super::*;

fn err(t: &str) -> TemplateError {
    match Template::parse(t) {
        Ok(parsed) => panic!("{t} parsed: {parsed:?}"),
        Err(e) => e,
    }
}

fn shape(t: &str) -> String {
    match Template::parse(t) {
        Ok(parsed) => parsed.shape(),
        Err(e) => panic!("{t}: {e}"),
    }
}

#[test]
fn segment_kinds() {
    let t = Template::parse("/files/{name}.{ext}/v{version}/{id}").unwrap();
    assert_eq!(t.param_names(), ["name", "ext", "version", "id"]);
    assert_eq!(t.as_str(), "/files/{name}.{ext}/v{version}/{id}");
    assert_eq!(t.to_string(), t.as_str());
    let kinds: Vec<&str> = t
        .segments()
        .iter()
        .map(|s| match s {
            Segment::Static(_) => "static",
            Segment::Param => "param",
            Segment::Mixed(_) => "mixed",
        })
        .collect();
    assert_eq!(kinds, ["static", "mixed", "mixed", "param"]);
}

#[test]
fn shapes() {
    assert_eq!(shape("/"), "/");
    assert_eq!(shape("/files/{name}.{ext}"), "/files/{}.{}");
    assert_eq!(shape("/users/{id}"), shape("/users/{userId}"));
    assert_eq!(shape("/users/"), "/users");
    assert_eq!(shape("/a%7e/b%20c"), "/a~/b%20c");
    assert_eq!(shape("/a%7B{x}"), "/a%7B{}");
    assert_ne!(shape("/a/{x}"), shape("/a/{x}.json"));
}

#[test]
fn param_names_allow_dots_and_dashes() {
    let t = Template::parse("/{user.id}/{sub-id}/{A_9}").unwrap();
    assert_eq!(t.param_names(), ["user.id", "sub-id", "A_9"]);
}

#[test]
fn must_start_with_slash() {
    assert_eq!(err(""), TemplateError::MustStartWithSlash);
    assert_eq!(err("users"), TemplateError::MustStartWithSlash);
    assert_eq!(err("{id}"), TemplateError::MustStartWithSlash);
}

#[test]
fn unbalanced_braces() {
    assert_eq!(
        err("/a/{id"),
        TemplateError::UnbalancedBrace { position: 3 }
    );
    assert_eq!(
        err("/a/id}"),
        TemplateError::UnbalancedBrace { position: 5 }
    );
    assert_eq!(
        err("/{a{b}}"),
        TemplateError::UnbalancedBrace { position: 1 }
    );
    assert_eq!(
        err("/{a/b}"),
        TemplateError::UnbalancedBrace { position: 1 }
    );
    assert_eq!(err("/x/}{"), TemplateError::UnbalancedBrace { position: 3 });
}

#[test]
fn empty_param_name() {
    assert_eq!(err("/a/{}"), TemplateError::EmptyParamName { position: 3 });
    assert_eq!(err("/a/x{}"), TemplateError::EmptyParamName { position: 4 });
}

#[test]
fn adjacent_params() {
    assert_eq!(
        err("/{a}{b}"),
        TemplateError::AdjacentParams { position: 4 }
    );
    assert_eq!(
        err("/x/v{a}{b}.z"),
        TemplateError::AdjacentParams { position: 7 }
    );
}

#[test]
fn duplicate_param() {
    let e = err("/{id}/x/{id}");
    assert_eq!(e, TemplateError::DuplicateParam { name: "id".into() });
    let e = err("/{a}.{a}");
    assert_eq!(e, TemplateError::DuplicateParam { name: "a".into() });
}

#[test]
fn invalid_param_name() {
    for name in ["a b", "a*", "é", "a%20"] {
        let e = err(&format!("/{{{name}}}"));
        assert_eq!(e, TemplateError::InvalidParamName { name: name.into() });
    }
}

#[test]
fn too_many_params() {
    let ok = "/{a}/{b}/{c}/{d}/{e}/{f}/{g}/{h}";
    assert_eq!(Template::parse(ok).unwrap().param_names().len(), MAX_PARAMS);
    let e = err(&format!("{ok}/{{i}}"));
    assert_eq!(
        e,
        TemplateError::TooManyParams {
            position: ok.len() + 1
        }
    );
}

#[test]
fn empty_segments() {
    assert_eq!(err("//"), TemplateError::EmptySegment { position: 0 });
    assert_eq!(err("/a//b"), TemplateError::EmptySegment { position: 2 });
    assert_eq!(err("/a/b//"), TemplateError::EmptySegment { position: 4 });
    assert!(Template::parse("/a/b/").is_ok());
}

#[test]
fn dot_segments() {
    assert_eq!(err("/."), TemplateError::DotSegment { position: 1 });
    assert_eq!(err("/a/.."), TemplateError::DotSegment { position: 3 });
    assert_eq!(err("/a/%2E%2e"), TemplateError::DotSegment { position: 3 });
    assert!(Template::parse("/a/.../{x}..").is_ok());
}

#[test]
fn invalid_percent_encoding() {
    let bad = |t: &str, position| {
        assert_eq!(
            err(t),
            TemplateError::InvalidPercentEncoding { position },
            "{t}"
        );
    };
    bad("/a%", 1);
    bad("/x/a%g0", 3);
    bad("/x/{id}%C3", 7);
    bad("/a%00", 1);
    bad("/a\0", 1);
}

#[test]
fn too_many_segments() {
    let ok = "/s".repeat(MAX_SEGMENTS);
    assert!(Template::parse(&ok).is_ok());
    assert_eq!(err(&format!("{ok}/s")), TemplateError::TooManySegments);
}

#[test]
fn errors_display() {
    let errors = [
        TemplateError::MustStartWithSlash,
        TemplateError::UnbalancedBrace { position: 1 },
        TemplateError::EmptyParamName { position: 1 },
        TemplateError::AdjacentParams { position: 1 },
        TemplateError::DuplicateParam { name: "id".into() },
        TemplateError::InvalidParamName { name: "a b".into() },
        TemplateError::TooManyParams { position: 1 },
        TemplateError::EmptySegment { position: 1 },
        TemplateError::DotSegment { position: 1 },
        TemplateError::InvalidPercentEncoding { position: 1 },
        TemplateError::TooManySegments,
    ];
    for e in errors {
        let shown = e.to_string();
        assert!(!shown.is_empty());
        let _: &dyn std::error::Error = &e;
    }
}
