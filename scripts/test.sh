#!/usr/bin/env bash
# `make test`: every suite, with the real services the cluster needs.
#
#  1. Starts Kafka and PostgreSQL (scripts/dev-services) unless they already run; stops, at the end,
#     only what it started.
#  2. Runs the unit tests (GoogleTest, the PostgreSQL store's contract included) beside the
#     single-node end-to-end suite and the benchmark harness's smoke run (scripts/bench-smoke.sh:
#     tiny sizes, every server, no speed asserted) and the network fault suite (tests/e2e/netfaults:
#     namespaces of its own, the services left running) and the Dockerfile's steps
#     (scripts/check-dockerfile.sh, reusing this build): they share nothing.
#  3. Then the cluster suite, whose last tests stop and restart the shared services, beside the
#     JavaScript library's suite (scripts/test-js.sh) and the web client's browser suite
#     (scripts/test-browser.sh), which start servers of their own and use no service.
set -uo pipefail
cd "$(dirname "$0")/.."
build_dir=${1:-build}
jobs=$(nproc)

scripts/python-env.sh || exit 1

. scripts/services.sh
use_services test
trap stop_started_services EXIT

export CHAT_REQUIRE_NETNS=1
export CHAT_ENGINE_BIN=$PWD/$build_dir/chat-engine
logs=$(mktemp -d)

(cd "$build_dir" && ctest --output-on-failure -j "$jobs") >"$logs/unit.log" 2>&1 &
unit=$!
.venv/bin/python -m pytest tests/e2e -q --ignore=tests/e2e/cluster --ignore=tests/e2e/netfaults >"$logs/e2e.log" 2>&1 &
e2e=$!
scripts/bench-smoke.sh "$build_dir" >"$logs/bench.log" 2>&1 &
bench=$!
.venv/bin/python -m pytest tests/e2e/netfaults -q -s >"$logs/netfaults.log" 2>&1 &
netfaults=$!
scripts/check-dockerfile.sh "$build_dir" >"$logs/dockerfile.log" 2>&1 &
dockerfile=$!
wait $unit; unit_status=$?
wait $e2e; e2e_status=$?
wait $bench; bench_status=$?
wait $netfaults; netfaults_status=$?
wait $dockerfile; dockerfile_status=$?
echo "=== unit tests"; tail -n 40 "$logs/unit.log"
[ $unit_status -eq 0 ] || cat "$logs/unit.log"
echo "=== end-to-end, one node"; tail -n 5 "$logs/e2e.log"
[ $e2e_status -eq 0 ] || cat "$logs/e2e.log"
echo "=== benchmark harness, smoke run"; tail -n 3 "$logs/bench.log"
[ $bench_status -eq 0 ] || cat "$logs/bench.log"

echo "=== network faults"; grep FIGURE "$logs/netfaults.log"; tail -n 2 "$logs/netfaults.log"
[ $netfaults_status -eq 0 ] || cat "$logs/netfaults.log"
echo "=== Dockerfile steps"; tail -n 2 "$logs/dockerfile.log"
[ $dockerfile_status -eq 0 ] || cat "$logs/dockerfile.log"
# The JavaScript client's and the web client's suites (their own servers, no shared service) beside
# the cluster suite, which needs the services to itself.
scripts/test-js.sh "$build_dir" >"$logs/js.log" 2>&1 &
js=$!
scripts/test-browser.sh "$build_dir" >"$logs/browser.log" 2>&1 &
browser=$!
echo "=== end-to-end, cluster"
.venv/bin/python -m pytest tests/e2e/cluster -q
cluster_status=$?
wait $js; js_status=$?
wait $browser; browser_status=$?
echo "=== JavaScript client library"; tail -n 8 "$logs/js.log"
[ $js_status -eq 0 ] || cat "$logs/js.log"
echo "=== web client in Chromium"; grep '^# screenshots' "$logs/browser.log"; tail -n 8 "$logs/browser.log"
[ $browser_status -eq 0 ] || cat "$logs/browser.log"

status=0
for s in $unit_status $e2e_status $bench_status $netfaults_status $dockerfile_status $js_status $browser_status $cluster_status; do [ "$s" -eq 0 ] || status=1; done
echo "unit: $unit_status, e2e: $e2e_status, bench smoke: $bench_status, network faults: $netfaults_status, dockerfile: $dockerfile_status, js client: $js_status, browser: $browser_status, cluster: $cluster_status"
exit $status
