//! `acl`: access control lists by consumer and group, placed after an authentication plugin
//! (`apikey-auth`, `basic-auth`, `jwt-auth`, `oauth2-auth`) that put who the request is from
//! into the request context.
//!
//! # Configuration
//!
//! | key | type | default | meaning |
//! |---|---|---|---|
//! | `allow` | array of strings | `[]` | groups allowed access; when non-empty a consumer must be in at least one |
//! | `deny` | array of strings | `[]` | groups denied access (wins over `allow`) |
//! | `allow_consumers` | array of strings | `[]` | consumers allowed whatever their groups |
//! | `deny_consumers` | array of strings | `[]` | consumers denied, before every other rule |
//! | `consumer_groups` | map of string to array of strings | `{}` | static groups per consumer, added to those the authentication plugin found |
//! | `message` | string | `"Access denied by ACL policy"` | the `detail` of the 403 |
//! | `hide_consumer_in_errors` | bool | `false` | leave the `consumer` member out of the 403 |
//!
//! The configuration is refused when a group name (in `allow`, `deny` or a
//! `consumer_groups` list) is empty or holds whitespace (groups reach the context joined by
//! spaces: such a name could never match), or when a consumer name (in `allow_consumers`,
//! `deny_consumers` or a `consumer_groups` key) is empty.
//!
//! # Behaviour
//!
//! **The consumer** is the request context value `auth.consumer`, else `auth.sub` (set by
//! the official authentication plugins); an empty value counts as none.
//!
//! **Its groups** are the union of:
//!
//! - `auth.roles` (space-separated): `basic-auth`'s `roles`, `jwt-auth`'s `groups_claim`;
//! - `auth.scopes` (space-separated) when the request was authenticated by `apikey-auth` or
//!   `oauth2-auth` (`auth.method` `apikey` or `oauth2`), as the earlier implementation used
//!   an API key's or an introspected token's scopes as its groups; a JWT's scopes are not
//!   groups (only its `groups_claim` is);
//! - `consumer_groups[consumer]`.
//!
//! **Evaluation**, in this order (the earlier implementation's, kept):
//!
//! 1. no consumer: **403** (the request was not authenticated; put an authentication plugin
//!    before `acl`);
//! 2. the consumer is in `deny_consumers`: **403**;
//! 3. the consumer is in `allow_consumers`: the request goes on (group rules are skipped);
//! 4. a group is in `deny`: **403** (deny wins over allow);
//! 5. `allow` is non-empty: the request goes on when a group is in it, else **403**;
//! 6. `allow` is empty: the request goes on (only deny rules apply).
//!
//! Names are compared exactly (case matters). The `x-auth-consumer` and
//! `x-auth-consumer-groups` request headers, through which the earlier implementation's
//! plugins passed the identity along, are never read: a client can send them, and the
//! official plugins here use the request context, which a client cannot reach.
//!
//! **Refused**: `403 urn:barbacane:error:acl-denied`, an RFC 9457 problem with `title`
//! `Forbidden`, `detail` the configured `message`, and a `consumer` member naming the
//! consumer (absent with `hide_consumer_in_errors: true`, and when there is no consumer).
//! The request context is left as it was.
//!
//! Capabilities: `response`, `context`.

use std::collections::{BTreeMap, BTreeSet};

use barbacane_plugin_sdk::prelude::*;
use serde::Deserialize;

/// The problem type's name: `urn:barbacane:error:acl-denied`.
pub const PROBLEM: &str = "acl-denied";

/// Authentication methods (`auth.method`) whose scopes count as groups.
const SCOPES_AS_GROUPS: [&str; 2] = ["apikey", "oauth2"];

/// The configuration of one use.
#[barbacane_middleware]
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Acl {
    #[serde(default)]
    allow: Vec<String>,
    #[serde(default)]
    deny: Vec<String>,
    #[serde(default)]
    allow_consumers: Vec<String>,
    #[serde(default)]
    deny_consumers: Vec<String>,
    #[serde(default)]
    consumer_groups: BTreeMap<String, Vec<String>>,
    #[serde(default = "default_message")]
    message: String,
    #[serde(default)]
    hide_consumer_in_errors: bool,
}

fn default_message() -> String {
    "Access denied by ACL policy".into()
}

/// What the lists decide.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Decision {
    Allow,
    Deny,
}

/// Checks that every group name of `names` is non-empty and holds no whitespace.
fn check_groups<'a>(what: &str, names: impl IntoIterator<Item = &'a String>) -> Result<(), String> {
    for name in names {
        if name.is_empty() || name.chars().any(char::is_whitespace) {
            return Err(format!(
                "{what}: the group {name:?} is empty or holds whitespace (it could never match)"
            ));
        }
    }
    Ok(())
}

/// A non-empty context value.
fn context_value(key: &str) -> Option<String> {
    context::get(key).filter(|v| !v.is_empty())
}

impl Acl {
    /// The consumer's groups: from the context and `consumer_groups`.
    fn groups(&self, consumer: &str) -> BTreeSet<String> {
        let mut groups = BTreeSet::new();
        let mut add = |value: Option<String>| {
            if let Some(value) = value {
                groups.extend(value.split_whitespace().map(str::to_owned));
            }
        };
        add(context::get("auth.roles"));
        let method = context::get("auth.method");
        if method.is_some_and(|m| SCOPES_AS_GROUPS.contains(&m.as_str())) {
            add(context::get("auth.scopes"));
        }
        if let Some(configured) = self.consumer_groups.get(consumer) {
            groups.extend(configured.iter().cloned());
        }
        groups
    }

    /// The lists' decision for `consumer`.
    fn decide(&self, consumer: &str) -> Decision {
        let listed = |list: &[String]| list.iter().any(|c| c == consumer);
        if listed(&self.deny_consumers) {
            return Decision::Deny;
        }
        if listed(&self.allow_consumers) {
            return Decision::Allow;
        }
        let groups = self.groups(consumer);
        if self.deny.iter().any(|g| groups.contains(g)) {
            return Decision::Deny;
        }
        if self.allow.is_empty() || self.allow.iter().any(|g| groups.contains(g)) {
            Decision::Allow
        } else {
            Decision::Deny
        }
    }

    /// The 403.
    fn denied(&self, consumer: Option<&str>) -> OutgoingResponse {
        let mut body = serde_json::json!({
            "type": format!("urn:barbacane:error:{PROBLEM}"),
            "title": "Forbidden",
            "status": 403,
            "detail": self.message,
        });
        if let (Some(consumer), false, Some(map)) =
            (consumer, self.hide_consumer_in_errors, body.as_object_mut())
        {
            map.insert("consumer".into(), consumer.into());
        }
        OutgoingResponse::new(403)
            .header("content-type", "application/problem+json")
            .body(body.to_string())
    }
}

impl Middleware for Acl {
    fn init(&mut self) -> Result<(), String> {
        check_groups("allow", &self.allow)?;
        check_groups("deny", &self.deny)?;
        for (consumer, groups) in &self.consumer_groups {
            if consumer.is_empty() {
                return Err("consumer_groups: a consumer name is empty".into());
            }
            check_groups(&format!("consumer_groups.{consumer}"), groups)?;
        }
        for (what, list) in [
            ("allow_consumers", &self.allow_consumers),
            ("deny_consumers", &self.deny_consumers),
        ] {
            if list.iter().any(String::is_empty) {
                return Err(format!("{what}: a consumer name is empty"));
            }
        }
        Ok(())
    }

    fn on_request(&mut self, _request: &mut Request) -> Action {
        let Some(consumer) = context_value("auth.consumer").or_else(|| context_value("auth.sub"))
        else {
            return Action::Respond(self.denied(None));
        };
        match self.decide(&consumer) {
            Decision::Allow => Action::Continue,
            Decision::Deny => Action::Respond(self.denied(Some(&consumer))),
        }
    }
}

#[cfg(test)]
mod tests;
