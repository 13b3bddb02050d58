//! `redirect`: answers requests whose path matches a rule with a redirection (`301`, `302`,
//! `307` or `308` and a `Location`), so moved or renamed endpoints keep working for
//! clients that follow redirects.
//!
//! # Configuration
//!
//! | key | type | default | meaning |
//! |---|---|---|---|
//! | `status_code` | `301`, `302`, `307` or `308` | `302` | the status of rules that do not set their own |
//! | `preserve_query` | bool | `true` | append the request's query string to the `Location` |
//! | `rules` | array of rules, at least one | **required** | tried in order; the first that matches answers |
//!
//! A rule:
//!
//! | key | type | default | meaning |
//! |---|---|---|---|
//! | `path` | string starting with `/` | none | matches this path exactly |
//! | `prefix` | string starting with `/` | none | matches paths under this prefix (at a segment boundary) |
//! | `target` | string | **required** | where to send the client: a path (`/v2/users`) or an absolute URL (`https://new.example.com/users`) |
//! | `status_code` | `301`, `302`, `307` or `308` | the top-level `status_code` | this rule's status |
//!
//! A rule has `path`, `prefix` or neither (a catch-all, matching every request); not both.
//!
//! The configuration is refused when `rules` is empty, when a rule has both `path` and
//! `prefix`, when a `path` or `prefix` does not start with `/`, when a `target` is empty or
//! holds whitespace or control characters, and when a status is not one of `301`, `302`,
//! `307`, `308` (`303` included: it changes the method, which a gateway redirect should
//! not decide; `300` and `304` are not redirections of one request to one place).
//!
//! # Behaviour
//!
//! The rules are tried in order against the request's path as received (percent-encoded,
//! case-sensitive); the first match answers; when none matches, the request goes on
//! unchanged.
//!
//! - `path`: the path equals it (`/old` matches `/old`, neither `/old/` nor `/older`). The
//!   `Location` is the `target`.
//! - `prefix`: the path is the prefix or continues it with `/` (`/api/v1` matches `/api/v1`
//!   and `/api/v1/users`, not `/api/v1beta`; a trailing `/` of the prefix is ignored, and
//!   `/` matches every path). The rest of the path after the prefix is appended to the
//!   target's path: `prefix: /api/v1`, `target: /api/v2` sends `/api/v1/users` to
//!   `/api/v2/users` and `/api/v1` to `/api/v2` (a `/` ending the target and one starting the
//!   rest are merged into one).
//! - neither: every request; the `Location` is the `target`.
//!
//! With `preserve_query` (the default), the request's query string, when it has a non-empty
//! one, is appended as it was received: after `?`, or after `&` when the target already has
//! a query (`target: /search?v=2` and `?q=cats` give `/search?v=2&q=cats`). The appended
//! path and query go before a `#fragment` of the target.
//!
//! The answer has the rule's status, the `Location`, and an empty body. `301` and `302` let
//! clients retry a `POST` as a `GET` (most do); `307` and `308` keep the method and the body.
//! `301` and `308` are permanent: clients and caches may remember them.
//!
//! Capabilities: `request`, `response`.

use barbacane_plugin_sdk::prelude::*;
use serde::Deserialize;

/// The redirection statuses a rule may use.
const STATUSES: [u16; 4] = [301, 302, 307, 308];

/// The configuration of one use.
#[barbacane_middleware]
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Redirect {
    #[serde(default = "default_status")]
    status_code: u16,
    #[serde(default = "default_preserve_query")]
    preserve_query: bool,
    rules: Vec<RuleConfig>,
    /// Computed by `init`.
    #[serde(skip)]
    compiled: Vec<Rule>,
}

fn default_status() -> u16 {
    302
}

fn default_preserve_query() -> bool {
    true
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleConfig {
    #[serde(default)]
    path: Option<String>,
    #[serde(default)]
    prefix: Option<String>,
    target: String,
    #[serde(default)]
    status_code: Option<u16>,
}

/// What a rule matches.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Matcher {
    Exact(String),
    /// Without a trailing `/` (empty for `/`: every path).
    Prefix(String),
    Any,
}

/// A checked rule, its target split around where the path's rest and the query go.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Rule {
    matcher: Matcher,
    /// The target up to its query or fragment.
    base: String,
    /// The target's query, without `?` (`Some("")` for a bare `?`).
    query: Option<String>,
    /// The target's fragment, without `#`.
    fragment: Option<String>,
    status: u16,
}

fn check_status(place: &str, status: u16) -> Result<u16, String> {
    if STATUSES.contains(&status) {
        Ok(status)
    } else {
        Err(format!(
            "{place} {status} is not a redirection status this plugin sends (301, 302, 307 or 308)"
        ))
    }
}

fn check_path(place: &str, path: &str) -> Result<(), String> {
    if path.starts_with('/') {
        Ok(())
    } else {
        Err(format!("{place} `{path}` must start with `/`"))
    }
}

impl Rule {
    fn compile(i: usize, config: &RuleConfig, default_status: u16) -> Result<Rule, String> {
        let place = |key: &str| format!("rules[{i}].{key}");
        let matcher = match (&config.path, &config.prefix) {
            (Some(_), Some(_)) => {
                return Err(format!(
                    "rules[{i}] has both `path` and `prefix`: a rule matches one way (or neither, for every path)"
                ));
            }
            (Some(path), None) => {
                check_path(&place("path"), path)?;
                Matcher::Exact(path.clone())
            }
            (None, Some(prefix)) => {
                check_path(&place("prefix"), prefix)?;
                Matcher::Prefix(prefix.trim_end_matches('/').to_owned())
            }
            (None, None) => Matcher::Any,
        };
        let target = &config.target;
        if target.is_empty() {
            return Err(format!("{} is empty", place("target")));
        }
        if target.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(format!(
                "{} `{target}` holds whitespace or a control character, which a Location cannot hold",
                place("target")
            ));
        }
        let (rest, fragment) = match target.split_once('#') {
            Some((rest, fragment)) => (rest, Some(fragment.to_owned())),
            None => (target.as_str(), None),
        };
        let (base, query) = match rest.split_once('?') {
            Some((base, query)) => (base, Some(query.to_owned())),
            None => (rest, None),
        };
        let status = match config.status_code {
            Some(status) => check_status(&place("status_code"), status)?,
            None => default_status,
        };
        Ok(Rule {
            matcher,
            base: base.to_owned(),
            query,
            fragment,
            status,
        })
    }

    /// The part of `path` to append to the target, when the rule matches.
    fn matches<'p>(&self, path: &'p str) -> Option<&'p str> {
        match &self.matcher {
            Matcher::Exact(exact) => (path == exact).then_some(""),
            Matcher::Prefix(prefix) => path
                .strip_prefix(prefix.as_str())
                .filter(|rest| rest.is_empty() || rest.starts_with('/')),
            Matcher::Any => Some(""),
        }
    }

    /// The `Location` for a match leaving `rest` of the path, with the request's `query`.
    fn location(&self, rest: &str, query: Option<&str>) -> String {
        let mut out = self.base.clone();
        let rest = if out.ends_with('/') {
            rest.strip_prefix('/').unwrap_or(rest)
        } else {
            rest
        };
        out.push_str(rest);
        let query = match (self.query.as_deref(), query.filter(|q| !q.is_empty())) {
            (Some(own), Some(extra)) if !own.is_empty() => Some(format!("{own}&{extra}")),
            (_, Some(extra)) => Some(extra.to_owned()),
            (own, None) => own.map(str::to_owned),
        };
        if let Some(query) = query {
            out.push('?');
            out.push_str(&query);
        }
        if let Some(fragment) = &self.fragment {
            out.push('#');
            out.push_str(fragment);
        }
        out
    }
}

impl Middleware for Redirect {
    fn init(&mut self) -> Result<(), String> {
        let default_status = check_status("status_code", self.status_code)?;
        if self.rules.is_empty() {
            return Err("rules is empty: give at least one rule".into());
        }
        self.compiled = self
            .rules
            .iter()
            .enumerate()
            .map(|(i, rule)| Rule::compile(i, rule, default_status))
            .collect::<Result<_, _>>()?;
        Ok(())
    }

    fn on_request(&mut self, request: &mut Request) -> Action {
        let path = request.path();
        let Some((rule, rest)) = self
            .compiled
            .iter()
            .find_map(|rule| rule.matches(&path).map(|rest| (rule, rest)))
        else {
            return Action::Continue;
        };
        let query = if self.preserve_query {
            request.query()
        } else {
            None
        };
        let location = rule.location(rest, query.as_deref());
        Action::Respond(OutgoingResponse::new(rule.status).header("location", location))
    }
}

#[cfg(test)]
mod tests;
