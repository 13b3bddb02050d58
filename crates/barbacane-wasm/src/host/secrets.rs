//! `barbacane:secrets`: `get(ref_ptr, ref_len) -> i32`, the value behind a secret reference
//! (in the result slot) or -1.
//!
//! In a gateway the value comes from the artifact's snapshot of resolved secrets
//! ([`crate::Secrets`], built when the artifact loaded): no I/O per call. A reference the
//! configuration does not hold is -1, except `env://NAME`, read from the environment (a
//! plugin's default, such as `lambda`'s `env://AWS_ACCESS_KEY_ID`). Without a snapshot
//! (a plugin run outside a gateway, e.g. by the test harness) `env://` and `file://` are read
//! at each call. Values are never logged.

use wasmtime::{Caller, Linker};

use crate::memory::read_str;
use crate::state::HostState;

/// Largest secret a plugin can read (64 KiB).
const MAX_SECRET: u64 = 64 << 10;

pub(crate) fn add_to_linker(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    linker.func_wrap(
        "barbacane:secrets",
        "get",
        |mut c: Caller<'_, HostState>, ptr: i32, len: i32| -> wasmtime::Result<i32> {
            let reference = read_str(&mut c, ptr, len)?;
            let value = match &c.data().secrets {
                Some(snapshot) => match snapshot.get(&reference) {
                    Some(value) => Some(value.expose().to_vec()),
                    None => reference
                        .strip_prefix("env://")
                        .and_then(std::env::var_os)
                        .map(|v| v.into_encoded_bytes()),
                },
                None => resolve(&reference),
            };
            Ok(match value {
                Some(value) => c.data_mut().give(value),
                None => {
                    let plugin = c.data().plugin.as_str();
                    tracing::debug!(plugin, reference, "secret reference did not resolve");
                    -1
                }
            })
        },
    )?;
    Ok(())
}

/// Resolves `env://` and `file://` references (no snapshot: outside a gateway).
pub(crate) fn resolve(reference: &str) -> Option<Vec<u8>> {
    if let Some(name) = reference.strip_prefix("env://") {
        return std::env::var_os(name).map(|v| v.into_encoded_bytes());
    }
    let path = reference.strip_prefix("file://")?;
    let file = std::fs::File::open(path).ok()?;
    if file.metadata().ok()?.len() > MAX_SECRET {
        return None;
    }
    let mut bytes = std::fs::read(path).ok()?;
    if bytes.ends_with(b"\n") {
        bytes.pop();
        if bytes.ends_with(b"\r") {
            bytes.pop();
        }
    }
    Some(bytes)
}

#[cfg(test)]
mod tests {
    use super::resolve;

    #[test]
    fn env_and_file_references_resolve() {
        let dir = std::env::temp_dir().join(format!("bbc-secret-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("token");
        std::fs::write(&file, "s3cret\r\n").unwrap();
        assert_eq!(
            resolve(&format!("file://{}", file.display())).as_deref(),
            Some(&b"s3cret"[..])
        );
        assert_eq!(resolve(&format!("file://{}/missing", dir.display())), None);
        assert_eq!(resolve("env://BARBACANE_TEST_SURELY_UNSET_VARIABLE"), None);
        let path = std::env::var("PATH").unwrap();
        assert_eq!(resolve("env://PATH"), Some(path.into_bytes()));
        assert_eq!(resolve("vault://kv/x"), None);
        assert_eq!(resolve("PATH"), None);
        std::fs::remove_dir_all(dir).unwrap();
    }
}
