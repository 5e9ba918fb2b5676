#!/usr/bin/python3
"""Checks what mosquitto_sub received from wardgated (lines of
"<unix time> <topic> <payload>", from `mosquitto_sub -F '%U %t %p'`).

  check_mqtt.py validate FILE...          every payload against docs/schemas/<type>.json
  check_mqtt.py delivery FILE DB [--from-seq N] [--to-seq N]
                                          every journal event meant for the uplink arrived,
                                          first arrivals in journal order, duplicates only
                                          as re-sends of the same id and seq
  check_mqtt.py latency FILE              receive time - event time of alarm/health/event
                                          messages: count, p50, p99 (ms)
  check_mqtt.py telemetry FILE [IDS]      telemetry and readings messages (outbox-only, no
                                          seq): every id listed in the file IDS (one a line,
                                          the committed rows) arrived; a duplicate only as the
                                          same id with the same payload; each poll (device,
                                          ts_ms) in one message only

Prints one summary line and "# ..." details; exit status 0 = pass."""
import json
import os
import sqlite3
import sys

ROOT = os.environ.get("WG_ROOT") or os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
EVENT_LEAVES = ("alarm", "health", "telemetry", "event")


def read_messages(path):
    messages = []
    with open(path, encoding="utf-8", errors="replace") as f:
        for number, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if not line:
                continue
            parts = line.split(" ", 2)
            if len(parts) < 3:
                messages.append((number, 0.0, parts[-1], None, "unparsable line"))
                continue
            try:
                payload = json.loads(parts[2])
                error = None
            except ValueError as e:
                payload, error = None, "not JSON: %s" % e
            messages.append((number, float(parts[0]), parts[1], payload, error))
    return messages


def validate(paths):
    import jsonschema
    schemas = {}
    for name in os.listdir(os.path.join(ROOT, "docs", "schemas")):
        with open(os.path.join(ROOT, "docs", "schemas", name), encoding="utf-8") as f:
            schema = json.load(f)
        schemas[schema["$id"].rsplit("/", 1)[1][:-5]] = jsonschema.Draft202012Validator(schema)
    counts, bad = {}, 0
    for path in paths:
        for number, _, topic, payload, error in read_messages(path):
            leaf = topic.rsplit("/", 1)[-1]
            if leaf == "command":
                continue  # what the test sent, deliberately bad as well
            if error or not isinstance(payload, dict):
                bad += 1
                print("# %s:%d %s: %s" % (path, number, topic, error or "not an object"))
                continue
            name = str(payload.get("schema", "")).split("/")[1:2]
            validator = schemas.get(name[0]) if name else None
            if validator is None:
                bad += 1
                print("# %s:%d %s: unknown schema %r" % (path, number, topic, payload.get("schema")))
                continue
            errors = sorted(validator.iter_errors(payload), key=lambda e: list(e.path))
            if leaf != name[0]:
                errors.append("topic leaf %s carries schema %s" % (leaf, payload.get("schema")))
            if errors:
                bad += 1
                for e in errors[:3]:
                    print("# %s:%d %s: %s" % (path, number, topic, getattr(e, "message", e)))
            counts[name[0]] = counts.get(name[0], 0) + 1
    total = sum(counts.values())
    print("validated %d messages, %d invalid: %s" % (total, bad, " ".join("%s=%d" % kv for kv in sorted(counts.items()))))
    return 0 if bad == 0 and total > 0 else 1


def delivery(path, db, from_seq=0, to_seq=None):
    received = [(t, p) for _, t, topic, p, e in read_messages(path)
                if not e and isinstance(p, dict) and topic.rsplit("/", 1)[-1] in EVENT_LEAVES and "seq" in p]
    con = sqlite3.connect(db, timeout=10)
    query = "select id, seq from events where uplink != 0 and seq > ?" + (" and seq <= ?" if to_seq else "") + " order by seq"
    journal = con.execute(query, (from_seq, to_seq) if to_seq else (from_seq,)).fetchall()
    expected = dict(journal)
    first, seen_seq, duplicates, wrong = [], {}, 0, 0
    for _, p in received:
        if p["id"] in seen_seq:
            duplicates += 1
            if seen_seq[p["id"]] != p["seq"]:
                wrong += 1
                print("# duplicate of %s with another seq (%s, %s)" % (p["id"], seen_seq[p["id"]], p["seq"]))
            continue
        seen_seq[p["id"]] = p["seq"]
        if p["id"] in expected:
            first.append(p["seq"])
            if expected[p["id"]] != p["seq"]:
                wrong += 1
                print("# %s arrived with seq %s, the journal has %s" % (p["id"], p["seq"], expected[p["id"]]))
    missing = [s for i, s in journal if i not in seen_seq]
    out_of_order = sum(1 for a, b in zip(first, first[1:]) if b <= a)
    for s in missing[:10]:
        print("# journal event #%d never arrived" % s)
    print("journal %d uplink events, received %d distinct (%d messages), missing %d, out of order %d, duplicates %d, inconsistent %d"
          % (len(journal), len(first), len(received), len(missing), out_of_order, duplicates, wrong))
    return 0 if not missing and out_of_order == 0 and wrong == 0 and journal else 1


def latency(path):
    from datetime import datetime
    values = []
    for _, t, topic, p, e in read_messages(path):
        if e or not isinstance(p, dict) or topic.rsplit("/", 1)[-1] not in ("alarm", "health", "event"):
            continue
        ts = datetime.fromisoformat(p["ts"]).timestamp()
        values.append((t - ts) * 1000.0)
    values.sort()
    if not values:
        print("latency: no messages")
        return 1
    def rank(q):
        return values[min(len(values) - 1, max(0, int(round(q * len(values) + 0.5)) - 1))]
    print("latency n=%d p50=%.1f ms p99=%.1f ms max=%.1f ms" % (len(values), rank(0.5), rank(0.99), values[-1]))
    return 0


def telemetry(path, ids_path=None):
    payloads, duplicates, wrong, polls, records = {}, 0, 0, {}, 0
    for _, _, topic, p, e in read_messages(path):
        if e or not isinstance(p, dict) or topic.rsplit("/", 1)[-1] not in ("telemetry", "readings"):
            continue
        if p["id"] in payloads:
            duplicates += 1
            if payloads[p["id"]] != p:
                wrong += 1
                print("# message %s arrived twice with different payloads" % p["id"])
            continue
        payloads[p["id"]] = p
        for record in p.get("readings", []):
            records += 1
            key = (record["device"], record["ts_ms"])
            if key in polls:
                wrong += 1
                print("# poll %s at %d in messages %s and %s" % (key + (polls[key], p["id"])))
            polls[key] = p["id"]
    expected = []
    if ids_path:
        with open(ids_path) as f:
            expected = [line.strip() for line in f if line.strip()]
    missing = [i for i in expected if i not in payloads]
    for i in missing[:10]:
        print("# committed message %s never arrived" % i)
    print("telemetry: received %d distinct messages (%d poll records), duplicates %d, "
          "committed %d, missing %d, inconsistent %d"
          % (len(payloads), records, duplicates, len(expected), len(missing), wrong))
    return 0 if payloads and not missing and wrong == 0 else 1


def main(argv):
    if len(argv) < 2:
        print(__doc__)
        return 2
    if argv[1] == "validate":
        return validate(argv[2:])
    if argv[1] == "delivery":
        args = argv[2:]
        from_seq = int(args[args.index("--from-seq") + 1]) if "--from-seq" in args else 0
        to_seq = int(args[args.index("--to-seq") + 1]) if "--to-seq" in args else None
        return delivery(args[0], args[1], from_seq, to_seq)
    if argv[1] == "latency":
        return latency(argv[2])
    if argv[1] == "telemetry":
        return telemetry(argv[2], argv[3] if len(argv) > 3 else None)
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
