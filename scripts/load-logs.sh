#!/usr/bin/env bash
# Load test of the access log (issue target: metrics plus the JSON access log add <= 2 us of
# server CPU per request). The example spec's mock route on three gateways of one binary,
# same run: access log off (`--log-level warn`), JSON, text (stderr to a file; the JSON one
# to /dev/null). Metrics are always on. Needs wrk.
#
# Usage: scripts/load-logs.sh [DURATION_SECONDS=10] [CONNECTIONS=64]
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib/measure.sh
source scripts/lib/measure.sh
duration=${1:-10}
connections=${2:-64}
path=/pets/1
command -v wrk >/dev/null || { echo "missing wrk: apt-get install wrk" >&2; exit 1; }
[ -n "${BIN:-}" ] || cargo build --release -q -p barbacane
bin=${BIN:-./target/release/barbacane}
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$work"' EXIT
"$bin" compile --spec examples/petstore/api.yaml --output "$work/api.bca" 2>/dev/null
serve() { # serve PORT ARGS...
  local port=$1
  shift
  "$bin" serve --artifact "$work/api.bca" --listen "127.0.0.1:$port" --admin-listen 127.0.0.1:0 "$@" &
}
serve 18490 --log-level warn 2>/dev/null; off=$!
serve 18491 --log-level info --log-format json 2>/dev/null; json=$!
serve 18492 --log-level info 2>"$work/text.log"; text=$!
wait_healthy 18490 18491 18492
echo "wrk: 1 thread, $connections connections, ${duration}s, path $path"
measure "access log off" "$off" "http://127.0.0.1:18490$path"
measure "JSON access log" "$json" "http://127.0.0.1:18491$path"
measure "text access log" "$text" "http://127.0.0.1:18492$path"
measure "access log off (again)" "$off" "http://127.0.0.1:18490$path"
sleep 0.3
echo "text access lines written: $(grep -c request_completed "$work/text.log")"
