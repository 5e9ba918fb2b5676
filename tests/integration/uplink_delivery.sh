#!/usr/bin/env bash
# The MQTT uplink against a real mosquitto, with mosquitto_sub as the
# independent subscriber: every message validated against its JSON Schema,
# every journal event meant for the district delivered in order, commands
# confirmed or denied (nothing executed), the last will on SIGKILL, a broker
# refusing the credentials, MQTT 5, and a reply split under the broker's limit.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mqtt_lib.sh"

port=$(free_port)
start_broker b1 "$port" || { not_ok "mosquitto started"; done_testing; exit 1; }
base=wardgate/v1/test-district/test-home
script="        - {at_ms: 300, device: call-101A, point: call, value: 1}
        - {at_ms: 500, device: call-101B, point: call, value: 1}
        - {at_ms: 900, device: cord-101, point: cord, value: 1}
        - {at_ms: 1500, device: presence-101, point: presence, value: 1}
        - {at_ms: 1800, device: call-102A, health: offline, repeat: 40, every_ms: 10}"
make_config "$TMP/c.yaml" "$script"
with_rules "$TMP/c.yaml"
with_uplink "$TMP/c.yaml" "$port" "  max_message_kb: 4" # the snapshot at connect (~0.8 KiB an alarm) fits; the history does not
start_sub "$TMP/sub.txt" "$port" "$base/#"
start_daemon "$TMP/c.yaml" "$TMP/db" "$TMP/d.log"
check "connected to the broker" wait_for "$TMP/d.log" "uplink: connected to tcp://127.0.0.1:$port \(MQTT 3.1.1" 10
wait_for "$TMP/sub.txt" '/telemetry ' 10
sleep 2.5
alarms_before=$(sql "$TMP/db" "select count(*) from events where kind='alarm'")
now_ms=$(($(date +%s) * 1000))
pub() { mosquitto_pub -h 127.0.0.1 -p "$port" -q 1 -t "$base/command" -m "$1"; }
pub '{"request":"ok-1","command":"snapshot"}'
pub '{"request":"ok-2","command":"devices"}'
pub "{\"request\":\"ok-3\",\"command\":\"alarm_history\",\"args\":{\"from\":$((now_ms - 3600000)),\"to\":\"$(date -d '+1 hour' +%Y-%m-%dT%H:%M:%S%:z)\"}}"
pub '{"request":"ok-4","command":"response_times"}'
pub '{"request":"bad-1","command":"reset","args":{}}'
pub '{"request":"bad-2","command":"acknowledge"}'
pub '{"request":"bad-3","command":"open_the_pod_bay_doors"}'
pub '{"request":"bad-4","command":"alarm_history","args":{"from":"yesterday"}}'
pub 'this is not json'
pub '{"request":"bad-6","command":"alarm_history","args":{"from":0,"to":99999999999999}}'
pub '{"request":"bad-7","command":"snapshot","args":{"x":1}}'
check "replies arrived" wait_for "$TMP/sub.txt" '"request":"bad-7"' 10
sleep 0.5
reply() { grep "/reply " "$TMP/sub.txt" | grep "\"request\":\"$1\""; }
for r in ok-1 ok-2 ok-3 ok-4; do
  check "command $r confirmed" grep -q '"result":"confirm"' <<<"$(reply $r)"
done
for r in bad-1 bad-2 bad-3 bad-4 bad-6 bad-7; do
  check "command $r denied with a reason" grep -qE '"result":"deny","reason":"[^"]+' <<<"$(reply $r)"
done
check "malformed command denied" grep -q '"request":"","command":null,"result":"deny","reason":"malformed: not JSON' "$TMP/sub.txt"
check "reset denial says why" grep -q 'never done remotely' <<<"$(reply bad-1)"
check "denials are logged" test "$(grep -c 'denied:' "$TMP/d.log")" -ge 7
check "the commands changed no alarm (none acknowledged or reset remotely)" test "$(sql "$TMP/db" "select count(*) from events where kind='alarm'")" -eq "$alarms_before"
check "the alarm history holds the alarm events" grep -q '"phase":"raise"' <<<"$(reply ok-3)"
parts=$(reply ok-3 | grep -o '"parts":[0-9]*' | head -1 | tr -dc 0-9)
note "alarm history reply in ${parts:-0} parts under a 4 KiB limit"
check "a reply over the broker's limit is split into parts" test "${parts:-0}" -gt 1
check "every part of it arrived" test "$(reply ok-3 | wc -l)" -eq "${parts:-0}"
check "no message exceeds the limit" test "$(awk '{ if (length($0) - length($1) - length($2) - 2 > 4096) n++ } END { print n+0 }' "$TMP/sub.txt")" -eq 0

stop_daemon TERM
check "clean stop publishes retained offline" wait_for "$TMP/sub.txt" '/status .*"state":"offline"' 5
note "$(/usr/bin/python3 "$CHECK_MQTT" validate "$TMP/sub.txt")"
check "every message valid against its JSON Schema" /usr/bin/python3 "$CHECK_MQTT" validate "$TMP/sub.txt"
for leaf in alarm health telemetry event status heartbeat snapshot response_times reply; do
  check "a $leaf message was published" grep -q "^[0-9.]* $base/$leaf " "$TMP/sub.txt"
done
out=$(/usr/bin/python3 "$CHECK_MQTT" delivery "$TMP/sub.txt" "$TMP/db"); note "$out"
check "every journal event for the uplink delivered, in order" /usr/bin/python3 "$CHECK_MQTT" delivery "$TMP/sub.txt" "$TMP/db"
check "the outbox is empty after a clean stop" test "$(sql "$TMP/db" 'select count(*) from outbox')" -eq 0

# Last will: SIGKILL leaves the broker to say "offline".
start_daemon "$TMP/c.yaml" "$TMP/db" "$TMP/d2.log"
wait_for "$TMP/d2.log" "uplink: connected" 10
start_sub "$TMP/status.txt" "$port" "$base/status"
check "birth: retained online status" wait_for "$TMP/status.txt" '"state":"online"' 5
stop_daemon KILL
check "last will: offline seen after SIGKILL" wait_for "$TMP/status.txt" '"state":"offline"' 20

# A broker that refuses the credentials: a clear line, retries, the rest runs.
port2=$(free_port)
echo "wardgate:$(printf 'right-secret')" >"$TMP/passwd"
mosquitto_passwd -U "$TMP/passwd" 2>/dev/null
start_broker b2 "$port2" "allow_anonymous false
password_file $TMP/passwd" || not_ok "second broker started"
printf 'wrong-secret\n' >"$TMP/uplink.password"
make_config "$TMP/c2.yaml" "$script"
with_uplink "$TMP/c2.yaml" "$port2" "  username: wardgate
  password_file: $TMP/uplink.password"
start_daemon "$TMP/c2.yaml" "$TMP/db2" "$TMP/d3.log"
check "refused credentials logged clearly" wait_for "$TMP/d3.log" "refused the user name or password|not authorised" 10
sleep 3
check "... and retried with back-off, logged once" test "$(grep -c 'cannot connect' "$TMP/d3.log")" -eq 1
check "... while the gateway keeps journaling" test "$(sql "$TMP/db2" "select count(*) from events where kind='alarm'")" -ge 1
check "... and the events wait in the outbox" test "$(sql "$TMP/db2" 'select count(*) from outbox')" -ge 1
printf 'right-secret\n' >"$TMP/uplink.password"
kill -HUP "$DAEMON_PID"
check "after a reload with the right password it connects" wait_for "$TMP/d3.log" "uplink: connected to tcp://127.0.0.1:$port2" 15
sleep 1
check "... and drains the outbox" test "$(sql "$TMP/db2" 'select count(*) from outbox')" -eq 0
stop_daemon TERM
check "the gateway stops with exit 0" test "$DAEMON_RC" -eq 0

# MQTT 5: the same events, validated and complete.
make_config "$TMP/c5.yaml" "$script"
with_uplink "$TMP/c5.yaml" "$port" '  mqtt_version: "5"'
start_sub "$TMP/sub5.txt" "$port" "$base/#"
start_daemon "$TMP/c5.yaml" "$TMP/db5" "$TMP/d5.log"
check "MQTT 5: connected" wait_for "$TMP/d5.log" "connected to .*MQTT 5" 10
wait_for "$TMP/sub5.txt" '/telemetry ' 10
stop_daemon TERM
check "MQTT 5: every message valid" /usr/bin/python3 "$CHECK_MQTT" validate "$TMP/sub5.txt"
check "MQTT 5: every journal event delivered, in order" /usr/bin/python3 "$CHECK_MQTT" delivery "$TMP/sub5.txt" "$TMP/db5"
[ -n "${KEEP_LOGS:-}" ] && cp -r "$TMP" "$KEEP_LOGS"
done_testing
