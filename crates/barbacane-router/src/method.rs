//! HTTP methods and small sets of them.

use std::fmt;

/// HTTP methods OpenAPI operations can have.
///
/// The declaration order (and so `Ord` and [`Method::ALL`]) puts `HEAD` right after `GET`
/// so that an `Allow` header reads `GET, HEAD, POST`.
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
}

impl Method {
    /// Every method, in declaration order.
    pub const ALL: [Method; 8] = [
        Method::Get,
        Method::Head,
        Method::Put,
        Method::Post,
        Method::Delete,
        Method::Options,
        Method::Patch,
        Method::Trace,
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
        }
    }

    /// Parses a request method; method names are case-sensitive (RFC 9110 §9.1), so only the
    /// uppercase spelling is recognised.
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
            _ => return None,
        })
    }

    /// Parses an operation key of an OpenAPI path item (`get`, `put`, ...). Other keys of a
    /// path item (`parameters`, `summary`, `x-...`) give `None`.
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
            _ => return None,
        })
    }

    /// Position of the method in [`Method::ALL`], used as a bit and table index.
    pub(crate) fn index(self) -> usize {
        self as usize
    }

    fn bit(self) -> u16 {
        1 << (self as u16)
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Small bitset of methods.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MethodSet(u16);

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
            let key = m.as_str().to_ascii_lowercase();
            assert_eq!(Method::from_openapi_key(&key), Some(m));
            assert_eq!(m.to_string(), m.as_str());
        }
        assert_eq!(Method::from_bytes(b"get"), None);
        assert_eq!(Method::from_bytes(b"CONNECT"), None);
        assert_eq!(Method::from_bytes(b""), None);
        assert_eq!(Method::from_openapi_key("GET"), None);
        assert_eq!(Method::from_openapi_key("parameters"), None);
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
            "GET, HEAD, PUT, POST, DELETE, OPTIONS, PATCH, TRACE"
        );
    }
}
