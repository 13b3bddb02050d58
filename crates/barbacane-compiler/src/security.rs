//! E1032: an operation's OpenAPI `security` requirement must be enforceable by its chain.
//!
//! The spec says who may call an operation; the middleware chain is what checks it. When the
//! two disagree the gateway would serve a "protected" operation to anyone, so it is a compile
//! error. `security` follows OpenAPI: the operation's list replaces the root's, `[]` (or a
//! list holding `{}`) makes the operation public, the list is a choice (any one requirement
//! may be met) and a requirement needs all of its schemes. A scheme is satisfiable by:
//!
//! | scheme | middlewares |
//! |---|---|
//! | `http` `bearer` | `jwt-auth`, `oidc-auth`, `oauth2-auth` |
//! | `http` `basic` | `basic-auth` |
//! | `apiKey` | `apikey-auth` |
//! | `oauth2`, `openIdConnect` | `oidc-auth`, `oauth2-auth`, `jwt-auth` |
//! | `mutualTLS` | the TLS listener (`serve --tls-client-ca`), not checked here |
//!
//! Other `http` schemes and schemes given by `$ref` are not judged. A chain holding a plugin
//! declared in `barbacane.yaml` (the project's own, which may authenticate) is trusted.

use barbacane_artifact::PluginUse;
use barbacane_spec::{Code, Diagnostic, Extension};
use std::collections::BTreeMap;

/// Official middlewares able to satisfy a scheme kind; `None`: not judged here.
fn satisfiers(kind: &str) -> Option<&'static [&'static str]> {
    match kind {
        "http:bearer" => Some(&["jwt-auth", "oidc-auth", "oauth2-auth"]),
        "http:basic" => Some(&["basic-auth"]),
        "apiKey" => Some(&["apikey-auth"]),
        "oauth2" | "openIdConnect" => Some(&["oidc-auth", "oauth2-auth", "jwt-auth"]),
        _ => None,
    }
}

/// Pushes E1032 when no requirement of `security` (the operation's, else the root's) can be
/// met by `chain`, unless `allow_unenforced` (or W1006 when `opted_out`: the operation's own
/// `x-barbacane-middlewares` is `[]`); returns whether the requirement is unmet. `site` is
/// the operation's file and pointer, and `opted_out`.
pub(crate) fn check(
    op_security: Option<&Extension>,
    root_security: Option<&Extension>,
    schemes: &BTreeMap<String, String>,
    chain: &[PluginUse],
    known: &crate::extensions::Known<'_>,
    (file, pointer, opted_out): (&str, &str, bool),
    diags: &mut Vec<Diagnostic>,
) -> bool {
    let Some(ext) = op_security.or(root_security) else {
        return false;
    };
    let Some(requirements) = ext.value.as_array() else {
        return false;
    };
    let custom = |name: &str| known.manifest_plugins.contains_key(name);
    if requirements.is_empty() || chain.iter().any(|u| custom(&u.name)) {
        return false;
    }
    let names: Vec<&str> = chain.iter().map(|u| u.name.as_str()).collect();
    let met = |requirement: &serde_json::Value| {
        requirement.as_object().is_none_or(|schemes_of| {
            schemes_of.keys().all(|scheme| {
                match schemes.get(scheme).map(String::as_str).and_then(satisfiers) {
                    // Unknown or unjudged schemes are not this check's business.
                    None => true,
                    Some(plugins) => plugins.iter().any(|p| names.contains(p)),
                }
            })
        })
    };
    if requirements.iter().any(met) {
        return false;
    }
    if known.allow_unenforced_security {
        return true;
    }
    if opted_out {
        // An operation that declares `x-barbacane-middlewares: []` itself says, at the
        // operation, that nothing runs before its dispatcher: specs written for the earlier
        // implementation use this for public operations under a root `security`. Served
        // without authentication, so it is said loudly, but it is not refused.
        diags.push(Diagnostic::warning(
            Code::W1006,
            file,
            pointer,
            "the operation takes every middleware off (`x-barbacane-middlewares: []`) while a \
             `security` requirement applies to it: it is served without authentication",
            "add `security: []` to the operation to say it is public, or give it the auth \
             middleware",
        ));
        return false;
    }
    let wanted: Vec<String> = requirements
        .iter()
        .filter_map(serde_json::Value::as_object)
        .flat_map(|r| r.keys())
        .map(|scheme| {
            let kind = schemes.get(scheme).map_or("undeclared", String::as_str);
            let by = satisfiers(kind).map_or_else(String::new, |p| format!(": {}", p.join(", ")));
            format!("`{scheme}` ({kind}{by})")
        })
        .collect();
    let at = if op_security.is_some() {
        ext.pointer.clone()
    } else {
        pointer.to_owned()
    };
    let file = if op_security.is_some() {
        ext.file.as_str()
    } else {
        file
    };
    diags.push(Diagnostic::error(
        Code::E1032,
        file,
        at,
        format!(
            "the operation requires {} but no middleware of its chain can check it",
            wanted.join(" or ")
        ),
        "add the auth middleware to `x-barbacane-middlewares`, `security: []` to make the operation \
         public, or compile with --allow-unenforced-security when the upstream authenticates",
    ));
    true
}
