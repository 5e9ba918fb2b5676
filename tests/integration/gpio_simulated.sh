#!/usr/bin/env bash
# The gpio driver end to end in the real daemon, on its *simulated* line
# backend (runs on every machine; the same driver on the kernel's gpio-sim
# lines is tests/integration/gpio_sim_qemu.sh). A script moves the wires of
# a bathroom pull cord, presence and reset buttons and a supervision loop;
# the trace file records what the output lines drive.
#  1. a bounce shorter than the debounce is ignored; a real pull latches,
#     raises an emergency and the door lamp flashes 1 s/1 s;
#  2. presence attends, the reset button on the cord unit resets (at the origin);
#  3. a cut supervision loop (NC contact opening) raises a technical alarm;
#  4. outputs: lamps off and the fire-door magnet held at start, everything
#     inactive (doors released) after a clean stop;
#  5. bad input: unknown backend, bad source keys, a Modbus profile on a GPIO
#     bus, a line out of range, two points on one line, a missing chip.
. "$(dirname "$0")/lib.sh"

gpio_config() { # out-file bus-settings-yaml
  python3 - "$ROOT/tests/integration/fixtures/gpio.yaml.in" "$1" "$ROOT" "$2" <<'PY'
import sys
src, out, root, bus = sys.argv[1:5]
text = open(src, encoding="utf-8").read().replace("@ROOT@", root).replace("@BUS@", bus)
open(out, "w", encoding="utf-8").write(text)
PY
}

trace=$TMP/trace.txt
# Lines (profiles count from the device address): cord 0, reset 1, loop 2;
# presence 4, reset 5; fire door 6; lamp red 8, green 9, buzzer 10; door 12,
# tamper 13; PIR 14, tamper 15. Contacts close to ground (active-low, pull-up):
# "low" = contact closed.
gpio_config "$TMP/run.yaml" "      backend: simulated
      simulated:
        lines: 16
        trace: $trace
        script:
          - {at_ms: 0, line: 2, level: low}
          - {at_ms: 0, line: 12, level: low}
          - {at_ms: 0, line: 13, level: low}
          - {at_ms: 0, line: 14, level: low}
          - {at_ms: 0, line: 15, level: low}
          - {at_ms: 1000, line: 0, level: low, repeat: 6, every_ms: 4}
          - {at_ms: 2000, line: 0, level: low}
          - {at_ms: 2300, line: 0, level: high}
          - {at_ms: 6500, line: 4, level: low}
          - {at_ms: 6600, line: 4, level: high}
          - {at_ms: 7500, line: 1, level: low}
          - {at_ms: 7600, line: 1, level: high}
          - {at_ms: 8500, line: 2, level: high}"
db=$TMP/run.db
log=$TMP/run.log
t0=$(date +%s%3N)
start_daemon "$TMP/run.yaml" "$db" "$log"
check "daemon ready with the gpio bus (simulated backend)" wait_for "$log" "ready:" 10
check "the driver names its chip and backend" grep -qE "chip gpio1 \[simulated\] \(simulated backend\): 12 points on their lines" "$log"
check "a pull latches and raises an emergency" wait_for "$log" "ALARM raise +emergency pull_cord" 10
check "presence attends it" wait_for "$log" "ALARM attend .*pull_cord" 10
check "the reset button on the cord unit resets it" wait_for "$log" "ALARM reset .*pull_cord" 10
check "a cut supervision loop raises a technical alarm" wait_for "$log" "ALARM raise +technical line_fault .*cord-101" 10
stop_daemon TERM
check "clean stop" test "$DAEMON_RC" -eq 0
t_raise=$(sql "$db" "select ts_ms from events where kind='alarm' and json_extract(body,'\$.phase')='raise' and json_extract(body,'\$.kind')='pull_cord'")
note "pull_cord raised $((t_raise - t0)) ms after start (script pulls at 2000 ms; the bounce was at 1000 ms)"
check "the bounce at 1000 ms (6 edges 4 ms apart, debounce 20 ms) was ignored: one cord change, at the pull" \
  test "$(sql "$db" "select count(*) from events where kind='point' and device='cord-101' and json_extract(body,'\$.point')='cord' and json_extract(body,'\$.value')=1")" -eq 1
check "exactly one pull_cord alarm" \
  test "$(sql "$db" "select count(*) from events where kind='alarm' and json_extract(body,'\$.phase')='raise' and json_extract(body,'\$.kind')='pull_cord'")" -eq 1
check "the cord value went back to 0 only at the reset press (latched through the release at 2300 ms)" \
  test "$(sql "$db" "select count(*) from events where kind='point' and device='cord-101' and json_extract(body,'\$.point')='cord'")" -eq 2
check "the reset is journaled as coming from the cord unit" \
  test "$(sql "$db" "select json_extract(body,'\$.reset_by') from events where kind='alarm' and json_extract(body,'\$.phase')='reset'")" = "cord-101"

# The red lamp line (8): flashing 1 s/1 s while the emergency is raised.
python3 - "$trace" <<'PY' >"$TMP/flash.txt"
import sys
rows = [tuple(map(int, l.split())) for l in open(sys.argv[1])]
red = [(t, v) for t, l, v in rows if l == 8]
# the steady toggles while flashing: durations between successive changes
d = [b[0] - a[0] for a, b in zip(red, red[1:])]
flashing = [x for x in d[1:-1] if 800 < x < 1200]
print(len(flashing), " ".join(map(str, d)))
PY
read -r flashes durations <"$TMP/flash.txt"
note "red lamp line: intervals between changes (ms): $durations"
check "the red lamp flashed 1 s/1 s (at least 3 half-periods of 1000 +- 200 ms)" test "$flashes" -ge 3
check "the green line lit for presence" grep -qE " 9 1$" "$trace"
check "the buzzer line sounded" grep -qE " 10 1$" "$trace"
check "fire-door magnet energised (held) at start" test "$(grep -E ' 6 [01]$' "$trace" | head -1 | cut -d' ' -f3)" = 1
last_of() { grep -E " $1 [01]$" "$trace" | tail -1 | cut -d' ' -f3; }
check "after the clean stop every output line is inactive (fire door released, lamps and buzzer off)" \
  test "$(last_of 6)$(last_of 8)$(last_of 9)$(last_of 10)" = "0000"

# ---- bad input ----
bad() { # description, expected-pattern, bus-settings, [sed expression for the devices]
  local d=$1 pattern=$2 settings=$3 edit=${4:-}
  gpio_config "$TMP/bad.yaml" "$settings"
  [ -n "$edit" ] && sed -i "$edit" "$TMP/bad.yaml"
  local out rc
  out=$(timeout 10 "$WARDGATED" -c "$TMP/bad.yaml" --db "$TMP/bad.db" --plugin-dir "$PLUGINS" 2>&1)
  rc=$?
  if [ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] && grep -qE -- "$pattern" <<<"$out"; then ok "$d"
  else not_ok "$d"; note "rc=$rc; output:"; sed 's/^/#   /' <<<"$out" | tail -5; fi
  rm -f "$TMP/bad.db"*
}
bad "unknown backend named with file:line" "bad.yaml:[0-9]+:[0-9]+: backend: expected libgpiod .* or simulated, got \"wiringpi\"" \
  "      backend: wiringpi"
bad "libgpiod backend without a chip" "needs settings.chip" "      consumer: wardgated"
bad "a chip that does not exist is named at start" "chip \"gpiochip97\": no such GPIO chip" \
  "      chip: gpiochip97"
bad "a line out of range names chip and line" "chip gpio1 \[simulated\] line 12: out of range \(the chip has 12 lines, 0..11\) \(for door-101.door\)" \
  "      backend: simulated
      simulated: {lines: 12}"
bad "two points on one line" "line [56] of bus gpio1 serves both [a-z0-9.-]+ and pir-101.motion" \
  "      backend: simulated" 's/address: 14, profile: gpio-pir/address: 5, profile: gpio-pir/'
bad "a Modbus profile on a GPIO bus is refused naming the point" "unknown key \"function\"" \
  "      backend: simulated" 's/profile: gpio-door-contact/profile: door-contact/'
mkdir -p "$TMP/profiles"
sed -e 's/^id: gpio-pir/id: bad-pir/' -e 's/bias: pull-up, debounce_ms: 20/bias: up, debounce_ms: 20/' \
  config/profiles/gpio-pir.yaml >"$TMP/profiles/bad-pir.yaml"
bad "bad bias value, named with the profile's file:line" "bad-pir.yaml:[0-9]+:[0-9]+: bias: expected as-is, disable, pull-up or pull-down, got \"up\"" \
  "      backend: simulated" "s#profile: gpio-pir,#profile: bad-pir,#; s#^profiles:#profiles:\\n  - \"$TMP/profiles/*.yaml\"#"
done_testing
