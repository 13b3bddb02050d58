//! `sbom`, `oci-labels`, `oci-layout`, and the attestation halves of `compile` and `verify`:
//! thin wrappers over `barbacane-evidence`, which derives every document from the artifact.

use barbacane_artifact::{Artifact, Header, PrivateKey, PublicKey, sha256_hex};
use barbacane_evidence::attestation::{self, Build, Failure};
use barbacane_evidence::{oci, sbom as bom};
use barbacane_proxy::exit_code;
use serde_json::{Value, json};
use std::io::Write;
use std::path::Path;

use crate::cli::{LabelFormat, OciLabelsArgs, OciLayoutArgs, SbomArgs};

/// `verify --attestation`: the attestation is not a DSSE envelope of a SLSA v1 statement.
pub const ATTESTATION_MALFORMED: i32 = 20;
/// `verify --attestation`: unsigned, or signed by no trusted key.
pub const ATTESTATION_UNTRUSTED: i32 = 21;
/// `verify --attestation`: a trusted key's signature does not match (tampered with).
pub const ATTESTATION_TAMPERED: i32 = 22;
/// `verify --attestation`: the subject is another file.
pub const ATTESTATION_SUBJECT: i32 = 23;
/// `verify --attestation`: the resolved dependencies are not the header's inputs.
pub const ATTESTATION_DEPENDENCIES: i32 = 24;

/// Reads and checks an artifact; prints why not and returns exit 11 on failure.
fn read(path: &Path) -> Result<(Vec<u8>, Artifact), i32> {
    let bytes = barbacane_proxy::snapshot_source(path).map_err(|e| {
        eprintln!("error: {e}");
        exit_code::ARTIFACT_INVALID
    })?;
    match Artifact::from_bytes(&bytes) {
        Ok(a) => Ok((bytes, a)),
        Err(e) => {
            eprintln!(
                "error: {} is invalid or has been tampered with: {e}",
                path.display()
            );
            Err(exit_code::ARTIFACT_INVALID)
        }
    }
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "artifact.bca".to_owned())
}

fn pretty(value: &Value) -> Vec<u8> {
    let mut out = serde_json::to_vec_pretty(value).unwrap_or_default();
    out.push(b'\n');
    out
}

pub fn sbom(args: SbomArgs) -> i32 {
    let (bytes, artifact) = match read(&args.artifact) {
        Ok(r) => r,
        Err(code) => return code,
    };
    let doc = pretty(&bom::sbom(
        &artifact,
        &file_name(&args.artifact),
        &sha256_hex(&bytes),
    ));
    match &args.output {
        Some(path) => match std::fs::write(path, &doc) {
            Ok(()) => {
                eprintln!("wrote the CycloneDX 1.6 SBOM to {}", path.display());
                0
            }
            Err(e) => {
                eprintln!("error: cannot write {}: {e}", path.display());
                1
            }
        },
        None => {
            let _ = std::io::stdout().write_all(&doc);
            0
        }
    }
}

pub fn oci_labels(args: OciLabelsArgs) -> i32 {
    let (_, artifact) = match read(&args.artifact) {
        Ok(r) => r,
        Err(code) => return code,
    };
    let labels = oci::labels(artifact.header());
    match args.format {
        LabelFormat::Args => {
            for (k, v) in &labels {
                println!("--label={k}={v}");
            }
        }
        LabelFormat::Json => {
            let _ = std::io::stdout().write_all(&pretty(&json!(labels)));
        }
    }
    0
}

pub fn oci_layout(args: OciLayoutArgs) -> i32 {
    let (bytes, artifact) = match read(&args.artifact) {
        Ok(r) => r,
        Err(code) => return code,
    };
    let sha = sha256_hex(&bytes);
    let attestation = match &args.attestation {
        None => None,
        Some(path) => match std::fs::read(path) {
            Ok(env) => match attestation::subject_digests(&env) {
                Ok(digests) if digests.contains(&sha) => Some(env),
                Ok(_) => {
                    eprintln!(
                        "error: {} is not about {} (sha256:{sha})",
                        path.display(),
                        args.artifact.display()
                    );
                    return ATTESTATION_SUBJECT;
                }
                Err(e) => {
                    eprintln!("error: {}: {e}", path.display());
                    return ATTESTATION_MALFORMED;
                }
            },
            Err(e) => {
                eprintln!("error: cannot read {}: {e}", path.display());
                return exit_code::USAGE;
            }
        },
    };
    let sbom = pretty(&bom::sbom(&artifact, &file_name(&args.artifact), &sha));
    let contents = oci::LayoutContents {
        artifact: &bytes,
        header: artifact.header(),
        sbom: &sbom,
        attestation: attestation.as_deref(),
        tag: &args.tag,
    };
    match oci::write_layout(&args.output, &contents) {
        Ok(w) => {
            eprintln!(
                "wrote {} to the OCI layout {} as `{}` (manifest {}, {} layers)\n  push it: skopeo copy oci:{}:{} docker://REGISTRY/REPO:{}",
                args.artifact.display(),
                args.output.display(),
                args.tag,
                w.manifest_digest,
                2 + usize::from(attestation.is_some()),
                args.output.display(),
                args.tag,
                args.tag,
            );
            0
        }
        Err(e) => {
            eprintln!("error: {e}");
            1
        }
    }
}

/// What `compile --attestation` records about its invocation.
pub struct Invocation<'a> {
    pub output: &'a Path,
    pub header: &'a Header,
    pub base_path: Option<&'a str>,
    pub allow_plaintext_upstream: bool,
    pub lenient_patterns: bool,
    pub allow_unenforced_security: bool,
    pub started_on: String,
    pub finished_on: String,
}

/// Writes the signed attestation of the artifact `bytes` to `path`.
pub fn write_attestation(
    path: &Path,
    bytes: &[u8],
    invocation: &Invocation<'_>,
    key: &PrivateKey,
) -> std::io::Result<()> {
    let header = invocation.header;
    let names = |kind: barbacane_artifact::InputKind| -> Vec<&str> {
        header
            .inputs
            .iter()
            .filter(|i| i.kind == kind)
            .map(|i| i.name.as_str())
            .collect()
    };
    let external = json!({
        "specs": names(barbacane_artifact::InputKind::Spec),
        "manifest": names(barbacane_artifact::InputKind::Manifest).first(),
        "base_path": invocation.base_path,
        "allow_plaintext_upstream": invocation.allow_plaintext_upstream,
        "lenient_patterns": invocation.lenient_patterns,
        "allow_unenforced_security": invocation.allow_unenforced_security,
        "provenance_commit": header.provenance_commit,
        "provenance_source": header.provenance_source,
        "provenance": header.metadata,
    });
    let name = file_name(invocation.output);
    let sha = sha256_hex(bytes);
    let build = Build {
        subject_name: &name,
        subject_sha256: &sha,
        header,
        external_parameters: external,
        builder_id: attestation::CLI_BUILDER,
        started_on: &invocation.started_on,
        finished_on: &invocation.finished_on,
        invocation_id: None,
    };
    let envelope = attestation::envelope(&build, Some(key));
    let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
    std::fs::write(&tmp, envelope)?;
    std::fs::rename(&tmp, path)
}

/// `verify --attestation`: prints the outcome and returns the exit code.
pub fn verify_attestation(
    path: &Path,
    bytes: &[u8],
    header: &Header,
    trusted: &[PublicKey],
) -> i32 {
    let envelope = match std::fs::read(path) {
        Ok(e) => e,
        Err(e) => {
            println!("FAIL attestation: cannot read {}: {e}", path.display());
            return ATTESTATION_MALFORMED;
        }
    };
    match attestation::verify(&envelope, bytes, header, trusted) {
        Ok(v) => {
            println!(
                "attestation: verified (key {}, builder {}, {} dependencies = the header's inputs)",
                v.key_id, v.builder_id, v.dependencies
            );
            0
        }
        Err(e) => {
            let (check, code) = match e.failure {
                Failure::Malformed => ("format", ATTESTATION_MALFORMED),
                Failure::Untrusted => ("signature", ATTESTATION_UNTRUSTED),
                Failure::BadSignature => ("signature", ATTESTATION_TAMPERED),
                Failure::Subject => ("subject", ATTESTATION_SUBJECT),
                Failure::Dependencies => ("dependencies", ATTESTATION_DEPENDENCIES),
            };
            println!("FAIL attestation {check}: {}", e.message);
            code
        }
    }
}
