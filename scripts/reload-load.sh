#!/usr/bin/env bash
# Does a hot reload cost requests anything? Runs the same wrk load twice against `serve`:
# once quietly, once while the artifact is swapped back and forth every 100 ms through
# POST /_admin/reload. Prints requests/s, p99 and error counts of both runs side by side.
#
# Usage: scripts/reload-load.sh [DURATION_SECONDS=10] [CONNECTIONS=64]
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${1:-10}
connections=${2:-64}
command -v wrk >/dev/null || { echo "missing wrk: apt-get install wrk" >&2; exit 1; }
cargo build --release -q -p barbacane
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$work"' EXIT

# Two artifacts with the same routes and different mock bodies.
./target/release/barbacane compile --spec examples/petstore/api.yaml --output "$work/a.bca" 2>/dev/null
sed 's/"name":"Rex"/"name":"Max"/' examples/petstore/api.yaml > "$work/b.yaml"
./target/release/barbacane compile --spec "$work/b.yaml" --output "$work/b.bca" 2>/dev/null
cp "$work/a.bca" "$work/live.bca"

./target/release/barbacane serve --artifact "$work/live.bca" --listen 127.0.0.1:18092 \
  --admin-listen 127.0.0.1:18093 --log-level warn &
for _ in $(seq 50); do curl -fs http://127.0.0.1:18092/__barbacane/health >/dev/null 2>&1 && break; sleep 0.1; done

run() {
  wrk -t1 -c"$connections" -d"${duration}s" --latency http://127.0.0.1:18092/pets/1 |
    awk -v n="$1" '/Requests\/sec/ {r=$2} $1 == "99%" {p=$2} /Non-2xx|Socket errors/ {e=e $0}
      END {printf "%-26s %12s req/s   p99 %-9s %s\n", n, r, p, (e == "" ? "no errors" : e)}'
}

run "steady (no reloads)"
(
  i=0
  while true; do
    if [ $((i % 2)) -eq 0 ]; then cp "$work/b.bca" "$work/next.bca"; else cp "$work/a.bca" "$work/next.bca"; fi
    mv "$work/next.bca" "$work/live.bca"
    curl -fs -X POST http://127.0.0.1:18093/_admin/reload >/dev/null || echo "reload failed" >&2
    i=$((i + 1))
    sleep 0.1
  done
) &
reloader=$!
run "reloading every 100 ms"
kill "$reloader"
