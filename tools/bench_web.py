#!/usr/bin/python3
"""Benchmark: how long from an alarm's raise in the core to its frame at a
display's WebSocket, with several displays connected.

A real wardgated on the small test facility, a sim bus with a control FIFO
(a call point and the room's presence button, polled every 50 ms), N
WebSocket clients logged in as a station account. The FIFO presses the call,
releases it, presses presence (which resets the call at its origin) and
releases it, CYCLES times. For every raise each client records
arrival (wall clock) - raised_ms (the core's wall clock when it raised the
alarm, before the journal commit), so the figure includes the SQLite commit
(synchronous=FULL), the bridge, the web thread and the socket.

Prints medians and p99 over all raises and clients. With --paging the
clients are carers' phones (a staff: section, each carer covering room 101,
so every raise pages them all at once) and the notify message each phone
gets is timed too, from the core's clock when it paged (its ts_ms): that
message goes out at once, before the journal. Usage:
  tools/bench_web.py [CYCLES] [CLIENTS] [--paging]"""
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time

import websocket

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
BUILD = os.path.join(ROOT, os.environ.get("BUILD", "build"))
ARGS = [a for a in sys.argv[1:] if not a.startswith("--")]
PAGING = "--paging" in sys.argv
CYCLES = int(ARGS[0]) if len(ARGS) > 0 else 100
CLIENTS = int(ARGS[1]) if len(ARGS) > 1 else 5


def main():
    tmp = tempfile.mkdtemp(prefix="wgbench-web.")
    port = 18000 + os.getpid() % 1000
    fifo = os.path.join(tmp, "sim.fifo")
    with open(os.path.join(ROOT, "tests/integration/fixtures/small.yaml.in"), encoding="utf-8") as f:
        text = f.read().replace("@ROOT@", ROOT).replace("@SCRIPT@\n", f"      control: {fifo}\n")
    text = text.replace("profile: call-point, bed: 101-A}", "profile: call-point, bed: 101-A, poll_ms: 50}")
    text = text.replace("profile: presence-reset, room: \"101\"}", "profile: presence-reset, room: \"101\", poll_ms: 50}")
    text = text.replace("web:\n  enabled: false\n", f"""rules:
  - {{id: bed-call, kind: call, meaning: call_button}}
  - {{id: door-presence, kind: presence, meaning: presence}}
web:
  listen: 127.0.0.1
  port: {port}
  root: {ROOT}/web
""")
    users = [f"carer{i}" for i in range(CLIENTS)] if PAGING else ["station1"]
    if PAGING:
        people = "".join(f"    - {{user: {u}, name: 护工{i}, role: carer}}\n" for i, u in enumerate(users))
        cover = "".join(f"      - {{user: {u}, rooms: [\"101\"]}}\n" for u in users)
        text += ("staff:\n  shifts:\n    - {id: am, window: \"00:00-12:00\"}\n    - {id: pm, window: \"12:00-00:00\"}\n"
                 f"  people:\n{people}  cover:\n    am:\n{cover}    pm:\n{cover}")
    config = os.path.join(tmp, "site.yaml")
    with open(config, "w", encoding="utf-8") as f:
        f.write(text)
    db = os.path.join(tmp, "db")
    wardgated = os.path.join(BUILD, "wardgated")
    pw = os.path.join(tmp, "pw")
    with open(pw, "w") as f:
        f.write("bench-password-1\n")
    for user in users:
        subprocess.run([wardgated, "-c", config, "--db", db, "--add-user", user,
                        "--role", "nurse" if PAGING else "station", "--password-file", pw],
                       check=True, capture_output=True)
    log = open(os.path.join(tmp, "log"), "w")
    daemon = subprocess.Popen([wardgated, "-c", config, "--db", db, "--plugin-dir", os.path.join(BUILD, "plugins")],
                              stdout=log, stderr=log)
    try:
        cookies = []
        for user in users:
            for _ in range(100):
                time.sleep(0.1)
                try:
                    c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                    c.request("POST", "/api/v1/login", json.dumps({"username": user, "password": "bench-password-1"}),
                              {"Content-Type": "application/json"})
                    r = c.getresponse()
                    r.read()
                    cookies.append(r.getheader("Set-Cookie").split(";")[0])
                    break
                except (OSError, AttributeError):
                    continue
        latencies, notify_latencies = [], []
        lock = threading.Lock()
        stop = threading.Event()

        def listen(cookie):
            ws = websocket.create_connection(f"ws://127.0.0.1:{port}/ws", subprotocols=["wardgate.v1"],
                                             cookie=cookie, timeout=1)
            while not stop.is_set():
                try:
                    m = json.loads(ws.recv())
                except websocket.WebSocketTimeoutException:
                    continue
                except Exception:
                    return
                if m["type"] == "alarm" and m["phase"] == "raise":
                    arrived = time.time() * 1000
                    with lock:
                        latencies.append(arrived - m["alarm"]["raised_ms"])
                elif m["type"] == "notify":
                    arrived = time.time() * 1000
                    with lock:
                        notify_latencies.append(arrived - m["ts_ms"])
            ws.close()

        threads = [threading.Thread(target=listen, args=(cookies[i % len(cookies)],)) for i in range(CLIENTS)]
        for th in threads:
            th.start()
        time.sleep(1.0)
        with open(fifo, "w") as ctl:
            for _ in range(CYCLES):
                for line, pause in [("call-101A call 1", 0.12), ("call-101A call 0", 0.08),
                                    ("presence-101 presence 1", 0.12), ("presence-101 presence 0", 0.08)]:
                    ctl.write(line + "\n")
                    ctl.flush()
                    time.sleep(pause)
        time.sleep(1.0)
        stop.set()
        for th in threads:
            th.join()
    finally:
        daemon.terminate()
        daemon.wait()
    latencies.sort()
    if not latencies:
        print("no raise arrived; see", tmp)
        return 1
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    print(f"raise -> WebSocket frame, {len(latencies)} frames ({CYCLES} raises x {CLIENTS} displays): "
          f"median {statistics.median(latencies):.1f} ms, p99 {p99:.1f} ms, max {latencies[-1]:.1f} ms")
    if PAGING:
        notify_latencies.sort()
        if len(notify_latencies) < CYCLES * CLIENTS:
            print(f"only {len(notify_latencies)} of {CYCLES * CLIENTS} notifications arrived; see", tmp)
            return 1
        p99 = notify_latencies[min(len(notify_latencies) - 1, int(len(notify_latencies) * 0.99))]
        print(f"paged -> notify at the phone, {len(notify_latencies)} messages ({CYCLES} raises x {CLIENTS} phones): "
              f"median {statistics.median(notify_latencies):.1f} ms, p99 {p99:.1f} ms, max {notify_latencies[-1]:.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
