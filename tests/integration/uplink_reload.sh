#!/usr/bin/env bash
# A reload that replaces the MQTT link while the broker has stopped
# answering (SIGSTOP: PUBACKs and the disconnect never come) does not hold
# up the core thread: the old link is let go in the background, the new one
# connects to the other broker and delivers what was in flight, and the
# core loop's longest turn (/metrics) stays far below the 3 s the old link's
# drain and disconnect used to take on it. About 15 s.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mqtt_lib.sh"

port1=$(free_port)
port2=$(free_port)
start_broker b1 "$port1" || { not_ok "mosquitto 1 started"; done_testing; exit 1; }
broker1=$BROKER_PID
start_broker b2 "$port2" || { not_ok "mosquitto 2 started"; done_testing; exit 1; }
base=wardgate/v1/test-district/test-home
web_port=$(free_port)
fifo=$TMP/sim.fifo
make_config "$TMP/c.yaml"
sed -i "s|^      seed: 7|&\n      control: $fifo|; s|^  enabled: false|  listen: 127.0.0.1\n  port: $web_port\n  root: $ROOT/web|" "$TMP/c.yaml"
with_rules "$TMP/c.yaml"
cp "$TMP/c.yaml" "$TMP/c2.yaml"
with_uplink "$TMP/c.yaml" "$port1"
with_uplink "$TMP/c2.yaml" "$port2"
start_sub "$TMP/sub2.txt" "$port2" "$base/#"
start_daemon "$TMP/c.yaml" "$TMP/db" "$TMP/d.log"
check "connected to the first broker" wait_for "$TMP/d.log" "uplink: connected to tcp://127.0.0.1:$port1" 10
send() { timeout 5 bash -c 'printf "%s\n" "${@:2}" >"$1"' _ "$fifo" "$@"; }
longest() { curl -s "http://127.0.0.1:$web_port/metrics" | awk '$1 == "wardgate_core_loop_seconds_max{window=\"start\"}" {print $2}'; }
note "core loop's longest turn before: $(longest) s"

# The broker stops answering; calls are raised: their rows wait for PUBACKs.
kill -STOP "$broker1"
send "call-101A call 1" "cord-101 cord 1"
wait_for "$TMP/d.log" "ALARM raise +emergency pull_cord" 5
sleep 0.5
cp "$TMP/c2.yaml" "$TMP/c.yaml"
kill -HUP "$DAEMON_PID"
check "the reload replaces the link" wait_for "$TMP/d.log" "uplink settings changed; reconnecting" 10
check "the new link connects to the second broker" wait_for "$TMP/d.log" "uplink: connected to tcp://127.0.0.1:$port2" 15
check "... and the calls reach the district through it" wait_for "$TMP/sub2.txt" '"kind":"pull_cord"' 10
check "... with the status online, retained" wait_for "$TMP/sub2.txt" '/status .*"state":"online"' 10
turn=$(longest)
note "core loop's longest turn after the reload: $turn s"
check "the core never waited for the old link (longest turn $turn s, under 1 s)" \
  awk -v t="$turn" 'BEGIN {exit !(t != "" && t < 1.0)}'
send "call-102A call 1"
check "calls go on during and after it" wait_for "$TMP/d.log" "ALARM raise .*call-102A" 5
kill -CONT "$broker1"
stop_daemon TERM
check "the daemon stops cleanly" test "$DAEMON_RC" -eq 0
check "no sanitizer report" test -z "$(grep -E 'AddressSanitizer|runtime error' "$TMP/d.log")"
done_testing
