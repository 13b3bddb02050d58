//! A root spec plus every file its relative `$ref`s reach.

use serde_json::Value;
use std::collections::{BTreeMap, VecDeque};
use std::path::{Path, PathBuf};

use crate::pointer::{self, parse_ref};
use crate::source::{FileSystem, SourceFile, normalize, parse};
use crate::{Code, Diagnostic};

/// Keys whose values are literal data, never spec structure: `$ref`s inside them are not
/// followed (an example payload may legitimately contain a `$ref` key).
const LITERAL_KEYS: [&str; 4] = ["example", "default", "enum", "const"];

/// Longest `$ref` chain followed before reporting a cycle.
const MAX_REF_HOPS: usize = 64;

/// A file to load: path, display name, and the `(file, pointer)` of the `$ref` that named it.
type Pending = (PathBuf, String, Option<(String, String)>);

/// A node inside the document set, with where it was found.
#[derive(Debug, Clone)]
pub struct Located<'a> {
    /// The file holding the node.
    pub file: &'a SourceFile,
    /// The node's JSON pointer within that file.
    pub pointer: String,
    /// The node.
    pub value: &'a Value,
}

/// All files of one compilation, keyed by canonical path.
#[derive(Debug, Clone)]
pub struct DocumentSet {
    files: BTreeMap<PathBuf, SourceFile>,
    roots: Vec<PathBuf>,
    root_dir: PathBuf,
}

impl DocumentSet {
    /// Loads `specs` and every file reachable through relative `$ref`s, then checks that every
    /// `$ref` resolves. `anchors` (e.g. the manifest) take part in choosing the root directory
    /// from which logical names are derived: the deepest directory containing every file.
    pub fn load(
        fs: &dyn FileSystem,
        specs: &[PathBuf],
        anchors: &[PathBuf],
    ) -> Result<DocumentSet, Vec<Diagnostic>> {
        let mut set = DocumentSet {
            files: BTreeMap::new(),
            roots: Vec::new(),
            root_dir: PathBuf::new(),
        };
        let mut diagnostics = Vec::new();
        let mut queue: VecDeque<Pending> = VecDeque::new();
        for spec in specs {
            let display = spec.display().to_string();
            match fs.canonicalize(spec) {
                Ok(canonical) => {
                    if !set.roots.contains(&canonical) {
                        set.roots.push(canonical.clone());
                    }
                    queue.push_back((canonical, display, None));
                }
                Err(e) => diagnostics.push(unreadable(&display, None, &e)),
            }
        }
        let mut refs: Vec<(PathBuf, String, String)> = Vec::new();
        while let Some((path, display, origin)) = queue.pop_front() {
            let canonical = match fs.canonicalize(&path) {
                Ok(c) => c,
                Err(e) => {
                    diagnostics.push(unreadable(&display, origin, &e));
                    continue;
                }
            };
            if set.files.contains_key(&canonical) {
                continue;
            }
            let bytes = match fs.read(&canonical) {
                Ok(b) => b,
                Err(e) => {
                    diagnostics.push(unreadable(&display, origin, &e));
                    continue;
                }
            };
            let value = match parse(&display, &canonical, &bytes) {
                Ok(v) => v,
                Err(d) => {
                    diagnostics.push(d);
                    continue;
                }
            };
            let mut found = Vec::new();
            collect_refs(&value, String::new(), &mut found);
            let dir = canonical
                .parent()
                .map(Path::to_path_buf)
                .unwrap_or_default();
            let display_dir = Path::new(&display)
                .parent()
                .map(Path::to_path_buf)
                .unwrap_or_default();
            for (site, reference) in found {
                if let Ok(target) = parse_ref(&reference)
                    && !target.file.is_empty()
                {
                    queue.push_back((
                        normalize(&dir.join(&target.file)),
                        normalize(&display_dir.join(&target.file))
                            .display()
                            .to_string(),
                        Some((display.clone(), site.clone())),
                    ));
                }
                refs.push((canonical.clone(), site, reference));
            }
            set.files.insert(
                canonical.clone(),
                SourceFile {
                    path: canonical,
                    display,
                    logical: String::new(),
                    bytes,
                    value,
                },
            );
        }
        if !diagnostics.is_empty() {
            return Err(diagnostics);
        }
        set.assign_logical_names(fs, anchors);
        for (file, site, reference) in refs {
            if let Err(message) = set.resolve_ref(&file, &reference) {
                let display = set
                    .files
                    .get(&file)
                    .map(|f| f.display.clone())
                    .unwrap_or_default();
                diagnostics.push(Diagnostic::error(
                    Code::E1004,
                    display,
                    site,
                    format!("cannot resolve `$ref: {reference}`: {message}"),
                    "point the reference at an existing file and JSON pointer",
                ));
            }
        }
        if diagnostics.is_empty() {
            Ok(set)
        } else {
            Err(diagnostics)
        }
    }

    fn assign_logical_names(&mut self, fs: &dyn FileSystem, anchors: &[PathBuf]) {
        let mut dirs: Vec<PathBuf> = self
            .files
            .keys()
            .map(|p| p.parent().map(Path::to_path_buf).unwrap_or_default())
            .collect();
        for anchor in anchors {
            if let Ok(c) = fs.canonicalize(anchor) {
                dirs.push(c.parent().map(Path::to_path_buf).unwrap_or_default());
            }
        }
        self.root_dir = common_ancestor(&dirs);
        for file in self.files.values_mut() {
            file.logical = logical_name(&self.root_dir, &file.path);
        }
    }

    /// The directory logical names are relative to.
    pub fn root_dir(&self) -> &Path {
        &self.root_dir
    }

    /// The logical name `path` has (or would have) in this set.
    pub fn logical_name(&self, path: &Path) -> String {
        logical_name(&self.root_dir, path)
    }

    /// Root spec files, in the order given.
    pub fn roots(&self) -> impl Iterator<Item = &SourceFile> {
        self.roots.iter().filter_map(|p| self.files.get(p))
    }

    /// Every file, roots and referenced ones.
    pub fn files(&self) -> impl Iterator<Item = &SourceFile> {
        self.files.values()
    }

    /// Whether `path` is one of the root specs.
    pub fn is_root(&self, path: &Path) -> bool {
        self.roots.iter().any(|r| r == path)
    }

    /// A file by canonical path.
    pub fn file(&self, path: &Path) -> Option<&SourceFile> {
        self.files.get(path)
    }

    /// The node at `pointer` in `file`.
    pub fn at<'a>(&'a self, file: &'a SourceFile, pointer: &str) -> Option<Located<'a>> {
        let value = pointer::resolve(&file.value, pointer)?;
        Some(Located {
            file,
            pointer: pointer.to_owned(),
            value,
        })
    }

    /// Resolves one `$ref` written in `from`.
    pub fn resolve_ref(&self, from: &Path, reference: &str) -> Result<Located<'_>, String> {
        let target = parse_ref(reference).map_err(str::to_owned)?;
        let file = if target.file.is_empty() {
            self.files.get(from)
        } else {
            let dir = from.parent().unwrap_or(Path::new("/"));
            self.files.get(&normalize(&dir.join(&target.file)))
        }
        .ok_or_else(|| format!("file `{}` was not loaded", target.file))?;
        self.at(file, &target.pointer)
            .ok_or_else(|| format!("no node at `#{}` in `{}`", target.pointer, file.display))
    }

    /// Follows `$ref`s from `node` until a node without one, detecting cycles.
    pub fn deref<'a>(&'a self, node: Located<'a>) -> Result<Located<'a>, Diagnostic> {
        let mut current = node.clone();
        for _ in 0..MAX_REF_HOPS {
            let Some(reference) = current.value.get("$ref").and_then(Value::as_str) else {
                return Ok(current);
            };
            current = self
                .resolve_ref(&current.file.path, reference)
                .map_err(|m| {
                    Diagnostic::error(
                        Code::E1004,
                        &current.file.display,
                        &current.pointer,
                        format!("cannot resolve `$ref: {reference}`: {m}"),
                        "point the reference at an existing file and JSON pointer",
                    )
                })?;
        }
        Err(Diagnostic::error(
            Code::E1004,
            &node.file.display,
            &node.pointer,
            "`$ref` chain is circular or longer than 64 hops",
            "make the reference point at a definition, not at another reference loop",
        ))
    }
}

fn unreadable(display: &str, origin: Option<(String, String)>, e: &std::io::Error) -> Diagnostic {
    match origin {
        None => Diagnostic::error(
            Code::E1003,
            display,
            "",
            format!("cannot read file: {e}"),
            "check the path and the file's permissions",
        ),
        Some((file, site)) => Diagnostic::error(
            Code::E1004,
            file,
            site,
            format!("referenced file `{display}` cannot be read: {e}"),
            "point the reference at an existing file, relative to the referencing file",
        ),
    }
}

fn collect_refs(value: &Value, pointer: String, out: &mut Vec<(String, String)>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(r)) = map.get("$ref") {
                out.push((pointer.clone(), r.clone()));
            }
            for (key, child) in map {
                if LITERAL_KEYS.contains(&key.as_str()) || key.starts_with("x-") {
                    continue;
                }
                collect_refs(child, pointer::push(&pointer, key), out);
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                collect_refs(child, format!("{pointer}/{i}"), out);
            }
        }
        _ => {}
    }
}

fn common_ancestor(dirs: &[PathBuf]) -> PathBuf {
    let mut iter = dirs.iter();
    let Some(first) = iter.next() else {
        return PathBuf::new();
    };
    let mut common: Vec<_> = first.components().collect();
    for dir in iter {
        let len = common
            .iter()
            .zip(dir.components())
            .take_while(|(a, b)| **a == *b)
            .count();
        common.truncate(len);
    }
    common.iter().collect()
}

fn logical_name(root: &Path, path: &Path) -> String {
    let relative = path.strip_prefix(root).unwrap_or(path);
    relative
        .components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}
