#!/usr/bin/env bash
# `make demo` as a newcomer runs it: the example facility on the sim driver
# produces a stream of events (calls, bed sensors, health) and stops cleanly.
. "$(dirname "$0")/lib.sh"
rm -rf "$BUILD/demo"
DEMO_SECONDS=${DEMO_SECONDS:-12} BUILD="$BUILD" tools/demo.sh >"$TMP/demo.log" 2>&1; rc=$?
check "the demo runs and stops cleanly (exit 0)" test $rc -eq 0
check "it says what to look at" grep -q "While it runs, in another terminal" "$TMP/demo.log"
check "it becomes ready with the whole facility" grep -qE "ready: 319 devices on 4 buses" "$TMP/demo.log"
db=$BUILD/demo/wardgate.db
events=$(sql "$db" "select count(*) from events")
online=$(sql "$db" "select count(distinct device) from events where kind='device_health' and body like '%\"online\"%'")
note "demo: $events events in ${DEMO_SECONDS:-12} s, $online devices came online"
check "every device came online" test "$online" -eq 319
check "the sim moved things (point events seen)" test "$(sql "$db" "select count(*) from events where kind='point'")" -gt 0
check "meters wrote history (readings)" test "$(sql "$db" "select count(*) from readings")" -gt 0
check "the stop was journaled" test "$(sql "$db" "select count(*) from events where body like '%\"stopped\"%'")" -eq 1
done_testing
