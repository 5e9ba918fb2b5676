#!/usr/bin/env bash
# `wardgated --reload PID` (the unit's ExecReload=) against the real daemon,
# without systemd: the daemon and the client share a RUNTIME_DIRECTORY as
# RuntimeDirectory= gives them. Exit 0 when the reload is applied, 1 when it
# is refused (a bad file), when the process is not a wardgated that answers
# (timeout), when it ends before answering, or without RUNTIME_DIRECTORY; 2
# for a pid it must never signal. tests/integration/systemd_qemu.sh checks
# the same under a real systemd (`systemctl reload`).
. "$(dirname "$0")/lib.sh"

config=$TMP/site.yaml
make_config "$config"
cp "$config" "$TMP/good.yaml"
run=$TMP/run
mkdir -p "$run"
export RUNTIME_DIRECTORY=$run
start_daemon "$config" "$TMP/site.db" "$TMP/daemon.log"
check "daemon ready" wait_for "$TMP/daemon.log" "ready:" 20

out=$("$WARDGATED" --reload "$DAEMON_PID" 2>&1); rc=$?
check "a good reload: exit 0" test $rc -eq 0
check "... and says so ($out)" grep -qE "configuration reloaded: [0-9]+ devices on 1 buses" <<<"$out"
check "the verdict file names the daemon and says applied=yes" \
  grep -qz "pid=$DAEMON_PID.*applied=yes" "$run/reload-verdict"
check "no temporary verdict file is left" test -z "$(find "$run" -name '.reload-verdict.*')"

printf 'nonsense_key: 1\n' >>"$config"
out=$("$WARDGATED" --reload "$DAEMON_PID" 2>&1); rc=$?
check "a refused reload (unknown key): exit 1" test $rc -eq 1
check "... the refusal carries the loader's first message ($out)" \
  grep -qE "reload refused: 1 error\(s\), the first: .*site.yaml:[0-9]+:[0-9]+: .*nonsense_key" <<<"$out"
check "... the verdict file says applied=no" grep -q "applied=no" "$run/reload-verdict"
check "... the daemon runs on" kill -0 "$DAEMON_PID"

cp "$TMP/good.yaml" "$config"
quiet() { "$@" >/dev/null; }
check "the file mended, the next reload: exit 0" quiet "$WARDGATED" --reload "$DAEMON_PID" --timeout 30

# Two reloads in a row each get their own verdict (no stale answer).
out1=$("$WARDGATED" --reload "$DAEMON_PID" 2>&1); rc1=$?
printf 'zones: [unclosed\n' >>"$config"
out2=$("$WARDGATED" --reload "$DAEMON_PID" 2>&1); rc2=$?
check "back to back: applied then refused (exit $rc1 then $rc2), not the previous verdict twice" \
  test "$rc1" -eq 0 -a "$rc2" -eq 1
cp "$TMP/good.yaml" "$config"

# A process that ignores SIGHUP and never answers: the client gives up.
(trap '' HUP; exec sleep 60) &
deaf=$!
_pids+=("$deaf")
start=$SECONDS
out=$("$WARDGATED" --reload "$deaf" --timeout 2 2>&1); rc=$?
check "a process that never answers: exit 1 after the timeout ($((SECONDS - start)) s)" \
  test $rc -eq 1 -a $((SECONDS - start)) -ge 2
check "... saying there was no verdict" grep -q "no verdict from process $deaf" <<<"$out"
kill "$deaf" 2>/dev/null

# A process that SIGHUP ends: the client notices at once.
sleep 60 &
mortal=$!
disown "$mortal" # bash would print "Hangup" when it ends
_pids+=("$mortal")
out=$("$WARDGATED" --reload "$mortal" --timeout 30 2>&1); rc=$?
check "a process that ends on SIGHUP: exit 1, it ended before it answered" \
  grep -q "ended before it answered" <<<"$out"

out=$(env -u RUNTIME_DIRECTORY "$WARDGATED" --reload "$DAEMON_PID" 2>&1); rc=$?
check "without RUNTIME_DIRECTORY: exit 1, saying so" \
  test $rc -eq 1 -a -n "$(grep RUNTIME_DIRECTORY <<<"$out")"
for bad in 0 1 -1 abc ""; do
  "$WARDGATED" --reload "$bad" >/dev/null 2>&1; rc=$?
  check "--reload '$bad' is a usage error (exit 2), nothing is signalled" test $rc -eq 2
done
"$WARDGATED" --reload "$DAEMON_PID" -c "$config" >/dev/null 2>&1; rc=$?
check "--reload with -c is a usage error (exit 2)" test $rc -eq 2
"$WARDGATED" -c "$config" --timeout 5 >/dev/null 2>&1; rc=$?
check "--timeout without --reload is a usage error (exit 2)" test $rc -eq 2

check "the daemon still runs after all that" kill -0 "$DAEMON_PID"
stop_daemon TERM
check "clean stop (exit 0)" test "$DAEMON_RC" -eq 0
done_testing
