#!/usr/bin/env bash
# `make bench`, uplink part: event -> PUBLISH latency with the link up, and
# the drain rate of an outbox backlog after an outage, for several
# max_inflight windows. Real mosquitto and mosquitto_sub on loopback.
#   BACKLOG=n (default 100000), WINDOWS="1000 100 10", SMALL_BACKLOG=n (for windows < 1000)
set -u
. "$(dirname "$0")/../tests/integration/lib.sh"
. "$ROOT/tests/integration/mqtt_lib.sh"
backlog=${BACKLOG:-100000}
small=${SMALL_BACKLOG:-20000}
windows=${WINDOWS:-1000 100 10}
base=wardgate/v1/test-district/test-home

echo "## uplink latency: 1,000 health changes every 10 ms, link up"
port=$(free_port)
start_broker lat "$port" >/dev/null
make_config "$TMP/lat.yaml" "        - {at_ms: 1000, device: call-102A, health: offline, repeat: 1000, every_ms: 10}"
with_uplink "$TMP/lat.yaml" "$port"
start_sub "$TMP/lat.txt" "$port" "$base/health"
start_daemon "$TMP/lat.yaml" "$TMP/lat.db" "$TMP/lat.log"
sleep 14
stop_daemon TERM
/usr/bin/python3 "$CHECK_MQTT" latency "$TMP/lat.txt"
stop_broker "$BROKER_PID"

for window in $windows; do
  n=$backlog
  [ "$window" -lt 1000 ] && n=$small
  port=$(free_port)
  db=$TMP/drain$window.db
  make_config "$TMP/d$window.yaml" "        - {at_ms: 200, device: call-102A, health: offline, repeat: $n, every_ms: 0}"
  with_uplink "$TMP/d$window.yaml" "$port" "  max_inflight: $window
  outbox_max_mb: 1024"
  start_daemon "$TMP/d$window.yaml" "$db" "$TMP/d$window.log"
  until [ "$(sql "$db" 'select count(*) from outbox' 2>/dev/null || echo 0)" -ge "$n" ]; do
    kill -0 "$DAEMON_PID" 2>/dev/null || { echo "drain: the daemon stopped:"; head -3 "$TMP/d$window.log"; exit 1; }
    sleep 0.5
  done
  sleep 1
  rows=$(sql "$db" 'select count(*) from outbox')
  start_broker "drain$window" "$port" >/dev/null
  start_sub "$TMP/drain$window.txt" "$port" "$base/health"
  t0=$(date +%s.%N)
  until [ "$(sql "$db" 'select count(*) from outbox')" -eq 0 ]; do sleep 0.05; done
  t1=$(date +%s.%N)
  stop_daemon TERM
  sleep 0.5
  got=$(wc -l <"$TMP/drain$window.txt")
  /usr/bin/python3 - "$rows" "$t0" "$t1" "$window" "$got" <<'PY'
import sys
rows, t0, t1, window, got = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]), sys.argv[4], int(sys.argv[5])
print("drain: max_inflight %s: %d outbox rows in %.2f s = %.0f msg/s (broker start to outbox empty; subscriber got %d)"
      % (window, rows, t1 - t0, rows / (t1 - t0), got))
PY
  stop_broker "$BROKER_PID"
done
