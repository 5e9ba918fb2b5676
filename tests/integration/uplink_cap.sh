#!/usr/bin/env bash
# No broker at all: the outbox fills up to uplink.outbox_max_mb and no
# further. Telemetry goes first, then health; no alarm row is ever dropped.
# The log says so once, not per message. Then a broker appears and what is
# left (every alarm) is delivered.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mqtt_lib.sh"
port=$(free_port) # nothing listens there yet
base=wardgate/v1/test-district/test-home
make_config "$TMP/c.yaml" "        - {at_ms: 500, device: call-102A, health: offline, repeat: 1, every_ms: 1}
        - {at_ms: 600, device: call-101B, health: offline, repeat: 6000, every_ms: 1}
        - {at_ms: 700, device: call-101A, point: call, value: 1, repeat: 1200, every_ms: 5}"
with_rules "$TMP/c.yaml"
with_uplink "$TMP/c.yaml" "$port" "  outbox_max_mb: 1"
start_daemon "$TMP/c.yaml" "$TMP/db" "$TMP/d.log"
wait_for "$TMP/d.log" "ready:" 10 || head -5 "$TMP/d.log"
check "the refused connection is logged" wait_for "$TMP/d.log" "cannot connect to tcp://127.0.0.1:$port" 10
# Telemetry is an outbox-only row (never a journal event): seen in the outbox.
telemetry_seen() { [ "$(sql "$TMP/db" 'select count(*) from outbox where class = 3')" -ge 1 ]; }
for _ in $(seq 1 100); do telemetry_seen && break; sleep 0.1; done
check "telemetry was produced (a telemetry row in the outbox)" telemetry_seen
check "the cap is logged" wait_for "$TMP/d.log" "outbox reached its cap" 20
sleep 8
cap=$((1 << 20))
bytes=$(sql "$TMP/db" 'select coalesce(sum(bytes),0) from outbox')
note "outbox: $bytes bytes; by class: $(sql "$TMP/db" 'select class, rows, bytes from outbox_totals' | tr '\n' ' ')"
note "journal: $(sql "$TMP/db" "select kind, count(*) from events where uplink != 0 group by kind" | tr '\n' ' ')"
check "the outbox stays within its cap" test "$bytes" -le "$cap"
check "the trigger totals match the rows" test "$(sql "$TMP/db" 'select sum(bytes) from outbox_totals')" -eq "$bytes"
alarms_journal=$(sql "$TMP/db" "select count(*) from events where uplink = 1")
alarms_outbox=$(sql "$TMP/db" "select count(*) from outbox where class = 1")
check "no alarm was dropped ($alarms_outbox of $alarms_journal)" test "$alarms_outbox" -eq "$alarms_journal"
check "telemetry went first (at most the newest is left)" test "$(sql "$TMP/db" 'select count(*) from outbox where class = 3')" -le 1
check "health was dropped next, oldest first, some kept" test "$(sql "$TMP/db" 'select count(*) from outbox where class = 2')" -gt 0
check "the oldest health rows were the ones dropped" test "$(sql "$TMP/db" "select min(o.seq) > (select min(seq) from events where uplink = 2) from outbox o where class = 2")" -eq 1
check "the cap was logged once" test "$(grep -c 'outbox reached its cap' "$TMP/d.log")" -eq 1
check "the refused connection was logged once" test "$(grep -c 'cannot connect' "$TMP/d.log")" -eq 1
start_broker b1 "$port" || not_ok "mosquitto started"
start_sub "$TMP/sub.txt" "$port" "$base/#"
for _ in $(seq 1 100); do
  [ "$(sql "$TMP/db" 'select count(*) from outbox where class = 1')" -eq 0 ] && break
  sleep 0.2
done
stop_daemon TERM
got=$(grep -c "$base/alarm " "$TMP/sub.txt")
check "every alarm delivered once the broker is there ($got of $alarms_journal)" test "$got" -ge "$alarms_journal"
check "every message valid against its schema" /usr/bin/python3 "$CHECK_MQTT" validate "$TMP/sub.txt"
done_testing
