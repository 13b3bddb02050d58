#!/usr/bin/env bash
# The whole test suite: formatting, lints (which also type-check every benchmark, test and
# example target), docs, fuzz targets, then every test.
# This is the command the README gives and the one CI runs.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "== cargo fmt --check"
cargo fmt --all -- --check
cargo fmt --manifest-path plugins/Cargo.toml --all -- --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets -- -D warnings
cargo clippy --manifest-path plugins/Cargo.toml --all-targets --locked -- -D warnings
cargo clippy --manifest-path plugins/Cargo.toml --target wasm32-unknown-unknown --locked -- -D warnings
echo "== cargo doc"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps -q
echo "== fuzz targets compile"
cargo check -q --manifest-path fuzz/Cargo.toml
echo "== evidence checkers (CycloneDX, in-toto, DSSE: see scripts/evidence-tools.sh)"
BARBACANE_EVIDENCE_PYTHON="$(scripts/evidence-tools.sh)"
export BARBACANE_EVIDENCE_PYTHON
echo "== public API descriptions (see scripts/real-specs.sh)"
BARBACANE_REAL_SPECS="$(scripts/real-specs.sh)"
export BARBACANE_REAL_SPECS
echo "== schemathesis for the control plane's API test (see scripts/schemathesis-tools.sh)"
BARBACANE_SCHEMATHESIS="$(scripts/schemathesis-tools.sh)"
export BARBACANE_SCHEMATHESIS
echo "== web UI browser-test tools (see scripts/ui-tools.sh)"
scripts/ui-tools.sh
echo "== Kafka-protocol broker for the event tests (see scripts/tansu.sh)"
BARBACANE_TANSU="$(scripts/tansu.sh)"
export BARBACANE_TANSU
echo "== cargo test"
cargo test --workspace
echo "== official plugins, natively against the SDK's fake host"
cargo test --manifest-path plugins/Cargo.toml --locked
