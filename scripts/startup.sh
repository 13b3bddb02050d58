#!/usr/bin/env bash
# Start-up time: from `barbacane serve` being spawned to its first 200, for the example spec
# and for GitHub's REST API description (1,223 operations, fetched from the npm package
# @octokit/openapi; every operation gets a mock dispatcher and the spec one middleware), each
# with a warm module cache, with a cold one (emptied before every start) and without one.
# Prints the median of RUNS starts per row. Needs npm, python3 and curl.
#
# Usage: scripts/startup.sh [RUNS=7]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-7}
for tool in npm python3 curl; do
  command -v "$tool" >/dev/null || { echo "missing $tool" >&2; exit 1; }
done

cargo build --release -q -p barbacane
bin=./target/release/barbacane
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$work"' EXIT

echo "== preparing specs" >&2
(cd "$work" && npm pack -q @octokit/openapi@23.0.2 >/dev/null 2>&1 \
  && tar xzf octokit-openapi-23.0.2.tgz package/generated/api.github.com.json)
python3 - "$work/package/generated/api.github.com.json" "$work/github.json" <<'PY'
import json, sys
spec = json.load(open(sys.argv[1]))
spec["x-barbacane-middlewares"] = [{"name": "correlation-id"}]
methods = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}
for item in spec["paths"].values():
    for method, op in item.items():
        if method in methods:
            op["x-barbacane-dispatch"] = {"name": "mock", "config": {"status": 200}}
json.dump(spec, open(sys.argv[2], "w"))
PY
$bin compile --spec examples/petstore/api.yaml --output "$work/petstore.bca" --no-module-cache 2>/dev/null
$bin compile --spec "$work/github.json" --output "$work/github.bca" --no-module-cache 2>/dev/null

# Milliseconds from spawn to the first 200 on PATH.
start_ms() {
  local artifact=$1 path=$2
  shift 2
  local t0 t1
  t0=$(date +%s%N)
  $bin serve --artifact "$artifact" --listen 127.0.0.1:18190 --admin-listen 127.0.0.1:0 \
    --log-level error "$@" &
  local pid=$!
  until curl -fso /dev/null "http://127.0.0.1:18190$path"; do
    kill -0 "$pid" 2>/dev/null || { echo "serve exited" >&2; exit 1; }
    sleep 0.002
  done
  t1=$(date +%s%N)
  kill "$pid"; wait "$pid" 2>/dev/null || true
  echo $(( (t1 - t0) / 1000000 ))
}

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

cache="$work/cache"
printf '%-34s %10s\n' "start to first 200 (median of $runs)" "ms"
for row in "petstore:/pets/1" "github:/zen"; do
  name=${row%%:*}; path=${row#*:}
  artifact="$work/$name.bca"
  $bin compile --spec "$([ "$name" = petstore ] && echo examples/petstore/api.yaml || echo "$work/github.json")" \
    --output "$artifact" --module-cache "$cache" 2>/dev/null
  warm=$(for _ in $(seq "$runs"); do start_ms "$artifact" "$path" --module-cache "$cache"; done | median)
  cold=$(for _ in $(seq "$runs"); do rm -rf "$cache"; start_ms "$artifact" "$path" --module-cache "$cache"; done | median)
  none=$(for _ in $(seq "$runs"); do start_ms "$artifact" "$path" --no-module-cache; done | median)
  printf '%-34s %10s\n' "$name, warm module cache" "$warm" "$name, cold module cache" "$cold" \
    "$name, no module cache" "$none"
done
