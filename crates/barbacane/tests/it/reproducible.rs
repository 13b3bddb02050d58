//! Reproducible builds through the CLI: same inputs, same bytes and the same `artifact_hash`,
//! whatever the working directory, path spelling or argument order.

use std::path::{Path, PathBuf};

use crate::support::{
    EPOCH_RFC3339, artifact_hash, barbacane, compile_in, fixture, inspect_json, petstore, root, run,
};

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

#[test]
fn same_spec_gives_identical_bytes_from_any_directory_and_path_spelling() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = |n: &str| dir.path().join(format!("{n}.bca"));
    let root = root();
    let abs = petstore();
    let builds: Vec<(PathBuf, PathBuf, PathBuf)> = vec![
        (
            root.clone(),
            PathBuf::from("examples/petstore/api.yaml"),
            out("rel-root"),
        ),
        (
            root.clone(),
            PathBuf::from("examples/petstore/api.yaml"),
            out("rel-root-again"),
        ),
        (root.clone(), abs.clone(), out("abs-root")),
        (
            root.join("examples/petstore"),
            PathBuf::from("api.yaml"),
            out("rel-here"),
        ),
        (
            root.join("tests"),
            PathBuf::from("../examples/./petstore/api.yaml"),
            out("dotdot"),
        ),
        (dir.path().to_path_buf(), abs.clone(), out("abs-tmp")),
    ];
    for (cwd, spec, target) in &builds {
        compile_in(cwd, &[spec], target, &[]);
    }
    let reference = read(&builds[0].2);
    for (cwd, spec, target) in &builds[1..] {
        assert!(
            read(target) == reference,
            "{} differs (cwd {}, --spec {})",
            target.display(),
            cwd.display(),
            spec.display()
        );
    }
    // No absolute path leaks into the artifact.
    let text = String::from_utf8_lossy(&reference);
    assert!(
        !text.contains(root.to_string_lossy().as_ref()),
        "artifact mentions {}",
        root.display()
    );
}

#[test]
fn argument_order_of_several_specs_does_not_matter() {
    let dir = tempfile::tempdir().expect("tempdir");
    let users = fixture("valid/multi/users.yaml");
    let orders = fixture("valid/multi/orders.yaml");
    let a = dir.path().join("a.bca");
    let b = dir.path().join("b.bca");
    compile_in(&root(), &[&users, &orders], &a, &[]);
    compile_in(&root(), &[&orders, &users], &b, &[]);
    let (ha, hb) = (artifact_hash(&a), artifact_hash(&b));
    assert_eq!(ha, hb);
    assert!(ha.starts_with("sha256:") && ha.len() == 71, "{ha}");
    assert_eq!(read(&a), read(&b), "same hash but different bytes");

    let header = inspect_json(&a);
    let names: Vec<&str> = header["inputs"]
        .as_array()
        .expect("inputs")
        .iter()
        .map(|i| i["name"].as_str().unwrap_or(""))
        .filter(|n| !n.starts_with("official/"))
        .collect();
    assert_eq!(
        names,
        ["orders.yaml", "users.yaml"],
        "inputs in canonical order"
    );
}

#[test]
fn build_timestamp_comes_from_source_date_epoch_and_is_not_hashed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let a = dir.path().join("a.bca");
    compile_in(&root(), &[fixture("valid/minimal.yaml")], &a, &[]);
    let header = inspect_json(&a);
    assert_eq!(header["build_timestamp"], EPOCH_RFC3339);

    let b = dir.path().join("b.bca");
    let out = run(barbacane()
        .env("SOURCE_DATE_EPOCH", "0")
        .args(["compile", "--spec"])
        .arg(fixture("valid/minimal.yaml"))
        .arg("-o")
        .arg(&b));
    out.assert_code(0);
    let other = inspect_json(&b);
    assert_eq!(other["build_timestamp"], "1970-01-01T00:00:00Z");
    assert_eq!(
        other["artifact_hash"], header["artifact_hash"],
        "the hash covers inputs only"
    );
    assert_ne!(read(&a), read(&b), "the timestamp is part of the bytes");
}

#[test]
fn the_hash_follows_content_not_location() {
    let dir = tempfile::tempdir().expect("tempdir");
    let original = fixture("valid/minimal.yaml");
    let original_hash = {
        let out = dir.path().join("original.bca");
        compile_in(&root(), &[&original], &out, &[]);
        artifact_hash(&out)
    };

    // The same bytes under the same name elsewhere: same fingerprint.
    let copy_dir = dir.path().join("copy");
    std::fs::create_dir(&copy_dir).expect("mkdir");
    let copy = copy_dir.join("minimal.yaml");
    let mut bytes = read(&original);
    std::fs::write(&copy, &bytes).expect("write copy");
    let copied = dir.path().join("copied.bca");
    compile_in(dir.path(), &["copy/minimal.yaml"], &copied, &[]);
    assert_eq!(artifact_hash(&copied), original_hash);

    // One byte changed: a different fingerprint and input checksum.
    let at = bytes
        .iter()
        .position(|&b| b == b'M')
        .expect("an `M` in `Minimal`");
    bytes[at] = b'N';
    std::fs::write(&copy, &bytes).expect("write changed copy");
    let changed = dir.path().join("changed.bca");
    compile_in(dir.path(), &["copy/minimal.yaml"], &changed, &[]);
    assert_ne!(artifact_hash(&changed), original_hash);
    assert_ne!(
        inspect_json(&changed)["inputs"][0]["sha256"],
        inspect_json(&copied)["inputs"][0]["sha256"]
    );

    // Renaming the file changes the logical name, hence the hash too.
    bytes[at] = b'M';
    let renamed = copy_dir.join("renamed.yaml");
    std::fs::write(&renamed, &bytes).expect("write renamed");
    let renamed_out = dir.path().join("renamed.bca");
    compile_in(dir.path(), &[&renamed], &renamed_out, &[]);
    assert_ne!(artifact_hash(&renamed_out), original_hash);
}

#[test]
fn base_path_is_an_input_of_the_fingerprint() {
    let dir = tempfile::tempdir().expect("tempdir");
    let plain = dir.path().join("plain.bca");
    let based = dir.path().join("based.bca");
    compile_in(&root(), &[fixture("valid/minimal.yaml")], &plain, &[]);
    compile_in(
        &root(),
        &[fixture("valid/minimal.yaml")],
        &based,
        &["--base-path", "/v1"],
    );
    assert_ne!(artifact_hash(&plain), artifact_hash(&based));
    let inputs = inspect_json(&based)["inputs"].clone();
    let option = inputs
        .as_array()
        .expect("inputs")
        .iter()
        .find(|i| i["kind"] == "option")
        .unwrap_or_else(|| panic!("no option input in {inputs}"));
    assert_eq!(option["name"], "base-path");
}
