//! The official plugins, embedded.
//!
//! `build.rs` builds every crate of the `plugins/` workspace for `wasm32-unknown-unknown`;
//! this crate embeds each plugin's `plugin.toml`, module and `config-schema.json`. The
//! compiler looks plugins up here by name when a spec uses one that `barbacane.yaml` does not
//! declare, and bundles the bytes into the artifact like any other plugin (hashed into
//! `artifact_hash` as `official/<name>/...`). The data plane never needs this crate: it runs
//! what the artifact carries.
#![deny(missing_docs)]

/// One plugin's files.
#[derive(Debug, Clone, Copy)]
pub struct Bundle {
    /// The plugin's name (its `plugin.toml` `name`).
    pub name: &'static str,
    /// `plugin.toml`.
    pub manifest: &'static str,
    /// The module's file name (`plugin.toml` `wasm`).
    pub wasm_file: &'static str,
    /// The module.
    pub wasm: &'static [u8],
    /// `config-schema.json`, when the plugin has one.
    pub schema: Option<&'static str>,
}

include!(concat!(env!("OUT_DIR"), "/bundles.rs"));

/// Every official plugin, sorted by name.
pub fn official() -> &'static [Bundle] {
    OFFICIAL
}

/// The official plugin called `name`.
pub fn find(name: &str) -> Option<&'static Bundle> {
    OFFICIAL.iter().find(|b| b.name == name)
}

/// A test-only plugin from `plugins/test-plugins/` (never official, never found by the
/// compiler on its own).
#[cfg(feature = "test-plugins")]
pub fn test_plugin(name: &str) -> Option<&'static Bundle> {
    TEST_PLUGINS.iter().find(|b| b.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_official_plugin_is_a_module_with_its_manifest() {
        assert!(find("mock").is_some(), "mock is official");
        for bundle in official() {
            assert_eq!(
                &bundle.wasm[..4],
                b"\0asm",
                "{} is a wasm module",
                bundle.name
            );
            assert!(
                bundle
                    .manifest
                    .contains(&format!("name = \"{}\"", bundle.name)),
                "{}'s plugin.toml names it",
                bundle.name
            );
        }
        let mut names: Vec<_> = official().iter().map(|b| b.name).collect();
        let sorted = {
            let mut s = names.clone();
            s.sort();
            s
        };
        assert_eq!(names, sorted);
        names.dedup();
        assert_eq!(names.len(), official().len());
    }
}
