#!/usr/bin/env bash
# The gateway is killed with SIGKILL in the middle of a burst while the link
# is up, then started again on the same database: every event it committed
# (the journal, counted) reaches the independent subscriber, in order;
# duplicates only as re-sends of the same id. Telemetry runs per_read
# (outbox-only rows): every readings message committed before a kill
# arrives, each poll in one message only.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mqtt_lib.sh"
port=$(free_port)
base=wardgate/v1/test-district/test-home
start_broker b1 "$port" || { not_ok "mosquitto started"; done_testing; exit 1; }
make_config "$TMP/c.yaml" "        - {at_ms: 500, device: call-102A, health: offline, repeat: 1000000, every_ms: 1}"
sed -i 's/profile: eastron-sdm120, room: "101"}/profile: eastron-sdm120, room: "101", poll_ms: 100}/' "$TMP/c.yaml"
with_uplink "$TMP/c.yaml" "$port" "  telemetry_mode: per_read"
start_sub "$TMP/sub.txt" "$port" "$base/#"
sub_pid=$SUB_PID
for round in 1 2 3; do
  start_daemon "$TMP/c.yaml" "$TMP/db" "$TMP/d$round.log"
  wait_for "$TMP/d$round.log" "uplink: connected" 10 || not_ok "round $round: connected"
  sleep "1.$((RANDOM % 9))"
  stop_daemon KILL
  sql "$TMP/db" "select json_extract(payload, '\$.id') from outbox where class = 3" >>"$TMP/telemetry_ids.txt"
  note "round $round: killed with $(sql "$TMP/db" 'select count(*) from outbox') rows in the outbox, journal at #$(sql "$TMP/db" 'select max(seq) from events')"
done
journal=$(sql "$TMP/db" 'select count(*) from events where uplink != 0')
check "the bursts produced a real load (> 1,000 uplink events)" test "$journal" -gt 1000
# Once more without the burst: it must send what the killed runs left behind.
make_config "$TMP/quiet.yaml" ""
with_uplink "$TMP/quiet.yaml" "$port"
start_daemon "$TMP/quiet.yaml" "$TMP/db" "$TMP/final.log"
check "restarted and connected" wait_for "$TMP/final.log" "uplink: connected" 10
for _ in $(seq 1 100); do
  [ "$(sql "$TMP/db" 'select count(*) from outbox')" -eq 0 ] && break
  sleep 0.2
done
stop_daemon TERM
sleep 1
kill "$sub_pid" 2>/dev/null
out=$(/usr/bin/python3 "$CHECK_MQTT" delivery "$TMP/sub.txt" "$TMP/db"); note "$out"
check "nothing committed was lost: every journal event delivered, in order" /usr/bin/python3 "$CHECK_MQTT" delivery "$TMP/sub.txt" "$TMP/db"
note "$(wc -l <"$TMP/telemetry_ids.txt") readings messages were in the outbox at the kills"
out=$(/usr/bin/python3 "$CHECK_MQTT" telemetry "$TMP/sub.txt" "$TMP/telemetry_ids.txt"); note "$out"
check "every readings message committed before a kill delivered, each poll once" /usr/bin/python3 "$CHECK_MQTT" telemetry "$TMP/sub.txt" "$TMP/telemetry_ids.txt"
done_testing
