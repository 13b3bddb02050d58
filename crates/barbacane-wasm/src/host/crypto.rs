//! `barbacane:crypto`: signature checks, MACs and digests at native speed (ring), so that
//! auth plugins never run public-key math inside WebAssembly.
//!
//! - `verify(alg.., jwk.., msg.., sig..) -> i32`: 1 when `sig` is a valid signature of `msg`
//!   by the public key `jwk` (a JSON Web Key) under the JOSE algorithm `alg` (RS256/384/512,
//!   PS256/384/512, ES256/384, EdDSA); 0 when it is not; -1 when it cannot be checked
//!   (unsupported algorithm, a key that is not a public key of that algorithm's type), with
//!   the reason in the result slot. ES* signatures are the JOSE form (r || s, fixed size).
//! - `hmac(alg.., key.., msg..) -> i32`: the MAC (HS256/384/512) in the result slot, its
//!   length returned; -1 for another algorithm.
//! - `sha256(ptr, len) -> i32`: the 32-byte digest in the result slot.
//! - `constant_time_eq(a.., b..) -> i32`: 1 when equal, compared in time independent of
//!   where they differ (different lengths: 0 at once; lengths are not secret).
//! - `bcrypt_verify(pw.., hash..) -> i32`: see `bcrypt.rs`.
//!
//! Parsed keys are kept in a small process-wide cache keyed by the SHA-256 of the JWK's
//! bytes (256 entries, cleared when full), so a plugin that verifies every request against
//! the same JWKS pays the RSA/EC key parsing once.

use ring::signature::{self, UnparsedPublicKey, VerificationAlgorithm};
use serde::Deserialize;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use wasmtime::{Caller, Linker};

use crate::memory::read_bytes;
use crate::state::HostState;

const MODULE: &str = "barbacane:crypto";
const CACHE: usize = 256;

pub(crate) fn add_to_linker(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    linker.func_wrap(
        MODULE,
        "verify",
        |mut c: Caller<'_, HostState>,
         aptr: i32,
         alen: i32,
         kptr: i32,
         klen: i32,
         mptr: i32,
         mlen: i32,
         sptr: i32,
         slen: i32| {
            let alg = read_bytes(&mut c, aptr, alen)?;
            let jwk = read_bytes(&mut c, kptr, klen)?;
            let msg = read_bytes(&mut c, mptr, mlen)?;
            let sig = read_bytes(&mut c, sptr, slen)?;
            Ok(match verify(&alg, &jwk, &msg, &sig) {
                Ok(true) => 1,
                Ok(false) => 0,
                Err(reason) => {
                    c.data_mut().give(reason);
                    -1
                }
            })
        },
    )?;
    linker.func_wrap(
        MODULE,
        "hmac",
        |mut c: Caller<'_, HostState>,
         aptr: i32,
         alen: i32,
         kptr: i32,
         klen: i32,
         mptr: i32,
         mlen: i32| {
            let alg = read_bytes(&mut c, aptr, alen)?;
            let key = read_bytes(&mut c, kptr, klen)?;
            let msg = read_bytes(&mut c, mptr, mlen)?;
            let algorithm = match alg.as_slice() {
                b"HS256" => ring::hmac::HMAC_SHA256,
                b"HS384" => ring::hmac::HMAC_SHA384,
                b"HS512" => ring::hmac::HMAC_SHA512,
                _ => return Ok(-1),
            };
            let tag = ring::hmac::sign(&ring::hmac::Key::new(algorithm, &key), &msg);
            Ok(c.data_mut().give(tag.as_ref().to_vec()))
        },
    )?;
    linker.func_wrap(
        MODULE,
        "sha256",
        |mut c: Caller<'_, HostState>, ptr: i32, len: i32| {
            let bytes = read_bytes(&mut c, ptr, len)?;
            let digest = ring::digest::digest(&ring::digest::SHA256, &bytes);
            Ok(c.data_mut().give(digest.as_ref().to_vec()))
        },
    )?;
    linker.func_wrap(
        MODULE,
        "constant_time_eq",
        |mut c: Caller<'_, HostState>, aptr: i32, alen: i32, bptr: i32, blen: i32| {
            let a = read_bytes(&mut c, aptr, alen)?;
            let b = read_bytes(&mut c, bptr, blen)?;
            Ok(i32::from(a.len() == b.len() && constant_eq(&a, &b)))
        },
    )?;
    super::bcrypt::add_to_linker(linker, MODULE)
}

/// Equality whose time does not depend on where the inputs differ.
fn constant_eq(a: &[u8], b: &[u8]) -> bool {
    // `std::hint::black_box` keeps the compiler from turning the fold into an early exit.
    let diff = a
        .iter()
        .zip(b)
        .fold(0u8, |acc, (x, y)| std::hint::black_box(acc | (x ^ y)));
    diff == 0
}

#[derive(Deserialize)]
struct Jwk {
    kty: String,
    #[serde(default)]
    crv: Option<String>,
    #[serde(default)]
    n: Option<String>,
    #[serde(default)]
    e: Option<String>,
    #[serde(default)]
    x: Option<String>,
    #[serde(default)]
    y: Option<String>,
}

/// A key ready for ring: its bytes in the form the algorithm family expects.
#[derive(Debug, Clone)]
enum Key {
    /// RSA modulus and exponent (big-endian).
    Rsa { n: Vec<u8>, e: Vec<u8> },
    /// An uncompressed EC point (0x04 || x || y) and its curve.
    Ec { point: Vec<u8>, curve: String },
    /// An Ed25519 public key.
    Ed25519(Vec<u8>),
}

fn b64(field: Option<&String>, name: &str) -> Result<Vec<u8>, String> {
    use base64::Engine;
    let value = field.ok_or_else(|| format!("the JWK has no `{name}`"))?;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(value.trim_end_matches('='))
        .map_err(|_| format!("the JWK's `{name}` is not base64url"))
}

fn parse(jwk: &[u8]) -> Result<Key, String> {
    let jwk: Jwk = serde_json::from_slice(jwk).map_err(|e| format!("not a JWK: {e}"))?;
    match jwk.kty.as_str() {
        "RSA" => Ok(Key::Rsa {
            n: b64(jwk.n.as_ref(), "n")?,
            e: b64(jwk.e.as_ref(), "e")?,
        }),
        "EC" => {
            let curve = jwk.crv.clone().unwrap_or_default();
            let size = match curve.as_str() {
                "P-256" => 32,
                "P-384" => 48,
                other => {
                    return Err(format!(
                        "EC curve `{other}` is not supported (P-256, P-384)"
                    ));
                }
            };
            let (x, y) = (b64(jwk.x.as_ref(), "x")?, b64(jwk.y.as_ref(), "y")?);
            if x.len() != size || y.len() != size {
                return Err(format!(
                    "the {curve} key's coordinates are not {size} bytes"
                ));
            }
            let mut point = vec![4u8];
            point.extend_from_slice(&x);
            point.extend_from_slice(&y);
            Ok(Key::Ec { point, curve })
        }
        "OKP" if jwk.crv.as_deref() == Some("Ed25519") => {
            Ok(Key::Ed25519(b64(jwk.x.as_ref(), "x")?))
        }
        "OKP" => Err(format!(
            "OKP curve `{}` is not supported (Ed25519)",
            jwk.crv.unwrap_or_default()
        )),
        other => Err(format!("key type `{other}` cannot verify signatures here")),
    }
}

fn cached(jwk: &[u8]) -> Result<Arc<Key>, String> {
    static KEYS: OnceLock<Mutex<HashMap<[u8; 32], Arc<Key>>>> = OnceLock::new();
    let mut id = [0u8; 32];
    id.copy_from_slice(ring::digest::digest(&ring::digest::SHA256, jwk).as_ref());
    let keys = KEYS.get_or_init(|| Mutex::new(HashMap::new()));
    if let Some(k) = keys.lock().ok().and_then(|m| m.get(&id).cloned()) {
        return Ok(k);
    }
    let key = Arc::new(parse(jwk)?);
    if let Ok(mut m) = keys.lock() {
        if m.len() >= CACHE {
            m.clear();
        }
        m.insert(id, Arc::clone(&key));
    }
    Ok(key)
}

fn verify(alg: &[u8], jwk: &[u8], msg: &[u8], sig: &[u8]) -> Result<bool, String> {
    let alg = std::str::from_utf8(alg).map_err(|_| "the algorithm is not UTF-8".to_owned())?;
    let key = cached(jwk)?;
    let mismatch = |family: &str| Err(format!("{alg} needs {family} key"));
    match (alg, &*key) {
        ("RS256" | "RS384" | "RS512" | "PS256" | "PS384" | "PS512", Key::Rsa { n, e }) => {
            let params: &signature::RsaParameters = match alg {
                "RS256" => &signature::RSA_PKCS1_2048_8192_SHA256,
                "RS384" => &signature::RSA_PKCS1_2048_8192_SHA384,
                "RS512" => &signature::RSA_PKCS1_2048_8192_SHA512,
                "PS256" => &signature::RSA_PSS_2048_8192_SHA256,
                "PS384" => &signature::RSA_PSS_2048_8192_SHA384,
                _ => &signature::RSA_PSS_2048_8192_SHA512,
            };
            let components = signature::RsaPublicKeyComponents { n, e };
            Ok(components.verify(params, msg, sig).is_ok())
        }
        ("RS256" | "RS384" | "RS512" | "PS256" | "PS384" | "PS512", _) => mismatch("an RSA"),
        ("ES256" | "ES384", Key::Ec { point, curve }) => {
            let (algorithm, want): (&dyn VerificationAlgorithm, &str) = match alg {
                "ES256" => (&signature::ECDSA_P256_SHA256_FIXED, "P-256"),
                _ => (&signature::ECDSA_P384_SHA384_FIXED, "P-384"),
            };
            if curve != want {
                return Err(format!("{alg} needs a {want} key, not {curve}"));
            }
            Ok(UnparsedPublicKey::new(algorithm, point)
                .verify(msg, sig)
                .is_ok())
        }
        ("ES256" | "ES384", _) => mismatch("an EC"),
        ("EdDSA", Key::Ed25519(x)) => Ok(UnparsedPublicKey::new(&signature::ED25519, x)
            .verify(msg, sig)
            .is_ok()),
        ("EdDSA", _) => mismatch("an Ed25519 (OKP)"),
        ("none", _) => Err("`none` is never a valid algorithm".into()),
        (other, _) => Err(format!(
            "algorithm `{other}` is not supported (RS256/384/512, PS256/384/512, ES256/384, EdDSA)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc8037_ed25519_example_verifies() {
        // RFC 8037 appendix A.4: the JWS signed with the example Ed25519 key.
        let jwk =
            br#"{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}"#;
        let input = b"eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc";
        use base64::Engine;
        let sig = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode("hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg")
            .unwrap();
        assert_eq!(verify(b"EdDSA", jwk, input, &sig), Ok(true));
        let mut bad = sig.clone();
        bad[0] ^= 1;
        assert_eq!(verify(b"EdDSA", jwk, input, &bad), Ok(false));
        assert!(verify(b"ES256", jwk, input, &sig).is_err());
        assert!(verify(b"none", jwk, input, &sig).is_err());
    }

    fn b64u(bytes: &[u8]) -> String {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    }

    #[test]
    fn ecdsa_keys_from_jwk_verify_jose_signatures() {
        use ring::signature::{EcdsaKeyPair, KeyPair};
        let rng = ring::rand::SystemRandom::new();
        for (alg, signing, size, crv) in [
            (
                "ES256",
                &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
                32,
                "P-256",
            ),
            (
                "ES384",
                &signature::ECDSA_P384_SHA384_FIXED_SIGNING,
                48,
                "P-384",
            ),
        ] {
            let pkcs8 = EcdsaKeyPair::generate_pkcs8(signing, &rng).unwrap();
            let pair = EcdsaKeyPair::from_pkcs8(signing, pkcs8.as_ref(), &rng).unwrap();
            let public = pair.public_key().as_ref();
            let jwk = format!(
                r#"{{"kty":"EC","crv":"{crv}","x":"{}","y":"{}"}}"#,
                b64u(&public[1..1 + size]),
                b64u(&public[1 + size..])
            );
            let sig = pair.sign(&rng, b"header.payload").unwrap();
            assert_eq!(
                verify(
                    alg.as_bytes(),
                    jwk.as_bytes(),
                    b"header.payload",
                    sig.as_ref()
                ),
                Ok(true)
            );
            assert_eq!(
                verify(
                    alg.as_bytes(),
                    jwk.as_bytes(),
                    b"header.payloaX",
                    sig.as_ref()
                ),
                Ok(false)
            );
            assert!(verify(b"RS256", jwk.as_bytes(), b"x", sig.as_ref()).is_err());
        }
        // A key on the wrong curve for the algorithm.
        let p384 = r#"{"kty":"EC","crv":"P-384","x":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA","y":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}"#;
        assert!(verify(b"ES256", p384.as_bytes(), b"x", b"y").is_err());
    }

    #[test]
    fn rsa_keys_from_jwk_verify_pkcs1_and_pss_signatures() {
        // An RSA key and signatures made by the openssl command-line tool (an independent
        // implementation), in a scratch directory.
        let dir = std::env::temp_dir().join(format!("barbacane-rsa-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let key = dir.join("key.pem");
        let msg = dir.join("msg");
        std::fs::write(&msg, b"header.payload").unwrap();
        let openssl = |args: &[&str]| {
            let out = std::process::Command::new("openssl")
                .args(args)
                .output()
                .expect("openssl");
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            out.stdout
        };
        openssl(&["genrsa", "-out", key.to_str().unwrap(), "2048"]);
        let modulus = String::from_utf8(openssl(&[
            "rsa",
            "-in",
            key.to_str().unwrap(),
            "-noout",
            "-modulus",
        ]))
        .unwrap();
        let hex = modulus.trim().trim_start_matches("Modulus=");
        let n: Vec<u8> = (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
            .collect();
        let jwk = format!(r#"{{"kty":"RSA","n":"{}","e":"AQAB"}}"#, b64u(&n));
        let sign = |extra: &[&str]| {
            let mut args = vec!["dgst", "-sha256", "-sign", key.to_str().unwrap()];
            args.extend_from_slice(extra);
            args.push(msg.to_str().unwrap());
            openssl(&args)
        };
        let pkcs1 = sign(&[]);
        let pss = sign(&[
            "-sigopt",
            "rsa_padding_mode:pss",
            "-sigopt",
            "rsa_pss_saltlen:32",
        ]);
        assert_eq!(
            verify(b"RS256", jwk.as_bytes(), b"header.payload", &pkcs1),
            Ok(true)
        );
        assert_eq!(
            verify(b"PS256", jwk.as_bytes(), b"header.payload", &pss),
            Ok(true)
        );
        assert_eq!(
            verify(b"RS256", jwk.as_bytes(), b"header.payload", &pss),
            Ok(false)
        );
        assert_eq!(
            verify(b"RS384", jwk.as_bytes(), b"header.payload", &pkcs1),
            Ok(false)
        );
        assert_eq!(
            verify(b"RS256", jwk.as_bytes(), b"tampered", &pkcs1),
            Ok(false)
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn hmac_matches_rfc4231_and_bad_jwks_are_reasons() {
        // RFC 4231 test case 2.
        let tag = ring::hmac::sign(
            &ring::hmac::Key::new(ring::hmac::HMAC_SHA256, b"Jefe"),
            b"what do ya want for nothing?",
        );
        let hex: String = tag.as_ref().iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            hex,
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert!(
            verify(b"RS256", b"not json", b"m", b"s")
                .unwrap_err()
                .contains("not a JWK")
        );
        assert!(verify(b"RS256", br#"{"kty":"oct","k":"AA"}"#, b"m", b"s").is_err());
        assert!(
            verify(
                b"HS256",
                br#"{"kty":"RSA","n":"AQAB","e":"AQAB"}"#,
                b"m",
                b"s"
            )
            .unwrap_err()
            .contains("not supported")
        );
    }

    #[test]
    fn constant_eq_is_equality() {
        assert!(constant_eq(b"abc", b"abc"));
        assert!(!constant_eq(b"abc", b"abd"));
    }
}
