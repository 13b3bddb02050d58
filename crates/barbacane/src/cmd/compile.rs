use barbacane_compiler::{LocalFs, compile};
use std::path::Path;

use super::{EXIT_DIAGNOSTICS, compile_options};
use crate::cli::CompileArgs;
use crate::report;

pub fn run(args: CompileArgs) -> i32 {
    let mut options = match compile_options(&args.spec) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("error: {e}");
            return barbacane_proxy::exit_code::USAGE;
        }
    };
    options.provenance_commit = args.provenance_commit;
    options.provenance_source = args.provenance_source;
    options.metadata = args.provenance.into_iter().collect();
    let started_on = attestation_time(options.build_time);
    if let Some(path) = &args.signing_key {
        match super::keys::load_private_key(path) {
            Ok(key) => options.signing_key = Some(key),
            Err(e) => {
                eprintln!("error: {e}");
                return barbacane_proxy::exit_code::USAGE;
            }
        }
    }
    let out = match compile(&LocalFs, &options) {
        Ok(out) => out,
        Err(diags) => {
            report::diagnostics(&diags, args.spec.json);
            return EXIT_DIAGNOSTICS;
        }
    };
    report::diagnostics(&out.warnings, args.spec.json);
    if let Err(e) = write_atomically(&args.output, &out.artifact) {
        eprintln!("error: cannot write {}: {e}", args.output.display());
        return EXIT_DIAGNOSTICS;
    }
    if let (Some(path), Some(key)) = (&args.attestation, &options.signing_key) {
        let invocation = super::evidence::Invocation {
            output: &args.output,
            header: &out.header,
            base_path: options.base_path.as_deref(),
            allow_plaintext_upstream: options.allow_plaintext_upstream,
            lenient_patterns: options.lenient_patterns,
            allow_unenforced_security: options.allow_unenforced_security,
            started_on,
            finished_on: attestation_time(options.build_time),
        };
        if let Err(e) = super::evidence::write_attestation(path, &out.artifact, &invocation, key) {
            eprintln!("error: cannot write {}: {e}", path.display());
            return EXIT_DIAGNOSTICS;
        }
        eprintln!("wrote the provenance attestation to {}", path.display());
    }
    super::configure_module_cache(&args.cache);
    warm_module_cache(&out.artifact);
    eprintln!(
        "compiled {} operation(s) from {} input(s) into {}\n  artifact_hash: {}",
        out.config.operations.len(),
        out.header.inputs.len(),
        args.output.display(),
        out.header.artifact_hash
    );
    0
}

/// Now, or the build time when `SOURCE_DATE_EPOCH` fixes it (a reproducible build gives the
/// same attestation).
fn attestation_time(build_time: u64) -> String {
    let secs = if std::env::var_os("SOURCE_DATE_EPOCH").is_some() {
        build_time
    } else {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(build_time, |d| d.as_secs())
    };
    barbacane_artifact::rfc3339(secs)
}

/// Writes next to the target and renames, so a reader never sees a half-written artifact.
fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension(format!("bca.tmp-{}", std::process::id()));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}

/// Compiles the bundled plugin modules into the module cache, so the first `serve` of this
/// artifact on this machine starts without compiling. Skipped when the cache is off.
fn warm_module_cache(artifact: &[u8]) {
    // Only an artifact with plugins needs the engine.
    let has_plugins = barbacane_artifact::Artifact::from_bytes(artifact)
        .is_ok_and(|a| a.member_names().any(|m| m.ends_with(".wasm")));
    let cache_on =
        has_plugins && barbacane_wasm::Runtime::global().is_ok_and(|r| r.module_cache().is_some());
    if !cache_on {
        return;
    }
    match barbacane_proxy::precompile_plugins(artifact) {
        Ok(0) => {}
        Ok(n) => tracing::debug!(modules = n, "plugin modules compiled into the module cache"),
        Err(e) => tracing::warn!(error = %e, "cannot warm the module cache"),
    }
}
