#!/usr/bin/env bash
# Load test of traffic control (issue targets: a local rate limit adds <= 2 us of server CPU
# per request, a Redis-backed one one round trip and <= 15 us; a cache hit costs no more
# than the plain mock route). Same run, same load generator, one gateway process per
# configuration, all on the example spec's mock route:
#   mock                      the example spec as is
#   mock + rate-limit (local) x-barbacane-ratelimit with a quota never reached, in process
#   mock + rate-limit (redis) the same artifact with --state redis://127.0.0.1:6379/15
#   cache hit (local)         x-barbacane-cache in front of the same route, in process
#   cache hit (redis)         the same artifact with --state redis://127.0.0.1:6379/15
# Needs wrk and a Redis on 127.0.0.1:6379 (`apt-get install wrk redis-server`).
#
# Usage: scripts/load-traffic.sh [DURATION_SECONDS=10] [CONNECTIONS=64]
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib/measure.sh
source scripts/lib/measure.sh
duration=${1:-10}
connections=${2:-64}
path=/pets/1
command -v wrk >/dev/null || { echo "missing wrk: apt-get install wrk" >&2; exit 1; }
redis=redis://127.0.0.1:6379/15

[ -n "${BIN:-}" ] || cargo build --release -q -p barbacane
bin=${BIN:-./target/release/barbacane}
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$work"' EXIT
with_root() { # with_root LINE: the example spec with LINE at its root
  { echo 'openapi: 3.1.0'; echo "$1"; tail -n +2 examples/petstore/api.yaml; } > "$work/spec.yaml"
}
"$bin" compile --spec examples/petstore/api.yaml --output "$work/mock.bca" 2>/dev/null
with_root 'x-barbacane-ratelimit: {quota: 1000000000, window: 60}'
"$bin" compile --spec "$work/spec.yaml" --output "$work/rl.bca" 2>/dev/null
with_root 'x-barbacane-cache: {ttl: 3600}'
"$bin" compile --spec "$work/spec.yaml" --output "$work/cache.bca" 2>/dev/null

serve() { # serve PORT ARTIFACT [ARGS...]
  local port=$1 artifact=$2
  shift 2
  "$bin" serve --artifact "$artifact" --listen "127.0.0.1:$port" --admin-listen 127.0.0.1:0 \
    --log-level warn "$@" &
}
serve 18190 "$work/mock.bca"; mock_pid=$!
serve 18191 "$work/rl.bca"; rl_pid=$!
serve 18192 "$work/rl.bca" --state "$redis"; rlr_pid=$!
serve 18193 "$work/cache.bca"; cache_pid=$!
serve 18194 "$work/cache.bca" --state "$redis"; cacher_pid=$!
wait_healthy 18190 18191 18192 18193 18194
# The entries the cache runs serve (a miss fills each).
curl -fs "http://127.0.0.1:18193$path" >/dev/null
curl -fs "http://127.0.0.1:18194$path" >/dev/null

echo "wrk: 1 thread, $connections connections, ${duration}s, path $path"
measure "mock" "$mock_pid" "http://127.0.0.1:18190$path"
measure "mock + rate-limit (local)" "$rl_pid" "http://127.0.0.1:18191$path"
measure "mock + rate-limit (redis)" "$rlr_pid" "http://127.0.0.1:18192$path"
measure "cache hit (local)" "$cache_pid" "http://127.0.0.1:18193$path"
measure "cache hit (redis)" "$cacher_pid" "http://127.0.0.1:18194$path"
echo "X-Cache of the last local request: $(curl -s -o /dev/null -D - "http://127.0.0.1:18193$path" | tr -d '\r' | awk -F': ' 'tolower($1) == "x-cache" {print $2}')"

# Fleet correctness: two more gateways on the same Redis, quota 100 per 10 s (one key: every
# request comes from 127.0.0.1), both loaded at once for 3 s. Allowed = responses that were
# not 429; one quota for the fleet means 100 in total, not 100 per gateway.
with_root "x-barbacane-ratelimit: {quota: 100, window: 10, policy_name: fleet-$$}"
"$bin" compile --spec "$work/spec.yaml" --output "$work/fleet.bca" 2>/dev/null
serve 18195 "$work/fleet.bca" --state "$redis"
serve 18196 "$work/fleet.bca" --state "$redis"
wait_healthy 18195 18196
fleet() { wrk -t1 -c16 -d3s "http://127.0.0.1:$1$path" > "$work/fleet-$1.txt"; }
fleet 18195 & a=$!
fleet 18196 & b=$!
wait "$a" "$b"
total=0 refused=0
for port in 18195 18196; do
  total=$((total + $(awk '/requests in/ {print $1}' "$work/fleet-$port.txt")))
  refused=$((refused + $(awk '/Non-2xx/ {print $NF}' "$work/fleet-$port.txt")))
done
echo "fleet quota (2 gateways, one Redis, q=100 w=10s): $total requests, $((total - refused)) allowed"
