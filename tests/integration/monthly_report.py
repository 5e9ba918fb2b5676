#!/usr/bin/python3
"""The monthly report over a month of generated history (issue 17, item 5).

A month (October 2026, the site's time: Asia/Shanghai) of journal rows is
written straight into a real wardgate database: 400 alarms with their
raise, acknowledge, attend and reset rows (calls, pull cords, bed exits of
fall-risk residents, some ended by the resident before anyone came, device
faults of all lengths), alarms just before and after the month, 60 round
results and device tests in some weeks. The daemon's report for the month
(GET /api/v1/report/monthly?month=2026-10) is compared, figure by figure,
with the same figures worked out here from the rows written: calls by hour
of day, the acknowledge, attend and reset times (count, p50, p90, bands),
alarms by risk, bed exits and nuisance ones per bed, device faults and their
open hours, rounds done against planned, tests done against due. Bad months
are refused. About 15 s."""
import datetime
import json
import os
import sys
import time

import jsonschema

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "modbus"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import TMP, ROOT, WARDGATED, PLUGINS, free_port, wait_until, ok, note, done  # noqa: E402

from wsdisplay import add_user  # noqa: E402
from webclient import User  # noqa: E402
from mqtt_peers import start_broker, start_sub  # noqa: E402
from monthly_history import BANDS, FROM, TO, ZONE, expected, fill, generate  # noqa: E402
from small_site import Wardgated, small_config  # noqa: E402

RULES = "  - {id: call, kind: call}\n  - {id: cord, kind: pull_cord}\n  - {id: presence, kind: presence}\n"

BASE = "wardgate/v1/test-district/test-home"
SCHEMA = json.load(open(os.path.join(ROOT, "docs/schemas/monthly_report.json"), encoding="utf-8"))

def close(a, b):
    return a is None and b is None or (a is not None and b is not None and abs(a - b) < 0.0015)


def main():
    alarms, rounds, tests = generate()
    broker, mqtt_port = start_broker("broker-monthly")
    received = os.path.join(TMP, "monthly-mqtt.txt")
    start_sub(mqtt_port, received, f"{BASE}/event")
    web_port = free_port()
    config = small_config("monthly", web_port, RULES, mqtt_port)
    db = os.path.join(TMP, "monthly.db")
    add_user(WARDGATED, config, db, PLUGINS, TMP, "manager1", "manager-password-1", role="manager")
    add_user(WARDGATED, config, db, PLUGINS, TMP, "nurse1", "nurse-password-1", role="nurse")
    written = fill(db, alarms, [r for r in rounds], tests)
    in_month_rounds = [r for r in rounds if FROM <= r["ts"] < TO]
    want = expected(alarms, in_month_rounds, tests)
    note(f"{written} journal rows written; {want['alarms']} alarms raised in the month, {want['calls']} calls")
    daemon = Wardgated(config, db, "monthly")
    ok(daemon.start(), "the daemon runs")
    manager, nurse = User(web_port, "manager1", "manager-password-1"), User(web_port, "nurse1", "nurse-password-1")
    status, got = manager.call("GET", "/api/v1/report/monthly?month=2026-10")
    ok(status == 200 and got.get("schema") == "wardgate/monthly_report/1" and got.get("month") == "2026-10"
       and got.get("from_ms") == FROM and got.get("to_ms") == TO, "the report of October 2026, from its first to its last moment in Shanghai",
       {k: got.get(k) for k in ("schema", "month", "from_ms", "to_ms")} if isinstance(got, dict) else got)
    got = got if isinstance(got, dict) else {}
    try:
        jsonschema.validate(got, SCHEMA)
        valid = ""
    except jsonschema.ValidationError as e:
        valid = str(e)[:400]
    ok(not valid, "the report is valid against docs/schemas/monthly_report.json", valid)
    ok(got.get("alarms") == want["alarms"], f"alarms raised in the month: {got.get('alarms')} (journal: {want['alarms']})")
    ok(got.get("calls_by_hour") == want["calls_by_hour"], "calls by hour of day match the journal",
       f"{got.get('calls_by_hour')} != {want['calls_by_hour']}")
    response = got.get("response", {})
    ok(response.get("calls") == want["calls"], f"calls: {response.get('calls')} (journal: {want['calls']})")
    for step, key in (("acknowledge", "acknowledge"), ("attend", "attend"), ("reset", "reset")):
        g, w = response.get(step, {}), want[key]
        ok(g.get("count") == w["count"] and close(g.get("p50_s"), w["p50_s"]) and close(g.get("p90_s"), w["p90_s"])
           and g.get("bands") == w["bands"],
           f"{step} times: {w['count']} calls, p50 {w['p50_s']} s, p90 {w['p90_s']} s, bands {w['bands']}", g)
    ok(response.get("band_limits_s") == BANDS, "the bands are 1, 3, 5, 10, 15 and 30 minutes", response.get("band_limits_s"))
    ok(got.get("alarms_by_risk") == want["alarms_by_risk"], f"alarms by risk: {want['alarms_by_risk']}", got.get("alarms_by_risk"))
    ok(sorted(got.get("bed_exits", []), key=lambda e: e["bed"]) == want["bed_exits"],
       f"bed exits and nuisance ones per bed: {want['bed_exits']}", got.get("bed_exits"))
    faults = got.get("device_faults", {})
    ok(faults.get("count") == want["faults"] and abs(faults.get("open_hours", -1) - want["open_hours"]) < 0.01
       and len(faults.get("longest", [])) == want["faults"]
       and all(faults["longest"][i]["open_s"] >= faults["longest"][i + 1]["open_s"] for i in range(len(faults.get("longest", [])) - 1)),
       f"device faults: {want['faults']}, open {want['open_hours']:.2f} h in all, longest first", faults.get("count"))
    ok(got.get("rounds") == want["rounds"], f"rounds done against planned: {want['rounds']}", got.get("rounds"))
    ok(got.get("tests") == want["tests"], f"tests done against due: {want['tests']}", got.get("tests"))
    status, reply = manager.call("GET", "/api/v1/report/monthly?month=2026-13")
    ok(status == 400 and reply.get("field") == "month", "month 13 is refused (400)", reply)
    status, reply = manager.call("GET", "/api/v1/report/monthly?month=26-10")
    ok(status == 400, "a month not written YYYY-MM is refused (400)", reply)
    status, reply = nurse.call("GET", "/api/v1/report/monthly?month=2026-10")
    ok(status == 403, "a nurse may not read the monthly report (403)", reply)
    status, reply = manager.call("GET", "/api/v1/report/monthly")
    ok(status == 200 and len(reply.get("month", "")) == 7, f"without a month: the last month ({reply.get('month')})")
    # The month before this one ended: its report is recorded and sent by itself.
    now = datetime.datetime.now(ZONE)
    last = f"{now.year - (now.month == 1):04d}-{12 if now.month == 1 else now.month - 1:02d}"
    sent = wait_until(lambda: f'"month":"{last}"' in open(received).read(), 30)
    lines = [line.split(" ", 2)[2] for line in open(received).read().splitlines() if '"monthly_report"' in line]
    message = json.loads(lines[0]) if lines else {}
    ok(sent and message.get("kind") == "monthly_report" and message.get("schema") == "wardgate/event/1",
       f"the report of {last}, the month just ended, reaches the district by itself", lines[:1])
    try:
        jsonschema.validate(message.get("data"), SCHEMA)
        valid = ""
    except jsonschema.ValidationError as e:
        valid = str(e)[:400]
    ok(message and not valid, "... its data valid against the schema", valid)
    status, audit = manager.call("GET", "/api/v1/audit")
    ok(any(e["action"] == "monthly_report.add" and e["actor"] == "wardgated" for e in audit.get("entries", [])),
       "... and in the audit log (the hash chain)")
    daemon.stop()
    ok(daemon.start(), "the daemon is started again")
    time.sleep(8)
    ok(open(received).read().count('"monthly_report"') == 1, "after a restart the month's report is not sent again")
    daemon.stop()
    broker.terminate()
    done()


main()
