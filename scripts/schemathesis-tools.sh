#!/usr/bin/env bash
# schemathesis, which the control plane's API test (crates/barbacane-control/tests/it/
# schemathesis.rs) runs against a live `barbacane-control serve` and its served OpenAPI
# document: a Python virtual environment in target/schemathesis-venv, created once (needs
# PyPI), reused afterwards. Prints the path of the `schemathesis` executable.
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${BARBACANE_SCHEMATHESIS_VENV:-$PWD/target/schemathesis-venv}"
version=4.32.5
stamp="$venv/.barbacane-schemathesis-$version"
if [ ! -f "$stamp" ]; then
  echo "== installing schemathesis $version into $venv" >&2
  rm -rf "$venv"
  python3 -m venv "$venv" >&2
  "$venv/bin/pip" install -q --disable-pip-version-check "schemathesis==$version" >&2
  touch "$stamp"
fi
echo "$venv/bin/schemathesis"
