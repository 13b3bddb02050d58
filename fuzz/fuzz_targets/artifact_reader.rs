//! Arbitrary bytes into the artifact reader: typed errors, never a panic.
//!
//! Two modes, chosen by the first byte. Raw (even): the bytes are an artifact file; mutations
//! almost never get past the member checksums. Re-sealed (odd): the rest of the input is
//! the `config.json` member of a consistently sealed artifact (sizes, checksums, content
//! hash all correct), so the decoder of the compiled configuration sees arbitrary bytes.
#![no_main]
use barbacane_artifact::{Artifact, ArtifactBuilder, CONFIG_MEMBER, CompiledConfig, read_header};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let bytes = if mode % 2 == 0 {
        rest.to_vec()
    } else {
        let Ok((artifact_hash, inputs)) = barbacane_artifact::fingerprint(Vec::new()) else {
            return;
        };
        let mut builder = ArtifactBuilder::default();
        builder.artifact_hash = artifact_hash;
        builder.inputs = inputs;
        builder.build_timestamp = "2024-01-01T00:00:00Z".into();
        builder.compiler_version = "fuzz".into();
        if builder.add_member(CONFIG_MEMBER, rest.to_vec()).is_err() {
            return;
        }
        match builder.encode() {
            Ok(b) => b,
            Err(_) => return,
        }
    };
    let _ = read_header(bytes.as_slice());
    if let Ok(artifact) = Artifact::from_bytes(&bytes) {
        let _ = artifact.member_json::<CompiledConfig>(CONFIG_MEMBER);
    }
});
