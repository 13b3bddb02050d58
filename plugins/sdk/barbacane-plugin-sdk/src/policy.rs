//! Rego policies evaluated by the gateway (`policy` capability): the policies a
//! configuration names are bundled into the artifact by the compiler, compiled once when the
//! artifact loads and evaluated natively, so a plugin hands over an input and gets the
//! rule's value back.
//!
//! ```
//! use barbacane_plugin_sdk::policy::{self, With};
//! # let mut host = barbacane_plugin_sdk::testing::FakeHost::new();
//! # host.method("GET").policy_evaluator(|_policy, _query, input| {
//! #     Ok(Some(serde_json::json!(input["request"]["method"] == "GET")))
//! # });
//! let allowed = policy::eval("authz.rego", "data.barbacane.authz.allow", b"{}", With::REQUEST);
//! assert_eq!(allowed, Ok(Some("true".to_owned())));
//! ```

use crate::host;

/// Members the host adds to the input from the request it holds (`with` of
/// [`eval`] and [`input`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct With(i32);

impl With {
    /// Nothing: the input is what the plugin passes.
    pub const NOTHING: With = With(0);
    /// `request`: `{method, path, params, query, query_string, headers, client_ip}`.
    pub const REQUEST: With = With(1);
    /// `context`: every request context value set so far (`auth.sub`, `auth.claims.<name>`...).
    pub const CONTEXT: With = With(2);

    /// Both sets of members.
    pub const fn and(self, other: With) -> With {
        With(self.0 | other.0)
    }

    pub(crate) fn bits(self) -> i32 {
        self.0
    }
}

/// Evaluates rule `query` (e.g. `data.barbacane.authz.allow`) of the bundled policy `policy`
/// (the name the compiler wrote into the configuration) over `input` (a JSON object, or
/// empty for `{}`) plus the members `with` asks for. `Ok(Some(json))`: the rule's value;
/// `Ok(None)`: the rule is undefined for this input; `Err`: it cannot be evaluated (unknown
/// policy, an evaluation error), with the host's reason.
pub fn eval(policy: &str, query: &str, input: &[u8], with: With) -> Result<Option<String>, String> {
    host::policy_eval(policy, query, input, with.bits())
}

/// The `request` / `context` members the host would add, as one JSON object (for a plugin
/// that sends them elsewhere, such as an OPA server).
pub fn input(with: With) -> String {
    host::policy_input(with.bits())
}
