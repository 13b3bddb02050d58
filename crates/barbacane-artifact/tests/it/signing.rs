//! Ed25519 signatures over the header.

use barbacane_artifact::*;

use crate::sample;

#[test]
fn signed_artifact_verifies_with_the_trusted_key_only() {
    let key = generate_key().unwrap();
    let other = generate_key().unwrap();
    let bytes = sample().encode_signed(&key).unwrap();
    let artifact = Artifact::from_bytes(&bytes).unwrap();
    let header = artifact.header();
    let sig = header.signature.as_ref().unwrap();
    assert_eq!(sig.algorithm, "ed25519");
    assert_eq!(sig.key_id, key_id(&key.verifying_key()));
    assert_eq!(
        verify_header(header, &[other.verifying_key(), key.verifying_key()]),
        SignatureStatus::Verified {
            key_id: key_id(&key.verifying_key())
        }
    );
    assert_eq!(
        verify_header(header, &[other.verifying_key()]).as_str(),
        "invalid"
    );
    assert_eq!(verify_header(header, &[]).as_str(), "invalid");
}

#[test]
fn unsigned_is_reported_as_such() {
    let bytes = sample().encode().unwrap();
    let artifact = Artifact::from_bytes(&bytes).unwrap();
    let key = generate_key().unwrap();
    assert_eq!(
        verify_header(artifact.header(), &[key.verifying_key()]),
        SignatureStatus::Unsigned
    );
}

#[test]
fn any_header_change_breaks_the_signature() {
    let key = generate_key().unwrap();
    let bytes = sample().encode_signed(&key).unwrap();
    let header = Artifact::from_bytes(&bytes).unwrap().header().clone();
    let trusted = [key.verifying_key()];
    let mut commit = header.clone();
    commit.provenance_commit = Some("forged".into());
    let mut member = header.clone();
    member.members[0].sha256 = "0".repeat(64);
    let mut metadata = header.clone();
    metadata.metadata.insert("k".into(), "v".into());
    for forged in [commit, member, metadata] {
        assert_eq!(verify_header(&forged, &trusted).as_str(), "invalid");
    }
    assert_eq!(verify_header(&header, &trusted).as_str(), "verified");
}

#[test]
fn keys_round_trip_through_pem() {
    let key = generate_key().unwrap();
    let private = private_key_pem(&key).unwrap();
    let public = public_key_pem(&key.verifying_key()).unwrap();
    assert!(private.contains("BEGIN PRIVATE KEY") && public.contains("BEGIN PUBLIC KEY"));
    assert_eq!(
        parse_private_key(&private).unwrap().to_bytes(),
        key.to_bytes()
    );
    assert_eq!(parse_public_key(&public).unwrap(), key.verifying_key());
    assert!(parse_public_key(&private).is_err());
    assert!(parse_private_key("garbage").is_err());
}
