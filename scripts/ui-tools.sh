#!/usr/bin/env bash
# The tools the web UI's end-to-end test drives Debian's chromium with: playwright-core and
# axe-core, installed from the npm registry with `npm ci` (the versions of
# crates/barbacane-control/tests/ui/package-lock.json) into that folder's node_modules.
# Needs npm and node; chromium itself is Debian's (.ci/run installs it). Nothing of this is
# part of the product's build.
set -euo pipefail
cd "$(dirname "$0")/../crates/barbacane-control/tests/ui"
lock_sum="$(sha256sum package-lock.json | cut -d' ' -f1)"
stamp="node_modules/.installed-$lock_sum"
if [ ! -f "$stamp" ]; then
  echo "== npm ci in $PWD" >&2
  npm ci --no-audit --no-fund --silent >&2
  touch "$stamp"
fi
