# Shared by the load scripts: server CPU per request, measured the same way everywhere
# (utime+stime of the server from /proc/PID/stat before and after a wrk run, divided by the
# requests served; method in the product brief, section 9). Needs `connections` and
# `duration` set by the caller.

# Sum of utime+stime in clock ticks over a process and its children (nginx workers).
ticks() {
  local total=0 pid
  for pid in "$@" $(pgrep -P "$1" || true); do
    [ -r "/proc/$pid/stat" ] || continue
    total=$((total + $(awk '{print $14 + $15}' "/proc/$pid/stat")))
  done
  echo "$total"
}

# measure NAME PID URL [WRK ARGS...]: one warm-up, one measured wrk run; prints req/s, p99,
# CPU/request.
measure() {
  local name=$1 pid=$2 url=$3 before after out reqs rps p99 hz errors
  shift 3
  wrk -t1 -c"$connections" -d2s "$@" "$url" >/dev/null 2>&1 # warm-up
  before=$(ticks "$pid")
  out=$(wrk -t1 -c"$connections" -d"${duration}s" --latency "$@" "$url")
  after=$(ticks "$pid")
  reqs=$(echo "$out" | awk '/requests in/ {print $1}')
  rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
  p99=$(echo "$out" | awk '$1 == "99%" {print $2}')
  errors=$(echo "$out" | awk '/Non-2xx|Socket errors/' | tr '\n' ' ')
  hz=$(getconf CLK_TCK)
  awk -v n="$name" -v r="$rps" -v p="$p99" -v t=$((after - before)) -v q="$reqs" -v hz="$hz" -v e="$errors" \
    'BEGIN { printf "%-26s %12s req/s   p99 %-9s  server CPU %6.2f us/request  %s\n", n, r, p, (t / hz) * 1e6 / q, e }'
}

# wait_healthy PORT...: until every gateway answers its health endpoint (5 s at most).
wait_healthy() {
  local port ok
  for _ in $(seq 50); do
    ok=1
    for port in "$@"; do
      curl -fs "http://127.0.0.1:$port/__barbacane/health" >/dev/null 2>&1 || ok=0
    done
    [ "$ok" = 1 ] && return 0
    sleep 0.1
  done
  echo "a gateway did not start" >&2
  return 1
}
