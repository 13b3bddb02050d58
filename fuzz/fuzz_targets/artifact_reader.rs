//! Arbitrary bytes into the artifact reader: typed errors, never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = barbacane_artifact::read_header(data);
    if let Ok(artifact) = barbacane_artifact::Artifact::from_bytes(data) {
        let _ = artifact.member_json::<barbacane_artifact::CompiledConfig>(barbacane_artifact::CONFIG_MEMBER);
    }
});
