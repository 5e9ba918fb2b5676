"""A month of generated journal history (October 2026, site time
Asia/Shanghai) written straight into a wardgate database, and the monthly
report's figures worked out from the same rows (imported by
monthly_report.py and the browser test, not run on its own).

generate(seed) -> (alarms, rounds, tests); fill(db, alarms, rounds, tests)
writes their journal rows in time order; expected(...) gives the figures."""
import datetime
import json
import random
import sqlite3
import uuid
import zoneinfo

ZONE = zoneinfo.ZoneInfo("Asia/Shanghai")
FROM = int(datetime.datetime(2026, 10, 1, tzinfo=ZONE).timestamp() * 1000)
TO = int(datetime.datetime(2026, 11, 1, tzinfo=ZONE).timestamp() * 1000)
BANDS = [60, 180, 300, 600, 900, 1800]
PRIORITY = {"technical": 1, "normal": 2, "urgent": 3, "emergency": 4}
TESTABLE = ["call-101A", "call-101B", "call-102A", "cord-101"]


def make_alarms(rng):
    """The alarms: dicts with every time (0 = never), in the month and around it."""
    alarms = []
    beds = ["101-A", "101-B", "102-A"]
    for i in range(400):
        raised = rng.randrange(FROM - 3 * 86400_000 if i < 10 else FROM, TO + 3 * 86400_000 if i >= 390 else TO)
        kind, priority, risk, bed, device = rng.choice([
            ("call", "normal", None, "101-A", "call-101A"), ("call", "normal", None, "102-A", "call-102A"),
            ("pull_cord", "emergency", None, "", "cord-101"), ("bed_exit", "urgent", "fall", None, "bed-101A"),
            ("wandering", "urgent", "wandering", "", "door-102"), ("device_offline", "technical", None, "", "meter-f1"),
            ("line_fault", "technical", None, "", "cord-101")])
        if kind == "bed_exit":
            bed = rng.choice(beds)
        ack = raised + rng.randrange(5_000, 1_500_000) if rng.random() < 0.85 else 0
        attend = (ack or raised) + rng.randrange(10_000, 1_200_000) if rng.random() < 0.8 else 0
        reset = (attend or ack or raised) + rng.randrange(20_000, 2_400_000) if rng.random() < 0.9 else 0
        if kind == "bed_exit" and rng.random() < 0.4:  # back in bed before anyone came
            ack, attend, reset = 0, 0, raised + rng.randrange(5_000, 120_000)
        if priority == "technical":
            ack = attend = 0
            reset = raised + rng.randrange(60_000, 30 * 3600_000) if rng.random() < 0.8 else 0
        alarms.append(dict(id=str(uuid.UUID(int=rng.getrandbits(128), version=4)), kind=kind, priority=priority,
                           risk=risk, bed=bed or "", device=device, raised=raised, ack=ack, attend=attend, reset=reset))
    return alarms


def journal_rows(alarms):
    """(ts, kind, priority, alarm_id, device, bed, body) of every alarm change, in time order."""
    rows = []
    for a in alarms:
        record = {"id": a["id"], "kind": a["kind"], "priority": a["priority"], "priority_level": PRIORITY[a["priority"]],
                  "risk": a["risk"], "bed": a["bed"], "device": a["device"], "raised_ms": a["raised"],
                  "acknowledged_ms": None, "attended_ms": None, "reset_ms": None}
        for phase, key, at in (("raise", None, a["raised"]), ("ack", "acknowledged_ms", a["ack"]),
                               ("attend", "attended_ms", a["attend"]), ("reset", "reset_ms", a["reset"])):
            if not at:
                continue
            if key:
                record[key] = at
            rows.append((at, "alarm", PRIORITY[a["priority"]], a["id"], a["device"], a["bed"] or None,
                         json.dumps({**record, "phase": phase})))
    return rows


def expected(alarms, rounds, tests):
    inside = [a for a in alarms if FROM <= a["raised"] < TO]
    calls = [a for a in inside if PRIORITY[a["priority"]] >= 2]
    hours = [0] * 24
    for a in calls:
        hours[datetime.datetime.fromtimestamp(a["raised"] / 1000, ZONE).hour] += 1

    def dist(key):
        # changes after the month's end are not in the month's journal
        waits = sorted(a[key] - a["raised"] for a in calls if a[key] and a[key] < TO)
        bands = [0] * (len(BANDS) + 1)
        for w in waits:
            bands[next((i for i, limit in enumerate(BANDS) if w <= limit * 1000), len(BANDS))] += 1
        n = len(waits)
        return {"count": n, "p50_s": waits[(n - 1) // 2] / 1000 if n else None,
                "p90_s": waits[(n * 9 - 1) // 10] / 1000 if n else None, "bands": bands}
    risks = {}
    for a in inside:
        if a["risk"]:
            risks[a["risk"]] = risks.get(a["risk"], 0) + 1
    beds = {}
    for a in inside:
        if a["kind"] == "bed_exit":
            entry = beds.setdefault(a["bed"], {"bed": a["bed"], "total": 0, "nuisance": 0})
            entry["total"] += 1
            reset = a["reset"] if a["reset"] and a["reset"] < TO else 0
            attend = a["attend"] if a["attend"] and a["attend"] < TO else 0
            entry["nuisance"] += bool(reset and not attend)
    faults = [a for a in inside if a["priority"] == "technical"]
    open_hours = sum(((a["reset"] if a["reset"] and a["reset"] < TO else TO) - a["raised"]) / 3600_000 for a in faults)
    weeks = -(-(TO - FROM) // (7 * 86400_000))
    tested = {(d, (ts - FROM) // (7 * 86400_000)) for ts, d in tests if FROM <= ts < TO}
    return {
        "alarms": len(inside), "calls_by_hour": hours, "calls": len(calls),
        "acknowledge": dist("ack"), "attend": dist("attend"), "reset": dist("reset"),
        "alarms_by_risk": risks, "bed_exits": sorted(beds.values(), key=lambda e: e["bed"]),
        "faults": len(faults), "open_hours": open_hours,
        "rounds": {"slots": len(rounds), "complete": sum(r["status"] == "complete" for r in rounds),
                   "late": sum(r["status"] == "late" for r in rounds), "missed": sum(r["status"] == "missed" for r in rounds),
                   "rooms_planned": sum(r["planned"] for r in rounds), "rooms_checked": sum(r["done"] for r in rounds)},
        "tests": {"devices": len(TESTABLE), "weeks": weeks, "due": len(TESTABLE) * weeks,
                  "done": sum(1 for d, w in tested if d in TESTABLE)},
    }


def fill(db, alarms, rounds, tests):
    rows = journal_rows(alarms)
    for r in rounds:
        rows.append((r["ts"], "round", -1, None, None, None, json.dumps(r["body"])))
    for ts, device in tests:
        rows.append((ts, "device_test", -1, None, device, None, json.dumps({"kind": "call", "point": "call", "masked": True,
                                                                            "test_target": "101", "test_scope": "room",
                                                                            "started_by": "manager1"})))
    rows.sort(key=lambda r: r[0])
    con = sqlite3.connect(db)
    con.executemany("INSERT INTO events (id, ts_ms, kind, priority, alarm_id, device, bed, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    [(str(uuid.uuid4()), *r) for r in rows])
    con.commit()
    con.close()
    return len(rows)




def generate(seed=20261004):
    """400 alarms, 70 round results (a few before the month) and 25 device tests."""
    rng = random.Random(seed)
    alarms = make_alarms(rng)
    rounds = []
    for i in range(70):
        ts = rng.randrange(FROM - 86400_000 if i < 5 else FROM, TO)
        planned = 2
        status = rng.choice(["complete", "complete", "late", "missed"])
        checked = planned if status != "missed" else rng.randrange(0, planned)
        rounds.append({"ts": ts, "status": status, "planned": planned, "done": checked,
                       "body": {"round": "night-f1", "zone": "f1", "status": status, "planned": planned, "done": checked,
                                "late": 1 if status == "late" else 0}})
    tests = [(rng.randrange(FROM - 86400_000, TO + 86400_000), rng.choice(TESTABLE + ["presence-101"])) for _ in range(25)]
    return alarms, rounds, tests


if __name__ == "__main__":
    import sys
    fill(sys.argv[1], *generate())
