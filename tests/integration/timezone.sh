#!/usr/bin/env bash
# site.timezone on a host in another zone: the host is TZ=UTC, the site is
# Asia/Shanghai. libfaketime (Debian's faketime) moves the daemon's wall clock
# to a chosen instant (its monotonic clock is left alone), so the test can
# play a bed exit at 02:00 and at 11:00 Shanghai time whatever the hour CI
# runs at:
#  1. 18:00 UTC = 02:00 Shanghai: the fall-risk resident's bed exit is at
#     night (21:00-07:00) and raises bed_exit; the alarm reaches the district
#     (a real mosquitto, mosquitto_sub) with +08:00 times that say 02:00; the
#     snapshot says timezone Asia/Shanghai, utc_offset_min 480; the log's
#     clock is Shanghai's;
#  2. 03:00 UTC = 11:00 Shanghai: the same bed exit is not at night and
#     raises nothing (a call made after it is raised: the engine was awake);
#  3. an unknown zone is refused with file:line, and the reload that changes
#     the zone says it takes effect at the next restart.
# About 20 s.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mqtt_lib.sh"
export TZ=UTC
FAKETIME_LIB=$(ls /usr/lib/*/faketime/libfaketimeMT.so.1 2>/dev/null | head -1)
if [ "${SANITIZE:-0}" = 1 ]; then
  # ASan must come first in LD_PRELOAD, and with libfaketime after it the
  # daemon deadlocks at start: this test runs in the plain build only.
  skip "site time zone on a UTC host" "libfaketime cannot be preloaded under ASan"
  done_testing
  exit 0
fi
if [ -z "$FAKETIME_LIB" ]; then
  skip "site time zone on a UTC host" "libfaketime is not installed (tools/deps.sh installs faketime)"
  done_testing
  exit 0
fi

broker_port=$(free_port)
start_broker broker "$broker_port" || { not_ok "mosquitto starts"; done_testing; exit 1; }
web_port=$(free_port)

# config-file: the small facility, a Shanghai site, a bed exit, a call later
# as a marker that the engine has run past the exit; uplink and web.
make_site() {
  make_config "$1" "        - {at_ms: 300, device: bed-101A, point: in_bed, value: 1}
        - {at_ms: 1500, device: bed-101A, point: in_bed, value: 0}
        - {at_ms: 5000, device: call-101B, point: call, value: 1}"
  grep -q "^  timezone: Asia/Shanghai$" "$1" || sed -i "s|^  district: test-district|&\n  timezone: Asia/Shanghai|" "$1"
  sed -i "/^web:/,\$d" "$1"
  cat >>"$1" <<YAML
rules:
  - {id: call, kind: call}
  - {id: presence, kind: presence}
  - {id: bed-exit, kind: bed_exit, for_s: 1}
web:
  listen: 127.0.0.1
  port: $web_port
  root: $ROOT/web
YAML
  with_uplink "$1" "$broker_port"
}

# run_at UTC-TIME NAME: starts the daemon with its wall clock at that instant.
run_at() {
  local offset=$(($(date -u -d "$1" +%s) - $(date -u +%s)))
  mkdir -p "$TMP/$2"
  LD_PRELOAD=$FAKETIME_LIB FAKETIME="$(printf '%+d' "$offset")" FAKETIME_DONT_FAKE_MONOTONIC=1 \
    start_daemon "$TMP/$2.yaml" "$TMP/$2/wardgate.db" "$TMP/$2.log"
}

# ---- 1. 02:00 in Shanghai ----
config=$TMP/night.yaml
make_site "$config"
start_sub "$TMP/night.mqtt" "$broker_port" "wardgate/v1/test-district/test-home/#"
run_at "2026-12-04 18:00:00" night
check "the daemon starts on a UTC host" wait_for "$TMP/night.log" "ready:" 15
check "... in the site's zone, named at start" \
  grep -qE "^2026-12-05 02:00:[0-9.]+ .*starting: .*time zone Asia/Shanghai" "$TMP/night.log"
check "a bed exit at 02:00 Shanghai time is at night: bed_exit raised" \
  wait_for "$TMP/night.log" "ALARM raise +urgent +bed_exit .*R-0001" 15
check "the alarm reaches the district" \
  wait_for "$TMP/night.mqtt" "/alarm .*\"kind\":\"bed_exit\"" 15
alarm_line=$(grep "/alarm .*\"kind\":\"bed_exit\"" "$TMP/night.mqtt" | head -1)
check "its times carry the site's offset and hour: raised_at 2026-12-05T02:00:..+08:00" \
  grep -qE '"raised_at":"2026-12-05T02:00:[0-9]{2}\.[0-9]{3}\+08:00"' <<<"$alarm_line"
check "... and so does the envelope's ts" \
  grep -qE '"ts":"2026-12-05T02:00:[0-9]{2}\.[0-9]{3}\+08:00"' <<<"$alarm_line"
check "every message matches its schema" /usr/bin/python3 "$CHECK_MQTT" validate "$TMP/night.mqtt"

# The snapshot, as the pages get it: first admin through the setup token.
token=$(cat "$TMP/night/setup-token" 2>/dev/null)
curl -s -c "$TMP/cookies" -H 'Content-Type: application/json' \
  -d "{\"token\":\"$token\",\"username\":\"admin1\",\"password\":\"correct-horse-1\"}" \
  "http://127.0.0.1:$web_port/api/v1/setup" >"$TMP/setup.json"
snapshot=$(curl -s -b "$TMP/cookies" "http://127.0.0.1:$web_port/api/v1/snapshot")
note "snapshot: $(cut -c1-200 <<<"$snapshot")"
zone=$(/usr/bin/python3 -c 'import json,sys; s=json.loads(sys.argv[1]); print(s["timezone"], s["utc_offset_min"])' "$snapshot" 2>/dev/null)
check "the snapshot says timezone Asia/Shanghai, utc_offset_min 480 (got \"$zone\")" \
  test "$zone" = "Asia/Shanghai 480"
meta=$(curl -s -b "$TMP/cookies" "http://127.0.0.1:$web_port/api/v1/meta")
check "... and so does meta's site" \
  test "$(/usr/bin/python3 -c 'import json,sys; s=json.loads(sys.argv[1])["site"]; print(s["timezone"], s["utc_offset_min"])' "$meta" 2>/dev/null)" = "Asia/Shanghai 480"

# A reload naming another zone keeps the running one and says so.
sed -i "s|^  timezone: Asia/Shanghai|  timezone: Europe/Berlin|" "$config"
kill -HUP "$DAEMON_PID"
check "a reload that changes the zone says it takes effect at the next restart" \
  wait_for "$TMP/night.log" "reload: site.timezone changed from Asia/Shanghai to Europe/Berlin; .*stays in Asia/Shanghai until wardgated is restarted" 15
wait_for "$TMP/night.log" "reload: applied" 15
snapshot=$(curl -s -b "$TMP/cookies" "http://127.0.0.1:$web_port/api/v1/snapshot")
check "... and the snapshot keeps the zone local time is in" \
  test "$(/usr/bin/python3 -c 'import json,sys; print(json.loads(sys.argv[1])["timezone"])' "$snapshot" 2>/dev/null)" = "Asia/Shanghai"
stop_daemon TERM
kill "$SUB_PID" 2>/dev/null

# ---- 2. 11:00 in Shanghai ----
config=$TMP/day.yaml
make_site "$config"
run_at "2026-12-04 03:00:00" day
check "the daemon starts at 11:00 Shanghai time" wait_for "$TMP/day.log" "ready:" 15
marker=0
wait_for "$TMP/day.log" "ALARM raise +normal +call .*call-101B" 15 && marker=1
check "the call after the bed exit is raised (the engine ran past the exit)" test $marker -eq 1
sleep 1.5 # one more engine tick past for_s
check "a bed exit at 11:00 Shanghai time is not at night: no bed_exit alarm" \
  test $marker -eq 1 -a "$(grep -c "ALARM raise .*bed_exit" "$TMP/day.log")" -eq 0
check "... though the bed exit itself was journaled" \
  test "$(sql "$TMP/day/wardgate.db" "select count(*) from events where kind='point' and device='bed-101A' and json_extract(body,'\$.value')=0")" -ge 1
stop_daemon TERM

# ---- 3. an unknown zone ----
config=$TMP/bad.yaml
make_site "$config"
sed -i "s|^  timezone: Asia/Shanghai|  timezone: Asia/Shangai|" "$config"
out=$("$WARDGATED" -c "$config" --check --plugin-dir "$PLUGINS" 2>&1)
rc=$?
line=$(grep -n "timezone:" "$config" | cut -d: -f1)
check "an unknown zone fails --check" test "$rc" -ne 0
check "... naming file:line and what was expected" \
  grep -qE "bad.yaml:$line:[0-9]+: timezone: \"Asia/Shangai\" is not a time zone in /usr/share/zoneinfo" <<<"$out"
done_testing
