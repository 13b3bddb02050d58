//! Test support for the plugins that use this library (feature `testing`, for their
//! dev-dependencies only): the gateway's `crypto.verify` done for real with ring, natively,
//! for the SDK's fake host, and signers that make real tokens.
//!
//! Test code: it panics on what it does not expect.
#![allow(clippy::unwrap_used, missing_docs, missing_debug_implementations)]

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ring::rand::SystemRandom;
use ring::signature::{self, EcdsaKeyPair, Ed25519KeyPair, KeyPair, RsaKeyPair};
use serde_json::{Value, json};

fn b64u(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

// --- the gateway's `crypto.verify`, for real, natively -------------------------------

/// Verifies `sig` over `msg` with the public JWK `jwk` under `alg`, with ring, as the
/// gateway does: `Err` when the key cannot be used for `alg` at all.
pub fn ring_verify(alg: &str, jwk: &[u8], msg: &[u8], sig: &[u8]) -> Result<bool, String> {
    let jwk: Value = serde_json::from_slice(jwk).map_err(|e| format!("not a JWK: {e}"))?;
    let member = |name: &str| -> Result<Vec<u8>, String> {
        let text = jwk[name].as_str().ok_or_else(|| format!("no `{name}`"))?;
        URL_SAFE_NO_PAD
            .decode(text)
            .map_err(|_| format!("`{name}` is not base64url"))
    };
    let kty = jwk["kty"].as_str().unwrap_or_default();
    let crv = jwk["crv"].as_str().unwrap_or_default();
    let unparsed = |algorithm: &'static dyn signature::VerificationAlgorithm, key: Vec<u8>| {
        Ok(signature::UnparsedPublicKey::new(algorithm, key)
            .verify(msg, sig)
            .is_ok())
    };
    let ec_point = || -> Result<Vec<u8>, String> {
        let mut point = vec![4u8];
        point.extend(member("x")?);
        point.extend(member("y")?);
        Ok(point)
    };
    match (alg, kty, crv) {
        ("RS256" | "RS384" | "RS512" | "PS256" | "PS384" | "PS512", "RSA", _) => {
            let params: &signature::RsaParameters = match alg {
                "RS256" => &signature::RSA_PKCS1_2048_8192_SHA256,
                "RS384" => &signature::RSA_PKCS1_2048_8192_SHA384,
                "RS512" => &signature::RSA_PKCS1_2048_8192_SHA512,
                "PS256" => &signature::RSA_PSS_2048_8192_SHA256,
                "PS384" => &signature::RSA_PSS_2048_8192_SHA384,
                _ => &signature::RSA_PSS_2048_8192_SHA512,
            };
            let key = signature::RsaPublicKeyComponents {
                n: member("n")?,
                e: member("e")?,
            };
            Ok(key.verify(params, msg, sig).is_ok())
        }
        ("ES256", "EC", "P-256") => unparsed(&signature::ECDSA_P256_SHA256_FIXED, ec_point()?),
        ("ES384", "EC", "P-384") => unparsed(&signature::ECDSA_P384_SHA384_FIXED, ec_point()?),
        ("EdDSA", "OKP", "Ed25519") => unparsed(&signature::ED25519, member("x")?),
        _ => Err(format!("{alg} cannot be checked with a {kty} {crv} key")),
    }
}

// --- signing keys ----------------------------------------------------------------------

/// Signs a JWS signing input.
pub type Sign = Box<dyn Fn(&[u8]) -> Vec<u8>>;

/// A private key that signs tokens, with its public JWK.
pub struct Signer {
    /// The JOSE algorithm.
    pub alg: &'static str,
    /// The public JWK, without `kid`.
    pub jwk: Value,
    /// Signs a signing input.
    pub sign: Sign,
}

pub fn der(base64: &str) -> Vec<u8> {
    STANDARD.decode(base64).unwrap()
}

impl Signer {
    pub fn from_ed25519(pair: Ed25519KeyPair) -> Signer {
        Signer {
            alg: "EdDSA",
            jwk: json!({"kty": "OKP", "crv": "Ed25519", "x": b64u(pair.public_key().as_ref())}),
            sign: Box::new(move |msg| pair.sign(msg).as_ref().to_vec()),
        }
    }

    /// A new Ed25519 key.
    pub fn ed25519() -> Signer {
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).unwrap();
        Signer::from_ed25519(Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap())
    }

    pub fn from_ecdsa(alg: &'static str, pkcs8: &[u8]) -> Signer {
        let (signing, crv, size) = match alg {
            "ES256" => (&signature::ECDSA_P256_SHA256_FIXED_SIGNING, "P-256", 32),
            _ => (&signature::ECDSA_P384_SHA384_FIXED_SIGNING, "P-384", 48),
        };
        let rng = SystemRandom::new();
        let pair = EcdsaKeyPair::from_pkcs8(signing, pkcs8, &rng).unwrap();
        let point = pair.public_key().as_ref();
        let jwk = json!({
            "kty": "EC",
            "crv": crv,
            "x": b64u(&point[1..=size]),
            "y": b64u(&point[1 + size..]),
        });
        Signer {
            alg,
            jwk,
            sign: Box::new(move |msg| pair.sign(&rng, msg).unwrap().as_ref().to_vec()),
        }
    }

    /// A new EC key for `ES256` (P-256) or `ES384` (P-384).
    pub fn ecdsa(alg: &'static str) -> Signer {
        let signing = match alg {
            "ES256" => &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
            _ => &signature::ECDSA_P384_SHA384_FIXED_SIGNING,
        };
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(signing, &SystemRandom::new()).unwrap();
        Signer::from_ecdsa(alg, pkcs8.as_ref())
    }

    /// The RSA test key (ring cannot generate RSA keys), for an `RS*` or `PS*` algorithm.
    pub fn rsa(alg: &'static str) -> Signer {
        let pair = RsaKeyPair::from_pkcs8(&der(RSA_PKCS8)).unwrap();
        let public = signature::RsaPublicKeyComponents::<Vec<u8>>::from(pair.public());
        let encoding: &'static dyn signature::RsaEncoding = match alg {
            "RS256" => &signature::RSA_PKCS1_SHA256,
            "RS384" => &signature::RSA_PKCS1_SHA384,
            "RS512" => &signature::RSA_PKCS1_SHA512,
            "PS256" => &signature::RSA_PSS_SHA256,
            "PS384" => &signature::RSA_PSS_SHA384,
            _ => &signature::RSA_PSS_SHA512,
        };
        Signer {
            alg,
            jwk: json!({"kty": "RSA", "n": b64u(&public.n), "e": b64u(&public.e)}),
            sign: Box::new(move |msg| {
                let mut sig = vec![0u8; pair.public().modulus_len()];
                pair.sign(encoding, &SystemRandom::new(), msg, &mut sig)
                    .unwrap();
                sig
            }),
        }
    }

    /// The public JWK with a `kid`.
    pub fn jwk_with_kid(&self, kid: &str) -> Value {
        let mut jwk = self.jwk.clone();
        jwk["kid"] = json!(kid);
        jwk
    }

    /// A compact JWS of `claims` whose header is `{"alg": <alg>, "typ": "JWT"}` plus
    /// `header`'s members.
    pub fn token_with(&self, header: Value, claims: &Value) -> String {
        let mut full = json!({"alg": self.alg, "typ": "JWT"});
        for (name, value) in header.as_object().unwrap() {
            full[name] = value.clone();
        }
        let input = format!(
            "{}.{}",
            b64u(full.to_string().as_bytes()),
            b64u(claims.to_string().as_bytes())
        );
        let sig = (self.sign)(input.as_bytes());
        format!("{input}.{}", b64u(&sig))
    }

    /// A token of `claims`, without `kid`.
    pub fn token(&self, claims: &Value) -> String {
        self.token_with(json!({}), claims)
    }

    /// A token of `claims` naming `kid`.
    pub fn token_kid(&self, kid: &str, claims: &Value) -> String {
        self.token_with(json!({"kid": kid}), claims)
    }
}

/// The RSA 2048 test key's PKCS#8 (DER, base64).
pub const RSA_PKCS8: &str = "\
    MIIEvgIBADANBgkqhkiG9w0BAQEFAASCBKgwggSkAgEAAoIBAQDVM7Uv96aJJNNlHI4rrzIOqFfAxteCvhpGl4X2\
    Brh095vAUMhBTlMMtwHpRMnk/ckFlssTsjsBcOnyMVUXC5jkDuu/85NJEhCgh+OgpEH233pTDWdy4MN8vstrSoZG\
    GArTHxvhikGerUK3H8nfQtCurhCbtqQA+Fig9u4mJMA6YYFf6WrinMs1Fp0/cKD0D544YPYfsIH+BgjcfvX50vnc\
    gwMnb9RnjKEGTZ5kT0rZoHaBwsjDoQM4c6kRbGEwgSQqBhLPRMnDpik+tx+ggVXi4mPrufNgVRUWkSAM71LW2m+t\
    NX8TiVDwiAIeBKXxk2q8At7QjJ95HBFVnC22k+eZAgMBAAECggEAIl5nSTACPe38kPppNcQUjPXYzZgQUkB8gmA3\
    RWmgbySiTD6JhbOPYkeXLIg9BqfdscO1AXwUFH+kCvmmZqRlNXBtUyB8IAWkPgih6nnIM3ijosNQp51xjgjAyI83\
    NZH3HsEPUMylluOF03jxpUbDVsFzJnLrHcfrG6mqyuXWQiK98cZY3RqBRKPybNW4KivItU8Z56Bxz1PdLyihZxgM\
    OgV/Dz8rdVvBjBjGoOoh3ETFZqdRtC7rS9U14AiYzjv16JkglJ9/GvApdAbF1flq3mOqwcC0aQFXKI2ttDgmHf5v\
    jSLA02AEwebZAA86dnkxfZQ3n3VMpbEPMe4y+ueO3QKBgQDruKzdrYAqUGpE+wLM2PjCAm4TMCJ1skTVJkcUEqLM\
    5qhbF2+/gczcR9GaWDPSW8yFLql8PYpBJCyc/ifFKrbGVIpTMNV/LxLKTfKcugKM/29NxGUUsudi00sec6IKR+LP\
    bhddAsnvv75aAxJL6ZAv/1TBvI0w/pnATG2oENdWzQKBgQDnixWk/3qBKJbG8zg47HmjCk5tkJnqvaN+bdyEF2LJ\
    mncwr6HNzS3fcEy13Z/664uI5pKWU68xbdfX+kYcEnggmXR5h3k29FUJs5iBEJ2ZUhPlQBQysGo+1RpMZ25QoVJG\
    Zn+o6rOpFmKKsk2pXdGXj7g1CfGOc8egpInlLwmb/QKBgBYDIOFymk1ZRRM7/X7zpAc6At132T/0bckZ0fll5B4O\
    TBp1jdHsZR0M993Z7rzuJaMqQFmBxa9fmWrvsPcQjhDnRCOQo99EnhSWQtmv5R0VnWc9t9K/AiyQXqtxUOh03hFQ\
    zo24/PKOjVAKiWLdZMGWrmuJGAZDQEhc2sCfEfzhAoGBALDu93s+Pr6z5YPiF/RnwAt2tLfE59kZUPYrvXay6Cpm\
    fu4VR++b+pHjnrrawIVduSLEDwAQsq9y4J2KAkkxU9qVaQv1GguEafcf5km6CLRApDNq5ARYCtg4v//iicnTfKuP\
    Z74Mm316PZL+7Zmet6q5iGn/TzcsAkAfe8BGUXGBAoGBAM87Wq5Vf7KcL4gq40eBvL21sAfCKCxguGyspn2F1E6s\
    JkMqX9oImi5reT82+hTczdLKvWEAD/ys/gN3X4f0WAXoDYGLfKv5QcK9AQjKIIg8c9PP2rb7gdcZEPxRMWTdTYVe\
    Ej0Lg8WBE1ghs8yf5vFp4oBkIgI5m/2aNFvQQwV7";
