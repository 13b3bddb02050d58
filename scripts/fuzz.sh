#!/usr/bin/env bash
# Fuzzes every target in fuzz/ for SECONDS each (default 600, i.e. 10 minutes), starting
# from the seeds kept in fuzz/seeds/<target>/ plus the corpus grown by earlier runs
# (fuzz/corpus/<target>/, not committed). A crash stops the run; its input is written to
# fuzz/artifacts/<target>/ and reproduced with `cargo +nightly fuzz run <target> <file>`.
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]
#
# Needs the nightly toolchain (libFuzzer's sanitizer flags) with the wasm32 target (the
# compiler's build script builds the official plugins with the same cargo), and cargo-fuzz;
# both are installed when missing. Not part of CI: it runs for as long as you give it.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-600}"
shift || true
rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
rustup +nightly target list --installed | grep -q wasm32-unknown-unknown \
  || rustup target add wasm32-unknown-unknown --toolchain nightly
command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --locked
targets=("$@")
if [ "${#targets[@]}" -eq 0 ]; then
  mapfile -t targets < <(cargo +nightly fuzz list)
fi
for target in "${targets[@]}"; do
  mkdir -p "fuzz/corpus/$target"
  echo "== $target for ${seconds}s"
  cargo +nightly fuzz run "$target" "fuzz/corpus/$target" "fuzz/seeds/$target" -- \
    -max_total_time="$seconds" -print_final_stats=1
done
echo "== no crash in ${#targets[@]} target(s)"
