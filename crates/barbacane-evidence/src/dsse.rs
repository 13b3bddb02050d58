//! DSSE (Dead Simple Signing Envelope) v1 with Ed25519, the envelope in-toto attestations
//! travel in. The signature covers the pre-authentication encoding
//! `"DSSEv1" SP LEN(type) SP type SP LEN(body) SP body` (lengths in ASCII decimal), never the
//! JSON of the envelope, so the payload is verified as the exact bytes that were signed.
//! The `keyid` written is the in-toto / TUF key id of the Ed25519 key ([`dsse_key_id`]), what
//! `securesystemslib` computes for it by default; [`verify`] also accepts the artifact key id
//! `barbacane keygen` prints (`barbacane_artifact::key_id`) and an empty `keyid`.

use barbacane_artifact::{PrivateKey, PublicKey, key_id, sha256_hex};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::{Signature, Signer, Verifier};
use serde::{Deserialize, Serialize};

/// The payload type of in-toto statements.
pub const IN_TOTO_PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";

/// A DSSE envelope (JSON field names as the DSSE spec gives them).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    /// Base64 (standard, padded) of the payload.
    pub payload: String,
    /// How to interpret the payload.
    #[serde(rename = "payloadType")]
    pub payload_type: String,
    /// Zero or more signatures over [`pae`] of the payload.
    pub signatures: Vec<EnvelopeSignature>,
}

/// One signature of an [`Envelope`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvelopeSignature {
    /// Which key signed.
    #[serde(default)]
    pub keyid: String,
    /// Base64 of the 64-byte Ed25519 signature.
    pub sig: String,
}

/// The in-toto / TUF key id of an Ed25519 key: the SHA-256 of the canonical JSON
/// `{"keytype":"ed25519","keyval":{"public":"<hex>"},"scheme":"ed25519"}`.
pub fn dsse_key_id(key: &PublicKey) -> String {
    let hex: String = key.as_bytes().iter().map(|b| format!("{b:02x}")).collect();
    sha256_hex(
        format!(r#"{{"keytype":"ed25519","keyval":{{"public":"{hex}"}},"scheme":"ed25519"}}"#)
            .as_bytes(),
    )
}

/// Whether `keyid` names `key` (either id form; an empty keyid names any key).
fn names(keyid: &str, key: &PublicKey) -> bool {
    keyid.is_empty() || keyid == key_id(key) || keyid == dsse_key_id(key)
}

/// The pre-authentication encoding of DSSE v1.
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "DSSEv1 {} {payload_type} {} ",
        payload_type.len(),
        payload.len()
    )
    .into_bytes();
    out.extend_from_slice(payload);
    out
}

/// Wraps `payload`, signed by `key` when there is one (an envelope without signatures
/// otherwise, which [`verify`] reports as unsigned).
pub fn seal(payload: &[u8], payload_type: &str, key: Option<&PrivateKey>) -> Envelope {
    let signatures = key
        .map(|key| EnvelopeSignature {
            keyid: dsse_key_id(&key.verifying_key()),
            sig: STANDARD.encode(key.sign(&pae(payload_type, payload)).to_bytes()),
        })
        .into_iter()
        .collect();
    Envelope {
        payload: STANDARD.encode(payload),
        payload_type: payload_type.to_owned(),
        signatures,
    }
}

/// Why an envelope does not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DsseError {
    /// The payload is not base64.
    #[error("the payload is not base64")]
    Payload,
    /// No signature at all.
    #[error("the envelope carries no signature")]
    Unsigned,
    /// No signature by a trusted key.
    #[error("signed by {0}, none of which is a trusted key")]
    Untrusted(String),
    /// A signature by a trusted key that does not match the payload.
    #[error("the signature by trusted key {0} does not match the payload (tampered with)")]
    BadSignature(String),
}

/// The payload, if some signature of a trusted key verifies. A trusted key's signature that
/// fails is reported as tampering even when another signature is unknown.
pub fn verify(envelope: &Envelope, trusted: &[PublicKey]) -> Result<(String, Vec<u8>), DsseError> {
    let payload = STANDARD
        .decode(&envelope.payload)
        .map_err(|_| DsseError::Payload)?;
    if envelope.signatures.is_empty() {
        return Err(DsseError::Unsigned);
    }
    let message = pae(&envelope.payload_type, &payload);
    let mut bad = None;
    for s in &envelope.signatures {
        // A signature without a usable key id is tried against every trusted key.
        for key in trusted.iter().filter(|k| names(&s.keyid, k)) {
            let ok = STANDARD
                .decode(&s.sig)
                .ok()
                .and_then(|b| Signature::from_slice(&b).ok())
                .is_some_and(|sig| key.verify(&message, &sig).is_ok());
            if ok {
                return Ok((key_id(key), payload));
            }
            if !s.keyid.is_empty() {
                bad = Some(s.keyid.clone());
            }
        }
    }
    match bad {
        Some(k) => Err(DsseError::BadSignature(k)),
        None => Err(DsseError::Untrusted(
            envelope
                .signatures
                .iter()
                .map(|s| {
                    if s.keyid.is_empty() {
                        "an unnamed key".to_owned()
                    } else {
                        format!("key {}", s.keyid)
                    }
                })
                .collect::<Vec<_>>()
                .join(", "),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pae_matches_the_spec_example() {
        // The DSSE protocol document's example.
        assert_eq!(
            pae("http://example.com/HelloWorld", b"hello world"),
            b"DSSEv1 29 http://example.com/HelloWorld 11 hello world".to_vec()
        );
    }

    #[test]
    fn seal_verify_and_every_failure() {
        let key = barbacane_artifact::generate_key().unwrap();
        let other = barbacane_artifact::generate_key().unwrap();
        let env = seal(b"{}", IN_TOTO_PAYLOAD_TYPE, Some(&key));
        let (id, payload) = verify(&env, &[key.verifying_key()]).unwrap();
        assert_eq!(
            (id, payload),
            (key_id(&key.verifying_key()), b"{}".to_vec())
        );
        assert!(matches!(
            verify(&env, &[other.verifying_key()]),
            Err(DsseError::Untrusted(_))
        ));
        let mut tampered = env.clone();
        tampered.payload = STANDARD.encode(b"{ }");
        assert!(matches!(
            verify(&tampered, &[key.verifying_key()]),
            Err(DsseError::BadSignature(_))
        ));
        let mut retyped = env.clone();
        retyped.payload_type = "text/plain".into();
        assert!(matches!(
            verify(&retyped, &[key.verifying_key()]),
            Err(DsseError::BadSignature(_))
        ));
        let unsigned = seal(b"{}", IN_TOTO_PAYLOAD_TYPE, None);
        assert_eq!(
            verify(&unsigned, &[key.verifying_key()]),
            Err(DsseError::Unsigned)
        );
    }
}
