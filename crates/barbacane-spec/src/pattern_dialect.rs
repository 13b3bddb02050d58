//! Rewrites `pattern`s written for Java, PCRE or .NET engines into ECMA-262 patterns the
//! `jsonschema` validator compiles (its `fancy-regex` engine behind the `jsonschema-regex`
//! ECMA-262 translation).
//!
//! The rewrite is driven by a hand-written scanner that tracks escapes, groups (and their capture
//! numbers) and character classes. Only constructs that are not ECMA-262 (or that the validator's
//! engine would reject or read differently) are rewritten; a pattern that needs nothing is returned
//! borrowed. Whatever cannot be expressed is an error, never a dropped check.
//!
//! Rules, in short:
//!
//! - Java POSIX classes (`\p{Lower}`, `\p{Upper}`, `\p{ASCII}`, `\p{Alpha}`, `\p{Digit}`,
//!   `\p{Alnum}`, `\p{Punct}`, `\p{Graph}`, `\p{Print}`, `\p{Blank}`, `\p{Cntrl}`, `\p{XDigit}`,
//!   `\p{Space}`) become the ASCII sets Java defines. `\p{Lower}`, `\p{Upper}` and `\p{Alpha}`
//!   are also ECMA aliases of Unicode properties; the Java (ASCII) reading wins. `\p{ASCII}` is the
//!   same in both and is kept.
//! - Java extras: `\p{all}` (any character), `\p{LD}` (`\p{L}` or `\p{Nd}`), `\p{L1}` (Latin-1),
//!   `\p{javaLowerCase}`, `\p{javaUpperCase}`, `\p{javaWhitespace}`, `\p{javaLetter}`,
//!   `\p{javaDigit}`, `\p{javaLetterOrDigit}`, `\p{javaAlphabetic}`, `\p{javaIdeographic}`,
//!   `\p{javaTitleCase}`, `\p{javaSpaceChar}`, `\p{javaISOControl}`, `\p{javaMirrored}`,
//!   `\p{javaDefined}`.
//! - `Is` prefix: `\p{IsL}` (category), `\p{IsAlphabetic}` and the other Java binary properties,
//!   `\p{IsLatin}` (script, emitted as `\p{sc=Latin}`); `script=`/`sc=`/`general_category=`/`gc=`
//!   keys are normalised. `In` prefix and `block=`/`blk=`: a table of common Unicode blocks,
//!   emitted as code point ranges; other blocks are an error. `\pL` becomes `\p{L}`; PCRE
//!   `\p{^L}` is `\P{L}`. Negations `\P{...}` are supported (inside a class only when the negation
//!   is expressible as class members).
//! - Outside a class a translated property is a class (or a single `\p{..}` escape); inside a
//!   class it contributes its members.
//! - In a class, a `-` right after a class escape (`[\w-.]`), and not closing the class, is a
//!   literal hyphen and is written `\-`.
//! - Octal: `\0n`, `\0nn`, `\0mnn` (m ≤ 3, Java) everywhere, and `\n`, `\nn`, `\nnn` inside a class
//!   become `\xHH`; `\8`/`\9` in a class are the digits. `\0` alone (NUL) becomes `\x00`.
//! - `\A` becomes `^` and `\z` becomes `$` (or look-arounds when the pattern sets the `m` flag).
//!   `\Z` (end, or before one final line terminator `\r\n`, `\n`, `\r`, `\u0085`, `\u2028`,
//!   `\u2029`) becomes `(?:\r\n|[\n\r\u0085\u2028\u2029])?$` when it ends a top-level
//!   alternative, and that as a lookahead `(?=...)` elsewhere.
//! - UTF-16 surrogate escapes: a high surrogate escape directly followed by a low one (`\uD83D\uDE00`)
//!   is the supplementary character (`\u{1F600}`). Remaining surrogate members of a class are
//!   removed (ranges are split around `D800-DFFF`); when the class held at least one high
//!   (`D800-DBFF`) and one low (`DC00-DFFF`) surrogate, `\u{10000}-\u{10FFFF}` is added, which is
//!   what a UTF-16 engine matching pairs of code units lets through in the usual
//!   `[...\uD800-\uDBFF\uDC00-\uDFFF]*` idiom. A class left empty never matches (`[^\s\S]`; an empty
//!   negated class matches any character, `[\s\S]`). A lone surrogate outside a class is an error.
//! - Atomic groups `(?>X)` and possessive quantifiers `X*+`, `X++`, `X?+`, `X{n,m}+` are emulated
//!   exactly with `(?:(?=(X))\N)` (lookahead capture + backreference); existing backreferences
//!   are renumbered.
//! - A quantified look-around (`(?!\.)+`, allowed by Java and ECMA Annex B) loses the quantifier
//!   when it requires at least one repetition, and is removed when it may repeat zero times (it
//!   then always succeeds).
//! - `{,m}` (PCRE2 and Python: at most `m`) becomes `{0,m}`.
//! - Named backreferences `\k<name>` (which the validator's ECMA translation rejects) become
//!   numbered ones.
//! - When the rewritten pattern contains a look-around (the validator then hands it to the engine
//!   untranslated), `\d \D \w \W \s \S` and `.` are written as explicit ECMA-262 (ASCII `\d`/`\w`)
//!   classes so their meaning does not change.
//! - Other Java/PCRE syntax: `\Q...\E` quoting, `\h`, `\H`, `\V`, `\R`, `\e`, `\a`, `\x{h..}` (to
//!   `\u{h..}`), `\<`/`\>` (literal, not word boundaries), escaped spaces and non-ASCII characters,
//!   `(?P<name>`, `(?'name'`, `(?P=name)`, `\k'name'`, `\k{name}`, comments `(?#...)`, `[\b]`
//!   (backspace), `[]` and `[^]`.
//! - Errors: `\G`, `\K`, `\X`, `\C`, `\N`, `\g`, other unknown letter escapes, recursion, branch
//!   reset, conditionals, unknown groups, Java class intersection (`&&`), unknown Unicode blocks,
//!   negated multi-property sets inside a class, unbalanced groups and classes.

use std::{borrow::Cow, collections::HashMap, fmt::Write};

#[cfg(test)]
mod tests;

/// A `pattern` uses syntax this translation does not support.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} (at byte offset {offset})")]
pub struct PatternDialectError {
    offset: usize,
    message: String,
}

impl PatternDialectError {
    fn new(offset: usize, message: impl Into<String>) -> Self {
        Self {
            offset,
            message: message.into(),
        }
    }

    /// Byte offset in the pattern of the unsupported construct.
    #[must_use]
    pub fn offset(&self) -> usize {
        self.offset
    }

    /// What is unsupported.
    #[must_use]
    pub fn message(&self) -> &str {
        &self.message
    }
}

type Result<T> = std::result::Result<T, PatternDialectError>;

/// Rewrites a `pattern` written for Java / PCRE / .NET engines into an equivalent ECMA-262 pattern
/// that the `jsonschema` crate compiles; returns the input unchanged (Cow::Borrowed) when no
/// rewrite is needed.
///
/// # Errors
///
/// The pattern uses a construct that has no ECMA-262 equivalent here (see the module docs), or is
/// malformed (unbalanced groups or classes).
pub fn translate_pattern(pattern: &str) -> std::result::Result<Cow<'_, str>, PatternDialectError> {
    let mut scanner = Scanner::new(pattern);
    scanner.alternation(0)?;
    if !scanner.changed {
        return Ok(Cow::Borrowed(pattern));
    }
    Ok(Cow::Owned(scanner.render()))
}

const SURROGATES: (u32, u32) = (0xD800, 0xDFFF);
const MAX_CP: u32 = 0x10_FFFF;
/// Java line terminators, as `\Z` and `$` know them.
const LINE_TERMINATOR: &str = r"(?:\r\n|[\n\r\u0085\u2028\u2029])";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Group {
    Original(usize),
    Inserted(usize),
}

#[derive(Debug, Clone)]
enum Piece {
    Text(String),
    /// A capture group opens here (renders nothing; numbers groups in output order).
    Mark(Group),
    /// A numbered backreference.
    Ref(Group),
    /// `.` outside a class.
    Dot,
    /// `\d` and friends: the original text, and its explicit ECMA form.
    Shorthand {
        original: String,
        ecma: String,
    },
    /// `\A`: `^`, unless the pattern uses the multiline flag.
    Start,
    /// `\z`: `$`, unless the pattern uses the multiline flag.
    End,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Atom {
    /// Something a quantifier may follow.
    Quantifiable,
    /// A look-around group.
    LookAround,
    /// Anchors, flag groups, removed comments.
    Other,
}

#[derive(Debug, Clone)]
struct ClassChar {
    cp: u32,
    text: String,
}

#[derive(Debug, Clone)]
enum ClassItem {
    Char(ClassChar),
    Range(ClassChar, ClassChar),
    /// Members contributed by a class escape; `empty` when it contributes none.
    Set {
        pieces: Vec<Piece>,
        empty: bool,
    },
}

/// A translated property: the union of `ranges` and `escapes` (ECMA `\p{..}` escapes).
#[derive(Debug, Clone, Default)]
struct CharSet {
    ranges: Vec<(u32, u32)>,
    escapes: Vec<String>,
}

impl CharSet {
    fn ranges(ranges: &[(u32, u32)]) -> Self {
        Self {
            ranges: ranges.to_vec(),
            escapes: Vec::new(),
        }
    }

    fn escapes(escapes: &[&str]) -> Self {
        Self {
            ranges: Vec::new(),
            escapes: escapes.iter().map(|e| (*e).to_owned()).collect(),
        }
    }

    /// The complement, when it can be written as class members.
    fn negate(&self) -> Option<Self> {
        if self.escapes.is_empty() {
            return Some(Self {
                ranges: complement(&self.ranges),
                escapes: Vec::new(),
            });
        }
        if self.ranges.is_empty() && self.escapes.len() == 1 {
            let escape = &self.escapes[0];
            let toggled = if let Some(rest) = escape.strip_prefix("\\p") {
                format!("\\P{rest}")
            } else if let Some(rest) = escape.strip_prefix("\\P") {
                format!("\\p{rest}")
            } else {
                return None;
            };
            return Some(Self {
                ranges: Vec::new(),
                escapes: vec![toggled],
            });
        }
        None
    }

    fn is_empty(&self) -> bool {
        self.ranges.is_empty() && self.escapes.is_empty()
    }

    fn members(&self) -> String {
        let mut out = String::new();
        for &(lo, hi) in &self.ranges {
            push_cp(&mut out, lo);
            if hi != lo {
                out.push('-');
                push_cp(&mut out, hi);
            }
        }
        for escape in &self.escapes {
            out.push_str(escape);
        }
        out
    }
}

/// The code points not in `ranges`. Ranges may span the surrogate block (the engine skips it; the
/// validator mishandles negated classes whose ranges stop at `D7FF` and resume at `E000`), but
/// never start or end inside it.
fn complement(ranges: &[(u32, u32)]) -> Vec<(u32, u32)> {
    let mut sorted: Vec<(u32, u32)> = ranges.to_vec();
    sorted.sort_unstable();
    let mut out = Vec::new();
    let mut next = 0_u32;
    for (lo, hi) in sorted {
        if lo > next {
            out.push((next, lo - 1));
        }
        next = next.max(hi.saturating_add(1));
    }
    if next <= MAX_CP {
        out.push((next, MAX_CP));
    }
    out.into_iter()
        .filter_map(|(lo, hi)| clamp(lo, hi))
        .collect()
}

/// Moves range ends out of the surrogate block; `None` when nothing is left.
fn clamp(lo: u32, hi: u32) -> Option<(u32, u32)> {
    let lo = if (SURROGATES.0..=SURROGATES.1).contains(&lo) {
        SURROGATES.1 + 1
    } else {
        lo
    };
    let hi = if (SURROGATES.0..=SURROGATES.1).contains(&hi) {
        SURROGATES.0 - 1
    } else {
        hi
    };
    (lo <= hi).then_some((lo, hi))
}

/// Writes a code point as an ECMA-262 (Unicode mode) class member or atom.
fn push_cp(out: &mut String, cp: u32) {
    match char::from_u32(cp) {
        Some(c) if c.is_ascii_alphanumeric() => out.push(c),
        _ if cp <= 0xFF => {
            let _ = write!(out, "\\x{cp:02X}");
        }
        _ if cp <= 0xFFFF => {
            let _ = write!(out, "\\u{cp:04X}");
        }
        _ => {
            let _ = write!(out, "\\u{{{cp:X}}}");
        }
    }
}

fn cp_text(cp: u32) -> String {
    let mut out = String::new();
    push_cp(&mut out, cp);
    out
}

fn is_high_surrogate(cp: u32) -> bool {
    (0xD800..=0xDBFF).contains(&cp)
}

fn is_low_surrogate(cp: u32) -> bool {
    (0xDC00..=0xDFFF).contains(&cp)
}

/// The members ECMA-262 gives `\d`, `\w`, `\s` (and their negations) inside a class.
fn shorthand_members(letter: char) -> Option<String> {
    let set = match letter.to_ascii_lowercase() {
        'd' => CharSet::ranges(&[(0x30, 0x39)]),
        'w' => CharSet::ranges(&[(0x30, 0x39), (0x41, 0x5A), (0x5F, 0x5F), (0x61, 0x7A)]),
        's' => CharSet::ranges(&[
            (0x09, 0x0D),
            (0x20, 0x20),
            (0xA0, 0xA0),
            (0x1680, 0x1680),
            (0x2000, 0x200A),
            (0x2028, 0x2029),
            (0x202F, 0x202F),
            (0x205F, 0x205F),
            (0x3000, 0x3000),
            (0xFEFF, 0xFEFF),
        ]),
        _ => return None,
    };
    let set = if letter.is_ascii_uppercase() {
        set.negate()?
    } else {
        set
    };
    Some(set.members())
}

/// The result of reading a `\p`/`\P` escape.
enum Property {
    /// Valid ECMA-262 as written.
    Keep,
    /// A translated set (negation already applied when expressible).
    Set { set: CharSet, negated: bool },
}

const GENERAL_CATEGORIES: &[&str] = &[
    "L", "Lu", "Ll", "Lt", "LC", "Lm", "Lo", "M", "Mn", "Mc", "Me", "N", "Nd", "Nl", "No", "P",
    "Pc", "Pd", "Ps", "Pe", "Pi", "Pf", "Po", "S", "Sm", "Sc", "Sk", "So", "Z", "Zs", "Zl", "Zp",
    "C", "Cc", "Cf", "Cs", "Co", "Cn",
];

/// Lone property names ECMA-262 accepts (general category values and binary properties), minus
/// the Java POSIX names that shadow ECMA aliases (`Lower`, `Upper`, `Alpha`).
const ECMA_LONE_NAMES: &[&str] = &[
    "Letter",
    "Cased_Letter",
    "Uppercase_Letter",
    "Lowercase_Letter",
    "Titlecase_Letter",
    "Modifier_Letter",
    "Other_Letter",
    "Mark",
    "Combining_Mark",
    "Nonspacing_Mark",
    "Spacing_Mark",
    "Enclosing_Mark",
    "Number",
    "Decimal_Number",
    "digit",
    "Letter_Number",
    "Other_Number",
    "Punctuation",
    "punct",
    "Connector_Punctuation",
    "Dash_Punctuation",
    "Open_Punctuation",
    "Close_Punctuation",
    "Initial_Punctuation",
    "Final_Punctuation",
    "Other_Punctuation",
    "Symbol",
    "Math_Symbol",
    "Currency_Symbol",
    "Modifier_Symbol",
    "Other_Symbol",
    "Separator",
    "Space_Separator",
    "Line_Separator",
    "Paragraph_Separator",
    "Other",
    "Control",
    "cntrl",
    "Format",
    "Surrogate",
    "Private_Use",
    "Unassigned",
    "ASCII",
    "ASCII_Hex_Digit",
    "AHex",
    "Alphabetic",
    "Any",
    "Assigned",
    "Bidi_Control",
    "Bidi_C",
    "Bidi_Mirrored",
    "Bidi_M",
    "Case_Ignorable",
    "CI",
    "Cased",
    "Changes_When_Casefolded",
    "CWCF",
    "Changes_When_Casemapped",
    "CWCM",
    "Changes_When_Lowercased",
    "CWL",
    "Changes_When_NFKC_Casefolded",
    "CWKCF",
    "Changes_When_Titlecased",
    "CWT",
    "Changes_When_Uppercased",
    "CWU",
    "Dash",
    "Default_Ignorable_Code_Point",
    "DI",
    "Deprecated",
    "Dep",
    "Diacritic",
    "Dia",
    "Emoji",
    "Emoji_Component",
    "EComp",
    "Emoji_Modifier",
    "EMod",
    "Emoji_Modifier_Base",
    "EBase",
    "Emoji_Presentation",
    "EPres",
    "Extended_Pictographic",
    "ExtPict",
    "Extender",
    "Ext",
    "Grapheme_Base",
    "Gr_Base",
    "Grapheme_Extend",
    "Gr_Ext",
    "Hex_Digit",
    "Hex",
    "IDS_Binary_Operator",
    "IDSB",
    "IDS_Trinary_Operator",
    "IDST",
    "ID_Continue",
    "IDC",
    "ID_Start",
    "IDS",
    "Ideographic",
    "Ideo",
    "Join_Control",
    "Join_C",
    "Logical_Order_Exception",
    "LOE",
    "Lowercase",
    "Math",
    "Noncharacter_Code_Point",
    "NChar",
    "Pattern_Syntax",
    "Pat_Syn",
    "Pattern_White_Space",
    "Pat_WS",
    "Quotation_Mark",
    "QMark",
    "Radical",
    "Regional_Indicator",
    "RI",
    "Sentence_Terminal",
    "STerm",
    "Soft_Dotted",
    "SD",
    "Terminal_Punctuation",
    "Term",
    "Unified_Ideograph",
    "UIdeo",
    "Uppercase",
    "Variation_Selector",
    "VS",
    "White_Space",
    "space",
    "XID_Continue",
    "XIDC",
    "XID_Start",
    "XIDS",
];

/// Java's POSIX classes (ASCII only), `\p{all}`, `\p{L1}`, `\p{LD}` and `java*` properties.
fn java_property(name: &str) -> Option<CharSet> {
    let set = match name {
        "Lower" => CharSet::ranges(&[(0x61, 0x7A)]),
        "Upper" => CharSet::ranges(&[(0x41, 0x5A)]),
        "Alpha" => CharSet::ranges(&[(0x41, 0x5A), (0x61, 0x7A)]),
        "Digit" => CharSet::ranges(&[(0x30, 0x39)]),
        "Alnum" => CharSet::ranges(&[(0x30, 0x39), (0x41, 0x5A), (0x61, 0x7A)]),
        "Punct" => CharSet::ranges(&[(0x21, 0x2F), (0x3A, 0x40), (0x5B, 0x60), (0x7B, 0x7E)]),
        "Graph" => CharSet::ranges(&[(0x21, 0x7E)]),
        "Print" => CharSet::ranges(&[(0x20, 0x7E)]),
        "Blank" => CharSet::ranges(&[(0x09, 0x09), (0x20, 0x20)]),
        "Cntrl" => CharSet::ranges(&[(0x00, 0x1F), (0x7F, 0x7F)]),
        "XDigit" => CharSet::ranges(&[(0x30, 0x39), (0x41, 0x46), (0x61, 0x66)]),
        "Space" => CharSet::ranges(&[(0x09, 0x0D), (0x20, 0x20)]),
        "all" => CharSet::ranges(&[(0, MAX_CP)]),
        "L1" => CharSet::ranges(&[(0, 0xFF)]),
        "LD" | "javaLetterOrDigit" => CharSet::escapes(&["\\p{L}", "\\p{Nd}"]),
        "javaLowerCase" => CharSet::escapes(&["\\p{Lowercase}"]),
        "javaUpperCase" => CharSet::escapes(&["\\p{Uppercase}"]),
        "javaWhitespace" => CharSet::ranges(&[
            (0x09, 0x0D),
            (0x1C, 0x20),
            (0x1680, 0x1680),
            (0x2000, 0x2006),
            (0x2008, 0x200A),
            (0x2028, 0x2029),
            (0x205F, 0x205F),
            (0x3000, 0x3000),
        ]),
        "javaMirrored" => CharSet::escapes(&["\\p{Bidi_Mirrored}"]),
        "javaLetter" => CharSet::escapes(&["\\p{L}"]),
        "javaDigit" => CharSet::escapes(&["\\p{Nd}"]),
        "javaAlphabetic" => CharSet::escapes(&["\\p{Alphabetic}"]),
        "javaIdeographic" => CharSet::escapes(&["\\p{Ideographic}"]),
        "javaTitleCase" => CharSet::escapes(&["\\p{Lt}"]),
        "javaSpaceChar" => CharSet::escapes(&["\\p{Z}"]),
        "javaISOControl" => CharSet::ranges(&[(0x00, 0x1F), (0x7F, 0x9F)]),
        "javaDefined" => CharSet::escapes(&["\\P{Cn}"]),
        _ => return None,
    };
    Some(set)
}

/// Java's `\p{IsXxx}` binary properties (case-insensitive, as Java reads them).
fn java_binary_property(name: &str) -> Option<CharSet> {
    let upper = name.to_ascii_uppercase();
    let escapes: &[&str] = match upper.as_str() {
        "ALPHABETIC" => &["\\p{Alphabetic}"],
        "LETTER" => &["\\p{L}"],
        "IDEOGRAPHIC" => &["\\p{Ideographic}"],
        "LOWERCASE" => &["\\p{Lowercase}"],
        "UPPERCASE" => &["\\p{Uppercase}"],
        "TITLECASE" => &["\\p{Lt}"],
        "WHITE_SPACE" | "WHITESPACE" => &["\\p{White_Space}"],
        "CONTROL" => &["\\p{Cc}"],
        "PUNCTUATION" => &["\\p{P}"],
        "HEX_DIGIT" | "HEXDIGIT" => &["\\p{Hex_Digit}"],
        "ASSIGNED" => &["\\p{Assigned}"],
        "NONCHARACTER_CODE_POINT" => &["\\p{Noncharacter_Code_Point}"],
        "DIGIT" => &["\\p{Nd}"],
        "ALNUM" => &["\\p{Alphabetic}", "\\p{Nd}"],
        "BLANK" => &["\\t", "\\p{Zs}"],
        "WORD" => &[
            "\\p{Alphabetic}",
            "\\p{M}",
            "\\p{Nd}",
            "\\p{Pc}",
            "\\p{Join_Control}",
        ],
        "JOIN_CONTROL" | "JOINCONTROL" => &["\\p{Join_Control}"],
        "EMOJI" => &["\\p{Emoji}"],
        "EMOJI_PRESENTATION" => &["\\p{Emoji_Presentation}"],
        "EMOJI_MODIFIER" => &["\\p{Emoji_Modifier}"],
        "EMOJI_MODIFIER_BASE" => &["\\p{Emoji_Modifier_Base}"],
        "EMOJI_COMPONENT" => &["\\p{Emoji_Component}"],
        "EXTENDED_PICTOGRAPHIC" => &["\\p{Extended_Pictographic}"],
        _ => return None,
    };
    Some(CharSet::escapes(escapes))
}

/// Common Unicode blocks (Java `\p{InXxx}`), keyed by lower-case name without spaces,
/// underscores or hyphens.
const BLOCKS: &[(&str, u32, u32)] = &[
    ("basiclatin", 0x0000, 0x007F),
    ("latin1supplement", 0x0080, 0x00FF),
    ("latinextendeda", 0x0100, 0x017F),
    ("latinextendedb", 0x0180, 0x024F),
    ("ipaextensions", 0x0250, 0x02AF),
    ("spacingmodifierletters", 0x02B0, 0x02FF),
    ("combiningdiacriticalmarks", 0x0300, 0x036F),
    ("greek", 0x0370, 0x03FF),
    ("greekandcoptic", 0x0370, 0x03FF),
    ("cyrillic", 0x0400, 0x04FF),
    ("armenian", 0x0530, 0x058F),
    ("hebrew", 0x0590, 0x05FF),
    ("arabic", 0x0600, 0x06FF),
    ("devanagari", 0x0900, 0x097F),
    ("thai", 0x0E00, 0x0E7F),
    ("hangujamo", 0x1100, 0x11FF),
    ("hanguljamo", 0x1100, 0x11FF),
    ("latinextendedadditional", 0x1E00, 0x1EFF),
    ("greekextended", 0x1F00, 0x1FFF),
    ("generalpunctuation", 0x2000, 0x206F),
    ("currencysymbols", 0x20A0, 0x20CF),
    ("letterlikesymbols", 0x2100, 0x214F),
    ("numberforms", 0x2150, 0x218F),
    ("arrows", 0x2190, 0x21FF),
    ("mathematicaloperators", 0x2200, 0x22FF),
    ("boxdrawing", 0x2500, 0x257F),
    ("geometricshapes", 0x25A0, 0x25FF),
    ("miscellaneoussymbols", 0x2600, 0x26FF),
    ("dingbats", 0x2700, 0x27BF),
    ("cjksymbolsandpunctuation", 0x3000, 0x303F),
    ("hiragana", 0x3040, 0x309F),
    ("katakana", 0x30A0, 0x30FF),
    ("cjkunifiedideographs", 0x4E00, 0x9FFF),
    ("hangulsyllables", 0xAC00, 0xD7AF),
    ("privateusearea", 0xE000, 0xF8FF),
    ("halfwidthandfullwidthforms", 0xFF00, 0xFFEF),
    ("specials", 0xFFF0, 0xFFFF),
];

fn block(name: &str) -> Option<CharSet> {
    let key: String = name
        .chars()
        .filter(|c| !matches!(c, ' ' | '_' | '-'))
        .map(|c| c.to_ascii_lowercase())
        .collect();
    BLOCKS
        .iter()
        .find(|(block, _, _)| *block == key)
        .map(|&(_, lo, hi)| CharSet::ranges(&[(lo, hi)]))
}

/// `Latin` from `LATIN`/`latin`, `Old_Italic` from `OLD_ITALIC`: ECMA wants canonical case.
fn script_name(name: &str) -> Option<String> {
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return None;
    }
    let words: Vec<String> = name
        .split('_')
        .map(|word| {
            let mut chars = word.chars();
            match chars.next() {
                Some(first) => {
                    first.to_ascii_uppercase().to_string() + &chars.as_str().to_ascii_lowercase()
                }
                None => String::new(),
            }
        })
        .collect();
    Some(words.join("_"))
}

/// Translates a property name (`\p{name}`); `Ok(None)` keeps it as written.
fn property(name: &str) -> std::result::Result<Option<CharSet>, String> {
    if let Some((key, value)) = name.split_once('=') {
        let key_lower = key.to_ascii_lowercase();
        return match key_lower.as_str() {
            "general_category" | "gc" => {
                if GENERAL_CATEGORIES.contains(&value) || ECMA_LONE_NAMES.contains(&value) {
                    if key == "General_Category" || key == "gc" {
                        Ok(None)
                    } else {
                        Ok(Some(CharSet {
                            ranges: Vec::new(),
                            escapes: vec![format!("\\p{{gc={value}}}")],
                        }))
                    }
                } else {
                    Err(format!("unknown general category `{value}`"))
                }
            }
            "script" | "sc" | "script_extensions" | "scx" => {
                let canonical_key = if key_lower.starts_with("script_") || key_lower == "scx" {
                    "scx"
                } else {
                    "sc"
                };
                if matches!(key, "Script" | "sc" | "Script_Extensions" | "scx") {
                    return Ok(None);
                }
                let value =
                    script_name(value).ok_or_else(|| format!("invalid script name `{value}`"))?;
                Ok(Some(CharSet {
                    ranges: Vec::new(),
                    escapes: vec![format!("\\p{{{canonical_key}={value}}}")],
                }))
            }
            "block" | "blk" => block(value)
                .map(Some)
                .ok_or_else(|| format!("unsupported Unicode block `{value}`")),
            _ => Err(format!("unsupported Unicode property `{key}`")),
        };
    }
    if name == "ASCII" {
        return Ok(None);
    }
    if let Some(set) = java_property(name) {
        return Ok(Some(set));
    }
    if GENERAL_CATEGORIES.contains(&name) || ECMA_LONE_NAMES.contains(&name) {
        return Ok(None);
    }
    if let Some(rest) = name.strip_prefix("In") {
        return block(rest)
            .map(Some)
            .ok_or_else(|| format!("unsupported Unicode block `{rest}`"));
    }
    if let Some(rest) = name.strip_prefix("Is") {
        if let Some(set) = java_binary_property(rest) {
            return Ok(Some(set));
        }
        if GENERAL_CATEGORIES.contains(&rest) {
            return Ok(Some(CharSet {
                ranges: Vec::new(),
                escapes: vec![format!("\\p{{{rest}}}")],
            }));
        }
        if let Some(set) = java_property(rest) {
            return Ok(Some(set));
        }
        let script = script_name(rest).ok_or_else(|| format!("invalid script name `{rest}`"))?;
        return Ok(Some(CharSet {
            ranges: Vec::new(),
            escapes: vec![format!("\\p{{sc={script}}}")],
        }));
    }
    // PCRE-style bare script names (`\p{Greek}`) and other names the engine may know: kept; the
    // validator reports those it does not know.
    Ok(None)
}

struct Scanner<'a> {
    src: &'a str,
    pos: usize,
    out: Vec<Piece>,
    changed: bool,
    look_around: bool,
    dot_all: bool,
    multiline: bool,
    groups: usize,
    names: HashMap<&'a str, usize>,
    total_groups: usize,
    inserted: usize,
}

impl<'a> Scanner<'a> {
    fn new(src: &'a str) -> Self {
        Self {
            src,
            pos: 0,
            out: Vec::new(),
            changed: false,
            look_around: false,
            dot_all: false,
            multiline: false,
            groups: 0,
            names: HashMap::new(),
            total_groups: count_groups(src),
            inserted: 0,
        }
    }

    fn peek(&self) -> Option<char> {
        self.src[self.pos..].chars().next()
    }

    fn peek_at(&self, n: usize) -> Option<char> {
        self.src[self.pos..].chars().nth(n)
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        Some(c)
    }

    fn eat(&mut self, expected: char) -> bool {
        if self.peek() == Some(expected) {
            self.pos += expected.len_utf8();
            true
        } else {
            false
        }
    }

    fn rest(&self) -> &'a str {
        &self.src[self.pos..]
    }

    fn text(&mut self, text: impl Into<String>) {
        self.out.push(Piece::Text(text.into()));
    }

    fn err<T>(&self, offset: usize, message: impl Into<String>) -> Result<T> {
        Err(PatternDialectError::new(offset, message))
    }

    /// Alternatives until the end (depth 0) or the `)` closing the current group (not consumed).
    fn alternation(&mut self, depth: usize) -> Result<()> {
        loop {
            match self.peek() {
                None => return Ok(()),
                Some(')') => {
                    if depth == 0 {
                        return self.err(self.pos, "unmatched `)`");
                    }
                    return Ok(());
                }
                Some('|') => {
                    self.pos += 1;
                    self.text("|");
                }
                Some(_) => self.term(depth)?,
            }
        }
    }

    fn term(&mut self, depth: usize) -> Result<()> {
        let start_piece = self.out.len();
        let start = self.pos;
        let Some(c) = self.bump() else {
            return Ok(());
        };
        let atom = match c {
            '(' => self.group(start, depth)?,
            '[' => self.class(start)?,
            '\\' => self.escape(start, depth)?,
            '.' => {
                self.out.push(Piece::Dot);
                Atom::Quantifiable
            }
            '^' | '$' => {
                self.text(c);
                Atom::Other
            }
            '*' | '+' | '?' => return self.err(start, format!("nothing to repeat before `{c}`")),
            _ => {
                self.text(c);
                Atom::Quantifiable
            }
        };
        self.quantifier(start_piece, atom)
    }

    /// A quantifier (and its lazy `?` or possessive `+` suffix) after the atom whose output
    /// starts at `start_piece`.
    fn quantifier(&mut self, start_piece: usize, atom: Atom) -> Result<()> {
        let q_start = self.pos;
        let min = match self.peek() {
            Some('*' | '?') => {
                self.pos += 1;
                0
            }
            Some('+') => {
                self.pos += 1;
                1
            }
            Some('{') => match braced_quantifier(self.rest()) {
                Some((len, min)) => {
                    self.pos += len;
                    min
                }
                None => return Ok(()),
            },
            _ => return Ok(()),
        };
        let mut quantifier = self.src[q_start..self.pos].to_owned();
        if let Some(max) = quantifier.strip_prefix("{,") {
            // PCRE2 (10.43+) and Python read `{,m}` as `{0,m}`; ECMA would take it literally.
            quantifier = format!("{{0,{max}");
            self.changed = true;
        }
        let lazy = self.eat('?');
        let possessive = !lazy && self.eat('+');
        match atom {
            Atom::Other => self.err(q_start, "quantifier without a target"),
            Atom::LookAround => {
                // A look-around is zero-width: repeating it at least once is the same as once,
                // allowing zero repetitions always succeeds.
                self.changed = true;
                if min == 0 {
                    if self.out[start_piece..]
                        .iter()
                        .any(|piece| matches!(piece, Piece::Mark(_)))
                    {
                        return self.err(q_start, "optional look-around with captures");
                    }
                    self.out.truncate(start_piece);
                }
                Ok(())
            }
            Atom::Quantifiable if possessive => {
                self.changed = true;
                self.look_around = true;
                let group = Group::Inserted(self.inserted);
                self.inserted += 1;
                let prefix = [
                    Piece::Text("(?:(?=".to_owned()),
                    Piece::Mark(group),
                    Piece::Text("(".to_owned()),
                ];
                self.out.splice(start_piece..start_piece, prefix);
                self.text(quantifier);
                self.text("))");
                self.out.push(Piece::Ref(group));
                self.text(")");
                Ok(())
            }
            Atom::Quantifiable => {
                self.text(quantifier);
                if lazy {
                    self.text("?");
                }
                Ok(())
            }
        }
    }

    fn group_name(&mut self, close: char, start: usize) -> Result<&'a str> {
        let rest = self.rest();
        let Some(end) = rest.find(close) else {
            return self.err(start, "unterminated group name");
        };
        let name = &rest[..end];
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_alphanumeric() || c == '_' || c == '$')
        {
            return self.err(start, format!("invalid group name `{name}`"));
        }
        self.pos += end + close.len_utf8();
        Ok(name)
    }

    fn close_group(&mut self, start: usize, depth: usize) -> Result<()> {
        self.alternation(depth + 1)?;
        if !self.eat(')') {
            return self.err(start, "unclosed group");
        }
        self.text(")");
        Ok(())
    }

    fn capture(&mut self, open: String, start: usize, depth: usize) -> Result<Atom> {
        self.groups += 1;
        self.out.push(Piece::Mark(Group::Original(self.groups)));
        self.text(open);
        self.close_group(start, depth)?;
        Ok(Atom::Quantifiable)
    }

    /// After `(`.
    fn group(&mut self, start: usize, depth: usize) -> Result<Atom> {
        if !self.eat('?') {
            return self.capture("(".to_owned(), start, depth);
        }
        let Some(c) = self.bump() else {
            return self.err(start, "unclosed group");
        };
        match c {
            ':' => {
                self.text("(?:");
                self.close_group(start, depth)?;
                Ok(Atom::Quantifiable)
            }
            '=' | '!' => {
                self.look_around = true;
                self.text(format!("(?{c}"));
                self.close_group(start, depth)?;
                Ok(Atom::LookAround)
            }
            '<' if matches!(self.peek(), Some('=' | '!')) => {
                self.look_around = true;
                let Some(kind) = self.bump() else {
                    return self.err(start, "unclosed group");
                };
                self.text(format!("(?<{kind}"));
                self.close_group(start, depth)?;
                Ok(Atom::LookAround)
            }
            '<' => {
                let name = self.group_name('>', start)?;
                self.names.insert(name, self.groups + 1);
                self.capture(format!("(?<{name}>"), start, depth)
            }
            '\'' => {
                self.changed = true;
                let name = self.group_name('\'', start)?;
                self.names.insert(name, self.groups + 1);
                self.capture(format!("(?<{name}>"), start, depth)
            }
            'P' => match self.bump() {
                Some('<') => {
                    self.changed = true;
                    let name = self.group_name('>', start)?;
                    self.names.insert(name, self.groups + 1);
                    self.capture(format!("(?<{name}>"), start, depth)
                }
                Some('=') => {
                    let name = self.group_name(')', start)?;
                    self.named_ref(name);
                    Ok(Atom::Quantifiable)
                }
                _ => self.err(start, "unsupported group syntax `(?P`"),
            },
            '>' => {
                self.changed = true;
                self.look_around = true;
                let group = Group::Inserted(self.inserted);
                self.inserted += 1;
                self.text("(?:(?=");
                self.out.push(Piece::Mark(group));
                self.text("(");
                self.alternation(depth + 1)?;
                if !self.eat(')') {
                    return self.err(start, "unclosed group");
                }
                self.text("))");
                self.out.push(Piece::Ref(group));
                self.text(")");
                Ok(Atom::Quantifiable)
            }
            '#' => {
                let Some(end) = self.rest().find(')') else {
                    return self.err(start, "unclosed comment group");
                };
                self.pos += end + 1;
                self.changed = true;
                Ok(Atom::Other)
            }
            c if c.is_ascii_alphabetic() || c == '-' => {
                let mut on = true;
                let mut flag = Some(c);
                loop {
                    match flag {
                        Some('-') => on = false,
                        Some(f @ ('i' | 'm' | 's' | 'x' | 'u' | 'U')) => {
                            if on && f == 's' {
                                self.dot_all = true;
                            }
                            if on && f == 'm' {
                                self.multiline = true;
                            }
                        }
                        Some(':') => {
                            let open = self.src[start..self.pos].to_owned();
                            self.text(open);
                            self.close_group(start, depth)?;
                            return Ok(Atom::Quantifiable);
                        }
                        Some(')') => {
                            let open = self.src[start..self.pos].to_owned();
                            self.text(open);
                            return Ok(Atom::Other);
                        }
                        Some(other) => {
                            return self.err(start, format!("unsupported inline flag `{other}`"));
                        }
                        None => return self.err(start, "unclosed group"),
                    }
                    flag = self.bump();
                }
            }
            _ => self.err(start, format!("unsupported group syntax `(?{c}`")),
        }
    }

    /// After `\` outside a class.
    fn escape(&mut self, start: usize, depth: usize) -> Result<Atom> {
        let Some(c) = self.bump() else {
            return self.err(start, "pattern ends with `\\`");
        };
        match c {
            'd' | 'D' | 'w' | 'W' | 's' | 'S' => {
                // Negated shorthands come back as the complement's members.
                let members = shorthand_members(c).unwrap_or_default();
                self.out.push(Piece::Shorthand {
                    original: format!("\\{c}"),
                    ecma: format!("[{members}]"),
                });
            }
            'p' | 'P' => match self.property(start, c == 'P')? {
                (Property::Keep, text) => {
                    if text != self.src[start..self.pos] {
                        self.changed = true;
                    }
                    self.text(text);
                }
                (Property::Set { set, negated }, _) => {
                    self.changed = true;
                    let (set, negated) = match (negated, set.negate()) {
                        (true, Some(complement)) => (complement, false),
                        (negated, _) => (set, negated),
                    };
                    if set.is_empty() {
                        self.text(if negated { r"[\s\S]" } else { r"[^\s\S]" });
                    } else if !negated && set.ranges.is_empty() && set.escapes.len() == 1 {
                        self.text(set.escapes[0].clone());
                    } else {
                        let caret = if negated { "^" } else { "" };
                        self.text(format!("[{caret}{}]", set.members()));
                    }
                }
            },
            'A' => {
                self.changed = true;
                self.out.push(Piece::Start);
                return Ok(Atom::Other);
            }
            'z' => {
                self.changed = true;
                self.out.push(Piece::End);
                return Ok(Atom::Other);
            }
            'Z' => {
                self.changed = true;
                let at_end = match self.peek() {
                    None => depth == 0,
                    Some('|') => depth == 0,
                    _ => false,
                };
                if at_end {
                    self.text(format!("{LINE_TERMINATOR}?"));
                    self.out.push(Piece::End);
                } else {
                    self.look_around = true;
                    self.text(format!("(?={LINE_TERMINATOR}?"));
                    self.out.push(Piece::End);
                    self.text(")");
                }
                return Ok(Atom::Other);
            }
            'R' => {
                self.changed = true;
                self.text(r"(?:\r\n|[\n\x0B\f\r\u0085\u2028\u2029])");
            }
            'h' | 'H' | 'V' => {
                self.changed = true;
                let (members, negated) = special_class(c);
                let caret = if negated { "^" } else { "" };
                self.text(format!("[{caret}{members}]"));
            }
            'Q' => {
                self.changed = true;
                let rest = self.rest();
                let (quoted, len) = match rest.find("\\E") {
                    Some(end) => (&rest[..end], end + 2),
                    None => (rest, rest.len()),
                };
                self.pos += len;
                if quoted.is_empty() {
                    return Ok(Atom::Other);
                }
                let mut text = String::from("(?:");
                for q in quoted.chars() {
                    if regex_meta(q) {
                        text.push('\\');
                    }
                    text.push(q);
                }
                text.push(')');
                self.text(text);
            }
            'E' => {
                // A stray `\E` ends nothing (Java ignores it).
                self.changed = true;
                return Ok(Atom::Other);
            }
            '1'..='9' => {
                let mut number = c.to_digit(10).map_or(0, |d| d as usize);
                while let Some(d) = self.peek().and_then(|d| d.to_digit(10)) {
                    let candidate = number * 10 + d as usize;
                    if candidate > self.total_groups {
                        break;
                    }
                    number = candidate;
                    self.pos += 1;
                }
                self.out.push(Piece::Ref(Group::Original(number)));
            }
            '0' => {
                // `\0` alone is NUL (ECMA-262, PCRE); the engine only knows `\x00`.
                let cp = self.octal_after_zero().unwrap_or(0);
                self.changed = true;
                self.text(cp_text(cp));
            }
            'x' => {
                let (cp, rewritten) = self.hex_x(start)?;
                if rewritten {
                    self.changed = true;
                    self.text(cp_text(cp));
                } else {
                    self.text(self.src[start..self.pos].to_owned());
                }
            }
            'u' => {
                let (cp, rewritten) = self.hex_u(start)?;
                if is_high_surrogate(cp) || is_low_surrogate(cp) {
                    return self.err(
                        start,
                        "a lone UTF-16 surrogate escape outside a character class cannot match",
                    );
                }
                if rewritten {
                    self.changed = true;
                    self.text(cp_text(cp));
                } else {
                    self.text(self.src[start..self.pos].to_owned());
                }
            }
            'a' => {
                self.changed = true;
                self.text(r"\x07");
            }
            'e' => {
                self.changed = true;
                self.text(r"\x1B");
            }
            'k' => {
                let name = match self.bump() {
                    Some('<') => self.group_name('>', start)?,
                    Some('\'') => self.group_name('\'', start)?,
                    Some('{') => self.group_name('}', start)?,
                    _ => return self.err(start, "unsupported `\\k` syntax"),
                };
                self.named_ref(name);
            }
            'b' | 'B' => {
                self.text(format!("\\{c}"));
                return Ok(Atom::Other);
            }
            't' | 'n' | 'r' | 'f' | 'v' => self.text(format!("\\{c}")),
            'c' => match self.peek() {
                Some(l) if l.is_ascii_alphabetic() => {
                    self.pos += 1;
                    self.text(format!("\\c{l}"));
                }
                _ => return self.err(start, "`\\c` must be followed by a letter"),
            },
            '<' | '>' => {
                self.changed = true;
                self.text(c);
            }
            c if c.is_ascii_alphanumeric() => {
                return self.err(start, format!("unsupported escape `\\{c}`"));
            }
            c if c.is_ascii() && !c.is_ascii_whitespace() && !c.is_ascii_control() => {
                self.text(format!("\\{c}"));
            }
            c => {
                // Escaped space, control or non-ASCII character: the character itself.
                self.changed = true;
                self.text(cp_text(c as u32));
            }
        }
        Ok(Atom::Quantifiable)
    }

    /// A named backreference: numbered (the validator's ECMA translation rejects `\k<name>`, the
    /// engine takes numbers), or `\k<name>` for a group defined later.
    fn named_ref(&mut self, name: &'a str) {
        self.changed = true;
        match self.names.get(name) {
            Some(number) => self.out.push(Piece::Ref(Group::Original(*number))),
            None => self.text(format!("\\k<{name}>")),
        }
    }

    /// After `\0`: Java's `\0n`, `\0nn`, `\0mnn` (m ≤ 3).
    fn octal_after_zero(&mut self) -> Option<u32> {
        let digits: Vec<u32> = self
            .rest()
            .chars()
            .take(3)
            .map_while(|c| c.to_digit(8))
            .collect();
        let take = match digits.as_slice() {
            [] => return None,
            [first, _, _] if *first <= 3 => 3,
            [_] => 1,
            _ => 2,
        };
        self.pos += take;
        Some(digits[..take].iter().fold(0, |acc, d| acc * 8 + d))
    }

    /// After `\x`: `\xHH` (kept) or `\x{H..}` (rewritten).
    fn hex_x(&mut self, start: usize) -> Result<(u32, bool)> {
        if self.eat('{') {
            let rest = self.rest();
            let Some(end) = rest.find('}') else {
                return self.err(start, "unterminated `\\x{`");
            };
            let cp = u32::from_str_radix(&rest[..end], 16)
                .ok()
                .filter(|cp| *cp <= MAX_CP)
                .map_or_else(|| self.err(start, "invalid `\\x{...}` escape"), Ok)?;
            self.pos += end + 1;
            return Ok((cp, true));
        }
        let hex = self.rest().as_bytes();
        if hex.len() >= 2 && hex[0].is_ascii_hexdigit() && hex[1].is_ascii_hexdigit() {
            let cp = hex_value(hex[0]) * 16 + hex_value(hex[1]);
            self.pos += 2;
            return Ok((cp, false));
        }
        self.err(start, "invalid `\\x` escape")
    }

    /// After `\u`: `\uHHHH` (a high surrogate followed by `\uLLLL` is combined, and rewritten)
    /// or `\u{H..}`.
    fn hex_u(&mut self, start: usize) -> Result<(u32, bool)> {
        if self.eat('{') {
            let rest = self.rest();
            let Some(end) = rest.find('}') else {
                return self.err(start, "unterminated `\\u{`");
            };
            let cp = u32::from_str_radix(&rest[..end], 16)
                .ok()
                .filter(|cp| *cp <= MAX_CP)
                .map_or_else(|| self.err(start, "invalid `\\u{...}` escape"), Ok)?;
            self.pos += end + 1;
            return Ok((cp, false));
        }
        let Some(cp) = hex4(self.rest()) else {
            return self.err(start, "invalid `\\u` escape");
        };
        self.pos += 4;
        if is_high_surrogate(cp)
            && let Some(low) = self.rest().strip_prefix("\\u").and_then(hex4)
            && is_low_surrogate(low)
        {
            self.pos += 6;
            let combined = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
            return Ok((combined, true));
        }
        Ok((cp, false))
    }

    /// After `\p` or `\P`: the property and its text when kept.
    fn property(&mut self, start: usize, negated: bool) -> Result<(Property, String)> {
        let letter = if negated { 'P' } else { 'p' };
        let name = if self.eat('{') {
            let rest = self.rest();
            let Some(end) = rest.find('}') else {
                return self.err(start, "unterminated `\\p{`");
            };
            self.pos += end + 1;
            &rest[..end]
        } else {
            match self.bump() {
                Some(l) if l.is_ascii_alphabetic() => &self.src[self.pos - 1..self.pos],
                _ => return self.err(start, "invalid `\\p` escape"),
            }
        };
        let (name, negated) = match name.strip_prefix('^') {
            Some(rest) => (rest.trim(), !negated),
            None => (name.trim(), negated),
        };
        match property(name) {
            Ok(None) => {
                let letter = if negated { 'P' } else { 'p' };
                Ok((Property::Keep, format!("\\{letter}{{{name}}}")))
            }
            Ok(Some(set)) => Ok((Property::Set { set, negated }, String::new())),
            Err(message) => self.err(start, format!("{message} in `\\{letter}{{{name}}}`")),
        }
    }

    /// After `[`.
    fn class(&mut self, start: usize) -> Result<Atom> {
        let negated = self.eat('^');
        let mut items: Vec<ClassItem> = Vec::new();
        loop {
            let Some(c) = self.peek() else {
                return self.err(start, "unclosed character class");
            };
            if c == ']' {
                self.pos += 1;
                break;
            }
            let item_start = self.pos;
            let first = self.class_atom()?;
            match first {
                ClassItem::Char(lo) => {
                    if self.peek() == Some('-') && !matches!(self.peek_at(1), Some(']') | None) {
                        self.pos += 1;
                        match self.class_atom()? {
                            ClassItem::Char(hi) => {
                                if hi.cp < lo.cp {
                                    return self.err(item_start, "character range out of order");
                                }
                                items.push(ClassItem::Range(lo, hi));
                            }
                            other => {
                                // `[a-\w]`: the hyphen is a literal.
                                self.changed = true;
                                items.push(ClassItem::Char(lo));
                                items.push(hyphen());
                                items.push(other);
                            }
                        }
                    } else {
                        items.push(ClassItem::Char(lo));
                    }
                }
                set => {
                    items.push(set);
                    if self.peek() == Some('-') && !matches!(self.peek_at(1), Some(']') | None) {
                        self.pos += 1;
                        self.changed = true;
                        items.push(hyphen());
                    }
                }
            }
        }
        self.render_class(negated, items);
        Ok(Atom::Quantifiable)
    }

    fn render_class(&mut self, negated: bool, items: Vec<ClassItem>) {
        let mut high = false;
        let mut low = false;
        let mut kept: Vec<ClassItem> = Vec::with_capacity(items.len());
        for item in items {
            let (lo, hi) = match &item {
                ClassItem::Char(c) => (c.cp, c.cp),
                ClassItem::Range(a, b) => (a.cp, b.cp),
                ClassItem::Set { .. } => {
                    kept.push(item);
                    continue;
                }
            };
            if hi < SURROGATES.0 || lo > SURROGATES.1 {
                kept.push(item);
                continue;
            }
            // A range reaching past the BMP already spells out the supplementary planes.
            if hi <= 0xFFFF {
                high |= lo <= 0xDBFF;
                low |= hi >= 0xDC00;
            }
            let lo_inside = lo >= SURROGATES.0;
            let hi_inside = hi <= SURROGATES.1;
            if !lo_inside && !hi_inside {
                // Spans the whole block: the engine skips surrogates, the range stays as written.
                kept.push(item);
            } else {
                self.changed = true;
                if let Some((lo, hi)) = clamp(lo, hi) {
                    kept.push(range_item(lo, hi));
                }
            }
        }
        let has_supplementary = kept.iter().any(|item| match item {
            ClassItem::Range(lo, hi) => lo.cp <= 0x10000 && hi.cp == MAX_CP,
            _ => false,
        });
        if high && low && !has_supplementary {
            self.changed = true;
            kept.push(range_item(0x10000, MAX_CP));
        }
        let empty = kept.iter().all(|item| match item {
            ClassItem::Set { empty, .. } => *empty,
            _ => false,
        });
        if empty {
            self.changed = true;
            self.text(if negated { r"[\s\S]" } else { r"[^\s\S]" });
            return;
        }
        self.text(if negated { "[^" } else { "[" });
        for item in kept {
            match item {
                ClassItem::Char(c) => self.out.push(Piece::Text(c.text)),
                ClassItem::Range(a, b) => {
                    self.out.push(Piece::Text(format!("{}-{}", a.text, b.text)))
                }
                ClassItem::Set { pieces, .. } => self.out.extend(pieces),
            }
        }
        self.text("]");
    }

    /// One class atom: a character or a set of members.
    fn class_atom(&mut self) -> Result<ClassItem> {
        let start = self.pos;
        let Some(c) = self.bump() else {
            return self.err(start, "unclosed character class");
        };
        if c == '&' && self.peek() == Some('&') {
            return self.err(
                start,
                "Java character class intersection `&&` is not supported",
            );
        }
        if c != '\\' {
            return Ok(ClassItem::Char(ClassChar {
                cp: c as u32,
                text: c.to_string(),
            }));
        }
        let Some(e) = self.bump() else {
            return self.err(start, "pattern ends with `\\`");
        };
        let item = match e {
            'd' | 'D' | 'w' | 'W' | 's' | 'S' => ClassItem::Set {
                pieces: vec![Piece::Shorthand {
                    original: self.src[start..self.pos].to_owned(),
                    ecma: shorthand_members(e).unwrap_or_default(),
                }],
                empty: false,
            },
            'p' | 'P' => match self.property(start, e == 'P')? {
                (Property::Keep, text) => {
                    if text != self.src[start..self.pos] {
                        self.changed = true;
                    }
                    ClassItem::Set {
                        pieces: vec![Piece::Text(text)],
                        empty: false,
                    }
                }
                (Property::Set { set, negated }, _) => {
                    self.changed = true;
                    let set = if negated {
                        match set.negate() {
                            Some(set) => set,
                            None => {
                                return self.err(
                                    start,
                                    "this negated property cannot be written inside a \
                                         character class",
                                );
                            }
                        }
                    } else {
                        set
                    };
                    ClassItem::Set {
                        empty: set.is_empty(),
                        pieces: vec![Piece::Text(set.members())],
                    }
                }
            },
            'h' | 'H' | 'V' => {
                let (members, negated) = special_class(e);
                if negated {
                    return self.err(start, format!("`\\{e}` is not supported inside a class"));
                }
                self.changed = true;
                ClassItem::Set {
                    pieces: vec![Piece::Text(members.to_owned())],
                    empty: false,
                }
            }
            'Q' => {
                self.changed = true;
                let rest = self.rest();
                let (quoted, len) = match rest.find("\\E") {
                    Some(end) => (&rest[..end], end + 2),
                    None => (rest, rest.len()),
                };
                self.pos += len;
                let mut text = String::new();
                for q in quoted.chars() {
                    if matches!(q, '\\' | ']' | '[' | '-' | '^' | '&' | '~') {
                        text.push('\\');
                    }
                    text.push(q);
                }
                ClassItem::Set {
                    empty: text.is_empty(),
                    pieces: vec![Piece::Text(text)],
                }
            }
            '0'..='7' => {
                let first = e.to_digit(8).unwrap_or(0);
                let mut value = first;
                let mut count = 1;
                while count < 3 {
                    match self.peek().and_then(|d| d.to_digit(8)) {
                        Some(d) if value * 8 + d <= 0o377 => {
                            value = value * 8 + d;
                            self.pos += 1;
                            count += 1;
                        }
                        _ => break,
                    }
                }
                self.changed = true;
                char_item(value)
            }
            '8' | '9' => {
                self.changed = true;
                char_item(e as u32)
            }
            'x' => {
                let (cp, rewritten) = self.hex_x(start)?;
                if rewritten {
                    self.changed = true;
                    char_item(cp)
                } else {
                    ClassItem::Char(ClassChar {
                        cp,
                        text: self.src[start..self.pos].to_owned(),
                    })
                }
            }
            'u' => {
                let (cp, rewritten) = self.hex_u(start)?;
                if rewritten {
                    self.changed = true;
                    char_item(cp)
                } else {
                    ClassItem::Char(ClassChar {
                        cp,
                        text: self.src[start..self.pos].to_owned(),
                    })
                }
            }
            'b' => {
                self.changed = true;
                char_item(0x08)
            }
            'a' => {
                self.changed = true;
                char_item(0x07)
            }
            'e' => {
                self.changed = true;
                char_item(0x1B)
            }
            't' => known_char(0x09, self.src[start..self.pos].to_owned()),
            'n' => known_char(0x0A, self.src[start..self.pos].to_owned()),
            'v' => known_char(0x0B, self.src[start..self.pos].to_owned()),
            'f' => known_char(0x0C, self.src[start..self.pos].to_owned()),
            'r' => known_char(0x0D, self.src[start..self.pos].to_owned()),
            'c' => match self.peek() {
                Some(l) if l.is_ascii_alphabetic() => {
                    self.pos += 1;
                    known_char(l as u32 % 32, self.src[start..self.pos].to_owned())
                }
                _ => return self.err(start, "`\\c` must be followed by a letter"),
            },
            '<' | '>' => {
                self.changed = true;
                char_item(e as u32)
            }
            e if e.is_ascii_alphanumeric() => {
                return self.err(
                    start,
                    format!("unsupported escape `\\{e}` inside a character class"),
                );
            }
            e if e.is_ascii() && !e.is_ascii_whitespace() && !e.is_ascii_control() => {
                known_char(e as u32, self.src[start..self.pos].to_owned())
            }
            e => {
                self.changed = true;
                char_item(e as u32)
            }
        };
        Ok(item)
    }

    fn render(&self) -> String {
        let mut numbers: HashMap<Group, usize> = HashMap::new();
        for piece in &self.out {
            if let Piece::Mark(group) = piece {
                let next = numbers.len() + 1;
                numbers.insert(*group, next);
            }
        }
        let normalize = self.look_around;
        let mut out = String::with_capacity(self.src.len() + 16);
        for (index, piece) in self.out.iter().enumerate() {
            match piece {
                Piece::Text(text) => out.push_str(text),
                Piece::Mark(_) => {}
                Piece::Ref(group) => {
                    let number = match (numbers.get(group), group) {
                        (Some(number), _) => *number,
                        (None, Group::Original(number) | Group::Inserted(number)) => *number,
                    };
                    let digit_follows = matches!(
                        self.out.get(index + 1),
                        Some(Piece::Text(next)) if next.starts_with(|c: char| c.is_ascii_digit())
                    );
                    if digit_follows {
                        let _ = write!(out, "(?:\\{number})");
                    } else {
                        let _ = write!(out, "\\{number}");
                    }
                }
                Piece::Dot => {
                    if normalize && !self.dot_all {
                        out.push_str(r"[^\n\r\u2028\u2029]");
                    } else {
                        out.push('.');
                    }
                }
                Piece::Shorthand { original, ecma } => {
                    out.push_str(if normalize { ecma } else { original });
                }
                Piece::Start => out.push_str(if self.multiline { r"(?<![\s\S])" } else { "^" }),
                Piece::End => out.push_str(if self.multiline { r"(?![\s\S])" } else { "$" }),
            }
        }
        out
    }
}

fn hyphen() -> ClassItem {
    ClassItem::Set {
        pieces: vec![Piece::Text("\\-".to_owned())],
        empty: false,
    }
}

fn char_item(cp: u32) -> ClassItem {
    ClassItem::Char(ClassChar {
        cp,
        text: class_cp_text(cp),
    })
}

fn known_char(cp: u32, text: String) -> ClassItem {
    ClassItem::Char(ClassChar { cp, text })
}

fn range_item(lo: u32, hi: u32) -> ClassItem {
    ClassItem::Range(
        ClassChar {
            cp: lo,
            text: class_cp_text(lo),
        },
        ClassChar {
            cp: hi,
            text: class_cp_text(hi),
        },
    )
}

/// A code point as a class member: digits and letters as themselves, the rest escaped.
fn class_cp_text(cp: u32) -> String {
    cp_text(cp)
}

/// `\h`, `\H` and `\V` members (Java definitions), and whether the class is negated.
fn special_class(letter: char) -> (&'static str, bool) {
    match letter {
        'h' => (r"\t \xA0\u1680\u180E\u2000-\u200A\u202F\u205F\u3000", false),
        'H' => (r"\t \xA0\u1680\u180E\u2000-\u200A\u202F\u205F\u3000", true),
        _ => (r"\n\x0B\f\r\x85\u2028\u2029", true),
    }
}

fn regex_meta(c: char) -> bool {
    matches!(
        c,
        '\\' | '^' | '$' | '.' | '|' | '?' | '*' | '+' | '(' | ')' | '[' | ']' | '{' | '}' | '/'
    )
}

fn hex_value(digit: u8) -> u32 {
    char::from(digit).to_digit(16).unwrap_or(0)
}

fn hex4(s: &str) -> Option<u32> {
    let digits = s.get(..4)?;
    if !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u32::from_str_radix(digits, 16).ok()
}

/// `{n}`, `{n,}`, `{n,m}` or `{,m}` at the start of `s`: its length and minimum.
fn braced_quantifier(s: &str) -> Option<(usize, u32)> {
    let body_end = s.find('}')?;
    let body = s.get(1..body_end)?;
    let (min, max) = match body.split_once(',') {
        Some(("", max)) if !max.is_empty() => ("0", Some(max)),
        Some((min, max)) => (min, Some(max)),
        None => (body, None),
    };
    if min.is_empty() || !min.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if let Some(max) = max
        && !max.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    Some((body_end + 1, min.parse().unwrap_or(u32::MAX)))
}

/// The number of capturing groups, for reading multi-digit backreferences.
fn count_groups(src: &str) -> usize {
    let mut count = 0;
    let mut in_class = false;
    let mut chars = src.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                chars.next();
            }
            '[' if !in_class => in_class = true,
            ']' if in_class => in_class = false,
            '(' if !in_class => {
                let mut ahead = chars.clone();
                match ahead.next() {
                    Some('?') => match (ahead.next(), ahead.next()) {
                        (Some('<'), Some(n)) if n != '=' && n != '!' => count += 1,
                        (Some('\''), _) | (Some('P'), Some('<')) => count += 1,
                        _ => {}
                    },
                    _ => count += 1,
                }
            }
            _ => {}
        }
    }
    count
}
