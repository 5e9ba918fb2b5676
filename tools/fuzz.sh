#!/usr/bin/env bash
# `make fuzz SECONDS=N`: runs each libFuzzer target (tests/fuzz/<target>/)
# for N seconds, one after another, and prints one line per target:
# executions, executions per second, coverage (edges and features) and the
# corpus size. A crash, a sanitizer report, a broken invariant, a leak or an
# input running longer than 25 s fails the target; its input is kept in
# build/fuzz/<target>/crashes/ and the log in build/fuzz/<target>/fuzz.log.
# New inputs found are kept in build/fuzz/<target>/corpus/ (the seeds in
# tests/fuzz/<target>/corpus/ are only read). See docs/fuzzing.md.
set -u
cd "$(dirname "$0")/.."
seconds=${1:?usage: fuzz.sh SECONDS TARGET...}
shift
build=${FUZZ_BUILD:-build/fuzz}
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1:symbolize=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
failed=()
for target in "$@"; do
  dir=$build/$target
  mkdir -p "$dir/corpus" "$dir/crashes"
  dict=()
  [ -f "tests/fuzz/$target/dict" ] && dict=("-dict=tests/fuzz/$target/dict")
  "$dir/fuzz" -max_total_time="$seconds" -timeout=25 -print_final_stats=1 \
    -artifact_prefix="$dir/crashes/" "${dict[@]}" "$dir/corpus" "tests/fuzz/$target/corpus" \
    >"$dir/fuzz.log" 2>&1
  rc=$?
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$dir/fuzz.log" | tail -1)
  speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$dir/fuzz.log" | tail -1)
  cov=$(grep -oE 'cov: [0-9]+ ft: [0-9]+ corp: [0-9]+' "$dir/fuzz.log" | tail -1)
  if [ "$rc" -eq 0 ]; then
    printf 'fuzz %-16s %10s runs %7s/s  %s\n' "$target" "${runs:-?}" "${speed:-?}" "$cov"
  else
    failed+=("$target")
    printf 'fuzz %-16s FAILED (exit %d) after %s runs; input kept in %s\n' "$target" "$rc" \
      "${runs:-?}" "$dir/crashes/"
    grep -E 'ERROR|SUMMARY|invariant|runtime error|#[0-9]+ 0x' "$dir/fuzz.log" | head -30 | sed 's/^/    /'
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: failed: ${failed[*]} (logs in $build/<target>/fuzz.log)"
  exit 1
fi
echo "fuzz: ${#@} targets, ${seconds} s each, no finding"
