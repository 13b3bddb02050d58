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
            Segment::Greedy => "greedy",
        })
        .collect();
    assert_eq!(kinds, ["static", "mixed", "mixed", "param"]);
    assert_eq!(t.param_depths(), [1, 1, 2, 3]);
    let t = Template::parse("/a/{id}{ext}/{rest+}").unwrap();
    assert_eq!(t.param_names(), ["id", "ext", "rest"]);
    assert_eq!(t.param_depths(), [1, 1, 2]);
    assert!(matches!(
        t.segments(),
        [_, Segment::Mixed(_), Segment::Greedy]
    ));
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
    // Adjacent parameters: names are erased, label parameters are not.
    assert_eq!(shape("/p/{id}{ext}"), "/p/{}{}");
    assert_eq!(shape("/p/{id}{ext}"), shape("/p/{x}{y}"));
    assert_eq!(shape("/p/{id}{.format}"), "/p/{}{.}");
    assert_eq!(shape("/p/{id}{.format}"), shape("/p/{x}{.y}"));
    assert_ne!(shape("/p/{a}{b}"), shape("/p/{a}.{b}"));
    assert_ne!(shape("/p/{a}{b}"), shape("/p/{a}{.b}"));
    assert_ne!(shape("/p/{a}{b}"), shape("/p/{a}"));
    // A name starting with `.` means nothing special outside a run of parameters.
    assert_eq!(shape("/p/{.a}"), shape("/p/{a}"));
    assert_eq!(shape("/p/x.{.a}"), shape("/p/x.{a}"));
    assert_eq!(shape("/p/{.a}{b}"), shape("/p/{a}{b}"));
    // Greedy parameters.
    assert_eq!(shape("/files/{path+}"), "/files/{+}");
    assert_eq!(shape("/files/{path+}"), shape("/files/{p+}/"));
    assert_ne!(shape("/files/{path+}"), shape("/files/{path}"));
    assert_eq!(shape("/{proxy+}"), "/{+}");
}

#[test]
fn adjacent_params() {
    let t = Template::parse("/profiles/{id}{mediaTypeExtension}").unwrap();
    assert_eq!(t.param_names(), ["id", "mediaTypeExtension"]);
    let t = Template::parse("/api/projects/{id}{.format}").unwrap();
    assert_eq!(t.param_names(), ["id", ".format"]);
    let t = Template::parse("/x/v{a}{b}{.c}.z").unwrap();
    assert_eq!(t.param_names(), ["a", "b", ".c"]);
    assert!(matches!(t.segments(), [_, Segment::Mixed(_)]));
    let e = err("/{a}{a}");
    assert_eq!(e, TemplateError::DuplicateParam { name: "a".into() });
}

#[test]
fn greedy_params() {
    let t = Template::parse("/files/{path+}").unwrap();
    assert_eq!(t.param_names(), ["path"]);
    let t = Template::parse("/{proxy+}/").unwrap();
    assert_eq!(t.param_names(), ["proxy"]);
    let t = Template::parse("/a/{id}/{.rest+}").unwrap();
    assert_eq!(t.param_names(), ["id", ".rest"]);
    let misplaced = |t: &str, position| {
        assert_eq!(
            err(t),
            TemplateError::MisplacedGreedyParam { position },
            "{t}"
        );
    };
    misplaced("/files/{path+}/meta", 7);
    misplaced("/{a+}/{b+}", 1);
    misplaced("/files/x{path+}", 8);
    misplaced("/files/{path+}x", 7);
    misplaced("/files/{a}{path+}", 10);
    misplaced("/files/{path+}.json", 7);
    assert_eq!(err("/a/{+}"), TemplateError::EmptyParamName { position: 3 });
    let invalid = |name: &str| TemplateError::InvalidParamName { name: name.into() };
    assert_eq!(err("/a/{p++}"), invalid("p+"));
    assert_eq!(err("/a/{p+q}"), invalid("p+q"));
    assert_eq!(err("/a/{+p}"), invalid("+p"));
    let e = err("/{path}/{path+}");
    assert_eq!(
        e,
        TemplateError::DuplicateParam {
            name: "path".into()
        }
    );
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
    let names: Vec<String> = (0..MAX_PARAMS).map(|i| format!("p{i}")).collect();
    let ok: String = names.iter().map(|n| format!("/{{{n}}}")).collect();
    assert_eq!(Template::parse(&ok).unwrap().param_names(), names);
    let e = err(&format!("{ok}/{{extra}}"));
    assert_eq!(
        e,
        TemplateError::TooManyParams {
            position: ok.len() + 1
        }
    );
    // Ten parameters, as some public descriptions have, some of them adjacent.
    let ten = "/a/{p0}/{p1}.{p2}/{p3}{p4}/{p5}/{p6}/{p7}/{p8}/{p9+}";
    assert_eq!(Template::parse(ten).unwrap().param_names().len(), 10);
    // All in one segment.
    let run: String = names.iter().map(|n| format!("{{{n}}}")).collect();
    assert_eq!(
        Template::parse(&format!("/{run}"))
            .unwrap()
            .param_names()
            .len(),
        MAX_PARAMS
    );
    assert!(matches!(
        err(&format!("/{run}{{x}}")),
        TemplateError::TooManyParams { .. }
    ));
    assert!(matches!(
        err(&format!("{ok}/{{rest+}}")),
        TemplateError::TooManyParams { .. }
    ));
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
        TemplateError::MisplacedGreedyParam { position: 1 },
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
