//! HTTP methods and small sets of them.

use std::fmt;

/// HTTP methods OpenAPI operations can have.
///
/// The nine methods of OpenAPI 3.2 path items (`get` ... `trace`, and `query`), then a fixed
/// set of registered extension methods that OpenAPI 3.2 `additionalOperations` may use
/// (WebDAV and friends: `COPY`, `LINK`, `PURGE`, ...). Other method names are not routable.
///
/// The declaration order (and so `Ord` and [`Method::ALL`]) puts `HEAD` right after `GET`
/// so that an `Allow` header reads `GET, HEAD, POST`; extension methods come last, in
/// alphabetical order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Method {
    /// `GET`
    Get,
    /// `HEAD`
    Head,
    /// `PUT`
    Put,
    /// `POST`
    Post,
    /// `DELETE`
    Delete,
    /// `OPTIONS`
    Options,
    /// `PATCH`
    Patch,
    /// `TRACE`
    Trace,
    /// `QUERY` (safe, idempotent, with a body; OpenAPI 3.2 path item key `query`)
    Query,
    /// `COPY` (WebDAV, RFC 4918)
    Copy,
    /// `LINK` (RFC 2068)
    Link,
    /// `LOCK` (WebDAV, RFC 4918)
    Lock,
    /// `MKCOL` (WebDAV, RFC 4918)
    Mkcol,
    /// `MOVE` (WebDAV, RFC 4918)
    Move,
    /// `PROPFIND` (WebDAV, RFC 4918)
    Propfind,
    /// `PROPPATCH` (WebDAV, RFC 4918)
    Proppatch,
    /// `PURGE` (cache invalidation, as in Varnish and Squid)
    Purge,
    /// `REPORT` (WebDAV versioning, RFC 3253)
    Report,
    /// `SEARCH` (WebDAV search, RFC 5323)
    Search,
    /// `UNLINK` (RFC 2068)
    Unlink,
    /// `UNLOCK` (WebDAV, RFC 4918)
    Unlock,
}

impl Method {
    /// Every method, in declaration order.
    pub const ALL: [Method; 21] = [
        Method::Get,
        Method::Head,
        Method::Put,
        Method::Post,
        Method::Delete,
        Method::Options,
        Method::Patch,
        Method::Trace,
        Method::Query,
        Method::Copy,
        Method::Link,
        Method::Lock,
        Method::Mkcol,
        Method::Move,
        Method::Propfind,
        Method::Proppatch,
        Method::Purge,
        Method::Report,
        Method::Search,
        Method::Unlink,
        Method::Unlock,
    ];

    /// The method as it appears on the wire, e.g. `"GET"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Head => "HEAD",
            Method::Put => "PUT",
            Method::Post => "POST",
            Method::Delete => "DELETE",
            Method::Options => "OPTIONS",
            Method::Patch => "PATCH",
            Method::Trace => "TRACE",
            Method::Query => "QUERY",
            Method::Copy => "COPY",
            Method::Link => "LINK",
            Method::Lock => "LOCK",
            Method::Mkcol => "MKCOL",
            Method::Move => "MOVE",
            Method::Propfind => "PROPFIND",
            Method::Proppatch => "PROPPATCH",
            Method::Purge => "PURGE",
            Method::Report => "REPORT",
            Method::Search => "SEARCH",
            Method::Unlink => "UNLINK",
            Method::Unlock => "UNLOCK",
        }
    }

    /// Parses a request method; method names are case-sensitive (RFC 9110 §9.1), so only the
    /// uppercase spelling is recognised. Methods outside [`Method::ALL`] give `None`.
    pub fn from_bytes(b: &[u8]) -> Option<Method> {
        Some(match b {
            b"GET" => Method::Get,
            b"HEAD" => Method::Head,
            b"PUT" => Method::Put,
            b"POST" => Method::Post,
            b"DELETE" => Method::Delete,
            b"OPTIONS" => Method::Options,
            b"PATCH" => Method::Patch,
            b"TRACE" => Method::Trace,
            b"QUERY" => Method::Query,
            b"COPY" => Method::Copy,
            b"LINK" => Method::Link,
            b"LOCK" => Method::Lock,
            b"MKCOL" => Method::Mkcol,
            b"MOVE" => Method::Move,
            b"PROPFIND" => Method::Propfind,
            b"PROPPATCH" => Method::Proppatch,
            b"PURGE" => Method::Purge,
            b"REPORT" => Method::Report,
            b"SEARCH" => Method::Search,
            b"UNLINK" => Method::Unlink,
            b"UNLOCK" => Method::Unlock,
            _ => return None,
        })
    }

    /// Parses an upper-case method token, as used for the keys of an OpenAPI 3.2
    /// `additionalOperations` map (`"LINK"`, `"PURGE"`) or on the wire. Case-sensitive like
    /// [`Method::from_bytes`]; methods outside [`Method::ALL`] give `None`.
    pub fn from_token(token: &str) -> Option<Method> {
        Method::from_bytes(token.as_bytes())
    }

    /// Parses an operation key of an OpenAPI path item (`get`, `put`, ..., `query`). Other
    /// keys of a path item (`parameters`, `summary`, `additionalOperations`, `x-...`) give
    /// `None`; so do the extension methods, which a path item can only declare under
    /// `additionalOperations` (see [`Method::from_token`]).
    pub fn from_openapi_key(k: &str) -> Option<Method> {
        Some(match k {
            "get" => Method::Get,
            "head" => Method::Head,
            "put" => Method::Put,
            "post" => Method::Post,
            "delete" => Method::Delete,
            "options" => Method::Options,
            "patch" => Method::Patch,
            "trace" => Method::Trace,
            "query" => Method::Query,
            _ => return None,
        })
    }

    /// Whether the method is one of the fixed path-item keys (`get` ... `trace`, `query`)
    /// rather than an extension method declared under `additionalOperations`.
    pub fn is_path_item_key(self) -> bool {
        self <= Method::Query
    }

    /// Position of the method in [`Method::ALL`], used as a bit and table index.
    pub(crate) fn index(self) -> usize {
        self as usize
    }

    fn bit(self) -> u32 {
        1 << (self as u32)
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Small bitset of methods.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MethodSet(u32);

impl MethodSet {
    /// The empty set.
    pub const fn new() -> Self {
        MethodSet(0)
    }

    /// Whether `m` is in the set.
    pub fn contains(self, m: Method) -> bool {
        self.0 & m.bit() != 0
    }

    /// Adds `m` to the set.
    pub fn insert(&mut self, m: Method) {
        self.0 |= m.bit();
    }

    /// Whether the set has no method.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Number of methods in the set.
    pub fn len(self) -> usize {
        self.0.count_ones() as usize
    }

    /// The methods in the set, in the order of [`Method::ALL`].
    pub fn iter(self) -> impl Iterator<Item = Method> {
        Method::ALL.into_iter().filter(move |m| self.contains(*m))
    }

    /// The value for an `Allow` header, e.g. `"GET, HEAD, POST"`.
    ///
    /// `HEAD` is included whenever `GET` is, because the router answers `HEAD` with the `GET`
    /// route. Methods come in the order of [`Method::ALL`].
    pub fn allow_header(self) -> String {
        let mut out = String::new();
        for m in self.with_implied_head().iter() {
            if !out.is_empty() {
                out.push_str(", ");
            }
            out.push_str(m.as_str());
        }
        out
    }

    /// The set plus `HEAD` when it has `GET`.
    pub(crate) fn with_implied_head(mut self) -> Self {
        if self.contains(Method::Get) {
            self.insert(Method::Head);
        }
        self
    }
}

impl FromIterator<Method> for MethodSet {
    fn from_iter<I: IntoIterator<Item = Method>>(iter: I) -> Self {
        let mut set = MethodSet::new();
        for m in iter {
            set.insert(m);
        }
        set
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for m in Method::ALL {
            assert_eq!(Method::from_bytes(m.as_str().as_bytes()), Some(m));
            assert_eq!(Method::from_token(m.as_str()), Some(m));
            assert_eq!(Method::from_token(&m.as_str().to_ascii_lowercase()), None);
            let key = m.as_str().to_ascii_lowercase();
            let from_key = Method::from_openapi_key(&key);
            assert_eq!(from_key, m.is_path_item_key().then_some(m), "{m}");
            assert_eq!(m.to_string(), m.as_str());
        }
        assert_eq!(Method::from_bytes(b"get"), None);
        assert_eq!(Method::from_bytes(b"CONNECT"), None);
        assert_eq!(Method::from_bytes(b""), None);
        assert_eq!(Method::from_token("CONNECT"), None);
        assert_eq!(Method::from_token("Link"), None);
        assert_eq!(Method::from_openapi_key("GET"), None);
        assert_eq!(Method::from_openapi_key("parameters"), None);
        assert_eq!(Method::from_openapi_key("additionalOperations"), None);
        assert_eq!(Method::from_openapi_key("query"), Some(Method::Query));
        assert_eq!(Method::from_openapi_key("link"), None);
        assert_eq!(Method::from_token("QUERY"), Some(Method::Query));
        assert_eq!(Method::from_token("PURGE"), Some(Method::Purge));
        let keys = Method::ALL.iter().filter(|m| m.is_path_item_key()).count();
        assert_eq!(keys, 9);
    }

    #[test]
    fn all_is_in_declaration_order() {
        for (i, m) in Method::ALL.into_iter().enumerate() {
            assert_eq!(m.index(), i);
        }
        let mut sorted = Method::ALL;
        sorted.sort();
        assert_eq!(sorted, Method::ALL);
    }

    #[test]
    fn set_operations() {
        let mut s = MethodSet::default();
        assert!(s.is_empty());
        s.insert(Method::Post);
        s.insert(Method::Get);
        s.insert(Method::Get);
        assert!(s.contains(Method::Get));
        assert!(!s.contains(Method::Head));
        assert_eq!(s.len(), 2);
        assert_eq!(s.iter().collect::<Vec<_>>(), [Method::Get, Method::Post]);
        let t: MethodSet = [Method::Post, Method::Get].into_iter().collect();
        assert_eq!(s, t);
    }

    #[test]
    fn allow_header_adds_head_for_get() {
        let s: MethodSet = [Method::Post, Method::Get].into_iter().collect();
        assert_eq!(s.allow_header(), "GET, HEAD, POST");
        let s: MethodSet = [Method::Delete, Method::Put].into_iter().collect();
        assert_eq!(s.allow_header(), "PUT, DELETE");
        assert_eq!(MethodSet::new().allow_header(), "");
        let all: MethodSet = Method::ALL.into_iter().collect();
        assert_eq!(
            all.allow_header(),
            "GET, HEAD, PUT, POST, DELETE, OPTIONS, PATCH, TRACE, QUERY, COPY, LINK, LOCK, \
             MKCOL, MOVE, PROPFIND, PROPPATCH, PURGE, REPORT, SEARCH, UNLINK, UNLOCK"
        );
        assert_eq!(all.len(), Method::ALL.len());
        let s: MethodSet = [Method::Unlock, Method::Query, Method::Purge]
            .into_iter()
            .collect();
        assert_eq!(s.allow_header(), "QUERY, PURGE, UNLOCK");
        assert!(s.contains(Method::Unlock));
        assert!(!s.contains(Method::Unlink));
    }
}
