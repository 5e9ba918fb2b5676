#!/usr/bin/python3
"""Shift handovers and drills through the real daemon (issue 17, items 2 and
4), with the web API, sim devices pressed through the sim's control FIFO,
and the uplink to a real mosquitto counted with mosquitto_sub.

1. A nurse hands over while a call and a pull cord are open and room 102 is
   in test mode: the record names the shift, who to whom, the notes, both
   open alarms (with room names) and the test mode.
2. Bad input is refused with 400 naming the field (missing, too long,
   control characters, wrong type, unknown field, not JSON), roles with 403.
3. A manager records a fire drill (who took part, how long); bad drills are
   refused field by field.
4. The history, the audit log and the district hold both records; the audit
   rows carry the whole record, so --verify-audit finds the chain intact, and
   names the handover when its audit row is changed afterwards.
About 20 s."""
import json
import os
import sqlite3
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "modbus"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import TMP, WARDGATED, PLUGINS, free_port, wait_until, ok, done  # noqa: E402

from wsdisplay import add_user  # noqa: E402
from mqtt_peers import start_broker, start_sub  # noqa: E402
from webclient import User, request  # noqa: E402
from small_site import Wardgated, press, small_config  # noqa: E402

RULES = "  - {id: call, kind: call}\n  - {id: cord, kind: pull_cord}\n  - {id: presence, kind: presence}\n"

BASE = "wardgate/v1/test-district/test-home"
USERS = {"nurse1": ("nurse", "nurse-password-1"), "manager1": ("manager", "manager-password-1"),
         "station1": ("station", "station-password-1")}


def refused(user, path, body, field, what):
    status, reply = user.call("POST", path, body)
    ok(status == 400 and isinstance(reply, dict) and reply.get("field") == field,
       f"{what}: refused with 400 naming {field}", reply)


def main():
    broker, mqtt_port = start_broker("broker-records")
    received = os.path.join(TMP, "records-mqtt.txt")
    start_sub(mqtt_port, received, f"{BASE}/event")
    web_port = free_port()
    fifo = os.path.join(TMP, "records.fifo")
    config = small_config("records", web_port, RULES, mqtt_port, fifo)
    db = os.path.join(TMP, "records.db")
    for name, (role, password) in USERS.items():
        add_user(WARDGATED, config, db, PLUGINS, TMP, name, password, role=role)
    daemon = Wardgated(config, db, "records")
    log = daemon.log
    ok(daemon.start(("uplink: connected", "web: serving")),
       "the daemon runs, serves the web and is connected to mosquitto", log()[-2000:])
    nurse, manager, station = (User(web_port, n, USERS[n][1]) for n in ("nurse1", "manager1", "station1"))

    # ---- 1. a handover with two open alarms and a test mode ----
    press(fifo, "call-101A call 1")
    press(fifo, "cord-101 cord 1")
    ok(wait_until(lambda: len(nurse.call("GET", "/api/v1/alarms")[1].get("alarms", [])) == 2, 10),
       "a call and a pull cord are open")
    status, _ = manager.call("POST", "/api/v1/test-mode", {"target": "102", "minutes": 30})
    ok(status == 200, "room 102 is in test mode")
    notes = "101 王奶奶夜里呼叫两次，已处理；\n拉绳待复位。"
    status, reply = nurse.call("POST", "/api/v1/handovers", {"to": "李护工", "notes": notes})
    record = reply.get("handover", {}) if isinstance(reply, dict) else {}
    ok(status == 200 and record.get("from") == "nurse1" and record.get("to") == "李护工"
       and record.get("notes") == notes, "a nurse hands over to 李护工 with notes", reply)
    ok(record.get("shift") in ("day", "evening", "night"), f"the record names the shift ({record.get('shift')})")
    kinds = sorted(a.get("kind") for a in record.get("open_alarms", []))
    ok(record.get("open_count") == 2 and kinds == ["call", "pull_cord"]
       and all(a.get("room_name") and a.get("raised_ms") for a in record["open_alarms"]),
       "it lists the two open alarms, with where and since when", record.get("open_alarms"))
    ok([w.get("target") for w in record.get("test_modes", [])] == ["102"],
       "it lists room 102's test mode", record.get("test_modes"))

    # ---- 2. bad handovers ----
    status, reply = station.call("POST", "/api/v1/handovers", {"to": "李护工"})
    ok(status == 403, "a station account may not record a handover (403)", reply)
    refused(nurse, "/api/v1/handovers", {"notes": "x"}, "to", "no one to hand over to")
    refused(nurse, "/api/v1/handovers", {"to": ""}, "to", "an empty name")
    refused(nurse, "/api/v1/handovers", {"to": 42}, "to", "a number for a name")
    refused(nurse, "/api/v1/handovers", {"to": "李" * 41}, "to", "a name of 41 characters")
    refused(nurse, "/api/v1/handovers", {"to": "李护工\u0007"}, "to", "a control character in the name")
    refused(nurse, "/api/v1/handovers", {"to": "李护工", "notes": "长" * 2001}, "notes", "notes of 2001 characters")
    refused(nurse, "/api/v1/handovers", {"to": "李护工", "signed_by": "x"}, "signed_by", "an unknown field")
    status, reply = nurse.call("POST", "/api/v1/handovers", b"{\"to\": \"")
    ok(status == 400, "a body that is not JSON is refused (400)", reply)
    status, reply, _ = request(web_port, "POST", "/api/v1/handovers", {"to": "x"})
    ok(status == 401, "no session: 401", reply)

    # ---- 3. a drill ----
    now_ms = int(time.time() * 1000)
    drill = {"kind": "fire", "started_ms": now_ms - 3600_000, "minutes": 25,
             "scenario": "二层厨房起火，按预案疏散二层住户至一层大厅", "participants": ["李护工", "王护士", "张主任"],
             "notes": "疏散用时 8 分钟；轮椅住户 2 位由两人协助"}
    status, reply = nurse.call("POST", "/api/v1/drills", drill)
    ok(status == 403, "a nurse may not record a drill (403)", reply)
    status, reply = manager.call("POST", "/api/v1/drills", drill)
    got = reply.get("drill", {}) if isinstance(reply, dict) else {}
    ok(status == 200 and got.get("participant_count") == 3 and got.get("recorded_by") == "manager1"
       and got.get("minutes") == 25, "a manager records a 25-minute fire drill with 3 people", reply)
    for bad, field, what in (({**drill, "kind": "earthquake"}, "kind", "an unknown kind of drill"),
                             ({**drill, "started_ms": now_ms + 3600_000}, "started_ms", "a drill in the future"),
                             ({**drill, "started_ms": now_ms - 400 * 86400_000}, "started_ms", "a drill over a year ago"),
                             ({**drill, "started_ms": "yesterday"}, "started_ms", "a start that is not a time"),
                             ({**drill, "minutes": 0}, "minutes", "0 minutes"),
                             ({**drill, "minutes": 601}, "minutes", "601 minutes"),
                             ({**drill, "scenario": ""}, "scenario", "no scenario"),
                             ({**drill, "participants": []}, "participants", "no participants"),
                             ({**drill, "participants": ["李护工", "王\n护士"]}, "participants", "a name on two lines"),
                             ({**drill, "participants": "李护工"}, "participants", "participants as text")):
        refused(manager, "/api/v1/drills", bad, field, what)

    # ---- 4. evidence ----
    # The reply comes before the store writer commits (milliseconds; longer
    # under SANITIZE beside another suite): wait for the rows, then check them.
    wait_until(lambda: len(nurse.call("GET", "/api/v1/history?kind=handover")[1].get("events", [])) >= 1
               and len(nurse.call("GET", "/api/v1/history?kind=drill")[1].get("events", [])) >= 1
               and any(e["action"] == "drill.add"
                       for e in manager.call("GET", "/api/v1/audit")[1].get("entries", [])), 10)
    status, reply = nurse.call("GET", "/api/v1/history?kind=handover")
    rows = reply.get("events", []) if status == 200 else []
    ok(len(rows) == 1 and rows[0]["body"]["open_count"] == 2, "the history holds the one handover", reply)
    status, reply = nurse.call("GET", "/api/v1/history?kind=drill")
    ok(status == 200 and len(reply.get("events", [])) == 1, "the history holds the one drill", reply)
    status, audit = manager.call("GET", "/api/v1/audit")
    entries = audit.get("entries", []) if status == 200 else []
    handover_rows = [e for e in entries if e["action"] == "handover.add"]
    detail = handover_rows[0]["detail"] if handover_rows else None
    if isinstance(detail, str):
        detail = json.loads(detail)
    ok(len(handover_rows) == 1 and handover_rows[0]["actor"] == "nurse1" and isinstance(detail, dict)
       and detail.get("to") == "李护工" and detail.get("open_count") == 2,
       "the audit row of the handover carries the whole record", handover_rows)
    ok(any(e["action"] == "drill.add" and e["actor"] == "manager1" for e in entries), "the drill is audited")
    got = wait_until(lambda: '"kind":"handover"' in open(received).read() and '"kind":"drill"' in open(received).read(), 10)
    ok(got, "the district receives both records", open(received).read()[-1500:])
    daemon.stop()
    verify = subprocess.run([WARDGATED, "-c", config, "--db", db, "--verify-audit"], capture_output=True, text=True)
    ok(verify.returncode == 0 and "intact" in verify.stdout, "--verify-audit: the chain with both records is intact",
       verify.stdout + verify.stderr)
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE audit SET detail = replace(detail, '李护工', '赵护工') WHERE action = 'handover.add'")
    verify = subprocess.run([WARDGATED, "-c", config, "--db", db, "--verify-audit"], capture_output=True, text=True)
    ok(verify.returncode == 1 and "handover.add" in verify.stdout + verify.stderr,
       "a handover changed afterwards is named by --verify-audit", verify.stdout + verify.stderr)
    broker.terminate()
    done()


main()
