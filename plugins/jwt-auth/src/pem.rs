//! `public_key_pem`: a PEM public key (RFC 7468) as the JWK the gateway's `crypto.verify`
//! takes.
//!
//! Two forms: `PUBLIC KEY`, a SubjectPublicKeyInfo (RFC 5280, section 4.1.2.7) holding an
//! RSA key (`rsaEncryption`, RFC 3279), an EC key on P-256 or P-384 (`id-ecPublicKey`, RFC
//! 5480; uncompressed points only) or an Ed25519 key (RFC 8410); and `RSA PUBLIC KEY`, a
//! PKCS#1 RSAPublicKey (RFC 8017, appendix A.1.1). The DER is read by the small reader
//! below, which accepts definite lengths of up to three bytes, checks every length against
//! what is left, and refuses trailing bytes at every level.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Value, json};

const SEQUENCE: u8 = 0x30;
const INTEGER: u8 = 0x02;
const BIT_STRING: u8 = 0x03;
const NULL: u8 = 0x05;
const OID: u8 = 0x06;

/// The DER contents of the object identifiers read here.
const RSA_ENCRYPTION: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
const RSASSA_PSS: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0a];
const EC_PUBLIC_KEY: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
const P256: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
const P384: &[u8] = &[0x2b, 0x81, 0x04, 0x00, 0x22];
const P521: &[u8] = &[0x2b, 0x81, 0x04, 0x00, 0x23];
const ED25519: &[u8] = &[0x2b, 0x65, 0x70];
const ED448: &[u8] = &[0x2b, 0x65, 0x71];

/// A DER reader over a byte range.
#[derive(Debug)]
pub struct Der<'a> {
    rest: &'a [u8],
}

impl<'a> Der<'a> {
    /// A reader at the start of `bytes`.
    pub fn new(bytes: &'a [u8]) -> Der<'a> {
        Der { rest: bytes }
    }

    /// Reads one element, which must have the tag `tag`, and returns its contents.
    pub fn read(&mut self, tag: u8) -> Result<&'a [u8], String> {
        let truncated = || "the DER is truncated".to_owned();
        let (&found, rest) = self.rest.split_first().ok_or_else(truncated)?;
        if found != tag {
            return Err(format!(
                "unexpected DER element (tag 0x{found:02x}, expected 0x{tag:02x})"
            ));
        }
        let (&first, mut rest) = rest.split_first().ok_or_else(truncated)?;
        let len = if first < 0x80 {
            usize::from(first)
        } else {
            let count = usize::from(first & 0x7f);
            if count == 0 || count > 3 {
                return Err("unsupported DER length".to_owned());
            }
            let digits = rest.get(..count).ok_or_else(truncated)?;
            if digits[0] == 0 {
                return Err("a DER length is not minimal".to_owned());
            }
            let len = digits
                .iter()
                .fold(0usize, |len, b| (len << 8) | usize::from(*b));
            if len < 0x80 {
                return Err("a DER length is not minimal".to_owned());
            }
            rest = &rest[count..];
            len
        };
        let contents = rest.get(..len).ok_or_else(truncated)?;
        self.rest = &rest[len..];
        Ok(contents)
    }

    /// Whether everything was read.
    pub fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    /// Fails unless everything was read.
    pub fn finish(&self) -> Result<(), String> {
        if self.is_empty() {
            Ok(())
        } else {
            Err("unexpected bytes after a DER element".to_owned())
        }
    }
}

/// Reads the only element of `bytes`, with tag `tag`.
fn only(bytes: &[u8], tag: u8) -> Result<&[u8], String> {
    let mut der = Der::new(bytes);
    let contents = der.read(tag)?;
    der.finish()?;
    Ok(contents)
}

/// A positive INTEGER's magnitude, without leading zero bytes.
fn positive_integer(contents: &[u8]) -> Result<&[u8], String> {
    match contents.first() {
        None => Err("an empty DER INTEGER".to_owned()),
        Some(b) if b & 0x80 != 0 => Err("a negative RSA parameter".to_owned()),
        Some(_) => {
            let start = contents
                .iter()
                .position(|b| *b != 0)
                .unwrap_or(contents.len());
            Ok(&contents[start..])
        }
    }
}

/// A BIT STRING's bytes (no unused bits allowed: keys are whole bytes).
fn bit_string_bytes(contents: &[u8]) -> Result<&[u8], String> {
    match contents.split_first() {
        Some((0, bytes)) => Ok(bytes),
        _ => Err("the key's BIT STRING has unused bits".to_owned()),
    }
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A PKCS#1 RSAPublicKey: SEQUENCE { modulus INTEGER, publicExponent INTEGER }.
fn rsa_public_key(der: &[u8]) -> Result<Value, String> {
    let mut fields = Der::new(only(der, SEQUENCE)?);
    let n = positive_integer(fields.read(INTEGER)?)?;
    let e = positive_integer(fields.read(INTEGER)?)?;
    fields.finish()?;
    Ok(json!({"kty": "RSA", "n": b64(n), "e": b64(e)}))
}

/// A SubjectPublicKeyInfo: SEQUENCE { algorithm AlgorithmIdentifier, subjectPublicKey BIT
/// STRING }, AlgorithmIdentifier being SEQUENCE { OID, parameters OPTIONAL }.
fn subject_public_key_info(der: &[u8]) -> Result<Value, String> {
    let mut spki = Der::new(only(der, SEQUENCE)?);
    let mut algorithm = Der::new(spki.read(SEQUENCE)?);
    let key = bit_string_bytes(spki.read(BIT_STRING)?)?;
    spki.finish()?;
    let oid = algorithm.read(OID)?;
    match oid {
        RSA_ENCRYPTION => {
            // The parameters are NULL (RFC 3279); some encoders leave them out.
            if !algorithm.is_empty() {
                algorithm.read(NULL)?;
            }
            algorithm.finish()?;
            rsa_public_key(key)
        }
        EC_PUBLIC_KEY => {
            let curve = algorithm.read(OID)?;
            algorithm.finish()?;
            let (crv, size) = match curve {
                P256 => ("P-256", 32),
                P384 => ("P-384", 48),
                P521 => return Err("P-521 keys are not supported by the gateway".into()),
                _ => return Err("the EC key's curve is not supported (P-256, P-384)".into()),
            };
            match key.split_first() {
                Some((4, point)) if point.len() == 2 * size => {
                    let (x, y) = point.split_at(size);
                    Ok(json!({"kty": "EC", "crv": crv, "x": b64(x), "y": b64(y)}))
                }
                Some((2 | 3, _)) => Err(
                    "compressed EC points are not supported: export the key uncompressed".into(),
                ),
                _ => Err(format!("not a {crv} public point")),
            }
        }
        ED25519 => {
            algorithm.finish()?;
            if key.len() != 32 {
                return Err("an Ed25519 key is 32 bytes".into());
            }
            Ok(json!({"kty": "OKP", "crv": "Ed25519", "x": b64(key)}))
        }
        RSASSA_PSS => Err(
            "RSASSA-PSS keys (id-RSASSA-PSS) are not supported: export the key as \
             rsaEncryption (`openssl rsa -pubin -in key.pem -RSAPublicKey_out`)"
                .into(),
        ),
        ED448 => Err("Ed448 keys are not supported by the gateway".into()),
        _ => Err("the key's algorithm is not supported (RSA, EC, Ed25519)".into()),
    }
}

/// The label of a PEM's first line, `-----BEGIN <label>-----`, and the rest.
fn begin(pem: &str) -> Option<(&str, &str)> {
    let rest = pem.strip_prefix("-----BEGIN ")?;
    let (label, rest) = rest.split_once("-----")?;
    Some((label, rest))
}

/// The JWK of the public key `pem` holds (`kty`, `crv` and the public parameters, not yet
/// checked for sizes: [`crate::keys::parse_jwk`] does that).
pub fn pem_to_jwk(pem: &str) -> Result<Value, String> {
    let pem = pem.trim();
    let (label, rest) = begin(pem)
        .ok_or("not a PEM public key (it must start with `-----BEGIN PUBLIC KEY-----`)")?;
    match label {
        "PUBLIC KEY" | "RSA PUBLIC KEY" => {}
        "CERTIFICATE" => {
            return Err(
                "it is a certificate: give its public key (`openssl x509 -in cert.pem -pubkey \
                 -noout`)"
                    .into(),
            );
        }
        _ if label.contains("PRIVATE KEY") => {
            return Err(
                "it is a private key: give the public key only (`openssl pkey -in key.pem \
                 -pubout`)"
                    .into(),
            );
        }
        _ => {
            return Err(format!(
                "`-----BEGIN {label}-----` is not a public key (`PUBLIC KEY` or `RSA PUBLIC \
                 KEY`)"
            ));
        }
    }
    let end = format!("-----END {label}-----");
    let body = rest
        .strip_suffix(end.as_str())
        .ok_or_else(|| format!("the PEM must end with `{end}`, after one key only"))?;
    let base64: String = body.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    let der = STANDARD
        .decode(base64)
        .map_err(|_| "the PEM's body is not base64".to_owned())?;
    let jwk = if label == "PUBLIC KEY" {
        subject_public_key_info(&der)
    } else {
        rsa_public_key(&der)
    };
    jwk.map_err(|e| format!("{e} (in the PEM's DER)"))
}
