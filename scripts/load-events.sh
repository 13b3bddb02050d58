#!/usr/bin/env bash
# Load test of event dispatch (issue targets: a NATS publish route <= 25 us of server CPU per
# request and >= 20k messages/s with zero loss; Kafka with acks=all >= 10k messages/s with
# zero loss, p99 reported; 1,000 SSE subscribers of one subject with bounded memory).
# Same run, one gateway, its own nats-server and tansu on free ports:
#   nats publish     POST /n -> nats (core publish confirmed by a server round trip)
#   kafka publish    POST /k -> kafka (acks=all), topic of 4 partitions
#   SSE fan-out      1,000 GET /s streams of the subject /n publishes to
# Loss: every 202 must be a message the broker delivered or holds (a subscriber's count of
# the subject, scripts/lib/nats-count.py; the topic's offsets), compared with wrk's count of
# completed requests.
# Needs wrk, nats-server and python3 (`apt-get install wrk nats-server`).
#
# Usage: scripts/load-events.sh [DURATION_SECONDS=10] [CONNECTIONS=64] [SUBSCRIBERS=1000]
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib/measure.sh
source scripts/lib/measure.sh
duration=${1:-10}
connections=${2:-64}
subscribers=${3:-1000}
command -v wrk >/dev/null || { echo "missing wrk: apt-get install wrk" >&2; exit 1; }
nats_server=$(command -v nats-server || echo /usr/sbin/nats-server)
[ -x "$nats_server" ] || { echo "missing nats-server: apt-get install nats-server" >&2; exit 1; }
tansu=$(scripts/tansu.sh)

[ -n "${BIN:-}" ] || cargo build --release -q -p barbacane
cargo build --release -q -p barbacane-events --example topic_size
bin=${BIN:-./target/release/barbacane}
topic_size=./target/release/examples/topic_size
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$work"' EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
nats_port=$(free_port); kafka_port=$(free_port); gw_port=$(free_port)

"$nats_server" -a 127.0.0.1 -p "$nats_port" >/dev/null 2>&1 &
"$tansu" broker --listener-url "tcp://127.0.0.1:$kafka_port" \
  --advertised-listener-url "tcp://127.0.0.1:$kafka_port" --storage-engine memory://tansu/ \
  >/dev/null 2>&1 &
for _ in $(seq 100); do
  (exec 3<>"/dev/tcp/127.0.0.1/$kafka_port") 2>/dev/null && (exec 3<>"/dev/tcp/127.0.0.1/$nats_port") 2>/dev/null && break
  sleep 0.1
done
"$tansu" topic create --broker "tcp://127.0.0.1:$kafka_port" --partitions 4 load-k >/dev/null

cat > "$work/events.yaml" <<YAML
asyncapi: 3.0.0
info: {title: load, version: "1"}
channels:
  n:
    address: /n
    messages: {m: {payload: {type: object, required: [id], properties: {id: {type: string}}}}}
  k:
    address: /k
    messages: {m: {payload: {type: object, required: [id], properties: {id: {type: string}}}}}
  s:
    address: /s
    messages: {m: {payload: {type: object, required: [id], properties: {id: {type: string}}}}}
operations:
  publishN:
    action: send
    channel: {\$ref: '#/channels/n'}
    x-barbacane-dispatch: {name: nats, config: {url: "nats://127.0.0.1:$nats_port", subject: load.n}}
  publishK:
    action: send
    channel: {\$ref: '#/channels/k'}
    x-barbacane-dispatch: {name: kafka, config: {brokers: "127.0.0.1:$kafka_port", topic: load-k}}
  watch:
    action: receive
    channel: {\$ref: '#/channels/s'}
    x-barbacane-dispatch: {name: nats, config: {url: "nats://127.0.0.1:$nats_port", subject: load.n}}
YAML
"$bin" compile --spec "$work/events.yaml" --output "$work/events.bca" >/dev/null
"$bin" serve --artifact "$work/events.bca" --listen "127.0.0.1:$gw_port" --admin-listen 127.0.0.1:0 \
  --log-level warn &
gw_pid=$!
wait_healthy "$gw_port"
cat > "$work/post.lua" <<'LUA'
wrk.method = "POST"
wrk.body = '{"id":"load-test-message-0001"}'
wrk.headers["Content-Type"] = "application/json"
LUA

# A subscriber counting what the subject delivers.
coproc counter { exec python3 scripts/lib/nats-count.py "$nats_port" load.n; }
read -r _ <&"${counter[0]}" # "ready"
# completed NAME OUTPUT: requests wrk completed, minus non-2xx answers.
accepted() { awk '/requests in/ {n=$1} /Non-2xx/ {e=$5} END {print n - e}' <<<"$1"; }

echo "wrk: 1 thread, $connections connections, ${duration}s (plus a 2 s warm-up each)"
kafka_before=$("$topic_size" "127.0.0.1:$kafka_port" load-k)
# measure runs a warm-up and a measured run; count both for loss.
run() { # run NAME URL: measure, and count every 202 of both wrk runs
  local name=$1 url=$2 warm main
  warm=$(wrk -t1 -c"$connections" -d2s -s "$work/post.lua" "$url")
  local before after
  before=$(ticks "$gw_pid")
  main=$(wrk -t1 -c"$connections" -d"${duration}s" --latency -s "$work/post.lua" "$url")
  after=$(ticks "$gw_pid")
  awk -v n="$name" -v t=$((after - before)) -v hz="$(getconf CLK_TCK)" '
    /requests in/ {q=$1} /Requests\/sec/ {r=$2} $1 == "99%" {p=$2} /Non-2xx|Socket errors/ {e=e $0 " "}
    END { printf "%-16s %10s msg/s   p99 %-9s  server CPU %6.2f us/request  %s\n", n, r, p, (t / hz) * 1e6 / q, e }' <<<"$main"
  echo $(( $(accepted "$warm") + $(accepted "$main") )) > "$work/$name.accepted"
}
run nats "http://127.0.0.1:$gw_port/n"
run kafka "http://127.0.0.1:$gw_port/k"
sleep 1
kill -TERM "$counter_PID"
read -r nats_got <&"${counter[0]}"
kafka_got=$(( $("$topic_size" "127.0.0.1:$kafka_port" load-k) - kafka_before ))
echo "nats:  $(cat "$work/nats.accepted") accepted (202), $nats_got messages delivered to a subscriber"
echo "kafka: $(cat "$work/kafka.accepted") accepted (202), $kafka_got records in the topic"
echo "(a count above the 202s is requests wrk stopped waiting for at the end of a run)"
python3 scripts/sse-fanout.py 127.0.0.1 "$gw_port" /s /n "$gw_pid" "$subscribers" 20
