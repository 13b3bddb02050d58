#!/usr/bin/env bash
# TLS termination under load, next to nginx with the same certificate (ECDSA P-256), same
# run, same load generator: keep-alive HTTPS requests (CPU per request) and one full
# handshake per request (`Connection: close`: handshakes/s and CPU per handshake). Needs
# wrk, nginx and openssl (`apt-get install wrk nginx-light openssl`). Server CPU is
# utime+stime from /proc/PID/stat over requests served, as in load.sh.
#
# Usage: scripts/tls-load.sh [DURATION_SECONDS=10] [CONNECTIONS=64]
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${1:-10}
connections=${2:-64}
for tool in wrk nginx openssl; do
  command -v "$tool" >/dev/null || { echo "missing $tool" >&2; exit 1; }
done
cargo build --release -q -p barbacane
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; [ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null; rm -rf "$work"' EXIT
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
  -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
  -keyout "$work/key.pem" -out "$work/cert.pem" 2>/dev/null
./target/release/barbacane compile --spec examples/petstore/api.yaml --output "$work/api.bca" 2>/dev/null
./target/release/barbacane serve --artifact "$work/api.bca" --listen 127.0.0.1:18443 \
  --admin-listen 127.0.0.1:0 --log-level warn \
  --tls-cert "$work/cert.pem" --tls-key "$work/key.pem" &
gw_pid=$!
cat > "$work/nginx.conf" <<CONF
worker_processes $(nproc);
pid $work/nginx.pid;
error_log $work/nginx-error.log;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  ssl_protocols TLSv1.2 TLSv1.3;
  ssl_session_cache off;
  ssl_session_tickets off;
  server {
    listen 127.0.0.1:18444 ssl;
    ssl_certificate $work/cert.pem;
    ssl_certificate_key $work/key.pem;
    location / { default_type application/json; return 200 '{"id":1,"name":"Rex","tag":"dog"}'; }
  }
}
CONF
nginx -c "$work/nginx.conf"
for _ in $(seq 50); do
  curl -fsk https://127.0.0.1:18443/pets/1 >/dev/null 2>&1 && [ -f "$work/nginx.pid" ] && break
  sleep 0.1
done

ticks() {
  local total=0 pid
  for pid in "$@" $(pgrep -P "$1" || true); do
    [ -r "/proc/$pid/stat" ] || continue
    total=$((total + $(awk '{print $14 + $15}' "/proc/$pid/stat")))
  done
  echo "$total"
}
measure() { # name pid url [wrk args]
  local name=$1 pid=$2 url=$3 before after out reqs rps hz
  shift 3
  wrk -t1 -c"$connections" -d2s "$@" "$url" >/dev/null 2>&1
  before=$(ticks "$pid")
  out=$(wrk -t1 -c"$connections" -d"${duration}s" "$@" "$url")
  after=$(ticks "$pid")
  reqs=$(echo "$out" | awk '/requests in/ {print $1}')
  rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
  errors=$(echo "$out" | awk '/Non-2xx|Socket errors/' | tr '\n' ' ')
  hz=$(getconf CLK_TCK)
  awk -v n="$name" -v r="$rps" -v t=$((after - before)) -v q="$reqs" -v hz="$hz" -v e="$errors" \
    'BEGIN { printf "%-34s %12s req/s   server CPU %7.2f us/request  %s\n", n, r, (t / hz) * 1e6 / q, e }'
}
echo "wrk: 1 thread, $connections connections, ${duration}s, ECDSA P-256, TLS 1.3"
measure "barbacane HTTPS keep-alive" "$gw_pid" https://127.0.0.1:18443/pets/1
measure "nginx HTTPS keep-alive" "$(cat "$work/nginx.pid")" https://127.0.0.1:18444/pets/1
measure "barbacane full handshake/request" "$gw_pid" https://127.0.0.1:18443/pets/1 -H "Connection: close"
measure "nginx full handshake/request" "$(cat "$work/nginx.pid")" https://127.0.0.1:18444/pets/1 -H "Connection: close"
