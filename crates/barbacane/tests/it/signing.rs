//! Signed artifacts: `keygen`, `compile --signing-key`, `verify`, and what `serve` does with
//! `--trusted-key` and `--require-signature`, at startup and at reload.

use std::path::{Path, PathBuf};

use crate::support::{
    Launch, Out, Server, assert_problem, barbacane, compile_in, free_port, inspect_json,
    one_route_artifact, replace_file, run,
};

const USAGE: i32 = 10;
const ARTIFACT_INVALID: i32 = 11;
const SIGNATURE_REJECTED: i32 = 16;

const COMMIT: &str = "c0ffee0000000000000000000000000000000001";

/// `barbacane keygen --out dir/name`; returns the key id it prints.
#[track_caller]
fn keygen(dir: &Path, name: &str) -> String {
    let out = run(barbacane().arg("keygen").arg("--out").arg(dir.join(name)));
    out.assert_code(0);
    key_id_of(&out)
}

fn key_id_of(out: &Out) -> String {
    let id = out
        .stderr
        .lines()
        .find_map(|l| l.trim().strip_prefix("key_id: "))
        .unwrap_or_else(|| panic!("no key_id in {}", out.stderr))
        .to_owned();
    assert_eq!(id.len(), 16, "{id}");
    assert!(id.bytes().all(|b| b.is_ascii_hexdigit()), "{id}");
    id
}

/// A one-route artifact `dir/<stem>.bca`, signed with `dir/<key>.key` when `key` is given.
fn build(dir: &Path, stem: &str, route: &str, key: Option<&str>) -> PathBuf {
    let key_path = key.map(|k| dir.join(format!("{k}.key")).display().to_string());
    let mut extra = vec!["--provenance-commit", COMMIT];
    if let Some(k) = &key_path {
        extra.extend(["--signing-key", k.as_str()]);
    }
    one_route_artifact(dir, stem, route, r#"{"ok":true}"#, &extra)
}

fn verify(artifact: &Path, keys: &[&Path]) -> Out {
    let mut cmd = barbacane();
    cmd.arg("verify").arg(artifact);
    for k in keys {
        cmd.arg("--trusted-key").arg(k);
    }
    run(&mut cmd)
}

/// `serve` that is expected to exit at startup, run from the artifact's directory.
fn serve_fails(artifact: &Path, flags: &[&str]) -> Out {
    run(barbacane()
        .current_dir(artifact.parent().expect("a directory"))
        .arg("serve")
        .arg("--artifact")
        .arg(artifact)
        .args(flags)
        .arg("--listen")
        .arg(format!("127.0.0.1:{}", free_port()))
        .arg("--admin-listen")
        .arg(format!("127.0.0.1:{}", free_port())))
}

fn serve(dir: &Path, artifact: &str, flags: &[&str]) -> Server {
    let mut args = vec!["serve", "--artifact", artifact];
    args.extend_from_slice(flags);
    Server::start_with(dir, &args, &Launch::default())
}

/// Flips `byte` into the header at the first occurrence of `needle` (same length).
fn edit_header(bytes: &[u8], needle: &str, replacement: &str) -> Vec<u8> {
    assert_eq!(needle.len(), replacement.len());
    let len = u32::from_le_bytes(bytes[8..12].try_into().expect("4 bytes")) as usize;
    let header = String::from_utf8(bytes[12..12 + len].to_vec()).expect("UTF-8 header");
    assert!(header.contains(needle), "{needle} not in {header}");
    let mut out = bytes[..12].to_vec();
    out.extend_from_slice(header.replacen(needle, replacement, 1).as_bytes());
    out.extend_from_slice(&bytes[12 + len..]);
    out
}

/// Permission bits in octal, e.g. `"600"`.
#[cfg(unix)]
fn mode(path: &Path) -> String {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(path).expect("metadata");
    format!("{:o}", meta.permissions().mode() & 0o777)
}

#[test]
fn keygen_writes_a_private_and_a_public_key_and_never_overwrites_silently() {
    let dir = tempfile::tempdir().expect("tempdir");
    let id = keygen(dir.path(), "k");
    let (private, public) = (dir.path().join("k.key"), dir.path().join("k.pub"));
    let private_pem = std::fs::read_to_string(&private).expect("private key");
    let public_pem = std::fs::read_to_string(&public).expect("public key");
    assert!(private_pem.contains("BEGIN PRIVATE KEY"), "{private_pem}");
    assert!(public_pem.contains("BEGIN PUBLIC KEY"), "{public_pem}");
    #[cfg(unix)]
    assert_eq!(mode(&private), "600");

    let again = run(barbacane()
        .arg("keygen")
        .arg("--out")
        .arg(dir.path().join("k")));
    again.assert_code(USAGE);
    assert!(again.stderr.contains("--force"), "{}", again.stderr);
    assert_eq!(
        std::fs::read_to_string(&private).expect("read"),
        private_pem
    );
    assert_eq!(std::fs::read_to_string(&public).expect("read"), public_pem);

    // Either file existing is enough to refuse.
    std::fs::remove_file(&private).expect("remove");
    run(barbacane()
        .arg("keygen")
        .arg("--out")
        .arg(dir.path().join("k")))
    .assert_code(USAGE);
    assert!(!private.exists());

    let forced = run(barbacane()
        .args(["keygen", "--force", "--out"])
        .arg(dir.path().join("k")));
    forced.assert_code(0);
    assert_ne!(key_id_of(&forced), id, "a new key");
    assert_ne!(std::fs::read_to_string(&public).expect("read"), public_pem);
    #[cfg(unix)]
    assert_eq!(mode(&private), "600");
}

#[cfg(unix)]
#[test]
fn keygen_force_makes_an_existing_private_key_file_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("tempdir");
    keygen(dir.path(), "k");
    let private = dir.path().join("k.key");
    std::fs::set_permissions(&private, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    run(barbacane()
        .args(["keygen", "--force", "--out"])
        .arg(dir.path().join("k")))
    .assert_code(0);
    assert_eq!(
        mode(&private),
        "600",
        "the new private key is world-readable"
    );
}

#[test]
fn verify_and_provenance_report_the_signature() {
    let dir = tempfile::tempdir().expect("tempdir");
    let id = keygen(dir.path(), "k");
    let other_id = keygen(dir.path(), "other");
    assert_ne!(id, other_id);
    let (public, other) = (dir.path().join("k.pub"), dir.path().join("other.pub"));
    let signed = build(dir.path(), "signed", "/s", Some("k"));
    let unsigned = build(dir.path(), "unsigned", "/s", None);

    let header = inspect_json(&signed);
    assert_eq!(header["signature"]["key_id"], id.as_str(), "{header}");
    assert_eq!(header["signature"]["algorithm"], "ed25519", "{header}");
    let unsigned_header = inspect_json(&unsigned);
    assert!(
        unsigned_header.get("signature").is_none(),
        "{unsigned_header}"
    );
    // Signing covers the header; it does not change the input fingerprint.
    let plain = dir.path().join("plain.bca");
    compile_in(
        dir.path(),
        &["signed.yaml"],
        &plain,
        &["--provenance-commit", COMMIT],
    );
    assert_eq!(
        header["artifact_hash"],
        inspect_json(&plain)["artifact_hash"]
    );

    let ok = verify(&signed, &[&public]);
    ok.assert_code(0);
    assert!(
        ok.stdout
            .contains(&format!("signature: verified (key {id})")),
        "{}",
        ok.stdout
    );
    verify(&signed, &[&other, &public]).assert_code(0);
    let untrusted = verify(&signed, &[&other]);
    untrusted.assert_code(SIGNATURE_REJECTED);
    assert!(
        untrusted.stdout.contains("not trusted"),
        "{}",
        untrusted.stdout
    );
    let not_signed = verify(&unsigned, &[&public]);
    not_signed.assert_code(SIGNATURE_REJECTED);
    assert!(
        not_signed.stdout.contains("not signed"),
        "{}",
        not_signed.stdout
    );
    // Without trusted keys, verify checks integrity only.
    verify(&signed, &[]).assert_code(0);
    verify(&unsigned, &[]).assert_code(0);

    let mut tampered = std::fs::read(&signed).expect("read");
    let last = tampered.len() - 2;
    tampered[last] ^= 0x01;
    let tampered_path = dir.path().join("tampered.bca");
    std::fs::write(&tampered_path, &tampered).expect("write");
    let bad = verify(&tampered_path, &[&public]);
    bad.assert_code(ARTIFACT_INVALID);
    assert!(bad.stdout.contains("FAIL"), "{}", bad.stdout);

    // A signing key that is not a key is a usage error.
    let out = run(barbacane()
        .current_dir(dir.path())
        .args(["compile", "--spec", "signed.yaml", "--output", "x.bca"])
        .args(["--signing-key", "k.pub"]));
    out.assert_code(USAGE);
    assert!(!dir.path().join("x.bca").exists());

    let trusted = serve(dir.path(), "signed.bca", &["--trusted-key", "k.pub"]);
    let doc = trusted.provenance(None);
    assert_eq!(doc["signature"]["status"], "verified", "{doc}");
    assert_eq!(doc["signature"]["key_id"], id.as_str(), "{doc}");
    assert_eq!(trusted.get("/s").status, 200);
    drop(trusted);
    for flags in [&[][..], &["--trusted-key", "other.pub"][..]] {
        let server = serve(dir.path(), "signed.bca", flags);
        let doc = server.provenance(None);
        assert_eq!(doc["signature"]["status"], "invalid", "{flags:?}: {doc}");
        assert_eq!(doc["signature"]["key_id"], id.as_str(), "{flags:?}: {doc}");
    }
    let server = serve(dir.path(), "unsigned.bca", &["--trusted-key", "k.pub"]);
    assert_eq!(server.provenance(None)["signature"]["status"], "unsigned");
}

#[test]
fn require_signature_at_startup_and_at_reload() {
    let dir = tempfile::tempdir().expect("tempdir");
    let id = keygen(dir.path(), "k");
    keygen(dir.path(), "other");
    let signed = build(dir.path(), "signed", "/a", Some("k"));
    let next = build(dir.path(), "next", "/b", Some("k"));
    let by_other = build(dir.path(), "by-other", "/b", Some("other"));
    let unsigned = build(dir.path(), "unsigned", "/b", None);
    let require = ["--require-signature", "--trusted-key", "k.pub"];

    for (artifact, flags, status) in [
        (&unsigned, &require[..], "unsigned"),
        (&by_other, &require[..], "invalid"),
        (&signed, &["--require-signature"][..], "invalid"),
    ] {
        let out = serve_fails(artifact, flags);
        out.assert_code(SIGNATURE_REJECTED);
        assert!(
            out.stderr
                .contains(&format!("signature rejected ({status})")),
            "{artifact:?} {flags:?}: {}",
            out.stderr
        );
    }

    // A private key (or any non-public-key file) as --trusted-key is a usage error.
    serve_fails(&signed, &["--trusted-key", "k.key"]).assert_code(USAGE);
    verify(&signed, &[&dir.path().join("k.key")]).assert_code(USAGE);

    std::fs::copy(&signed, dir.path().join("live.bca")).expect("copy");
    let live = dir.path().join("live.bca");
    let server = serve(dir.path(), "live.bca", &require);
    let doc = server.provenance(None);
    assert_eq!(doc["signature"]["status"], "verified", "{doc}");
    assert_eq!(doc["signature"]["key_id"], id.as_str());
    let hash = doc["artifact_hash"].clone();

    for (what, candidate) in [("unsigned", &unsigned), ("untrusted", &by_other)] {
        replace_file(&live, &std::fs::read(candidate).expect("read"));
        let r = server.admin("POST", "/_admin/reload", &[]);
        let problem = assert_problem(&r, 422, "reload-rejected");
        assert!(
            problem["detail"]
                .as_str()
                .unwrap_or_default()
                .contains("signature rejected"),
            "{what}: {problem}"
        );
        let doc = server.provenance(None);
        assert_eq!(doc["artifact_hash"], hash, "{what}");
        assert_eq!(doc["signature"]["status"], "verified", "{what}");
        assert!(doc["last_reload_error"].is_object(), "{what}: {doc}");
        assert_eq!(server.get("/a").status, 200, "{what}");
        assert_eq!(server.get("/b").status, 404, "{what}");
    }

    replace_file(&live, &std::fs::read(&next).expect("read"));
    let r = server.admin("POST", "/_admin/reload", &[]);
    assert_eq!(r.status, 200, "{r:?}");
    let doc = server.provenance(None);
    assert_eq!(doc["signature"]["status"], "verified", "{doc}");
    assert!(doc["last_reload_error"].is_null(), "{doc}");
    assert_eq!(server.get("/b").status, 200);
}

#[test]
fn an_edited_signed_header_never_verifies() {
    let dir = tempfile::tempdir().expect("tempdir");
    keygen(dir.path(), "k");
    let signed = build(dir.path(), "signed", "/a", Some("k"));
    let bytes = std::fs::read(&signed).expect("read");

    // One character of provenance_commit: integrity still holds (the commit is not an input),
    // so only the signature can catch it.
    let forged_commit = COMMIT.replacen('1', "2", 1);
    let edited = edit_header(&bytes, COMMIT, &forged_commit);
    let path = dir.path().join("edited.bca");
    std::fs::write(&path, &edited).expect("write");
    let out = verify(&path, &[&dir.path().join("k.pub")]);
    out.assert_code(SIGNATURE_REJECTED);
    assert!(
        out.stdout.contains("does not match the header"),
        "{}",
        out.stdout
    );
    let out = serve_fails(
        &path,
        &[
            "--trusted-key",
            &dir.path().join("k.pub").display().to_string(),
            "--require-signature",
        ],
    );
    out.assert_code(SIGNATURE_REJECTED);
    assert!(
        out.stderr.contains("does not match the header"),
        "{}",
        out.stderr
    );
    // Without --require-signature the data plane serves it but reports the signature as
    // invalid, never as verified.
    let server = serve(dir.path(), "edited.bca", &["--trusted-key", "k.pub"]);
    let doc = server.provenance(None);
    assert_eq!(doc["provenance_commit"], forged_commit.as_str());
    assert_eq!(doc["signature"]["status"], "invalid", "{doc}");
    drop(server);

    // One character of artifact_hash: refused either way. With --require-signature the
    // signature is checked first, on the header alone, before any per-member work (exit 16);
    // without it, the integrity check refuses it (exit 11).
    let hash = inspect_json(&signed)["artifact_hash"]
        .as_str()
        .expect("hash")
        .to_owned();
    let last = hash.chars().last().expect("non-empty");
    let forged_hash = format!(
        "{}{}",
        &hash[..hash.len() - 1],
        if last == '0' { '1' } else { '0' }
    );
    let path = dir.path().join("edited-hash.bca");
    std::fs::write(&path, edit_header(&bytes, &hash, &forged_hash)).expect("write");
    let key = dir.path().join("k.pub").display().to_string();
    let out = serve_fails(&path, &["--trusted-key", key.as_str()]);
    out.assert_code(ARTIFACT_INVALID);
    assert!(
        out.stderr.contains("does not match its inputs"),
        "{}",
        out.stderr
    );
    let out = serve_fails(
        &path,
        &["--trusted-key", key.as_str(), "--require-signature"],
    );
    out.assert_code(SIGNATURE_REJECTED);
    assert!(
        out.stderr.contains("does not match the header"),
        "{}",
        out.stderr
    );
    // With trusted keys, `verify` checks the signature on the header before anything else.
    let out = verify(&path, &[&dir.path().join("k.pub")]);
    out.assert_code(SIGNATURE_REJECTED);
    assert!(out.stdout.contains("FAIL signature"), "{}", out.stdout);
    // Without keys, the edit is found by the integrity check.
    verify(&path, &[]).assert_code(ARTIFACT_INVALID);
}
