//! Secrets by reference (`secrets` capability): a configuration names a secret
//! (`env://NAME`, `file:///path`, `vault://mount/path#key`, `aws-sm://name[#key]`,
//! `k8s://namespace/name/key`), never contains it. The gateway resolves every reference of
//! the artifact when it loads it; the plugin reads the values with [`get`]. Artifacts
//! therefore never hold secret values.

use crate::host;

/// The reference schemes (the same list as `barbacane_plugin_abi::secret_ref::SCHEMES`,
/// repeated here so that plugins do not link the host's crate).
pub const SCHEMES: [&str; 5] = ["env://", "file://", "vault://", "aws-sm://", "k8s://"];

/// Whether a configured string is a secret reference rather than a literal.
pub fn is_reference(text: &str) -> bool {
    SCHEMES.iter().any(|s| text.starts_with(s))
}

/// The value behind `reference`, or `None` when it cannot be resolved (unset variable,
/// unreadable file, unsupported scheme).
pub fn get(reference: &str) -> Option<String> {
    host::secret(reference).map(|v| String::from_utf8_lossy(&v).into_owned())
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_scheme_is_a_reference() {
        for r in [
            "env://A",
            "file:///a",
            "vault://kv/a#b",
            "aws-sm://a",
            "k8s://n/s/k",
        ] {
            assert!(super::is_reference(r), "{r}");
        }
        assert!(!super::is_reference("vault:/kv"));
        assert!(!super::is_reference("s3cr3t"));
    }
}
