use super::*;

fn lit(s: &str) -> Piece {
    Piece::Literal(s.into())
}

fn run(pieces: Vec<Piece>, text: &str) -> Option<Vec<String>> {
    let mut caps = Captures::new();
    assert!(caps.push("before"));
    let names: Vec<String> = (0..MAX_PARAMS + 1).map(|i| i.to_string()).collect();
    let ok = Pattern::new(pieces).capture(text, &mut caps);
    let params = crate::Params::new(&names, caps);
    let values: Vec<String> = params.iter().skip(1).map(|(_, v)| v.to_owned()).collect();
    if ok {
        Some(values)
    } else {
        assert!(values.is_empty(), "captures must be rolled back");
        None
    }
}

#[test]
fn greedy_split() {
    let p = || vec![Piece::Param, lit("."), Piece::Param];
    assert_eq!(run(p(), "a.b.c"), Some(vec!["a.b".into(), "c".into()]));
    assert_eq!(run(p(), "a.b"), Some(vec!["a".into(), "b".into()]));
    assert_eq!(run(p(), "a."), None);
    assert_eq!(run(p(), ".b"), None);
    assert_eq!(run(p(), "."), None);
    assert_eq!(run(p(), "ab"), None);
    assert_eq!(run(p(), "a..b"), Some(vec!["a.".into(), "b".into()]));
}

#[test]
fn several_literals() {
    let p = || vec![Piece::Param, lit("-"), Piece::Param, lit(".json")];
    assert_eq!(run(p(), "x-y-z.json"), Some(vec!["x-y".into(), "z".into()]));
    assert_eq!(run(p(), "x-.json"), None);
    assert_eq!(run(p(), "x-y.jso"), None);
    let p = vec![lit("v"), Piece::Param];
    assert_eq!(run(p, "v2"), Some(vec!["2".into()]));
    let p = || vec![lit("v"), Piece::Param, lit("x")];
    assert_eq!(run(p(), "v1x"), Some(vec!["1".into()]));
    assert_eq!(run(p(), "vx"), None);
    assert_eq!(run(p(), "v"), None);
}

#[test]
fn overlapping_literals() {
    let p = vec![Piece::Param, lit("aa"), Piece::Param];
    assert_eq!(run(p, "xaaay"), Some(vec!["xa".into(), "y".into()]));
    let p = vec![lit("ab"), Piece::Param, lit("ba")];
    assert_eq!(run(p.clone(), "aba"), None);
    assert_eq!(run(p, "abxba"), Some(vec!["x".into()]));
}

#[test]
fn multibyte_values() {
    let p = || vec![Piece::Param, lit("é"), Piece::Param];
    assert_eq!(run(p(), "ñéü"), Some(vec!["ñ".into(), "ü".into()]));
    assert_eq!(run(p(), "éé"), None);
    assert_eq!(run(p(), "ééé"), Some(vec!["é".into(), "é".into()]));
}

#[test]
fn shape_and_specificity() {
    let p = Pattern::new(vec![Piece::Param, lit(".{x}"), Piece::Param]);
    let mut s = String::new();
    p.write_shape(&mut s);
    assert_eq!(s, "{}.%7Bx%7D{}");
    assert_eq!(p.literal_chars(), 4);
}

/// Greedy matching by plain backtracking: each parameter tries its longest value first.
fn reference(pieces: &[Piece], text: &str) -> Option<Vec<String>> {
    match pieces.split_first() {
        None => text.is_empty().then(Vec::new),
        Some((Piece::Literal(l), rest)) => text.strip_prefix(&**l).and_then(|t| reference(rest, t)),
        Some((Piece::Param, rest)) => {
            let ends: Vec<usize> = text.char_indices().map(|(i, c)| i + c.len_utf8()).collect();
            ends.iter().rev().find_map(|&end| {
                let mut values = reference(rest, &text[end..])?;
                values.insert(0, text[..end].to_owned());
                Some(values)
            })
        }
    }
}

#[test]
fn agrees_with_backtracking_on_every_short_text() {
    let patterns = [
        vec![Piece::Param, lit("."), Piece::Param],
        vec![Piece::Param, lit(".."), Piece::Param],
        vec![Piece::Param, lit("a"), Piece::Param, lit("."), Piece::Param],
        vec![lit("a"), Piece::Param],
        vec![Piece::Param, lit("a")],
        vec![lit("a"), Piece::Param, lit("a")],
        vec![
            Piece::Param,
            lit("ab"),
            Piece::Param,
            lit("ba"),
            Piece::Param,
        ],
        vec![lit("a"), Piece::Param, lit("a"), Piece::Param, lit("a")],
        vec![lit("é"), Piece::Param, lit("a"), Piece::Param],
    ];
    let alphabet = ["a", "b", ".", "é"];
    let mut texts = vec![String::new()];
    for _ in 0..6 {
        let longer: Vec<String> = texts
            .iter()
            .filter(|t| t.chars().count() == texts.last().map_or(0, |l| l.chars().count()))
            .flat_map(|t| alphabet.iter().map(move |c| format!("{t}{c}")))
            .collect();
        texts.extend(longer);
    }
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
