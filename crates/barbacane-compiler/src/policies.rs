//! `opa-authz` policies: the `.rego` file (or directory of them) a configuration's `policy`
//! names, read relative to the spec that holds the configuration, compiled with regorus
//! (E1060 on any failure, with regorus's file:line:col), and bundled into the artifact as
//! inputs of kind `policy` (members `policies/<logical name>`).
//!
//! The configuration's `policy` is rewritten to the bundle's logical name, the key of
//! [`barbacane_artifact::CompiledConfig::policies`], which is what the plugin hands the
//! host's `barbacane:policy.eval`.

use barbacane_artifact::{PluginUse, PolicyBundle};
use barbacane_spec::pointer::push;
use barbacane_spec::{Code, Diagnostic, DocumentSet, Extension, FileSystem};
use serde_json::Value;
use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The plugin whose configurations name policies.
pub(crate) const PLUGIN: &str = "opa-authz";
/// The rule evaluated when a configuration gives no `query`.
pub(crate) const DEFAULT_QUERY: &str = "data.barbacane.authz.allow";

/// The policies one compilation uses, by canonical path of the file or directory.
#[derive(Default)]
pub(crate) struct Policies {
    bundles: RefCell<BTreeMap<PathBuf, Bundle>>,
}

struct Bundle {
    /// (canonical path, name shown in messages, bytes) of each `.rego` file, sorted.
    files: Vec<(PathBuf, String, Vec<u8>)>,
    /// The rules configurations evaluate (each checked once).
    queries: BTreeSet<String>,
    /// Parsed modules, reused to check each new query.
    engine: regorus::Engine,
}

/// Policy files as (logical name, bytes).
pub(crate) type PolicyFiles = Vec<(String, Vec<u8>)>;

/// Where the configuration of one middleware sits.
pub(crate) struct Site<'a> {
    pub(crate) fs: &'a dyn FileSystem,
    pub(crate) set: &'a DocumentSet,
    pub(crate) ext: &'a Extension,
    /// JSON pointer of the middleware entry.
    pub(crate) pointer: &'a str,
}

impl Policies {
    /// Reads, compiles and records the policy of an `opa-authz` use, and rewrites its
    /// `policy` to the bundle's logical name. A use with `opa_url` (an external OPA server)
    /// or of another plugin is left alone.
    pub(crate) fn bundle(&self, used: &mut PluginUse, site: &Site<'_>) -> Result<(), Diagnostic> {
        if used.name != PLUGIN || used.config.get("opa_url").is_some() {
            return Ok(());
        }
        let config_at = push(site.pointer, "config");
        let fail = |key: &str, message: String, hint: &str| {
            Diagnostic::error(
                Code::E1060,
                &site.ext.file,
                push(&config_at, key),
                message,
                hint,
            )
        };
        let Some(written) = used.config.get("policy").and_then(Value::as_str) else {
            return Err(fail(
                "",
                "`opa-authz` needs `policy` (a .rego file or directory) or `opa_url`".into(),
                "set `policy: policies/authz.rego` (relative to this spec) or `opa_url`",
            ));
        };
        let query = used
            .config
            .get("query")
            .and_then(Value::as_str)
            .unwrap_or(DEFAULT_QUERY)
            .to_owned();
        let base = site
            .set
            .files()
            .find(|f| f.display == site.ext.file)
            .and_then(|f| f.path.parent())
            .unwrap_or(Path::new("/"));
        let target = barbacane_spec::source::normalize(&base.join(written));
        let mut bundles = self.bundles.borrow_mut();
        let key = site.fs.canonicalize(&target).unwrap_or(target.clone());
        if !bundles.contains_key(&key) {
            let bundle = load(site.fs, &target, written).map_err(|m| {
                fail(
                    "policy",
                    m,
                    "point `policy` at a .rego file or a directory of them, relative to this spec",
                )
            })?;
            bundles.insert(key.clone(), bundle);
        }
        let Some(bundle) = bundles.get_mut(&key) else {
            return Ok(());
        };
        if !bundle.queries.contains(&query) {
            bundle
                .engine
                .compile_with_entrypoint(&query.as_str().into())
                .map_err(|e| {
                    fail(
                        "query",
                        format!("`query` `{query}` cannot be evaluated: {e}"),
                        "name a rule the policy defines, as `data.<package>.<rule>`",
                    )
                })?;
            bundle.queries.insert(query);
        }
        if let Some(map) = used.config.as_object_mut() {
            map.insert("policy".into(), site.set.logical_name(&key).into());
        }
        Ok(())
    }

    /// Canonical paths of every `.rego` file used that lies outside the project root of
    /// `set` (so it has no logical name yet): they must become anchors of the set.
    pub(crate) fn outside(&self, set: &DocumentSet) -> Vec<PathBuf> {
        self.bundles
            .borrow()
            .values()
            .flat_map(|b| b.files.iter().map(|(path, _, _)| path))
            .filter(|p| !p.starts_with(set.root_dir()))
            .cloned()
            .collect()
    }

    /// The bundles for the compiled configuration, by logical name, and each file as
    /// (logical name, bytes).
    pub(crate) fn finish(
        &self,
        set: &DocumentSet,
    ) -> (BTreeMap<String, PolicyBundle>, PolicyFiles) {
        let mut table = BTreeMap::new();
        let mut files = BTreeMap::new();
        for (key, bundle) in self.bundles.borrow().iter() {
            let mut members = Vec::new();
            for (path, _, bytes) in &bundle.files {
                let logical = set.logical_name(path);
                members.push(format!("policies/{logical}"));
                files.insert(logical, bytes.clone());
            }
            table.insert(
                set.logical_name(key),
                PolicyBundle {
                    files: members,
                    queries: bundle.queries.iter().cloned().collect(),
                },
            );
        }
        (table, files.into_iter().collect())
    }
}

/// Reads the file or the directory's `.rego` files at `target` and parses them.
fn load(fs: &dyn FileSystem, target: &Path, written: &str) -> Result<Bundle, String> {
    let paths: Vec<(PathBuf, String)> = match fs.list_dir(target) {
        Ok(listed) => {
            let dir = written.trim_end_matches('/');
            let rego: Vec<(PathBuf, String)> = listed
                .into_iter()
                .filter(|p| p.extension().is_some_and(|e| e == "rego"))
                .map(|p| {
                    let name = p.file_name().map(|n| n.to_string_lossy().into_owned());
                    let shown = format!("{dir}/{}", name.unwrap_or_default());
                    (p, shown)
                })
                .collect();
            if rego.is_empty() {
                return Err(format!(
                    "`policy` directory `{written}` holds no .rego file"
                ));
            }
            rego
        }
        Err(_) => vec![(
            fs.canonicalize(target)
                .map_err(|e| format!("cannot read `policy` `{written}`: {e}"))?,
            written.to_owned(),
        )],
    };
    let mut engine = regorus::Engine::new();
    let mut files = Vec::with_capacity(paths.len());
    for (path, shown) in paths {
        let bytes = fs
            .read(&path)
            .map_err(|e| format!("cannot read `{shown}`: {e}"))?;
        let source =
            String::from_utf8(bytes.clone()).map_err(|_| format!("`{shown}` is not UTF-8"))?;
        engine
            .add_policy(shown.clone(), source)
            .map_err(|e| format!("`{shown}` does not compile: {e}"))?;
        files.push((path, shown, bytes));
    }
    Ok(Bundle {
        files,
        queries: BTreeSet::new(),
        engine,
    })
}
