use proptest::prelude::*;

use super::*;
use crate::params::{MAX_PARAMS, ParamName, Source};

fn lit(s: &str) -> Piece {
    Piece::Literal(s.into())
}

use Piece::{Label, Param};

/// The values captured by `pieces` on `text`, and how it matched.
fn run_fit(pieces: Vec<Piece>, text: &str) -> Option<(Vec<String>, Fit)> {
    let mut caps = Captures::new();
    assert!(caps.push(Span::WHOLE), "a value before the pattern's");
    let names: Vec<ParamName> = (0..=MAX_PARAMS)
        .map(|i| ParamName {
            name: i.to_string().into(),
            depth: 0,
        })
        .collect();
    let fit = Pattern::new(pieces).capture(text, &mut caps);
    let segments = [text];
    let params = crate::Params::new(&names, Source::Slice(&segments), &caps, None);
    let mut values: Vec<String> = params.iter().map(|(_, v)| v.to_owned()).collect();
    assert_eq!(values.remove(0), text, "the earlier value is kept");
    match fit {
        Some(fit) => Some((values, fit)),
        None => {
            assert!(values.is_empty(), "captures must be rolled back");
            None
        }
    }
}

fn run(pieces: Vec<Piece>, text: &str) -> Option<Vec<String>> {
    run_fit(pieces, text).map(|(values, _)| values)
}

fn values(v: &[&str]) -> Option<Vec<String>> {
    Some(v.iter().map(|s| (*s).to_owned()).collect())
}

#[test]
fn greedy_split() {
    let p = || vec![Param, lit("."), Param];
    assert_eq!(run(p(), "a.b.c"), values(&["a.b", "c"]));
    assert_eq!(run(p(), "a.b"), values(&["a", "b"]));
    assert_eq!(run(p(), "a."), None);
    assert_eq!(run(p(), ".b"), None);
    assert_eq!(run(p(), "."), None);
    assert_eq!(run(p(), "ab"), None);
    assert_eq!(run(p(), "a..b"), values(&["a.", "b"]));
}

#[test]
fn several_literals() {
    let p = || vec![Param, lit("-"), Param, lit(".json")];
    assert_eq!(run(p(), "x-y-z.json"), values(&["x-y", "z"]));
    assert_eq!(run(p(), "x-.json"), None);
    assert_eq!(run(p(), "x-y.jso"), None);
    let p = vec![lit("v"), Param];
    assert_eq!(run(p, "v2"), values(&["2"]));
    let p = || vec![lit("v"), Param, lit("x")];
    assert_eq!(run(p(), "v1x"), values(&["1"]));
    assert_eq!(run(p(), "vx"), None);
    assert_eq!(run(p(), "v"), None);
}

#[test]
fn overlapping_literals() {
    let p = vec![Param, lit("aa"), Param];
    assert_eq!(run(p, "xaaay"), values(&["xa", "y"]));
    let p = vec![lit("ab"), Param, lit("ba")];
    assert_eq!(run(p.clone(), "aba"), None);
    assert_eq!(run(p, "abxba"), values(&["x"]));
}

#[test]
fn multibyte_values() {
    let p = || vec![Param, lit("é"), Param];
    assert_eq!(run(p(), "ñéü"), values(&["ñ", "ü"]));
    assert_eq!(run(p(), "éé"), None);
    assert_eq!(run(p(), "ééé"), values(&["é", "é"]));
}

#[test]
fn adjacent_params_split_at_the_last_dot() {
    let p = || vec![Param, Param];
    assert_eq!(
        run_fit(p(), "42.json"),
        Some((vec!["42".into(), ".json".into()], Fit::Full))
    );
    assert_eq!(run(p(), "a.b.json"), values(&["a.b", ".json"]));
    assert_eq!(run(p(), "42."), values(&["42", "."]));
    // No dot: the later parameter is empty, and the match ranks as loose.
    assert_eq!(
        run_fit(p(), "42"),
        Some((vec!["42".into(), String::new()], Fit::Loose))
    );
    // The first parameter is never empty.
    assert_eq!(run(p(), ".json"), None);
    assert_eq!(run(p(), ""), None);
    // Three in a run: right to left, each takes from the last dot of what is left.
    let p = || vec![Param, Param, Param];
    assert_eq!(run(p(), "a.b.c.d"), values(&["a.b", ".c", ".d"]));
    assert_eq!(
        run_fit(p(), "a.d"),
        Some((vec!["a".into(), String::new(), ".d".into()], Fit::Loose))
    );
    assert_eq!(run(p(), ".b.c"), None);
    // With literals around.
    let p = || vec![lit("v"), Param, Param, lit("-x")];
    assert_eq!(run(p(), "v1.2-x"), values(&["1", ".2"]));
    assert_eq!(run(p(), "v.2-x"), None);
    let p = || vec![Param, Param, lit("."), Param];
    assert_eq!(run(p(), "a.b.c"), values(&["a", ".b", "c"]));
    assert_eq!(run(p(), "a.c"), values(&["a", "", "c"]));
}

#[test]
fn label_params_leave_the_dot_out() {
    let p = || vec![Param, Label];
    assert_eq!(
        run_fit(p(), "42.json"),
        Some((vec!["42".into(), "json".into()], Fit::Full))
    );
    assert_eq!(run(p(), "a.b.json"), values(&["a.b", "json"]));
    assert_eq!(run(p(), "42."), values(&["42", ""]));
    assert_eq!(run(p(), "42"), None);
    assert_eq!(run(p(), ".json"), None);
    let p = || vec![Param, Label, Param];
    assert_eq!(run(p(), "a.b.c"), values(&["a", "b", ".c"]));
    // Right to left: the last member takes the only dot, and the label finds none.
    assert_eq!(run(p(), "a.b"), None);
    assert_eq!(run(p(), "ab"), None);
    // The literal before a run with a label is placed left of the dot the label needs.
    let p = || vec![Param, lit("-"), Param, Label];
    assert_eq!(run(p(), "a-b-c.d"), values(&["a-b", "c", "d"]));
    assert_eq!(run(p(), "a-b.c-d"), values(&["a", "b", "c-d"]));
    // A label starting a run is an ordinary parameter.
    assert_eq!(run(vec![Label, Param], "42"), values(&["42", ""]));
}

#[test]
fn shape_and_specificity() {
    let p = Pattern::new(vec![Param, lit(".{x}"), Param]);
    let mut s = String::new();
    p.write_shape(&mut s);
    assert_eq!(s, "{}.%7Bx%7D{}");
    assert_eq!(p.literal_chars(), 4);
    assert!(!p.can_be_loose());
    let shape = |pieces: Vec<Piece>| {
        let mut s = String::new();
        Pattern::new(pieces).write_shape(&mut s);
        s
    };
    assert_eq!(shape(vec![Param, Param]), "{}{}");
    assert_eq!(shape(vec![Param, Label]), "{}{.}");
    assert_eq!(shape(vec![Param, lit("."), Param]), "{}.{}");
    assert_ne!(
        Pattern::new(vec![Param, Param]),
        Pattern::new(vec![Param, Label])
    );
    assert!(Pattern::new(vec![Param, Param]).can_be_loose());
    assert!(!Pattern::new(vec![Param, Label]).can_be_loose());
}

/// Greedy matching by plain backtracking: each parameter, or run of adjacent parameters,
/// tries its longest text first; a run's text is then split as documented.
fn reference(pieces: &[Piece], text: &str) -> Option<Vec<String>> {
    match pieces.first() {
        None => text.is_empty().then(Vec::new),
        Some(Piece::Literal(l)) => text
            .strip_prefix(&**l)
            .and_then(|t| reference(&pieces[1..], t)),
        Some(_) => {
            let run = 1 + pieces[1..]
                .iter()
                .take_while(|p| !matches!(p, Piece::Literal(_)))
                .count();
            let ends: Vec<usize> = text.char_indices().map(|(i, c)| i + c.len_utf8()).collect();
            ends.iter().rev().find_map(|&end| {
                let mut values = reference_split(&pieces[..run], &text[..end])?;
                values.extend(reference(&pieces[run..], &text[end..])?);
                Some(values)
            })
        }
    }
}

fn reference_split(run: &[Piece], text: &str) -> Option<Vec<String>> {
    let mut rest = text.to_owned();
    let mut later = Vec::new();
    for piece in run[1..].iter().rev() {
        let value = match (rest.rfind('.'), piece) {
            (Some(dot), Piece::Label) => rest.split_off(dot)[1..].to_owned(),
            (Some(dot), _) => rest.split_off(dot),
            (None, Piece::Label) => return None,
            (None, _) => String::new(),
        };
        later.insert(0, value);
    }
    if rest.is_empty() {
        return None;
    }
    later.insert(0, rest);
    Some(later)
}

fn short_texts(alphabet: &[&str], max_len: usize) -> Vec<String> {
    let mut texts = vec![String::new()];
    let mut last = vec![String::new()];
    for _ in 0..max_len {
        last = last
            .iter()
            .flat_map(|t| alphabet.iter().map(move |c| format!("{t}{c}")))
            .collect();
        texts.extend(last.iter().cloned());
    }
    texts
}

#[test]
fn agrees_with_backtracking_on_every_short_text() {
    let patterns = [
        vec![Param, lit("."), Param],
        vec![Param, lit(".."), Param],
        vec![Param, lit("a"), Param, lit("."), Param],
        vec![lit("a"), Param],
        vec![Param, lit("a")],
        vec![lit("a"), Param, lit("a")],
        vec![Param, lit("ab"), Param, lit("ba"), Param],
        vec![lit("a"), Param, lit("a"), Param, lit("a")],
        vec![lit("é"), Param, lit("a"), Param],
        vec![Param, Param],
        vec![Param, Label],
        vec![Param, Param, Param],
        vec![Param, Label, Param],
        vec![Param, Param, Label],
        vec![Param, lit("a"), Param, Param],
        vec![Param, lit("a"), Param, Label],
        vec![Param, Param, lit("a"), Param, Label],
        vec![lit("a"), Param, Label, lit("b")],
        vec![Param, lit("."), Param, Param, Label],
        vec![Param, Label, lit("."), Param],
    ];
    let texts = short_texts(&["a", "b", ".", "é"], 6);
    for pieces in patterns {
        for text in &texts {
            assert_eq!(
                run(pieces.clone(), text),
                reference(&pieces, text),
                "{pieces:?} on {text:?}"
            );
        }
    }
}

#[test]
fn hostile_input_stays_fast() {
    // Thirty-one parameters in one segment (one slot holds the earlier value), every literal a near miss: the right-to-left
    // placement is linear per literal, where backtracking would never finish.
    let mut pieces = Vec::new();
    for i in 0..MAX_PARAMS - 1 {
        pieces.push(if i % 4 == 3 { Label } else { Param });
        if i % 4 == 0 {
            pieces.push(lit(".a"));
        }
    }
    let text = ".a".repeat(5_000) + "b";
    let start = std::time::Instant::now();
    for _ in 0..10 {
        let _ = run(pieces.clone(), &text);
    }
    let run_of_dots = vec![Param; MAX_PARAMS - 1];
    let _ = run(run_of_dots, &".".repeat(30_000));
    assert!(start.elapsed() < std::time::Duration::from_secs(5));
}

fn piece() -> impl Strategy<Value = Piece> {
    prop_oneof![
        3 => Just(Param),
        1 => Just(Label),
        3 => "[a.é]{1,2}".prop_map(|l| lit(&l)),
    ]
}

/// Patterns as the template parser makes them: no two literals in a row, at least one
/// parameter.
fn pattern() -> impl Strategy<Value = Vec<Piece>> {
    prop::collection::vec(piece(), 1..7).prop_filter_map("a parser's pattern", |pieces| {
        let mut out: Vec<Piece> = Vec::new();
        for piece in pieces {
            match (&piece, out.last_mut()) {
                (Piece::Literal(l), Some(Piece::Literal(prev))) => {
                    *prev = format!("{prev}{l}").into();
                }
                _ => out.push(piece),
            }
        }
        out.iter()
            .any(|p| !matches!(p, Piece::Literal(_)))
            .then_some(out)
    })
}

proptest! {
    #[test]
    fn agrees_with_backtracking(pieces in pattern(), text in "[a.é-]{0,10}") {
        prop_assert_eq!(run(pieces.clone(), &text), reference(&pieces, &text));
    }
}
