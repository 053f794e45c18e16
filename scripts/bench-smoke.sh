#!/usr/bin/env bash
# The benchmark harness's own test (part of `make test`): installs the peers if needed, runs
# chat-bench's Go tests and the report's Python tests, then tools/chat-bench/compare.py with tiny
# sizes against chat-engine, Centrifugo and the Node.js relay, writing the report into a temporary
# directory (never docs/). It checks that every run finished without protocol errors and that
# the report was written; it asserts nothing about speed. About a minute.
#
#   scripts/bench-smoke.sh [build-dir]     default: build
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${1:-build}
out=$(mktemp -d "${TMPDIR:-/tmp}/chat-bench-smoke.XXXXXX")
trap 'rm -rf "$out"' EXIT

scripts/bench-peers.sh install
(cd tools/chat-bench && go vet ./... && go test ./...)
(cd tools/chat-bench && ../../.venv/bin/python -m unittest -q test_benchreport)
.venv/bin/python tools/chat-bench/compare.py --mode smoke --chat-engine "$build_dir/chat-engine" --out "$out"
for f in benchmarks.md bench/latency_cdf.png bench/latency_vs_rate.png bench/memory_vs_conns.png; do
  [ -s "$out/$f" ] || { echo "bench-smoke: no $f in the report" >&2; exit 1; }
done
ls "$out"/*.json >/dev/null
grep -q '### Targets' "$out/benchmarks.md"
echo "bench-smoke: report complete"
