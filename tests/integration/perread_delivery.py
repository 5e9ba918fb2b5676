#!/usr/bin/python3
"""Per-read telemetry delivers every read, once, each poll whole (about 60 s).

The shape of `make bench` (tools/bench_modbus.py, tools/bench_harness.py) on
a smaller farm: 200 pymodbus endpoints on loopback ports
(tests/modbus/farm.py), one device and one `modbus-tcp` bus each, 20 holding
registers read every second, `uplink.telemetry_mode: per_read`, mosquitto,
and the bench's paho subscriber (tools/bench_subscriber.py). Register 0 of
each device counts its reads, so every reading the subscriber gets names the
read it came from. Most rows go out from memory as they commit
(uplink_offer_row); the rest, and those committed before the link was up,
from the outbox. Over a 20 s window:

1. every read the farm served reaches the subscriber: none missing, none
   twice, no message with part of a poll, no device without readings;
2. the daemon stays alive and keeps a handful of threads;
3. once the daemon has stopped, the outbox holds only rows of its last two
   seconds (committed but not yet acknowledged: they go at the next start):
   every acknowledged row is deleted.
"""
import os
import sqlite3
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "../modbus"))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "../../tools"))
from harness import TMP, done, note, ok  # noqa: E402
from bench_harness import Broker, Farm, one_run  # noqa: E402
from bench_modbus import Wardgate  # noqa: E402

DEVICES = 200


class KeptWardgate(Wardgate):
    """The bench's target, keeping its database for the outbox check."""

    def cleanup(self):
        pass


def main():
    directory = os.path.join(TMP, "perread")
    os.makedirs(directory)
    farm = Farm(DEVICES, directory)
    broker = Broker(directory)
    target = KeptWardgate("per_read")
    try:
        if not broker.listening():
            sys.exit("Bail out! mosquitto did not start")
        refusal = target.refusal(farm.ports, broker.port, directory)
        ok(refusal is None, "the daemon takes the per_read configuration", "\n".join(refusal or []))
        result = one_run(target, farm, broker, os.path.join(directory, "run"), 5, 20, 5)
    finally:
        farm.stop()
        broker.stop()
    note(f"{result['served']} reads served in the window, {result['delivered']} delivered, "
         f"{result['msgs_s']:.0f} msgs/s, read -> subscriber p50 {result['p50_ms']:.0f} ms, "
         f"p99 {result['p99_ms']:.0f} ms, CPU {result['cpu']:.1f} % of a core")
    ok(result["alive"], "the daemon ran the whole window")
    ok(result["served"] >= DEVICES * 15, f"the farm served the reads ({result['served']})")
    ok(result["missing"] == 0, "every read reached the subscriber",
       "; ".join(result["lost_examples"] + result["notes"]))
    ok(result["duplicates"] == 0, f"no read delivered twice ({result['duplicates']})")
    ok(result["partial"] == 0, f"every message carries whole polls ({result['partial']} did not)")
    ok(result["silent_devices"] == 0, f"every device has readings ({result['silent_devices']} none)")
    ok(0 < result["threads"] <= 12, f"a handful of threads ({result['threads']})")
    ok(not result["errors"], "the subscriber found every message well-formed", str(result["errors"]))
    db = os.path.join(directory, "run", "bench.db")
    left, old = sqlite3.connect(db).execute(
        "SELECT count(*), count(*) FILTER (WHERE created_ms < "
        "(SELECT max(created_ms) FROM outbox) - 2000) FROM outbox").fetchone()
    ok(old == 0, f"after the stop the outbox holds only its last two seconds ({left} rows, "
                 f"{old} older)")
    done()


if __name__ == "__main__":
    main()
