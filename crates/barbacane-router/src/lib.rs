//! Path and method matching for Barbacane.
//!
//! This crate is the only implementation of route semantics in the gateway: the compiler
//! registers every operation with a [`RouterBuilder`] to find invalid templates and
//! conflicts at build time, and the data plane uses the resulting [`Router`] for lookup.
//!
//! A request is routed in two steps:
//! 1. [`normalize_path`] turns the raw path into decoded segments (or refuses it);
//! 2. [`Router::lookup`] (given `&[&str]`, e.g. from [`NormalizedPath::as_strs`]) or
//!    [`Router::lookup_normalized`] (given the path itself, slightly faster) matches them
//!    and the method against the route trie, giving [`Lookup::Found`],
//!    [`Lookup::MethodNotAllowed`] (405, with the `Allow` set) or [`Lookup::NotFound`].
//!
//! Matching rules are documented on [`Router`], template syntax on [`Template`] and
//! normalization rules on [`normalize_path`]. In short, templates have up to
//! [`MAX_PARAMS`] parameters, which may share a segment with literals (`{name}.{ext}`) or
//! with each other (`{id}{ext}`, `{id}{.format}`: later ones split off at the last `.`),
//! and may end with a greedy parameter (`{path+}`) matching one or more segments; static
//! segments beat mixed ones, which beat full parameters, which beat greedy ones. Methods
//! are the OpenAPI 3.2 path-item ones (with `QUERY`) plus a fixed set of extension methods
//! for `additionalOperations` ([`Method`]).
//!
//! Nothing here panics on any input, and lookup does not allocate, except for the value of
//! a greedy parameter spanning several segments that cannot be borrowed from the path.
//!
//! ```
//! use barbacane_router::{Lookup, Method, RouterBuilder, normalize_path};
//!
//! let mut builder = RouterBuilder::new();
//! builder.insert("/users/{id}", Method::Get, "get-user").unwrap();
//! builder.insert("/users/me", Method::Get, "get-me").unwrap();
//! let router = builder.build();
//!
//! let path = normalize_path("/users//42/").unwrap();
//! match router.lookup(Method::Get, &path.as_strs()) {
//!     Lookup::Found(m) => {
//!         assert_eq!(*m.value, "get-user");
//!         assert_eq!(m.template, "/users/{id}");
//!         assert_eq!(m.params.get("id"), Some("42"));
//!     }
//!     _ => unreachable!(),
//! }
//! ```

#![deny(missing_docs)]
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::todo,
        clippy::unimplemented
    )
)]

mod encoding;
mod method;
mod node;
mod normalize;
mod params;
mod pattern;
mod statics;
mod template;
mod tree;

pub use method::{Method, MethodSet};
pub use normalize::{MAX_SEGMENTS, NormalizedPath, PathError, SegmentRefs, normalize_path};
pub use params::{MAX_PARAMS, Params};
pub use template::{Template, TemplateError};
pub use tree::{InsertError, Lookup, Match, Router, RouterBuilder};
