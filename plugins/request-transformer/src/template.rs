//! Values with variables: parsed once by `init`, resolved against the request as it arrived.

use std::cell::OnceCell;

use barbacane_plugin_sdk::prelude::*;

use crate::query;

/// A configured value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Template {
    /// `context:<key>`, the whole value: a request context value.
    Context(String),
    /// Text with embedded `$` variables.
    Pieces(Vec<Piece>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Piece {
    Text(String),
    Var(Var),
}

/// A `$` variable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Var {
    ClientIp,
    /// Lowercase name.
    Header(String),
    Query(String),
    Path(String),
    Cookie(String),
}

/// The length of a variable's name at the start of `s`: ASCII letters, digits, `-`, `_` and
/// `.`, trailing dots excluded.
fn name_len(s: &str) -> usize {
    let run = s
        .bytes()
        .take_while(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        .count();
    s.get(..run).unwrap_or_default().trim_end_matches('.').len()
}

/// The variable at the start of `s` (just after a `$`) and the bytes it spans.
fn variable(s: &str) -> Option<(Var, usize)> {
    const CLIENT_IP: &str = "client_ip";
    if let Some(rest) = s.strip_prefix(CLIENT_IP) {
        let longer = rest
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_');
        return (!longer).then_some((Var::ClientIp, CLIENT_IP.len()));
    }
    type Make = fn(&str) -> Var;
    let kinds: [(&str, Make); 4] = [
        ("header.", |n| Var::Header(n.to_ascii_lowercase())),
        ("query.", |n| Var::Query(n.to_owned())),
        ("path.", |n| Var::Path(n.to_owned())),
        ("cookie.", |n| Var::Cookie(n.to_owned())),
    ];
    for (prefix, make) in kinds {
        if let Some(rest) = s.strip_prefix(prefix) {
            let len = name_len(rest);
            let name = rest.get(..len).filter(|n| !n.is_empty())?;
            return Some((make(name), prefix.len() + len));
        }
    }
    None
}

impl Template {
    pub(crate) fn parse(value: &str) -> Template {
        if let Some(key) = value.strip_prefix("context:")
            && !key.is_empty()
        {
            return Template::Context(key.to_owned());
        }
        let mut pieces = Vec::new();
        let mut text = String::new();
        let mut rest = value;
        while let Some(at) = rest.find('$') {
            text.push_str(rest.get(..at).unwrap_or_default());
            let after = rest.get(at + 1..).unwrap_or_default();
            match variable(after) {
                Some((var, len)) => {
                    if !text.is_empty() {
                        pieces.push(Piece::Text(std::mem::take(&mut text)));
                    }
                    pieces.push(Piece::Var(var));
                    rest = after.get(len..).unwrap_or_default();
                }
                None => {
                    text.push('$');
                    rest = after;
                }
            }
        }
        text.push_str(rest);
        if !text.is_empty() {
            pieces.push(Piece::Text(text));
        }
        Template::Pieces(pieces)
    }
}

/// Reads variables from the request. Built before the plugin changes anything, and dropped
/// before it does.
#[derive(Debug)]
pub(crate) struct Snapshot<'r> {
    request: &'r Request,
    /// The query string's pairs, read at the first `$query` variable.
    query: OnceCell<query::Pairs>,
}

impl<'r> Snapshot<'r> {
    pub(crate) fn new(request: &'r Request) -> Snapshot<'r> {
        Snapshot {
            request,
            query: OnceCell::new(),
        }
    }

    /// The value, and whether a variable in it resolved to the empty string.
    pub(crate) fn resolve(&self, template: &Template) -> (String, bool) {
        match template {
            Template::Context(key) => {
                let value = context::get(key).unwrap_or_default();
                let empty = value.is_empty();
                (value, empty)
            }
            Template::Pieces(pieces) => {
                let mut out = String::new();
                let mut empty = false;
                for piece in pieces {
                    match piece {
                        Piece::Text(text) => out.push_str(text),
                        Piece::Var(var) => {
                            let value = self.variable(var);
                            empty |= value.is_empty();
                            out.push_str(&value);
                        }
                    }
                }
                (out, empty)
            }
        }
    }

    fn variable(&self, var: &Var) -> String {
        match var {
            Var::ClientIp => self.request.client_ip(),
            Var::Header(name) => self.request.header(name),
            Var::Query(name) => self
                .query
                .get_or_init(|| query::Pairs::parse(&self.request.query().unwrap_or_default()))
                .first_value(name),
            Var::Path(name) => self.request.path_param(name),
            Var::Cookie(name) => cookie(&self.request.header_values("cookie"), name),
        }
        .unwrap_or_default()
    }
}

/// The value of cookie `name` in `Cookie` field lines (`a=1; b=2`), as sent.
pub(crate) fn cookie(lines: &[String], name: &str) -> Option<String> {
    lines
        .iter()
        .flat_map(|line| line.split(';'))
        .filter_map(|pair| pair.split_once('='))
        .find(|(n, _)| n.trim() == name)
        .map(|(_, v)| v.trim().to_owned())
}
