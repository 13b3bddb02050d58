//! Ed25519 signatures over the header.
//!
//! The signed bytes are `"barbacane-artifact-signature-v1\n"` followed by the header's JSON
//! with the `signature` field removed, exactly as [`ArtifactBuilder`](crate::ArtifactBuilder)
//! serializes it. The header holds `artifact_hash` and the SHA-256 of every member, and the
//! reader checks those against the bytes, so one signature covers every byte of the artifact.
//! A verifier re-serializes the parsed header; a header with fields this version does not
//! know therefore fails verification (fail closed) rather than passing unsigned content.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey};
use ed25519_dalek::{Signer, SigningKey, VerifyingKey};

use crate::{Header, Signature, sha256_hex};

pub use ed25519_dalek::{SigningKey as PrivateKey, VerifyingKey as PublicKey};

/// Domain separation for the signed bytes.
pub const SIGNATURE_DOMAIN: &str = "barbacane-artifact-signature-v1\n";

/// The bytes a signature covers.
pub fn signing_payload(header: &Header) -> Vec<u8> {
    let mut unsigned = header.clone();
    unsigned.signature = None;
    let mut out = SIGNATURE_DOMAIN.as_bytes().to_vec();
    // Serializing plain data with string keys cannot fail.
    out.extend(serde_json::to_vec(&unsigned).unwrap_or_default());
    out
}

/// The key id of a public key: 16 hex digits of its SHA-256.
pub fn key_id(key: &VerifyingKey) -> String {
    sha256_hex(key.as_bytes())[..16].to_owned()
}

/// Signs `header` in place.
pub fn sign_header(header: &mut Header, key: &SigningKey) {
    let signature = key.sign(&signing_payload(header));
    header.signature = Some(Signature {
        algorithm: "ed25519".into(),
        key_id: key_id(&key.verifying_key()),
        value: STANDARD.encode(signature.to_bytes()),
    });
}

/// What signature verification found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignatureStatus {
    /// Signed by one of the trusted keys, and the signature is valid.
    Verified {
        /// The key that signed.
        key_id: String,
    },
    /// No signature.
    Unsigned,
    /// Signed, but not verifiable: unknown key, bad encoding, or a signature that does not
    /// match the header.
    Invalid {
        /// The key id the header claims, if any.
        key_id: Option<String>,
        /// Why.
        reason: String,
    },
}

impl SignatureStatus {
    /// `verified`, `unsigned` or `invalid`.
    pub fn as_str(&self) -> &'static str {
        match self {
            SignatureStatus::Verified { .. } => "verified",
            SignatureStatus::Unsigned => "unsigned",
            SignatureStatus::Invalid { .. } => "invalid",
        }
    }

    /// The key id involved, if any.
    pub fn key_id(&self) -> Option<&str> {
        match self {
            SignatureStatus::Verified { key_id } => Some(key_id),
            SignatureStatus::Invalid { key_id, .. } => key_id.as_deref(),
            SignatureStatus::Unsigned => None,
        }
    }
}

/// Checks `header`'s signature against `trusted` keys. With no trusted key, a signed header
/// is `Invalid` ("no trusted key"): a signature nobody can check proves nothing.
pub fn verify_header(header: &Header, trusted: &[VerifyingKey]) -> SignatureStatus {
    let Some(sig) = &header.signature else {
        return SignatureStatus::Unsigned;
    };
    let invalid = |reason: &str| SignatureStatus::Invalid {
        key_id: Some(sig.key_id.clone()),
        reason: reason.to_owned(),
    };
    if sig.algorithm != "ed25519" {
        return invalid("unsupported signature algorithm");
    }
    let Some(key) = trusted.iter().find(|k| key_id(k) == sig.key_id) else {
        return invalid("signed by a key that is not trusted");
    };
    let Ok(bytes) = STANDARD.decode(&sig.value) else {
        return invalid("signature is not valid base64");
    };
    let Ok(signature) = ed25519_dalek::Signature::from_slice(&bytes) else {
        return invalid("signature has the wrong length");
    };
    match key.verify_strict(&signing_payload(header), &signature) {
        Ok(()) => SignatureStatus::Verified {
            key_id: sig.key_id.clone(),
        },
        Err(_) => invalid("signature does not match the header"),
    }
}

/// A key file that could not be used.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct KeyError(String);

/// A new key pair from the operating system's random source.
pub fn generate_key() -> Result<SigningKey, KeyError> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| KeyError(format!("no randomness available: {e}")))?;
    Ok(SigningKey::from_bytes(&seed))
}

/// PKCS#8 PEM of a private key (compatible with `openssl genpkey -algorithm ed25519`).
pub fn private_key_pem(key: &SigningKey) -> Result<String, KeyError> {
    key.to_pkcs8_pem(Default::default())
        .map(|pem| pem.to_string())
        .map_err(|e| KeyError(format!("cannot encode private key: {e}")))
}

/// SPKI PEM of a public key.
pub fn public_key_pem(key: &VerifyingKey) -> Result<String, KeyError> {
    key.to_public_key_pem(Default::default())
        .map_err(|e| KeyError(format!("cannot encode public key: {e}")))
}

/// Parses a PKCS#8 PEM private key.
pub fn parse_private_key(pem: &str) -> Result<SigningKey, KeyError> {
    SigningKey::from_pkcs8_pem(pem)
        .map_err(|e| KeyError(format!("not an Ed25519 PKCS#8 PEM private key: {e}")))
}

/// Parses an SPKI PEM public key.
pub fn parse_public_key(pem: &str) -> Result<VerifyingKey, KeyError> {
    VerifyingKey::from_public_key_pem(pem)
        .map_err(|e| KeyError(format!("not an Ed25519 PEM public key: {e}")))
}
