#!/usr/bin/env bash
# Public API descriptions the real-world tests compile and enforce, fetched once from the npm
# registry into target/real-specs (needs npm): GitHub's REST description (`@octokit/openapi`).
# Prints the directory holding the descriptions.
set -euo pipefail
cd "$(dirname "$0")/.."
dir="${BARBACANE_REAL_SPECS_DIR:-$PWD/target/real-specs}"
version="23.0.2"
stamp="$dir/.octokit-openapi-$version"
if [ ! -f "$stamp" ]; then
  echo "== fetching @octokit/openapi@$version into $dir" >&2
  mkdir -p "$dir"
  tarball="$(cd "$dir" && npm pack --silent "@octokit/openapi@$version" | tail -n 1)"
  tar -xzf "$dir/$tarball" -C "$dir" package/generated/api.github.com.json
  mv "$dir/package/generated/api.github.com.json" "$dir/api.github.com.json"
  rm -rf "$dir/package" "$dir/$tarball"
  touch "$stamp"
fi
echo "$dir"
