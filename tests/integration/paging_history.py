"""A day of generated paged calls (issue 16, item 4), written straight into a
wardgate database as the alarm engine journals them (each row the full alarm
record with its "paging", gateway/alarm/alarm_paging.c), and the response
report's split figures worked out from the same alarms: per shift and
overall (paged, accepted, page -> accept, accept -> attend, raise -> reset),
per carer and per room (docs/response.md, "Paging"). Imported by
response_paging.py and the browser test response-split.test.js; run as
`paging_history.py DB` it fills DB and prints the expected figures as JSON.

generate(now_ms, seed) -> alarms; fill(db, alarms); expected(alarms, from_ms, to_ms)."""
import datetime
import json
import random
import sqlite3
import sys
import uuid
import zoneinfo

ZONE = zoneinfo.ZoneInfo("Asia/Shanghai")  # the test site's zone
CARERS = [("li", "李娜"), ("wang", "王芳"), ("zhao", "赵敏"), ("chen", "陈静")]
ROOMS = ["101", "102", "103", "201", "202"]
PRIORITY = {"technical": 1, "normal": 2, "urgent": 3, "emergency": 4}
COUNTED = (2, 3, 4, 5)
SHIFTS = [("day", 7, 15), ("evening", 15, 23), ("night", 23, 7)]
LONG_WAIT_MS = 15 * 60 * 1000
S = 1000


def _pages(rng, raised):
    """The pages of one paged alarm and who accepted: [page], accepted_by, accepted_ms."""
    people = rng.sample(CARERS, 3)
    t0 = raised + rng.randrange(1 * S, 4 * S)
    pages, accepted_by, accepted_ms = [], "", 0
    # step 0: one or two carers
    first = people[:rng.choice([1, 2])]
    step0 = []
    for user, name in first:
        step0.append({"user": user, "name": name, "step": 0, "notified_ms": t0})
    accepter = rng.random()
    if accepter < 0.6:  # someone at step 0 accepts
        who = rng.choice(step0)
        accepted_ms = t0 + rng.randrange(4 * S, 150 * S)
        accepted_by = who["user"]
        for p in step0:
            if p is who:
                p.update(outcome="accepted", accepted_ms=accepted_ms)
            else:
                p.update(outcome="stood_down")
        pages = step0
    else:  # nobody at step 0 accepts: declined, not reached or timed out; step 1 goes on
        end0 = t0 + 60 * S
        for p in step0:
            outcome = rng.choice(["declined", "not_reached", "timed_out"])
            p.update(outcome=outcome, declined_ms=t0 + rng.randrange(5 * S, 50 * S) if outcome == "declined" else 0)
        user, name = people[2]
        step1 = {"user": user, "name": name, "step": 1, "notified_ms": end0}
        pages = step0 + [step1]
        if rng.random() < 0.75:
            accepted_ms = end0 + rng.randrange(3 * S, 90 * S)
            accepted_by = user
            step1.update(outcome="accepted", accepted_ms=accepted_ms)
        else:
            step1.update(outcome="timed_out")
    for p in pages:
        p.setdefault("accepted_ms", 0)
        p.setdefault("declined_ms", 0)
        p.update(care_role="carer", received_ms=p["notified_ms"] + S if p["outcome"] != "not_reached" else 0,
                 reason="忙" if p["outcome"] == "declined" else "")
    return pages, accepted_by, accepted_ms


def generate(now_ms, seed=20261016):
    """Alarms raised 1 to 22 h before now_ms (and three 30 h before): dicts
    with every time (0 = never), pages, accepted_by and accepted_ms."""
    rng = random.Random(seed)
    alarms = []
    for i in range(48):
        raised = now_ms - rng.randrange(3600 * S, 22 * 3600 * S) if i >= 3 else now_ms - 30 * 3600 * S - i * 60 * S
        priority = rng.choice(["normal", "normal", "urgent", "emergency", "technical"])
        room = rng.choice(ROOMS)
        paged = priority != "technical" and rng.random() < 0.85
        pages, accepted_by, accepted_ms = _pages(rng, raised) if paged else ([], "", 0)
        ack = raised + rng.randrange(5 * S, 300 * S) if priority != "technical" and rng.random() < 0.5 else 0
        start = accepted_ms or raised
        attend = start + rng.randrange(20 * S, 20 * 60 * S) if priority != "technical" and rng.random() < 0.85 else 0
        reset = (attend or raised) + rng.randrange(30 * S, 25 * 60 * S) if rng.random() < 0.9 else 0
        alarms.append(dict(id=str(uuid.UUID(int=rng.getrandbits(128), version=4)), priority=priority, room=room,
                           raised=raised, ack=ack, attend=attend, reset=reset, paged=paged, pages=pages,
                           accepted_by=accepted_by, accepted_ms=accepted_ms))
    return alarms


def _paging(a, at):
    """The paging record as of time `at` (pages notified by then; outcomes final
    once their time has come, else "waiting")."""
    if not a["paged"]:
        return None
    pages = []
    for p in a["pages"]:
        if p["notified_ms"] > at:
            continue
        done = max(p["accepted_ms"], p["declined_ms"], p["notified_ms"] + 60 * S)
        pages.append({**p, "outcome": p["outcome"] if at >= done or at >= (a["accepted_ms"] or 1 << 62) else "waiting"})
    accepted = a["accepted_ms"] and a["accepted_ms"] <= at
    return {"step": max((p["step"] for p in pages), default=0), "step_kind": "room", "step_ms": a["raised"],
            "no_cover": False, "accepted_by": a["accepted_by"] if accepted else "",
            "accepted_name": dict(CARERS)[a["accepted_by"]] if accepted else "",
            "accepted_ms": a["accepted_ms"] if accepted else 0, "pages": pages}


def journal_rows(a):
    """(ts, priority, alarm_id, room, body) of one alarm's changes, in time order."""
    times = {a["raised"]}
    for key in ("ack", "attend", "reset", "accepted_ms"):
        if a[key]:
            times.add(a[key])
    for p in a["pages"]:
        times.add(p["notified_ms"])
        times.add(max(p["accepted_ms"], p["declined_ms"], p["notified_ms"] + 60 * S))
    rows = []
    for update, at in enumerate(sorted(times), 1):
        record = {"id": a["id"], "update": update, "kind": "call", "priority": a["priority"],
                  "priority_level": PRIORITY[a["priority"]], "zone": "f1", "room": a["room"], "bed": "A",
                  "resident": None, "raised_ms": a["raised"],
                  "acknowledged_ms": a["ack"] if a["ack"] and a["ack"] <= at else None,
                  "attended_ms": a["attend"] if a["attend"] and a["attend"] <= at else None,
                  "reset_ms": a["reset"] if a["reset"] and a["reset"] <= at else None,
                  "paging": _paging(a, at)}
        rows.append((at, PRIORITY[a["priority"]], a["id"], a["room"], json.dumps(record, ensure_ascii=False)))
    return rows


def fill(db, alarms):
    rows = sorted((r for a in alarms for r in journal_rows(a)), key=lambda r: r[0])
    con = sqlite3.connect(db)
    con.executemany("INSERT INTO events (id, ts_ms, kind, priority, alarm_id, room, body) VALUES (?, ?, 'alarm', ?, ?, ?, ?)",
                    [(str(uuid.uuid4()), *r) for r in rows])
    con.commit()
    con.close()
    return len(rows)


def _rank(values, p):
    values = sorted(values)
    if not values:
        return None
    return values[max(1, -(-p * len(values) // 100)) - 1] / 1000


def _shift(ms):
    hour = datetime.datetime.fromtimestamp(ms / 1000, ZONE).hour
    for name, start, end in SHIFTS:
        if (start <= hour < end) if start < end else (hour >= start or hour < end):
            return name
    return None


def _span(start, end):
    return max(0, end - start) if start and end else None


def _figures(alarms):
    def ranked(key, values):
        values = [v for v in values if v is not None]
        return {f"{key}_p50_s": _rank(values, 50), f"{key}_p90_s": _rank(values, 90)}
    first = {a["id"]: min((p["notified_ms"] for p in a["pages"]), default=0) for a in alarms}
    return {
        "raised": len(alarms), "paged": sum(a["paged"] for a in alarms),
        "accepted": sum(bool(a["accepted_ms"]) for a in alarms), "reset": sum(bool(a["reset"]) for a in alarms),
        **ranked("accept", [_span(first[a["id"]], a["accepted_ms"]) for a in alarms]),
        **ranked("accept_attend", [_span(a["accepted_ms"], a["attend"]) for a in alarms]),
        **ranked("reset", [_span(a["raised"], a["reset"]) for a in alarms]),
        **ranked("ack", [_span(a["raised"], a["ack"]) for a in alarms]),
        **ranked("attend", [_span(a["raised"], a["attend"]) for a in alarms]),
    }


def _long_wait(a, to_ms):
    end = a["attend"] or a["reset"] or to_ms
    return end - a["raised"] > LONG_WAIT_MS


def expected(alarms, from_ms, to_ms):
    """The figures for [from_ms, to_ms); every generated change is before to_ms."""
    inside = [a for a in alarms if from_ms <= a["raised"] < to_ms and PRIORITY[a["priority"]] in COUNTED]
    assert all(t < to_ms for a in inside for t in (a["ack"], a["attend"], a["reset"], a["accepted_ms"]))
    carers = {}
    for a in inside:
        for p in a["pages"]:
            c = carers.setdefault(p["user"], {"user": p["user"], "name": p["name"], "accepted": [], "paged": 0,
                                             "declined": 0, "not_reached": 0, "timed_out": 0})
            c["paged"] += 1
            if p["outcome"] in ("declined", "not_reached", "timed_out"):
                c[p["outcome"]] += 1
        if a["accepted_by"]:
            carers[a["accepted_by"]]["accepted"].append(a)
    carer_list = []
    for c in carers.values():
        own = [_span(next(p["notified_ms"] for p in a["pages"] if p["user"] == c["user"] and p["outcome"] == "accepted"),
                     a["accepted_ms"]) for a in c["accepted"]]
        attend = [v for v in (_span(a["accepted_ms"], a["attend"]) for a in c["accepted"]) if v is not None]
        carer_list.append({**c, "accepted": len(c["accepted"]), "accept_p50_s": _rank(own, 50), "accept_p90_s": _rank(own, 90),
                           "accept_attend_p50_s": _rank(attend, 50), "accept_attend_p90_s": _rank(attend, 90)})
    carer_list.sort(key=lambda c: (-c["accepted"], -c["paged"], c["user"]))
    rooms = []
    for room in sorted({a["room"] for a in inside}, key=lambda r: (len(r), r)):
        mine = [a for a in inside if a["room"] == room]
        f = _figures(mine)
        rooms.append({"room": room, "raised": len(mine), "long_waits": sum(_long_wait(a, to_ms) for a in mine),
                      "ack_p50_s": f["ack_p50_s"], "attend_p50_s": f["attend_p50_s"],
                      "accept_p50_s": f["accept_p50_s"], "reset_p50_s": f["reset_p50_s"]})
    return {"overall": _figures(inside),
            "shifts": {name: _figures([a for a in inside if _shift(a["raised"]) == name]) for name, _, _ in SHIFTS},
            "carers": carer_list, "rooms": rooms}


if __name__ == "__main__":
    import time
    now = int(time.time() * 1000)
    generated = generate(now)
    written = fill(sys.argv[1], generated)
    print(json.dumps({"rows": written, "now_ms": now, "expected": expected(generated, now - 7 * 86400 * S, now)},
                     ensure_ascii=False))
