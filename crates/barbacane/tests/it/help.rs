//! `--help` and `--version`, and command-line errors (exit 2, `docs/exit-codes.md`).

use crate::support::run_args;

#[test]
fn every_subcommand_documents_its_main_flags() {
    let cases: [(&str, &[&str]); 5] = [
        (
            "compile",
            &[
                "--spec",
                "--output",
                "--manifest",
                "--base-path",
                "--json",
                "--provenance-commit",
                "--provenance-source",
                "--provenance",
            ],
        ),
        (
            "validate",
            &["--spec", "--manifest", "--base-path", "--json"],
        ),
        ("inspect", &["<ARTIFACT>", "--json"]),
        (
            "serve",
            &[
                "--artifact",
                "--listen",
                "--dev",
                "--max-body-bytes",
                "--max-header-count",
                "--max-header-bytes",
                "--max-uri-bytes",
                "--idle-timeout",
                "--shutdown-grace",
                "--workers",
                "--no-idle-yield",
            ],
        ),
        (
            "dev",
            &["--spec", "--manifest", "--listen", "--shutdown-grace"],
        ),
    ];
    for (sub, flags) in cases {
        let out = run_args(&[sub, "--help"]);
        out.assert_code(0);
        assert!(
            out.stdout.contains("Usage: barbacane"),
            "{sub}:\n{}",
            out.stdout
        );
        assert!(out.stdout.contains(sub), "{sub}:\n{}", out.stdout);
        for flag in flags {
            assert!(
                out.stdout.contains(flag),
                "`{sub} --help` does not mention {flag}:\n{}",
                out.stdout
            );
        }
        assert!(
            out.stdout.contains("--log-level"),
            "global flag missing from {sub}:\n{}",
            out.stdout
        );
        // `barbacane help <sub>` says the same.
        let alt = run_args(&["help", sub]);
        alt.assert_code(0);
        assert_eq!(alt.stdout, out.stdout, "{sub}");
    }
}

#[test]
fn top_level_help_lists_the_subcommands_and_version_prints() {
    let out = run_args(&["--help"]);
    out.assert_code(0);
    for sub in ["compile", "validate", "inspect", "serve", "dev"] {
        assert!(out.stdout.contains(sub), "{sub} missing:\n{}", out.stdout);
    }
    let out = run_args(&["--version"]);
    out.assert_code(0);
    assert_eq!(
        out.stdout.trim(),
        concat!("barbacane ", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn defaults_are_shown_in_serve_help() {
    let out = run_args(&["serve", "--help"]);
    out.assert_code(0);
    for default in ["127.0.0.1:8080", "1048576", "16384", "8192"] {
        assert!(
            out.stdout.contains(default),
            "default {default} missing:\n{}",
            out.stdout
        );
    }
}

#[test]
fn no_subcommand_or_unknown_flag_exits_2() {
    let out = run_args::<&str>(&[]);
    out.assert_code(2);
    assert!(out.stderr.contains("Usage"), "{}", out.stderr);
    let out = run_args(&["serve", "--artifact", "x.bca", "--no-such-flag"]);
    out.assert_code(2);
    assert!(out.stderr.contains("--no-such-flag"), "{}", out.stderr);
}

/// A bad command-line value is reported by the argument parser with exit code 2
/// (`docs/exit-codes.md`), before any file is touched.
#[test]
fn an_invalid_listen_address_is_a_usage_error() {
    let out = run_args(&["serve", "--artifact", "x.bca", "--listen", "not-an-address"]);
    out.assert_code(2);
    assert!(
        out.stderr.contains("invalid value 'not-an-address'"),
        "{}",
        out.stderr
    );
    let out = run_args(&["serve", "--artifact", "x.bca", "--workers", "many"]);
    out.assert_code(2);
}
