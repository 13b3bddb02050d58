//! The independent supply-chain checkers (`scripts/evidence-check.py` over CycloneDX's,
//! in-toto's and securesystemslib's own Python packages), for tests.

use std::ffi::OsStr;
use std::path::PathBuf;

fn workspace() -> PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The interpreter of the checkers' virtual environment: `BARBACANE_EVIDENCE_PYTHON`, else
/// `target/evidence-venv/bin/python`. Panics with the fix when neither exists: these checks
/// are never skipped.
pub fn python() -> PathBuf {
    let path = std::env::var_os("BARBACANE_EVIDENCE_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("target/evidence-venv/bin/python"));
    assert!(
        path.exists(),
        "{} is missing: run scripts/evidence-tools.sh (scripts/test.sh does)",
        path.display()
    );
    path
}

/// Runs `evidence-check.py ARGS`; returns whether every check held, and what it printed.
pub fn evidence_check<S: AsRef<OsStr>>(args: &[S]) -> (bool, String) {
    let out = std::process::Command::new(python())
        .arg(workspace().join("scripts/evidence-check.py"))
        .args(args)
        .output()
        .expect("the evidence checker runs");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}
