//! `barbacane validate` on every fixture: invalid ones fail with their code, valid ones pass.

use std::path::PathBuf;

use crate::support::{fixture, petstore, root, run_args};

/// One invalid case: the expected code, the arguments, and the file names a diagnostic may cite.
struct Case {
    code: String,
    args: Vec<String>,
    files: Vec<String>,
}

/// Every fixture under `tests/fixtures/invalid`, named `eNNNN_*.yaml`, as a validate case
/// (paths relative to the workspace root, as a user would type them).
fn invalid_cases() -> Vec<Case> {
    let dir = root().join("tests/fixtures/invalid");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .expect("read invalid fixtures")
        .map(|e| {
            e.expect("dir entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .filter(|n| n.ends_with(".yaml"))
        .collect();
    names.sort();
    assert!(
        names.len() >= 14,
        "expected the 14 invalid fixtures, found {names:?}"
    );
    let rel = |n: &str| format!("tests/fixtures/invalid/{n}");
    let mut cases = Vec::new();
    for name in &names {
        let code = name[..5].to_ascii_uppercase();
        assert!(
            code.starts_with('E') && code[1..].bytes().all(|b| b.is_ascii_digit()),
            "{name}"
        );
        let (args, files) = match name.as_str() {
            "e1010_b.yaml" => continue,
            "e1010_a.yaml" => (
                vec![
                    "--spec".into(),
                    rel("e1010_a.yaml"),
                    "--spec".into(),
                    rel("e1010_b.yaml"),
                ],
                vec!["e1010_a.yaml".into(), "e1010_b.yaml".into()],
            ),
            "e1015_manifest.yaml" => (
                vec![
                    "--spec".into(),
                    "tests/fixtures/valid/minimal.yaml".into(),
                    "--manifest".into(),
                    rel(name),
                ],
                vec![name.clone()],
            ),
            _ => (vec!["--spec".into(), rel(name)], vec![name.clone()]),
        };
        cases.push(Case { code, args, files });
    }
    cases
}

#[test]
fn every_invalid_fixture_fails_with_its_code_file_and_hint() {
    for case in invalid_cases() {
        let mut args = vec!["validate".to_owned()];
        args.extend(case.args.iter().cloned());
        let out = run_args(&args);
        let ctx = format!("validate {:?}\n--- stderr\n{}", case.args, out.stderr);
        assert_eq!(out.status.code(), Some(1), "{ctx}");
        assert!(
            out.stderr.contains(&format!("error[{}]", case.code)),
            "missing code: {ctx}"
        );
        assert!(
            case.files.iter().any(|f| out
                .stderr
                .contains(&format!("--> tests/fixtures/invalid/{f}"))),
            "missing file: {ctx}"
        );
        assert!(out.stderr.contains("= hint: "), "missing hint: {ctx}");
        assert!(
            out.stderr.contains("error(s), 0 warning(s)"),
            "missing summary: {ctx}"
        );
        assert!(out.stdout.is_empty(), "validate printed to stdout: {ctx}");
    }
}

#[test]
fn json_diagnostics_are_one_object_per_line_with_every_field() {
    for case in invalid_cases() {
        let mut args = vec!["validate".to_owned(), "--json".to_owned()];
        args.extend(case.args.iter().cloned());
        let out = run_args(&args);
        let ctx = format!(
            "validate --json {:?}\n--- stderr\n{}",
            case.args, out.stderr
        );
        assert_eq!(out.status.code(), Some(1), "{ctx}");
        let lines: Vec<&str> = out
            .stderr
            .lines()
            .filter(|l| !l.trim().is_empty())
            .collect();
        assert!(!lines.is_empty(), "{ctx}");
        let mut matched = false;
        for line in lines {
            let d: serde_json::Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}\n{ctx}"));
            for key in ["code", "file", "json_pointer", "message", "hint"] {
                assert!(
                    d[key].is_string(),
                    "`{key}` missing or not a string in {line}\n{ctx}"
                );
            }
            assert_eq!(d["severity"], "error", "{ctx}");
            assert!(!d["message"].as_str().unwrap_or("").is_empty(), "{ctx}");
            assert!(!d["hint"].as_str().unwrap_or("").is_empty(), "{ctx}");
            let pointer = d["json_pointer"].as_str().unwrap_or("");
            assert!(
                pointer.is_empty() || pointer.starts_with('/'),
                "bad pointer {pointer:?}: {ctx}"
            );
            let file = d["file"].as_str().unwrap_or("");
            if d["code"] == case.code.as_str()
                && case.files.iter().any(|f| file.ends_with(f.as_str()))
            {
                matched = true;
            }
        }
        assert!(
            matched,
            "no {} diagnostic naming {:?}: {ctx}",
            case.code, case.files
        );
        assert!(
            !out.stderr.contains("error(s)"),
            "text summary in JSON mode: {ctx}"
        );
    }
}

#[test]
fn parse_errors_carry_line_and_column() {
    let out = run_args(&[
        "validate",
        "--spec",
        "tests/fixtures/invalid/e1003_parse.yaml",
    ]);
    out.assert_code(1);
    assert!(
        out.stderr
            .contains("--> tests/fixtures/invalid/e1003_parse.yaml:4:"),
        "{}",
        out.stderr
    );
    let out = run_args(&[
        "validate",
        "--json",
        "--spec",
        "tests/fixtures/invalid/e1003_parse.yaml",
    ]);
    let d: serde_json::Value =
        serde_json::from_str(out.stderr.lines().next().unwrap_or("")).expect("JSON line");
    assert_eq!(d["line_column"][0], 4, "{d}");
}

#[test]
fn valid_specs_validate_cleanly() {
    let valid: [Vec<PathBuf>; 4] = [
        vec![fixture("valid/minimal.yaml")],
        vec![
            fixture("valid/multi/users.yaml"),
            fixture("valid/multi/orders.yaml"),
        ],
        vec![fixture("valid/refs/api.yaml")],
        vec![petstore()],
    ];
    for specs in valid {
        let mut args = vec!["validate".into()];
        for s in &specs {
            args.push("--spec".into());
            args.push(s.clone().into_os_string());
        }
        let out = run_args(&args);
        out.assert_code(0);
        assert!(!out.stderr.contains("error"), "{specs:?}: {}", out.stderr);
    }
}

#[test]
fn a_missing_spec_is_reported_as_unreadable() {
    let out = run_args(&["validate", "--spec", "tests/fixtures/does-not-exist.yaml"]);
    out.assert_code(1);
    assert!(out.stderr.contains("error[E1003]"), "{}", out.stderr);
    assert!(out.stderr.contains("does-not-exist.yaml"), "{}", out.stderr);
}
