//! Secret references: `env://VAR` or `file:///absolute/path`, resolved when used. The
//! database stores the reference, never the secret (standalone nodes' admin tokens, webhook
//! signing secrets).

use std::path::PathBuf;

/// A parsed reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretRef {
    /// `env://VAR`: the variable's value in the control plane's environment.
    Env(String),
    /// `file:///path`: the file's content, without a trailing newline.
    File(PathBuf),
}

/// Variables of the control plane's own secrets: a reference may never name them (they would
/// be sent to whatever URL the reference is used for).
const OWN_SECRETS: [&str; 3] = [
    "DATABASE_URL",
    "BARBACANE_CONTROL_ADMIN_TOKEN",
    "BARBACANE_CONTROL_ADMIN_TOKENS_SECONDARY",
];

/// What a reference looks like, for error messages.
pub const FORMS: &str = "`env://VAR` or `file:///absolute/path`";

impl SecretRef {
    /// Parses `text` with the data plane's syntax (`barbacane_plugin_abi::SecretRef`);
    /// anything else (in particular a literal secret) is refused, so that a secret never
    /// lands in the database by mistake. The control plane resolves `env://` and `file://`
    /// only: the other forms name stores its nodes read, not it.
    pub fn parse(text: &str) -> Result<SecretRef, String> {
        use barbacane_plugin_abi::SecretRef as Reference;
        match Reference::parse(text) {
            Ok(Reference::Env { name }) if OWN_SECRETS.contains(&name.as_str()) => Err(format!(
                "`env://{name}` names the control plane's own secret; use a variable of its own"
            )),
            Ok(Reference::Env { name }) => Ok(SecretRef::Env(name)),
            Ok(Reference::File { path }) => Ok(SecretRef::File(PathBuf::from(path))),
            Ok(other) => Err(format!(
                "`{other}`: the control plane resolves {FORMS} references only"
            )),
            Err(e) if barbacane_plugin_abi::secret_ref::is_reference(text) => Err(e.to_string()),
            Err(_) => Err(format!(
                "expected a secret reference, {FORMS}, not a literal value"
            )),
        }
    }

    /// The secret now (environment and files are read at each use: rotation needs no
    /// restart). The error names the reference, never a value.
    pub fn resolve(&self) -> Result<String, String> {
        let value = match self {
            SecretRef::Env(var) => std::env::var(var)
                .map_err(|_| format!("environment variable `{var}` is not set"))?,
            SecretRef::File(path) => std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read `{}`: {e}", path.display()))?
                .trim_end_matches(['\r', '\n'])
                .to_owned(),
        };
        if value.is_empty() {
            return Err(format!("the secret at `{self}` is empty"));
        }
        Ok(value)
    }
}

impl std::fmt::Display for SecretRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SecretRef::Env(var) => write!(f, "env://{var}"),
            SecretRef::File(path) => write!(f, "file://{}", path.display()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_references_and_refuses_literals() {
        assert_eq!(
            SecretRef::parse("env://NODE_TOKEN"),
            Ok(SecretRef::Env("NODE_TOKEN".into()))
        );
        assert_eq!(
            SecretRef::parse("file:///etc/token"),
            Ok(SecretRef::File("/etc/token".into()))
        );
        for bad in [
            "s3cr3t",
            "env://",
            "env://1X",
            "env://A-B",
            "file://rel/path",
            "vault://kv/app#key",
            "",
        ] {
            assert!(SecretRef::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(
            SecretRef::parse("file:///etc/token").unwrap().to_string(),
            "file:///etc/token"
        );
    }

    #[test]
    fn resolves_files_without_the_trailing_newline() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t");
        std::fs::write(&path, "abc\n").unwrap();
        let r = SecretRef::File(path.clone());
        assert_eq!(r.resolve().unwrap(), "abc");
        std::fs::write(&path, "\n").unwrap();
        assert!(r.resolve().unwrap_err().contains("empty"));
        assert!(
            SecretRef::Env("BARBACANE_TEST_SURELY_UNSET".into())
                .resolve()
                .unwrap_err()
                .contains("not set")
        );
    }
}
