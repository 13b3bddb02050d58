//! References resolved on this machine: `env://`, `file://` and `k8s://` (a Kubernetes
//! Secret mounted as files under the mount root, `<root>/<namespace>/<name>/<key>`).

use std::io::Read;
use std::path::Path;

use super::MAX_SECRET;

pub(super) fn env(name: &str) -> Result<Vec<u8>, String> {
    std::env::var_os(name)
        .map(|v| v.into_encoded_bytes())
        .ok_or_else(|| format!("environment variable `{name}` is not set"))
}

/// A file's bytes (at most [`MAX_SECRET`]), one trailing `\n` or `\r\n` removed.
pub(super) fn file(path: &Path) -> Result<Vec<u8>, String> {
    let describe = |e: std::io::Error| format!("cannot read `{}`: {e}", path.display());
    let file = std::fs::File::open(path).map_err(describe)?;
    let mut bytes = Vec::new();
    file.take(MAX_SECRET as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(describe)?;
    if bytes.len() > MAX_SECRET {
        return Err(format!(
            "`{}` is larger than {} KiB",
            path.display(),
            MAX_SECRET >> 10
        ));
    }
    if bytes.ends_with(b"\n") {
        bytes.pop();
        if bytes.ends_with(b"\r") {
            bytes.pop();
        }
    }
    Ok(bytes)
}

pub(super) fn k8s(root: &Path, namespace: &str, name: &str, key: &str) -> Result<Vec<u8>, String> {
    let path = root.join(namespace).join(name).join(key);
    file(&path).map_err(|e| {
        format!(
            "{e} (Secret `{name}` of namespace `{namespace}` mounted under `{}`)",
            root.display()
        )
    })
}
