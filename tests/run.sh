#!/usr/bin/env bash
# Runs every test and prints one summary line, "N passed, N failed".
#
# Unit tests are cmocka binaries in $BUILD/tests (run with TAP output);
# integration tests are the executables in tests/integration, which start
# their real peers themselves and print TAP ("ok N - ..." / "not ok N - ...").
# A test program that exits non-zero without reporting a failure counts as
# one failure. TESTS=pattern runs only the matching tests.
set -u
BUILD=${BUILD:-build}
export BUILD
cd "$(dirname "$0")/.."
export WG_ROOT=$PWD
logdir=$BUILD/test-logs
mkdir -p "$logdir"
passed=0 failed=0 skipped=0
failures=()

run_one() { # name, command...
  local name=$1; shift
  local log=$logdir/$name.log
  local start=$SECONDS
  "$@" >"$log" 2>&1
  local rc=$?
  local p f s
  p=$(grep -cE '^ok [0-9]+' "$log" | tr -d ' ')
  s=$(grep -cE '^ok [0-9]+.*# (SKIP|skip)' "$log" | tr -d ' ')
  f=$(grep -cE '^not ok [0-9]+' "$log" | tr -d ' ')
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; echo "not ok - $name exited with $rc" >>"$log"; fi
  if [ "$p" -eq 0 ] && [ "$f" -eq 0 ]; then f=1; echo "not ok - $name reported no test" >>"$log"; fi
  p=$((p - s))
  passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + s))
  printf '%-34s %3d passed %3d failed %3d skipped  (%ds)\n' "$name" "$p" "$f" "$s" $((SECONDS - start))
  if [ "$f" -gt 0 ]; then
    failures+=("$name")
    grep -E '^not ok|^# ' "$log" | head -40 | sed 's/^/    /'
  fi
  grep -E '^ok [0-9]+.*# (SKIP|skip)' "$log" | sed 's/^/    /'
}

pattern=${TESTS:-}
for bin in "$BUILD"/tests/test_*; do
  [ -x "$bin" ] || continue
  name=$(basename "$bin")
  [ -n "$pattern" ] && [[ $name != *$pattern* ]] && continue
  CMOCKA_MESSAGE_OUTPUT=TAP run_one "$name" "$bin"
done
for t in tests/integration/*; do
  [ -x "$t" ] && [ -f "$t" ] || continue
  name=$(basename "$t")
  [ -n "$pattern" ] && [[ $name != *$pattern* ]] && continue
  run_one "$name" "$t"
done

echo
[ ${#failures[@]} -gt 0 ] && echo "failed: ${failures[*]} (logs in $logdir)"
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
