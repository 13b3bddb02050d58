//! A damaged or tampered artifact is refused at startup with exit code 11 (and by `inspect`).

use barbacane_artifact::Header;
use std::path::Path;

use crate::support::{Out, barbacane, compile_petstore, free_port, run};

/// Exit code for an unreadable, corrupt or tampered artifact.
const ARTIFACT_INVALID: i32 = 11;

/// `serve` on `artifact`; it must exit on its own (it never gets to listen).
fn serve(artifact: &Path) -> Out {
    run(barbacane()
        .arg("serve")
        .arg("--artifact")
        .arg(artifact)
        .arg("--listen")
        .arg(format!("127.0.0.1:{}", free_port())))
}

fn inspect(artifact: &Path, json: bool) -> Out {
    let mut cmd = barbacane();
    cmd.arg("inspect").arg(artifact);
    if json {
        cmd.arg("--json");
    }
    run(&mut cmd)
}

/// Header length, parsed header, and the offset of the first member's bytes.
fn layout(bytes: &[u8]) -> (usize, Header, usize) {
    let len = u32::from_le_bytes(bytes[8..12].try_into().expect("4 bytes")) as usize;
    let header: Header = serde_json::from_slice(&bytes[12..12 + len]).expect("header JSON");
    (len, header, 12 + len)
}

/// Asserts that `serve`, `inspect` and `inspect --json` all refuse `path` with exit 11 and
/// every one of `needles` in stderr.
#[track_caller]
fn assert_refused(path: &Path, needles: &[&str]) {
    for (what, out) in [
        ("serve", serve(path)),
        ("inspect", inspect(path, false)),
        ("inspect --json", inspect(path, true)),
    ] {
        out.assert_code(ARTIFACT_INVALID);
        for needle in needles {
            assert!(
                out.stderr.contains(needle),
                "{what}: {needle:?} not in stderr:\n{}",
                out.stderr
            );
        }
        assert!(
            out.stdout.is_empty(),
            "{what} printed something for a bad artifact:\n{}",
            out.stdout
        );
    }
}

#[test]
fn the_intact_artifact_is_accepted_by_inspect() {
    let dir = tempfile::tempdir().expect("tempdir");
    let artifact = compile_petstore(dir.path());
    inspect(&artifact, false).assert_code(0);
}

#[test]
fn a_flipped_byte_in_any_member_is_a_checksum_mismatch() {
    let dir = tempfile::tempdir().expect("tempdir");
    let artifact = compile_petstore(dir.path());
    let bytes = std::fs::read(&artifact).expect("read");
    let (_, header, mut offset) = layout(&bytes);
    assert!(header.members.len() >= 2, "{:?}", header.members);
    for member in &header.members {
        let mut tampered = bytes.clone();
        tampered[offset + member.size as usize / 2] ^= 0x01;
        let path = dir
            .path()
            .join(format!("flipped-{}.bca", member.name.replace('/', "_")));
        std::fs::write(&path, &tampered).expect("write");
        let name = format!("`{}`", member.name);
        assert_refused(&path, &["tampered", "checksum mismatch", &name]);
        offset += member.size as usize;
    }
    assert_eq!(offset, bytes.len(), "members end the file");
}

#[test]
fn a_checksum_edited_in_the_header_is_a_mismatch() {
    let dir = tempfile::tempdir().expect("tempdir");
    let artifact = compile_petstore(dir.path());
    let bytes = std::fs::read(&artifact).expect("read");
    let (len, header, _) = layout(&bytes);
    let sha = &header.members[0].sha256;
    let text = String::from_utf8(bytes[12..12 + len].to_vec()).expect("UTF-8 header");
    let first = if sha.starts_with('0') { "1" } else { "0" };
    let edited = text.replacen(sha.as_str(), &format!("{first}{}", &sha[1..]), 1);
    assert_eq!(edited.len(), text.len());
    let mut tampered = bytes[..12].to_vec();
    tampered.extend_from_slice(edited.as_bytes());
    tampered.extend_from_slice(&bytes[12 + len..]);
    let path = dir.path().join("edited.bca");
    std::fs::write(&path, &tampered).expect("write");
    assert_refused(&path, &["checksum mismatch", "config.json"]);
}

#[test]
fn a_truncated_artifact_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let artifact = compile_petstore(dir.path());
    let bytes = std::fs::read(&artifact).expect("read");
    let (len, header, _) = layout(&bytes);
    let last = &header.members.last().expect("a member").name;
    let member = format!("member `{last}` is incomplete");
    let cases: [(usize, &str, &str); 4] = [
        (bytes.len() - 1, "truncated", member.as_str()),
        (12 + len / 2, "truncated", "header is incomplete"),
        (10, "truncated", "header length is incomplete"),
        (4, "truncated", "magic is incomplete"),
    ];
    for (keep, a, b) in cases {
        let path = dir.path().join(format!("cut-{keep}.bca"));
        std::fs::write(&path, &bytes[..keep]).expect("write");
        assert_refused(&path, &[a, b]);
    }
    let empty = dir.path().join("empty.bca");
    std::fs::write(&empty, b"").expect("write");
    assert_refused(&empty, &["truncated"]);
}

#[test]
fn trailing_bytes_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let artifact = compile_petstore(dir.path());
    let mut bytes = std::fs::read(&artifact).expect("read");
    bytes.extend_from_slice(b"junk");
    let path = dir.path().join("trailing.bca");
    std::fs::write(&path, &bytes).expect("write");
    assert_refused(&path, &["4 unexpected trailing bytes"]);
}

#[test]
fn a_wrong_magic_is_not_an_artifact() {
    let dir = tempfile::tempdir().expect("tempdir");
    let artifact = compile_petstore(dir.path());
    let mut bytes = std::fs::read(&artifact).expect("read");
    bytes[..8].copy_from_slice(b"PK\x03\x04\0\0\0\0");
    let path = dir.path().join("magic.bca");
    std::fs::write(&path, &bytes).expect("write");
    assert_refused(&path, &["bad magic"]);

    // A text-mode transfer rewriting CRLF to LF breaks the magic too.
    let mut bytes = std::fs::read(&artifact).expect("read");
    bytes.remove(4);
    let path = dir.path().join("crlf.bca");
    std::fs::write(&path, &bytes).expect("write");
    assert_refused(&path, &["bad magic"]);

    let spec = crate::support::petstore();
    assert_refused(&spec, &["bad magic"]);
}

#[test]
fn a_hostile_header_length_or_version_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let artifact = compile_petstore(dir.path());
    let bytes = std::fs::read(&artifact).expect("read");

    let mut huge = bytes.clone();
    huge[8..12].copy_from_slice(&u32::MAX.to_le_bytes());
    let path = dir.path().join("huge.bca");
    std::fs::write(&path, &huge).expect("write");
    assert_refused(&path, &["larger than"]);

    let (len, _, _) = layout(&bytes);
    let text = String::from_utf8(bytes[12..12 + len].to_vec()).expect("UTF-8 header");
    assert!(text.contains("\"format_version\":1,"), "{text}");
    let mut future = bytes[..12].to_vec();
    future.extend_from_slice(
        text.replacen("\"format_version\":1,", "\"format_version\":7,", 1)
            .as_bytes(),
    );
    future.extend_from_slice(&bytes[12 + len..]);
    let path = dir.path().join("future.bca");
    std::fs::write(&path, &future).expect("write");
    assert_refused(&path, &["format version 7 is not supported"]);
}

#[test]
fn a_missing_artifact_exits_11() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("missing.bca");
    assert_refused(&path, &["cannot read", "missing.bca"]);
}
