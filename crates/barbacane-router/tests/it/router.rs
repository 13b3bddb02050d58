use std::collections::HashMap;

use barbacane_router::{Lookup, Method, RouterBuilder, Template};
use proptest::prelude::*;

/// A generated template. Literals come from `[A-Z_]` and values from `[a-z0-9]`, so a
/// filled path splits back into exactly the values it was filled with.
#[derive(Debug, Clone)]
enum Piece {
    Literal(String),
    Param,
}

type Segment = Vec<Piece>;

fn segment() -> impl Strategy<Value = Segment> {
    let mixed = (
        any::<bool>(),
        1..=3usize,
        prop::collection::vec("[A-Z_]{1,3}", 4),
    )
        .prop_map(|(literal_first, params, literals)| {
            let mut literals = literals.into_iter();
            let mut pieces = Vec::new();
            for i in 0..params {
                if literal_first || i > 0 {
                    pieces.push(Piece::Literal(literals.next().unwrap_or_default()));
                }
                pieces.push(Piece::Param);
            }
            if !literal_first {
                pieces.push(Piece::Literal(literals.next().unwrap_or_default()));
            }
            pieces
        });
    prop_oneof![
        "[A-Z_]{1,6}".prop_map(|l| vec![Piece::Literal(l)]),
        Just(vec![Piece::Param]),
        mixed,
    ]
}

fn template() -> impl Strategy<Value = Vec<Segment>> {
    prop::collection::vec(segment(), 0..6).prop_filter("at most 8 params", |segments| {
        param_count(segments) <= barbacane_router::MAX_PARAMS
    })
}

fn param_count(segments: &[Segment]) -> usize {
    segments
        .iter()
        .flatten()
        .filter(|p| matches!(p, Piece::Param))
        .count()
}

fn render(segments: &[Segment]) -> String {
    let mut out = String::new();
    let mut n = 0;
    for segment in segments {
        out.push('/');
        for piece in segment {
            match piece {
                Piece::Literal(l) => out.push_str(l),
                Piece::Param => {
                    out.push_str(&format!("{{p{n}}}"));
                    n += 1;
                }
            }
        }
    }
    if out.is_empty() {
        out.push('/');
    }
    out
}

fn fill<S: AsRef<str>>(segments: &[Segment], values: &[S]) -> Vec<String> {
    let mut values = values.iter();
    segments
        .iter()
        .map(|segment| {
            let mut s = String::new();
            for piece in segment {
                match piece {
                    Piece::Literal(l) => s.push_str(l),
                    Piece::Param => s.push_str(values.next().map_or("", |v| v.as_ref())),
                }
            }
            s
        })
        .collect()
}

fn values() -> impl Strategy<Value = Vec<String>> {
    prop::collection::vec("[a-z0-9]{1,8}", barbacane_router::MAX_PARAMS)
}

proptest! {
    #[test]
    fn filled_template_round_trips(segments in template(), values in values()) {
        let template = render(&segments);
        let n = param_count(&segments);
        let path = fill(&segments, &values);
        let path: Vec<&str> = path.iter().map(String::as_str).collect();
        let mut builder = RouterBuilder::new();
        builder.insert(&template, Method::Get, ()).unwrap();
        let router = builder.build();
        match router.lookup(Method::Get, &path) {
            Lookup::Found(m) => {
                prop_assert_eq!(m.template, template.as_str());
                let got: Vec<(&str, &str)> = m.params.iter().collect();
                let names: Vec<String> = (0..n).map(|i| format!("p{i}")).collect();
                let want: Vec<(&str, &str)> = names
                    .iter()
                    .map(String::as_str)
                    .zip(values.iter().map(String::as_str))
                    .collect();
                prop_assert_eq!(got, want);
            }
            other => prop_assert!(false, "{} {:?}: {:?}", template, path, other),
        }
    }

    /// With many routes, a filled path is always found (backtracking never misses), and
    /// whatever route is found really matches it: refilling that route's template with the
    /// captured values gives the path back.
    #[test]
    fn found_route_matches_path(
        templates in prop::collection::vec(template(), 1..12),
        values in values(),
    ) {
        let mut builder = RouterBuilder::new();
        let mut by_template: HashMap<String, Vec<Segment>> = HashMap::new();
        for segments in &templates {
            let rendered = render(segments);
            if builder.insert(&rendered, Method::Get, ()).is_ok() {
                by_template.insert(rendered, segments.clone());
            }
        }
        let router = builder.build();
        for segments in &templates {
            let path = fill(segments, &values);
            let path: Vec<&str> = path.iter().map(String::as_str).collect();
            match router.lookup(Method::Get, &path) {
                Lookup::Found(m) => {
                    let matched = &by_template[m.template];
                    let captured: Vec<&str> = m.params.iter().map(|(_, v)| v).collect();
                    prop_assert_eq!(captured.len(), param_count(matched));
                    prop_assert_eq!(fill(matched, &captured), path);
                }
                other => prop_assert!(false, "{:?}: {:?}", path, other),
            }
        }
    }

    #[test]
    fn lookup_never_panics(
        templates in prop::collection::vec("/[a-z{}.%/_-]{0,12}", 0..20),
        generated in prop::collection::vec(template(), 0..8),
        probes in prop::collection::vec(prop::collection::vec("[a-zA-Z{}.%_0-9-]{0,6}", 0..6), 1..20),
        wild in prop::collection::vec(any::<String>(), 0..70),
    ) {
        let mut builder = RouterBuilder::new();
        let rendered = generated.iter().map(|t| render(t));
        for (i, t) in templates.iter().cloned().chain(rendered).enumerate() {
            let method = Method::ALL[i % Method::ALL.len()];
            let parsed = Template::parse(&t);
            let inserted = builder.insert(&t, method, i);
            if let Err(e) = parsed {
                prop_assert_eq!(inserted, Err(barbacane_router::InsertError::Template(e)));
            }
        }
        let router = builder.build();
        let wild: Vec<&str> = wild.iter().map(String::as_str).collect();
        let probes = probes.iter().map(|p| p.iter().map(String::as_str).collect::<Vec<_>>());
        for probe in probes.chain([wild]) {
            for method in Method::ALL {
                if let Lookup::Found(m) = router.lookup(method, &probe) {
                    prop_assert!(m.params.iter().all(|(_, v)| !v.is_empty()));
                }
            }
        }
    }
}

/// What a lookup decided, comparable across the two entry points.
fn outcome(lookup: Lookup<'_, '_, usize>) -> String {
    match lookup {
        Lookup::Found(m) => format!(
            "found {} {:?}",
            m.value,
            m.params.iter().collect::<Vec<_>>()
        ),
        Lookup::MethodNotAllowed { allowed } => format!("405 {}", allowed.allow_header()),
        Lookup::NotFound => "404".to_owned(),
    }
}

proptest! {
    #[test]
    fn normalized_lookup_agrees_with_slice_lookup(
        generated in prop::collection::vec(template(), 1..8),
        raw in "(/([A-Z_a-z0-9.]|%2[0eE]|%41){0,6}){0,6}",
    ) {
        let mut builder = RouterBuilder::new();
        for (i, t) in generated.iter().enumerate() {
            let _ = builder.insert(&render(t), Method::Get, i);
        }
        let router = builder.build();
        if let Ok(path) = barbacane_router::normalize_path(&raw) {
            for method in [Method::Get, Method::Head, Method::Post] {
                prop_assert_eq!(
                    outcome(router.lookup_normalized(method, &path)),
                    outcome(router.lookup(method, &path.as_strs()))
                );
            }
        }
    }
}
