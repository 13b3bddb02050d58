//! Integration tests of the artifact format: round trips, tamper detection, fuzz-style input.

use barbacane_artifact::*;
use proptest::prelude::*;

mod signing;

pub(crate) fn sample() -> ArtifactBuilder {
    let mut b = ArtifactBuilder::default();
    b.artifact_hash = fingerprint(vec![Input::new(
        InputKind::Spec,
        "api.yaml",
        b"openapi: 3.1.0",
    )])
    .unwrap()
    .0;
    b.build_timestamp = "2026-01-01T00:00:00Z".into();
    b.compiler_version = "0.1.0".into();
    b.inputs = vec![Input::new(InputKind::Spec, "api.yaml", b"openapi: 3.1.0")];
    b.provenance_commit = Some("abc123".into());
    b.metadata.insert("team".into(), "payments".into());
    b.add_member("config.json", br#"{"operations":[]}"#.to_vec())
        .unwrap();
    b.add_member("specs/api.yaml", b"openapi: 3.1.0".to_vec())
        .unwrap();
    b
}

#[test]
fn round_trip_keeps_header_and_members() {
    let bytes = sample().encode().unwrap();
    let artifact = Artifact::from_bytes(&bytes).unwrap();
    assert_eq!(artifact.header(), &sample().header());
    assert_eq!(
        artifact.member("specs/api.yaml"),
        Some(&b"openapi: 3.1.0"[..])
    );
    let config: CompiledConfig = artifact.member_json(CONFIG_MEMBER).unwrap();
    assert!(config.operations.is_empty());
    assert_eq!(read_header(&bytes[..]).unwrap(), sample().header());
}

#[test]
fn encoding_is_deterministic() {
    assert_eq!(sample().encode().unwrap(), sample().encode().unwrap());
}

#[test]
fn any_flipped_member_byte_is_detected() {
    let bytes = sample().encode().unwrap();
    let header_end = 12 + u32::from_le_bytes(bytes[8..12].try_into().unwrap()) as usize;
    for i in header_end..bytes.len() {
        let mut tampered = bytes.clone();
        tampered[i] ^= 0x01;
        let err = Artifact::from_bytes(&tampered).unwrap_err();
        assert!(
            matches!(err, ArtifactError::ChecksumMismatch { .. }),
            "byte {i}: {err}"
        );
    }
}

#[test]
fn rewritten_member_with_untouched_header_is_detected() {
    let bytes = sample().encode().unwrap();
    let header_end = 12 + u32::from_le_bytes(bytes[8..12].try_into().unwrap()) as usize;
    let mut tampered = bytes[..header_end].to_vec();
    // Same length, different routes: what an attacker dropping a route would write.
    tampered.extend_from_slice(br#"{"operations":[] }"#);
    tampered.extend_from_slice(b"openapi: 3.1.0");
    assert!(matches!(
        Artifact::from_bytes(&tampered),
        Err(ArtifactError::ChecksumMismatch { member, .. }) if member == "config.json"
    ));
}

#[test]
fn structural_damage_gives_typed_errors() {
    let bytes = sample().encode().unwrap();
    assert!(matches!(
        Artifact::from_bytes(b"PK\x03\x04zip-file-bytes"),
        Err(ArtifactError::BadMagic)
    ));
    assert!(matches!(
        Artifact::from_bytes(&bytes[..bytes.len() - 1]),
        Err(ArtifactError::Truncated { .. })
    ));
    let mut trailing = bytes.clone();
    trailing.push(0);
    assert!(matches!(
        Artifact::from_bytes(&trailing),
        Err(ArtifactError::TrailingBytes { count: 1 })
    ));
    let mut huge = MAGIC.to_vec();
    huge.extend_from_slice(&u32::MAX.to_le_bytes());
    assert!(matches!(
        Artifact::from_bytes(&huge),
        Err(ArtifactError::HeaderTooLarge { .. })
    ));
}

#[test]
fn future_format_version_is_reported_as_such() {
    let header = br#"{"format_version":99}"#;
    let mut bytes = MAGIC.to_vec();
    bytes.extend_from_slice(&(header.len() as u32).to_le_bytes());
    bytes.extend_from_slice(header);
    assert!(matches!(
        Artifact::from_bytes(&bytes),
        Err(ArtifactError::UnsupportedVersion {
            found: 99,
            supported: FORMAT_VERSION
        })
    ));
}

#[test]
fn header_provenance_must_match_the_inputs_and_members() {
    let mut forged = sample();
    forged.artifact_hash = format!("sha256:{}", "0".repeat(64));
    assert!(matches!(
        Artifact::from_bytes(&forged.encode().unwrap()),
        Err(ArtifactError::FingerprintMismatch { .. })
    ));
    let mut missing = sample();
    let extra = Input::new(InputKind::Plugin, "p.wasm", b"not bundled");
    missing.inputs.push(extra.clone());
    missing.artifact_hash = fingerprint(missing.inputs.clone()).unwrap().0;
    assert!(matches!(
        Artifact::from_bytes(&missing.encode().unwrap()),
        Err(ArtifactError::InputNotBundled { name, .. }) if name == "p.wasm"
    ));
}

#[test]
fn hostile_member_names_are_refused() {
    for name in ["../etc/passwd", "/abs", "a//b", "", "a/./b"] {
        assert!(sample().add_member(name, vec![]).is_err(), "{name}");
    }
}

proptest! {
    #[test]
    fn reader_never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = Artifact::from_bytes(&bytes);
        let _ = read_header(&bytes[..]);
    }

    #[test]
    fn reader_never_panics_on_mutated_artifacts(pos in 0usize..4096, byte in any::<u8>()) {
        let mut bytes = sample().encode().unwrap();
        let len = bytes.len();
        bytes[pos % len] = byte;
        let _ = Artifact::from_bytes(&bytes);
    }

    #[test]
    fn members_round_trip(members in proptest::collection::btree_map("[a-z]{1,8}(/[a-z]{1,8})?", proptest::collection::vec(any::<u8>(), 0..64), 0..6)) {
        let mut b = sample();
        for (name, bytes) in &members {
            b.add_member(format!("x/{name}"), bytes.clone()).unwrap();
        }
        let artifact = Artifact::from_bytes(&b.encode().unwrap()).unwrap();
        for (name, bytes) in &members {
            prop_assert_eq!(artifact.member(&format!("x/{name}")), Some(bytes.as_slice()));
        }
    }
}

mod content_hash {
    use barbacane_artifact::{Artifact, ArtifactBuilder, ArtifactError, sha256_hex};

    fn builder(timestamp: &str, body: &[u8]) -> ArtifactBuilder {
        let mut b = super::sample();
        b.build_timestamp = timestamp.into();
        b.add_member("config.json", body.to_vec()).unwrap();
        b
    }

    #[test]
    fn binds_the_members_not_the_build_time() {
        let a = Artifact::from_bytes(&builder("2024-01-01T00:00:00Z", b"{}").encode().unwrap())
            .unwrap();
        let b = Artifact::from_bytes(&builder("2026-12-06T00:00:00Z", b"{}").encode().unwrap())
            .unwrap();
        let c = Artifact::from_bytes(
            &builder("2024-01-01T00:00:00Z", b"{\"x\":1}")
                .encode()
                .unwrap(),
        )
        .unwrap();
        assert_eq!(a.content_hash(), b.content_hash());
        assert_ne!(a.content_hash(), c.content_hash());
        assert_eq!(a.header().content_hash.as_deref(), Some(a.content_hash()));
        assert_eq!(
            a.header().artifact_hash,
            c.header().artifact_hash,
            "same inputs"
        );
    }

    /// Re-encodes an artifact with a new header (what an attacker with write access can do).
    fn reseal(bytes: &[u8], edit: impl FnOnce(&mut serde_json::Value)) -> Vec<u8> {
        let len = u32::from_le_bytes(bytes[8..12].try_into().unwrap()) as usize;
        let mut header: serde_json::Value = serde_json::from_slice(&bytes[12..12 + len]).unwrap();
        edit(&mut header);
        let new = serde_json::to_vec(&header).unwrap();
        let mut out = bytes[..8].to_vec();
        out.extend((new.len() as u32).to_le_bytes());
        out.extend(new);
        out.extend(&bytes[12 + len..]);
        out
    }

    #[test]
    fn a_stored_value_that_is_not_the_members_is_refused() {
        let bytes = builder("2024-01-01T00:00:00Z", b"{}").encode().unwrap();
        let forged = reseal(&bytes, |h| h["content_hash"] = "sha256:00".into());
        assert!(matches!(
            Artifact::from_bytes(&forged),
            Err(ArtifactError::ContentHashMismatch { .. })
        ));
    }

    #[test]
    fn a_resealed_artifact_keeps_its_artifact_hash_but_not_its_content_hash() {
        let original = builder("2024-01-01T00:00:00Z", b"{}").encode().unwrap();
        let honest = Artifact::from_bytes(&original).unwrap();
        // Replace config.json (last member) and fix its size and checksum in the header,
        // and the stored content hash: the file loads, with the approved artifact_hash...
        let evil = b"{\"evil\":1}";
        let len = u32::from_le_bytes(original[8..12].try_into().unwrap()) as usize;
        let header: serde_json::Value = serde_json::from_slice(&original[12..12 + len]).unwrap();
        let members = header["members"].as_array().unwrap().clone();
        let mut body = Vec::new();
        let mut offset = 12 + len;
        let mut new_members = Vec::new();
        for m in &members {
            let size = m["size"].as_u64().unwrap() as usize;
            let mut bytes = original[offset..offset + size].to_vec();
            offset += size;
            let mut m = m.clone();
            if m["name"] == "config.json" {
                bytes = evil.to_vec();
                m["size"] = bytes.len().into();
                m["sha256"] = sha256_hex(&bytes).into();
            }
            body.extend(bytes);
            new_members.push(m);
        }
        let parsed: Vec<barbacane_artifact::Member> =
            serde_json::from_value(serde_json::Value::Array(new_members.clone())).unwrap();
        let recomputed = barbacane_artifact::content_hash(&parsed);
        let mut forged = reseal(&original[..12 + len], |h| {
            h["members"] = serde_json::Value::Array(new_members);
            h["content_hash"] = recomputed.clone().into();
        });
        forged.extend(body);
        let loaded = Artifact::from_bytes(&forged).expect("a consistent re-seal loads");
        assert_eq!(loaded.header().artifact_hash, honest.header().artifact_hash);
        // ...but its content hash is not the approved one: that is what drift compares.
        assert_ne!(loaded.content_hash(), honest.content_hash());
        assert_eq!(loaded.member("config.json"), Some(&evil[..]));
    }
}
