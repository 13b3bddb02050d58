//! Compiling stored inputs with the same compiler, the same way `barbacane compile` does.
//!
//! Every stored file is laid out under one virtual root (`/`) by its stored path, and each
//! spec's root file is named by its relative path, exactly as if the files were in a directory
//! and `barbacane compile --spec <name>` ran there. The compiler derives logical names from
//! the deepest directory holding every input, so the input list, and with it `artifact_hash`,
//! is the one a local compile of the same files gives.
//!
//! Registry plugins the specs use are laid out beside them, at the same root:
//!
//! ```text
//! /barbacane.yaml                      plugins: {<name>: {path: plugins/<name>}}, sorted
//! /plugins/<name>/plugin.toml          the registered bytes
//! /plugins/<name>/<wasm from plugin.toml>
//! /plugins/<name>/config-schema.json   the registered bytes
//! ```
//!
//! and `/barbacane.yaml` is passed as the manifest, exactly like `barbacane compile --spec ...
//! --manifest barbacane.yaml` in a directory holding the same files. Without any registry
//! plugin there is no manifest, as before.
//!
//! Pure and synchronous: callers run it on a blocking thread.

use barbacane_compiler::{
    CompileOptions, CompileOutput, Diagnostic, FileSystem, MemoryFs, compile,
};
use barbacane_spec::source::normalize;
use barbacane_spec::{Code, DocumentSet, Extension, parse_spec};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::path::{Path, PathBuf};

/// Plugins every compile has without the registry: the data plane's built-in dispatchers
/// and the official plugins embedded in the compiler. They are never looked up in the
/// registry and their names cannot be registered.
pub use barbacane_compiler::is_built_in;

/// Path of the generated project manifest, relative to the virtual root.
pub const MANIFEST_PATH: &str = "barbacane.yaml";

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

/// One registry plugin version given to the compiler.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginFiles {
    /// Its name (the key in `barbacane.yaml`).
    pub name: String,
    /// Its version, `MAJOR.MINOR.PATCH`.
    pub version: String,
    /// `plugin.toml`, as registered.
    pub manifest: Vec<u8>,
    /// The `wasm` path `plugin.toml` names (relative to the plugin directory).
    pub wasm_path: String,
    /// The module.
    pub wasm: Vec<u8>,
    /// `config-schema.json`, as registered.
    pub schema: Option<Vec<u8>>,
}

impl PluginFiles {
    /// The plugin's directory relative to the root: `plugins/<name>`.
    pub fn dir(&self) -> String {
        format!("plugins/{}", self.name)
    }

    /// Every file of the plugin as (path relative to the root, bytes).
    pub fn files(&self) -> Vec<(String, &[u8])> {
        let dir = self.dir();
        let mut out = vec![
            (format!("{dir}/plugin.toml"), self.manifest.as_slice()),
            (format!("{dir}/{}", self.wasm_path), self.wasm.as_slice()),
        ];
        if let Some(schema) = &self.schema {
            out.push((format!("{dir}/config-schema.json"), schema.as_slice()));
        }
        out
    }
}

/// The `barbacane.yaml` declaring `plugins`: names sorted bytewise, two-space indentation,
/// LF line endings and a final newline.
pub fn manifest_text<'a>(names: impl IntoIterator<Item = &'a str>) -> String {
    let names: BTreeSet<&str> = names.into_iter().collect();
    let mut text = String::from("plugins:\n");
    for name in names {
        text.push_str(&format!("  {name}:\n    path: plugins/{name}\n"));
    }
    text
}

/// What to compile and what to stamp on the artifact.
#[derive(Debug, Clone, Default)]
pub struct Job {
    /// Every file of every spec revision compiled.
    pub files: Vec<SourceFile>,
    /// The registry plugins to declare (none: no manifest).
    pub plugins: Vec<PluginFiles>,
    /// Seconds since the epoch recorded as `build_timestamp`.
    pub build_time: u64,
    /// `provenance_source`.
    pub provenance_source: Option<String>,
    /// Free provenance pairs.
    pub metadata: BTreeMap<String, String>,
    /// Signs the artifact (`--signing-key`).
    pub signing_key: Option<barbacane_artifact::PrivateKey>,
}

/// Compiles a job: lays the files and plugins out, then runs the compiler.
pub fn run(job: &Job) -> Result<CompileOutput, Vec<Diagnostic>> {
    let (fs, roots, manifest) = layout_with_plugins(&job.files, &job.plugins)?;
    let options = CompileOptions {
        specs: roots,
        manifest,
        build_time: job.build_time,
        provenance_source: job.provenance_source.clone(),
        metadata: job.metadata.clone(),
        signing_key: job.signing_key.clone(),
        ..Default::default()
    };
    compile(&fs, &options)
}

/// A [`MemoryFs`] that also knows the directories holding its files, so that a manifest
/// entry `path: plugins/<name>` (a directory) resolves as it does on disk.
#[derive(Debug, Clone, Default)]
pub struct Tree {
    files: MemoryFs,
    dirs: BTreeSet<PathBuf>,
}

impl Tree {
    /// Adds a file (made absolute under `/`), and its directories.
    pub fn insert(&mut self, path: &str, bytes: Vec<u8>) {
        let absolute = normalize(&Path::new("/").join(path));
        self.dirs
            .extend(absolute.ancestors().skip(1).map(Path::to_path_buf));
        self.files.insert(&absolute, bytes);
    }
}

impl FileSystem for Tree {
    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        self.files.read(path)
    }

    fn canonicalize(&self, path: &Path) -> io::Result<PathBuf> {
        let absolute = normalize(&Path::new("/").join(path));
        if self.dirs.contains(&absolute) {
            Ok(absolute)
        } else {
            self.files.canonicalize(&absolute)
        }
    }
}

/// [`layout`], plus the plugins and their `barbacane.yaml` when there are any; returns the
/// manifest's path to give the compiler. A stored file at a path the plugin layout needs is
/// refused (`E1015`).
pub fn layout_with_plugins(
    files: &[SourceFile],
    plugins: &[PluginFiles],
) -> Result<(Tree, Vec<PathBuf>, Option<PathBuf>), Vec<Diagnostic>> {
    let mut fs = Tree::default();
    let roots = layout(files)?.1;
    for file in files {
        fs.insert(&file.path, file.content.clone());
    }
    if plugins.is_empty() {
        return Ok((fs, roots, None));
    }
    let stored: BTreeSet<&str> = files.iter().map(|f| f.path.as_str()).collect();
    let text = manifest_text(plugins.iter().map(|p| p.name.as_str()));
    let mut generated = vec![(MANIFEST_PATH.to_owned(), text.as_bytes())];
    for plugin in plugins {
        generated.extend(plugin.files());
    }
    let mut diagnostics = Vec::new();
    for (path, bytes) in generated {
        let clash = stored.contains(path.as_str())
            || stored
                .iter()
                .any(|s| s.starts_with(&format!("{path}/")) || path.starts_with(&format!("{s}/")));
        if clash {
            diagnostics.push(Diagnostic::error(
                Code::E1015,
                &path,
                "",
                format!(
                    "`{path}` is where the control plane lays out the registry plugins the specs \
                     use, but a spec file is stored there"
                ),
                "rename the spec file: `barbacane.yaml` and `plugins/<name>/` are reserved when \
                 a spec uses a registry plugin",
            ));
            continue;
        }
        fs.insert(&path, bytes.to_vec());
    }
    if diagnostics.is_empty() {
        Ok((fs, roots, Some(PathBuf::from("/").join(MANIFEST_PATH))))
    } else {
        Err(diagnostics)
    }
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

/// The registry plugins some specs use: name → every version requirement written for it
/// (`None`: a bare name). Built-in plugins are left out.
pub type References = BTreeMap<String, BTreeSet<Option<String>>>;

/// Collects the plugin references of the specs among `files`, where the compiler reads them:
/// the root `x-barbacane-middlewares` and each operation's `x-barbacane-dispatch` and
/// `x-barbacane-middlewares` (operations of `$ref`ed path items included). Files that do not
/// load or parse contribute nothing: the compiler reports them.
pub fn references(files: &[SourceFile]) -> References {
    let mut out = References::new();
    let Ok((fs, roots)) = layout(files) else {
        return out;
    };
    let Ok(set) = DocumentSet::load(&fs, &roots, &[]) else {
        return out;
    };
    for root in set.roots() {
        let Ok(spec) = parse_spec(&set, root) else {
            continue;
        };
        add_list(spec.middlewares.as_ref(), &mut out);
        for op in &spec.operations {
            if let Some(ext) = &op.dispatch {
                add_reference(&ext.value, &mut out);
            }
            add_list(op.middlewares.as_ref(), &mut out);
        }
    }
    out
}

fn add_list(ext: Option<&Extension>, out: &mut References) {
    if let Some(Value::Array(items)) = ext.map(|e| &e.value) {
        items.iter().for_each(|item| add_reference(item, out));
    }
}

fn add_reference(value: &Value, out: &mut References) {
    let Some(reference) = value.get("name").and_then(Value::as_str) else {
        return;
    };
    let (name, requirement) = match reference.split_once('@') {
        Some((name, req)) => (name, Some(req.to_owned())),
        None => (reference, None),
    };
    if name.is_empty() || is_built_in(name) {
        return;
    }
    out.entry(name.to_owned()).or_default().insert(requirement);
}

pub use barbacane_plugin_abi::{parse_version, satisfies};

/// Whether `version` satisfies an optional requirement (`None`: any version does).
pub fn meets(version: (u64, u64, u64), requirement: Option<&str>) -> bool {
    requirement.is_none_or(|r| satisfies(version, r) == Some(true))
}

/// The version of a plugin to compile with: the highest registered one that satisfies every
/// requirement; when none does, the highest one (the compiler then reports each reference it
/// does not satisfy, `E1021`). `None` when nothing is registered under the name.
pub fn choose<'a>(
    registered: &'a [String],
    requirements: &BTreeSet<Option<String>>,
) -> Option<&'a str> {
    let mut versions: Vec<((u64, u64, u64), &str)> = registered
        .iter()
        .filter_map(|v| Some((parse_version(v)?, v.as_str())))
        .collect();
    versions.sort();
    let fits = |v: (u64, u64, u64)| requirements.iter().all(|r| meets(v, r.as_deref()));
    versions
        .iter()
        .rev()
        .find(|(v, _)| fits(*v))
        .or(versions.last())
        .map(|(_, s)| *s)
}

/// What an uploaded revision was found to be.
#[derive(Debug, Clone)]
pub struct Checked {
    /// Warnings from the compiler.
    pub warnings: Vec<Diagnostic>,
    /// Names of plugins its `x-barbacane-*` extensions use (built-ins excluded), sorted.
    pub plugins: Vec<String>,
}

/// Checks an upload: it must compile on its own (with `plugins`, the registry versions chosen
/// for its `references`), and every uploaded file must be the spec or reached from it through
/// `$ref`s (so that every stored file is an input of its artifacts).
pub fn check_upload(
    files: &[SourceFile],
    plugins: &[PluginFiles],
    references: &References,
) -> Result<Checked, Vec<Diagnostic>> {
    let (fs, roots, manifest) = layout_with_plugins(files, plugins)?;
    let options = CompileOptions {
        specs: roots.clone(),
        manifest,
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
    Ok(Checked {
        warnings: out.warnings,
        plugins: references.keys().cloned().collect(),
    })
}

/// Checks a stored path: relative, `/`-separated, no `.`/`..`/empty segment, no backslash or
/// control character, at most 255 bytes. The same rules make a valid logical input name.
pub fn valid_path(path: &str) -> Result<(), String> {
    let ok = !path.is_empty()
        && path.chars().count() <= 255
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

    /// A middleware that does nothing, with the capability it needs.
    const NOOP: &str = r#"(module
      (memory (export "memory") 1)
      (func (export "barbacane_alloc") (param i32) (result i32) (i32.const 1024))
      (func (export "init") (param i32 i32) (result i32) (i32.const 0))
      (func (export "on_request") (result i32) (i32.const 0))
      (func (export "on_response") (result i32) (i32.const 0)))"#;

    fn plugin(name: &str, version: &str, schema: Option<&str>) -> PluginFiles {
        PluginFiles {
            name: name.into(),
            version: version.into(),
            manifest: format!(
                "name = \"{name}\"\nversion = \"{version}\"\ntype = \"middleware\"\nwasm = \"bin/{name}.wasm\"\n"
            )
            .into_bytes(),
            wasm_path: format!("bin/{name}.wasm"),
            wasm: wat::parse_str(NOOP).unwrap(),
            schema: schema.map(|s| s.as_bytes().to_vec()),
        }
    }

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
    fn references_are_found_where_the_compiler_reads_them() {
        let root = "openapi: 3.1.0\ninfo: {title: t, version: '1'}\n\
            x-barbacane-middlewares: [{name: tenant}, {name: cors}, {name: auth@^1.2}]\n\
            paths:\n  /a:\n    get:\n      x-barbacane-dispatch: {name: mock}\n      \
            x-barbacane-middlewares: [{name: auth@1.4.0}, {name: mock@1}]\n      \
            responses: {'200': {description: ok}}\n  /b: {$ref: 'items.yaml#/b'}\n\
            components:\n  x-barbacane-middlewares: [{name: ignored}]\n";
        let items = "b:\n  get:\n    x-barbacane-dispatch: {name: backend}\n    \
            responses: {'200': {description: ok}}\n";
        let found = references(&[
            file("api.yaml", true, root),
            file("items.yaml", false, items),
        ]);
        let expected: References = [
            ("auth", vec![Some("^1.2"), Some("1.4.0")]),
            ("backend", vec![None]),
            ("tenant", vec![None]),
        ]
        .into_iter()
        .map(|(n, r)| {
            (
                n.to_owned(),
                r.into_iter().map(|r| r.map(str::to_owned)).collect(),
            )
        })
        .collect();
        // `mock` and `cors` are official: never looked up in the registry.
        assert_eq!(found, expected);
        // What does not load or parse contributes nothing.
        assert!(references(&[file("api.yaml", true, "a: [")]).is_empty());
    }

    #[test]
    fn version_requirements_follow_the_compiler() {
        assert_eq!(satisfies((1, 2, 3), "1.2.3"), Some(true));
        assert_eq!(satisfies((1, 2, 4), "=1.2.3"), Some(false));
        assert_eq!(satisfies((1, 9, 0), "^1.2"), Some(true));
        assert_eq!(satisfies((2, 0, 0), "^1.2"), Some(false));
        assert_eq!(satisfies((1, 1, 0), "^1.2"), Some(false));
        assert_eq!(satisfies((0, 2, 5), "^0.2.1"), Some(true));
        assert_eq!(satisfies((0, 3, 0), "^0.2"), Some(false));
        assert_eq!(satisfies((0, 0, 3), "^0.0.3"), Some(true));
        assert_eq!(satisfies((0, 0, 4), "^0.0.3"), Some(false));
        assert_eq!(satisfies((3, 0, 0), "^3"), Some(true));
        assert_eq!(satisfies((1, 0, 0), "latest"), None);
        assert_eq!(satisfies((1, 0, 0), "1.0"), None);
        assert_eq!(parse_version("1.10.0"), Some((1, 10, 0)));
        assert_eq!(parse_version("1.0"), None);
        assert_eq!(parse_version("1.0.0-rc1"), None);
    }

    #[test]
    fn the_highest_version_satisfying_every_requirement_is_chosen() {
        let registered: Vec<String> = ["1.0.0", "1.10.0", "1.9.3", "2.0.0", "0.9.0"]
            .into_iter()
            .map(str::to_owned)
            .collect();
        let reqs = |r: &[Option<&str>]| -> BTreeSet<Option<String>> {
            r.iter().map(|r| r.map(str::to_owned)).collect()
        };
        assert_eq!(choose(&registered, &reqs(&[None])), Some("2.0.0"));
        assert_eq!(choose(&registered, &reqs(&[Some("^1.2")])), Some("1.10.0"));
        assert_eq!(
            choose(&registered, &reqs(&[None, Some("^1.0"), Some("1.9.3")])),
            Some("1.9.3")
        );
        assert_eq!(choose(&registered, &reqs(&[Some("^0.9")])), Some("0.9.0"));
        // Nothing satisfies them all: the highest, for the compiler to judge (E1021).
        assert_eq!(choose(&registered, &reqs(&[Some("^9.0")])), Some("2.0.0"));
        assert_eq!(
            choose(&registered, &reqs(&[Some("1.0.0"), Some("^2")])),
            Some("2.0.0")
        );
        assert_eq!(choose(&[], &reqs(&[None])), None);
    }

    #[test]
    fn the_manifest_text_is_fixed() {
        assert_eq!(
            manifest_text(["rate-limit", "auth", "a2"]),
            "plugins:\n  a2:\n    path: plugins/a2\n  auth:\n    path: plugins/auth\n  \
             rate-limit:\n    path: plugins/rate-limit\n"
        );
    }

    #[test]
    fn plugins_are_laid_out_and_compiled() {
        let spec = "openapi: 3.1.0\ninfo: {title: t, version: '1'}\n\
            x-barbacane-middlewares: [{name: a-1, config: {n: 1}}, {name: 'true@^1'}]\n\
            paths:\n  /a:\n    get:\n      x-barbacane-dispatch: {name: mock}\n      \
            responses: {'200': {description: ok}}\n";
        let files = [file("specs/api.yaml", true, spec)];
        // `true` stays a string key in barbacane.yaml (the registry refuses `null`).
        let plugins = [
            plugin("a-1", "1.0.0", Some(r#"{"type":"object"}"#)),
            plugin("true", "1.2.0", None),
        ];
        let job = Job {
            files: files.to_vec(),
            plugins: plugins.to_vec(),
            build_time: 1,
            ..Default::default()
        };
        let out = run(&job).unwrap_or_else(|d| panic!("{d:?}"));
        let inputs: Vec<&str> = out.header.inputs.iter().map(|i| i.name.as_str()).collect();
        assert_eq!(
            inputs,
            vec![
                "specs/api.yaml",
                "barbacane.yaml",
                "official/mock/config-schema.json",
                "official/mock/mock.wasm",
                "official/mock/plugin.toml",
                "plugins/a-1/bin/a-1.wasm",
                "plugins/a-1/config-schema.json",
                "plugins/a-1/plugin.toml",
                "plugins/true/bin/true.wasm",
                "plugins/true/plugin.toml",
            ]
        );
        // Without plugins: no manifest, as before.
        let (_, _, manifest) = layout_with_plugins(&files, &[]).unwrap();
        assert_eq!(manifest, None);
        // A stored file where the layout needs to write is refused.
        let clash = [file("barbacane.yaml", true, spec)];
        let errors = layout_with_plugins(&clash, &plugins).unwrap_err();
        assert_eq!(errors[0].code, Code::E1015);
        let clash = [file("plugins/a-1", true, spec)];
        assert!(layout_with_plugins(&clash, &plugins).is_err());
    }
}
