//! Algorithms and public keys: which JOSE algorithms the plugin accepts (RFC 7518 names),
//! and JSON Web Keys (RFC 7517) checked and reduced to what the gateway's
//! `crypto.verify` needs.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value, json};

/// A signature algorithm the gateway verifies (`barbacane:crypto`), by its JOSE name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alg {
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    Rs256,
    /// RSASSA-PKCS1-v1_5 with SHA-384.
    Rs384,
    /// RSASSA-PKCS1-v1_5 with SHA-512.
    Rs512,
    /// RSASSA-PSS with SHA-256.
    Ps256,
    /// RSASSA-PSS with SHA-384.
    Ps384,
    /// RSASSA-PSS with SHA-512.
    Ps512,
    /// ECDSA on P-256 with SHA-256.
    Es256,
    /// ECDSA on P-384 with SHA-384.
    Es384,
    /// Ed25519 (RFC 8037).
    EdDsa,
}

impl Alg {
    /// Every algorithm, in the order the documentation lists them.
    pub const ALL: [Alg; 9] = [
        Alg::Rs256,
        Alg::Rs384,
        Alg::Rs512,
        Alg::Ps256,
        Alg::Ps384,
        Alg::Ps512,
        Alg::Es256,
        Alg::Es384,
        Alg::EdDsa,
    ];

    /// The JOSE name (`alg` header parameter).
    pub fn name(self) -> &'static str {
        match self {
            Alg::Rs256 => "RS256",
            Alg::Rs384 => "RS384",
            Alg::Rs512 => "RS512",
            Alg::Ps256 => "PS256",
            Alg::Ps384 => "PS384",
            Alg::Ps512 => "PS512",
            Alg::Es256 => "ES256",
            Alg::Es384 => "ES384",
            Alg::EdDsa => "EdDSA",
        }
    }

    /// The algorithm named `name` (case-sensitive, as JOSE names are).
    pub fn parse(name: &str) -> Option<Alg> {
        Alg::ALL.into_iter().find(|a| a.name() == name)
    }

    /// The type of key that verifies it.
    pub fn key_type(self) -> KeyType {
        match self {
            Alg::Rs256 | Alg::Rs384 | Alg::Rs512 | Alg::Ps256 | Alg::Ps384 | Alg::Ps512 => {
                KeyType::Rsa
            }
            Alg::Es256 => KeyType::P256,
            Alg::Es384 => KeyType::P384,
            Alg::EdDsa => KeyType::Ed25519,
        }
    }
}

/// Why an algorithm name is not accepted, for configuration errors and debug logs; `None`
/// when it is one the plugin accepts.
pub fn refusal(name: &str) -> Option<String> {
    if Alg::parse(name).is_some() {
        return None;
    }
    Some(match name {
        "none" => "`none` (an unsecured JWS) is never accepted".to_owned(),
        "HS256" | "HS384" | "HS512" => format!(
            "`{name}` is an HMAC (shared secret) algorithm: only asymmetric signatures \
             are verified"
        ),
        "ES512" => "`ES512` (P-521) is not supported by the gateway".to_owned(),
        _ => format!(
            "{} is not a supported algorithm (RS256, RS384, RS512, PS256, PS384, PS512, \
             ES256, ES384, EdDSA)",
            shown(name)
        ),
    })
}

/// A key type, with the curve for elliptic-curve keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyType {
    /// RSA (`kty` `RSA`), 2048 to 8192 bits.
    Rsa,
    /// EC P-256 (`kty` `EC`, `crv` `P-256`).
    P256,
    /// EC P-384 (`kty` `EC`, `crv` `P-384`).
    P384,
    /// Ed25519 (`kty` `OKP`, `crv` `Ed25519`).
    Ed25519,
}

impl KeyType {
    /// How the documentation and messages name it.
    pub fn describe(self) -> &'static str {
        match self {
            KeyType::Rsa => "an RSA key",
            KeyType::P256 => "an EC P-256 key",
            KeyType::P384 => "an EC P-384 key",
            KeyType::Ed25519 => "an Ed25519 (OKP) key",
        }
    }
}

/// A public key, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Key {
    /// The JWK's `kid`.
    pub kid: Option<String>,
    /// Its type.
    pub key_type: KeyType,
    /// The JWK's `alg`: when present, the only algorithm the key verifies.
    pub alg: Option<Alg>,
    /// The JWK handed to `crypto.verify`: `kty`, `crv` and the public parameters only, in
    /// canonical base64url (no padding, RSA integers without leading zero bytes).
    pub jwk: String,
}

impl Key {
    /// Whether this key may verify a signature made with `alg`.
    pub fn accepts(&self, alg: Alg) -> bool {
        alg.key_type() == self.key_type && self.alg.is_none_or(|a| a == alg)
    }
}

/// Members that only private (or symmetric) JWKs carry (RFC 7518, section 6).
const PRIVATE_MEMBERS: [&str; 8] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/// Smallest and largest RSA modulus the gateway verifies with, in bits.
const RSA_BITS: std::ops::RangeInclusive<usize> = 2048..=8192;

/// At most 64 characters of a value that came from outside (a token, a JWKS), quoted and
/// escaped, so that messages and logs stay one readable line.
pub fn shown(value: &str) -> String {
    let mut cut: String = value.chars().take(64).collect();
    if cut.len() < value.len() {
        cut.push_str("...");
    }
    format!("{cut:?}")
}

/// An optional string member.
fn string_member<'a>(jwk: &'a Map<String, Value>, name: &str) -> Result<Option<&'a str>, String> {
    match jwk.get(name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(format!("`{name}` is not a string")),
    }
}

/// A required base64url member, decoded (trailing `=` tolerated, as the gateway does).
fn bytes_member(jwk: &Map<String, Value>, name: &str) -> Result<Vec<u8>, String> {
    let value = string_member(jwk, name)?.ok_or_else(|| format!("`{name}` is missing"))?;
    URL_SAFE_NO_PAD
        .decode(value.trim_end_matches('='))
        .map_err(|_| format!("`{name}` is not base64url"))
}

/// `bytes` without leading zero bytes.
fn unsigned(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    &bytes[start..]
}

/// The number of significant bits of an unsigned big-endian integer without leading zeros.
fn bit_len(bytes: &[u8]) -> usize {
    bytes
        .first()
        .map_or(0, |b| bytes.len() * 8 - b.leading_zeros() as usize)
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Checks a public JWK (RFC 7517, 7518 and 8037) and reduces it to a [`Key`].
///
/// Refused: anything but an object; a `kty` other than `RSA`, `EC` (P-256, P-384) or `OKP`
/// (Ed25519); private members (`d`...); a `use` other than `sig`; `key_ops` without
/// `verify`; an `alg` the plugin does not accept or that does not fit the key; missing or
/// malformed parameters (not base64url, coordinates of the wrong size, an RSA modulus
/// outside 2048 to 8192 bits, an RSA exponent that is even, below 3 or over 33 bits).
/// Other members are ignored, as RFC 7517 requires.
pub fn parse_jwk(value: &Value) -> Result<Key, String> {
    let jwk = value.as_object().ok_or("not a JSON object")?;
    let kty = string_member(jwk, "kty")?.ok_or("`kty` is missing")?;
    let kid = string_member(jwk, "kid")?.map(str::to_owned);
    if let Some(usage) = string_member(jwk, "use")?
        && usage != "sig"
    {
        return Err(format!(
            "its `use` is {}: only signing keys (`sig`) verify tokens",
            shown(usage)
        ));
    }
    if let Some(ops) = jwk.get("key_ops") {
        let verify = ops
            .as_array()
            .is_some_and(|ops| ops.iter().any(|op| op.as_str() == Some("verify")));
        if !verify {
            return Err("its `key_ops` do not include `verify`".to_owned());
        }
    }
    let crv = string_member(jwk, "crv")?;
    let (key_type, public) = match (kty, crv) {
        ("RSA", _) => {
            let n = bytes_member(jwk, "n")?;
            let e = bytes_member(jwk, "e")?;
            let (n, e) = (unsigned(&n), unsigned(&e));
            let bits = bit_len(n);
            if !RSA_BITS.contains(&bits) {
                return Err(format!(
                    "its modulus has {bits} bits: the gateway verifies with RSA keys of 2048 to \
                     8192 bits"
                ));
            }
            let odd = e.last().is_some_and(|b| b & 1 == 1);
            let small = e.len() == 1 && e[0] < 3;
            if !odd || small || bit_len(e) > 33 {
                return Err("its exponent `e` must be odd, at least 3 and at most 33 bits".into());
            }
            (
                KeyType::Rsa,
                json!({"kty": "RSA", "n": b64(n), "e": b64(e)}),
            )
        }
        ("EC", Some(curve @ ("P-256" | "P-384"))) => {
            let (key_type, size) = if curve == "P-256" {
                (KeyType::P256, 32)
            } else {
                (KeyType::P384, 48)
            };
            let x = bytes_member(jwk, "x")?;
            let y = bytes_member(jwk, "y")?;
            if x.len() != size || y.len() != size {
                return Err(format!(
                    "the coordinates of a {curve} key are {size} bytes each"
                ));
            }
            (
                key_type,
                json!({"kty": "EC", "crv": curve, "x": b64(&x), "y": b64(&y)}),
            )
        }
        ("EC", crv) => {
            return Err(format!(
                "EC curve {} is not supported (P-256, P-384)",
                shown(crv.unwrap_or(""))
            ));
        }
        ("OKP", Some("Ed25519")) => {
            let x = bytes_member(jwk, "x")?;
            if x.len() != 32 {
                return Err("an Ed25519 key is 32 bytes".to_owned());
            }
            (
                KeyType::Ed25519,
                json!({"kty": "OKP", "crv": "Ed25519", "x": b64(&x)}),
            )
        }
        ("OKP", crv) => {
            return Err(format!(
                "OKP curve {} is not supported (Ed25519)",
                shown(crv.unwrap_or(""))
            ));
        }
        ("oct", _) => {
            return Err(
                "`kty` `oct` is a shared secret: only asymmetric signatures are verified"
                    .to_owned(),
            );
        }
        (other, _) => {
            return Err(format!(
                "`kty` {} is not supported (RSA, EC, OKP)",
                shown(other)
            ));
        }
    };
    if let Some(member) = PRIVATE_MEMBERS.iter().find(|m| jwk.contains_key(**m)) {
        return Err(format!(
            "it holds private key material (`{member}`): give the public key only"
        ));
    }
    let alg = match string_member(jwk, "alg")? {
        None => None,
        Some(name) => {
            if let Some(why) = refusal(name) {
                return Err(format!("its `alg`: {why}"));
            }
            let alg = Alg::parse(name).ok_or("its `alg` is not supported")?;
            if alg.key_type() != key_type {
                return Err(format!(
                    "its `alg` is {name}, which needs {}, not {}",
                    alg.key_type().describe(),
                    key_type.describe()
                ));
            }
            Some(alg)
        }
    };
    Ok(Key {
        kid,
        key_type,
        alg,
        jwk: public.to_string(),
    })
}
