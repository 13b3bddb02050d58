use barbacane_artifact::{Artifact, CONFIG_MEMBER, CompiledConfig};
use barbacane_proxy::exit_code;

use std::io::Write;

use crate::cli::InspectArgs;

/// Appends one formatted line to a `String` (formatting into a `String` cannot fail).
macro_rules! put {
    ($out:expr, $($arg:tt)*) => {{
        use std::fmt::Write as _;
        let _ = writeln!($out, $($arg)*);
    }};
}

/// Writes the report; a closed pipe (`inspect x.bca | head`) is not an error.
fn emit(out: &str) -> i32 {
    match std::io::stdout().lock().write_all(out.as_bytes()) {
        Ok(()) => 0,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => 0,
        Err(e) => {
            eprintln!("error: cannot write to stdout: {e}");
            1
        }
    }
}

pub fn run(args: InspectArgs) -> i32 {
    // A file, or `oci:DIR[:TAG]`.
    let bytes = match barbacane_proxy::snapshot_source(&args.artifact) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("error: {e}");
            return exit_code::ARTIFACT_INVALID;
        }
    };
    let artifact = match Artifact::from_bytes(&bytes) {
        Ok(a) => a,
        Err(e) => {
            eprintln!(
                "error: {} is invalid or has been tampered with: {e}",
                args.artifact.display()
            );
            return exit_code::ARTIFACT_INVALID;
        }
    };
    let header = artifact.header();
    let mut out = String::new();
    let config: CompiledConfig = match artifact.member_json(CONFIG_MEMBER) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return exit_code::ARTIFACT_INVALID;
        }
    };
    if args.json {
        // The content hash as recomputed from the members (artifacts older than the field
        // do not store it).
        let mut shown = header.clone();
        shown.content_hash = Some(artifact.content_hash().to_owned());
        let shown = serde_json::to_value(&shown).map(|mut v| {
            if let Some(map) = v
                .as_object_mut()
                .filter(|_| !config.skipped_checks.is_empty())
            {
                map.insert(
                    "skipped_checks".into(),
                    serde_json::json!(config.skipped_checks),
                );
            }
            v
        });
        match shown.and_then(|v| serde_json::to_string_pretty(&v)) {
            Ok(s) => put!(out, "{s}"),
            Err(e) => {
                eprintln!("error: {e}");
                return 1;
            }
        }
        return emit(&out);
    }
    put!(out, "artifact:          {}", args.artifact.display());
    put!(out, "format_version:    {}", header.format_version);
    put!(out, "artifact_hash:     {}", header.artifact_hash);
    put!(out, "content_hash:      {}", artifact.content_hash());
    put!(out, "build_timestamp:   {}", header.build_timestamp);
    put!(out, "compiler_version:  {}", header.compiler_version);
    put!(
        out,
        "provenance_commit: {}",
        header.provenance_commit.as_deref().unwrap_or("-")
    );
    put!(
        out,
        "provenance_source: {}",
        header.provenance_source.as_deref().unwrap_or("-")
    );
    for (k, v) in &header.metadata {
        put!(out, "metadata:          {k}={v}");
    }
    put!(out, "\ninputs ({}):", header.inputs.len());
    for input in &header.inputs {
        put!(
            out,
            "  {:<10} {:<40} {}",
            input.kind,
            input.name,
            input.sha256
        );
    }
    put!(out, "\nroutes ({}):", config.operations.len());
    for op in &config.operations {
        let chain: Vec<&str> = op.middlewares.iter().map(|m| m.name.as_str()).collect();
        put!(
            out,
            "  {:<7} {:<40} -> {}{}{}",
            op.method,
            op.path,
            op.dispatch.name,
            if chain.is_empty() {
                String::new()
            } else {
                format!("  [{}]", chain.join(" > "))
            },
            if op.deprecated { "  (deprecated)" } else { "" }
        );
    }
    if !config.skipped_checks.is_empty() {
        put!(
            out,
            "\nskipped checks ({}, compiled with --lenient-patterns):",
            config.skipped_checks.len()
        );
        for c in &config.skipped_checks {
            put!(out, "  {}#{}  {}: {}", c.file, c.pointer, c.check, c.reason);
        }
    }
    put!(out, "\nmembers ({}):", header.members.len());
    for m in &header.members {
        put!(out, "  {:<50} {:>9} B  {}", m.name, m.size, m.sha256);
    }
    emit(&out)
}
