#!/usr/bin/env bash
# Runs chat-bench's cluster workload against 1 and then 3 chat-engine instances in cluster mode
# (PostgreSQL and Kafka from scripts/dev-services, which must be running) and prints both runs
# and a comparison. Each configuration gets a fresh database (bench_<random>_<n>, dropped at
# the end), its own Kafka topic prefix and fresh instances on free loopback ports; all share one
# random JWT secret. The sender of each pair connects to one instance and its recipient to
# another, so with 3 instances every message crosses Kafka. A short warm-up run precedes each
# measured one: the first half second of cross-instance traffic after the instances start is
# delivered up to ~0.5 s late, which would otherwise dominate the tail of a run this short.
# About 30 s on 2 cores. Each run ends with a JSON line (grep '^{' to collect them). The Kafka
# topics (4 of one partition per run, prefix bench-<random>-) are left behind, as the cluster
# tests leave theirs.
#
#   tools/chat-bench/cluster.sh [path/to/chat-engine]   default: build/chat-engine (make build)
#
# Sizes: BENCH_PAIRS (20), BENCH_MESSAGES (1000), BENCH_WINDOW (10), BENCH_INSTANCES ("1 3").
# Exit status: 0 when every run finished without protocol errors; 1 when one had some; 2 when
# the services are not running or the cluster could not be started.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
server_bin=${1:-$root/build/chat-engine}
pairs=${BENCH_PAIRS:-20}
messages=${BENCH_MESSAGES:-1000}
window=${BENCH_WINDOW:-10}
read -r -a sizes <<<"${BENCH_INSTANCES:-1 3}"

if [[ ! -x $server_bin ]]; then
  echo "cluster.sh: no server binary at $server_bin; run 'make build' first or pass its path" >&2
  exit 2
fi
if ! services=$("$root/scripts/dev-services" status 2>&1); then
  echo "$services" >&2
  echo "cluster.sh: Kafka and PostgreSQL are not both running; run 'scripts/dev-services start' first" >&2
  exit 2
fi
for tool in psql curl python3 go; do
  command -v "$tool" >/dev/null || { echo "cluster.sh: $tool is needed" >&2; exit 2; }
done
# Their process ids, to report the CPU they spend on the run (PostgreSQL's backends are
# children of the postmaster, which chat-bench counts with it).
kafka_pid=$(sed -n 's/.*kafka: running (pid \([0-9]*\)).*/\1/p' <<<"$services")
postgres_pid=$(sed -n 's/.*postgres: running (pid \([0-9]*\)).*/\1/p' <<<"$services")

admin_url=postgresql://chat:chat@127.0.0.1:5432/chat
kafka_brokers=127.0.0.1:9092
run_id=$(od -An -tx1 -N4 /dev/urandom | tr -d ' \n')
work=$(mktemp -d "${TMPDIR:-/tmp}/chat-bench-cluster.XXXXXX")
databases=()
pids=()
psql_admin() { psql "$admin_url" -v ON_ERROR_STOP=1 -qAt -c "$1"; }

stop_instances() {
  local pid status=0
  for pid in "${pids[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in "${pids[@]}"; do
    wait "$pid" 2>/dev/null || status=$?
  done
  pids=()
  return "$status"
}
# WITH (FORCE) ends the sessions left in the database, but role chat may not end an autovacuum
# worker ("must be a member of the role whose process is being terminated"), which a database
# just written to often has; a plain DROP stops autovacuum itself. So: both, a few times.
drop_database() {
  local attempt error
  for attempt in 1 2 3; do
    error=$(psql_admin "DROP DATABASE IF EXISTS $1 WITH (FORCE)" 2>&1) && return 0
    error=$(psql_admin "DROP DATABASE IF EXISTS $1" 2>&1) && return 0
    sleep "$attempt"
  done
  echo "cluster.sh: could not drop database $1: $error" >&2
  return 1
}
cleanup() {
  stop_instances || true
  local db
  for db in "${databases[@]}"; do
    drop_database "$db" || true
  done
  rm -rf "$work"
}
trap cleanup EXIT

echo "== building chat-bench"
(cd "$here" && go build -o "$work/chat-bench" .)
bench=$work/chat-bench

CHAT_JWT_SECRET=$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')
export CHAT_JWT_SECRET
unset CHAT_API_KEY CHAT_JWT_SECRET_FILE CHAT_DATABASE_URL CHAT_KAFKA_BROKERS CHAT_KAFKA_TOPIC_PREFIX CHAT_NODE_ID

# $1 free loopback ports, all bound at once so that they differ. Each is released before its
# instance binds it; nothing else on a benchmark machine is expected to grab it in between.
free_ports() {
  python3 -c '
import socket, sys
socks = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in socks))' "$1"
}

# The counters of an instance's /metrics that show how messages crossed instances: records
# published to and consumed from Kafka, and entries a connection read from the store instead
# (the 2 s catch-up overtaking a record still in flight; its record is then a repeat).
bus_counters() {
  curl -fs "$1/metrics" | awk '
    /^chat_(bus_published_total|bus_consumed_total|bus_publish_failures_total|entries_filled_total|entries_dropped_as_repeats_total)[ {]/ {
      v[$1] = $NF }
    END { printf "%d %d %d %d %d\n", v["chat_bus_published_total"], v["chat_bus_consumed_total"],
          v["chat_bus_publish_failures_total"], v["chat_entries_filled_total"], v["chat_entries_dropped_as_repeats_total"] }'
}

status=0
results=()
for n in "${sizes[@]}"; do
  db=bench_${run_id}_$n
  prefix=bench-$run_id-$n
  psql_admin "CREATE DATABASE $db" >/dev/null
  databases+=("$db")
  db_url=postgresql://chat:chat@127.0.0.1:5432/$db

  echo
  echo "== $n instance(s): database $db, topic prefix $prefix"
  read -r -a ports <<<"$(free_ports "$n")"
  urls=()
  for i in $(seq "$n"); do
    port=${ports[$((i - 1))]}
    mkdir -p "$work/$n-$i"
    "$server_bin" --listen "127.0.0.1:$port" --data-dir "$work/$n-$i" \
      --database-url "$db_url" --kafka-brokers "$kafka_brokers" --kafka-topic-prefix "$prefix" \
      --node-id "bench-$i" \
      --send-rate 100000 --send-burst 100000 --max-connections-per-user 100000 \
      --log-level warn >"$work/$n-$i.log" 2>&1 &
    pids+=($!)
    urls+=("http://127.0.0.1:$port")
  done
  # Start-up runs migrations and creates a Kafka topic: allow it 60 s.
  for i in $(seq 0 $((n - 1))); do
    for _ in $(seq 600); do
      if curl -fs "${urls[$i]}/readyz" >/dev/null 2>&1; then break; fi
      if ! kill -0 "${pids[$i]}" 2>/dev/null; then break; fi
      sleep 0.1
    done
    if ! curl -fs "${urls[$i]}/readyz" >/dev/null 2>&1; then
      echo "cluster.sh: instance bench-$((i + 1)) (${urls[$i]}) did not become ready; its log:" >&2
      cat "$work/$n-$((i + 1)).log" >&2
      exit 2
    fi
  done

  targets=(--urls "$(IFS=,; echo "${urls[*]}")" --pids "$(IFS=,; echo "${pids[*]}")")
  # The same users and connection layout, 50 messages each, output shown only when it fails.
  if ! "$bench" cluster "${targets[@]}" --pairs "$pairs" --messages 50 --window "$window" \
    --duration 30s >"$work/warm-up-$n" 2>&1; then
    echo "== the warm-up run failed:"
    cat "$work/warm-up-$n"
    status=1
  fi
  args=(cluster "${targets[@]}" --pairs "$pairs" --messages "$messages" --window "$window" --duration 60s --json)
  if [[ -n $kafka_pid && -n $postgres_pid ]]; then
    args+=(--service-pids "$kafka_pid,$postgres_pid")
  fi
  echo "== chat-bench ${args[*]}"
  "$bench" "${args[@]}" | tee "$work/out-$n" || status=1
  results+=("$n=$(grep '^{' "$work/out-$n" | tail -1 || true)")
  # A record's publish is counted when Kafka confirms it, which may come after the run ends.
  sleep 1
  total_published=0 total_consumed=0
  for i in $(seq 0 $((n - 1))); do
    if read -r published consumed failures filled repeats < <(bus_counters "${urls[$i]}"); then
      echo "  bench-$((i + 1)): Kafka records published $published, consumed $consumed, failed $failures;" \
        "entries filled from the store $filled, repeats dropped $repeats"
      total_published=$((total_published + published)) total_consumed=$((total_consumed + consumed))
    fi
  done
  if ((total_published != total_consumed)); then
    echo "  (records published $total_published ≠ consumed $total_consumed)"
  fi

  if ! stop_instances; then
    echo "cluster.sh: an instance did not exit cleanly after SIGTERM" >&2
    status=1
  fi
  # --log-level warn: every line is news, except the one about the open user API.
  if grep -v 'CHAT_API_KEY is not set' "$work/$n-"*.log | grep -q .; then
    echo "== server log warnings and errors"
    grep -v 'CHAT_API_KEY is not set' "$work/$n-"*.log | head -20
  fi
done

echo
echo "== cluster: $pairs pairs × $messages messages, window $window; each instance count on a fresh database"
python3 - "${results[@]}" <<'EOF'
import json, sys

runs = []
for arg in sys.argv[1:]:
    n, _, line = arg.partition("=")
    try:
        runs.append((int(n), json.loads(line)))
    except ValueError:
        runs.append((int(n), None))

def get(r, *path):
    for p in path:
        if not isinstance(r, dict) or p not in r:
            return None
        r = r[p]
    return r

rows = [
    ("messages/s", ("metrics", "messages_per_sec"), "{:.0f}"),
    ("delivery p50 (ms)", ("metrics", "delivery_latency", "p50_ms"), "{:.1f}"),
    ("delivery p99 (ms)", ("metrics", "delivery_latency", "p99_ms"), "{:.1f}"),
    ("delivery p99.9 (ms)", ("metrics", "delivery_latency", "p99_9_ms"), "{:.1f}"),
    ("ack p99 (ms)", ("metrics", "ack_latency", "p99_ms"), "{:.1f}"),
    ("server CPU-ms / message", ("metrics", "server_cpu_ms_per_message"), "{:.3f}"),
    ("Kafka+PostgreSQL CPU-ms / message", ("metrics", "services_cpu_ms_per_message"), "{:.3f}"),
    ("chat-bench CPU (cores)", ("metrics", "client_cores"), "{:.2f}"),
    ("protocol errors", ("protocol_errors", "total"), "{}"),
]
heads = [f"{n} instance" + ("s" if n != 1 else "") for n, _ in runs]
ratio = len(runs) == 2
print(f"  {'':34}" + "".join(f"{h:>13}" for h in heads) + (f"{runs[1][0]} / {runs[0][0]}".rjust(9) if ratio else ""))
for label, path, fmt in rows:
    vals = [get(r, *path) for _, r in runs]
    cells = "".join(f"{(fmt.format(v) if v is not None else '-'):>13}" for v in vals)
    if ratio and label != "protocol errors" and all(isinstance(v, (int, float)) and v for v in vals):
        cells += f"{vals[1] / vals[0]:9.2f}"
    print(f"  {label:34}{cells}")
EOF
exit "$status"
