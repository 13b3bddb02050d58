//! Printing diagnostics.

use barbacane_compiler::{Diagnostic, Severity};

/// Prints diagnostics to stderr (text or JSON lines) and a summary line.
pub fn diagnostics(diags: &[Diagnostic], json: bool) {
    for d in diags {
        if json {
            eprintln!("{}", serde_json::to_string(d).unwrap_or_default());
        } else {
            eprintln!("{d}\n");
        }
    }
    let errors = diags
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .count();
    let warnings = diags.len() - errors;
    if !json && (errors > 0 || warnings > 0) {
        eprintln!("{errors} error(s), {warnings} warning(s)");
    }
}
