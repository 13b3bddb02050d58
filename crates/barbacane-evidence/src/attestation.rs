//! Build provenance: an in-toto Statement v1 about one `.bca` file with a SLSA v1 provenance
//! predicate, in a DSSE envelope ([`crate::dsse`]).
//!
//! - `subject`: the file's name and SHA-256.
//! - `buildDefinition.buildType`: [`BUILD_TYPE`]; `externalParameters`: what the caller
//!   asked for (specs, manifest, flags, or the control plane's project and revisions);
//!   `internalParameters`: the header's `artifact_hash`, `content_hash` and format version;
//!   `resolvedDependencies`: every input of the header with its SHA-256 and its kind, the
//!   same list `artifact_hash` fingerprints.
//! - `runDetails.builder`: the builder id and the compiler version; `metadata`: start and
//!   finish times (both `SOURCE_DATE_EPOCH` when the caller honours it) and an invocation id.

use barbacane_artifact::{Header, Input, PrivateKey, PublicKey, sha256_hex};
use serde_json::{Value, json};

use crate::dsse::{self, DsseError, Envelope, IN_TOTO_PAYLOAD_TYPE};

/// The in-toto statement type.
pub const STATEMENT_TYPE: &str = "https://in-toto.io/Statement/v1";
/// The SLSA provenance predicate type.
pub const PREDICATE_TYPE: &str = "https://slsa.dev/provenance/v1";
/// What a Barbacane compile is, for verifiers that dispatch on the build type.
pub const BUILD_TYPE: &str = "urn:barbacane:build-type:compile:v1";
/// The builder id of `barbacane compile`.
pub const CLI_BUILDER: &str = "urn:barbacane:builder:cli";
/// The builder id of `barbacane-control`'s compile workers.
pub const CONTROL_PLANE_BUILDER: &str = "urn:barbacane:builder:control-plane";

/// What one build did, beyond what the artifact's header says.
#[derive(Debug, Clone)]
pub struct Build<'a> {
    /// The subject's name (the artifact's file name).
    pub subject_name: &'a str,
    /// Lowercase hex SHA-256 of the `.bca` bytes.
    pub subject_sha256: &'a str,
    /// The artifact's header.
    pub header: &'a Header,
    /// What the build was asked for.
    pub external_parameters: Value,
    /// [`CLI_BUILDER`], [`CONTROL_PLANE_BUILDER`], or the caller's own.
    pub builder_id: &'a str,
    /// RFC 3339 start time.
    pub started_on: &'a str,
    /// RFC 3339 finish time.
    pub finished_on: &'a str,
    /// An id of this build (a compilation id), when there is one.
    pub invocation_id: Option<String>,
}

/// The in-toto statement of `build`.
pub fn statement(build: &Build<'_>) -> Value {
    let header = build.header;
    let mut internal = json!({
        "artifact_hash": header.artifact_hash,
        "format_version": header.format_version,
    });
    if let Some(c) = &header.content_hash {
        internal["content_hash"] = json!(c);
    }
    let mut metadata = json!({
        "startedOn": build.started_on,
        "finishedOn": build.finished_on,
    });
    if let Some(id) = &build.invocation_id {
        metadata["invocationId"] = json!(id);
    }
    json!({
        "_type": STATEMENT_TYPE,
        "subject": [{"name": build.subject_name, "digest": {"sha256": build.subject_sha256}}],
        "predicateType": PREDICATE_TYPE,
        "predicate": {
            "buildDefinition": {
                "buildType": BUILD_TYPE,
                "externalParameters": build.external_parameters,
                "internalParameters": internal,
                "resolvedDependencies": header.inputs.iter().map(dependency).collect::<Vec<_>>(),
            },
            "runDetails": {
                "builder": {
                    "id": build.builder_id,
                    "version": {"barbacane-compiler": header.compiler_version},
                },
                "metadata": metadata,
            },
        },
    })
}

/// The statement of `build` in a DSSE envelope, signed when `key` is given, as JSON bytes.
pub fn envelope(build: &Build<'_>, key: Option<&PrivateKey>) -> Vec<u8> {
    // Serializing plain JSON values cannot fail.
    let payload = serde_json::to_vec(&statement(build)).unwrap_or_default();
    serde_json::to_vec(&dsse::seal(&payload, IN_TOTO_PAYLOAD_TYPE, key)).unwrap_or_default()
}

fn dependency(input: &Input) -> Value {
    json!({
        "name": input.name,
        "digest": {"sha256": input.sha256},
        "annotations": {"kind": input.kind.as_str()},
    })
}

/// Which check of [`verify`] failed. Each has its own exit code in `barbacane verify`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// Not a DSSE envelope holding an in-toto statement with a SLSA v1 predicate.
    Malformed,
    /// Unsigned, or signed only by keys that are not trusted.
    Untrusted,
    /// Signed by a trusted key, but the signature does not match (tampered with).
    BadSignature,
    /// The subject is not this file (an attestation of another artifact).
    Subject,
    /// The resolved dependencies differ from the header's inputs.
    Dependencies,
}

/// A failed check and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct VerifyError {
    /// Which check.
    pub failure: Failure,
    /// What it found.
    pub message: String,
}

fn fail(failure: Failure, message: impl Into<String>) -> VerifyError {
    VerifyError {
        failure,
        message: message.into(),
    }
}

/// What a verified attestation says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// The key that signed.
    pub key_id: String,
    /// The builder id.
    pub builder_id: String,
    /// How many resolved dependencies matched the header's inputs.
    pub dependencies: usize,
}

/// Checks, in order: the envelope's signature by one of `trusted`, the statement's shape, the
/// subject's SHA-256 against `file` (the `.bca` bytes), and the resolved dependencies against
/// `header.inputs` (as a set of kind, name and digest).
pub fn verify(
    envelope: &[u8],
    file: &[u8],
    header: &Header,
    trusted: &[PublicKey],
) -> Result<Verified, VerifyError> {
    let envelope: Envelope = serde_json::from_slice(envelope)
        .map_err(|e| fail(Failure::Malformed, format!("not a DSSE envelope: {e}")))?;
    if envelope.payload_type != IN_TOTO_PAYLOAD_TYPE {
        return Err(fail(
            Failure::Malformed,
            format!(
                "payloadType is `{}`, not `{IN_TOTO_PAYLOAD_TYPE}`",
                envelope.payload_type
            ),
        ));
    }
    let (key_id, payload) = dsse::verify(&envelope, trusted).map_err(|e| match e {
        DsseError::Payload => fail(Failure::Malformed, e.to_string()),
        DsseError::Unsigned | DsseError::Untrusted(_) => fail(Failure::Untrusted, e.to_string()),
        DsseError::BadSignature(_) => fail(Failure::BadSignature, e.to_string()),
    })?;
    let statement: Value = serde_json::from_slice(&payload)
        .map_err(|e| fail(Failure::Malformed, format!("the payload is not JSON: {e}")))?;
    for (field, want) in [("_type", STATEMENT_TYPE), ("predicateType", PREDICATE_TYPE)] {
        if statement[field] != want {
            return Err(fail(
                Failure::Malformed,
                format!("{field} is {}, not {want}", statement[field]),
            ));
        }
    }
    let digest = sha256_hex(file);
    let subjects = statement["subject"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    if !subjects
        .iter()
        .any(|s| s["digest"]["sha256"] == digest.as_str())
    {
        let named: Vec<String> = subjects
            .iter()
            .map(|s| {
                format!(
                    "{} (sha256:{})",
                    s["name"].as_str().unwrap_or("?"),
                    s["digest"]["sha256"].as_str().unwrap_or("?")
                )
            })
            .collect();
        return Err(fail(
            Failure::Subject,
            format!(
                "the attestation is about {}, not this file (sha256:{digest})",
                if named.is_empty() {
                    "nothing".to_owned()
                } else {
                    named.join(", ")
                }
            ),
        ));
    }
    let predicate = &statement["predicate"];
    let resolved = predicate["buildDefinition"]["resolvedDependencies"]
        .as_array()
        .ok_or_else(|| {
            fail(
                Failure::Malformed,
                "the predicate has no resolvedDependencies",
            )
        })?;
    let mut attested: Vec<(String, String, String)> = resolved
        .iter()
        .map(|d| {
            (
                d["annotations"]["kind"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                d["name"].as_str().unwrap_or_default().to_owned(),
                d["digest"]["sha256"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            )
        })
        .collect();
    let mut inputs: Vec<(String, String, String)> = header
        .inputs
        .iter()
        .map(|i| (i.kind.as_str().to_owned(), i.name.clone(), i.sha256.clone()))
        .collect();
    attested.sort();
    inputs.sort();
    if attested != inputs {
        let missing: Vec<String> = inputs
            .iter()
            .filter(|i| !attested.contains(i))
            .map(|(k, n, _)| format!("{k} {n}"))
            .collect();
        let extra: Vec<String> = attested
            .iter()
            .filter(|i| !inputs.contains(i))
            .map(|(k, n, _)| format!("{k} {n}"))
            .collect();
        return Err(fail(
            Failure::Dependencies,
            format!(
                "the resolved dependencies differ from the artifact's inputs: not attested [{}], attested but not inputs [{}]",
                missing.join(", "),
                extra.join(", ")
            ),
        ));
    }
    Ok(Verified {
        key_id,
        builder_id: predicate["runDetails"]["builder"]["id"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        dependencies: inputs.len(),
    })
}

/// The SHA-256 digests of an envelope's subjects, read without checking any signature (to
/// refuse pairing an attestation with the wrong file early; [`verify`] is the real check).
pub fn subject_digests(envelope: &[u8]) -> Result<Vec<String>, VerifyError> {
    let envelope: Envelope = serde_json::from_slice(envelope)
        .map_err(|e| fail(Failure::Malformed, format!("not a DSSE envelope: {e}")))?;
    use base64::Engine;
    let payload = base64::engine::general_purpose::STANDARD
        .decode(&envelope.payload)
        .map_err(|_| fail(Failure::Malformed, "the payload is not base64"))?;
    let statement: Value = serde_json::from_slice(&payload)
        .map_err(|e| fail(Failure::Malformed, format!("the payload is not JSON: {e}")))?;
    Ok(statement["subject"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .filter_map(|s| s["digest"]["sha256"].as_str().map(str::to_owned))
        .collect())
}
