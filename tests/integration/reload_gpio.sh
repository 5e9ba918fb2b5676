#!/usr/bin/env bash
# Reload with the gpio driver on its simulated line backend: the trace file
# records every change of every output line, so "the output never moved" is
# checked exactly. While a pull-cord emergency flashes the door lamp (1 s on,
# 1 s off) and the fire-door magnet is held:
#  - a reload that changes only a label leaves the gpio bus running;
#  - a reload that changes the bus's own section restarts it: the new
#    instance takes the line requests over, the magnet never lets go and the
#    lamp keeps its rhythm;
#  - reloads that fail at each stage (a syntax error, the driver refusing its
#    section, the new instance failing to start: its trace file cannot be
#    opened) change nothing: the bus runs, no output line moves;
#  - inputs stay watched throughout: the presence and reset presses the
#    script makes after the reloads attend and reset the call.
# The gpio-sim (kernel) version of this is in gpio_sim_qemu.sh. Takes ~25 s.
. "$(dirname "$0")/lib.sh"

trace=$TMP/trace.txt
gpio_config() { # out-file label reopen_s trace-file
  python3 - "$ROOT/tests/integration/fixtures/gpio.yaml.in" "$1" "$ROOT" "$2" "$3" "$4" <<'PY'
import sys
src, out, root, label, reopen, trace = sys.argv[1:7]
bus = f"""      backend: simulated
      reopen_s: {reopen}
      simulated:
        lines: 16
        trace: {trace}
        script:
          - {{at_ms: 0, line: 2, level: low}}
          - {{at_ms: 0, line: 12, level: low}}
          - {{at_ms: 0, line: 13, level: low}}
          - {{at_ms: 0, line: 14, level: low}}
          - {{at_ms: 0, line: 15, level: low}}
          - {{at_ms: 2000, line: 0, level: low}}
          - {{at_ms: 2300, line: 0, level: high}}
          - {{at_ms: 20000, line: 4, level: low}}
          - {{at_ms: 20100, line: 4, level: high}}
          - {{at_ms: 21000, line: 1, level: low}}
          - {{at_ms: 21100, line: 1, level: high}}"""
text = open(src, encoding="utf-8").read().replace("@ROOT@", root).replace("@BUS@", bus)
text = text.replace("profile: gpio-door-lamp, room:", f"profile: gpio-door-lamp, label: \"{label}\", room:")
open(out, "w", encoding="utf-8").write(text)
PY
}
config=$TMP/run.yaml
gpio_config "$config" "Door lamp" 2 "$trace"
db=$TMP/run.db
log=$TMP/run.log
start_daemon "$config" "$db" "$log"
check "daemon ready" wait_for "$log" "ready:" 10
check "the pull raises an emergency" wait_for "$log" "ALARM raise +emergency pull_cord" 10
sleep 1.5 # the lamp flashes

changes() { wc -l <"$trace"; }
outcome() { # waits for the n-th "reload: applied" or "keeping the running configuration"
  local before=$1
  for _ in $(seq 100); do
    local now
    now=$(grep -cE "reload: applied|keeping the running configuration" "$log")
    [ "$now" -gt "$before" ] && return 0
    sleep 0.1
  done
  return 1
}
reload() { # description config-writer-args...
  local before
  before=$(grep -cE "reload: applied|keeping the running configuration" "$log")
  kill -HUP "$DAEMON_PID"
  outcome "$before"
}

# A label: nothing restarts.
gpio_config "$config" "Lamp by the door" 2 "$trace"
reload
check "a label change is applied with the gpio bus kept running" \
  grep -qE "reload: applied .*1 buses kept running, restarted: none" "$log"

# The bus's own section: restarted, outputs taken over.
gpio_config "$config" "Lamp by the door" 3 "$trace"
reload
check "a change of the bus's section restarts it" grep -qE "reload: applied .*restarted: gpio1" "$log"
check "... its new instance took over the 12 line requests" \
  grep -qE "bus gpio1: took over 12 line requests from the previous instance" "$log"
check "... with their state" grep -qE "12 points on their lines \(12 taken over as they were\)" "$log"

# Failures at each stage.
cp "$config" "$TMP/good.yaml"
printf 'zones: [unclosed\n' >>"$config"
reload
gpio_config "$config" "Lamp by the door" 0 "$trace" # reopen_s 0: the driver refuses it
reload
gpio_config "$config" "Lamp by the door" 3 "$TMP/no-such-dir/trace.txt"
reload
refused=$(grep -c "keeping the running configuration" "$log")
check "the three bad reloads were refused ($refused)" test "$refused" -eq 3
check "... the driver's refusal named file:line" grep -qE "run.yaml:[0-9]+:[0-9]+: reopen_s" "$log"
check "... the start failure was undone: the bus is back as it was" \
  grep -qE "bus gpio1: brought back as it was" "$log"
cp "$TMP/good.yaml" "$config"

check "inputs stayed watched: the presence press attends the call" \
  wait_for "$log" "ALARM attend .*pull_cord" 25
check "... and the reset at the origin resets it" wait_for "$log" "ALARM reset .*pull_cord" 10
sleep 0.3
stop_daemon TERM
check "clean stop" test "$DAEMON_RC" -eq 0
mkdir -p "$BUILD/test-logs" && cp "$log" "$BUILD/test-logs/reload_gpio.daemon.log"

# What the output lines did, from the trace.
python3 - "$trace" "$db" <<'PY' >"$TMP/verdict.txt"
import sqlite3, sys
rows = [tuple(map(int, l.split())) for l in open(sys.argv[1])]
db = sqlite3.connect(sys.argv[2])
fire = []  # the levels the line went through (a release after driving it low traces 0 twice)
for t, line, v in rows:
    if line == 6 and (not fire or fire[-1] != v):
        fire.append(v)
red = [(t, v) for t, line, v in rows if line == 8]
# the red line from its first flash until the attend (the green line lights
# for presence and the red one stops, whatever its phase)
on = [t for t, v in red if v == 1]
first = on[0] if on else 0
green = [t for t, line, v in rows if line == 9 and v == 1]
attend = green[0] if green else 0
steps = [b[0] - a[0] for a, b in zip(red, red[1:]) if a[0] >= first and b[0] < attend]
bad = [d for d in steps if not 800 <= d <= 1200]
print(" ".join(map(str, fire)), "|", len(steps), "|", " ".join(map(str, bad)) or "-")
PY
IFS='|' read -r fire steps bad <"$TMP/verdict.txt"
note "fire-door line levels over the run: $fire; lamp half-periods: $steps, off-rhythm: $bad"
check "the fire-door magnet was energised once and released only at the clean stop" \
  test "$(echo $fire)" = "1 0"
check "the lamp flashed 1 s/1 s through every reload (no half-period outside 800-1200 ms)" \
  test "$(echo $bad)" = "-" -a "$(echo $steps)" -ge 8
check "no sanitizer report" test -z "$(grep -E 'AddressSanitizer|runtime error|LeakSanitizer' "$log")"
done_testing
