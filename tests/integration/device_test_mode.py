#!/usr/bin/python3
"""Device test mode through the real daemon (issue 17, item 3), with a
WebSocket display, the web API, sim devices pressed through the sim's
control FIFO, and the uplink to a real mosquitto counted with mosquitto_sub.

1. Refusals: a station user may not start a test; a body with an unknown
   field, minutes out of range or no target is 400; an unknown room is 404.
2. A manager puts room 101 into test mode for one minute: the display's
   snapshot and messages show it (with the room's name). Its call button and
   pull cord pressed meanwhile reach the display as device tests, not as
   alarms; room 102's call is a call. A fire from the panel placed in room
   101 is annunciated at once.
3. The mode ends by itself after its minute: the display is told, and the
   pull cord still pulled is raised then as a real alarm.
4. The history, the test report (tested and untested devices), the audit
   log and the district (mosquitto) hold the tests and the window's start
   and end; --verify-audit finds the chain intact.
5. A restart keeps a running test mode (room 102): a press after it is a
   test; a manager ends it by hand; ending it again is 404.
About 90 s."""
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "modbus"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import TMP, ROOT, WARDGATED, PLUGINS, free_port, wait_until, ok, done  # noqa: E402

from wsdisplay import Display, add_user, is_raise_of  # noqa: E402
from mqtt_peers import start_broker, start_sub  # noqa: E402
from webclient import User  # noqa: E402
from small_site import Wardgated, press, small_config  # noqa: E402

RULES = ("  - {id: call, kind: call}\n  - {id: cord, kind: pull_cord}\n  - {id: presence, kind: presence}\n"
         "  - {id: fire, kind: fire_zone}\n")
PANEL = '  - {id: panel, bus: sim1, address: 11, profile: fire-panel-gb26875, room: "101"}\n'

BASE = "wardgate/v1/test-district/test-home"
MANAGER, STATION = ("manager1", "manager-password-1"), ("station1", "station-password-1")


def main():
    broker, mqtt_port = start_broker("broker-test-mode")
    received = os.path.join(TMP, "test-mode-mqtt.txt")
    start_sub(mqtt_port, received, f"{BASE}/event")
    web_port = free_port()
    fifo = os.path.join(TMP, "test-mode.fifo")
    config = small_config("test_mode", web_port, RULES, mqtt_port, fifo, devices=PANEL,
                          uplink="  reconnect_min_s: 1\n  reconnect_max_s: 2\n")
    db = os.path.join(TMP, "test-mode.db")
    add_user(WARDGATED, config, db, PLUGINS, TMP, MANAGER[0], MANAGER[1], role="manager")
    add_user(WARDGATED, config, db, PLUGINS, TMP, STATION[0], STATION[1])
    daemon = Wardgated(config, db, "test-mode")
    log = daemon.log
    ok(daemon.start(("uplink: connected", "web: serving")),
       "the daemon runs, serves the web and is connected to mosquitto", log()[-2000:])
    display = Display(web_port, *STATION)
    snapshot = display.wait(lambda m: m.get("type") == "snapshot", 5)
    ok(snapshot and snapshot[1].get("test_modes") == [], "the display's snapshot lists no test mode",
       snapshot[1] if snapshot else "")
    manager, station = User(web_port, *MANAGER), User(web_port, *STATION)

    # ---- 1. refusals ----
    status, body = station.call("POST", "/api/v1/test-mode", {"target": "101", "minutes": 1})
    ok(status == 403, "a station user may not start a test mode (403)", body)
    for bad, field in (({"target": "101", "minutes": 0}, "minutes"),
                       ({"target": "101", "minutes": 241}, "minutes"),
                       ({"target": "101", "minutes": "5"}, "minutes"),
                       ({"minutes": 5}, "target"),
                       ({"target": "101", "minutes": 5, "silent": True}, "silent")):
        status, body = manager.call("POST", "/api/v1/test-mode", bad)
        ok(status == 400 and isinstance(body, dict) and body.get("field") == field,
           f"{json.dumps(bad)} is refused with 400 naming {field}", body)
    status, body = manager.call("POST", "/api/v1/test-mode", b"{\"target\": ")
    ok(status == 400, "a body that is not JSON is refused with 400", body)
    status, body = manager.call("POST", "/api/v1/test-mode", {"target": "305", "minutes": 5})
    ok(status == 404 and "305" in json.dumps(body, ensure_ascii=False), "an unknown room is 404, named", body)

    # ---- 2. room 101 in test mode for a minute ----
    started = time.monotonic()
    status, body = manager.call("POST", "/api/v1/test-mode", {"target": "101", "minutes": 1})
    ok(status == 200 and body["test_modes"][0]["target"] == "101", "a manager starts room 101's test mode", body)
    shown = display.wait(lambda m: m.get("type") == "test_modes" and m["test_modes"]
                         and m["test_modes"][0].get("target") == "101", 5)
    ok(shown and shown[1]["test_modes"][0].get("started_by") == MANAGER[0]
       and shown[1]["test_modes"][0].get("target_name"),
       "the display is told: room 101, by whom, with the room's name", shown[1] if shown else "")
    press(fifo, "call-101A call 1")
    press(fifo, "cord-101 cord 1")
    tests = [display.wait(lambda m, d=d: m.get("type") == "device_test" and m["test"].get("device") == d, 5)
             for d in ("call-101A", "cord-101")]
    ok(all(tests), "the call button and the pull cord reach the display as device tests",
       [t[1] if t else None for t in tests])
    ok(tests[1] and tests[1][1]["test"].get("kind") == "pull_cord" and tests[1][1]["test"].get("room_name"),
       "... with what was tested and the room's name", tests[1][1] if tests[1] else "")
    press(fifo, "call-102A call 1")
    ok(display.wait(is_raise_of("call-102A"), 5), "room 102's call (not in test mode) is a call")
    fire_at = time.monotonic()
    press(fifo, "panel zone1_fire 1")
    fire = display.wait(lambda m: m.get("type") == "alarm" and m.get("phase") == "raise"
                        and m["alarm"].get("kind") == "fire", 5, after=fire_at)
    ok(fire, "a fire from the panel in room 101 is annunciated during the test"
       + (f" ({(fire[0] - fire_at) * 1000:.0f} ms)" if fire else ""))
    press(fifo, "panel zone1_fire 0")
    ok(not display.find(lambda m: m.get("type") == "alarm" and m["alarm"].get("device") in ("call-101A", "cord-101")),
       "no alarm for the tested call button or pull cord while the test runs")
    status, body = station.call("GET", "/api/v1/test-mode")
    ok(status == 200 and [w["target"] for w in body["test_modes"]] == ["101"]
       and body["test_modes"][0]["tests"] == 2,
       "GET /api/v1/test-mode lists room 101 with its 2 tests (the station may read it)", body)

    # ---- 3. it ends by itself ----
    ended = display.wait(lambda m: m.get("type") == "test_modes" and m["test_modes"] == [], 75)
    took = ended[0] - started if ended else None
    ok(ended and 59 <= took <= 63, "the test mode ends by itself after its minute"
       + (f" ({took:.1f} s)" if ended else ""))
    cord = display.wait(is_raise_of("cord-101"), 5)
    ok(cord and cord[1]["alarm"]["kind"] == "pull_cord" and (cord[0] - ended[0]) < 2.5,
       "the cord still pulled is raised as a pull-cord alarm when the test ends",
       cord[1] if cord else "")

    # ---- 4. evidence ----
    status, body = manager.call("GET", "/api/v1/history?kind=device_test")
    tested = sorted(e["device"] for e in body.get("events", [])) if status == 200 else []
    ok(tested == ["call-101A", "cord-101"], "the history holds the two device tests", body)
    status, body = manager.call("GET", "/api/v1/history?kind=test_mode")
    phases = [e["body"]["phase"] for e in reversed(body.get("events", []))] if status == 200 else []
    ok(phases == ["start", "expire"], "the history holds the window's start and its expiry", body)
    status, report = manager.call("GET", "/api/v1/report/tests?days=7")
    by_id = {d["id"]: d for d in report.get("devices", [])} if status == 200 else {}
    ok(status == 200 and by_id.get("call-101A", {}).get("tests") == 1 and by_id.get("cord-101", {}).get("tested")
       and by_id.get("call-101B", {}).get("tested") is False and by_id.get("call-102A", {}).get("tested") is False,
       "the test report: call-101A and cord-101 tested, call-101B and call-102A not", report)
    ok(status == 200 and report["devices"][0]["tested"] is False and report["devices_tested"] == 2
       and report["devices_due"] == len(by_id) and "panel" not in by_id and "presence-101" not in by_id,
       "... untested first, 2 of the due devices tested, the panel and presence buttons not listed", report)
    status, body = manager.call("GET", "/api/v1/report/tests?days=0")
    ok(status == 400, "a report of 0 days is refused (400)", body)
    status, audit = manager.call("GET", "/api/v1/audit")
    actions = [(a["action"], a.get("target"), a["actor"]) for a in audit.get("entries", audit.get("audit", []))]
    ok(("test_mode.start", "101", MANAGER[0]) in actions and ("test_mode.expire", "101", "wardgated") in actions
       and actions.count(("device.test", "call-101A", MANAGER[0])) == 1
       and ("test_mode.start_refused", "305", MANAGER[0]) in actions,
       "the audit log has the start, each test, the refusal and the expiry", actions)
    got = wait_until(lambda: open(received).read().count('"kind":"device_test"') >= 2
                     and open(received).read().count('"kind":"test_mode"') >= 2, 10)
    lines = open(received).read().splitlines()
    ok(got, "the district receives the 2 device tests and the window's start and expiry",
       "\n".join(lines[-10:]))
    payloads = [json.loads(line.split(" ", 2)[2]) for line in lines if " " in line]
    tests = [p for p in payloads if p.get("kind") == "device_test"]
    ok(tests and all(p["schema"] == "wardgate/event/1" and p["location"]["room"] == "101"
                     and p["data"]["test_target"] == "101" for p in tests),
       "... as wardgate/event/1 messages with the room and the test window", tests)

    # ---- 5. a restart keeps a running test mode ----
    press(fifo, "call-102A call 0")
    press(fifo, "presence-102 presence 1")
    press(fifo, "presence-102 presence 0")
    ok(display.wait(lambda m: m.get("type") == "alarm" and m.get("phase") == "reset"
                    and m["alarm"].get("device") == "call-102A", 5),
       "room 102's call is reset at its origin (presence on, off)")
    status, body = manager.call("POST", "/api/v1/test-mode", {"target": "102", "minutes": 5})
    ok(status == 200, "a manager starts room 102's test mode for 5 minutes", body)
    press(fifo, "call-102A call 1")
    ok(display.wait(lambda m: m.get("type") == "device_test" and m["test"]["device"] == "call-102A", 5),
       "a press in room 102 is a test")
    press(fifo, "call-102A call 0")
    time.sleep(0.5)
    display.close()
    daemon.stop()
    ok(daemon.start(), "the daemon is started again")
    ok("restored test mode of room 102" in log(), "its log says the test mode of room 102 was restored",
       log()[-1500:])
    display = Display(web_port, *STATION)
    snapshot = display.wait(lambda m: m.get("type") == "snapshot", 5)
    ok(snapshot and [w["target"] for w in snapshot[1].get("test_modes", [])] == ["102"],
       "after the restart the display's snapshot shows room 102 in test mode", snapshot[1] if snapshot else "")
    ok(snapshot and snapshot[1]["test_modes"][0].get("tests") == 1,
       "... with the test made before the restart counted", snapshot[1] if snapshot else "")
    press(fifo, "call-102A call 1")
    ok(display.wait(lambda m: m.get("type") == "device_test" and m["test"]["device"] == "call-102A", 5),
       "a press in room 102 after the restart is a test")
    status, body = station.call("GET", "/api/v1/test-mode")
    ok(status == 200 and body["test_modes"][0]["tests"] == 2,
       "room 102 has counted both tests, one before and one after the restart", body)
    manager = User(web_port, *MANAGER)
    status, body = manager.call("DELETE", "/api/v1/test-mode/102")
    ok(status == 200 and body["test_modes"] == [], "a manager ends room 102's test mode by hand", body)
    ok(display.wait(lambda m: m.get("type") == "test_modes" and m["test_modes"] == [], 5),
       "the display is told it ended")
    status, body = manager.call("DELETE", "/api/v1/test-mode/102")
    ok(status == 404, "ending it again is 404", body)
    display.close()
    daemon.stop()
    verify = subprocess.run([WARDGATED, "-c", config, "--db", db, "--verify-audit"], capture_output=True,
                            text=True)
    ok(verify.returncode == 0 and "intact" in verify.stdout,
       "--verify-audit finds the audit chain, tests included, intact", verify.stdout + verify.stderr)
    broker.terminate()
    logs = os.path.join(ROOT, os.environ.get("BUILD", "build"), "test-logs")
    if os.path.isdir(logs):
        with open(os.path.join(logs, "device_test_mode.daemon.log"), "w") as f:
            f.write(log())
    done()


main()
