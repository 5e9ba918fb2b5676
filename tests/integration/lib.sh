# Shared helpers for the integration tests (sourced, not run): TAP output,
# a scratch directory cleaned on exit, starting wardgated and waiting for it.
# shellcheck shell=bash
set -u
BUILD=${BUILD:-build}
ROOT=${WG_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
cd "$ROOT"
WARDGATED=$ROOT/$BUILD/wardgated
PLUGINS=$ROOT/$BUILD/plugins
TEST_PLUGINS=$ROOT/$BUILD/test-plugins
TMP=$(mktemp -d "${TMPDIR:-/tmp}/wgit.XXXXXX")
_tap_n=0
_pids=()

cleanup() {
  for pid in "${_pids[@]}"; do kill -9 "$pid" 2>/dev/null; done
  wait 2>/dev/null
  rm -rf "$TMP"
}
trap cleanup EXIT

ok()     { _tap_n=$((_tap_n + 1)); echo "ok $_tap_n - $*"; }
not_ok() { _tap_n=$((_tap_n + 1)); echo "not ok $_tap_n - $*"; }
skip()   { _tap_n=$((_tap_n + 1)); echo "ok $_tap_n - $1 # SKIP $2"; }
note()   { echo "# $*"; }
# check DESCRIPTION COMMAND...: ok when the command succeeds.
check()  { local d=$1; shift; if "$@"; then ok "$d"; else not_ok "$d"; fi; }
done_testing() { echo "1..$_tap_n"; }
# guest_tap FILE: a qemu guest's report lines ("WGVM ok - ...", "WGVM not ok - ...",
# "WGVM # ...") re-emitted as TAP, numbered after this script's own tests.
guest_tap() {
  tr -d '\r' <"$1" | awk -v n="$_tap_n" '
    /^WGVM ok - /     { sub(/^WGVM ok - /, "");     print "ok " (++n) " - " $0; next }
    /^WGVM not ok - / { sub(/^WGVM not ok - /, ""); print "not ok " (++n) " - " $0; next }
    /^WGVM # /        { sub(/^WGVM # /, "");        print "# " $0 }'
  _tap_n=$((_tap_n + $(tr -d '\r' <"$1" | grep -cE '^WGVM (not )?ok - ')))
}

# wait_for FILE PATTERN [SECONDS]: until grep -E finds PATTERN in FILE.
wait_for() {
  local file=$1 pattern=$2 limit=${3:-10} waited=0
  while ! grep -qE -- "$pattern" "$file" 2>/dev/null; do
    sleep 0.1; waited=$((waited + 1))
    [ "$waited" -ge $((limit * 10)) ] && return 1
  done
  return 0
}

# start_daemon CONFIG DB LOG [extra args]: starts wardgated in the background, sets DAEMON_PID.
start_daemon() {
  local config=$1 db=$2 log=$3; shift 3
  "$WARDGATED" -c "$config" --db "$db" --plugin-dir "$PLUGINS" "$@" >"$log" 2>&1 &
  DAEMON_PID=$!
  _pids+=("$DAEMON_PID")
}

# stop_daemon [SIGNAL]: signals DAEMON_PID and waits; sets DAEMON_RC.
stop_daemon() {
  kill -"${1:-TERM}" "$DAEMON_PID" 2>/dev/null
  wait "$DAEMON_PID" 2>/dev/null
  DAEMON_RC=$?
}

sql() { sqlite3 -cmd ".timeout 5000" "$@"; }

# free_port: a TCP port the kernel says is free now.
free_port() {
  /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# A small valid facility for tests: two rooms, a sim bus in the quiet scenario
# (only the script moves things). $1 = output file; $2 = extra YAML for the bus settings.
make_config() {
  local out=$1 script=${2:-}
  local steps=""
  if [ -n "$script" ]; then steps="      script:
$script"; fi
  python3 - "$ROOT/tests/integration/fixtures/small.yaml.in" "$out" "$ROOT" "$steps" <<'PY'
import sys
src, out, root, steps = sys.argv[1:5]
text = open(src, encoding="utf-8").read().replace("@ROOT@", root).replace("@SCRIPT@\n", steps + ("\n" if steps else ""))
open(out, "w", encoding="utf-8").write(text)
PY
}
