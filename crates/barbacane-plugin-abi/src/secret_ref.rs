//! Secret references: the strings a plugin configuration holds instead of a secret, and
//! passes to `barbacane:secrets.get`. Pure syntax, no I/O: the data plane resolves them
//! (`docs/secrets.md`), the compiler recognizes them (W1001), plugins tell them from
//! literals.
//!
//! | form | what it names |
//! |---|---|
//! | `env://NAME` | an environment variable of the gateway |
//! | `file:///path` | a file (absolute path) |
//! | `vault://mount/path#key` | field `key` of a HashiCorp Vault KV v2 secret |
//! | `aws-sm://name[#key]` | an AWS Secrets Manager secret, or field `key` of its JSON |
//! | `k8s://namespace/name/key` | key `key` of a Kubernetes Secret, mounted as a file |

use std::fmt;

/// The prefixes that make a string a secret reference rather than a literal.
pub const SCHEMES: [&str; 5] = ["env://", "file://", "vault://", "aws-sm://", "k8s://"];

/// Whether `text` is meant as a secret reference (starts with one of [`SCHEMES`]); it may
/// still be malformed ([`SecretRef::parse`] says).
pub fn is_reference(text: &str) -> bool {
    SCHEMES.iter().any(|s| text.starts_with(s))
}

/// A parsed secret reference.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SecretRef {
    /// `env://NAME`.
    Env {
        /// The variable.
        name: String,
    },
    /// `file:///path`.
    File {
        /// The absolute path.
        path: String,
    },
    /// `vault://mount/path#key`: `GET /v1/<mount>/data/<path>`, field `key` of `.data.data`.
    Vault {
        /// The KV v2 engine's mount (the first segment).
        mount: String,
        /// The secret's path below the mount.
        path: String,
        /// The field.
        key: String,
    },
    /// `aws-sm://name[#key]`: `GetSecretValue` of `name` (a name or an ARN).
    AwsSm {
        /// The secret's name or ARN.
        name: String,
        /// A field of the `SecretString` parsed as a JSON object; the whole string when absent.
        key: Option<String>,
    },
    /// `k8s://namespace/name/key`: a Kubernetes Secret's key, mounted as a file.
    K8s {
        /// The namespace.
        namespace: String,
        /// The Secret's name.
        name: String,
        /// The key.
        key: String,
    },
}

/// Why a string is not a usable secret reference. The message quotes the reference (never a
/// value: a reference is not secret).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed secret reference `{reference}`: {reason}")]
pub struct SecretRefError {
    /// The text as given.
    pub reference: String,
    /// What is wrong.
    pub reason: &'static str,
}

impl SecretRef {
    /// Parses a reference; a string without one of [`SCHEMES`] is an error too.
    pub fn parse(text: &str) -> Result<SecretRef, SecretRefError> {
        let fail = |reason| SecretRefError {
            reference: text.to_owned(),
            reason,
        };
        if text.chars().any(char::is_control) {
            return Err(fail("it contains control characters"));
        }
        if let Some(name) = text.strip_prefix("env://") {
            let valid = name
                .bytes()
                .next()
                .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
                && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
            return if valid {
                Ok(SecretRef::Env { name: name.into() })
            } else {
                Err(fail(
                    "`env://` needs a variable name (letters, digits, `_`)",
                ))
            };
        }
        if let Some(path) = text.strip_prefix("file://") {
            return if path.starts_with('/') && path.len() > 1 {
                Ok(SecretRef::File { path: path.into() })
            } else {
                Err(fail(
                    "`file://` needs an absolute path (`file:///run/secrets/x`)",
                ))
            };
        }
        if let Some(rest) = text.strip_prefix("vault://") {
            let (location, key) = rest
                .split_once('#')
                .ok_or_else(|| fail("`vault://` needs `#key`, the field of the secret"))?;
            let (mount, path) = location
                .split_once('/')
                .ok_or_else(|| fail("`vault://` needs `mount/path`"))?;
            if mount.is_empty() || !segments_ok(path) || key.is_empty() {
                return Err(fail(
                    "`vault://` takes `mount/path#key`, none of them empty",
                ));
            }
            return Ok(SecretRef::Vault {
                mount: mount.into(),
                path: path.into(),
                key: key.into(),
            });
        }
        if let Some(rest) = text.strip_prefix("aws-sm://") {
            let (name, key) = match rest.split_once('#') {
                Some((name, key)) if !key.is_empty() => (name, Some(key.to_owned())),
                Some(_) => return Err(fail("`aws-sm://name#` has an empty key")),
                None => (rest, None),
            };
            if name.is_empty() || name.contains(char::is_whitespace) {
                return Err(fail("`aws-sm://` needs a secret name or ARN"));
            }
            return Ok(SecretRef::AwsSm {
                name: name.into(),
                key,
            });
        }
        if let Some(rest) = text.strip_prefix("k8s://") {
            let parts: Vec<&str> = rest.split('/').collect();
            let [namespace, name, key] = parts[..] else {
                return Err(fail("`k8s://` takes `namespace/name/key`"));
            };
            let dns = |s: &str| {
                !s.is_empty()
                    && s.bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-.".contains(&b))
            };
            let key_ok = !key.is_empty()
                && key != "."
                && key != ".."
                && key
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-._".contains(&b));
            if !dns(namespace) || !dns(name) || namespace.contains('.') || !key_ok {
                return Err(fail(
                    "`k8s://` takes `namespace/name/key` with Kubernetes names (lowercase, digits, `-`, `.`)",
                ));
            }
            return Ok(SecretRef::K8s {
                namespace: namespace.into(),
                name: name.into(),
                key: key.into(),
            });
        }
        Err(fail(
            "expected `env://`, `file://`, `vault://`, `aws-sm://` or `k8s://`",
        ))
    }
}

/// `a/b/c`: segments neither empty nor `.`/`..` (a Vault path goes into a URL path).
fn segments_ok(path: &str) -> bool {
    path.split('/')
        .all(|s| !s.is_empty() && s != "." && s != ".." && !s.contains(['?', '%']))
}

impl fmt::Display for SecretRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretRef::Env { name } => write!(f, "env://{name}"),
            SecretRef::File { path } => write!(f, "file://{path}"),
            SecretRef::Vault { mount, path, key } => write!(f, "vault://{mount}/{path}#{key}"),
            SecretRef::AwsSm { name, key: None } => write!(f, "aws-sm://{name}"),
            SecretRef::AwsSm {
                name,
                key: Some(key),
            } => write!(f, "aws-sm://{name}#{key}"),
            SecretRef::K8s {
                namespace,
                name,
                key,
            } => write!(f, "k8s://{namespace}/{name}/{key}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_scheme_parses_and_prints_back() {
        let cases = [
            (
                "env://API_KEY_1",
                SecretRef::Env {
                    name: "API_KEY_1".into(),
                },
            ),
            (
                "file:///run/secrets/key",
                SecretRef::File {
                    path: "/run/secrets/key".into(),
                },
            ),
            (
                "vault://secret/team/app#password",
                SecretRef::Vault {
                    mount: "secret".into(),
                    path: "team/app".into(),
                    key: "password".into(),
                },
            ),
            (
                "aws-sm://prod/db",
                SecretRef::AwsSm {
                    name: "prod/db".into(),
                    key: None,
                },
            ),
            (
                "aws-sm://arn:aws:secretsmanager:eu-west-1:1:secret:db-AbC#user",
                SecretRef::AwsSm {
                    name: "arn:aws:secretsmanager:eu-west-1:1:secret:db-AbC".into(),
                    key: Some("user".into()),
                },
            ),
            (
                "k8s://payments/api-keys/partner.key",
                SecretRef::K8s {
                    namespace: "payments".into(),
                    name: "api-keys".into(),
                    key: "partner.key".into(),
                },
            ),
        ];
        for (text, expected) in cases {
            assert!(is_reference(text), "{text}");
            let parsed = SecretRef::parse(text).unwrap();
            assert_eq!(parsed, expected, "{text}");
            assert_eq!(parsed.to_string(), text);
        }
    }

    #[test]
    fn malformed_references_are_refused_with_the_reference_named() {
        for bad in [
            "env://",
            "env://1X",
            "env://A-B",
            "file://relative",
            "file:///",
            "vault://secret/app",
            "vault://secret#k",
            "vault:///app#k",
            "vault://secret/app#",
            "vault://secret/../sys#k",
            "vault://secret/a//b#k",
            "aws-sm://",
            "aws-sm://#k",
            "aws-sm://name#",
            "aws-sm://two words",
            "k8s://ns/name",
            "k8s://ns/name/key/extra",
            "k8s://NS/name/key",
            "k8s://ns/name/..",
            "k8s://ns/name/a b",
            "k8s://a.b/name/key",
            "env://A\nB",
            "s3cr3t",
            "https://vault/x",
        ] {
            let err = SecretRef::parse(bad).unwrap_err();
            assert_eq!(err.reference, bad);
            assert!(err.to_string().contains(bad), "{err}");
        }
        assert!(!is_reference("s3cr3t"));
        assert!(!is_reference("sha256:abcd"));
    }
}
