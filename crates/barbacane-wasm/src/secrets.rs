//! The secrets a loaded artifact resolved: every reference its plugin configurations hold,
//! fetched once when the artifact loads (`barbacane-proxy`), read by `barbacane:secrets.get`
//! without any I/O. The values are wiped from memory when the snapshot goes away, and no
//! `Debug` or `Display` shows them.

use std::collections::HashMap;
use zeroize::Zeroizing;

/// One secret's bytes: no `Debug`, no `Display`, wiped on drop.
pub struct SecretValue(Zeroizing<Vec<u8>>);

impl SecretValue {
    /// Wraps `bytes` (taken, not copied).
    pub fn new(bytes: Vec<u8>) -> SecretValue {
        SecretValue(Zeroizing::new(bytes))
    }

    /// The bytes, for the one place that hands them to a plugin or a TLS key parser.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretValue(<redacted>)")
    }
}

/// Resolved references and their values, immutable once built.
#[derive(Default)]
pub struct Secrets {
    values: HashMap<String, SecretValue>,
}

impl Secrets {
    /// The snapshot of `values`, keyed by reference text exactly as configured.
    pub fn new(values: HashMap<String, SecretValue>) -> Secrets {
        Secrets { values }
    }

    /// The value behind `reference`, if it was resolved.
    pub fn get(&self, reference: &str) -> Option<&SecretValue> {
        self.values.get(reference)
    }

    /// Takes the value of `reference` out of the snapshot.
    pub fn take(mut self, reference: &str) -> Option<SecretValue> {
        self.values.remove(reference)
    }

    /// How many references were resolved.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// Whether none were.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut refs: Vec<&str> = self.values.keys().map(String::as_str).collect();
        refs.sort_unstable();
        f.debug_struct("Secrets")
            .field("references", &refs)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_names_references_never_values() {
        let secrets = Secrets::new(HashMap::from([(
            "env://TOKEN".to_owned(),
            SecretValue::new(b"hunter2-value".to_vec()),
        )]));
        let shown = format!("{secrets:?} {:?}", secrets.get("env://TOKEN"));
        assert!(shown.contains("env://TOKEN"));
        assert!(!shown.contains("hunter2"), "{shown}");
        assert_eq!(
            secrets.get("env://TOKEN").map(SecretValue::expose),
            Some(&b"hunter2-value"[..])
        );
    }
}
