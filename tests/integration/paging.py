#!/usr/bin/python3
"""Paging carers' phones through the real daemon (issue 16): two carers'
phones and a floor lead's as WebSocket clients (python3-websocket) that
confirm receipt and answer over the web API as carer.html does, a station
display, the sim's call and presence buttons pressed through its control
FIFO, and the uplink to a real mosquitto.

The site: zone f1 (rooms 101, 102) and, added here, zone f2 (room 201)
that nobody covers. The shift runs around the site's clock now. carer_a
covers room 101, carer_b room 102, lead1 (floor lead) zone f1, boss is the
manager. accept_s 6, delivery_s 2, phone_offline_s 5.

1. The staff view: who covers what, f2 uncovered. A call in 101 reaches
   carer_a's phone only; carer_a confirms receipt and lets accept_s pass;
   then carer_b (the next carer of the zone) is notified; carer_b accepts:
   the call is acknowledged by carer_b from the phone, the display shows
   who is on the way, carer_a's page is timed out. Forged and late answers
   are refused and audited. Presence attends it, the call's end and
   presence reset it; an accept after the reset is refused.
2. A call in 201 (no cover) reaches everyone on duty at once (no_cover).
   Nobody answers: carer_a declines with a reason; carer_b's phone does
   not confirm receipt (not reached after delivery_s); then the floor lead
   (escalation to floor_lead), then the manager, then the district.
3. Bad input: reasons empty, too long, with a newline; unknown fields;
   unknown calls; claims of unknown rooms; a claim by someone not on staff.
4. carer_b's phone drops off while on duty: after phone_offline_s the wall
   has a technical alarm naming them; it reconnects and the alarm ends.
5. carer_a claims room 102; a restart keeps the claim and an open call's
   pages; mosquitto received every step.
About 60 s."""
import datetime
import json
import os
import signal
import subprocess
import sys
import time
import zoneinfo

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "modbus"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import ROOT, TMP, WARDGATED, PLUGINS, free_port, wait_until, ok, done  # noqa: E402

from wsdisplay import Display, add_user  # noqa: E402
from mqtt_peers import start_broker, start_sub  # noqa: E402
from webclient import User, request  # noqa: E402
from small_site import Wardgated, press, small_config  # noqa: E402

RULES = "  - {id: call, kind: call}\n  - {id: presence, kind: presence}\n"
BASE = "wardgate/v1/test-district/test-home"
SITE_ZONE = zoneinfo.ZoneInfo("Asia/Shanghai")
USERS = {"carer_a": "carer-a-password", "carer_b": "carer-b-password", "lead1": "lead-password-1",
         "boss": "boss-password-01", "manager1": "manager-password-1", "station1": "station-password-1"}
ROLES = {"manager1": "manager", "station1": "station"}
ACCEPT_S, DELIVERY_S, OFFLINE_S = 6, 2, 5


def hhmm(minute):
    minute %= 1440
    return f"{minute // 60:02d}:{minute % 60:02d}"


class Phone(Display):
    """A carer's phone: the WebSocket feed, and a receipt posted for every
    notification, as carer.html does (unless `confirm` is False)."""

    def __init__(self, port, username, password, confirm=True):
        self.user = User(port, username, password)
        self.confirm = confirm
        self.receipts = []
        super().__init__(port, username, password)

    def _read(self):
        seen = 0
        import threading
        threading.Thread(target=super()._read, daemon=True).start()
        while self.running:
            with self.lock:
                fresh = self.frames[seen:]
                seen = len(self.frames)
            for _, frame in fresh:
                if frame.get("type") == "notify" and self.confirm:
                    self.receipts.append(self.user.call("POST", f"/api/v1/alarms/{frame['alarm']}/received", {}))
            time.sleep(0.02)


def alarm_of(device, phase=None, test=None):
    return lambda m: (m.get("type") == "alarm" and m["alarm"].get("device") == device and
                      (phase is None or m.get("phase") == phase) and (test is None or test(m["alarm"])))


def pages(alarm):
    return {p["user"]: p for p in (alarm.get("paging") or {}).get("pages", [])}


def notified(alarm_id):
    return lambda m: m.get("type") == "notify" and m.get("alarm") == alarm_id


def main():
    broker, mqtt_port = start_broker("broker-paging")
    received = os.path.join(TMP, "paging-mqtt.txt")
    start_sub(mqtt_port, received, f"{BASE}/alarm")
    web_port = free_port()
    fifo = os.path.join(TMP, "paging.fifo")
    now = datetime.datetime.now(SITE_ZONE)
    minute = now.hour * 60 + now.minute
    shift_start, shift_end = minute - 120, minute + 480
    staff = (f"staff:\n  accept_s: {ACCEPT_S}\n  delivery_s: {DELIVERY_S}\n  phone_offline_s: {OFFLINE_S}\n"
             f"  shifts:\n    - {{id: day, name: 白班, window: \"{hhmm(shift_start)}-{hhmm(shift_end)}\"}}\n"
             f"    - {{id: night, name: 夜班, window: \"{hhmm(shift_end)}-{hhmm(shift_start)}\"}}\n"
             "  people:\n    - {user: carer_a, name: 李护工, role: carer}\n"
             "    - {user: carer_b, name: 王护工, role: carer}\n"
             "    - {user: lead1, name: 赵组长, role: floor_lead}\n"
             "    - {user: boss, name: 陈主任, role: manager}\n"
             "  cover:\n    day:\n      - {user: carer_a, rooms: [\"101\"]}\n"
             "      - {user: carer_b, rooms: [\"102\"]}\n      - {user: lead1, zones: [f1]}\n"
             "    night:\n      - {user: carer_a, zones: [f1]}\n")
    config = small_config("paging", web_port, RULES, mqtt_port, fifo, sections=staff,
                          devices="  - {id: call-201A, bus: sim1, address: 11, profile: call-point, bed: 201-A}\n"
                                  "  - {id: presence-201, bus: sim1, address: 12, profile: presence-reset, room: \"201\"}\n")
    with open(config, encoding="utf-8") as f:
        text = f.read()
    text = text.replace("residents:\n", "  - id: f2\n    name: 二层\n    floor: 2\n    rooms:\n"
                        "      - {id: \"201\", kind: resident, beds: [A]}\nresidents:\n", 1)
    with open(config, "w", encoding="utf-8") as f:
        f.write(text)
    db = os.path.join(TMP, "paging.db")
    for name, password in USERS.items():
        add_user(WARDGATED, config, db, PLUGINS, TMP, name, password, role=ROLES.get(name, "nurse"))
    daemon = Wardgated(config, db, "paging")
    log = daemon.log
    ok(daemon.start(("uplink: connected", "web: serving")),
       "the daemon runs with a staff: section, serves the web and is connected to mosquitto", log()[-2000:])
    wall = Display(web_port, "station1", USERS["station1"])
    phone_a = Phone(web_port, "carer_a", USERS["carer_a"])
    phone_b = Phone(web_port, "carer_b", USERS["carer_b"])
    phone_lead = Phone(web_port, "lead1", USERS["lead1"])
    manager = User(web_port, "manager1", USERS["manager1"])

    # ---- 1. the staff view; a call to carer_a, then carer_b ----
    snap = phone_a.wait(lambda m: m.get("type") == "snapshot", 5)
    me = snap[1].get("me") if snap else None
    ok(me and me["user"] == "carer_a" and me["on_duty"] and me["rooms"] == ["101"] and me["name"] == "李护工",
       "carer_a's phone snapshot says who they are, on duty, covering room 101", me)
    ok(wait_until(lambda: all(p["phone_online"] for p in manager.call("GET", "/api/v1/staff")[1]["people"]
                              if p["user"] in ("carer_a", "carer_b", "lead1")), 5),
       "the staff view shows the three phones online")
    status, view = manager.call("GET", "/api/v1/staff")
    ok(status == 200 and view["shift"]["id"] == "day" and view["next_shift"]["id"] == "night"
       and [z["id"] for z in view["uncovered_zones"]] == ["f2"]
       and {p["user"]: p["next_zones"] for p in view["people"]}["carer_a"] == ["f1"]
       and len(view["rooms"]) == 3,
       "GET /api/v1/staff: the day shift now, the night shift next (carer_a covers f1 then), zone f2 uncovered",
       view)
    t0 = time.monotonic()
    press(fifo, "call-101A call 1")
    raised = wall.wait(alarm_of("call-101A", "raise"), 5)
    ok(raised, "the call reaches the wall")
    call = raised[1]["alarm"] if raised else {}
    got_a = phone_a.wait(notified(call.get("id")), 3)
    ok(got_a and got_a[0] - t0 < 2.0, f"carer_a's phone is notified ({(got_a[0] - t0) * 1000:.0f} ms after the press)"
       if got_a else "carer_a's phone is notified")
    ok(pages(call).keys() == {"carer_a"} and call["paging"]["step_kind"] == "room"
       and not call["paging"]["no_cover"], "the raise pages carer_a only (the room's carer)", call.get("paging"))
    ok(wait_until(lambda: phone_a.receipts and phone_a.receipts[0][0] == 200, 3),
       "carer_a's phone confirms receipt", phone_a.receipts)
    got_b = phone_b.wait(notified(call.get("id")), ACCEPT_S + 4)
    ok(got_b and ACCEPT_S - 1 <= got_b[0] - got_a[0] <= ACCEPT_S + 2.5,
       f"nobody accepted: carer_b is notified {got_b[0] - got_a[0]:.1f} s later (accept_s {ACCEPT_S})"
       if got_b else "carer_b is notified after accept_s")
    status, reply = phone_b.user.call("POST", f"/api/v1/alarms/{call['id']}/accept", {})
    accepted = reply.get("alarm", {}) if status == 200 else {}
    ok(status == 200 and accepted["paging"]["accepted_by"] == "carer_b" and accepted["state"] == "acknowledged"
       and accepted["acknowledged_by"] == "carer_b" and accepted["acknowledged_from"] == "phone"
       and pages(accepted)["carer_a"]["outcome"] == "timed_out",
       "carer_b accepts: acknowledged by carer_b from the phone, carer_a's page timed out", reply)
    shown = wall.wait(alarm_of("call-101A", "accept", lambda a: a["paging"]["accepted_name"] == "王护工"), 3)
    ok(shown, "the wall gets the acceptance: 王护工 is on the way")
    status, reply = phone_a.user.call("POST", f"/api/v1/alarms/{call['id']}/accept", {})
    ok(status == 409 and "王护工" in reply.get("error", ""), "carer_a's late accept: 409, accepted by 王护工 already",
       reply)
    status, reply = phone_lead.user.call("POST", f"/api/v1/alarms/{call['id']}/accept", {})
    ok(status == 403, "the floor lead was not sent this call: their accept is refused (403)", reply)
    status, reply = phone_lead.user.call("POST", f"/api/v1/alarms/{call['id']}/received", {})
    ok(status == 403, "... and so is a receipt for it (403)", reply)
    status, reply = manager.call("POST", f"/api/v1/alarms/{call['id']}/accept", {})
    ok(status == 403, "a manager not on the staff list cannot accept (403)", reply)
    press(fifo, "call-101A call 0", "presence-101 presence 1")
    ok(wall.wait(alarm_of("call-101A", "attend", lambda a: all(
        p["outcome"] in ("timed_out", "accepted") for p in pages(a).values())), 5),
       "presence attends it; the pages keep their outcomes")
    press(fifo, "presence-101 presence 0")
    reset = wall.wait(alarm_of("call-101A", "reset"), 5)
    ok(reset, "the room's presence resets it at its origin")
    # The response figures match this timeline, to the millisecond.
    done_call = reset[1]["alarm"] if reset else {}
    page_b = pages(done_call).get("carer_b", {})
    status, report = manager.call("GET", "/api/v1/report/response?days=1")
    carer_b = next((c for c in report.get("carers", []) if c["user"] == "carer_b"), {}) if status == 200 else {}
    room = next((r for r in report.get("rooms", []) if r["room"] == "101"), {}) if status == 200 else {}
    first_page = min((p["notified_ms"] for p in pages(done_call).values()), default=0)
    want = {"accept": (page_b.get("accepted_ms", 0) - page_b.get("notified_ms", 0)) / 1000,
            "attend": (done_call.get("attended_ms") or 0) / 1000 - page_b.get("accepted_ms", 0) / 1000,
            "overall_accept": (page_b.get("accepted_ms", 0) - first_page) / 1000,
            "reset": ((done_call.get("reset_ms") or 0) - done_call.get("raised_ms", 0)) / 1000}
    ok(carer_b.get("accepted") == 1 and abs(carer_b.get("accept_p50_s", -9) - want["accept"]) < 0.002
       and abs(carer_b.get("accept_attend_p50_s", -9) - want["attend"]) < 0.002
       and carer_b.get("paged") == 1 and report["overall"].get("paged") == 1
       and abs(report["overall"].get("accept_p50_s", -9) - want["overall_accept"]) < 0.002
       and abs(room.get("reset_p50_s", -9) - want["reset"]) < 0.002
       and {c["user"]: c.get("timed_out") for c in report.get("carers", [])}.get("carer_a") == 1,
       f"the response report matches the timeline: carer_b accepted {want['accept']:.3f} s after their page, "
       f"attended {want['attend']:.3f} s later; {want['overall_accept']:.3f} s from the first page; "
       f"reset after {want['reset']:.3f} s; carer_a timed out once", (carer_b, room, report.get("overall")))
    status, reply = phone_b.user.call("POST", f"/api/v1/alarms/{call['id']}/accept", {})
    ok(status == 409 and "reset" in reply.get("error", ""), "an accept of a call already reset: 409", reply)
    status, reply = phone_b.user.call("POST", f"/api/v1/alarms/{'0' * 8}-0000-0000-0000-{'0' * 12}/accept", {})
    ok(status == 404, "an accept of an unknown call: 404", reply)
    wanted = {("page.accept", "carer_b"), ("page.accept_refused", "carer_a"), ("page.accept_refused", "lead1"),
              ("page.received_refused", "lead1"), ("page.accept_refused", "carer_b")}

    def audited():
        status, audit = manager.call("GET", "/api/v1/audit?limit=200")
        return [(r["action"], r["actor"]) for r in audit.get("entries", [])] if status == 200 else []
    # Audit rows are committed by the store writer just after the answers (milliseconds).
    wait_until(lambda: wanted <= set(audited()), 5)
    actions = audited()
    ok(wanted <= set(actions),
       "the audit log has the acceptance and every refusal, with who", actions[:20])

    # ---- 2. no cover: everyone; declined, not reached, then up the chain ----
    phone_b.confirm = False
    t1 = time.monotonic()
    press(fifo, "call-201A call 1")
    raised = wall.wait(alarm_of("call-201A", "raise"), 5, after=t1)
    call2 = raised[1]["alarm"] if raised else {}
    ok(call2 and call2["paging"]["no_cover"] and call2["paging"]["step_kind"] == "everyone"
       and pages(call2).keys() == {"carer_a", "carer_b"},
       "a call in room 201, which nobody covers, reaches everyone on duty at once", call2.get("paging"))
    ok(phone_a.wait(notified(call2.get("id")), 3) and phone_b.wait(notified(call2.get("id")), 3),
       "both carers' phones are notified")
    status, reply = phone_a.user.call("POST", f"/api/v1/alarms/{call2['id']}/decline", {"reason": "正在处理101的呼叫"})
    ok(status == 200 and pages(reply["alarm"])["carer_a"]["outcome"] == "declined"
       and pages(reply["alarm"])["carer_a"]["reason"] == "正在处理101的呼叫", "carer_a declines with a reason", reply)
    lead = phone_lead.wait(notified(call2.get("id")), DELIVERY_S + 3)
    ok(lead and lead[0] - t1 < DELIVERY_S + 2.5,
       f"carer_b's phone never confirmed: after delivery_s the floor lead is notified ({lead[0] - t1:.1f} s)"
       if lead else "the floor lead is notified")
    esc = wall.wait(alarm_of("call-201A", "escalate", lambda a: a["escalation_level"] >= 1), 3, after=t1)
    ok(esc and pages(esc[1]["alarm"])["carer_b"]["outcome"] == "not_reached",
       "the call escalates to the floor lead's level; carer_b's page: not reached", esc[1]["alarm"]["paging"]
       if esc else None)
    manager_step = wall.wait(alarm_of("call-201A", None, lambda a: "boss" in pages(a)), ACCEPT_S + 4, after=t1)
    ok(manager_step and pages(manager_step[1]["alarm"])["boss"]["outcome"] == "not_reached"
       and pages(manager_step[1]["alarm"])["lead1"]["outcome"] == "timed_out",
       "the floor lead lets accept_s pass: the manager is paged (no phone connected: not reached)",
       manager_step[1]["alarm"]["paging"] if manager_step else None)
    district = wall.wait(alarm_of("call-201A", None, lambda a: a["paging"]["step_kind"] == "district"), 5, after=t1)
    ok(district and district[1]["alarm"]["escalation_level"] == 3,
       "then the district: escalation level 3", district[1]["alarm"] if district else None)
    phone_b.confirm = True

    # ---- 3. bad input ----
    for body, why in ((({"reason": ""}), "an empty reason"), ({"reason": "x" * 61}, "a reason of 61 characters"),
                      ({"reason": "a\nb"}, "a reason on two lines"), ({"reason": 5}, "a reason that is a number"),
                      ({}, "no reason")):
        status, reply = phone_a.user.call("POST", f"/api/v1/alarms/{call2['id']}/decline", body)
        ok(status == 400 and reply.get("field") == "reason", f"{why} is refused (400, field reason)", reply)
    status, reply = phone_a.user.call("POST", f"/api/v1/alarms/{call2['id']}/accept", {"user": "carer_b"})
    ok(status == 400 and reply.get("field") == "user", "an accept naming another user is refused (400)", reply)
    status, reply = phone_a.user.call("POST", "/api/v1/staff/claim", {"rooms": ["999"]})
    ok(status == 400 and reply.get("field") == "rooms", "a claim of an unknown room: 400", reply)
    status, reply = phone_a.user.call("POST", "/api/v1/staff/claim", {"rooms": ["101", "101"]})
    ok(status == 400, "a claim listing a room twice: 400", reply)
    status, reply = manager.call("POST", "/api/v1/staff/claim", {"rooms": ["101"]})
    ok(status == 403, "a claim by someone not on the staff list: 403", reply)
    status, reply, _ = request(web_port, "POST", f"/api/v1/alarms/{call2['id']}/accept", {})
    ok(status == 401, "an accept without a session: 401", reply)

    # ---- 4. a phone drops off while on duty ----
    t2 = time.monotonic()
    phone_b.close()
    tech = wall.wait(lambda m: (m.get("type") == "alarm" and m.get("phase") == "raise"
                                and m["alarm"].get("kind") == "phone_offline"), OFFLINE_S + 4, after=t2)
    ok(tech and tech[1]["alarm"]["detail_args"].get("name") == "王护工" and tech[1]["alarm"]["priority"] == "technical"
       and OFFLINE_S - 1 <= tech[0] - t2 <= OFFLINE_S + 2.5,
       f"carer_b's phone drops off: a technical alarm on the wall after {tech[0] - t2:.1f} s names 王护工"
       if tech else "the phone_offline alarm", tech[1]["alarm"] if tech else None)
    phone_b = Phone(web_port, "carer_b", USERS["carer_b"])
    ok(wall.wait(lambda m: (m.get("type") == "alarm" and m.get("phase") == "reset"
                            and m["alarm"].get("kind") == "phone_offline"), 5, after=t2),
       "it reconnects: the technical alarm ends")

    # ---- 5. a claim, a restart, the district ----
    status, reply = phone_a.user.call("POST", "/api/v1/staff/claim", {"rooms": ["102", "201"]})
    ok(status == 200 and reply["me"]["claimed"] == ["102", "201"]
       and reply["uncovered_zones"] == [], "carer_a claims rooms 102 and 201: no zone is uncovered now", reply)
    t3 = time.monotonic()
    press(fifo, "call-102A call 1")
    raised = wall.wait(alarm_of("call-102A", "raise"), 5, after=t3)
    call3 = raised[1]["alarm"] if raised else {}
    ok(pages(call3).keys() == {"carer_a", "carer_b"}, "a call in 102 pages its two carers (by cover and by claim)",
       call3.get("paging"))
    for client in (wall, phone_a, phone_b, phone_lead):
        client.close()
    daemon.stop(signal.SIGKILL)
    ok(daemon.start(("uplink: connected", "web: serving")), "the daemon starts again after SIGKILL", log()[-1500:])
    status, view = manager.call("GET", "/api/v1/staff")
    ok(status == 200 and {p["user"]: p["claimed"] for p in view["people"]}["carer_a"] == ["102", "201"],
       "the restart keeps carer_a's claim", view)
    status, reply = manager.call("GET", "/api/v1/alarms")
    again = next((a for a in reply.get("alarms", []) if a["id"] == call3.get("id")), None)
    ok(again and pages(again).keys() == {"carer_a", "carer_b"}, "... and the open call's pages", again)
    status, reply = User(web_port, "carer_a", USERS["carer_a"]).call("POST", f"/api/v1/alarms/{call3['id']}/accept", {})
    ok(status == 200 and reply["alarm"]["paging"]["accepted_by"] == "carer_a", "carer_a accepts it after the restart",
       reply)
    ok(wait_until(lambda: all(f'"phase":"{p}"' in open(received).read() for p in ("notify", "accept", "decline",
                                                                                  "received")), 10),
       "the district received the notifications, receipts, acceptances and the decline",
       sorted(set(l.split('"phase":"')[1].split('"')[0] for l in open(received) if '"phase":"' in l)))
    result = subprocess.run(["/usr/bin/python3", os.path.join(ROOT, "tests/integration/check_mqtt.py"), "validate",
                             received], capture_output=True, text=True)
    ok(result.returncode == 0, "every alarm message mosquitto received, with its pages, matches docs/schemas/alarm.json",
       result.stdout + result.stderr)
    daemon.stop()
    broker.terminate()
    done()


if __name__ == "__main__":
    main()
