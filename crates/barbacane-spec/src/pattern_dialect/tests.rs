use std::borrow::Cow;

use proptest::prelude::*;
use serde_json::json;

use super::translate_pattern;

/// Compiles `pattern` exactly as the validator does.
fn validator(pattern: &str) -> jsonschema::Validator {
    let schema = json!({"type": "string", "pattern": pattern});
    jsonschema::options()
        .with_draft(jsonschema::Draft::Draft202012)
        .build(&schema)
        .unwrap_or_else(|error| panic!("`{pattern}` does not compile: {error}"))
}

fn translated(pattern: &str) -> String {
    translate_pattern(pattern)
        .unwrap_or_else(|error| panic!("`{pattern}`: {error}"))
        .into_owned()
}

/// The translated validator.
fn compiled(pattern: &str) -> jsonschema::Validator {
    validator(&translated(pattern))
}

fn accepts(validator: &jsonschema::Validator, input: &str) -> bool {
    validator.is_valid(&json!(input))
}

// Java semantics, as plain predicates.
fn java_punct(c: char) -> bool {
    c.is_ascii_punctuation()
}
/// `\p{L}` or `\p{Nd}`, for the characters the generators produce.
fn letter_or_digit(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, 'é' | 'ß' | 'Ω' | '中' | 'ж' | '٣' | '𝔘' | 'ǅ')
}
fn word(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// ASCII plus characters of known categories: letters (é ß Ω 中 ж 𝔘 ǅ), a non-ASCII decimal
/// digit (٣), a letter number (Ⅻ), an other number (½), non-ASCII punctuation (« ‿), a symbol
/// outside the BMP (😀), spaces and line terminators (NBSP, U+2028, U+0085), a private use
/// character and a noncharacter.
fn any_char() -> impl Strategy<Value = char> {
    prop_oneof![
        4 => proptest::char::range('\0', '\x7f'),
        2 => proptest::sample::select(vec![
            'é', 'ß', 'Ω', '中', 'ж', '٣', '𝔘', 'ǅ', 'Ⅻ', '½', '«', '‿', '😀', '\u{a0}', '\u{2028}',
            '\u{85}', '\u{e000}', '\u{fffe}', '\u{10ffff}', '\u{d7ff}', '\u{fffd}',
        ]),
    ]
}

fn any_string() -> impl Strategy<Value = String> {
    proptest::collection::vec(any_char(), 0..8).prop_map(|chars| chars.into_iter().collect())
}

fn string_over(alphabet: &'static [char], max: usize) -> impl Strategy<Value = String> {
    proptest::collection::vec(proptest::sample::select(alphabet), 0..max)
        .prop_map(|chars| chars.into_iter().collect())
}

// (a) Every example and every rule compiles with the validator.

const EXAMPLES: &[&str] = &[
    r"^(\p{LD}|\p{Punct}| )+$",
    r"[\p{all}]*",
    r"^[\w-.+]+@[\w-.+]+$",
    r"[^/:|\000-\037]+",
    r"[\u0020-\uD7FF\uE000-\uFFFD\uD800\uDBFF-\uDC00\uDFFF\t\r\n]*",
    r"^(\/|(\/(?!\.)+[^$#<>;`|&?{}^*/\n]+){1,4})$",
];

const RULES: &[&str] = &[
    r"^\p{Lower}\p{Upper}\p{ASCII}\p{Alpha}\p{Digit}\p{Alnum}\p{Punct}$",
    r"^\p{Graph}\p{Print}\p{Blank}\p{Cntrl}\p{XDigit}\p{Space}$",
    r"^[\p{Lower}\p{Upper}\p{ASCII}\p{Alpha}\p{Digit}\p{Alnum}\p{Punct}]$",
    r"^[\p{Graph}\p{Print}\p{Blank}\p{Cntrl}\p{XDigit}\p{Space}]$",
    r"^\P{Lower}\P{Punct}[\P{Digit}x]\P{all}?[\P{all}]?$",
    r"^\p{all}\P{LD}[^\p{LD}]\p{L1}$",
    r"^\p{javaLowerCase}\p{javaUpperCase}\p{javaWhitespace}\p{javaLetterOrDigit}$",
    r"^[\p{javaLetter}\p{javaDigit}\p{javaAlphabetic}\p{javaIdeographic}\p{javaTitleCase}]$",
    r"^\p{javaSpaceChar}\p{javaISOControl}\p{javaMirrored}\p{javaDefined}\P{javaLowerCase}$",
    r"^\p{IsAlphabetic}\p{IsLatin}\p{IsL}\p{IsLu}\p{IsDigit}\p{IsWhite_Space}\p{IsPunctuation}$",
    r"^\P{IsLatin}[\p{IsGreek}\P{IsAlphabetic}]\p{IsHan}\p{IsCyrillic}\p{isLatin}$",
    r"^\p{InGreek}\p{InBasicLatin}\P{InBasicLatin}[\p{InCJK_Unified_Ideographs}]$",
    r"^\p{script=Latin}\p{sc=GREEK}\p{gc=Lu}\p{general_category=Nd}\p{block=Arrows}$",
    r"^\pL\pN\PL\p{^L}$",
    r"^\p{IsEmoji}\p{IsHex_Digit}\p{IsIdeographic}\p{IsAlnum}\p{IsWord}\p{IsBlank}$",
    r"^[\w-.][\d-a][\s-\w][\p{Punct}-a][a-\w]$",
    r"^\0101\01\011\0377\0400[\101-\132\0][\7\77\777\8]\0$",
    r"\Aabc\z",
    r"^abc\Z",
    r"^(?:abc\Z|x\Z)",
    r"^a\Z\n?",
    r"(?m)\Aabc\z",
    r"^[\uD800-\uDBFF][\uDC00-\uDFFF]$",
    r"^[\uD800-\uDFFF]$",
    r"^[^\uD800-\uDFFF]$",
    r"^[\u0000-\uFFFF]*$",
    r"^\uD83D\uDE00[\uD83D\uDE00-\uD83D\uDE4F]$",
    r"^a++b*+c?+d{1,2}+$",
    r"^(?>a|ab)c$",
    r"^(a)(?>b+)(c)\2\1$",
    r"^(?>(a)\1)(b)\2$",
    r"^\d*+\w++\s?+.{2}+$",
    r"^(?!\.)*(?=a){2}(?<!b)+a$",
    r"^\Qa.b*c\E+[\Q]-^\E]\Qx$",
    r"^\h\H\V\R\e\a[\h]$",
    r"^\x{41}\x{1F600}[\x{e9}-\x{ff}]$",
    r"^\<\>\ \é[\<\>\ ][\b]$",
    r"^(?P<first>a)(?'second'b)(?P=first)\k'second'\k{first}(?#comment)$",
    r"^[]a$|^[^]$",
    r"^(?<year>\d{4})-(?<month>\d{2})\k<month>$",
];

#[test]
fn examples_and_rules_compile() {
    for pattern in EXAMPLES.iter().chain(RULES) {
        let output = translated(pattern);
        assert_ne!(&output, pattern, "`{pattern}` should be rewritten");
        let _ = validator(&output);
    }
}

#[test]
fn translation_is_idempotent() {
    for pattern in EXAMPLES.iter().chain(RULES) {
        let output = translated(pattern);
        let again = translate_pattern(&output).unwrap_or_else(|error| panic!("{output}: {error}"));
        assert!(
            matches!(again, Cow::Borrowed(_)),
            "`{pattern}` -> `{output}` -> `{again}`"
        );
    }
}

#[test]
fn expected_output() {
    for (input, expected) in [
        (r"^[\w-.+]+@[\w-.+]+$", r"^[\w\-.+]+@[\w\-.+]+$"),
        (r"[^/:|\000-\037]+", r"[^/:|\x00-\x1F]+"),
        (r"1[0-9]{,2}x", r"1[0-9]{0,2}x"),
        (r"\p{Punct}", r"[\x21-\x2F\x3A-\x40\x5B-\x60\x7B-\x7E]"),
        (r"[\p{Lower}_]", r"[a-z_]"),
        (r"\p{LD}", r"[\p{L}\p{Nd}]"),
        (r"\P{IsLatin}", r"\P{sc=Latin}"),
        (r"\p{IsAlphabetic}", r"\p{Alphabetic}"),
        (r"\Aa\z", r"^a$"),
        (r"^a\Z", r"^a(?:\r\n|[\n\r\u0085\u2028\u2029])?$"),
        (
            r"[\u0020-\uD7FF\uE000-\uFFFD\uD800\uDBFF-\uDC00\uDFFF\t\r\n]*",
            r"[\u0020-\uD7FF\uE000-\uFFFD\t\r\n\u{10000}-\u{10FFFF}]*",
        ),
        (r"^[\uD800-\uDFFF]$", r"^[\u{10000}-\u{10FFFF}]$"),
        (r"^[\uD800-\uDBFF]$", r"^[^\s\S]$"),
        (r"^[^\uDC00-\uDFFF]$", r"^[\s\S]$"),
        (
            r"^[\u0000-\uFFFF]$",
            r"^[\u0000-\uFFFF\u{10000}-\u{10FFFF}]$",
        ),
        (r"^(?<y>a)\k<y>$", r"^(?<y>a)\1$"),
        (r"(?i)^abc$", r"(?i)^abc$"),
        (r"a++", r"(?:(?=(a+))\1)"),
        (r"(x)(?>y)\1", r"(x)(?:(?=(y))\2)\1"),
        (r"(?>y)(x)\1", r"(?:(?=(y))\1)(x)\2"),
        (r"\d(?>a).", r"[0-9](?:(?=(a))\1)[^\n\r\u2028\u2029]"),
        (r"(?!\.)+a", r"(?!\.)a"),
        (r"(?!\.)*a", r"a"),
        (r"\uD83D\uDE00", r"\u{1F600}"),
    ] {
        assert_eq!(translated(input), expected, "{input}");
    }
}

#[test]
fn unsupported_patterns_are_errors_with_offsets() {
    for (pattern, offset) in [
        (r"a\Gb", 1),
        (r"ab\K", 2),
        (r"\X", 0),
        (r"x(?R)", 1),
        (r"(?|a|b)", 0),
        (r"(?(1)a|b)", 0),
        (r"[a-z&&[^b]]", 4),
        (r"\p{InKlingon}", 0),
        (r"[\P{LD}]", 1),
        (r"x\uD800", 1),
        (r"(a", 0),
        (r"a)", 1),
        (r"[ab", 0),
        (r"\p{gc=Nope}", 0),
        (r"a**", 2),
        (r"[z-a]", 1),
    ] {
        let error = translate_pattern(pattern).expect_err(pattern);
        assert_eq!(error.offset(), offset, "{pattern}: {error}");
        assert!(error.to_string().contains("byte offset"), "{error}");
    }
}

// (c) Valid ECMA patterns come back borrowed.

const ECMA: &[&str] = &[
    r"^[a-z]+$",
    r"\d{3}-\d{4}",
    r"^\p{L}+$",
    r"(?=a)b",
    r"^\p{Lu}\p{N}\P{Ll}[\p{L}\p{Nd}_-]*$",
    r"^[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}$",
    r"^(a|b)\1$",
    r"^\u00e9\x41\cA[\u0041-\u005A\s\S\w\W\d\D]$",
    r"^https?:\/\/[^\s/$.?#].[^\s]*$",
    r"^\p{ASCII}\p{Script=Greek}\p{sc=Latin}\p{gc=Lu}\p{White_Space}$",
    r"^(?!x)(?<=y)(?<!z)[\]\\\-^]*?$",
    r"^[\w-]+$",
    r"\bword\B",
];

#[test]
fn valid_ecma_patterns_are_borrowed() {
    for pattern in ECMA {
        let output = translate_pattern(pattern).unwrap_or_else(|error| panic!("{error}"));
        assert!(matches!(output, Cow::Borrowed(_)), "{pattern} -> {output}");
        assert_eq!(&*output, *pattern);
        let _ = validator(pattern);
    }
}

fn ecma_atom() -> impl Strategy<Value = String> {
    let leaf = proptest::sample::select(vec![
        "a",
        "Z",
        "0",
        "_",
        r"\d",
        r"\w",
        r"\s",
        r"\D",
        r"\W",
        r"\S",
        r"\.",
        r"\-",
        r"\/",
        ".",
        "[a-z]",
        "[^0-9]",
        r"[\w-]",
        r"[\d.]",
        r"\p{L}",
        r"\p{Lu}",
        r"\P{N}",
        r"[\p{L}\p{Nd}]",
        r"\u00e9",
        r"\x41",
        r"\n",
        r"\t",
        "-",
        "@",
        " ",
    ])
    .prop_map(str::to_owned);
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 1..4)
                .prop_map(|v| format!("({})", v.concat())),
            proptest::collection::vec(inner.clone(), 1..4)
                .prop_map(|v| format!("(?:{})", v.concat())),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("(?:{a}|{b})")),
            inner.clone().prop_map(|a| format!("(?={a})")),
            (
                inner,
                proptest::sample::select(vec!["*", "+", "?", "{2}", "{1,3}", "{2,}", "*?", "+?"])
            )
                .prop_map(|(a, q)| format!("(?:{a}){q}")),
        ]
    })
}

proptest! {
    #[test]
    fn generated_ecma_patterns_are_borrowed(
        start in proptest::bool::ANY,
        atoms in proptest::collection::vec(ecma_atom(), 1..5),
        end in proptest::bool::ANY,
    ) {
        let pattern = format!("{}{}{}", if start { "^" } else { "" }, atoms.concat(), if end { "$" } else { "" });
        let output = translate_pattern(&pattern);
        prop_assert!(matches!(output, Ok(Cow::Borrowed(p)) if p == pattern), "{:?}", output);
    }
}

// (b) Translated patterns accept exactly what the Java reading does.

macro_rules! agrees {
    ($name:ident, $pattern:expr, $strategy:expr, |$s:ident| $java:expr) => {
        #[test]
        fn $name() {
            let validator = compiled($pattern);
            proptest!(ProptestConfig::with_cases(256), |($s in $strategy)| {
                let expected: bool = $java;
                prop_assert_eq!(accepts(&validator, &$s), expected, "{:?} on {:?}", $pattern, $s);
            });
        }
    };
}

agrees!(
    ld_punct_space,
    r"^(\p{LD}|\p{Punct}| )+$",
    any_string(),
    |s| {
        !s.is_empty()
            && s.chars()
                .all(|c| letter_or_digit(c) || java_punct(c) || c == ' ')
    }
);
agrees!(all_class, r"^[\p{all}]*$", any_string(), |s| {
    let _ = &s;
    true
});
agrees!(
    email_like,
    r"^[\w-.+]+@[\w-.+]+$",
    string_over(&['a', 'Z', '_', '-', '.', '+', '@', '9', ' ', 'é'], 8),
    |s| {
        let ok = |part: &str| {
            !part.is_empty()
                && part
                    .chars()
                    .all(|c| word(c) || matches!(c, '-' | '.' | '+'))
        };
        match s.split_once('@') {
            Some((left, right)) => ok(left) && ok(right),
            None => false,
        }
    }
);
agrees!(octal_range, r"[^/:|\000-\037]+", any_string(), |s| {
    s.chars()
        .any(|c| !matches!(c, '/' | ':' | '|' | '\0'..='\x1f'))
});
agrees!(
    xml_chars,
    r"^[\u0020-\uD7FF\uE000-\uFFFD\uD800\uDBFF-\uDC00\uDFFF\t\r\n]*$",
    any_string(),
    |s| {
        s.chars().all(|c| matches!(c, '\t' | '\r' | '\n' | '\u{20}'..='\u{d7ff}' | '\u{e000}'..='\u{fffd}' | '\u{10000}'..))
    }
);
agrees!(
    path_segments,
    r"^(\/|(\/(?!\.)+[^$#<>;`|&?{}^*/\n]+){1,4})$",
    string_over(&['/', '.', 'a', 'b', '$', '\n', '-'], 12),
    |s| {
        s == "/"
            || s.strip_prefix('/').is_some_and(|rest| {
                let segments: Vec<&str> = rest.split('/').collect();
                (1..=4).contains(&segments.len())
                    && segments.iter().all(|seg| {
                        !seg.is_empty() && !seg.starts_with('.') && !seg.contains(['$', '\n'])
                    })
            })
    }
);
fn posix_sequence(s: &str) -> bool {
    let mut chars = s.chars().peekable();
    let Some(first) = chars.next() else {
        return false;
    };
    if !(first.is_ascii_lowercase() || first.is_ascii_digit()) {
        return false;
    }
    let optional: [fn(char) -> bool; 3] = [
        |c| c.is_ascii_uppercase(),
        |c| matches!(c, '\t'..='\r' | ' '),
        |c| c.is_ascii_control(),
    ];
    for class in optional {
        if chars.peek().is_some_and(|c| class(*c)) {
            chars.next();
        }
    }
    chars.next().is_none()
}
agrees!(
    posix_classes,
    r"^[\p{Lower}\p{Digit}]\p{Upper}?\p{Space}?\p{Cntrl}?$",
    any_string(),
    |s| posix_sequence(&s)
);
agrees!(
    negated_posix,
    r"^\P{Punct}[^\p{Alnum}\P{Print}]$",
    any_string(),
    |s| {
        let chars: Vec<char> = s.chars().collect();
        chars.len() == 2
            && !java_punct(chars[0])
            && !chars[1].is_ascii_alphanumeric()
            && matches!(chars[1], ' '..='~')
    }
);
agrees!(
    graph_xdigit_blank,
    r"^\p{Graph}\p{XDigit}\p{Blank}\p{Alpha}\p{Print}$",
    any_string(),
    |s| {
        let chars: Vec<char> = s.chars().collect();
        chars.len() == 5
            && chars[0].is_ascii_graphic()
            && chars[1].is_ascii_hexdigit()
            && matches!(chars[2], ' ' | '\t')
            && chars[3].is_ascii_alphabetic()
            && matches!(chars[4], ' '..='~')
    }
);
agrees!(
    end_before_final_newline,
    r"^ab\Z",
    string_over(&['a', 'b', '\n', '\r', '\u{85}', '\u{2028}', 'x'], 5),
    |s| {
        s.strip_prefix("ab")
            .is_some_and(|rest| matches!(rest, "" | "\n" | "\r" | "\r\n" | "\u{85}" | "\u{2028}"))
    }
);
agrees!(
    end_mid_pattern,
    r"^(?:ab\Z)$|^x",
    string_over(&['a', 'b', '\n', 'x'], 5),
    |s| { s == "ab" || s.starts_with('x') }
);
agrees!(
    absolute_anchors,
    r"\Aab\z",
    string_over(&['a', 'b', '\n'], 5),
    |s| s == "ab"
);
agrees!(
    possessive_never_gives_back,
    r"^[ab]*+b$",
    string_over(&['a', 'b'], 6),
    |s| {
        let _ = &s;
        false
    }
);
agrees!(
    possessive_plus,
    r"^a++b?+$",
    string_over(&['a', 'b'], 6),
    |s| {
        let trimmed = s.trim_start_matches('a');
        trimmed.len() < s.len() && matches!(trimmed, "" | "b")
    }
);
agrees!(
    atomic_alternation,
    r"^(?>a|ab)c$",
    string_over(&['a', 'b', 'c'], 5),
    |s| s == "ac"
);
agrees!(
    renumbered_backreferences,
    r"^(a|b)(?>x+)(c|d)\2\1$",
    string_over(&['a', 'b', 'c', 'd', 'x'], 8),
    |s| {
        let chars: Vec<char> = s.chars().collect();
        let n = chars.len();
        n >= 5
            && matches!(chars[0], 'a' | 'b')
            && chars[1..n - 3].iter().all(|c| *c == 'x')
            && matches!(chars[n - 3], 'c' | 'd')
            && chars[n - 2] == chars[n - 3]
            && chars[n - 1] == chars[0]
    }
);
agrees!(
    octal_escapes,
    r"^\0101[\101-\103]\011?$",
    string_over(&['A', 'B', 'C', 'D', '\t', '@'], 4),
    |s| {
        let chars: Vec<char> = s.chars().collect();
        (chars.len() == 2 || chars.len() == 3 && chars[2] == '\t')
            && chars[0] == 'A'
            && matches!(chars[1], 'A'..='C')
    }
);
agrees!(
    shorthands_keep_ecma_meaning_with_lookaround,
    r"^\d++\w*+.$",
    any_string(),
    |s| {
        let chars: Vec<char> = s.chars().collect();
        let digits = chars.iter().take_while(|c| c.is_ascii_digit()).count();
        let words = chars[digits..].iter().take_while(|c| word(**c)).count();
        digits > 0
            && chars.len() == digits + words + 1
            && !matches!(chars[digits + words], '\n' | '\r' | '\u{2028}' | '\u{2029}')
    }
);
agrees!(
    java_whitespace,
    r"^\p{javaWhitespace}$",
    any_string(),
    |s| {
        let mut chars = s.chars();
        match (chars.next(), chars.next()) {
            (Some(c), None) => {
                c.is_whitespace() && !matches!(c, '\u{a0}' | '\u{2007}' | '\u{202f}' | '\u{85}')
                    || matches!(c, '\u{1c}'..='\u{1f}')
            }
            _ => false,
        }
    }
);
agrees!(
    quoting,
    r"^\Qa.b\E+$",
    string_over(&['a', '.', 'b', 'x'], 7),
    |s| {
        !s.is_empty() && s.len() % 3 == 0 && s.as_bytes().chunks(3).all(|chunk| chunk == b"a.b")
    }
);
agrees!(latin_script, r"^\p{IsLatin}+$", any_string(), |s| {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphabetic() || matches!(c, 'é' | 'ß' | 'ǅ' | 'Ⅻ'))
});
agrees!(
    basic_latin_block,
    r"^\P{InBasicLatin}*$",
    any_string(),
    |s| s.chars().all(|c| !c.is_ascii())
);
