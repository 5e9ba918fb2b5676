#!/usr/bin/python3
"""Rounds (巡查) through the real daemon (issue 17, item 1), with a WebSocket
display, the web API, the sim's presence buttons pressed through its control
FIFO, the uplink to a real mosquitto, and the rooms' QR codes read back by
rsvg-convert and zbarimg (Debian's librsvg and zbar).

The round's window is set around the site's clock now: 15-minute slots, the
first of which began 14 minutes ago (so it is overdue at once and ends
within a minute), grace 1 minute.

1. The first slot is overdue at start: the advisory round_overdue alarm
   reaches the display naming rooms 101 and 102. Room 101's presence button
   checks it in (the alarm then names 102 only). A wrong code, another
   room's code, and a code with nothing to check are refused and audited.
   The slot ends with 102 unchecked: the result is "missed", 1 of 2, the
   alarm ends, and the district receives the result.
2. In the next slot 101 is checked in by presence and 102 by its QR code
   (decoded from the image) before the grace: 2 of 2, no alarm. A restart
   keeps both check-ins.
3. --verify-audit finds the chain, with the round's result, intact.
About 70 s."""
import datetime
import json
import os
import subprocess
import sys
import time
import urllib.parse
import zoneinfo

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "modbus"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import TMP, WARDGATED, PLUGINS, free_port, wait_until, ok, done  # noqa: E402

from wsdisplay import Display, add_user  # noqa: E402
from mqtt_peers import start_broker, start_sub  # noqa: E402
from webclient import User, request  # noqa: E402
from small_site import Wardgated, press, small_config  # noqa: E402

RULES = "  - {id: call, kind: call}\n  - {id: presence, kind: presence}\n"

BASE = "wardgate/v1/test-district/test-home"
SITE_ZONE = zoneinfo.ZoneInfo("Asia/Shanghai")
USERS = {"nurse1": ("nurse", "nurse-password-1"), "manager1": ("manager", "manager-password-1"),
         "station1": ("station", "station-password-1")}


def hhmm(minute):
    minute %= 1440
    return f"{minute // 60:02d}:{minute % 60:02d}"


def overdue(phase, missing=None):
    return lambda m: (m.get("type") == "alarm" and m.get("phase") == phase
                      and m["alarm"].get("kind") == "round_overdue"
                      and (missing is None or m["alarm"].get("detail_args", {}).get("rooms") == missing))


def decode_qr(svg_bytes):
    """The text of a QR code image, read by rsvg-convert and zbarimg."""
    svg = os.path.join(TMP, "room.svg")
    png = os.path.join(TMP, "room.png")
    with open(svg, "wb") as f:
        f.write(svg_bytes)
    subprocess.run(["rsvg-convert", "-w", "400", "-h", "400", "-o", png, svg], check=True)
    read = subprocess.run(["zbarimg", "--quiet", "--raw", png], capture_output=True, text=True)
    return read.stdout.strip()


def main():
    # Leave at least 25 s of the current minute for the first slot's steps.
    now = datetime.datetime.now(SITE_ZONE)
    if now.second > 35:
        time.sleep(61 - now.second)
        now = datetime.datetime.now(SITE_ZONE)
    minute = now.hour * 60 + now.minute
    broker, mqtt_port = start_broker("broker-rounds")
    received = os.path.join(TMP, "rounds-mqtt.txt")
    start_sub(mqtt_port, received, f"{BASE}/event")
    web_port = free_port()
    fifo = os.path.join(TMP, "rounds.fifo")
    start = minute - 14
    config = small_config("rounds", web_port, RULES, mqtt_port, fifo, sections=(
        f'rounds:\n  - {{id: test-f1, zone: f1, window: "{hhmm(start)}-{hhmm(start + 30)}", every_min: 15, '
        'grace_min: 1}\n'))
    db = os.path.join(TMP, "rounds.db")
    for name, (role, password) in USERS.items():
        add_user(WARDGATED, config, db, PLUGINS, TMP, name, password, role=role)
    daemon = Wardgated(config, db, "rounds")
    log = daemon.log
    ok(daemon.start(("uplink: connected", "web: serving")),
       "the daemon runs, serves the web and is connected to mosquitto", log()[-2000:])
    display = Display(web_port, "station1", USERS["station1"][1])
    nurse, manager = User(web_port, "nurse1", USERS["nurse1"][1]), User(web_port, "manager1", USERS["manager1"][1])

    # ---- 1. the first slot: overdue, 101 by presence, 102 never ----
    raised = display.wait(overdue("raise", "101, 102"), 10) or display.wait(
        lambda m: m.get("type") == "snapshot" and any(a.get("kind") == "round_overdue" for a in m.get("alarms", [])), 1)
    ok(raised, "the overdue round reaches the display, naming rooms 101 and 102",
       [m for _, m in display.frames[-5:]])
    status, reply = nurse.call("GET", "/api/v1/rounds")
    slot = reply["rounds"][0]["slot"] if status == 200 else None
    ok(slot and slot["planned"] == 2 and slot["done"] == 0, "GET /api/v1/rounds: the slot runs, 0 of 2 rooms", reply)
    press(fifo, "presence-101 presence 1", "presence-101 presence 0")
    ok(display.wait(overdue("update", "102"), 5), "room 101's presence checks it in: the alarm names 102 only")
    status, reply = manager.call("GET", "/api/v1/rounds/rooms")
    codes = {r["room"]: r["code"] for r in reply.get("rooms", [])} if status == 200 else {}
    ok(sorted(codes) == ["101", "102"] and all(len(c) == 22 for c in codes.values()),
       "the manager reads each room's check-in code", reply)
    status, reply = nurse.call("POST", "/api/v1/rounds/checkin", {"room": "102", "code": "A" * 22})
    ok(status == 403, "a made-up code is refused (403)", reply)
    status, reply = nurse.call("POST", "/api/v1/rounds/checkin", {"room": "102", "code": codes.get("101")})
    ok(status == 403, "room 101's code does not check in room 102 (403)", reply)
    status, reply = nurse.call("POST", "/api/v1/rounds/checkin", {"room": "101", "code": codes.get("101")})
    ok(status == 409, "room 101 checked in already: 409", reply)
    status, reply = nurse.call("POST", "/api/v1/rounds/checkin", {"room": "101", "code": codes.get("101"), "x": 1})
    ok(status == 400 and reply.get("field") == "x", "an unknown field is 400", reply)
    status, reply, _ = request(web_port, "POST", "/api/v1/rounds/checkin", {"room": "101", "code": codes.get("101")})
    ok(status == 401, "no session: 401", reply)
    ended = display.wait(overdue("reset"), 75)
    ok(ended, "the slot's end ends the alarm")
    got = wait_until(lambda: nurse.call("GET", "/api/v1/history?kind=round")[1].get("events"), 10)
    status, reply = nurse.call("GET", "/api/v1/history?kind=round")
    result = reply["events"][0]["body"] if status == 200 and reply.get("events") else {}
    rooms = {r["room"]: r for r in result.get("rooms", [])}
    ok(got and result.get("status") == "missed" and result.get("done") == 1 and result.get("planned") == 2
       and rooms.get("101", {}).get("by") == "presence-101" and rooms.get("102", {}).get("checked_ms") is None,
       "the slot's result: missed, 1 of 2, room 101 by its presence button, 102 never", result)
    ok(wait_until(lambda: '"kind":"round"' in open(received).read(), 10), "the district receives the round's result")

    # ---- 2. the next slot: both rooms, 102 by its QR code ----
    status, svg = None, b""
    status, svg, _ = request(web_port, "GET", f"/api/v1/rounds/qr/102?origin={urllib.parse.quote('http://192.168.1.10:8080')}",
                             cookie=manager.cookie)
    svg = svg if isinstance(svg, bytes) else json.dumps(svg).encode()
    ok(status == 200 and svg.startswith(b"<svg"), "room 102's QR code is an SVG image", svg[:200])
    text = decode_qr(svg) if status == 200 else ""
    ok(text == f"http://192.168.1.10:8080/checkin.html?room=102&code={codes.get('102')}",
       f"zbarimg reads the check-in address from it ({text})")
    status, reply, _ = request(web_port, "GET", "/api/v1/rounds/qr/102?origin=javascript:alert(1)", cookie=manager.cookie)
    ok(status == 400, "an origin that is not http(s)://host:port is refused (400)", reply)
    status, reply, _ = request(web_port, "GET", "/api/v1/rounds/qr/102?origin=http://x", cookie=nurse.cookie)
    ok(status == 403, "a nurse may not print the codes (403)", reply)
    query = urllib.parse.parse_qs(urllib.parse.urlparse(text).query)
    press(fifo, "presence-101 presence 1", "presence-101 presence 0")
    # The sim reads its FIFO on its own thread: wait for the press to reach the round.
    ok(wait_until(lambda: any(r["room"] == "101" and r["checked_ms"] for r in
                              (nurse.call("GET", "/api/v1/rounds")[1]["rounds"][0].get("slot") or {}).get("rooms", [])), 10),
       "room 101's presence checks it in for the new slot")
    status, reply = nurse.call("POST", "/api/v1/rounds/checkin", {"room": query.get("room", [""])[0],
                                                                   "code": query.get("code", [""])[0]})
    slot = reply.get("rounds", [{}])[0].get("slot") if status == 200 else None
    ok(status == 200 and slot and slot["done"] == 2, "the scanned code checks room 102 in: 2 of 2", reply)
    ok(slot and {r["room"]: r["by"] for r in slot["rooms"]} == {"101": "presence-101", "102": "nurse1"},
       "... 101 by its presence button, 102 by nurse1", slot)
    display.close()
    daemon.stop()
    ok(daemon.start(), "the daemon is started again")
    status, reply = nurse.call("GET", "/api/v1/rounds")
    slot = reply["rounds"][0]["slot"] if status == 200 else None
    ok(slot and slot["done"] == 2, "after the restart the slot still has both check-ins", reply)
    status, audit = manager.call("GET", "/api/v1/audit")
    actions = [(e["action"], e.get("target"), e["actor"]) for e in audit.get("entries", [])]
    ok(("round.checkin", "102", "nurse1") in actions and actions.count(("round.checkin_refused", "102", "nurse1")) == 2
       and any(a[0] == "round.add" and a[2] == "wardgated" for a in actions),
       "the audit log has the check-in, the two refused codes and the round's result", actions)
    daemon.stop()
    verify = subprocess.run([WARDGATED, "-c", config, "--db", db, "--verify-audit"], capture_output=True, text=True)
    ok(verify.returncode == 0 and "intact" in verify.stdout, "--verify-audit: the chain with the round is intact",
       verify.stdout + verify.stderr)
    broker.terminate()
    done()


main()
