#!/usr/bin/env bash
# `make fuzz`: runs each libFuzzer target of <build dir>/fuzz for <seconds>, one after another,
# from its committed corpus (tests/fuzz/corpus/<target>/, read only). New interesting inputs go
# to <build dir>/finds/<target>/, crashing inputs to <build dir>/crashes/<target>-*. Exits 1 when
# any target crashed or spent over 10 s on one input. Promote finds with `scripts/fuzz.sh merge`
# (docs/reliability.md).
#
#   scripts/fuzz.sh <build dir> <seconds> [target...]
#   scripts/fuzz.sh merge <build dir> [target...]
set -uo pipefail
cd "$(dirname "$0")/.."
targets_default=(jwt_verify client_frame rest_body http_request)

if [ "${1:-}" = merge ]; then
  build_dir=${2:?build dir}
  shift 2
  [ $# -gt 0 ] && targets=("$@") || targets=("${targets_default[@]}")
  for t in "${targets[@]}"; do
    # Adds to the corpus only the finds that reach code the corpus does not.
    "$build_dir/fuzz/fuzz_$t" -merge=1 "tests/fuzz/corpus/$t" "$build_dir/finds/$t" || exit 1
  done
  exit 0
fi

build_dir=${1:?build dir}
seconds=${2:-60}
shift 2 || true
[ $# -gt 0 ] && targets=("$@") || targets=("${targets_default[@]}")
mkdir -p "$build_dir/crashes"
status=0
for t in "${targets[@]}"; do
  mkdir -p "$build_dir/finds/$t"
  echo "=== fuzz_$t, ${seconds}s"
  "$build_dir/fuzz/fuzz_$t" -max_total_time="$seconds" -print_final_stats=1 -max_len=16384 -timeout=10 \
    -artifact_prefix="$build_dir/crashes/$t-" "$build_dir/finds/$t" "tests/fuzz/corpus/$t" \
    2>"$build_dir/finds/$t.log"
  rc=$?
  grep -E '^(stat::|Done|==[0-9]+==ERROR|SUMMARY|artifact_prefix|Test unit written)' "$build_dir/finds/$t.log" | head -20
  if [ $rc -ne 0 ]; then
    echo "fuzz_$t FAILED (exit $rc): $build_dir/finds/$t.log"
    status=1
  fi
done
exit $status
