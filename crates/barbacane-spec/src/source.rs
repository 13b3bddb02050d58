//! Reading and parsing source files.

use serde_json::Value;
use std::collections::BTreeMap;
use std::io;
use std::path::{Component, Path, PathBuf};

use crate::{Code, Diagnostic};

/// Where spec files come from: the local disk, or stored inputs in the control plane.
pub trait FileSystem {
    /// Reads a whole file.
    fn read(&self, path: &Path) -> io::Result<Vec<u8>>;
    /// An absolute, normalized identity for `path` (two spellings of one file give one key).
    fn canonicalize(&self, path: &Path) -> io::Result<PathBuf>;
    /// The files (not subdirectories) directly inside the directory `path`, canonical and
    /// sorted; an error when `path` is not a directory.
    fn list_dir(&self, path: &Path) -> io::Result<Vec<PathBuf>> {
        let _ = path;
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "this file system cannot list directories",
        ))
    }
}

/// The local file system.
#[derive(Debug, Default, Clone, Copy)]
pub struct LocalFs;

impl FileSystem for LocalFs {
    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        std::fs::read(path)
    }
    fn canonicalize(&self, path: &Path) -> io::Result<PathBuf> {
        std::fs::canonicalize(path)
    }
    fn list_dir(&self, path: &Path) -> io::Result<Vec<PathBuf>> {
        let mut files = Vec::new();
        for entry in std::fs::read_dir(std::fs::canonicalize(path)?)? {
            let entry = entry?;
            if entry.file_type()?.is_file() {
                files.push(std::fs::canonicalize(entry.path())?);
            }
        }
        files.sort();
        Ok(files)
    }
}

/// An in-memory file system: files keyed by absolute virtual paths (e.g. `/project/api.yaml`).
#[derive(Debug, Default, Clone)]
pub struct MemoryFs {
    files: BTreeMap<PathBuf, Vec<u8>>,
}

impl MemoryFs {
    /// Adds a file at `path` (made absolute under `/` and normalized).
    pub fn insert(&mut self, path: impl AsRef<Path>, bytes: Vec<u8>) {
        self.files
            .insert(normalize(&Path::new("/").join(path)), bytes);
    }
}

impl FileSystem for MemoryFs {
    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        self.files
            .get(&normalize(path))
            .cloned()
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no such file"))
    }
    fn canonicalize(&self, path: &Path) -> io::Result<PathBuf> {
        let path = normalize(&Path::new("/").join(path));
        if self.files.contains_key(&path) {
            Ok(path)
        } else {
            Err(io::Error::new(io::ErrorKind::NotFound, "no such file"))
        }
    }
    fn list_dir(&self, path: &Path) -> io::Result<Vec<PathBuf>> {
        let dir = normalize(&Path::new("/").join(path));
        let files: Vec<PathBuf> = self
            .files
            .keys()
            .filter(|f| f.parent() == Some(dir.as_path()))
            .cloned()
            .collect();
        let is_dir = self.files.keys().any(|f| f.starts_with(&dir) && *f != dir);
        if is_dir {
            Ok(files)
        } else {
            Err(io::Error::new(io::ErrorKind::NotFound, "no such directory"))
        }
    }
}

/// Lexically resolves `.` and `..` (no symlink resolution).
pub fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other),
        }
    }
    out
}

/// A loaded, parsed file.
#[derive(Debug, Clone)]
pub struct SourceFile {
    /// Canonical path (the file's identity).
    pub path: PathBuf,
    /// The path as the user would recognise it (as given, or relative to the referencing file).
    pub display: String,
    /// Root-relative logical name, `/`-separated (set once the whole set is loaded).
    pub logical: String,
    /// Raw bytes (hashed into the fingerprint).
    pub bytes: Vec<u8>,
    /// Parsed document.
    pub value: Value,
}

/// Most YAML nodes one document may build, alias expansions included: the memory budget of
/// one parse (about 30 MB at this bound). An alias-amplified document is refused with
/// `E1003` once its expansion passes it, before the memory is spent; a real description is
/// far below (the largest in the APIs.guru corpus is JSON, which has no aliases).
pub const MAX_YAML_NODES: usize = 250_000;

/// The parser's budget, set here rather than left to the library's defaults, so that an
/// upgrade cannot loosen it unseen (the control plane checks untrusted uploads with it).
fn yaml_budget() -> serde_saphyr::Budget {
    let mut budget = serde_saphyr::Budget::default();
    budget.max_nodes = MAX_YAML_NODES;
    budget.max_aliases = 50_000;
    budget.max_anchors = 50_000;
    budget.max_depth = 64;
    budget.max_total_scalar_bytes = 64 << 20;
    budget
}

/// Parses YAML or JSON (by extension; YAML otherwise, which also accepts JSON).
pub fn parse(display: &str, path: &Path, bytes: &[u8]) -> Result<Value, Diagnostic> {
    let text = std::str::from_utf8(bytes).map_err(|e| {
        Diagnostic::error(
            Code::E1003,
            display,
            "",
            format!("file is not valid UTF-8 (byte {})", e.valid_up_to()),
            "save the file as UTF-8",
        )
    })?;
    let is_json = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"));
    if is_json {
        return serde_json::from_str(text).map_err(|e| {
            let mut d = Diagnostic::error(
                Code::E1003,
                display,
                "",
                format!("invalid JSON: {e}"),
                "fix the JSON syntax at the given line and column",
            );
            d.line_column = Some((e.line() as u64, e.column() as u64));
            d
        });
    }
    let mut options = serde_saphyr::Options::default();
    options.budget = Some(yaml_budget());
    options.alias_limits.max_total_replayed_events = MAX_YAML_NODES;
    options.with_snippet = false;
    options.strict_booleans = true;
    options.duplicate_keys = serde_saphyr::DuplicateKeyPolicy::Error;
    serde_saphyr::from_str_with_options::<Value>(text, options).map_err(|e| {
        let mut d = Diagnostic::error(
            Code::E1003,
            display,
            "",
            format!("invalid YAML: {e}"),
            "fix the YAML syntax at the given line and column",
        );
        d.line_column = e.location().map(|l| (l.line(), l.column()));
        d
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_errors_carry_line_and_column() {
        let d = parse("a.yaml", Path::new("a.yaml"), b"a: [1,\n  b: c\n").unwrap_err();
        assert_eq!(d.code, Code::E1003);
        assert_eq!(d.line_column, Some((1, 4)));
        let d = parse("a.yaml", Path::new("a.yaml"), b"a: 1\na: 2\n").unwrap_err();
        assert!(d.message.contains("duplicate"), "{}", d.message);
    }

    #[test]
    fn json_errors_carry_line_and_column() {
        let d = parse("a.json", Path::new("a.json"), b"{\n  \"a\": ,\n}").unwrap_err();
        assert_eq!(d.line_column, Some((2, 8)));
    }

    #[test]
    fn yaml_keys_become_strings_and_booleans_are_strict() {
        let v = parse("a", Path::new("a.yaml"), b"200: {x: yes, y: true}").unwrap();
        assert_eq!(v, serde_json::json!({"200": {"x": "yes", "y": true}}));
    }

    #[test]
    fn an_alias_bomb_is_refused_within_the_node_budget() {
        // 1,000 references to a 1,000-item list: 1,000,000 nodes once expanded.
        let mut text = String::from("a: &a [");
        text.push_str(&vec!["x"; 1000].join(","));
        text.push_str("]\n");
        for i in 0..1000 {
            text.push_str(&format!("k{i}: *a\n"));
        }
        let d = parse("a.yaml", Path::new("a.yaml"), text.as_bytes()).unwrap_err();
        assert_eq!(d.code, Code::E1003);
        assert!(d.message.contains("budget"), "{}", d.message);
        // The same shape within the budget parses.
        let small = text.lines().take(100).collect::<Vec<_>>().join("\n");
        assert!(parse("a.yaml", Path::new("a.yaml"), small.as_bytes()).is_ok());
    }

    #[test]
    fn memory_fs_normalizes_paths() {
        let mut fs = MemoryFs::default();
        fs.insert("p/a.yaml", b"x".to_vec());
        assert_eq!(fs.read(Path::new("/p/q/../a.yaml")).unwrap(), b"x");
        assert!(fs.canonicalize(Path::new("/p/missing.yaml")).is_err());
    }
}
