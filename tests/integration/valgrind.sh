#!/usr/bin/env bash
# The daemon and the core unit tests under valgrind memcheck: no invalid
# access, no uninitialised use, no leak, through start, a scripted burst,
# a refused and an applied reload, and a clean stop; the same for the gpio
# driver on its simulated backend.
. "$(dirname "$0")/lib.sh"
if ! command -v valgrind >/dev/null; then
  skip "valgrind memcheck" "valgrind is not installed (make deps installs it)"; done_testing; exit 0
fi
if [ "${SANITIZE:-0}" = 1 ]; then
  skip "valgrind memcheck" "this build uses AddressSanitizer, which cannot run under valgrind"; done_testing; exit 0
fi
vg=(valgrind --quiet --error-exitcode=99 --leak-check=full --show-leak-kinds=definite,indirect,possible
    --errors-for-leak-kinds=definite,indirect,possible --track-fds=no)

config=$TMP/site.yaml
make_config "$config" "        - {at_ms: 0, device: call-101A, point: call, value: 1, repeat: 200, every_ms: 5}
        - {at_ms: 500, device: meter-f1, health: offline, reason: unplugged}"
log=$TMP/daemon.log
"${vg[@]}" --log-file="$TMP/vg-daemon.txt" "$WARDGATED" -c "$config" --db "$TMP/db" --plugin-dir "$PLUGINS" >"$log" 2>&1 &
DAEMON_PID=$!; _pids+=("$DAEMON_PID")
wait_for "$log" "ready:" 60
sleep 1
printf 'bogus: 1\n' >>"$config"
kill -HUP "$DAEMON_PID"; wait_for "$log" "keeping the running configuration" 20
make_config "$config"
kill -HUP "$DAEMON_PID"; wait_for "$log" "reload: applied" 20
sleep 1
stop_daemon TERM
check "wardgated under memcheck: no errors or leaks (exit $DAEMON_RC)" test "$DAEMON_RC" -eq 0
[ "$DAEMON_RC" -ne 0 ] && note "$(head -40 "$TMP/vg-daemon.txt")"

# The gpio driver on its simulated backend: a pull, the lamp flashing, presence, reset, stop.
python3 - "$ROOT/tests/integration/fixtures/gpio.yaml.in" "$TMP/gpio.yaml" "$ROOT" <<'PY'
import sys
src, out, root = sys.argv[1:4]
bus = """      backend: simulated
      simulated:
        lines: 16
        script:
          - {at_ms: 0, line: 2, level: low}
          - {at_ms: 1000, line: 0, level: low, repeat: 4, every_ms: 3}
          - {at_ms: 1500, line: 0, level: low}
          - {at_ms: 1700, line: 0, level: high}
          - {at_ms: 4000, line: 4, level: low, repeat: 2, every_ms: 100}
          - {at_ms: 4500, line: 1, level: low, repeat: 2, every_ms: 100}"""
text = open(src, encoding="utf-8").read().replace("@ROOT@", root).replace("@BUS@", bus)
open(out, "w", encoding="utf-8").write(text)
PY
log=$TMP/gpio.log
"${vg[@]}" --log-file="$TMP/vg-gpio.txt" "$WARDGATED" -c "$TMP/gpio.yaml" --db "$TMP/gpio.db" --plugin-dir "$PLUGINS" >"$log" 2>&1 &
DAEMON_PID=$!; _pids+=("$DAEMON_PID")
wait_for "$log" "ALARM reset .*pull_cord" 60
stop_daemon TERM
check "wardgated with the gpio driver under memcheck: no errors or leaks (exit $DAEMON_RC)" test "$DAEMON_RC" -eq 0
check "... and the scripted pull was raised and reset" grep -qE "ALARM reset .*pull_cord" "$log"
[ "$DAEMON_RC" -ne 0 ] && note "$(head -40 "$TMP/vg-gpio.txt")"

for t in test_core test_plugin_host test_queue test_config test_store test_modbus test_gpio; do
  "${vg[@]}" --log-file="$TMP/vg-$t.txt" "$BUILD/tests/$t" >"$TMP/$t.out" 2>&1; rc=$?
  check "$t under memcheck: no errors or leaks (exit $rc)" test $rc -eq 0
  [ $rc -ne 0 ] && note "$(head -30 "$TMP/vg-$t.txt")"
done
done_testing
