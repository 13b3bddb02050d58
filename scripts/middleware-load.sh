#!/usr/bin/env bash
# Security and traffic middlewares under load: what `rate-limit` (in process and on Redis),
# `apikey-auth` and `jwt-auth` (ES256, RS256; JWKS cached) cost per request next to the same route without them, and whether two
# gateways sharing one Redis let exactly the quota through. Needs wrk and a Redis on 127.0.0.1:6379
# (`apt-get install wrk redis-server`). Server CPU per request is measured as in load.sh
# (utime+stime from /proc/PID/stat over requests served).
#
# Usage: scripts/middleware-load.sh [DURATION_SECONDS=10] [CONNECTIONS=64]
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib/measure.sh
source scripts/lib/measure.sh
duration=${1:-10}
connections=${2:-64}
command -v wrk >/dev/null || { echo "missing wrk: apt-get install wrk" >&2; exit 1; }
redis-cli -p 6379 ping >/dev/null || { echo "no Redis on 127.0.0.1:6379" >&2; exit 1; }

cargo build --release -q -p barbacane
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$work"' EXIT
run=$$-$RANDOM
spec() { # $1 = root extensions
  cat <<SPEC
openapi: 3.1.0
info: {title: rl bench, version: "1"}
$1
paths:
  /pets/{id}:
    get:
      parameters: [{name: id, in: path, required: true, schema: {type: integer}}]
      x-barbacane-dispatch: {name: mock, config: {status: 200, body: '{"id":1}'}}
SPEC
}
spec "" > "$work/plain.yaml"
# A quota no benchmark reaches: every request is counted and allowed.
spec "x-barbacane-ratelimit: {quota: 1000000000, window: 60, policy_name: bench-$run}" > "$work/rl.yaml"
spec "x-barbacane-ratelimit: {quota: 100, window: 10, policy_name: fleet-$run}" > "$work/fleet.yaml"
spec "x-barbacane-middlewares: [{name: apikey-auth, config: {keys: [{key: \"sha256:$(printf %s bench-key | sha256sum | cut -d' ' -f1)\", id: bench}]}}]" > "$work/key.yaml"
# jwt-auth: a JWKS served over loopback by Python's http.server, tokens signed by the
# `cryptography` package (scripts/evidence-tools.sh installs it).
py=$(scripts/evidence-tools.sh)
for alg in ES256 RS256; do
  mkdir -p "$work/jwt-$alg"
  "$py" scripts/jwt-fixture.py "$work/jwt-$alg" "$alg"
done
(cd "$work" && exec "$py" -m http.server 18199 --bind 127.0.0.1 >/dev/null 2>&1) &
for alg in ES256 RS256; do
  spec "x-barbacane-middlewares: [{name: jwt-auth, config: {jwks_url: \"http://127.0.0.1:18199/jwt-$alg/jwks.json\", issuer: \"https://idp.bench\", audience: api}}]" > "$work/jwt$alg.yaml"
done
for s in plain rl fleet key jwtES256 jwtRS256; do
  ./target/release/barbacane compile --spec "$work/$s.yaml" --output "$work/$s.bca" 2>/dev/null
done
serve() { # artifact port [extra flags]
  ./target/release/barbacane serve --artifact "$work/$1.bca" --listen "127.0.0.1:$2" \
    --admin-listen 127.0.0.1:0 --log-level warn "${@:3}" &
}
serve plain 18190; plain_pid=$!
serve rl 18191; local_pid=$!
serve rl 18192 --state redis://127.0.0.1:6379/0; redis_pid=$!
serve fleet 18193 --state redis://127.0.0.1:6379/0; fleet_a=$!
serve fleet 18194 --state redis://127.0.0.1:6379/0; fleet_b=$!
serve key 18195; key_pid=$!
serve jwtES256 18196; es_pid=$!
serve jwtRS256 18197; rs_pid=$!
wait_healthy 18190 18191 18192 18193 18194 18195 18196 18197

echo "wrk: 1 thread, $connections connections, ${duration}s"
measure "mock, no middleware" "$plain_pid" "http://127.0.0.1:18190/pets/1"
measure "mock + rate-limit (local)" "$local_pid" "http://127.0.0.1:18191/pets/1"
measure "mock + rate-limit (Redis)" "$redis_pid" "http://127.0.0.1:18192/pets/1"
measure "mock + apikey-auth" "$key_pid" "http://127.0.0.1:18195/pets/1" -H "x-api-key: bench-key"
measure "mock + jwt-auth ES256" "$es_pid" "http://127.0.0.1:18196/pets/1" -H "authorization: Bearer $(cat "$work/jwt-ES256/token")"
measure "mock + jwt-auth RS256" "$rs_pid" "http://127.0.0.1:18197/pets/1" -H "authorization: Bearer $(cat "$work/jwt-RS256/token")"

# Fleet: quota 100 per 10 s shared by two gateways; both hammered at once for 3 s.
count() { # url -> "total non2xx"
  wrk -t1 -c8 -d3s "$1" | awk '/requests in/ {t=$1} /Non-2xx/ {n=$NF} END {print t+0, n+0}'
}
count "http://127.0.0.1:18193/pets/1" > "$work/a" & a=$!
count "http://127.0.0.1:18194/pets/1" > "$work/b" & b=$!
wait "$a" "$b"
read -r ta na < "$work/a"; read -r tb nb < "$work/b"
echo "fleet (quota 100 per 10 s, two gateways, one Redis): $((ta + tb)) requests, $((ta - na + tb - nb)) allowed ($((ta - na)) + $((tb - nb)))"
