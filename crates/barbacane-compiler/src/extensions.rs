//! Checking `x-barbacane-dispatch` and `x-barbacane-middlewares`, and built-in plugin configs.

use barbacane_artifact::PluginUse;
use barbacane_plugin_abi::PluginType;
use barbacane_spec::pointer::push;
use barbacane_spec::{Code, Diagnostic, Extension};
use serde_json::Value;
use std::cell::RefCell;
use std::collections::BTreeMap;

use crate::plugins::PluginSource;
use barbacane_plugin_abi::{satisfies, split_reference};

/// Dispatchers built into the data plane (native code, not plugins).
pub const BUILTIN_DISPATCHERS: [&str; 1] = ["http-upstream"];

/// Plugin names known to this compilation, and compile-wide switches.
pub(crate) struct Known<'a> {
    pub(crate) manifest_plugins: &'a BTreeMap<String, PluginSource>,
    /// Official plugins used so far (bundled like declared ones); `barbacane.yaml` entries
    /// of the same name take precedence.
    pub(crate) official_used: RefCell<BTreeMap<String, PluginSource>>,
    /// `--allow-plaintext-upstream`: accept `http://` upstream URLs (development only).
    pub(crate) allow_plaintext_upstream: bool,
    /// `--allow-unenforced-security`: E1032 becomes one W1004 per spec.
    pub(crate) allow_unenforced_security: bool,
    /// The build time (seconds since the epoch): the `Deprecation` date of deprecated
    /// operations that give none.
    pub(crate) build_time: u64,
    /// Where policy files are read from, and the set that names them.
    pub(crate) fs: &'a dyn barbacane_spec::FileSystem,
    pub(crate) set: &'a barbacane_spec::DocumentSet,
    /// `opa-authz` policies used so far.
    pub(crate) policies: crate::policies::Policies,
}

impl Known<'_> {
    fn names(&self, builtins: &[&str], kind: PluginType) -> String {
        let mut all: Vec<&str> = builtins.to_vec();
        all.extend(self.manifest_plugins.keys().map(String::as_str));
        for bundle in barbacane_plugins::official() {
            let is_kind = barbacane_plugin_abi::PluginManifest::parse(bundle.manifest)
                .is_ok_and(|m| m.kind == kind);
            if is_kind && !all.contains(&bundle.name) {
                all.push(bundle.name);
            }
        }
        if all.is_empty() {
            "none".into()
        } else {
            all.join(", ")
        }
    }

    /// A declared plugin, or else an official one.
    fn lookup(
        &self,
        name: &str,
        file: &str,
        pointer: &str,
    ) -> Result<Option<PluginSource>, Diagnostic> {
        if let Some(p) = self.manifest_plugins.get(name) {
            return Ok(Some(p.clone()));
        }
        if let Some(p) = self.official_used.borrow().get(name) {
            return Ok(Some(p.clone()));
        }
        let Some(bundle) = barbacane_plugins::find(name) else {
            return Ok(None);
        };
        let source = crate::plugins::official(bundle, file, pointer)?;
        self.official_used
            .borrow_mut()
            .insert(name.to_owned(), source.clone());
        Ok(Some(source))
    }

    /// Resolves a declared plugin reference (`name`, `name@1.2.3`, `name@^1.2`) used as
    /// `expected`, checks its version (E1021), type (E1023) and config against its
    /// `config-schema.json` (E1022), and returns the use with the bare name.
    fn resolve(
        &self,
        ext: &Extension,
        pointer: &str,
        mut used: PluginUse,
        expected: PluginType,
        unknown: Code,
        builtins: &[&str],
    ) -> Result<PluginUse, Diagnostic> {
        let at = |key: &str| push(pointer, key);
        let (name, req) = split_reference(&used.name);
        let Some(plugin) = self.lookup(name, &ext.file, &at("name"))? else {
            return Err(Diagnostic::error(
                unknown,
                &ext.file,
                at("name"),
                format!(
                    "unknown {} `{name}` (known: {})",
                    expected.as_str(),
                    self.names(builtins, expected)
                ),
                "declare the plugin in barbacane.yaml under `plugins`",
            ));
        };
        let manifest = &plugin.manifest;
        if let Some(req) = req {
            match satisfies(manifest.version, req) {
                Some(true) => {}
                Some(false) => {
                    return Err(Diagnostic::error(
                        Code::E1021,
                        &ext.file,
                        at("name"),
                        format!(
                            "`{name}` is version {}, which does not satisfy `{req}`",
                            manifest.version_string()
                        ),
                        if plugin.official {
                            "change the requirement, or declare another version of the plugin in barbacane.yaml"
                        } else {
                            "change the requirement or the plugin declared in barbacane.yaml"
                        },
                    ));
                }
                None => {
                    return Err(Diagnostic::error(
                        Code::E1021,
                        &ext.file,
                        at("name"),
                        format!("`{req}` is not a version requirement"),
                        "write `name@1.2.3` (exact) or `name@^1.2` (compatible)",
                    ));
                }
            }
        }
        if manifest.kind != expected {
            return Err(Diagnostic::error(
                Code::E1023,
                &ext.file,
                at("name"),
                format!(
                    "`{name}` is a {}, used here as a {}",
                    manifest.kind.as_str(),
                    expected.as_str()
                ),
                "use middlewares in x-barbacane-middlewares and dispatchers in x-barbacane-dispatch",
            ));
        }
        if let Some(schema) = &plugin.schema {
            let problems = barbacane_validator::check_value(schema, &used.config).map_err(|e| {
                Diagnostic::error(
                    Code::E1022,
                    &ext.file,
                    at("config"),
                    format!("`{name}` has an unusable config-schema.json: {}", e.message),
                    "fix the plugin's config-schema.json",
                )
            })?;
            if let Some((pointer, message)) = problems.first() {
                let place = if pointer.is_empty() {
                    "the config"
                } else {
                    pointer
                };
                return Err(Diagnostic::error(
                    Code::E1022,
                    &ext.file,
                    format!("{}{pointer}", at("config")),
                    format!(
                        "`{name}` config is invalid at {place}: {message}{}",
                        if problems.len() > 1 {
                            format!(" (and {} more)", problems.len() - 1)
                        } else {
                            String::new()
                        }
                    ),
                    "fix the configuration to match the plugin's config-schema.json",
                ));
            }
        }
        used.name = name.to_owned();
        Ok(used)
    }
}

/// Parses one `{name, config}` entry.
fn plugin_use(
    ext: &Extension,
    pointer: &str,
    value: &Value,
    what: &str,
) -> Result<PluginUse, Diagnostic> {
    let shape_error = |message: String| {
        Diagnostic::error(
            Code::E1013,
            &ext.file,
            pointer,
            message,
            format!("write the {what} as `{{name: <plugin>, config: {{...}}}}`"),
        )
    };
    let map = value
        .as_object()
        .ok_or_else(|| shape_error(format!("{what} is not a mapping")))?;
    let name = match map.get("name") {
        Some(Value::String(n)) if !n.is_empty() => n.clone(),
        _ => return Err(shape_error(format!("{what} has no `name` string"))),
    };
    if let Some(key) = map.keys().find(|k| *k != "name" && *k != "config") {
        return Err(shape_error(format!("{what} has an unknown key `{key}`")));
    }
    let config = map
        .get("config")
        .cloned()
        .unwrap_or(Value::Object(Default::default()));
    if !config.is_object() {
        return Err(Diagnostic::error(
            Code::E1013,
            &ext.file,
            push(pointer, "config"),
            format!("{what} `config` is not a mapping"),
            "write `config` as a mapping of settings",
        ));
    }
    Ok(PluginUse { name, config })
}

/// The dispatcher of an operation.
pub(crate) fn dispatcher(
    ext: Option<&Extension>,
    op_file: &str,
    op_pointer: &str,
    path_params: &[&str],
    known: &Known<'_>,
) -> Result<PluginUse, Diagnostic> {
    let Some(ext) = ext else {
        return Err(Diagnostic::error(
            Code::E1011,
            op_file,
            op_pointer,
            "operation has no `x-barbacane-dispatch` and the document sets no root default, so the gateway would not know how to answer it",
            "add `x-barbacane-dispatch: {name: mock, config: {status: 200}}` (or another dispatcher) to the operation, or once at the document's root as the default",
        ));
    };
    let used = plugin_use(ext, &ext.pointer, &ext.value, "dispatcher")?;
    if !BUILTIN_DISPATCHERS.contains(&used.name.as_str()) {
        return known.resolve(
            ext,
            &ext.pointer,
            used,
            PluginType::Dispatcher,
            Code::E1012,
            &BUILTIN_DISPATCHERS,
        );
    }
    crate::upstream_config::check(
        ext,
        &used.config,
        known.allow_plaintext_upstream,
        path_params,
    )?;
    Ok(used)
}

/// A middleware list (root or operation level).
pub(crate) fn middlewares(
    ext: &Extension,
    known: &Known<'_>,
    diags: &mut Vec<Diagnostic>,
) -> Vec<PluginUse> {
    let Some(items) = ext.value.as_array() else {
        diags.push(Diagnostic::error(
            Code::E1013,
            &ext.file,
            &ext.pointer,
            "`x-barbacane-middlewares` is not a list",
            "write a list of `{name: <plugin>, config: {...}}` entries",
        ));
        return Vec::new();
    };
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let pointer = format!("{}/{i}", ext.pointer);
        let resolved = plugin_use(ext, &pointer, item, "middleware").and_then(|used| {
            known.resolve(
                ext,
                &pointer,
                used,
                PluginType::Middleware,
                Code::E1020,
                &[],
            )
        });
        let site = crate::policies::Site {
            fs: known.fs,
            set: known.set,
            ext,
            pointer: &pointer,
        };
        let bundled = resolved.and_then(|mut used| {
            known.policies.bundle(&mut used, &site)?;
            Ok(used)
        });
        match bundled {
            Ok(used) => {
                crate::secret_fields::check(&used, &ext.file, &pointer, diags);
                out.push(used);
            }
            Err(d) => diags.push(d),
        }
    }
    out
}
