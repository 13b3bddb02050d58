//! Rego policies compiled once per artifact load and evaluated natively (regorus) for
//! `barbacane:policy.eval`.
//!
//! A [`PolicySet`] holds one compiled policy per (bundle, rule) pair the artifact's
//! configurations use. With regorus's `arc` feature a compiled policy is `Send + Sync`:
//! every worker thread evaluates the same one without a lock (each evaluation builds its own
//! short-lived interpreter state).

use std::collections::HashMap;

/// A policy that does not compile, with regorus's message (file:line:col included).
#[derive(Debug, thiserror::Error)]
#[error("policy `{policy}`: {message}")]
pub struct PolicyError {
    /// The bundle's name.
    pub policy: String,
    /// What regorus reported.
    pub message: String,
}

/// The compiled policies of one artifact, by bundle name then rule (nested so that a lookup
/// on the request path borrows its keys instead of allocating a pair).
#[derive(Default)]
pub struct PolicySet {
    compiled: HashMap<String, HashMap<String, regorus::CompiledPolicy>>,
}

impl std::fmt::Debug for PolicySet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PolicySet")
            .field(
                "policies",
                &self
                    .compiled
                    .iter()
                    .flat_map(|(name, rules)| rules.keys().map(move |rule| (name, rule)))
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}

// Evaluation happens on every worker thread at once, on the one compiled copy.
const _: fn() = || {
    fn shared<T: Send + Sync>() {}
    shared::<PolicySet>();
};

impl PolicySet {
    /// Compiles the bundle `name` (its `.rego` files as (name, source) pairs) once per rule
    /// of `queries`, adding each to the set.
    pub fn add(
        &mut self,
        name: &str,
        files: &[(String, String)],
        queries: &[String],
    ) -> Result<(), PolicyError> {
        let fail = |e: &dyn std::fmt::Display| PolicyError {
            policy: name.to_owned(),
            message: e.to_string(),
        };
        // Rego v1 (OPA 1.0 syntax: `if`, `contains`), regorus's default.
        let mut engine = regorus::Engine::new();
        for (file, source) in files {
            engine
                .add_policy(file.clone(), source.clone())
                .map_err(|e| fail(&e))?;
        }
        for query in queries {
            let compiled = engine
                .compile_with_entrypoint(&query.as_str().into())
                .map_err(|e| fail(&e))?;
            self.compiled
                .entry(name.to_owned())
                .or_default()
                .insert(query.clone(), compiled);
        }
        Ok(())
    }

    /// Whether the set holds no policy.
    pub fn is_empty(&self) -> bool {
        self.compiled.is_empty()
    }

    /// Evaluates rule `query` of bundle `policy` over `input`: `Ok(None)` when the rule is
    /// undefined for this input.
    pub(crate) fn eval(
        &self,
        policy: &str,
        query: &str,
        input: regorus::Value,
    ) -> Result<Option<regorus::Value>, String> {
        let compiled = self
            .compiled
            .get(policy)
            .and_then(|rules| rules.get(query))
            .ok_or_else(|| format!("no policy `{policy}` with rule `{query}` in this artifact"))?;
        let value = compiled.eval_with_input(input).map_err(|e| e.to_string())?;
        Ok((value != regorus::Value::Undefined).then_some(value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: &str = r#"
package barbacane.authz

default allow := false

allow if input.request.method == "GET"
"#;

    fn set() -> PolicySet {
        let mut set = PolicySet::default();
        set.add(
            "authz.rego",
            &[("authz.rego".into(), POLICY.into())],
            &["data.barbacane.authz.allow".into()],
        )
        .unwrap();
        set
    }

    fn input(method: &str) -> regorus::Value {
        regorus::Value::from(serde_json::json!({"request": {"method": method}}))
    }

    #[test]
    fn evaluates_a_compiled_rule() {
        let set = set();
        let query = "data.barbacane.authz.allow";
        let allow = set.eval("authz.rego", query, input("GET")).unwrap();
        assert_eq!(allow, Some(regorus::Value::from(true)));
        let deny = set.eval("authz.rego", query, input("POST")).unwrap();
        assert_eq!(deny, Some(regorus::Value::from(false)));
        assert!(set.eval("other.rego", query, input("GET")).is_err());
    }

    #[test]
    fn a_syntax_error_names_the_file_and_line() {
        let mut set = PolicySet::default();
        let error = set
            .add(
                "bad",
                &[("bad.rego".into(), "package x\nallow if {\n".into())],
                &["data.x.allow".into()],
            )
            .unwrap_err();
        assert!(error.message.contains("bad.rego:"), "{error}");
    }
}
