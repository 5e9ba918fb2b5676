# MQTT helpers for the uplink tests (sourced after lib.sh): a real mosquitto
# on a free loopback port with a persistence directory it can write, and
# mosquitto_sub as the independent subscriber.
# shellcheck shell=bash

# start_broker NAME PORT [extra mosquitto.conf lines]: sets BROKER_PID; its
# config, persistence and log live in $TMP/NAME.
start_broker() {
  local name=$1 port=$2 extra=${3:-}
  local dir=$TMP/$name
  mkdir -p "$dir/data"
  if [ ! -f "$dir/mosquitto.conf" ]; then
    cat >"$dir/mosquitto.conf" <<EOC
# run as the user we are (root in CI): it writes its own persistence dir
user $(id -un)
per_listener_settings false
persistence true
persistence_location $dir/data/
autosave_interval 1
log_dest file $dir/mosquitto.log
log_type error
log_type warning
log_type notice
log_type information
connection_messages true
max_inflight_messages 0
max_queued_messages 0
listener $port 127.0.0.1
$extra
EOC
    [ -n "$extra" ] || echo "allow_anonymous true" >>"$dir/mosquitto.conf"
  fi
  mosquitto -c "$dir/mosquitto.conf" >>"$dir/stdout.log" 2>&1 &
  BROKER_PID=$!
  _pids+=("$BROKER_PID")
  local waited=0
  until grep -q "Opening ipv4 listen socket on port $port" "$dir/mosquitto.log" 2>/dev/null ||
        grep -q "mosquitto version .* running" "$dir/mosquitto.log" 2>/dev/null; do
    sleep 0.1; waited=$((waited + 1))
    [ "$waited" -ge 50 ] && return 1
  done
  sleep 0.2
}

stop_broker() { kill -"${2:-KILL}" "$1" 2>/dev/null; wait "$1" 2>/dev/null; true; }

# start_sub OUTFILE PORT TOPIC [extra mosquitto_sub args]: every message as
# "<receive unix time> <topic> <payload>" on one line; sets SUB_PID.
start_sub() {
  local out=$1 port=$2 topic=$3; shift 3
  mosquitto_sub -h 127.0.0.1 -p "$port" -q 1 -c -i "wgtest-sub-$RANDOM$RANDOM" -t "$topic" \
    -F '%U %t %p' "$@" >"$out" 2>"$out.err" &
  SUB_PID=$!
  _pids+=("$SUB_PID")
  sleep 0.3
}

# uplink_section PORT [extra keys]: the YAML for an uplink to the broker.
uplink_section() {
  local port=$1 extra=${2:-}
  cat <<EOY
uplink:
  enabled: true
  brokers: [tcp://127.0.0.1:$port]
  keepalive_s: 5
  reconnect_min_s: 1
  reconnect_max_s: 2
  heartbeat_s: 2
  telemetry_interval_s: 2
$extra
EOY
}

# with_rules CONFIG: calls, cords and presence raise and attend alarms.
with_rules() {
  cat >>"$1" <<EOY
rules:
  - {id: call, kind: call}
  - {id: cord, kind: pull_cord}
  - {id: presence, kind: presence}
EOY
}

# with_uplink CONFIG PORT [extra keys]: appends an uplink section.
with_uplink() { uplink_section "$2" "${3:-}" >>"$1"; }

CHECK_MQTT=$ROOT/tests/integration/check_mqtt.py
