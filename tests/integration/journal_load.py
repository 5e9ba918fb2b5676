"""A daemon on a large journal, with calls raised while users query it
(imported by tests/integration/journal_1m.py and tools/bench_query.py).

Scenario(rows) makes a scratch directory with the small test facility (a sim
bus with a control FIFO, web on a free loopback port, a large storage bound),
adds a nurse and a station account with `wardgated --add-user` (which also
creates and migrates the database), appends `rows` journal rows
(big_journal.fill) and starts the daemon with an sd_notify socket and
WATCHDOG_USEC, as systemd would.

While it runs:
- a thread receives the sd_notify datagrams and keeps the monotonic time of
  every WATCHDOG=1 (watchdog_gaps());
- a station WebSocket keeps the monotonic arrival time of every alarm frame;
- Raiser presses the call point through the FIFO, waits for the raise frame,
  resets the call at its origin (presence on, then off) and waits for the
  reset frame, over and over. Each latency is FIFO write -> raise frame, both on
  this process's monotonic clock: the sim driver posts the reading at once,
  so this holds the core (engine, journal commit with fsync), the bridge,
  the web thread and the socket;
- curl() runs a request in its own process (so Python does not compete with
  the frame receiver for the GIL) and returns its status and timings.
"""
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

import websocket  # Debian python3-websocket

from big_journal import fill

ROOT = os.environ.get("WG_ROOT") or os.path.abspath(os.path.join(os.path.dirname(__file__), "../.."))
BUILD = os.path.join(ROOT, os.environ.get("BUILD", "build"))
PASSWORD = "load-password-1"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def percentile(values, share):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))] if ordered else None


class Scenario:
    def __init__(self, rows, watchdog_usec=2_000_000, keep=False):
        self.tmp = tempfile.mkdtemp(prefix="wgload.")
        self.keep = keep
        self.port = free_port()
        self.fifo = os.path.join(self.tmp, "sim.fifo")
        self.db = os.path.join(self.tmp, "db")
        self.log_path = os.path.join(self.tmp, "daemon.log")
        self.watchdog_usec = watchdog_usec
        with open(os.path.join(ROOT, "tests/integration/fixtures/small.yaml.in"), encoding="utf-8") as f:
            text = f.read().replace("@ROOT@", ROOT).replace("@SCRIPT@\n", f"      control: {self.fifo}\n")
        text = text.replace("web:\n  enabled: false\n", f"""rules:
  - {{id: bed-call, kind: call, meaning: call_button}}
  - {{id: door-presence, kind: presence, meaning: presence}}
storage:
  max_mb: 4096
web:
  listen: 127.0.0.1
  port: {self.port}
  root: {ROOT}/web
""")
        self.config = os.path.join(self.tmp, "site.yaml")
        with open(self.config, "w", encoding="utf-8") as f:
            f.write(text)
        pw = os.path.join(self.tmp, "pw")
        with open(pw, "w") as f:
            f.write(PASSWORD + "\n")
        self.wardgated = os.path.join(BUILD, "wardgated")
        for user, role in [("nurse1", "nurse"), ("station1", "station")]:
            subprocess.run([self.wardgated, "-c", self.config, "--db", self.db, "--add-user", user,
                            "--role", role, "--password-file", pw], check=True, capture_output=True)
        self.fill_s = fill(self.db, rows) if rows else 0.0
        self.rows = rows
        self.process = None
        self.pings = []
        self.frames = []  # (monotonic s, message) of alarm frames
        self.frames_lock = threading.Condition()
        self._stop = threading.Event()
        self._threads = []

    # ---- the daemon ----

    def start(self):
        sock_path = os.path.join(self.tmp, "notify.sock")
        self.notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.notify.bind(sock_path)
        self.notify.settimeout(0.2)
        env = dict(os.environ, NOTIFY_SOCKET=sock_path, WATCHDOG_USEC=str(self.watchdog_usec))
        self.log = open(self.log_path, "w", encoding="utf-8")
        self.started = time.monotonic()
        self.process = subprocess.Popen([self.wardgated, "-c", self.config, "--db", self.db,
                                         "--plugin-dir", os.path.join(BUILD, "plugins")],
                                        env=env, stdout=self.log, stderr=self.log)
        self._spawn(self._watch_notify)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and "web: serving" not in self.read_log():
            if self.process.poll() is not None:
                raise RuntimeError("the daemon exited at start:\n" + self.read_log()[-2000:])
            time.sleep(0.05)
        self.ready_s = time.monotonic() - self.started
        self.nurse = self.login("nurse1")
        self.station = self.login("station1")
        self.ws = websocket.create_connection(f"ws://127.0.0.1:{self.port}/ws", subprotocols=["wardgate.v1"],
                                              cookie=f"wg_session={self.station}", timeout=1)
        self.ws.recv()  # the snapshot
        self._spawn(self._receive_frames)
        return self

    def stop(self):
        self._stop.set()
        for thread in self._threads:
            thread.join(5)
        try:
            self.ws.close()
        except Exception:
            pass
        rc = None
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                rc = self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                rc = self.process.wait()
        elif self.process:
            rc = self.process.returncode
        self.notify.close()
        self.log.close()
        return rc

    def cleanup(self):
        if not self.keep:
            shutil.rmtree(self.tmp, ignore_errors=True)

    def finish(self, ok):
        """Stops the daemon, removes the scratch directory and reports, through
        the test's `ok`, that it stopped cleanly without a sanitizer report."""
        rc = self.stop()
        log = self.read_log()
        self.cleanup()
        ok(rc == 0, "the daemon stops cleanly", rc)
        ok("AddressSanitizer" not in log and "runtime error" not in log, "no sanitizer report")

    def read_log(self):
        try:
            with open(self.log_path, encoding="utf-8", errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def rss_kib(self):
        try:
            with open(f"/proc/{self.process.pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1])
        except OSError:
            pass
        return None

    def _spawn(self, target):
        thread = threading.Thread(target=target, daemon=True)
        thread.start()
        self._threads.append(thread)

    def _watch_notify(self):
        while not self._stop.is_set():
            try:
                data = self.notify.recv(4096).decode(errors="replace")
            except socket.timeout:
                continue
            except OSError:
                return
            if "WATCHDOG=1" in data.split("\n"):
                self.pings.append(time.monotonic())

    def watchdog_gaps(self, since=None):
        """The intervals between WATCHDOG=1 pings (after `since`, monotonic s), in ms."""
        pings = [p for p in self.pings if since is None or p >= since]
        return [(b - a) * 1000 for a, b in zip(pings, pings[1:])]

    def _receive_frames(self):
        while not self._stop.is_set():
            try:
                text = self.ws.recv()
            except websocket.WebSocketTimeoutException:
                continue
            except Exception:
                return
            arrived = time.monotonic()
            message = json.loads(text)
            if message.get("type") == "alarm":
                with self.frames_lock:
                    self.frames.append((arrived, message))
                    self.frames_lock.notify_all()

    def wait_frame(self, after, phase, seconds=10):
        """The arrival time of the first alarm frame of `phase` that came after `after`."""
        deadline = time.monotonic() + seconds
        with self.frames_lock:
            while True:
                for arrived, message in self.frames:
                    if arrived >= after and message.get("phase") == phase:
                        return arrived
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self.frames_lock.wait(left)

    # ---- HTTP ----

    def login(self, user):
        for _ in range(100):
            try:
                c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
                c.request("POST", "/api/v1/login", json.dumps({"username": user, "password": PASSWORD}),
                          {"Content-Type": "application/json"})
                r = c.getresponse()
                r.read()
                if r.status == 200:
                    return r.getheader("Set-Cookie").split(";")[0].split("=", 1)[1]
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"cannot log in as {user}")

    def curl(self, path, output=os.devnull, extra=()):
        """Runs GET path as the nurse in a curl process; returns (status, seconds total,
        seconds to the first byte)."""
        done = subprocess.run(["curl", "-sS", "-o", output, "-w", "%{http_code} %{time_total} %{time_starttransfer}",
                               "-H", f"Cookie: wg_session={self.nurse}", *extra,
                               f"http://127.0.0.1:{self.port}{path}"], capture_output=True, text=True)
        parts = done.stdout.split()
        if len(parts) != 3:
            return None, None, None
        return int(parts[0]), float(parts[1]), float(parts[2])


class Raiser:
    """Raises and resets the scripted call again and again in a thread until stop()."""

    def __init__(self, scenario, pause=0.15):
        self.scenario = scenario
        self.pause = pause
        self.latencies_ms = []
        self.lost = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self):
        self._thread.start()
        return self

    def stop(self):
        self._stop.set()
        self._thread.join(30)
        return self

    def _run(self):
        s = self.scenario
        with open(s.fifo, "w") as fifo:
            def send(line):
                fifo.write(line + "\n")
                fifo.flush()

            while not self._stop.is_set():
                sent = time.monotonic()
                send("call-101A call 1")
                arrived = s.wait_frame(sent, "raise")
                if arrived is None:
                    self.lost += 1
                else:
                    self.latencies_ms.append((arrived - sent) * 1000)
                send("call-101A call 0")
                mark = time.monotonic()
                send("presence-101 presence 1")  # attends the call ...
                send("presence-101 presence 0")  # ... and leaving resets it (docs/alarms.md)
                s.wait_frame(mark, "reset")
                self._stop.wait(self.pause)
