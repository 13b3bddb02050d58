#!/usr/bin/env bash
# Load test: barbacane (mock route of the example spec) next to nginx `return 200`, and
# barbacane's `http-upstream` next to nginx's `proxy_pass` (same upstream), same run, same
# load generator. Prints requests/s, p99 latency and server CPU time per request
# (utime+stime from /proc/PID/stat before and after, divided by requests served; method in
# the product brief, section 9). Needs wrk and nginx (`apt-get install wrk nginx-light`).
#
# Usage: [BIN=path] scripts/load.sh [DURATION_SECONDS=10] [CONNECTIONS=64]
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib/measure.sh
source scripts/lib/measure.sh
duration=${1:-10}
connections=${2:-64}
path=${LOAD_PATH:-/pets/1}
for tool in wrk nginx; do
  command -v "$tool" >/dev/null || { echo "missing $tool: apt-get install wrk nginx-light" >&2; exit 1; }
done

# BIN=path measures that binary instead of building this tree (A/B comparisons).
[ -n "${BIN:-}" ] || cargo build --release -q -p barbacane
bin=${BIN:-./target/release/barbacane}
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; for p in "$work"/nginx*.pid; do [ -f "$p" ] && kill "$(cat "$p")" 2>/dev/null; done; rm -rf "$work"' EXIT
"$bin" compile --spec examples/petstore/api.yaml --output "$work/api.bca" 2>/dev/null
# A proxy route to the nginx started below (plaintext: loopback benchmark only).
cat > "$work/proxy.yaml" <<SPEC
openapi: 3.1.0
info: {title: proxy bench, version: "1"}
paths:
  /pets/{id}:
    get:
      parameters: [{name: id, in: path, required: true, schema: {type: integer}}]
      x-barbacane-dispatch: {name: http-upstream, config: {url: "http://127.0.0.1:18096"}}
SPEC
"$bin" compile --spec "$work/proxy.yaml" --output "$work/proxy.bca" --allow-plaintext-upstream 2>/dev/null
# The example spec with two official WASM middlewares in front of every operation.
{
  echo 'openapi: 3.1.0'
  echo 'x-barbacane-middlewares:'
  echo '  - {name: correlation-id}'
  echo '  - {name: cors, config: {allowed_origins: ["https://app.example"]}}'
  tail -n +2 examples/petstore/api.yaml
} > "$work/mw.yaml"
"$bin" compile --spec "$work/mw.yaml" --output "$work/mw.bca" 2>/dev/null

"$bin" serve --artifact "$work/api.bca" --listen 127.0.0.1:18090 \
  --admin-listen 127.0.0.1:0 --log-level warn &
gw_pid=$!
"$bin" serve --artifact "$work/proxy.bca" --listen 127.0.0.1:18094 \
  --admin-listen 127.0.0.1:0 --log-level warn ${PROXY_WORKERS:+--workers $PROXY_WORKERS} &
proxy_pid=$!
"$bin" serve --artifact "$work/mw.bca" --listen 127.0.0.1:18097 \
  --admin-listen 127.0.0.1:0 --log-level warn &
mw_pid=$!

cat > "$work/nginx.conf" <<CONF
worker_processes 2;
pid $work/nginx.pid;
error_log $work/nginx-error.log;
events { worker_connections 1024; }
http {
  access_log off;
  # Keep connections open as a production upstream would (the default closes one every
  # 1,000 requests, which would show up as TIME-WAIT sockets the gateway did not cause).
  keepalive_requests 1000000;
  server {
    listen 127.0.0.1:18091;
    listen 127.0.0.1:18096;
    location / { default_type application/json; return 200 '{"id":1,"name":"Rex","tag":"dog"}'; }
  }
}
CONF
nginx -c "$work/nginx.conf"
# nginx as a reverse proxy to the same upstream, its own process with as many workers as the
# gateway has (one per core), upstream connections kept alive: the peer `http-upstream` is
# compared with.
cat > "$work/nginx-proxy.conf" <<CONF
worker_processes $(nproc);
pid $work/nginx-proxy.pid;
error_log $work/nginx-proxy-error.log;
events { worker_connections 4096; }
http {
  access_log off;
  upstream origin { server 127.0.0.1:18096; keepalive 64; }
  server {
    listen 127.0.0.1:18098;
    location / { proxy_pass http://origin; proxy_http_version 1.1; proxy_set_header Connection ""; }
  }
}
CONF
nginx -c "$work/nginx-proxy.conf"
for _ in $(seq 50); do
  curl -fs http://127.0.0.1:18090/__barbacane/health >/dev/null 2>&1 &&
    curl -fs http://127.0.0.1:18094/__barbacane/health >/dev/null 2>&1 &&
    curl -fs http://127.0.0.1:18097/__barbacane/health >/dev/null 2>&1 && [ -f "$work/nginx.pid" ] &&
    [ -f "$work/nginx-proxy.pid" ] && break
  sleep 0.1
done

echo "wrk: 1 thread, $connections connections, ${duration}s, path $path"
measure "barbacane (mock)" "$gw_pid" "http://127.0.0.1:18090$path"
measure "nginx return 200" "$(cat "$work/nginx.pid")" "http://127.0.0.1:18091$path"
# Sockets in TIME-WAIT towards the upstream, before and after the proxy run: closed upstream
# connections show up as an increase (those left by an earlier run expire within 60 s).
timewait_before=$(ss -tan state time-wait '( dport = :18096 )' | tail -n +2 | wc -l)
measure "barbacane -> nginx" "$proxy_pid" "http://127.0.0.1:18094$path"
timewait=$(ss -tan state time-wait '( dport = :18096 )' | tail -n +2 | wc -l)
measure "nginx proxy -> nginx" "$(cat "$work/nginx-proxy.pid")" "http://127.0.0.1:18098$path"
measure "barbacane (2 WASM mw)" "$mw_pid" "http://127.0.0.1:18097$path"
echo "TIME-WAIT sockets towards the upstream: $timewait_before before the proxy run, $timewait after"
rss=$(awk '/VmRSS/ {print $2}' "/proc/$gw_pid/status")
echo "barbacane resident memory after the run: $((rss / 1024)) MiB"
