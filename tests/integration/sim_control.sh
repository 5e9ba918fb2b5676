#!/usr/bin/env bash
# The sim driver's control FIFO (bus setting `control: PATH`), in the real
# daemon: bad paths are config errors with file:line; a stale FIFO is
# replaced, the new one is 0600 and removed at stop; commands hold and
# release points and set health; bad lines are logged with their text and
# ignored; writers coming and going never make the reader spin; a reload
# keeps the FIFO working.
. "$(dirname "$0")/lib.sh"

with_control() { # config-file fifo-path: the control setting and the rules the test needs
  sed -i "s|^      seed: 7|&\n      control: $2|" "$1"
  cat >>"$1" <<'YAML'
rules:
  - {id: call, kind: call}
  - {id: cord, kind: pull_cord}
  - {id: presence, kind: presence}
YAML
}
# send LINE...: one writer per call, like a test driver's `echo > fifo`.
send() { timeout 5 bash -c 'printf "%s\n" "${@:2}" >"$1"' _ "$fifo" "$@"; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# ---- bad paths: file:line errors from --check, nothing touched ----
config=$TMP/bad.yaml
make_config "$config"
with_control "$config" "$TMP/no-such-dir/sim.fifo"
out=$("$WARDGATED" -c "$config" --check --plugin-dir "$PLUGINS" 2>&1)
rc=$?
line=$(grep -n "control:" "$config" | cut -d: -f1)
check "control in a missing directory fails --check" test "$rc" -ne 0
check "... with file:line of the setting" grep -qE "bad.yaml:$line:[0-9]+: control: the directory of .*No such file" <<<"$out"
grep "control:" <<<"$out" | sed 's/^/# /'
echo "keep me" >"$TMP/plain"
make_config "$config"
with_control "$config" "$TMP/plain"
out=$("$WARDGATED" -c "$config" --check --plugin-dir "$PLUGINS" 2>&1)
check "an existing regular file is refused" grep -qE "bad.yaml:$line:[0-9]+: control: .*plain exists and is not a FIFO" <<<"$out"
check "... and left as it was" test "$(cat "$TMP/plain")" = "keep me"
make_config "$config"
with_control "$config" "$TMP/plain/x.fifo"
out=$("$WARDGATED" -c "$config" --check --plugin-dir "$PLUGINS" 2>&1)
check "a path under a file is refused" grep -qE "bad.yaml:$line:[0-9]+: control: .*plain/x.fifo: Not a directory" <<<"$out"
make_config "$config"
with_control "$config" "$TMP/sim.fifo"
quiet_check() { "$WARDGATED" -c "$1" --check --plugin-dir "$PLUGINS" >/dev/null 2>&1; }
check "--check with a good path passes" quiet_check "$config"
check "... and creates nothing" test ! -e "$TMP/sim.fifo"

# ---- the running daemon ----
fifo=$TMP/sim.fifo
mkfifo -m 0666 "$fifo"
config=$TMP/control.yaml
make_config "$config"
with_control "$config" "$fifo"
db=$TMP/control.db
log=$TMP/control.log
start_daemon "$config" "$db" "$log"
check "the daemon starts and reads the FIFO" wait_for "$log" "control: reading commands from $fifo" 10
check "the stale FIFO (mode 0666) was replaced" grep -q "control: replaced the stale FIFO $fifo" "$log"
check "... by a FIFO of mode 0600" test "$(stat -c %F:%a "$fifo")" = "fifo:600"
wait_for "$log" "ready:" 10

send "call-101A call 1"
check "DEVICE POINT VALUE raises the call" wait_for "$log" "ALARM raise +normal +call .*call-101A" 5

send "nobody call 1" "call-101A call" "call-101A nopoint 1" "call-101A call x" "call-101A call 1 2" \
  "call-101A release" "call-101A release call extra" "meter-f1 health sleepy" "call-101A call nan" \
  "only-one-word" "$(printf 'call-101A call \001')"
check "an unknown device is logged with the line" wait_for "$log" 'control: ignored "nobody call 1": device "nobody" is not on bus sim1' 5
check "a missing value is logged" grep -q 'control: ignored "call-101A call": expected DEVICE POINT VALUE' "$log"
check "an unknown point is logged" grep -q 'control: ignored "call-101A nopoint 1": device call-101A (profile call-point) has no point "nopoint"' "$log"
check "a value that is not a number is logged" grep -q 'control: ignored "call-101A call x": value: expected a number' "$log"
check "NaN is not a value" grep -q 'control: ignored "call-101A call nan": value: expected a number' "$log"
check "extra words are refused" grep -q 'control: ignored "call-101A call 1 2": expected DEVICE POINT VALUE' "$log"
check "release without a point is refused" grep -q 'control: ignored "call-101A release": expected DEVICE release POINT' "$log"
check "release with extra words is refused" grep -q 'control: ignored "call-101A release call extra"' "$log"
check "a bad health state is refused" grep -q 'control: ignored "meter-f1 health sleepy": health: expected online or offline' "$log"
check "a line of one word is refused" grep -q 'control: ignored "only-one-word"' "$log"
check "a control character is logged as ?, not raw" grep -q 'control: ignored "call-101A call ?"' "$log"
long=$(printf 'call-101A call %0300d' 1)
send "$long" "# a comment" "" "   " "call-101A release call"$'\r'
check "a line over 255 bytes is refused" wait_for "$log" "control: ignored a line of more than 255 bytes" 5
check "comments and blank lines are skipped silently" test -z "$(grep -E 'ignored "(# a comment|)"' "$log")"
check "a CRLF line is accepted" wait_for "$log" "control: call-101A release call$" 5
check "the bad lines raised nothing else" test "$(grep -c "ALARM raise" "$log")" -eq 1

send "meter-f1 health offline cable cut in the riser"
check "health offline raises device_offline with the reason" \
  wait_for "$log" "ALARM raise +technical device_offline .*meter-f1.*cable cut in the riser" 5
send "meter-f1 health online"
check "health online ends it" wait_for "$log" "ALARM reset +technical device_offline" 5
send "presence-101 reset 1" "presence-101 reset 0"
check "the reset button at the origin resets the call" wait_for "$log" "ALARM reset +normal +call .*call-101A" 5

# Many writers, each opening and closing the FIFO: every command applied,
# and no busy reader once they are gone (the thread blocks in poll).
for i in $(seq 1 20); do send "call-102A call $((i % 2))"; done
check "20 writers in a row: all 20 commands applied" \
  wait_for "$log" "$(printf 'control: call-102A call 0')" 5
sleep 0.5
applied=$(grep -c "control: call-102A call [01]$" "$log")
check "... (counted $applied)" test "$applied" -eq 20
before=$(cpu_ticks "$DAEMON_PID")
sleep 3
after=$(cpu_ticks "$DAEMON_PID")
note "daemon CPU over 3 s idle after the writers left: $((after - before)) ticks"
check "no busy-waiting: under 30 ticks (0.3 s) of CPU in 3 s idle" test $((after - before)) -lt 30

# A reload that does not change the sim bus leaves it (and its FIFO) alone;
# tests/integration/reload_sim.sh covers reloads that restart it.
inode=$(stat -c %i "$fifo")
kill -HUP "$DAEMON_PID"
check "a reload of the same file keeps the sim bus running" \
  wait_for "$log" "reload: applied .*1 buses kept running, restarted: none" 10
check "... and its FIFO (same inode)" test "$(stat -c %i "$fifo")" = "$inode"
send "cord-101 cord 1"
check "... and commands work" wait_for "$log" "ALARM raise +emergency pull_cord" 5

stop_daemon TERM
check "the daemon stops cleanly" test "$DAEMON_RC" -eq 0
check "the FIFO is removed at stop" test ! -e "$fifo"
check "no sanitizer report" test -z "$(grep -E 'AddressSanitizer|runtime error' "$log")"
done_testing
