//! What the bearer-JWT middlewares share (`jwt-auth`, `oidc-auth`): reading the token
//! (RFC 6750), decoding a compact JWS (RFC 7515) and refusing the algorithms that must never
//! be accepted, public keys as JWKs (RFC 7517, 7518, 8037), fetching and refreshing a JWK
//! Set, checking the signature through the gateway's `crypto` capability, the registered
//! claims (RFC 7519) with clock skew, scopes, and the answers and context values of an
//! accepted or refused request.
//!
//! A library, not a plugin: each plugin keeps its configuration, where its keys come from,
//! and its documentation; the rules written here are the same for both, so a token one
//! accepts the other accepts too, given the same keys and claims rules.

pub mod answer;
pub mod claims;
pub mod fetch;
pub mod keys;
pub mod keyset;
pub mod token;

#[cfg(feature = "testing")]
pub mod testing;

pub use answer::{Identity, Refusal};
pub use claims::ClaimRules;
pub use keys::{Alg, Key, KeyType};
pub use keyset::KeySet;
pub use token::Jws;
