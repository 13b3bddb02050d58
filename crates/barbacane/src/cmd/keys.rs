//! `keygen` and `verify`: the offline half of artifact signing.

use barbacane_artifact::{
    Artifact, PrivateKey, PublicKey, SignatureStatus, generate_key, key_id, parse_private_key,
    parse_public_key, private_key_pem, public_key_pem, verify_header,
};
use barbacane_proxy::exit_code;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::cli::{KeygenArgs, VerifyArgs};

pub fn keygen(args: KeygenArgs) -> i32 {
    let private_path = with_suffix(&args.out, "key");
    let public_path = with_suffix(&args.out, "pub");
    for p in [&private_path, &public_path] {
        if p.exists() && !args.force {
            eprintln!("error: {} exists; pass --force to overwrite", p.display());
            return exit_code::USAGE;
        }
    }
    let result = generate_key().map_err(|e| e.to_string()).and_then(|key| {
        let private = private_key_pem(&key).map_err(|e| e.to_string())?;
        let public = public_key_pem(&key.verifying_key()).map_err(|e| e.to_string())?;
        write_private(&private_path, private.as_bytes())
            .map_err(|e| format!("{}: {e}", private_path.display()))?;
        std::fs::write(&public_path, public)
            .map_err(|e| format!("{}: {e}", public_path.display()))?;
        Ok(key_id(&key.verifying_key()))
    });
    match result {
        Ok(id) => {
            eprintln!(
                "wrote {} (keep it secret) and {}\n  key_id: {id}",
                private_path.display(),
                public_path.display()
            );
            0
        }
        Err(e) => {
            eprintln!("error: {e}");
            1
        }
    }
}

fn with_suffix(prefix: &Path, suffix: &str) -> PathBuf {
    let mut name = prefix.as_os_str().to_owned();
    name.push(".");
    name.push(suffix);
    PathBuf::from(name)
}

/// Creates the private key file readable by its owner only. An existing file (`--force`)
/// is removed first: `mode` only applies to files the open creates.
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)?.write_all(bytes)
}

pub fn load_private_key(path: &Path) -> Result<PrivateKey, String> {
    let pem = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    parse_private_key(&pem).map_err(|e| format!("{}: {e}", path.display()))
}

pub fn load_public_keys(paths: &[PathBuf]) -> Result<Vec<PublicKey>, String> {
    paths
        .iter()
        .map(|path| {
            let pem = std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            parse_public_key(&pem).map_err(|e| format!("{}: {e}", path.display()))
        })
        .collect()
}

pub fn verify(args: VerifyArgs) -> i32 {
    let trusted = match load_public_keys(&args.trusted_keys) {
        Ok(k) => k,
        Err(e) => {
            eprintln!("error: {e}");
            return exit_code::USAGE;
        }
    };
    let bytes = match barbacane_proxy::snapshot_source(&args.artifact) {
        Ok(b) => b,
        Err(e) => {
            println!("FAIL {}: {e}", args.artifact.display());
            return exit_code::ARTIFACT_INVALID;
        }
    };
    // With trusted keys, the signature (over the header, member checksums included) is
    // checked on the header alone first: a forged file costs one header parse and one
    // signature check, not a pass over every member.
    if !trusted.is_empty()
        && let Ok(header) = barbacane_artifact::read_header(&bytes[..])
    {
        let status = verify_header(&header, &trusted);
        if !matches!(status, SignatureStatus::Verified { .. }) {
            return report_signature(status, false);
        }
    }
    let read = Artifact::from_bytes(&bytes)
        .map_err(|e| format!("invalid or tampered with: {e}"))
        .map(|a| (bytes, a));
    let (bytes, artifact) = match read {
        Ok(r) => r,
        Err(e) => {
            println!("FAIL {}: {e}", args.artifact.display());
            return exit_code::ARTIFACT_INVALID;
        }
    };
    let header = artifact.header();
    println!(
        "integrity: ok ({} members verified, {})",
        header.members.len(),
        header.artifact_hash
    );
    let code = report_signature(verify_header(header, &trusted), trusted.is_empty());
    match (&args.attestation, code) {
        (Some(path), 0) => super::evidence::verify_attestation(path, &bytes, header, &trusted),
        _ => code,
    }
}

/// Prints the signature line of `verify` and returns its exit code.
fn report_signature(status: SignatureStatus, no_keys: bool) -> i32 {
    match (status, no_keys) {
        (SignatureStatus::Verified { key_id }, _) => {
            println!("signature: verified (key {key_id})");
            0
        }
        (SignatureStatus::Unsigned, true) => {
            println!("signature: none (pass --trusted-key to require one)");
            0
        }
        (SignatureStatus::Invalid { key_id, .. }, true) => {
            println!(
                "signature: present (key {}), not checked: pass --trusted-key",
                key_id.as_deref().unwrap_or("-")
            );
            0
        }
        (SignatureStatus::Unsigned, false) => {
            println!("FAIL signature: the artifact is not signed");
            exit_code::SIGNATURE_REJECTED
        }
        (SignatureStatus::Invalid { key_id, reason }, false) => {
            println!(
                "FAIL signature (key {}): {reason}",
                key_id.as_deref().unwrap_or("-")
            );
            exit_code::SIGNATURE_REJECTED
        }
    }
}
