#!/bin/sh
# Runs inside the qemu guest (busybox sh), started by the initramfs's /init:
# the real wardgated with its gpio driver on the kernel's gpio-sim lines.
# Wires are moved through gpio-sim's sysfs `pull`, outputs read from `value`.
# Every result goes to the serial console as "WGVM ok - ..." / "WGVM not ok -
# ..." / "WGVM # ..."; tests/integration/gpio_sim_qemu.sh turns them into TAP.
#
# Lines (profiles count from each device's address; contacts close to ground,
# active-low with pull-up): cord 0, cord reset 1, cord loop 2 (NC); presence 4,
# reset 5; fire-door magnet 6; lamp red 8, green 9, buzzer 10; door 12 (NC),
# tamper 13 (NC); PIR 14 (NC), tamper 15 (NC); latency probe 16 (no debounce).
R=/tmp/wg
mkdir -p $R
LOG=$R/daemon.log
ok() { echo "WGVM ok - $*"; }
not_ok() { echo "WGVM not ok - $*"; }
note() { echo "WGVM # $*"; }
check() { d=$1; shift; if "$@"; then ok "$d"; else not_ok "$d"; fi; }
# wait_for FILE PATTERN SECONDS [FROM-LINE]
wait_for() {
  n=0
  while ! tail -n +"${4:-1}" "$1" 2>/dev/null | grep -qE -- "$2"; do
    usleep 50000; n=$((n + 1)); [ $n -ge $(($3 * 20)) ] && return 1
  done
  return 0
}
mark() { echo $(($(wc -l <"$LOG") + 1)); }
absent_since() { ! tail -n +"$1" "$LOG" | grep -qE -- "$2"; }

C=/sys/kernel/config/gpio-sim/chip0
mkdir $C $C/bank0 && echo 24 >$C/bank0/num_lines && echo wg-sim >$C/bank0/label && echo 1 >$C/live
CHIP=$(cat $C/bank0/chip_name)
S=/sys/devices/platform/$(cat $C/dev_name)/$CHIP
check "gpio-sim chip $CHIP [wg-sim] is live with 24 lines" test -e $S/sim_gpio23/value
pull() { echo "pull-$2" >"$S/sim_gpio$1/pull"; }
value() { cat "$S/sim_gpio$1/value"; }
press() { pull "$1" down; usleep 100000; pull "$1" up; }
wiring() { # contacts open (high), supervision loops and NC contacts closed (low)
  for l in 0 1 4 5 16; do pull $l up; done
  for l in 2 12 13 14 15; do pull $l down; done
}
wiring

start() { /usr/sbin/wardgated -c /etc/wardgate/wardgate.yaml --db $R/wg.db \
  --plugin-dir /usr/lib/wardgate/plugins >>"$LOG" 2>&1 & PID=$!; }
start
check "wardgated is ready on the kernel's GPIO lines" wait_for "$LOG" "ready:" 30
check "the driver opened the chip by its label through libgpiod" \
  grep -qE "chip $CHIP \[wg-sim\] \(libgpiod backend\): 13 points on their lines" "$LOG"
# The request's pull-up bias moved every wire up (gpio-sim models the bias);
# put the closed loops back: their technical alarms from start end.
wiring
check "closed supervision loop: the start-up line_fault of the cord ends" \
  wait_for "$LOG" "ALARM reset .*line_fault .*cord-101" 10
check "fire-door magnet energised (held) while running" test "$(value 6)" = 1
usleep 500000

# ---- debounce ----
m=$(mark)
/bin/vm_probe bounce "$S" 0 4 3
usleep 600000
check "a bounce shorter than the debounce (3 pulses of 4 ms, debounce 20 ms) raises nothing" \
  absent_since "$m" "pull_cord|point cord-101"
check "... though its edges reached the driver (logged as bounce)" \
  wait_for "$LOG" "cord-101.cord: bounce shorter than 20 ms ignored" 2 "$m"

# ---- pull cord, lamp pattern ----
m=$(mark)
press 0
check "a pull (100 ms, the cord switch is momentary) latches and raises an emergency" \
  wait_for "$LOG" "ALARM raise +emergency pull_cord" 5 "$m"
flash=$(/bin/vm_probe sample "$S" 4600 8 10 9)
note "door lamp while the emergency is raised: $(echo $flash)"
red_on=$(echo "$flash" | sed -n 's/^line=8 .* on_ms=\([-0-9]*\) .*/\1/p')
red_off=$(echo "$flash" | sed -n 's/^line=8 .* off_ms=\([-0-9]*\)$/\1/p')
buzz=$(echo "$flash" | sed -n 's/^line=10 changes=\([0-9]*\) .*/\1/p')
echo "WGVM pattern red_on_ms=$red_on red_off_ms=$red_off"
check "the red lamp line flashes 1 s on (median $red_on ms)" test "$red_on" -ge 900 -a "$red_on" -le 1100
check "... and 1 s off (median $red_off ms)" test "$red_off" -ge 900 -a "$red_off" -le 1100
check "the buzzer line plays its burst ($buzz changes in 4.6 s)" test "$buzz" -ge 6
check "the cord value stayed latched after the switch let go" absent_since "$m" "ALARM reset .*pull_cord"

# ---- presence attends, reset at the origin clears ----
m=$(mark)
press 4
check "presence marks the call attended" wait_for "$LOG" "ALARM attend .*pull_cord" 5 "$m"
usleep 300000
check "the door lamp shows presence: green on, red off" test "$(value 9)$(value 8)" = "10"
m=$(mark)
press 1
check "the reset button on the cord unit (the origin) clears it" \
  wait_for "$LOG" "ALARM reset .*pull_cord" 5 "$m"
press 4 # presence off again

# ---- a normally-closed contact opening: cut wire ----
m=$(mark)
pull 2 up
check "an NC supervision loop opening (cut wire) raises a technical alarm" \
  wait_for "$LOG" "ALARM raise +technical +line_fault .*cord-101" 5 "$m"
pull 2 down
check "... which ends when the loop is closed again" wait_for "$LOG" "ALARM reset .*line_fault .*cord-101" 5 "$m"

# ---- edge-to-core latency ----
usleep 300000
lat=$(/bin/vm_probe latency "$S" 16 200 "$LOG" "point probe-101")
echo "$lat" | sed 's/^/WGVM # /'
line=$(echo "$lat" | grep '^latency')
echo "WGVM $line"
check "200 edges on a line without debounce each reached the journal" \
  test "$(echo "$line" | sed -n 's/.*n=\([0-9]*\).*/\1/p')" = 200

# ---- bad input: a line another process holds ----
bad() { # description, pattern, sed expression on the config
  sed "$3" /etc/wardgate/wardgate.yaml >/etc/wardgate/bad.yaml
  out=$(/usr/sbin/wardgated -c /etc/wardgate/bad.yaml --db $R/bad.db --plugin-dir /usr/lib/wardgate/plugins 2>&1)
  rc=$?
  if [ $rc -ne 0 ] && echo "$out" | grep -qE -- "$2"; then ok "$1"
  else not_ok "$1"; echo "$out" | tail -3 | sed 's/^/WGVM #   /'; fi
  rm -f $R/bad.db*
}
bad "a line already in use is named with chip, line and holder" \
  "chip $CHIP \[wg-sim\] line 16: already in use by \"wardgated\" \(for probe-101.contact\)" "s/consumer: wardgated/consumer: second/"
# ---- the chip disappears while running ----
m=$(mark)
echo 0 >$C/live
check "a chip that disappears: its devices go offline (technical alarm)" \
  wait_for "$LOG" "ALARM raise +technical +device_offline .*(cord-101|lamp-101)" 10 "$m"
tail -n +"$m" "$LOG" | grep -E "error .*chip" | head -1 | sed 's/^/WGVM # /'
check "... and the daemon keeps running" kill -0 $PID
m=$(mark)
echo 1 >$C/live
check "the chip comes back: lines requested again, devices online" \
  wait_for "$LOG" "ALARM reset .*device_offline .*cord-101" 15 "$m"
S=/sys/devices/platform/$(cat $C/dev_name)/$(cat $C/bank0/chip_name)
wiring

# ---- output states at a clean stop and after a crash ----
kill -TERM $PID; wait $PID; rc=$?
check "clean stop (exit $rc)" test $rc -eq 0
check "after a clean stop: fire-door magnet released, lamp and buzzer off" \
  test "$(value 6)$(value 8)$(value 9)$(value 10)" = "0000"
# ---- bad input, with the lines free ----
bad "a line out of range is named with chip and line" \
  "chip $CHIP \[wg-sim\] line 30: out of range \(the chip has 24 lines, 0..23\)" "s/address: 16,/address: 30,/"
bad "a chip that does not exist is named" "chip \"gpiochip9\": no such GPIO chip" "s/chip: wg-sim/chip: gpiochip9/"

start
wait_for "$LOG" "ready:" 30
n=0 # the magnet is energised once its first write is done: up to 10 s on a loaded TCG guest
while [ "$(value 6)" != 1 ] && [ $n -lt 200 ]; do usleep 50000; n=$((n + 1)); done
held=$(value 6)
kill -KILL $PID; wait $PID
check "restart holds the fire door again ($held), a crash (SIGKILL) lets the line fall to its pull: released" \
  test "$held$(value 6)" = "10"
note "daemon log: $(wc -l <"$LOG") lines"
grep -E "error|crit" "$LOG" | grep -v "already in use\|out of range\|no such GPIO chip" | head -5 | sed 's/^/WGVM # log: /'
echo "WGVM done"
