#!/usr/bin/env bash
# The independent checkers the supply-chain tests run (CycloneDX's own schema, in-toto's own
# bindings, securesystemslib's DSSE): a Python virtual environment in target/evidence-venv,
# created once (needs PyPI), reused afterwards. Prints the interpreter's path.
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${BARBACANE_EVIDENCE_VENV:-$PWD/target/evidence-venv}"
stamp="$venv/.barbacane-tools-v1"
if [ ! -f "$stamp" ]; then
  echo "== installing the evidence checkers into $venv" >&2
  python3 -m venv "$venv" >&2
  "$venv/bin/pip" install -q --disable-pip-version-check \
    "cyclonedx-python-lib[json-validation]==11.12.0" \
    "in-toto-attestation==0.9.3" \
    "securesystemslib[crypto]==1.6.0" >&2
  touch "$stamp"
fi
echo "$venv/bin/python"
