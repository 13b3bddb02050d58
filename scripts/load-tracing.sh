#!/usr/bin/env bash
# Load test of OpenTelemetry tracing (issue targets: sampled out adds <= 0.5 us of server CPU
# per request; 100 % sampled with OTLP export adds <= 8 us). The example spec's mock route on
# gateways of one binary, same run: no exporter; `--otlp-endpoint` with `--trace-sampling 0`;
# with `--trace-sampling 1` (http/protobuf, then grpc is not measured: same encoder). The
# collector is a small Python OTLP/HTTP sink started here that answers 200 and counts bytes.
# Then a collector that never answers: requests must not slow down. Needs wrk and python3.
#
# Usage: scripts/load-tracing.sh [DURATION_SECONDS=10] [CONNECTIONS=64]
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
python3 - 18599 "$work/sink.count" <<'PY' &
import sys, http.server, threading
port, out = int(sys.argv[1]), sys.argv[2]
total = [0, 0]
lock = threading.Lock()
class Sink(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_POST(self):
        n = int(self.headers.get("content-length", 0))
        self.rfile.read(n)
        with lock:
            total[0] += 1; total[1] += n
            open(out, "w").write(f"{total[0]} exports, {total[1]} bytes\n")
        self.send_response(200)
        self.send_header("content-type", "application/x-protobuf")
        self.send_header("content-length", "0")
        self.end_headers()
    def log_message(self, *a): pass
http.server.ThreadingHTTPServer(("127.0.0.1", port), Sink).serve_forever()
PY
# A "collector" that accepts connections and never answers.
python3 -c 'import socket,time; s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("127.0.0.1", 18598)); s.listen(1024); c=[]
while True: c.append(s.accept()[0])' &
sleep 0.5
serve() { # serve PORT ARGS...
  local port=$1
  shift
  "$bin" serve --artifact "$work/api.bca" --listen "127.0.0.1:$port" --admin-listen 127.0.0.1:0 \
    --log-level warn --metrics-on-traffic "$@" 2>/dev/null &
}
serve 18590; none=$!
serve 18591 --otlp-endpoint http://127.0.0.1:18599 --trace-sampling 0; out=$!
serve 18592 --otlp-endpoint http://127.0.0.1:18599 --trace-sampling 1; all=$!
serve 18593 --otlp-endpoint http://127.0.0.1:18598 --trace-sampling 1; hole=$!
wait_healthy 18590 18591 18592 18593
echo "wrk: 1 thread, $connections connections, ${duration}s, path $path"
measure "no exporter" "$none" "http://127.0.0.1:18590$path"
measure "exporter, sampled out" "$out" "http://127.0.0.1:18591$path"
measure "exporter, all sampled" "$all" "http://127.0.0.1:18592$path"
measure "no exporter (again)" "$none" "http://127.0.0.1:18590$path"
measure "collector never answers" "$hole" "http://127.0.0.1:18593$path"
sleep 1.5
echo "sink: $(cat "$work/sink.count" 2>/dev/null || echo nothing)"
for port in 18592 18593; do
  echo "spans on :$port: $(curl -s "http://127.0.0.1:$port/__barbacane/metrics" | grep '^barbacane_trace_spans_total' | tr '\n' ' ')"
done
for pid in $none $all $hole; do
  echo "RSS of $pid: $(awk '/VmRSS/ {print $2, $3}' "/proc/$pid/status")"
done
