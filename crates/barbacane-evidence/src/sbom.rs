//! A CycloneDX 1.6 JSON BOM for one artifact.
//!
//! The artifact is `metadata.component` (type `application`: what an image runs), with the
//! SHA-256 of the `.bca` file and its provenance as `barbacane:*` properties. Each spec and
//! each file a spec references, and the manifest, is a `data` component; each WASM plugin is a
//! `library` component named and versioned by its `plugin.toml`, hashed over its module. The
//! compiler that built the artifact is in `metadata.tools`. Dependencies: the artifact depends
//! on every spec, the manifest and every plugin; a spec depends on the files it references
//! when the artifact holds one spec (with several, the header does not say which spec
//! references which file, so the artifact depends on them directly).
//!
//! Deterministic: the serial number is a UUID v5 of the file's SHA-256, the timestamp is the
//! artifact's build timestamp, and every list is in the header's canonical order.

use barbacane_artifact::{Artifact, Input, InputKind, sha256_hex};
use serde_json::{Value, json};
use sha1::{Digest, Sha1};

/// The media type of the document [`sbom`] returns.
pub const MEDIA_TYPE: &str = "application/vnd.cyclonedx+json";

/// The UUID v5 namespace of serial numbers (RFC 9562's URL namespace).
const URL_NAMESPACE: [u8; 16] = [
    0x6b, 0xa7, 0xb8, 0x11, 0x9d, 0xad, 0x11, 0xd1, 0x80, 0xb4, 0x00, 0xc0, 0x4f, 0xd4, 0x30, 0xc8,
];

/// A plugin as the artifact holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginInfo {
    /// The name the manifest gives it (`plugins/<name>.wasm`).
    pub name: String,
    /// `version` from its `plugin.toml`, when it has one.
    pub version: Option<String>,
    /// `type` from its `plugin.toml` (`dispatcher`, `middleware`).
    pub kind: Option<String>,
    /// Lowercase hex SHA-256 of the module.
    pub sha256: String,
}

/// Every plugin of `artifact`, by name.
pub fn plugins(artifact: &Artifact) -> Vec<PluginInfo> {
    let mut out: Vec<PluginInfo> = artifact
        .header()
        .members
        .iter()
        .filter_map(|m| {
            let name = m.name.strip_prefix("plugins/")?.strip_suffix(".wasm")?;
            let toml: Option<toml::Table> = artifact
                .member(&format!("plugins/{name}.toml"))
                .and_then(|b| std::str::from_utf8(b).ok())
                .and_then(|t| t.parse().ok());
            let field = |key: &str| {
                toml.as_ref()
                    .and_then(|t| t.get(key))
                    .and_then(|v| v.as_str())
                    .map(str::to_owned)
            };
            Some(PluginInfo {
                name: name.to_owned(),
                version: field("version"),
                kind: field("type"),
                sha256: m.sha256.clone(),
            })
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

/// The BOM of `artifact`, whose file is `file_name` with bytes hashing to `file_sha256`.
pub fn sbom(artifact: &Artifact, file_name: &str, file_sha256: &str) -> Value {
    let header = artifact.header();
    let root_ref = format!("artifact:{}", header.artifact_hash);
    let mut props = vec![
        prop("barbacane:artifact_hash", &header.artifact_hash),
        prop("barbacane:build_timestamp", &header.build_timestamp),
        prop(
            "barbacane:format_version",
            &header.format_version.to_string(),
        ),
    ];
    if let Some(c) = &header.content_hash {
        props.push(prop("barbacane:content_hash", c));
    }
    if let Some(c) = &header.provenance_commit {
        props.push(prop("barbacane:provenance_commit", c));
    }
    if let Some(s) = &header.provenance_source {
        props.push(prop("barbacane:provenance_source", s));
    }
    if let Some(sig) = &header.signature {
        props.push(prop("barbacane:signature_key_id", &sig.key_id));
    }
    for (k, v) in &header.metadata {
        props.push(prop(&format!("barbacane:provenance:{k}"), v));
    }
    for input in header.inputs.iter().filter(|i| i.kind == InputKind::Option) {
        props.push(prop(
            &format!("barbacane:option:{}", input.name),
            &input.sha256,
        ));
    }
    let mut root = json!({
        "type": "application",
        "bom-ref": root_ref,
        "name": file_name,
        "version": header.artifact_hash,
        "hashes": [hash(file_sha256)],
        "properties": props,
    });
    if let Some(source) = &header.provenance_source {
        root["externalReferences"] = json!([{"type": "vcs", "url": source}]);
    }

    let mut components = Vec::new();
    let mut root_deps = Vec::new();
    let specs: Vec<&Input> = of_kind(&header.inputs, InputKind::Spec);
    let references: Vec<&Input> = of_kind(&header.inputs, InputKind::Reference);
    for input in specs
        .iter()
        .chain(&of_kind(&header.inputs, InputKind::Manifest))
        .chain(&of_kind(&header.inputs, InputKind::Policy))
    {
        let r = input_ref(input);
        components.push(data_component(input, &r));
        root_deps.push(r);
    }
    let mut spec_deps = Vec::new();
    for input in &references {
        let r = input_ref(input);
        components.push(data_component(input, &r));
        if specs.len() == 1 {
            spec_deps.push(r);
        } else {
            root_deps.push(r);
        }
    }
    for plugin in plugins(artifact) {
        let r = format!("plugin:{}", plugin.name);
        let mut c = json!({
            "type": "library",
            "bom-ref": r,
            "name": plugin.name,
            "hashes": [hash(&plugin.sha256)],
            "properties": [prop("barbacane:member", &format!("plugins/{}.wasm", plugin.name))],
        });
        if let Some(v) = &plugin.version {
            c["version"] = json!(v);
        }
        if let Some(k) = &plugin.kind {
            c["properties"]
                .as_array_mut()
                .into_iter()
                .for_each(|p| p.push(prop("barbacane:plugin_type", k)));
        }
        components.push(c);
        root_deps.push(r);
    }

    let mut dependencies = vec![json!({"ref": root_ref, "dependsOn": root_deps})];
    if let Some(spec) = specs.first().filter(|_| specs.len() == 1) {
        dependencies.push(json!({"ref": input_ref(spec), "dependsOn": spec_deps}));
    }
    // Every component appears in `dependencies`, leaves with an empty list (CycloneDX's way
    // of saying "known to have none" rather than "unknown").
    for c in &components {
        let r = c["bom-ref"].clone();
        if !dependencies.iter().any(|d| d["ref"] == r) {
            dependencies.push(json!({"ref": r, "dependsOn": []}));
        }
    }

    json!({
        "bomFormat": "CycloneDX",
        "specVersion": "1.6",
        "serialNumber": format!("urn:uuid:{}", serial(file_sha256)),
        "version": 1,
        "metadata": {
            "timestamp": header.build_timestamp,
            "tools": {"components": [{
                "type": "application",
                "group": "barbacane",
                "name": "barbacane-compiler",
                "version": header.compiler_version,
            }]},
            "component": root,
        },
        "components": components,
        "dependencies": dependencies,
    })
}

/// [`sbom`] for the bytes of a `.bca` file.
pub fn sbom_of_bytes(
    bytes: &[u8],
    file_name: &str,
) -> Result<Value, barbacane_artifact::ArtifactError> {
    let artifact = Artifact::from_bytes(bytes)?;
    Ok(sbom(&artifact, file_name, &sha256_hex(bytes)))
}

fn of_kind(inputs: &[Input], kind: InputKind) -> Vec<&Input> {
    inputs.iter().filter(|i| i.kind == kind).collect()
}

fn input_ref(input: &Input) -> String {
    format!("{}:{}", input.kind, input.name)
}

fn data_component(input: &Input, r: &str) -> Value {
    json!({
        "type": "data",
        "bom-ref": r,
        "name": input.name,
        "hashes": [hash(&input.sha256)],
        "properties": [prop("barbacane:input_kind", input.kind.as_str())],
    })
}

fn hash(hex: &str) -> Value {
    json!({"alg": "SHA-256", "content": hex})
}

fn prop(name: &str, value: &str) -> Value {
    json!({"name": name, "value": value})
}

/// UUID v5 (RFC 9562 §5.5) of `barbacane-sbom:<sha256>` in the URL namespace.
fn serial(file_sha256: &str) -> uuid::Uuid {
    let mut h = Sha1::new();
    h.update(URL_NAMESPACE);
    h.update(format!("barbacane-sbom:{file_sha256}").as_bytes());
    let digest = h.finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_sha1_bytes(bytes).into_uuid()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serial_is_a_v5_uuid() {
        let u = serial("00");
        assert_eq!(u.get_version_num(), 5);
        assert_eq!(serial("00"), u);
        assert_ne!(serial("01"), u);
    }

    #[test]
    fn v5_matches_the_rfc_example() {
        // RFC 9562 appendix A.4: UUIDv5 of "www.example.com" in the DNS namespace.
        let dns: [u8; 16] = [
            0x6b, 0xa7, 0xb8, 0x10, 0x9d, 0xad, 0x11, 0xd1, 0x80, 0xb4, 0x00, 0xc0, 0x4f, 0xd4,
            0x30, 0xc8,
        ];
        let mut h = Sha1::new();
        h.update(dns);
        h.update(b"www.example.com");
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(&h.finalize()[..16]);
        assert_eq!(
            uuid::Builder::from_sha1_bytes(bytes)
                .into_uuid()
                .to_string(),
            "2ed6657d-e927-568b-95e1-2665a8aea6a2"
        );
    }
}
