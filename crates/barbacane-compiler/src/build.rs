//! The top-level compile step: inputs, checks, fingerprint, artifact bytes.

use barbacane_artifact::{
    ArtifactBuilder, CONFIG_MEMBER, CompiledConfig, Header, Input, InputKind, SkippedCheck,
    fingerprint,
};
use barbacane_spec::{
    Code, Diagnostic, DocumentSet, FileSystem, PatternChecker, SharedDefs, parse_spec,
};
use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::extensions::Known;
use crate::manifest::{self, LoadedManifest};
use crate::operations::compile_operations;
use crate::plugins::PluginSource;
use crate::{COMPILER_VERSION, CompileOptions};

/// A successful compilation.
#[derive(Debug, Clone)]
pub struct CompileOutput {
    /// The encoded `.bca`.
    pub artifact: Vec<u8>,
    /// Its header.
    pub header: Header,
    /// The compiled configuration inside it.
    pub config: CompiledConfig,
    /// Non-fatal diagnostics.
    pub warnings: Vec<Diagnostic>,
}

/// Compiles `options.specs` (and the manifest) into an artifact, or returns every error found.
pub fn compile(
    fs: &dyn FileSystem,
    options: &CompileOptions,
) -> Result<CompileOutput, Vec<Diagnostic>> {
    if options.specs.is_empty() {
        return Err(vec![Diagnostic::error(
            Code::E1003,
            "<command line>",
            "",
            "no spec given",
            "pass at least one `--spec FILE`",
        )]);
    }
    let manifest = match &options.manifest {
        Some(path) => manifest::load(fs, path)?,
        None => LoadedManifest::default(),
    };
    let mut anchors: Vec<PathBuf> = manifest.canonical.iter().cloned().collect();
    anchors.extend(
        manifest
            .plugins
            .values()
            .flat_map(|p| p.files.iter().map(|(path, _)| path.clone())),
    );
    // Policy files outside the specs' directory widen the project root: a second pass
    // names everything from the wider root (rare: `barbacane.yaml` usually sits at the root).
    let first_set = DocumentSet::load(fs, &options.specs, &anchors)?;
    let first = check(fs, &first_set, &manifest, options);
    let outside = first.0.policies.outside(&first_set);
    let wider_set;
    let (set, (known, operations, patterns, shared, diags)) = if outside.is_empty() {
        (&first_set, first)
    } else {
        drop(first);
        anchors.extend(outside);
        wider_set = DocumentSet::load(fs, &options.specs, &anchors)?;
        let second = check(fs, &wider_set, &manifest, options);
        (&wider_set, second)
    };
    if diags.iter().any(Diagnostic::is_error) {
        return Err(diags);
    }
    let skipped_checks = patterns
        .skipped()
        .into_iter()
        .map(|s| SkippedCheck {
            file: s.file,
            pointer: s.pointer,
            check: format!("pattern {}", s.pattern),
            reason: s.reason,
        })
        .collect();
    let (policies, policy_files) = known.policies.finish(set);
    let config = CompiledConfig {
        operations,
        definitions: shared.into_defs(),
        skipped_checks,
        policies,
    };
    let official = known.official_used.into_inner();
    let written = write(set, &manifest, &official, &policy_files, options, &config);
    let (artifact, header) = written.map_err(|e| {
        vec![Diagnostic::error(
            Code::E1003,
            "<artifact>",
            "",
            format!("cannot write the artifact: {e}"),
            "report this as a bug",
        )]
    })?;
    Ok(CompileOutput {
        artifact,
        header,
        config,
        warnings: diags,
    })
}

/// What [`check`] found: the plugins and policies used, the operations, and diagnostics.
type Checked<'a> = (
    Known<'a>,
    Vec<barbacane_artifact::Operation>,
    PatternChecker,
    SharedDefs,
    Vec<Diagnostic>,
);

/// Parses every root spec and compiles its operations (with extension, plugin and policy
/// checks) against `set`.
fn check<'a>(
    fs: &'a dyn FileSystem,
    set: &'a DocumentSet,
    manifest: &'a LoadedManifest,
    options: &CompileOptions,
) -> Checked<'a> {
    let mut diags = Vec::new();
    let mut specs = Vec::new();
    for root in set.roots() {
        match parse_spec(set, root) {
            Ok(mut spec) => {
                diags.append(&mut spec.warnings);
                specs.push(spec);
            }
            Err(d) => diags.extend(d),
        }
    }
    let known = Known {
        manifest_plugins: &manifest.plugins,
        official_used: Default::default(),
        allow_plaintext_upstream: options.allow_plaintext_upstream,
        allow_unenforced_security: options.allow_unenforced_security,
        build_time: options.build_time,
        fs,
        set,
        policies: Default::default(),
    };
    let patterns = PatternChecker::new(options.lenient_patterns);
    let mut shared = SharedDefs::default();
    let operations = compile_operations(
        set,
        &specs,
        options.base_path.as_deref(),
        &known,
        &patterns,
        &mut shared,
        &mut diags,
    );
    diags.extend(patterns.warnings());
    (known, operations, patterns, shared, diags)
}

fn write(
    set: &DocumentSet,
    manifest: &LoadedManifest,
    official: &BTreeMap<String, PluginSource>,
    policy_files: &[(String, Vec<u8>)],
    options: &CompileOptions,
    config: &CompiledConfig,
) -> Result<(Vec<u8>, Header), barbacane_artifact::ArtifactError> {
    let mut builder = ArtifactBuilder::default();
    let mut inputs = Vec::new();
    for file in set.files() {
        let kind = if set.is_root(&file.path) {
            InputKind::Spec
        } else {
            InputKind::Reference
        };
        inputs.push(Input::new(kind, file.logical.clone(), &file.bytes));
        builder.add_member(format!("specs/{}", file.logical), file.bytes.clone())?;
    }
    if let Some(path) = &manifest.canonical {
        let name = set.logical_name(path);
        inputs.push(Input::new(
            InputKind::Manifest,
            name.clone(),
            &manifest.bytes,
        ));
        builder.add_member(format!("manifest/{name}"), manifest.bytes.clone())?;
    }
    for (name, plugin) in manifest.plugins.iter().chain(official) {
        for (path, bytes) in &plugin.files {
            let logical = if plugin.official {
                // Already logical (`official/<name>/<file>`), with `/` on every OS.
                path.components()
                    .map(|c| c.as_os_str().to_string_lossy())
                    .collect::<Vec<_>>()
                    .join("/")
            } else {
                set.logical_name(path)
            };
            inputs.push(Input::new(InputKind::Plugin, logical, bytes));
        }
        builder.add_member(format!("plugins/{name}.wasm"), plugin.wasm.clone())?;
        builder.add_member(format!("plugins/{name}.toml"), plugin.toml.clone())?;
        if let Some(schema) = &plugin.schema_raw {
            builder.add_member(format!("plugins/{name}.schema.json"), schema.clone())?;
        }
    }
    for (logical, bytes) in policy_files {
        inputs.push(Input::new(InputKind::Policy, logical.clone(), bytes));
        builder.add_member(format!("policies/{logical}"), bytes.clone())?;
    }
    if let Some(base) = &options.base_path {
        inputs.push(Input::new(InputKind::Option, "base-path", base.as_bytes()));
    }
    if options.lenient_patterns {
        inputs.push(Input::new(InputKind::Option, "lenient-patterns", b"true"));
    }
    if options.allow_unenforced_security {
        inputs.push(Input::new(
            InputKind::Option,
            "allow-unenforced-security",
            b"true",
        ));
    }
    let (hash, inputs) = fingerprint(inputs)?;
    builder.artifact_hash = hash;
    builder.inputs = inputs;
    builder.build_timestamp = barbacane_artifact::rfc3339(options.build_time);
    builder.compiler_version = COMPILER_VERSION.to_owned();
    builder.provenance_commit = options.provenance_commit.clone();
    builder.provenance_source = options.provenance_source.clone();
    builder.metadata = options.metadata.clone();
    builder.add_json_member(CONFIG_MEMBER, config)?;
    let bytes = match &options.signing_key {
        Some(key) => builder.encode_signed(key)?,
        None => builder.encode()?,
    };
    // Read back what was written so the returned header includes the signature.
    let header = barbacane_artifact::read_header(bytes.as_slice())?;
    Ok((bytes, header))
}
