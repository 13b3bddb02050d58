//! Schema `pattern`s as the data plane will run them: translated from foreign regex dialects
//! ([`translate_pattern`]), compiled once per distinct pattern with the validator's engine,
//! and refused (E1005 at the keyword's pointer) or, with `--lenient-patterns`, skipped and
//! recorded (W1003).

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};

use crate::{Code, Diagnostic, translate_pattern};

/// What to do with each `pattern` met while bundling; shared by every schema of one build so
/// each distinct pattern is translated and compiled once.
#[derive(Debug, Default)]
pub struct PatternChecker {
    lenient: bool,
    /// Pattern as written -> the pattern to enforce, or why none can be.
    cache: RefCell<HashMap<String, Result<String, String>>>,
    /// (file, pointer) -> (pattern, reason), for skipped patterns.
    skipped: RefCell<BTreeMap<(String, String), (String, String)>>,
}

/// A pattern left unenforced under `--lenient-patterns`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedPattern {
    /// Display name of the file.
    pub file: String,
    /// JSON pointer of the `pattern` keyword (or the `patternProperties` entry).
    pub pointer: String,
    /// The pattern as written.
    pub pattern: String,
    /// Why it could not be compiled.
    pub reason: String,
}

impl PatternChecker {
    /// Strict (E1005) unless `lenient`.
    pub fn new(lenient: bool) -> PatternChecker {
        PatternChecker {
            lenient,
            ..Default::default()
        }
    }

    /// The pattern to enforce for `pattern` found at `file#pointer`: `Ok(Some)` the
    /// (translated) pattern, `Ok(None)` skipped (lenient), `Err` the E1005 diagnostic.
    pub(crate) fn check(
        &self,
        file: &str,
        pointer: &str,
        pattern: &str,
    ) -> Result<Option<String>, Diagnostic> {
        let outcome = {
            let mut cache = self.cache.borrow_mut();
            cache
                .entry(pattern.to_owned())
                .or_insert_with(|| compile(pattern))
                .clone()
        };
        match outcome {
            Ok(p) => Ok(Some(p)),
            Err(reason) if self.lenient => {
                self.skipped.borrow_mut().insert(
                    (file.to_owned(), pointer.to_owned()),
                    (pattern.to_owned(), reason),
                );
                Ok(None)
            }
            Err(reason) => Err(Diagnostic::error(
                Code::E1005,
                file,
                pointer,
                format!("pattern `{pattern}` cannot be compiled: {reason}"),
                "write the pattern in ECMA-262 syntax (JSON Schema's dialect), or compile with \
                 --lenient-patterns to skip this one check",
            )),
        }
    }

    /// Every pattern skipped so far, in (file, pointer) order, each once.
    pub fn skipped(&self) -> Vec<SkippedPattern> {
        self.skipped
            .borrow()
            .iter()
            .map(|((file, pointer), (pattern, reason))| SkippedPattern {
                file: file.clone(),
                pointer: pointer.clone(),
                pattern: pattern.clone(),
                reason: reason.clone(),
            })
            .collect()
    }

    /// W1003 warnings for the skipped patterns.
    pub fn warnings(&self) -> Vec<Diagnostic> {
        self.skipped()
            .into_iter()
            .map(|s| {
                Diagnostic::warning(
                    Code::W1003,
                    &s.file,
                    &s.pointer,
                    format!(
                        "pattern `{}` cannot be compiled ({}); this check is skipped",
                        s.pattern, s.reason
                    ),
                    "write the pattern in ECMA-262 syntax so the gateway can enforce it",
                )
            })
            .collect()
    }
}

/// Translates and compiles one pattern exactly as the data plane's validator will.
fn compile(pattern: &str) -> Result<String, String> {
    let translated = translate_pattern(pattern).map_err(|e| e.to_string())?;
    let schema = serde_json::json!({ "pattern": &*translated });
    jsonschema::options()
        .with_draft(jsonschema::Draft::Draft202012)
        .build(&schema)
        .map_err(|e| e.to_string())?;
    Ok(translated.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strict_refuses_lenient_skips_and_records_once() {
        let strict = PatternChecker::new(false);
        assert_eq!(
            strict.check("a.yaml", "/x/pattern", "^[a-z]+$"),
            Ok(Some("^[a-z]+$".into()))
        );
        let d = strict.check("a.yaml", "/x/pattern", "([a-z]").unwrap_err();
        assert_eq!(d.code, Code::E1005);
        assert_eq!(d.json_pointer, "/x/pattern");
        assert!(strict.skipped().is_empty());

        let lenient = PatternChecker::new(true);
        assert_eq!(lenient.check("a.yaml", "/x/pattern", "([a-z]"), Ok(None));
        assert_eq!(lenient.check("a.yaml", "/x/pattern", "([a-z]"), Ok(None));
        assert_eq!(lenient.check("a.yaml", "/y/pattern", "([a-z]"), Ok(None));
        let skipped = lenient.skipped();
        assert_eq!(skipped.len(), 2);
        assert_eq!(skipped[0].pattern, "([a-z]");
        let warnings = lenient.warnings();
        assert!(warnings.iter().all(|w| w.code == Code::W1003));
    }
}
