//! Compiling stored inputs with the same compiler, the same way `barbacane compile` does.
//!
//! Every stored file is laid out under one virtual root (`/`) by its stored path, and each
//! spec's root file is named by its relative path, exactly as if the files were in a directory
//! and `barbacane compile --spec <name>` ran there. The compiler derives logical names from
//! the deepest directory holding every input, so the input list, and with it `artifact_hash`,
//! is the one a local compile of the same files gives.
//!
//! Pure and synchronous: callers run it on a blocking thread.

use barbacane_compiler::{CompileOptions, CompileOutput, Diagnostic, MemoryFs, compile};
use barbacane_spec::{Code, DocumentSet};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

/// Plugins built into every data plane (not looked up in the registry). Mirrors the
/// compiler's built-in dispatchers, which it does not export.
pub const BUILTIN_PLUGINS: &[&str] = &barbacane_compiler::BUILTIN_DISPATCHERS;

/// One file to lay out.
#[derive(Debug, Clone)]
pub struct SourceFile {
    /// Path relative to the project root.
    pub path: String,
    /// Whether it is a root spec (given to the compiler as `--spec`).
    pub is_root: bool,
    /// The bytes.
    pub content: Vec<u8>,
}

/// What to compile and what to stamp on the artifact.
#[derive(Debug, Clone, Default)]
pub struct Job {
    /// Every file of every spec revision compiled.
    pub files: Vec<SourceFile>,
    /// Seconds since the epoch recorded as `build_timestamp`.
    pub build_time: u64,
    /// `provenance_source`.
    pub provenance_source: Option<String>,
    /// Free provenance pairs.
    pub metadata: BTreeMap<String, String>,
}

/// Compiles a job: lays the files out, then runs the compiler.
pub fn run(job: &Job) -> Result<CompileOutput, Vec<Diagnostic>> {
    let (fs, roots) = layout(&job.files)?;
    let options = CompileOptions {
        specs: roots,
        build_time: job.build_time,
        provenance_source: job.provenance_source.clone(),
        metadata: job.metadata.clone(),
        ..Default::default()
    };
    compile(&fs, &options)
}

/// Puts every file in a [`MemoryFs`] and returns the root specs' paths. Two specs may share a
/// file only if its bytes are identical.
pub fn layout(files: &[SourceFile]) -> Result<(MemoryFs, Vec<PathBuf>), Vec<Diagnostic>> {
    let mut fs = MemoryFs::default();
    let mut seen: BTreeMap<&str, &[u8]> = BTreeMap::new();
    let mut roots = BTreeSet::new();
    let mut diagnostics = Vec::new();
    for file in files {
        match seen.get(file.path.as_str()) {
            Some(bytes) if *bytes != file.content.as_slice() => {
                diagnostics.push(Diagnostic::error(
                    Code::E1003,
                    &file.path,
                    "",
                    format!(
                        "two specs of the project store different files at `{}`",
                        file.path
                    ),
                    "give each spec's referenced files distinct paths, or the same content",
                ));
                continue;
            }
            Some(_) => {}
            None => {
                seen.insert(&file.path, &file.content);
                fs.insert(&file.path, file.content.clone());
            }
        }
        if file.is_root {
            roots.insert(PathBuf::from(&file.path));
        }
    }
    if diagnostics.is_empty() {
        Ok((fs, roots.into_iter().collect()))
    } else {
        Err(diagnostics)
    }
}

/// What an uploaded revision was found to be.
#[derive(Debug, Clone)]
pub struct Checked {
    /// Warnings from the compiler.
    pub warnings: Vec<Diagnostic>,
    /// Names of plugins its `x-barbacane-*` extensions use (built-ins excluded), sorted.
    pub plugins: Vec<String>,
}

/// Checks an upload: it must compile on its own, and every uploaded file must be the spec or
/// reached from it through `$ref`s (so that every stored file is an input of its artifacts).
pub fn check_upload(files: &[SourceFile]) -> Result<Checked, Vec<Diagnostic>> {
    let (fs, roots) = layout(files)?;
    let options = CompileOptions {
        specs: roots.clone(),
        ..Default::default()
    };
    let out = compile(&fs, &options)?;
    let set = DocumentSet::load(&fs, &roots, &[])?;
    let reached: BTreeSet<PathBuf> = set.files().map(|f| f.path.clone()).collect();
    let unreferenced: Vec<Diagnostic> = files
        .iter()
        .filter(|f| !reached.contains(&PathBuf::from("/").join(&f.path)))
        .map(|f| {
            Diagnostic::error(
                Code::E1004,
                &f.path,
                "",
                format!(
                    "`{}` was uploaded but no `$ref` of the spec reaches it",
                    f.path
                ),
                "upload only the spec and the files its `$ref`s point to",
            )
        })
        .collect();
    if !unreferenced.is_empty() {
        return Err(unreferenced);
    }
    let mut plugins = BTreeSet::new();
    for file in set.files() {
        plugin_uses(&file.value, &mut plugins);
    }
    Ok(Checked {
        warnings: out.warnings,
        plugins: plugins.into_iter().collect(),
    })
}

/// Collects the names used by `x-barbacane-dispatch` and `x-barbacane-middlewares` anywhere in
/// a document (a simple scan: a name in an unusual place still counts as a use).
pub fn plugin_uses(value: &Value, out: &mut BTreeSet<String>) {
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                match key.as_str() {
                    "x-barbacane-dispatch" => add_name(child, out),
                    "x-barbacane-middlewares" => {
                        if let Value::Array(items) = child {
                            items.iter().for_each(|i| add_name(i, out));
                        }
                    }
                    _ => plugin_uses(child, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|i| plugin_uses(i, out)),
        _ => {}
    }
}

fn add_name(value: &Value, out: &mut BTreeSet<String>) {
    if let Some(name) = value.get("name").and_then(Value::as_str)
        && !BUILTIN_PLUGINS.contains(&name)
    {
        out.insert(name.to_owned());
    }
}

/// Checks a stored path: relative, `/`-separated, no `.`/`..`/empty segment, no backslash or
/// control character, at most 255 bytes. The same rules make a valid logical input name.
pub fn valid_path(path: &str) -> Result<(), String> {
    let ok = !path.is_empty()
        && path.len() <= 255
        && !path.starts_with('/')
        && !path.contains('\\')
        && !path.chars().any(char::is_control)
        && path
            .split('/')
            .all(|s| !s.is_empty() && s != "." && s != "..");
    if ok {
        Ok(())
    } else {
        Err(format!(
            "`{path}` is not a valid file name: use a relative path such as `api.yaml` or \
             `schemas/pet.yaml` (no `..`, no leading `/`, no backslash)"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(path: &str, root: bool, text: &str) -> SourceFile {
        SourceFile {
            path: path.into(),
            is_root: root,
            content: text.as_bytes().to_vec(),
        }
    }

    const SPEC: &str = "openapi: 3.1.0\ninfo: {title: t, version: '1'}\npaths:\n  /a:\n    get:\n      x-barbacane-dispatch: {name: mock, config: {status: 200}}\n      x-barbacane-middlewares: [{name: cors, config: {}}]\n      responses: {'200': {description: ok}}\n";

    #[test]
    fn conflicting_shared_files_are_refused() {
        let files = [
            file("a.yaml", true, SPEC),
            file("c.yaml", false, "x: 1"),
            file("c.yaml", false, "x: 2"),
        ];
        assert!(layout(&files).is_err());
        let same = [file("c.yaml", false, "x"), file("c.yaml", false, "x")];
        assert!(layout(&same).is_ok());
    }

    #[test]
    fn paths_are_checked() {
        for bad in [
            "",
            "/a.yaml",
            "../a.yaml",
            "a//b.yaml",
            "a\\b",
            "./a.yaml",
            "a\nb",
        ] {
            assert!(valid_path(bad).is_err(), "{bad:?}");
        }
        for good in ["a.yaml", "specs/a.yaml", "x.y.z/a b.json"] {
            assert!(valid_path(good).is_ok(), "{good:?}");
        }
    }

    #[test]
    fn plugin_uses_are_found_and_builtins_skipped() {
        let value: Value =
            barbacane_spec::source::parse("a", std::path::Path::new("a.yaml"), SPEC.as_bytes())
                .unwrap();
        let mut found = BTreeSet::new();
        plugin_uses(&value, &mut found);
        assert_eq!(
            found.into_iter().collect::<Vec<_>>(),
            vec!["cors".to_owned()]
        );
    }
}
