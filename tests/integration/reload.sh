#!/usr/bin/env bash
# SIGHUP reload: a bad config (syntax, schema, or a driver's own section) is
# refused and the running one keeps working; a good one is applied, with new
# devices polled and the state of devices that stay carried over.
. "$(dirname "$0")/lib.sh"

config=$TMP/site.yaml
make_config "$config" "        - {at_ms: 300, device: call-101A, point: call, value: 1}
        - {at_ms: 2500, device: call-101B, point: call, value: 1}"
db=$TMP/site.db
log=$TMP/daemon.log
start_daemon "$config" "$db" "$log"
check "daemon ready" wait_for "$log" "ready:" 10
check "scripted call journaled before the reload" wait_for "$log" "point call-101A" 5

cp "$config" "$TMP/good.yaml"
for variant in syntax schema driver; do
  case $variant in
    syntax) printf 'zones: [unclosed\n' >>"$config" ;;
    schema) sed 's/profile: call-point, bed: 101-B/profile: call-point, bed: 109-Z/' "$TMP/good.yaml" >"$config" ;;
    driver) sed 's/scenario: quiet/scenario: loud/' "$TMP/good.yaml" >"$config" ;;
  esac
  before=$(grep -c "keeping the running configuration" "$log")
  kill -HUP "$DAEMON_PID"
  for _ in $(seq 50); do
    after=$(grep -c "keeping the running configuration" "$log")
    [ "$after" -gt "$before" ] && break
    sleep 0.1
  done
  check "reload with a $variant error is refused" test "$after" -gt "$before"
  check "... the daemon is still running" kill -0 "$DAEMON_PID"
  cp "$TMP/good.yaml" "$config"
done
check "the refusal names file:line" grep -qE "site.yaml:[0-9]+:[0-9]+: " "$log"
check "the old config still runs: a later scripted call arrives" wait_for "$log" "point call-101B" 5
check "no 'reloaded' event was journaled for the refused reloads" \
  test "$(sql "$db" "select count(*) from events where body like '%reloaded%'")" -eq 0

# A good reload: one more device.
sed 's/^devices:/devices:\n  - {id: call-102B, bus: sim1, address: 9, profile: call-point, room: "102"}/' "$TMP/good.yaml" >"$config"
kill -HUP "$DAEMON_PID"
check "a good reload is applied" wait_for "$log" "reload: applied .* \(9 devices on 1 buses\)" 5
check "the new device is polled" wait_for "$log" "device_health call-102B" 5
sleep 0.5
stop_daemon TERM
check "clean stop after reloads (exit 0)" test "$DAEMON_RC" -eq 0
check "one 'reloaded' event in the journal" \
  test "$(sql "$db" "select count(*) from events where body like '%\"reloaded\"%'")" -eq 1
# Devices that stayed keep their state: call-101A was 1 before; no new "first" event after reload.
check "devices that stayed were not re-announced online after the reload" \
  test "$(sql "$db" "select count(*) from events where kind='device_health' and device='call-101A'")" -eq 1
done_testing
