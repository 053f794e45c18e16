#!/usr/bin/env bash
# Runs the standard chat-bench workloads against a throwaway chat-engine node and prints the
# results: builds chat-bench, starts the server on a free loopback port with a temporary data
# dir and a random secret, runs idle, pairs and fanout at modest sizes, then stops the server.
# About a minute on 2 cores. Every workload ends with a JSON line (grep '^{' to collect them).
#
#   tools/chat-bench/run.sh [path/to/chat-engine]     default: build/chat-engine (make build)
#
# Exit status: 0 when every workload finished without protocol errors.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
server_bin=${1:-$root/build/chat-engine}
if [[ ! -x $server_bin ]]; then
  echo "run.sh: no server binary at $server_bin; run 'make build' first or pass its path" >&2
  exit 2
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/chat-bench.XXXXXX")
server_pid=
cleanup() {
  if [[ -n $server_pid ]] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid"
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

echo "== building chat-bench"
(cd "$here" && go build -o "$work/chat-bench" .)
bench=$work/chat-bench

# A free port: bind to port 0 and read what the kernel chose. The port is released before the
# server binds it; nothing else on a benchmark machine is expected to grab it in between.
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
url=http://127.0.0.1:$port
CHAT_JWT_SECRET=$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')
export CHAT_JWT_SECRET
unset CHAT_API_KEY CHAT_JWT_SECRET_FILE

# Limits that would throttle the benchmark itself (per-connection send rate, per-user
# connection count) are lifted; everything else stays at its default.
echo "== starting $server_bin on $url"
"$server_bin" --listen "127.0.0.1:$port" --data-dir "$work/data" \
  --send-rate 100000 --send-burst 100000 --max-connections-per-user 100000 \
  --log-level warn >"$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 100); do
  if curl -fs "$url/readyz" >/dev/null 2>&1; then break; fi
  if ! kill -0 "$server_pid" 2>/dev/null; then
    echo "run.sh: the server exited; its log:" >&2
    cat "$work/server.log" >&2
    exit 2
  fi
  sleep 0.1
done
curl -fs "$url/readyz" >/dev/null

common=(--url "$url" --pid "$server_pid" --duration 60s --json)
status=0
run() {
  echo
  echo "== chat-bench $*"
  "$bench" "$@" "${common[@]}" || status=1
}
# idle first: RSS per connection is only meaningful on a server whose heap has not yet grown.
run idle --conns 2000 --hold 10s
run pairs --pairs 50 --messages 200 --window 10
run fanout --pairs 10 --devices 3 --messages 200 --window 10

if grep -qiE 'error|fatal' "$work/server.log"; then
  echo
  echo "== server log lines mentioning errors"
  grep -iE 'error|fatal' "$work/server.log" | head -20
fi
exit "$status"
