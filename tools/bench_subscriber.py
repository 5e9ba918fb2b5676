#!/usr/bin/python3
"""The counting MQTT subscriber of tools/bench_modbus.py (Debian's
python3-paho-mqtt, run with /usr/bin/python3).

  bench_subscriber.py --port P --out FILE --ready FILE

Subscribes at QoS 1 to wardgate's telemetry and readings leaves and to the
Node-RED flow's topics (`nodered/<device>`), and notes for every message its
arrival time (unix ms), and for every reading it holds: the device, the raw
value of register 0 (the farm counts it up by one a read, so it names the
read: tests/modbus/farm.py), how many reads the reading stands for (an
interval aggregate's `count`, telemetry schemas 1 to 3, a bare value 1; else 1) and the
gateway's `ts_ms` (per-read messages). Creates the ready file once subscribed; on SIGTERM writes FILE as
JSON {"messages": [[ms, kind, readings, partial polls]], "readings": [[ms, device, raw,
count, ts_ms]], "errors": [...]} and exits.
"""
import argparse
import json
import os
import signal
import time

import paho.mqtt.client as mqtt

TOPICS = ["wardgate/v1/+/+/telemetry", "wardgate/v1/+/+/readings", "nodered/#"]
REGISTER_SCALE = 10  # the bench profile reads register 0 with scale 0.1
REGISTERS = 20  # points a whole poll has


def raw(value, scale):
    return int(round(value * scale))


def last_of(point):
    """A point's latest value: telemetry/3 sends a point read once as its bare value."""
    return point if isinstance(point, (int, float)) else point["last"]


def count_of(point):
    """How many reads a point's aggregate covers (a bare value: one)."""
    return 1 if isinstance(point, (int, float)) else int(point["count"])


def parse(topic, payload):
    """The message's kind, its readings [(device, raw, count, ts_ms)], and how many
    polls it carries only part of (a reading without all REGISTERS points)."""
    if topic.startswith("nodered/"):
        values = json.loads(payload)
        return "nodered", [(topic.split("/", 1)[1], int(values[0]), 1, None)], int(len(values) != REGISTERS)
    body = json.loads(payload)
    leaf = topic.rsplit("/", 1)[1]
    if leaf == "telemetry" and "devices" in body:  # wardgate/telemetry/2 and 3: many devices a message
        devices = body["devices"]
        return ("interval", [(d["device"], raw(last_of(d["points"]["r0"]), REGISTER_SCALE),
                              count_of(d["points"]["r0"]), None) for d in devices if "r0" in d["points"]],
                sum(1 for d in devices if len(d["points"]) != REGISTERS))
    if leaf == "telemetry":  # wardgate/telemetry/1: one device a message, points as a list
        first = [p for p in body["points"] if p["point"] == "r0"]
        partial = int(len(body["points"]) != REGISTERS)
        if not first:
            return "interval", [], partial
        return "interval", [(body["device"], raw(first[0]["last"], REGISTER_SCALE), int(first[0]["count"]),
                             None)], partial
    return ("per_read", [(r["device"], raw(r["values"]["r0"], REGISTER_SCALE), 1, r["ts_ms"])
                         for r in body["readings"] if "r0" in r["values"]],
            sum(1 for r in body["readings"] if len(r["values"]) != REGISTERS))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--ready", required=True)
    args = parser.parse_args()
    messages, readings, errors = [], [], []

    def on_connect(client, userdata, flags, rc):
        client.subscribe([(topic, 1) for topic in TOPICS])

    def on_subscribe(client, userdata, mid, granted):
        open(args.ready, "w").close()

    def on_message(client, userdata, message):
        now_ms = time.time() * 1000
        try:
            kind, items, partial = parse(message.topic, message.payload)
        except (ValueError, KeyError, IndexError, TypeError) as error:
            if len(errors) < 20:
                errors.append(f"{message.topic}: {error!r}: {message.payload[:300]!r}")
            return
        messages.append((round(now_ms, 1), kind, len(items), partial))
        for device, value, count, ts_ms in items:
            readings.append((round(now_ms, 1), device, value, count, ts_ms))

    client = mqtt.Client(client_id=f"bench-sub-{args.port}", clean_session=True)
    client.on_connect = on_connect
    client.on_subscribe = on_subscribe
    client.on_message = on_message
    signal.signal(signal.SIGTERM, lambda *_: client.disconnect())
    client.connect("127.0.0.1", args.port, keepalive=30)
    client.loop_forever()
    with open(args.out + ".tmp", "w") as f:
        json.dump({"messages": messages, "readings": readings, "errors": errors}, f)
    os.rename(args.out + ".tmp", args.out)


if __name__ == "__main__":
    main()
