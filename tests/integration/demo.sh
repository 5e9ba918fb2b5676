#!/usr/bin/env bash
# `make demo` as a newcomer runs it: the example facility on the sim driver
# produces a stream of events (calls, bed sensors, health) and stops cleanly.
. "$(dirname "$0")/lib.sh"
rm -rf "$BUILD/demo"
DEMO_SECONDS=${DEMO_SECONDS:-12} BUILD="$BUILD" tools/demo.sh >"$TMP/demo.log" 2>&1 &
demo_pid=$!
# While it runs: the display answers and the printed admin can log in.
wait_for "$TMP/demo.log" "web: serving" 15
password=$(sed -n 's/.*First admin *user "admin", password "\([^"]*\)".*/\1/p' "$TMP/demo.log")
check "it prints the display's URL" grep -q "Station display   http://127.0.0.1:8080/" "$TMP/demo.log"
check "it prints the first admin's credentials" test -n "$password"
check "the display page is served" curl -sf -o /dev/null http://127.0.0.1:8080/
check "/healthz is ok" curl -sf -o /dev/null http://127.0.0.1:8080/healthz
check "the printed admin logs in" curl -sf -o /dev/null -H 'Content-Type: application/json' \
  -d "{\"username\":\"admin\",\"password\":\"$password\"}" http://127.0.0.1:8080/api/v1/login
wait "$demo_pid"; rc=$?
check "the demo runs and stops cleanly (exit 0)" test $rc -eq 0
check "it says what to look at" grep -q "While it runs, in another terminal" "$TMP/demo.log"
check "it becomes ready with the whole facility" grep -qE "ready: 323 devices on 4 buses" "$TMP/demo.log"
db=$BUILD/demo/wardgate.db
events=$(sql "$db" "select count(*) from events")
online=$(sql "$db" "select count(distinct device) from events where kind='device_health' and body like '%\"online\"%'")
note "demo: $events events in ${DEMO_SECONDS:-12} s, $online devices came online"
check "every device came online" test "$online" -eq 323
check "the sim moved things (point events seen)" test "$(sql "$db" "select count(*) from events where kind='point'")" -gt 0
check "meters wrote history (readings)" test "$(sql "$db" "select count(*) from readings")" -gt 0
check "the stop was journaled" test "$(sql "$db" "select count(*) from events where body like '%\"stopped\"%'")" -eq 1
done_testing
