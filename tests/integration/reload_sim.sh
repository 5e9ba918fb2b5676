#!/usr/bin/env bash
# Reload on the simulated backend: calls pressed while reloads run are never
# lost. A burst of 40 reloads (every other one changes only a resident's
# label, the others change the sim bus's own section, which restarts the bus:
# its new instance takes over the control FIFO, the commands under way and
# the devices' state) while a writer presses and holds calls through the
# control FIFO. Every press is raised exactly once; the FIFO is never made
# again (same inode: writers never notice); unchanged reloads never stop the
# sim; state survives (a call held before the burst is still held after it).
# Takes about 15 s.
. "$(dirname "$0")/lib.sh"

config=$TMP/site.yaml
fifo=$TMP/sim.fifo
write_config() { # label staff_max_s
  make_config "$config"
  sed -i -e "s|^      seed: 7|&\n      control: $fifo\n      staff_max_s: $2|" \
    -e "s|label: \"王奶奶\"|label: \"$1\"|" "$config"
  cat >>"$config" <<'YAML'
rules:
  - {id: call, kind: call}
  - {id: cord, kind: pull_cord}
YAML
}
send() { timeout 5 bash -c 'printf "%s\n" "${@:2}" >"$1"' _ "$fifo" "$@"; }

write_config "王奶奶" 240
db=$TMP/site.db
log=$TMP/daemon.log
start_daemon "$config" "$db" "$log"
check "daemon ready" wait_for "$log" "ready:" 10
check "the control FIFO is read" wait_for "$log" "control: reading commands from $fifo" 5
inode=$(stat -c %i "$fifo")
send "call-102A call 1"
check "a call held before the burst is raised" wait_for "$log" "ALARM raise .* call .*call-102A" 5

# The presses, each held, at staggered moments while the reloads run.
presses=(call-101A call-101B cord-101)
points=(call call cord)
(
  for i in 0 1 2; do
    sleep 0.6
    send "${presses[$i]} ${points[$i]} 1"
  done
) &
writer=$!
_pids+=("$writer")

reloads=40
for n in $(seq 1 "$reloads"); do
  # Odd: the sim's own section changes (a restart); even: only a label.
  write_config "Resident $n" $((240 + n - (n + 1) % 2))
  kill -HUP "$DAEMON_PID"
  # One at a time: SIGHUPs sent together would be taken as one.
  for _ in $(seq 100); do
    [ "$(grep -c 'reload: applied' "$log")" -ge "$n" ] && break
    sleep 0.05
  done
done
wait "$writer"
applied=$(grep -c 'reload: applied' "$log")
restarted=$(grep -c 'reload: applied .*restarted: sim1' "$log")
kept=$(grep -c 'reload: applied .*1 buses kept running' "$log")
note "$applied reloads applied: the sim bus restarted $restarted times, kept running $kept times"
check "all $reloads reloads applied" test "$applied" -eq "$reloads"
check "the label-only reloads left the sim bus running ($kept), the others restarted it ($restarted)" \
  test "$kept" -eq $((reloads / 2)) -a "$restarted" -eq $((reloads / 2))
for i in 0 1 2; do
  kind=call
  [ "${points[$i]}" = cord ] && kind=pull_cord
  check "${presses[$i]} pressed during the burst is raised" \
    wait_for "$log" "ALARM raise .* $kind .*${presses[$i]}" 5
  check "... its press is journaled exactly once" \
    test "$(sql "$db" "select count(*) from events where kind='point' and device='${presses[$i]}' and json_extract(body,'\$.value')=1")" -eq 1
done
check "the call held since before the burst was never released by a restart" \
  test "$(sql "$db" "select count(*) from events where kind='point' and device='call-102A'")" -eq 1
check "the FIFO was never made again (same inode)" test "$(stat -c %i "$fifo")" = "$inode"
check "no reload was refused" test "$(grep -c 'keeping the running configuration' "$log")" -eq 0
check "no line of the FIFO was lost or mangled" test "$(grep -c 'control: ignored' "$log")" -eq 0

# The FIFO still works after the burst, and the instance that serves it now
# reads commands given to the old one.
send "call-101A release call" "call-101A call 0"
check "commands after the burst are applied" wait_for "$log" "point call-101A .*\"value\":0" 5
stop_daemon TERM
check "clean stop (exit 0)" test "$DAEMON_RC" -eq 0
check "the FIFO is removed at stop" test ! -e "$fifo"
check "no sanitizer report" test -z "$(grep -E 'AddressSanitizer|runtime error|LeakSanitizer' "$log")"
done_testing
