#!/usr/bin/env bash
# `make test-asan` / `make test-tsan`: the unit tests (each fuzz corpus replay among them) beside
# the single-node end-to-end suite, against a sanitized build. With CLUSTER=1 the services of
# scripts/dev-services are used too (started first, and stopped at the end, when not running):
# the unit tests of the PostgreSQL store and the Kafka bus run against them, and then the
# cluster suite. The first sanitizer report stops the process that made it (halt_on_error), and every
# report is also written under a log directory: the run fails when that directory holds any,
# even when the test around it passed (a report at a server's exit, a leak).
#
#   scripts/test-sanitized.sh <build dir>
set -uo pipefail
cd "$(dirname "$0")/.."
build_dir=${1:?build dir}
jobs=$(nproc)
start=$(date +%s)

scripts/python-env.sh || exit 1
reports=$(mktemp -d)
logs=$(mktemp -d)

# verify_asan_link_order=0: the fault-injection library of tests/faults is preloaded ahead of
# the ASan runtime (it intercepts only fsync/fdatasync, which ASan leaves alone).
export ASAN_OPTIONS=halt_on_error=1:abort_on_error=1:detect_leaks=1:verify_asan_link_order=0:log_path=$reports/asan
export UBSAN_OPTIONS=halt_on_error=1:abort_on_error=1:print_stacktrace=1:log_path=$reports/ubsan
export TSAN_OPTIONS=halt_on_error=1:abort_on_error=1:second_deadlock_stack=1:suppressions=$PWD/tests/tsan.supp:log_path=$reports/tsan
export CHAT_ENGINE_BIN=$PWD/$build_dir/chat-engine
export CHAT_SANITIZED=$build_dir  # the e2e tests skip memory bounds and descriptor exhaustion
if [ "${CLUSTER:-}" = 1 ]; then
  . scripts/services.sh
  use_services test-sanitized
fi

(cd "$build_dir" && ctest --output-on-failure -j "$jobs") >"$logs/unit.log" 2>&1 &
unit=$!
.venv/bin/python -m pytest tests/e2e -q --ignore=tests/e2e/cluster --ignore=tests/e2e/netfaults >"$logs/e2e.log" 2>&1 &
e2e=$!
wait $unit; unit_status=$?
wait $e2e; e2e_status=$?
echo "=== unit tests"; tail -n 5 "$logs/unit.log"
[ $unit_status -eq 0 ] || cat "$logs/unit.log"
echo "=== end-to-end, one node"; tail -n 5 "$logs/e2e.log"
[ $e2e_status -eq 0 ] || cat "$logs/e2e.log"

cluster_status=0
if [ "${CLUSTER:-}" = 1 ]; then
  echo "=== end-to-end, cluster"
  .venv/bin/python -m pytest tests/e2e/cluster -q
  cluster_status=$?
  stop_started_services
fi

report_status=0
if [ -n "$(ls -A "$reports")" ]; then
  echo "=== sanitizer reports"
  for f in "$reports"/*; do echo "--- $f"; cat "$f"; done
  report_status=1
fi
cluster=skipped
[ "${CLUSTER:-}" = 1 ] && cluster=$cluster_status
echo "unit: $unit_status, e2e: $e2e_status, cluster: $cluster, sanitizer reports: $report_status;" \
     "$(( $(date +%s) - start ))s"
for s in $unit_status $e2e_status $cluster_status $report_status; do [ "$s" -eq 0 ] || exit 1; done
exit 0
