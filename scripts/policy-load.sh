#!/usr/bin/env bash
# Policy middlewares under load: what `opa-authz` with a bundled 20-rule Rego policy
# (evaluated in the gateway) costs per request next to the same route without it, same run.
# Needs wrk (`apt-get install wrk`). Server CPU per request is measured as in load.sh
# (utime+stime from /proc/PID/stat over requests served; scripts/lib/measure.sh).
#
# Usage: scripts/policy-load.sh [DURATION_SECONDS=10] [CONNECTIONS=64]
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib/measure.sh
source scripts/lib/measure.sh
duration=${1:-10}
connections=${2:-64}
command -v wrk >/dev/null || { echo "missing wrk: apt-get install wrk" >&2; exit 1; }

cargo build --release -q -p barbacane
bin=${CARGO_TARGET_DIR:-target}/release/barbacane
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$work"' EXIT
mkdir -p "$work/policies"
# Twenty rules (`default` included), every request walking the allow rules to the last one.
cp crates/barbacane-wasm/testdata/authz-20.rego "$work/policies/authz.rego"
spec() { # $1 = middlewares of the operation
  cat <<SPEC
openapi: 3.1.0
info: {title: policy bench, version: "1"}
paths:
  /users/{owner}/notes:
    get:
      parameters: [{name: owner, in: path, required: true, schema: {type: string}}]
      x-barbacane-middlewares: $1
      x-barbacane-dispatch: {name: mock, config: {status: 200, body: '{"id":1}'}}
SPEC
}
spec "[]" > "$work/plain.yaml"
spec "[{name: opa-authz, config: {policy: policies/authz.rego}}]" > "$work/opa.yaml"
spec "[{name: opa-authz, config: {policy: policies/authz.rego, include_claims: false}}]" > "$work/opa-noctx.yaml"
# The plumbing alone (host call, input members, one trivial rule): what the 20 rules add.
printf 'package barbacane.one\n\nallow := true\n' > "$work/policies/one.rego"
spec "[{name: opa-authz, config: {policy: policies/one.rego, query: data.barbacane.one.allow}}]" > "$work/opa-one.yaml"
for s in plain opa opa-noctx opa-one; do
  "$bin" compile --spec "$work/$s.yaml" --output "$work/$s.bca" 2>/dev/null
done
serve() { # artifact port
  "$bin" serve --artifact "$work/$1.bca" --listen "127.0.0.1:$2" \
    --admin-listen 127.0.0.1:0 --log-level warn &
}
serve plain 18290; plain_pid=$!
serve opa 18291; opa_pid=$!
serve opa-noctx 18292; noctx_pid=$!
serve opa-one 18293; one_pid=$!
wait_healthy 18290 18291 18292 18293
# The policy must allow this request (a 403 would be measured as a refusal).
status=$(curl -s -o /dev/null -w '%{http_code}' -H 'x-user: alice' -H 'x-tenant: acme' \
  http://127.0.0.1:18291/users/alice/notes)
[ "$status" = 200 ] || { echo "the policy refused the bench request ($status)" >&2; exit 1; }

echo "wrk: 1 thread, $connections connections, ${duration}s"
headers=(-H "x-user: alice" -H "x-tenant: acme" -H "accept: application/json" -H "user-agent: bench")
measure "mock, no middleware" "$plain_pid" "http://127.0.0.1:18290/users/alice/notes" "${headers[@]}"
measure "mock + opa-authz (20 rules)" "$opa_pid" "http://127.0.0.1:18291/users/alice/notes" "${headers[@]}"
measure "  same, include_claims: no" "$noctx_pid" "http://127.0.0.1:18292/users/alice/notes" "${headers[@]}"
measure "mock + opa-authz (1 rule)" "$one_pid" "http://127.0.0.1:18293/users/alice/notes" "${headers[@]}"
