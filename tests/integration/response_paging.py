#!/usr/bin/python3
"""The response report split by paging, through the real daemon (issue 16,
item 4). A day of paged calls (tests/integration/paging_history.py: 48
alarms in five rooms paged to four carers, some declined, not reached or
timed out, some escalated to a second carer, some never accepted; three raised
30 h ago) is written into a wardgate database as the engine journals them.
GET /api/v1/report/response for a fixed window and the retained
response_times message sent to the district (mosquitto) are compared, figure
by figure, with the same figures worked out here: per shift and overall
(paged, accepted, page -> accept, accept -> attend, raise -> reset), per carer
(accepted, own page -> accept, accept -> attend, pages paged, declined, not
reached, timed out) and per room; the message is valid against
docs/schemas/response_times.json (and check_mqtt.py validate). About 10 s."""
import json
import os
import subprocess
import sys
import time

import jsonschema

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "modbus"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import TMP, ROOT, WARDGATED, PLUGINS, free_port, wait_until, ok, note, done  # noqa: E402

from wsdisplay import add_user  # noqa: E402
from webclient import User  # noqa: E402
from mqtt_peers import start_broker, start_sub  # noqa: E402
from paging_history import expected, fill, generate  # noqa: E402
from small_site import Wardgated, small_config  # noqa: E402

RULES = "  - {id: call, kind: call}\n"
BASE = "wardgate/v1/test-district/test-home"
SCHEMA = json.load(open(os.path.join(ROOT, "docs/schemas/response_times.json"), encoding="utf-8"))
DAY_MS = 86400_000


def close(a, b):
    return a is None and b is None or (a is not None and b is not None and abs(a - b) < 0.0015)


def same(got, want):
    """Keys of `want` whose value differs in `got` (seconds to the ms)."""
    return [k for k, v in want.items()
            if not (close(got.get(k), v) if isinstance(v, float) or (v is None and k.endswith("_s")) else got.get(k) == v)]


def compare(label, got, want):
    overall = same(got.get("overall", {}), want["overall"])
    ok(not overall, f"{label}: overall figures: {want['overall']['raised']} raised, {want['overall']['paged']} paged, "
       f"{want['overall']['accepted']} accepted, page -> accept p50 {want['overall']['accept_p50_s']} s, "
       f"p90 {want['overall']['accept_p90_s']} s", {k: (got.get("overall", {}).get(k), want["overall"][k]) for k in overall})
    shifts = {s.get("name"): s for s in got.get("shifts", [])}
    wrong = {name: same(shifts.get(name, {}), w) for name, w in want["shifts"].items()}
    per_shift = ", ".join("%s %d paged" % (n, w["paged"]) for n, w in want["shifts"].items())
    ok(not any(wrong.values()), f"{label}: per shift ({per_shift})",
       {n: {k: (shifts.get(n, {}).get(k), want['shifts'][n][k]) for k in keys} for n, keys in wrong.items() if keys})
    carers = got.get("carers", [])
    ok([c.get("user") for c in carers] == [c["user"] for c in want["carers"]],
       f"{label}: the carers, the most accepted first: {[(c['user'], c['accepted']) for c in want['carers']]}",
       [(c.get("user"), c.get("accepted")) for c in carers])
    bad = [(w["user"], same(g, w)) for g, w in zip(carers, want["carers"]) if same(g, w)]
    ok(not bad, f"{label}: per carer: accepted, own page -> accept, accept -> attend, paged, declined, not reached, "
       f"timed out ({sum(c['declined'] for c in want['carers'])} declines, "
       f"{sum(c['not_reached'] for c in want['carers'])} not reached, {sum(c['timed_out'] for c in want['carers'])} timed out)",
       bad)
    rooms = got.get("rooms", [])
    bad = [(w["room"], same(g, w)) for g, w in zip(rooms, want["rooms"]) if same(g, w)]
    ok(len(rooms) == len(want["rooms"]) and not bad,
       f"{label}: per room (%s)" % ", ".join("%s: %d" % (r["room"], r["raised"]) for r in want["rooms"]), bad or rooms)
    ok(got.get("carers_truncated") is False and got.get("rooms_truncated") is False, f"{label}: nothing truncated")


def main():
    now = int(time.time() * 1000)
    alarms = generate(now)
    broker, mqtt_port = start_broker("broker-response")
    received = os.path.join(TMP, "response-mqtt.txt")
    start_sub(mqtt_port, received, f"{BASE}/response_times")
    web_port = free_port()
    config = small_config("response", web_port, RULES, mqtt_port, uplink="  response_interval_s: 60\n")
    db = os.path.join(TMP, "response.db")
    add_user(WARDGATED, config, db, PLUGINS, TMP, "manager1", "manager-password-1", role="manager")
    written = fill(db, alarms)
    note(f"{written} journal rows of {len(alarms)} alarms written")
    daemon = Wardgated(config, db, "response")
    ok(daemon.start(), "the daemon runs")
    manager = User(web_port, "manager1", "manager-password-1")

    from_ms, to_ms = now - 2 * DAY_MS, now + 1
    status, got = manager.call("GET", f"/api/v1/report/response?from={from_ms}&to={to_ms}")
    ok(status == 200 and isinstance(got, dict), "GET /api/v1/report/response answers", status)
    compare("the API, last 2 days", got if isinstance(got, dict) else {}, expected(alarms, from_ms, to_ms))

    sent = wait_until(lambda: '"figures"' in open(received).read(), 30)
    lines = [line.split(" ", 2)[2] for line in open(received).read().splitlines() if '"figures"' in line]
    message = json.loads(lines[0]) if lines else {}
    ok(sent and message.get("schema") == "wardgate/response_times/1", "the district gets the response figures (retained)",
       lines[:1])
    figures = message.get("figures", {})
    try:
        jsonschema.validate(message, SCHEMA)
        valid = ""
    except jsonschema.ValidationError as e:
        valid = str(e)[:400]
    ok(message and not valid, "the message is valid against docs/schemas/response_times.json", valid)
    check = subprocess.run(["/usr/bin/python3", os.path.join(ROOT, "tests/integration/check_mqtt.py"), "validate", received],
                           capture_output=True, text=True)
    ok(check.returncode == 0, "check_mqtt.py validate passes", check.stdout + check.stderr)
    if figures:
        ok(figures["to_ms"] - figures["from_ms"] == DAY_MS and figures["to_ms"] >= now,
           "the message covers the last 24 h", (figures.get("from_ms"), figures.get("to_ms")))
        want = expected(alarms, figures["from_ms"], figures["to_ms"])
        ok(want["overall"]["raised"] < expected(alarms, from_ms, to_ms)["overall"]["raised"],
           "the alarms raised 30 h ago are outside it")
        compare("MQTT, last 24 h", figures, want)
    size = len(lines[0]) if lines else 0
    note(f"response_times message: {size} bytes for {len(figures.get('carers', []))} carers, {len(figures.get('rooms', []))} rooms")
    daemon.stop()
    broker.terminate()
    done()


main()
