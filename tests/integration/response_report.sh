#!/usr/bin/env bash
# wardgated --response-report: a database made by the daemon, alarm journal
# rows with known times written by python's sqlite3 (as the alarm engine
# journals them), then the printed table and long waits checked line by line.
# The site's zone is UTC (site.timezone) so the shifts (day 07-15, evening
# 15-23, night 23-07) of the rows written below are fixed; the host's zone
# (TZ=Asia/Tokyo here) must not matter.
. "$(dirname "$0")/lib.sh"
export TZ=Asia/Tokyo
utc_site() { sed -i "s|^  timezone: Asia/Shanghai|  timezone: UTC|" "$1"; }

config=$TMP/site.yaml
db=$TMP/wardgate.db
make_config "$config" "        - {at_ms: 200, device: call-101A, point: call, value: 1}
        - {at_ms: 1200, device: presence-101, point: presence, value: 1}
        - {at_ms: 1400, device: call-101A, point: call, value: 0}
        - {at_ms: 1600, device: presence-101, point: presence, value: 0}"
utc_site "$config"
cat >>"$config" <<'YAML'
rules:
  - {id: call, kind: call}
  - {id: presence, kind: presence}
YAML

out=$("$WARDGATED" -c "$config" --db "$db" --response-report 2>&1); rc=$?
check "a missing database is refused (exit 1), not created" test $rc -eq 1 -a ! -e "$db"
check "... and named" grep -q "database $db: No such file or directory" <<<"$out"

# A real database: the daemon runs the scripted call (raised, attended by
# presence, reset when presence goes off) and stops.
live_db=$TMP/live.db
start_daemon "$config" "$live_db" "$TMP/daemon.log"
wait_for "$TMP/daemon.log" "event #[0-9]+ point presence-101 .*\"value\":0" 20
stop_daemon TERM
check "the daemon made the database" test "$DAEMON_RC" -eq 0 -a -s "$live_db"
live=$(sql "$live_db" "SELECT count(DISTINCT alarm_id) FROM events WHERE kind = 'alarm' AND priority >= 2")
out=$("$WARDGATED" -c "$config" --db "$live_db" --response-report 2>&1); rc=$?
check "the daemon journaled its scripted call as one alarm (got ${live:-0})" test "${live:-0}" -eq 1
check "the daemon's own call is counted: raised, attended" \
  grep -qE "^all +1 +[0-9]+ +1 " <<<"$out"

# A database of known alarms only: the daemon makes it (schema, migrations)
# with no rules, so nothing but the rows below is counted.
make_config "$config"
utc_site "$config"
start_daemon "$config" "$db" "$TMP/daemon2.log"
wait_for "$TMP/daemon2.log" "ready:" 10
stop_daemon TERM

# Known alarms two days ago (UTC), written as the engine writes them.
python3 - "$db" <<'PY'
import json, sqlite3, sys, time, uuid
db = sqlite3.connect(sys.argv[1], timeout=5)
day = int(time.time()) // 86400 * 86400 * 1000 - 2 * 86400 * 1000  # 00:00 UTC two days ago
S, M, H = 1000, 60 * 1000, 3600 * 1000
names = ["advisory", "technical", "normal", "urgent", "emergency", "fire"]

def alarm(aid, prio, kind, room, bed, raised, ack=None, attend=None, reset=None):
    rows = [("raise", "raised", raised)]
    if ack: rows.append(("ack", "acknowledged", ack))
    if attend: rows.append(("attend", "attended", attend))
    if reset: rows.append(("reset", "reset", reset))
    for update, (phase, state, ts) in enumerate(rows, 1):
        rec = {"id": aid, "update": update, "phase": phase, "state": state,
               "priority": names[prio], "priority_level": prio, "kind": kind, "risk": None,
               "rule": "r", "device": "call-" + room, "point": "call", "zone": "f1",
               "room": room, "bed": bed, "resident": None, "detail": "",
               "reset_mode": "origin", "condition_active": phase != "reset",
               "raised_ms": raised,
               "acknowledged_ms": ack if ack and ts >= ack else None,
               "acknowledged_by": None, "acknowledged_from": None,
               "attended_ms": attend if attend and ts >= attend else None,
               "reset_ms": reset if reset and ts >= reset else None,
               "reset_by": None, "reset_from": None, "escalation_level": 0,
               "escalations": [], "reannunciations": 0}
        db.execute("INSERT INTO events (id, ts_ms, kind, priority, alarm_id, device, zone, room, bed, body)"
                   " VALUES (?, ?, 'alarm', ?, ?, ?, 'f1', ?, ?, ?)",
                   (str(uuid.uuid4()), ts, prio, aid, "call-" + room, room, bed, json.dumps(rec)))

t = day + 8 * H
alarm("a-day1", 2, "call", "101", "A", t, t + 30 * S, t + 2 * M, t + 3 * M)
t = day + 9 * H
alarm("a-day2", 3, "bed_exit", "101", "A", t, t + 90 * S, t + 4 * M, t + 5 * M)
t = day + 10 * H
alarm("a-tech", 1, "device_offline", "102", None, t)              # technical: not counted
t = day + 16 * H
alarm("a-eve", 2, "call", "102", "A", t, t + 60 * S, t + 20 * M, t + 21 * M)
t = day + 23 * H + 30 * M
alarm("a-night", 4, "pull_cord", "101", None, t, None, None, t + 25 * M)  # reset, never attended
t = day - 6 * 86400 * 1000                                      # 8 days ago: outside 7 days
alarm("a-old", 2, "call", "101", "B", t, t + 10 * M, t + 40 * M, t + 41 * M)
db.commit()
PY
check "python wrote the alarm journal" test $? -eq 0
before=$(sql "$db" "SELECT count(*) FROM events")

out=$("$WARDGATED" -c "$config" --db "$db" --response-report 2>&1); rc=$?
sed "s/^/# /" <<<"$out"
check "--response-report exits 0" test $rc -eq 0
row() { grep -qE "^$1 +$2 *$" <<<"$out"; }
# shift hours raised acked attended ack-p50 ack-p90 attend-p50 attend-p90 long
check "day: 2 raised, acked 0:30/1:30, attended 2:00/4:00, no long wait" \
  row day "07:00-15:00 +2 +2 +2 +0:30 +1:30 +2:00 +4:00 +0"
check "evening: one call attended after 20 min is a long wait" \
  row evening "15:00-23:00 +1 +1 +1 +1:00 +1:00 +20:00 +20:00 +1"
check "night: a pull cord reset after 25 min, never attended" \
  row night "23:00-07:00 +1 +0 +0 +- +- +- +- +1"
check "all: nearest-rank p50/p90 over the window; technical and 8-day-old alarms left out" \
  row all "4 +3 +3 +1:00 +1:30 +4:00 +20:00 +2"
check "the long waits are listed with time, shift, room, bed, kind, priority, wait, outcome" \
  grep -qE "^[0-9-]+ 16:00 +evening +102 +A +call +normal +20:00 +attended$" <<<"$out"
check "... including the one reset without attendance" \
  grep -qE "^[0-9-]+ 23:30 +night +101 +- +pull_cord +emergency +25:00 +reset$" <<<"$out"
check "the unattended are summarised" grep -q "Not attended: 1 reset without attendance, 0 still open." <<<"$out"
check "the report does not write to the journal" test "$(sql "$db" "SELECT count(*) FROM events")" -eq "$before"

out=$("$WARDGATED" -c "$config" --db "$db" --response-report --days 1 2>&1); rc=$?
check "--days 1 leaves out the alarms of two days ago" row all "0 +0 +0 +- +- +- +- +0"
out=$("$WARDGATED" -c "$config" --db "$db" --response-report --days 9 2>&1); rc=$?
check "--days 9 takes in the 8-day-old call" row all "5 +4 +4 +1:00 +10:00 +4:00 +40:00 +3"

"$WARDGATED" -c "$config" --db "$db" --response-report --days 0 >/dev/null 2>&1; rc=$?
check "--days 0 is a usage error (exit 2)" test $rc -eq 2
"$WARDGATED" -c "$config" --db "$db" --days 3 >/dev/null 2>&1; rc=$?
check "--days without --response-report is a usage error (exit 2)" test $rc -eq 2
done_testing
