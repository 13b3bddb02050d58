//! The page shell (skip link, navigation, sign-out form) and the small pieces pages share:
//! times, hashes, status badges, diagnostics, empty states. Everything interpolated is
//! escaped by `maud`.

use chrono::{DateTime, Utc};
use maud::{DOCTYPE, Markup, html};
use serde_json::Value;

use super::csrf;
use super::session::Session;
use crate::db::projects::Project;

/// A section of the top navigation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nav {
    /// Projects and everything inside one.
    Projects,
    /// Every data plane.
    Fleet,
    /// Findings and remediations.
    Drift,
    /// Proposals and decisions.
    Audit,
    /// Webhooks and deliveries.
    Webhooks,
}

fn head(title: &str) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width, initial-scale=1";
            meta name="referrer" content="no-referrer";
            // No favicon request (it would reach the API and be logged as unauthorized).
            link rel="icon" href="data:,";
            title { (title) " · Barbacane" }
            link rel="stylesheet" href="/ui/assets/app.css";
            script src="/ui/assets/app.js" defer {}
        }
    }
}

/// A page without navigation (sign-in, errors).
pub fn bare(title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            (head(title))
            body {
                a.skip href="#main" { "Skip to content" }
                header.top { a.brand href="/ui/" { "Barbacane" } }
                main #main tabindex="-1" { (body) }
            }
        }
    }
}

/// A page of a signed-in session.
pub fn page(title: &str, session: &Session, active: Nav, body: Markup) -> Markup {
    let item = |nav: Nav, href: &str, label: &str| {
        html! {
            li { a href=(href) aria-current=[(nav == active).then_some("page")] { (label) } }
        }
    };
    html! {
        (DOCTYPE)
        html lang="en" {
            (head(title))
            body {
                a.skip href="#main" { "Skip to content" }
                header.top {
                    a.brand href="/ui/" { "Barbacane" }
                    nav aria-label="Main" {
                        ul {
                            (item(Nav::Projects, "/ui/", "Projects"))
                            (item(Nav::Fleet, "/ui/fleet", "Fleet"))
                            (item(Nav::Drift, "/ui/drift", "Drift"))
                            (item(Nav::Audit, "/ui/drift/audit", "Audit"))
                            (item(Nav::Webhooks, "/ui/webhooks", "Webhooks"))
                        }
                    }
                    form.signout method="post" action="/ui/logout" {
                        (csrf::field(session))
                        button.link type="submit" { "Sign out" }
                    }
                }
                main #main tabindex="-1" { (body) }
            }
        }
    }
}

/// The tabs of a project's pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tab {
    /// Specs and compilations.
    Specs,
    /// Artifacts.
    Artifacts,
    /// The project's nodes.
    Fleet,
    /// Deployments.
    Deployments,
    /// API keys.
    Keys,
}

/// A project's heading and tabs.
pub fn project_header(project: &Project, active: Tab) -> Markup {
    let id = project.id;
    let tab = |t: Tab, href: String, label: &str| {
        html! { li { a href=(href) aria-current=[(t == active).then_some("page")] { (label) } } }
    };
    html! {
        p.crumbs { a href="/ui/" { "Projects" } " / " }
        h1 { (project.name) }
        nav.tabs aria-label="Project" {
            ul {
                (tab(Tab::Specs, format!("/ui/projects/{id}"), "Specs"))
                (tab(Tab::Artifacts, format!("/ui/projects/{id}/artifacts"), "Artifacts"))
                (tab(Tab::Fleet, format!("/ui/projects/{id}/fleet"), "Fleet"))
                (tab(Tab::Deployments, format!("/ui/projects/{id}/deployments"), "Deployments"))
                (tab(Tab::Keys, format!("/ui/projects/{id}/api-keys"), "API keys"))
            }
        }
    }
}

/// A time: UTC in the text and the `title`, turned into the viewer's zone by `app.js`.
pub fn time(at: DateTime<Utc>) -> Markup {
    let utc = at.format("%Y-%m-%d %H:%M:%S UTC").to_string();
    html! {
        time datetime=(at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)) title=(utc) { (utc) }
    }
}

/// An optional time (`never` when absent).
pub fn opt_time(at: Option<DateTime<Utc>>, none: &str) -> Markup {
    match at {
        Some(at) => time(at),
        None => html! { span.muted { (none) } },
    }
}

/// A hash, shortened, with the whole value in `title` and for copying.
pub fn hash(value: Option<&str>) -> Markup {
    match value {
        Some(h) => {
            let short: String = match h.strip_prefix("sha256:") {
                Some(hex) => format!("sha256:{}", hex.chars().take(12).collect::<String>()),
                None => h.chars().take(19).collect(),
            };
            html! { code.hash title=(h) { (short) } }
        }
        None => html! { span.muted { "none" } },
    }
}

/// A state shown as a badge; the colour comes from a fixed list, never from the value.
pub fn badge(value: &str) -> Markup {
    let tone = match value {
        "Synced" | "Healthy" | "online" | "succeeded" | "applied" | "approved" | "delivered"
        | "serving" | "resolved" | "active" => "good",
        "OutOfSync" | "Degraded" | "deploying" | "pending" | "running" | "proposed" | "invalid"
        | "ConfigurationDrift" | "open" | "warning" => "warn",
        "Unreachable" | "offline" | "failed" | "rejected" | "unreachable" | "revoked" | "error" => {
            "bad"
        }
        _ => "neutral",
    };
    html! { span class={ "badge " (tone) } { (value) } }
}

/// What to do when a list is empty.
pub fn empty(what: &str, next: Markup) -> Markup {
    html! {
        div.empty role="status" {
            p { strong { (what) } }
            p { (next) }
        }
    }
}

fn text<'a>(d: &'a Value, key: &str) -> &'a str {
    d.get(key).and_then(Value::as_str).unwrap_or("")
}

/// The compiler's diagnostics as a table: code, severity, file and JSON pointer (with line
/// and column when known), message and hint.
pub fn diagnostics(items: &[Value]) -> Markup {
    html! {
        div.scroll {
            table.diagnostics {
                caption { "Diagnostics" }
                thead { tr { th scope="col" { "Code" } th scope="col" { "Severity" } th scope="col" { "Where" } th scope="col" { "Message" } } }
                tbody {
                    @for d in items {
                        tr {
                            td { code { (text(d, "code")) } }
                            td { (badge(text(d, "severity"))) }
                            td {
                                code { (text(d, "file")) }
                                @if let Some(lc) = d.get("line_column").filter(|v| !v.is_null()) {
                                    ":" (lc.get(0).and_then(Value::as_u64).unwrap_or(0))
                                    ":" (lc.get(1).and_then(Value::as_u64).unwrap_or(0))
                                }
                                @let pointer = text(d, "json_pointer");
                                @if !pointer.is_empty() { br; code.pointer { "#" (pointer) } }
                            }
                            td {
                                (text(d, "message"))
                                @let hint = text(d, "hint");
                                @if !hint.is_empty() { br; span.muted { "Hint: " (hint) } }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Labels as `key=value` chips.
pub fn labels(value: &Value) -> Markup {
    html! {
        @if let Some(map) = value.as_object().filter(|m| !m.is_empty()) {
            ul.labels aria-label="Labels" {
                @for (k, v) in map {
                    li { code { (k) "=" (v.as_str().unwrap_or("")) } }
                }
            }
        } @else {
            span.muted { "none" }
        }
    }
}

fn strings(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

/// A dry run's `changes` (`{"routes": {added, removed, changed}, "plugins": {...}}`, or
/// `{"unknown": why}`) as a readable diff: one list per axis, `+`, `-` and `~` lines.
pub fn changes(changes: &Value) -> Markup {
    if let Some(why) = changes.get("unknown").and_then(Value::as_str) {
        return html! { p.warning { "What would change is not known: " (why) } };
    }
    let axis = |key: &str, title: &str| {
        let part = changes.get(key);
        let added = strings(part.and_then(|p| p.get("added")));
        let removed = strings(part.and_then(|p| p.get("removed")));
        let changed = strings(part.and_then(|p| p.get("changed")));
        html! {
            section aria-label=(title) {
                h4 { (title) ": " (added.len()) " added, " (removed.len()) " removed, " (changed.len()) " changed" }
                @if added.is_empty() && removed.is_empty() && changed.is_empty() {
                    p.muted { "No change." }
                } @else {
                    ul {
                        @for a in &added { li.added { span aria-hidden="true" { "+ " } span.sr { "added " } (a) } }
                        @for r in &removed { li.removed { span aria-hidden="true" { "- " } span.sr { "removed " } (r) } }
                        @for c in &changed { li.changed { span aria-hidden="true" { "~ " } span.sr { "changed " } (c) } }
                    }
                }
            }
        }
    };
    html! {
        div.diff {
            (axis("routes", "Routes"))
            (axis("plugins", "Plugins"))
        }
    }
}
