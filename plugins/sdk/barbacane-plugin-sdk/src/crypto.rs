//! Cryptography at native speed (`crypto` capability): the gateway checks signatures, MACs
//! and digests with its own native code, so an auth plugin never runs public-key math
//! inside WebAssembly.
//!
//! ```
//! use barbacane_plugin_sdk::crypto;
//! # let mut host = barbacane_plugin_sdk::testing::FakeHost::new();
//! # host.crypto_verifier(|alg, _jwk, msg, sig| Ok(alg == "EdDSA" && msg == b"h.p" && sig == b"ok"));
//! let jwk = r#"{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}"#;
//! assert_eq!(crypto::verify("EdDSA", jwk, b"h.p", b"ok"), Ok(true));
//! assert!(crypto::constant_time_eq(b"same", b"same"));
//! assert_eq!(crypto::sha256(b"").len(), 32);
//! ```

use crate::host;

/// Whether `sig` is a valid signature of `msg` by the public JSON Web Key `jwk` under the
/// JOSE algorithm `alg` (`RS256`/`384`/`512`, `PS256`/`384`/`512`, `ES256`/`384` with JOSE
/// `r || s` signatures, `EdDSA`). `Err` with the host's reason when it cannot be checked at
/// all (unsupported algorithm, a key of another type than the algorithm's, `none`): treat
/// that as a rejection too.
pub fn verify(alg: &str, jwk: &str, msg: &[u8], sig: &[u8]) -> Result<bool, String> {
    host::crypto_verify(alg, jwk.as_bytes(), msg, sig)
}

/// The HMAC of `msg` under `key` with `HS256`, `HS384` or `HS512`; `None` for another
/// algorithm.
pub fn hmac(alg: &str, key: &[u8], msg: &[u8]) -> Option<Vec<u8>> {
    host::crypto_hmac(alg, key, msg)
}

/// SHA-256 of `bytes`.
pub fn sha256(bytes: &[u8]) -> [u8; 32] {
    host::crypto_sha256(bytes)
}

/// Whether `a` and `b` are equal, compared in time that does not depend on where they
/// differ (lengths are not secret: different lengths are unequal at once).
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    host::crypto_constant_time_eq(a, b)
}

/// Whether `password` matches the bcrypt hash `hash` (`$2a$`, `$2b$`, `$2x$`, `$2y$`, cost at
/// most 16), checked natively by the gateway; the check's time (bcrypt is slow on purpose)
/// does not count against the plugin's time budget. `Err` with the host's reason when `hash`
/// is not such a hash.
pub fn bcrypt_verify(password: &[u8], hash: &str) -> Result<bool, String> {
    host::crypto_bcrypt_verify(password, hash.as_bytes())
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_fake_host_hmac_matches_rfc4231() {
        let _host = crate::testing::FakeHost::new();
        let tag = super::hmac("HS256", b"Jefe", b"what do ya want for nothing?").unwrap();
        let hex: String = tag.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            hex,
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert!(super::hmac("HS999", b"k", b"m").is_none());
        assert!(super::verify("RS256", "{}", b"m", b"s").is_err());
    }
}
