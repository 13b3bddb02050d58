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
