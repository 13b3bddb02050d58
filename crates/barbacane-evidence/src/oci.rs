//! OCI labels for a container image that bakes an artifact in, and the artifact itself as an
//! OCI artifact in an OCI image layout (image-spec v1.1 `artifactType` on the manifest, an
//! image config carrying the labels), which `oras` and `skopeo` copy to any registry.
//!
//! Layout written by [`write_layout`]:
//!
//! ```text
//! DIR/oci-layout            {"imageLayoutVersion":"1.0.0"}
//! DIR/index.json            one manifest per tag (annotation org.opencontainers.image.ref.name)
//! DIR/blobs/sha256/<hex>    the manifest, the config (the labels), and the layers:
//!                           the .bca (application/vnd.barbacane.bca.v1), its CycloneDX SBOM,
//!                           and its DSSE-wrapped provenance attestation when given
//! ```
//!
//! Blobs are content-addressed and written before `index.json`, each through a temporary file
//! renamed into place, so a reader never sees an index naming a missing or partial blob.

use barbacane_artifact::{Header, sha256_hex};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

/// The manifest's `artifactType`.
pub const ARTIFACT_TYPE: &str = "application/vnd.barbacane.artifact.v1";
/// The media type of the layer holding the `.bca` file.
pub const BCA_MEDIA_TYPE: &str = "application/vnd.barbacane.bca.v1";
/// The media type of the attestation layer (a DSSE envelope).
pub const DSSE_MEDIA_TYPE: &str = "application/vnd.dsse.envelope.v1+json";
const MANIFEST_MEDIA_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";
const INDEX_MEDIA_TYPE: &str = "application/vnd.oci.image.index.v1+json";
const CONFIG_MEDIA_TYPE: &str = "application/vnd.oci.image.config.v1+json";
const REF_NAME: &str = "org.opencontainers.image.ref.name";
const TITLE: &str = "org.opencontainers.image.title";
/// Largest manifest or index read (the distribution spec's recommended manifest limit).
const MAX_JSON: u64 = 4 * 1024 * 1024;

/// The labels an image carrying `header`'s artifact should have, sorted by key.
pub fn labels(header: &Header) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    if let Some(c) = &header.provenance_commit {
        out.insert("org.opencontainers.image.revision".into(), c.clone());
    }
    if let Some(s) = &header.provenance_source {
        out.insert("org.opencontainers.image.source".into(), s.clone());
    }
    out.insert(
        "org.opencontainers.image.created".into(),
        header.build_timestamp.clone(),
    );
    out.insert(
        "dev.barbacane.artifact.hash".into(),
        header.artifact_hash.clone(),
    );
    if let Some(c) = &header.content_hash {
        out.insert("dev.barbacane.artifact.content-hash".into(), c.clone());
    }
    out.insert(
        "dev.barbacane.compiler.version".into(),
        header.compiler_version.clone(),
    );
    out
}

/// Why a layout cannot be written or read.
#[derive(Debug, thiserror::Error)]
pub enum LayoutError {
    /// A file of the layout cannot be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The layout is not what this version writes and reads.
    #[error("not a usable OCI layout: {0}")]
    Invalid(String),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> LayoutError + '_ {
    move |source| LayoutError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// What goes into a layout besides the `.bca` file.
#[derive(Debug, Clone)]
pub struct LayoutContents<'a> {
    /// The `.bca` bytes.
    pub artifact: &'a [u8],
    /// Its header.
    pub header: &'a Header,
    /// The CycloneDX SBOM (see [`crate::sbom`]).
    pub sbom: &'a [u8],
    /// The DSSE envelope of the provenance attestation, when there is one.
    pub attestation: Option<&'a [u8]>,
    /// The tag (`org.opencontainers.image.ref.name`).
    pub tag: &'a str,
}

/// A descriptor of a blob written to the layout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    /// `sha256:<hex>` of the manifest.
    pub manifest_digest: String,
    /// The manifest's size in bytes.
    pub manifest_size: u64,
}

/// Writes `contents` into the layout at `dir` (created if missing), replacing the manifest
/// tagged `contents.tag` if there is one and keeping the others.
pub fn write_layout(dir: &Path, contents: &LayoutContents<'_>) -> Result<Written, LayoutError> {
    if !valid_tag(contents.tag) {
        return Err(LayoutError::Invalid(format!(
            "`{}` is not a valid tag (letters, digits, `_`, `.`, `-`; at most 128, not starting with `.` or `-`)",
            contents.tag
        )));
    }
    std::fs::create_dir_all(dir.join("blobs/sha256")).map_err(io(dir))?;
    let marker = dir.join("oci-layout");
    if marker.exists() {
        check_marker(dir)?;
    }
    let index_path = dir.join("index.json");
    let mut index = if index_path.exists() {
        read_json(&index_path)?
    } else {
        json!({"schemaVersion": 2, "mediaType": INDEX_MEDIA_TYPE, "manifests": []})
    };

    let mut layers = vec![descriptor(
        BCA_MEDIA_TYPE,
        &put_blob(dir, contents.artifact)?,
        contents.artifact.len(),
        "artifact.bca",
    )];
    layers.push(descriptor(
        crate::sbom::MEDIA_TYPE,
        &put_blob(dir, contents.sbom)?,
        contents.sbom.len(),
        "sbom.cdx.json",
    ));
    if let Some(att) = contents.attestation {
        layers.push(descriptor(
            DSSE_MEDIA_TYPE,
            &put_blob(dir, att)?,
            att.len(),
            "provenance.dsse.json",
        ));
    }
    // An image config rather than the empty one of OCI 1.1 artifacts: registries that
    // predate OCI 1.1 accept it, and `skopeo inspect` shows the labels. It is not runnable
    // (no os or architecture; the layers are not tar archives).
    let config = serde_json::to_vec(&json!({
        "created": contents.header.build_timestamp,
        "architecture": "",
        "os": "",
        "config": {"Labels": labels(contents.header)},
        "rootfs": {"type": "layers", "diff_ids": layers.iter().map(|l| l["digest"].clone()).collect::<Vec<_>>()},
    }))
    .unwrap_or_default();
    let config_digest = put_blob(dir, &config)?;
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": MANIFEST_MEDIA_TYPE,
        "artifactType": ARTIFACT_TYPE,
        "config": {"mediaType": CONFIG_MEDIA_TYPE, "digest": config_digest, "size": config.len()},
        "layers": layers,
        "annotations": labels(contents.header),
    });
    let manifest_bytes = serde_json::to_vec(&manifest).unwrap_or_default();
    let manifest_digest = put_blob(dir, &manifest_bytes)?;

    let entry = json!({
        "mediaType": MANIFEST_MEDIA_TYPE,
        "artifactType": ARTIFACT_TYPE,
        "digest": manifest_digest,
        "size": manifest_bytes.len(),
        "annotations": {REF_NAME: contents.tag},
    });
    let manifests = index
        .get_mut("manifests")
        .and_then(Value::as_array_mut)
        .ok_or_else(|| LayoutError::Invalid("index.json has no `manifests` list".into()))?;
    manifests.retain(|m| m["annotations"][REF_NAME] != contents.tag);
    manifests.push(entry);
    if !marker.exists() {
        write_atomic(&marker, br#"{"imageLayoutVersion":"1.0.0"}"#)?;
    }
    write_atomic(
        &index_path,
        &serde_json::to_vec_pretty(&index).unwrap_or_default(),
    )?;
    Ok(Written {
        manifest_digest,
        manifest_size: manifest_bytes.len() as u64,
    })
}

/// Splits `oci:DIR[:TAG]` (without the `oci:` prefix) into the directory and the tag.
pub fn parse_reference(reference: &str) -> (PathBuf, Option<String>) {
    match reference.rsplit_once(':') {
        Some((dir, tag)) if !dir.is_empty() && valid_tag(tag) => {
            (PathBuf::from(dir), Some(tag.to_owned()))
        }
        _ => (PathBuf::from(reference), None),
    }
}

/// Reads the `.bca` bytes of the manifest tagged `tag` (or of the only manifest when `tag`
/// is `None`), checking every digest and size on the way.
pub fn read_layout(dir: &Path, tag: Option<&str>) -> Result<Vec<u8>, LayoutError> {
    check_marker(dir)?;
    let index = read_json(&dir.join("index.json"))?;
    let manifests = index["manifests"]
        .as_array()
        .ok_or_else(|| LayoutError::Invalid("index.json has no `manifests` list".into()))?;
    let tags = || {
        manifests
            .iter()
            .filter_map(|m| m["annotations"][REF_NAME].as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let entry = match tag {
        Some(tag) => manifests
            .iter()
            .find(|m| m["annotations"][REF_NAME] == tag)
            .ok_or_else(|| {
                LayoutError::Invalid(format!("no manifest tagged `{tag}` (tags: {})", tags()))
            })?,
        None => match manifests.as_slice() {
            [one] => one,
            [] => return Err(LayoutError::Invalid("index.json lists no manifest".into())),
            _ => {
                return Err(LayoutError::Invalid(format!(
                    "index.json lists {} manifests: name one as oci:DIR:TAG (tags: {})",
                    manifests.len(),
                    tags()
                )));
            }
        },
    };
    if entry["mediaType"] != MANIFEST_MEDIA_TYPE {
        return Err(LayoutError::Invalid(format!(
            "the manifest's media type is {}, not {MANIFEST_MEDIA_TYPE}",
            entry["mediaType"]
        )));
    }
    let manifest_bytes = read_blob(dir, entry, MAX_JSON)?;
    let manifest: Value = serde_json::from_slice(&manifest_bytes)
        .map_err(|e| LayoutError::Invalid(format!("the manifest is not JSON: {e}")))?;
    if manifest["artifactType"] != ARTIFACT_TYPE {
        return Err(LayoutError::Invalid(format!(
            "the manifest's artifactType is {}, not {ARTIFACT_TYPE}: not a Barbacane artifact",
            manifest["artifactType"]
        )));
    }
    let layers = manifest["layers"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    let bca: Vec<&Value> = layers
        .iter()
        .filter(|l| l["mediaType"] == BCA_MEDIA_TYPE)
        .collect();
    match bca.as_slice() {
        [layer] => read_blob(dir, layer, u64::MAX),
        _ => Err(LayoutError::Invalid(format!(
            "the manifest has {} layers of type {BCA_MEDIA_TYPE}; exactly one is expected",
            bca.len()
        ))),
    }
}

/// A layout's tag rule (the OCI distribution spec's tag grammar).
fn valid_tag(tag: &str) -> bool {
    !tag.is_empty()
        && tag.len() <= 128
        && !tag.starts_with(['.', '-'])
        && tag
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

fn check_marker(dir: &Path) -> Result<(), LayoutError> {
    let marker = read_json(&dir.join("oci-layout"))?;
    if marker["imageLayoutVersion"] != "1.0.0" {
        return Err(LayoutError::Invalid(format!(
            "oci-layout says imageLayoutVersion {}, this version reads 1.0.0",
            marker["imageLayoutVersion"]
        )));
    }
    Ok(())
}

fn read_json(path: &Path) -> Result<Value, LayoutError> {
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .map_err(io(path))?
        .take(MAX_JSON + 1)
        .read_to_end(&mut bytes)
        .map_err(io(path))?;
    if bytes.len() as u64 > MAX_JSON {
        return Err(LayoutError::Invalid(format!(
            "{} is larger than {MAX_JSON} bytes",
            path.display()
        )));
    }
    serde_json::from_slice(&bytes)
        .map_err(|e| LayoutError::Invalid(format!("{} is not JSON: {e}", path.display())))
}

/// Reads the blob a descriptor names, refusing digests that are not `sha256:<64 hex>` (a
/// descriptor must never name a path outside `blobs/`), sizes that differ and bytes that do
/// not hash to the digest.
fn read_blob(dir: &Path, descriptor: &Value, limit: u64) -> Result<Vec<u8>, LayoutError> {
    let digest = descriptor["digest"].as_str().unwrap_or_default();
    let hex = digest
        .strip_prefix("sha256:")
        .filter(|h| h.len() == 64 && h.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
        .ok_or_else(|| LayoutError::Invalid(format!("`{digest}` is not a sha256 digest")))?;
    let size = descriptor["size"]
        .as_u64()
        .ok_or_else(|| LayoutError::Invalid(format!("the descriptor of {digest} has no size")))?;
    if size > limit {
        return Err(LayoutError::Invalid(format!(
            "{digest} is {size} bytes, more than the {limit} accepted"
        )));
    }
    let path = dir.join("blobs/sha256").join(hex);
    let mut bytes = Vec::new();
    std::fs::File::open(&path)
        .map_err(io(&path))?
        .take(size + 1)
        .read_to_end(&mut bytes)
        .map_err(io(&path))?;
    if bytes.len() as u64 != size {
        return Err(LayoutError::Invalid(format!(
            "{digest}: the descriptor says {size} bytes, the blob {}",
            if bytes.len() as u64 > size {
                "is longer".to_owned()
            } else {
                format!("has {}", bytes.len())
            }
        )));
    }
    if sha256_hex(&bytes) != hex {
        return Err(LayoutError::Invalid(format!(
            "{digest}: the blob's bytes do not match its digest (corrupt or tampered with)"
        )));
    }
    Ok(bytes)
}

fn descriptor(media_type: &str, digest: &str, size: usize, title: &str) -> Value {
    json!({
        "mediaType": media_type,
        "digest": digest,
        "size": size,
        "annotations": {TITLE: title},
    })
}

fn put_blob(dir: &Path, bytes: &[u8]) -> Result<String, LayoutError> {
    let hex = sha256_hex(bytes);
    let path = dir.join("blobs/sha256").join(&hex);
    if !path.exists() {
        write_atomic(&path, bytes)?;
    }
    Ok(format!("sha256:{hex}"))
}

fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), LayoutError> {
    let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
    std::fs::write(&tmp, bytes).map_err(io(&tmp))?;
    std::fs::rename(&tmp, path).map_err(io(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_split_at_a_valid_tag_only() {
        assert_eq!(parse_reference("dir"), (PathBuf::from("dir"), None));
        assert_eq!(
            parse_reference("out/layout:v1.2"),
            (PathBuf::from("out/layout"), Some("v1.2".into()))
        );
        assert_eq!(parse_reference("a:b/c"), (PathBuf::from("a:b/c"), None));
        assert_eq!(parse_reference(":x"), (PathBuf::from(":x"), None));
    }

    #[test]
    fn tags_follow_the_distribution_grammar() {
        assert!(valid_tag("latest") && valid_tag("v1.0_rc-1"));
        assert!(!valid_tag("") && !valid_tag(".x") && !valid_tag("-x") && !valid_tag("a/b"));
        assert!(!valid_tag(&"a".repeat(129)));
    }
}
