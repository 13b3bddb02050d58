//! Builds the plugins workspace (`plugins/`) for `wasm32-unknown-unknown` and generates the
//! table `src/lib.rs` embeds.
//!
//! The nested `cargo build` gets its own target directory (next to this build's), so it
//! never waits on the outer build's lock, and a fixed set of flags: the outer build's
//! `RUSTFLAGS` and wrappers (clippy, coverage) must not change the plugins' bytes, since
//! those bytes are hashed into every artifact that uses them. Registry paths are remapped so
//! modules do not depend on where `CARGO_HOME` is; workspace paths are already relative.

use serde::Deserialize;
use std::env;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

const TARGET: &str = "wasm32-unknown-unknown";

/// Link settings every plugin is built with: 1 MiB of initial memory and a 128 KiB shadow
/// stack keep the pages a request dirties inside the window the host resets in place.
const LINK_ARGS: [&str; 2] = ["--initial-memory=1048576", "-zstack-size=131072"];

#[derive(Deserialize)]
struct Manifest {
    name: String,
    wasm: String,
}

struct Found {
    dir: PathBuf,
    manifest: Manifest,
    test_only: bool,
}

fn main() {
    let manifest_dir =
        PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let root = manifest_dir
        .join("../..")
        .canonicalize()
        .expect("repository root");
    let plugins = root.join("plugins");
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("OUT_DIR"));

    watch(&plugins);
    ensure_target();
    let found = discover(&plugins);
    let target_dir = out
        .ancestors()
        .nth(4)
        .map_or_else(|| out.join("wasm"), |t| t.join("wasm-plugins"));
    build(&plugins, &target_dir);
    let built = target_dir.join(TARGET).join("release");
    generate(&found, &built, &out);
}

/// Re-run when any source file of the plugins or the SDK changes (not on build output).
fn watch(dir: &Path) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    println!("cargo:rerun-if-changed={}", dir.display());
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        if name == "target" || name.to_string_lossy().starts_with("target-") {
            continue;
        }
        if path.is_dir() {
            watch(&path);
        } else {
            println!("cargo:rerun-if-changed={}", path.display());
        }
    }
}

/// Every directory with a `plugin.toml`: `plugins/<name>/` (official) and
/// `plugins/test-plugins/<name>/` (tests only).
fn discover(plugins: &Path) -> Vec<Found> {
    let mut found = Vec::new();
    for (parent, test_only) in [
        (plugins.to_path_buf(), false),
        (plugins.join("test-plugins"), true),
    ] {
        let mut dirs: Vec<PathBuf> = fs::read_dir(&parent)
            .map(|d| d.flatten().map(|e| e.path()).collect())
            .unwrap_or_default();
        dirs.sort();
        for dir in dirs {
            let toml_path = dir.join("plugin.toml");
            let Ok(text) = fs::read_to_string(&toml_path) else {
                continue;
            };
            let manifest: Manifest =
                toml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", toml_path.display()));
            found.push(Found {
                dir,
                manifest,
                test_only,
            });
        }
    }
    found
}

fn build(plugins: &Path, target_dir: &Path) {
    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut flags: Vec<String> = LINK_ARGS
        .iter()
        .flat_map(|a| ["-C".into(), format!("link-arg={a}")])
        .collect();
    if let Some(home) = cargo_home() {
        flags.push(format!("--remap-path-prefix={}=/cargo", home.display()));
    }
    let mut command = Command::new(cargo);
    command
        .current_dir(plugins)
        .args([
            "build",
            "--release",
            "--locked",
            "--target",
            TARGET,
            "--manifest-path",
        ])
        .arg(plugins.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(target_dir)
        .env("CARGO_ENCODED_RUSTFLAGS", flags.join("\u{1f}"));
    for var in [
        "RUSTFLAGS",
        "RUSTC_WRAPPER",
        "RUSTC_WORKSPACE_WRAPPER",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET",
        "CARGO_BUILD_RUSTFLAGS",
        "CARGO_PROFILE_RELEASE_DEBUG",
        "CARGO_LLVM_COV",
        "LLVM_PROFILE_FILE",
    ] {
        command.env_remove(var);
    }
    let status = command
        .status()
        .unwrap_or_else(|e| panic!("cannot run cargo to build the plugins: {e}"));
    assert!(
        status.success(),
        "building plugins/ for {TARGET} failed (see the output above; a missing target is added with `rustup target add {TARGET}`, a stale plugins/Cargo.lock refreshed with `cargo update -w --manifest-path plugins/Cargo.toml`)"
    );
}

/// Makes sure the toolchain building us has the wasm32 standard library. `rust-toolchain.toml`
/// lists the target, but rustup applies that list only when it installs the toolchain, so a
/// machine that already had `stable` lacks it. When rustup manages the toolchain we add the
/// target through it (once; later builds find it); otherwise we stop with what to do.
fn ensure_target() {
    let rustc = env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let sysroot = Command::new(&rustc)
        .args(["--print", "sysroot"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()));
    let has_target = |root: &Path| root.join("lib/rustlib").join(TARGET).join("lib").is_dir();
    if sysroot.as_deref().is_some_and(has_target) {
        return;
    }
    let toolchain = env::var("RUSTUP_TOOLCHAIN").ok();
    let mut rustup = Command::new("rustup");
    rustup.args(["target", "add", TARGET]);
    if let Some(t) = &toolchain {
        rustup.args(["--toolchain", t]);
    }
    match rustup.status() {
        Ok(status) if status.success() => {
            // Cargo repeats a build script's warnings on later builds: say what happened once.
            println!(
                "cargo:warning=the {TARGET} target was missing (the official plugins are WebAssembly); it was added with `rustup target add {TARGET}`"
            );
        }
        Ok(status) => panic!(
            "`rustup target add {TARGET}` failed ({status}); the official plugins need the {TARGET} standard library: install it for the toolchain in use and build again"
        ),
        Err(e) => panic!(
            "the toolchain in use has no {TARGET} standard library, which the official plugins need, and rustup cannot be run ({e}): install the target for this toolchain (with rustup: `rustup target add {TARGET}`; otherwise your distribution's wasm32 Rust standard library package) and build again"
        ),
    }
}

fn cargo_home() -> Option<PathBuf> {
    env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
        .and_then(|p| p.canonicalize().ok())
}

/// Copies each plugin's files into `OUT_DIR` and writes the table of them.
fn generate(found: &[Found], built: &Path, out: &Path) {
    let mut code = String::from("// Generated by build.rs.\n");
    for (list, test_only) in [("OFFICIAL", false), ("TEST_PLUGINS", true)] {
        if test_only {
            code.push_str("#[cfg(feature = \"test-plugins\")]\n");
        }
        let _ = writeln!(code, "pub(crate) static {list}: &[Bundle] = &[");
        for plugin in found.iter().filter(|p| p.test_only == test_only) {
            let dest = out.join("plugins").join(&plugin.manifest.name);
            fs::create_dir_all(&dest).expect("create OUT_DIR/plugins");
            let wasm = built.join(&plugin.manifest.wasm);
            fs::copy(&wasm, dest.join(&plugin.manifest.wasm))
                .unwrap_or_else(|e| panic!("{}: {e}", wasm.display()));
            fs::copy(plugin.dir.join("plugin.toml"), dest.join("plugin.toml"))
                .expect("copy plugin.toml");
            let schema = plugin.dir.join("config-schema.json");
            let schema_code = if schema.exists() {
                fs::copy(&schema, dest.join("config-schema.json")).expect("copy schema");
                format!("Some(include_str!({:?}))", dest.join("config-schema.json"))
            } else {
                "None".to_owned()
            };
            let _ = writeln!(
                code,
                "    Bundle {{ name: {:?}, manifest: include_str!({:?}), wasm_file: {:?}, wasm: include_bytes!({:?}), schema: {schema_code} }},",
                plugin.manifest.name,
                dest.join("plugin.toml"),
                plugin.manifest.wasm,
                dest.join(&plugin.manifest.wasm),
            );
        }
        code.push_str("];\n");
    }
    fs::write(out.join("bundles.rs"), code).expect("write bundles.rs");
}
