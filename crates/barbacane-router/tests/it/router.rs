use std::collections::HashMap;

use barbacane_router::{Lookup, Method, RouterBuilder, Template};
use proptest::prelude::*;

/// A generated template. Literals come from `[A-Z_]` and values from `[a-z0-9]`, so a
/// filled path splits back into exactly the values it was filled with: in a run of
/// adjacent parameters, each one after the first is filled with a dot and one value
/// (`.abc`, which a label parameter captures as `abc`), and a greedy parameter with one to
/// three segments.
#[derive(Debug, Clone)]
enum Piece {
    Literal(String),
    Param,
    /// `{.name}` right after another parameter.
    Label,
    /// `{name+}`, alone in the last segment.
    Greedy,
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
    // Runs of adjacent parameters, possibly with literals around.
    let run = (
        prop::collection::vec(any::<bool>(), 1..=3),
        prop::option::of("[A-Z_]{1,2}"),
        prop::option::of("[A-Z_]{1,2}"),
    )
        .prop_map(|(labels, before, after)| {
            let mut pieces = Vec::new();
            pieces.extend(before.map(Piece::Literal));
            pieces.push(Piece::Param);
            for label in labels {
                pieces.push(if label { Piece::Label } else { Piece::Param });
            }
            pieces.extend(after.map(Piece::Literal));
            pieces
        });
    prop_oneof![
        "[A-Z_]{1,6}".prop_map(|l| vec![Piece::Literal(l)]),
        Just(vec![Piece::Param]),
        mixed,
        run,
    ]
}

fn template() -> impl Strategy<Value = Vec<Segment>> {
    (
        prop::collection::vec(segment(), 0..6),
        prop::bool::weighted(0.2),
    )
        .prop_map(|(mut segments, greedy)| {
            if greedy {
                segments.push(vec![Piece::Greedy]);
            }
            segments
        })
        .prop_filter("at most MAX_PARAMS params", |segments| {
            param_count(segments) <= barbacane_router::MAX_PARAMS
        })
}

fn param_count(segments: &[Segment]) -> usize {
    segments
        .iter()
        .flatten()
        .filter(|p| !matches!(p, Piece::Literal(_)))
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
                Piece::Param => out.push_str(&format!("{{p{n}}}")),
                Piece::Label => out.push_str(&format!("{{.p{n}}}")),
                Piece::Greedy => out.push_str(&format!("{{p{n}+}}")),
            }
            if !matches!(piece, Piece::Literal(_)) {
                n += 1;
            }
        }
    }
    if out.is_empty() {
        out.push('/');
    }
    out
}

fn names(segments: &[Segment]) -> Vec<String> {
    let mut n = 0;
    let mut names = Vec::new();
    for piece in segments.iter().flatten() {
        match piece {
            Piece::Literal(_) => continue,
            Piece::Label => names.push(format!(".p{n}")),
            Piece::Param | Piece::Greedy => names.push(format!("p{n}")),
        }
        n += 1;
    }
    names
}

/// The path segments of `segments` filled with `values` as captured (a later member of a
/// run with its leading dot, a label without it, a greedy value with its slashes).
fn fill<S: AsRef<str>>(segments: &[Segment], values: &[S]) -> Vec<String> {
    let mut values = values.iter().map(|v| v.as_ref());
    let mut out = Vec::new();
    for segment in segments {
        if let [Piece::Greedy] = segment.as_slice() {
            let value = values.next().unwrap_or("");
            out.extend(value.split('/').map(str::to_owned));
            continue;
        }
        let mut s = String::new();
        for piece in segment {
            match piece {
                Piece::Literal(l) => s.push_str(l),
                Piece::Label => {
                    s.push('.');
                    s.push_str(values.next().unwrap_or(""));
                }
                Piece::Param | Piece::Greedy => s.push_str(values.next().unwrap_or("")),
            }
        }
        out.push(s);
    }
    out
}

/// Values for `segments` as a route captures them, built from plain `[a-z0-9]` words.
fn captured_values(segments: &[Segment], words: &[String]) -> Vec<String> {
    let mut words = words.iter().cycle();
    let mut next = || words.next().cloned().unwrap_or_else(|| "x".to_owned());
    let mut values = Vec::new();
    for segment in segments {
        let mut previous_param = false;
        for piece in segment {
            match piece {
                Piece::Literal(_) => {
                    previous_param = false;
                    continue;
                }
                Piece::Param if previous_param => values.push(format!(".{}", next())),
                Piece::Param | Piece::Label => values.push(next()),
                Piece::Greedy => {
                    let (a, b) = (next(), next());
                    values.push(if a.len() % 3 == 0 {
                        a
                    } else {
                        format!("{a}/{b}")
                    });
                }
            }
            previous_param = true;
        }
    }
    values
}

fn words() -> impl Strategy<Value = Vec<String>> {
    prop::collection::vec("[a-z0-9]{1,8}", 8)
}

proptest! {
    #[test]
    fn filled_template_round_trips(segments in template(), words in words()) {
        let template = render(&segments);
        let values = captured_values(&segments, &words);
        let path = fill(&segments, &values);
        let path: Vec<&str> = path.iter().map(String::as_str).collect();
        let mut builder = RouterBuilder::new();
        builder.insert(&template, Method::Get, ()).unwrap();
        let router = builder.build();
        match router.lookup(Method::Get, &path) {
            Lookup::Found(m) => {
                prop_assert_eq!(m.template, template.as_str());
                let got: Vec<(&str, &str)> = m.params.iter().collect();
                let names = names(&segments);
                let want: Vec<(&str, &str)> = names
                    .iter()
                    .map(String::as_str)
                    .zip(values.iter().map(String::as_str))
                    .collect();
                prop_assert_eq!(got, want);
                prop_assert_eq!(m.params.len(), param_count(&segments));
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
        words in words(),
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
            let path = fill(segments, &captured_values(segments, &words));
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

    /// Templates that differ only in parameter names conflict; templates of different
    /// shapes do not.
    #[test]
    fn conflicts_follow_shapes(a in template(), b in template()) {
        let rename = |t: &str| t.replace("{p", "{q").replace("{.p", "{.q");
        let (ra, rb) = (render(&a), render(&b));
        let mut builder = RouterBuilder::new();
        builder.insert(&ra, Method::Get, ()).unwrap();
        let same_shape = Template::parse(&ra).unwrap().shape() == Template::parse(&rb).unwrap().shape();
        prop_assert_eq!(builder.insert(&rb, Method::Get, ()).is_err(), same_shape);
        prop_assert!(builder.insert(&rename(&ra), Method::Get, ()).is_err());
        prop_assert_eq!(
            Template::parse(&rename(&ra)).unwrap().shape(),
            Template::parse(&ra).unwrap().shape()
        );
    }

    #[test]
    fn lookup_never_panics(
        templates in prop::collection::vec("/[a-z{}.%/_+-]{0,12}", 0..20),
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
                    let names = Template::parse(m.template).unwrap().param_names().to_vec();
                    let got: Vec<&str> = m.params.iter().map(|(n, _)| n).collect();
                    prop_assert_eq!(got, names);
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

proptest! {
    /// A greedy parameter's value is the decoded segments it matched, joined with `/`,
    /// whether it could be borrowed from the raw path or not.
    #[test]
    fn greedy_value_is_the_joined_segments(raw in "(/([a-z.]|%2[0eEfF]|%41){0,4}){0,6}") {
        let mut builder = RouterBuilder::new();
        builder.insert("/{rest+}", Method::Get, ()).unwrap();
        builder.insert("/", Method::Get, ()).unwrap();
        let router = builder.build();
        if let Ok(path) = barbacane_router::normalize_path(&raw) {
            let joined = path.segments().collect::<Vec<_>>().join("/");
            match router.lookup_normalized(Method::Get, &path) {
                Lookup::Found(m) if path.is_empty() => prop_assert!(m.params.is_empty()),
                Lookup::Found(m) => prop_assert_eq!(m.params.get("rest"), Some(joined.as_str())),
                other => prop_assert!(false, "{:?}", other),
            }
        }
    }
}
