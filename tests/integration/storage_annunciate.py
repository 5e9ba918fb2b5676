#!/usr/bin/python3
"""A call is never hidden by storage: three real faults against a real
wardgated with a WebSocket display (python3-websocket) and the uplink to a
real mosquitto, counted with mosquitto_sub.

  disk_full  the database on a small tmpfs (mounted here; we are root) that a
             filler file fills to the last block;
  read_only  every write, fsync and truncate of the database files fails with
             EROFS (fixtures/fault_shim.c, built here, loaded with LD_PRELOAD);
  locked     a second sqlite3 process holds BEGIN EXCLUSIVE.

For each: calls pressed during the fault (sim control FIFO) reach the display
within 1 s, marked journaled:false; the storage alarm (storage_failing, with
the reason) and the heartbeat's storage, storage_reason and events_waiting
show it; after the fault the calls come again journaled:true with their seq,
the journal has every event once and in order (no seq gap, unique ids, each
call's raise before the next one's), and every uplink event reaches mosquitto.
The fault -> display latencies are printed as "# latency" lines.
About 40 s. WG_FAULTS="locked" (say) runs some of them."""
import os
import signal
import sqlite3
import statistics
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "modbus"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (TMP, ROOT, WARDGATED, PLUGINS, _children, free_port, wait_until, ok, note,  # noqa: E402
                     done)

from wsdisplay import Display, add_user, is_raise_of  # noqa: E402
from storage_faults_lib import Locker, fill  # noqa: E402
from mqtt_peers import start_broker, start_sub  # noqa: E402
from small_site import small_config  # noqa: E402

CHECK_MQTT = os.path.join(ROOT, "tests/integration/check_mqtt.py")
SANITIZE = os.environ.get("SANITIZE") == "1"
BASE = "wardgate/v1/test-district/test-home"
CALLS = ["call-101A", "call-101B", "call-102A"]
PASSWORD = "station-password-1"


def write_config(name, web_port, mqtt_port, fifo):
    return small_config(name, web_port, "  - {id: call, kind: call}\n  - {id: presence, kind: presence}\n", mqtt_port,
                        fifo, uplink="  reconnect_min_s: 1\n  reconnect_max_s: 2\n  heartbeat_s: 2\n")


def press(fifo, device):
    """Presses a call through the sim's control FIFO; returns when it was pressed."""
    at = time.monotonic()
    with open(fifo, "w") as f:
        f.write(f"{device} call 1\n")
    return at


def heartbeat_failing(reason):
    return lambda m: (m.get("type") == "heartbeat" and m.get("storage") == "failing" and
                      m.get("storage_reason") == reason and m.get("events_waiting", 0) > 0)


def storage_alarm(phase, reason):
    return lambda m: (m.get("type") == "alarm" and m.get("phase") == phase and
                      m["alarm"].get("kind") == "storage_failing" and
                      (m["alarm"].get("detail_args") or {}).get("reason") == reason)


def scenario(kind, latencies):
    note(f"---- {kind} ----")
    directory = os.path.join(TMP, kind)
    os.makedirs(directory)
    env = dict(os.environ)
    mounted = False
    if kind == "disk_full":
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=6m", "tmpfs", directory], check=True)
        mounted = True
    db = os.path.join(directory, "wardgate.db")
    control = os.path.join(TMP, f"{kind}-fault")
    if kind == "read_only":
        shim = os.path.join(TMP, "fault_shim.so")
        subprocess.run(["cc", "-shared", "-fPIC", "-O2", "-o", shim,
                        os.path.join(ROOT, "tests/integration/fixtures/fault_shim.c"), "-ldl"], check=True)
        env.update(LD_PRELOAD=shim, WG_FAULT_CONTROL=control, WG_FAULT_PATH=db,
                   ASAN_OPTIONS=env.get("ASAN_OPTIONS", "") + ":verify_asan_link_order=0")
    broker, mqtt_port = start_broker(f"broker-{kind}")
    received = os.path.join(TMP, f"{kind}-mqtt.txt")
    sub = start_sub(mqtt_port, received, f"{BASE}/#")
    web_port = free_port()
    fifo = os.path.join(TMP, f"{kind}.fifo")
    config = write_config(kind, web_port, mqtt_port, fifo)
    add_user(WARDGATED, config, db, PLUGINS, TMP, "station1", PASSWORD)
    log_path = os.path.join(TMP, f"{kind}.log")
    daemon = subprocess.Popen([WARDGATED, "-c", config, "--db", db, "--plugin-dir", PLUGINS,
                               "--web-root", os.path.join(ROOT, "web")],
                              stdout=open(log_path, "w"), stderr=subprocess.STDOUT, env=env)
    _children.append(daemon)

    def log():
        with open(log_path, errors="replace") as f:
            return f.read()

    ok(wait_until(lambda: "uplink: connected" in log() and "web: serving" in log(), 20),
       f"{kind}: the daemon runs, serves the web and is connected to mosquitto", log()[-2000:])
    display = Display(web_port, "station1", PASSWORD)
    ok(display.wait(lambda m: m.get("type") == "snapshot", 5), f"{kind}: the display has its snapshot")

    # ---- the fault ----
    locker = None
    fault_at = time.monotonic()
    filling = threading.Event()
    if kind == "disk_full":
        # Another process filling the disk, and taking every block SQLite
        # frees (a rolled-back WAL) until it stops.
        filling.set()
        filler = threading.Thread(target=fill, args=(os.path.join(directory, "filler"), filling),
                                  daemon=True)
        filler.start()
        wait_until(lambda: os.statvfs(directory).f_bavail == 0, 10)
    elif kind == "read_only":
        open(control, "w").close()
    else:
        locker = Locker(db)
    pressed = {}
    for device in CALLS:
        pressed[device] = press(fifo, device)
        # Shown at once: not yet journaled (seq null), or journaled already
        # when storage took this commit after all (a full disk now and then does).
        shown = display.wait(is_raise_of(device, None), 5, after=pressed[device])
        latency = (shown[0] - pressed[device]) * 1000 if shown else None
        latencies.setdefault(kind, []).append(latency if latency is not None else float("inf"))
        ok(shown and latency < 1000,
           f"{kind}: a call pressed during the fault ({device}) reaches the display within 1 s"
           + (f" ({latency:.0f} ms, journaled: {shown[1]['alarm']['journaled']})" if shown else ""),
           shown[1] if shown else "no frame; frames: " + " ".join(
               f"{m.get('type')}/{m.get('phase', '')}/{(m.get('alarm') or {}).get('device', '')}@{t - pressed[device]:.3f}"
               for t, m in display.frames[-30:]))
        if shown:
            ok((shown[1]["seq"] is None) == (shown[1]["alarm"]["journaled"] is False),
               f"{kind}: ... with seq null while not journaled")
        time.sleep(1.0)
    ok(display.wait(storage_alarm("raise", kind), 10, after=fault_at),
       f"{kind}: the storage alarm (storage_failing, reason {kind}) is on the display")
    beat = display.wait(heartbeat_failing(kind), 10, after=fault_at)
    ok(beat, f"{kind}: the heartbeat says storage failing, {kind}, and how many events wait",
       beat[1] if beat else "")
    held_s = 6 - (time.monotonic() - fault_at)
    if held_s > 0:
        time.sleep(held_s)

    # ---- storage returns ----
    recovered_at = time.monotonic()
    if kind == "disk_full":
        filling.clear()
        filler.join(5)
        os.unlink(os.path.join(directory, "filler"))
    elif kind == "read_only":
        os.unlink(control)
    else:
        locker.release()
    for device in CALLS:
        # A full disk may take a commit now and then (a rolled-back WAL frees
        # blocks), so the journaled copy may come before the fault ends.
        again = display.wait(is_raise_of(device, True), 15, after=pressed[device])
        ok(again and isinstance(again[1]["seq"], int),
           f"{kind}: {device}'s call comes again once journaled, with its seq",
           again[1] if again else "no frame")
    ok(display.wait(storage_alarm("reset", kind), 15, after=fault_at),
       f"{kind}: the storage alarm ends by itself")
    ok(display.wait(lambda m: m.get("type") == "heartbeat" and m.get("storage") == "ok" and
                    m.get("storage_reason") is None and m.get("events_waiting") == 0, 10, after=recovered_at),
       f"{kind}: the heartbeat says storage ok, nothing waiting")
    # Everything committed reaches the broker before the stop.
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    wait_until(lambda: con.execute("select count(*) from outbox").fetchone()[0] == 0, 15)
    con.close()
    display.close()
    daemon.send_signal(signal.SIGTERM)
    rc = daemon.wait(30)
    ok(rc == 0, f"{kind}: clean stop (exit {rc})")
    ok("could not be stored" not in log(), f"{kind}: nothing lost at the stop",
       [line for line in log().splitlines() if "could not be stored" in line])

    # ---- the journal ----
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    count, low, high, ids = con.execute("select count(*), min(seq), max(seq), count(distinct id) from events").fetchone()
    ok(count == high - low + 1 == ids, f"{kind}: the journal has no seq gap and unique ids ({count} events, "
                                       f"#{low}-#{high}, {ids} ids)")
    raises = [con.execute("select min(seq) from events where kind = 'alarm' and device = ? and "
                          "json_extract(body, '$.phase') = 'raise'", (device,)).fetchone()[0] for device in CALLS]
    ok(all(raises) and raises == sorted(raises), f"{kind}: each call's raise is journaled, in the order pressed "
                                                 f"({raises})")
    storage = con.execute("select json_extract(body, '$.phase'), json_extract(body, '$.detail_args.reason') "
                          "from events where kind = 'alarm' and json_extract(body, '$.kind') = 'storage_failing' "
                          "order by seq").fetchall()
    ok(storage and storage[0] == ("raise", kind) and storage[-1][0] == "reset",
       f"{kind}: the storage alarm is journaled too, raise to reset", storage)
    con.close()
    time.sleep(1)
    sub.terminate()
    sub.wait(5)
    result = subprocess.run(["/usr/bin/python3", CHECK_MQTT, "delivery", received, db], capture_output=True, text=True)
    ok(result.returncode == 0, f"{kind}: every uplink event reached mosquitto, in order",
       result.stdout + result.stderr)
    note(result.stdout.strip().splitlines()[-1] if result.stdout.strip() else "")
    broker.terminate()
    broker.wait(5)
    # The daemon's log beside the test's, for whoever reads a failure.
    logs = os.path.join(ROOT, os.environ.get("BUILD", "build"), "test-logs")
    if os.path.isdir(logs):
        with open(os.path.join(logs, f"storage_annunciate-{kind}.daemon.log"), "w") as f:
            f.write(log())
    if mounted:
        subprocess.run(["umount", directory], check=False)


def main():
    if os.geteuid() != 0:
        print("ok 1 - storage faults # SKIP needs root to mount a tmpfs", flush=True)
        print("1..1")
        return
    latencies = {}
    for kind in os.environ.get("WG_FAULTS", "disk_full read_only locked").split():
        try:
            scenario(kind, latencies)
        finally:
            subprocess.run(["umount", os.path.join(TMP, kind)], capture_output=True)
    for kind, values in latencies.items():
        finite = [v for v in values if v != float("inf")]
        if finite:
            note(f"latency {kind}: fault -> display median {statistics.median(finite):.0f} ms, "
                 f"max {max(finite):.0f} ms over {len(finite)} calls")
    done()


main()
