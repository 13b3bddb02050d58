//! `plugin.toml`:
//!
//! ```toml
//! name = "correlation-id"
//! version = "1.0.0"
//! type = "middleware"                # or "dispatcher"
//! capabilities = ["request", "response", "context"]
//! wasm = "correlation_id.wasm"
//! isolation = "instance"             # default; "request": a fresh instance per request
//! ```

use serde::Deserialize;

use crate::{Capability, parse_version};

/// Middleware or dispatcher.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PluginType {
    /// Runs `on_request` / `on_response` around the dispatcher.
    Middleware,
    /// Produces the response.
    Dispatcher,
}

impl PluginType {
    /// `middleware` or `dispatcher`.
    pub fn as_str(self) -> &'static str {
        match self {
            PluginType::Middleware => "middleware",
            PluginType::Dispatcher => "dispatcher",
        }
    }
}

/// How long a plugin instance lives (see `docs/plugin-abi.md`, "Instance lifetime").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Isolation {
    /// Initialized instances of one (plugin, configuration) pair are reused across requests:
    /// guest memory persists (a parsed configuration, a cache), host state does not.
    #[default]
    Instance,
    /// A fresh instance, `init` included, for every request: nothing survives a request.
    Request,
}

impl Isolation {
    /// `instance` or `request`.
    pub fn as_str(self) -> &'static str {
        match self {
            Isolation::Instance => "instance",
            Isolation::Request => "request",
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    name: String,
    version: String,
    #[serde(rename = "type")]
    kind: PluginType,
    #[serde(default)]
    capabilities: Vec<String>,
    wasm: String,
    #[serde(default)]
    isolation: Isolation,
}

/// A parsed, checked `plugin.toml`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginManifest {
    /// Plugin name: lowercase letters, digits and `-`.
    pub name: String,
    /// Semantic version `MAJOR.MINOR.PATCH`.
    pub version: (u64, u64, u64),
    /// Middleware or dispatcher.
    pub kind: PluginType,
    /// Declared capabilities (`core` is always included).
    pub capabilities: Vec<Capability>,
    /// The `.wasm` file, relative to `plugin.toml`.
    pub wasm: String,
    /// Whether instances are reused across requests (the default) or made per request.
    pub isolation: Isolation,
}

/// Why a `plugin.toml` was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("invalid plugin.toml: {0}")]
pub struct ManifestError(pub String);

impl PluginManifest {
    /// Parses and checks a `plugin.toml`.
    pub fn parse(text: &str) -> Result<PluginManifest, ManifestError> {
        let raw: Raw = toml::from_str(text).map_err(|e| ManifestError(e.to_string()))?;
        let name_ok = !raw.name.is_empty()
            && raw
                .name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !raw.name.starts_with('-');
        if !name_ok {
            return Err(ManifestError(format!(
                "name `{}` must be lowercase letters, digits and `-`",
                raw.name
            )));
        }
        let version = parse_version(&raw.version).ok_or_else(|| {
            ManifestError(format!(
                "version `{}` is not MAJOR.MINOR.PATCH",
                raw.version
            ))
        })?;
        let mut capabilities = vec![Capability::Core];
        for c in &raw.capabilities {
            let c: Capability = c.parse().map_err(ManifestError)?;
            if !capabilities.contains(&c) {
                capabilities.push(c);
            }
        }
        if raw.wasm.is_empty()
            || raw.wasm.starts_with('/')
            || raw.wasm.split('/').any(|s| s == "..")
        {
            return Err(ManifestError(format!(
                "wasm `{}` must be a relative path inside the plugin",
                raw.wasm
            )));
        }
        Ok(PluginManifest {
            name: raw.name,
            version,
            kind: raw.kind,
            capabilities,
            wasm: raw.wasm,
            isolation: raw.isolation,
        })
    }

    /// `MAJOR.MINOR.PATCH`.
    pub fn version_string(&self) -> String {
        let (a, b, c) = self.version;
        format!("{a}.{b}.{c}")
    }

    /// Whether the plugin declared `capability`.
    pub fn allows(&self, capability: Capability) -> bool {
        self.capabilities.contains(&capability)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_manifest() {
        let m = PluginManifest::parse(
            "name = \"cors\"\nversion = \"1.2.3\"\ntype = \"middleware\"\ncapabilities = [\"request\", \"response\"]\nwasm = \"cors.wasm\"\n",
        )
        .unwrap();
        assert_eq!(m.version_string(), "1.2.3");
        assert_eq!(m.kind, PluginType::Middleware);
        assert!(
            m.allows(Capability::Core)
                && m.allows(Capability::Request)
                && !m.allows(Capability::Log)
        );
        assert_eq!(m.isolation, Isolation::Instance);
    }

    #[test]
    fn parses_isolation() {
        let base = "name = \"a\"\nversion = \"1.0.0\"\ntype = \"middleware\"\nwasm = \"a.wasm\"\n";
        let m = PluginManifest::parse(&format!("{base}isolation = \"request\"\n")).unwrap();
        assert_eq!(m.isolation, Isolation::Request);
        let m = PluginManifest::parse(&format!("{base}isolation = \"instance\"\n")).unwrap();
        assert_eq!(m.isolation, Isolation::Instance);
        let err = PluginManifest::parse(&format!("{base}isolation = \"process\"\n")).unwrap_err();
        assert!(
            err.0.contains("isolation") || err.0.contains("process"),
            "{err}"
        );
    }

    #[test]
    fn refuses_bad_manifests() {
        for bad in [
            "name = \"Cors\"\nversion = \"1.0.0\"\ntype = \"middleware\"\nwasm = \"a.wasm\"",
            "name = \"cors\"\nversion = \"1.0\"\ntype = \"middleware\"\nwasm = \"a.wasm\"",
            "name = \"cors\"\nversion = \"1.0.0\"\ntype = \"filter\"\nwasm = \"a.wasm\"",
            "name = \"cors\"\nversion = \"1.0.0\"\ntype = \"middleware\"\ncapabilities = [\"net\"]\nwasm = \"a.wasm\"",
            "name = \"cors\"\nversion = \"1.0.0\"\ntype = \"middleware\"\nwasm = \"../a.wasm\"",
            "name = \"cors\"\nversion = \"1.0.0\"\ntype = \"middleware\"\nwasm = \"a.wasm\"\nextra = 1",
        ] {
            assert!(PluginManifest::parse(bad).is_err(), "{bad}");
        }
    }
}
