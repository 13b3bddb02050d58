//! The input fingerprint: `artifact_hash`.
//!
//! The hash covers *inputs*, not the artifact bytes, so that the same sources give the same
//! fingerprint on any OS, from any working directory, in any argument order (seed ADR-0021).
//! Canonical form, hashed with SHA-256:
//!
//! ```text
//! barbacane-inputs-v1\n
//! <kind>\t<name>\t<sha256 hex>\n      (one line per input, sorted by kind, then name, bytewise)
//! ```

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt;

use crate::ArtifactError;

/// First line of the canonical input manifest; bump it if the canonical form ever changes.
pub const FINGERPRINT_DOMAIN: &str = "barbacane-inputs-v1";

/// What role an input played in the build.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum InputKind {
    /// A spec document named on the command line.
    Spec,
    /// A file reached through a relative `$ref` from a spec.
    Reference,
    /// The project manifest (`barbacane.yaml`).
    Manifest,
    /// A WASM plugin binary.
    Plugin,
    /// A compiler option that changes the output (e.g. `base-path`); its sha256 is over the value.
    Option,
    /// A Rego policy file (`.rego`) named by an `opa-authz` configuration's `policy`.
    Policy,
}

impl InputKind {
    /// The lowercase name used in the canonical manifest and in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            InputKind::Spec => "spec",
            InputKind::Reference => "reference",
            InputKind::Manifest => "manifest",
            InputKind::Plugin => "plugin",
            InputKind::Option => "option",
            InputKind::Policy => "policy",
        }
    }
}

impl fmt::Display for InputKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// One input of a build: its role, its logical (root-relative, `/`-separated) name and the
/// SHA-256 of its bytes.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Input {
    /// Role of the input.
    pub kind: InputKind,
    /// Logical name, e.g. `specs/petstore.yaml`; never an absolute path.
    pub name: String,
    /// Lowercase hex SHA-256 of the input's bytes.
    pub sha256: String,
}

impl Input {
    /// Builds an input entry by hashing `bytes`.
    pub fn new(kind: InputKind, name: impl Into<String>, bytes: &[u8]) -> Self {
        Input {
            kind,
            name: name.into(),
            sha256: sha256_hex(bytes),
        }
    }
}

/// Lowercase hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    format!("{:x}", Sha256::digest(bytes))
}

/// First line of the canonical member list hashed into `content_hash`.
pub const CONTENT_DOMAIN: &str = "barbacane-content-v1";

/// `content_hash` (`sha256:<hex>`): SHA-256 over `barbacane-content-v1\n` and one
/// `name\tsize\tsha256\n` line per member, sorted by name. It binds the compiled output
/// (every member's bytes, through their checksums) and nothing else: the same inputs and
/// compiler give the same value whatever the build time or provenance flags.
pub fn content_hash(members: &[crate::Member]) -> String {
    let mut lines: Vec<String> = members
        .iter()
        .map(|m| {
            format!(
                "{}\t{}\t{}\n",
                m.name,
                m.size,
                m.sha256.to_ascii_lowercase()
            )
        })
        .collect();
    lines.sort();
    let mut canonical = format!("{CONTENT_DOMAIN}\n");
    for line in lines {
        canonical.push_str(&line);
    }
    format!("sha256:{}", sha256_hex(canonical.as_bytes()))
}

/// Computes `artifact_hash` (`sha256:<hex>`) over `inputs` and returns them in canonical order.
///
/// Fails on a name that could make the canonical form ambiguous (empty, containing a tab, a
/// newline or a backslash, absolute, or with a `..` segment) and on duplicate `(kind, name)`.
pub fn fingerprint(mut inputs: Vec<Input>) -> Result<(String, Vec<Input>), ArtifactError> {
    inputs.sort();
    let mut canonical = String::with_capacity(64 + inputs.len() * 96);
    canonical.push_str(FINGERPRINT_DOMAIN);
    canonical.push('\n');
    let mut previous: Option<(&InputKind, &str)> = None;
    for input in &inputs {
        check_name(input)?;
        if previous == Some((&input.kind, input.name.as_str())) {
            return Err(invalid(input, "listed twice"));
        }
        if input.sha256.len() != 64 || !input.sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(invalid(input, "sha256 is not 64 hex digits"));
        }
        previous = Some((&input.kind, input.name.as_str()));
        canonical.push_str(input.kind.as_str());
        canonical.push('\t');
        canonical.push_str(&input.name);
        canonical.push('\t');
        canonical.push_str(&input.sha256.to_ascii_lowercase());
        canonical.push('\n');
    }
    Ok((
        format!("sha256:{}", sha256_hex(canonical.as_bytes())),
        inputs,
    ))
}

fn check_name(input: &Input) -> Result<(), ArtifactError> {
    let name = &input.name;
    if name.is_empty() {
        return Err(invalid(input, "empty name"));
    }
    if name.contains(['\t', '\n', '\r', '\\']) {
        return Err(invalid(input, "name contains a tab, newline or backslash"));
    }
    if input.kind != InputKind::Option
        && (name.starts_with('/') || name.split('/').any(|s| s == ".." || s.is_empty()))
    {
        return Err(invalid(input, "name must be a relative path without `..`"));
    }
    Ok(())
}

fn invalid(input: &Input, reason: &'static str) -> ArtifactError {
    ArtifactError::InvalidInput {
        kind: input.kind.to_string(),
        name: input.name.clone(),
        reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inputs() -> Vec<Input> {
        vec![
            Input::new(InputKind::Spec, "b.yaml", b"b"),
            Input::new(InputKind::Spec, "a.yaml", b"a"),
            Input::new(InputKind::Manifest, "barbacane.yaml", b"m"),
        ]
    }

    #[test]
    fn order_of_inputs_does_not_matter() {
        let (h1, _) = fingerprint(inputs()).unwrap();
        let mut reversed = inputs();
        reversed.reverse();
        let (h2, sorted) = fingerprint(reversed).unwrap();
        assert_eq!(h1, h2);
        assert_eq!(sorted[0].name, "a.yaml");
        assert!(h1.starts_with("sha256:") && h1.len() == 71);
    }

    #[test]
    fn any_byte_name_or_kind_change_changes_the_hash() {
        let (base, _) = fingerprint(inputs()).unwrap();
        let mut content = inputs();
        content[0] = Input::new(InputKind::Spec, "b.yaml", b"c");
        let mut name = inputs();
        name[0].name = "c.yaml".into();
        let mut kind = inputs();
        kind[0].kind = InputKind::Reference;
        for changed in [content, name, kind] {
            assert_ne!(fingerprint(changed).unwrap().0, base);
        }
    }

    #[test]
    fn known_value_is_stable() {
        // Pins the canonical form: changing it silently would break every recorded hash.
        let (hash, _) = fingerprint(vec![Input::new(InputKind::Spec, "api.yaml", b"")]).unwrap();
        let canonical = format!(
            "{FINGERPRINT_DOMAIN}\nspec\tapi.yaml\t{}\n",
            sha256_hex(b"")
        );
        assert_eq!(hash, format!("sha256:{}", sha256_hex(canonical.as_bytes())));
    }

    #[test]
    fn bad_names_and_duplicates_are_refused() {
        for name in [
            "",
            "/abs.yaml",
            "../up.yaml",
            "a//b",
            "tab\there",
            "win\\path",
        ] {
            let err = fingerprint(vec![Input::new(InputKind::Spec, name, b"")]);
            assert!(err.is_err(), "{name:?} accepted");
        }
        let dup = vec![
            Input::new(InputKind::Spec, "a", b"1"),
            Input::new(InputKind::Spec, "a", b"2"),
        ];
        assert!(fingerprint(dup).is_err());
    }
}
