//! `bot-detection`: refuses requests by their `User-Agent`: those matching a `deny`
//! pattern, unless they match an `allow` pattern, and optionally those without one.
//!
//! The `User-Agent` is whatever the client chose to send: this keeps out well-behaved
//! crawlers, scanners and scripts that announce themselves, not a client that lies about
//! what it is.
//!
//! # Configuration
//!
//! | key | type | default | meaning |
//! |---|---|---|---|
//! | `deny` | array of patterns | `[]` | User-Agents refused |
//! | `allow` | array of patterns | `[]` | User-Agents never refused by `deny` (e.g. a partner's crawler that a broad `deny` pattern would catch) |
//! | `block_empty_ua` | bool | `false` | refuse requests without a `User-Agent`, or with an empty one |
//! | `message` | string | `"Access denied"` | the `detail` of the refusal |
//! | `status` | integer 400-599 | `403` | the status of the refusal |
//!
//! **Patterns.** A pattern matches a User-Agent that contains it, ignoring ASCII case:
//! `curl` matches `curl/8.5.0` and `Mozilla/5.0 (compatible; CURL)`. `*` stands for any
//! run of characters, none included: `python*requests` matches `python-requests/2.31`;
//! `*` alone matches every User-Agent. Every other character stands for itself (no regular
//! expressions, no escapes: a pattern cannot match a literal `*`, which User-Agents do not
//! contain). Since a pattern may match anywhere, `*` at either end changes nothing.
//!
//! The configuration is refused when a pattern is empty (it would match everything; write
//! `*` for that) and when `status` is outside 400-599.
//!
//! # Behaviour
//!
//! The User-Agent is the `User-Agent` field, each value separately when the request has
//! several field lines (it should not: the field is not a list). In this order:
//!
//! 1. no value, or only empty (or blank) ones: refused when `block_empty_ua`, otherwise the
//!    request goes on (patterns are not applied to an empty User-Agent);
//! 2. a value matches an `allow` pattern: the request goes on;
//! 3. a value matches a `deny` pattern: refused;
//! 4. otherwise the request goes on.
//!
//! **Refused**: an RFC 9457 problem `urn:barbacane:error:bot-denied` with the configured
//! `status` and `message` as its `detail`, the same whatever the reason.
//!
//! Capabilities: `request`, `response`.

use barbacane_plugin_sdk::prelude::*;
use serde::Deserialize;

/// The configuration of one use.
#[barbacane_middleware]
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BotDetection {
    #[serde(default)]
    deny: Vec<String>,
    #[serde(default)]
    allow: Vec<String>,
    #[serde(default)]
    block_empty_ua: bool,
    #[serde(default = "default_message")]
    message: String,
    #[serde(default = "default_status")]
    status: u16,
    /// Computed by `init`.
    #[serde(skip)]
    policy: Policy,
}

fn default_message() -> String {
    "Access denied".into()
}

fn default_status() -> u16 {
    403
}

/// The patterns, compiled.
#[derive(Debug, Default)]
struct Policy {
    deny: Vec<Pattern>,
    allow: Vec<Pattern>,
}

/// A pattern: the lowercase runs of characters between its `*`s, which must appear in this
/// order (none: it matches everything).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Pattern {
    parts: Vec<String>,
}

impl Pattern {
    fn new(pattern: &str) -> Pattern {
        Pattern {
            parts: pattern
                .split('*')
                .filter(|p| !p.is_empty())
                .map(str::to_ascii_lowercase)
                .collect(),
        }
    }

    /// Whether `lowercase` (an ASCII-lowercased User-Agent) matches. Taking each part at its
    /// first occurrence after the previous one is enough: a later occurrence would only
    /// leave less room for the parts that follow.
    fn matches(&self, lowercase: &str) -> bool {
        let mut rest = lowercase;
        for part in &self.parts {
            match rest.find(part.as_str()) {
                Some(at) => rest = &rest[at + part.len()..],
                None => return false,
            }
        }
        true
    }
}

/// Compiles a list of the configuration; errors name the list and the entry.
fn compile(name: &str, patterns: &[String]) -> Result<Vec<Pattern>, String> {
    patterns
        .iter()
        .enumerate()
        .map(|(i, pattern)| {
            if pattern.is_empty() {
                Err(format!(
                    "{name}[{i}] is empty, which would match every User-Agent; write `*` for that"
                ))
            } else {
                Ok(Pattern::new(pattern))
            }
        })
        .collect()
}

impl BotDetection {
    /// Whether a request with these `User-Agent` values is refused.
    fn refused(&self, values: &[String]) -> bool {
        let values: Vec<String> = values
            .iter()
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
            .map(str::to_ascii_lowercase)
            .collect();
        if values.is_empty() {
            return self.block_empty_ua;
        }
        let any =
            |patterns: &[Pattern]| values.iter().any(|v| patterns.iter().any(|p| p.matches(v)));
        !any(&self.policy.allow) && any(&self.policy.deny)
    }
}

impl Middleware for BotDetection {
    fn init(&mut self) -> Result<(), String> {
        if !(400..=599).contains(&self.status) {
            return Err(format!(
                "status {} is not an error status (400-599)",
                self.status
            ));
        }
        self.policy = Policy {
            deny: compile("deny", &self.deny)?,
            allow: compile("allow", &self.allow)?,
        };
        Ok(())
    }

    fn on_request(&mut self, request: &mut Request) -> Action {
        if !self.refused(&request.header_values("user-agent")) {
            return Action::Continue;
        }
        Action::Respond(OutgoingResponse::problem_with_detail(
            self.status,
            "bot-denied",
            "The client is not allowed",
            Some(&self.message),
        ))
    }
}

#[cfg(test)]
mod tests;
