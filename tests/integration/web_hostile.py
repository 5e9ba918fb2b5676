#!/usr/bin/python3
"""Hostile web clients against a real wardgated (issue 13), while a wall
display stays connected over its WebSocket and must keep its heartbeat:

- pipelined requests on one connection (GET+GET, POST+POST, GET+POST,
  POST+GET, a request then a WebSocket upgrade, a half-sent second request,
  fifty at once, twenty such connections in parallel, a second request sent
  while the first is still being answered): the first request is answered
  in full, then the connection is closed cleanly; the web thread never
  spins (its CPU time is measured) and /healthz keeps answering;
- Origin and Host checks that fail closed: long, malformed, repeated and
  "null" Origins, and an over-long Host, for the login, a CSRF-protected
  POST and the WebSocket handshake with the victim's cookie;
- the supervision of the web thread, with the test-only hooks
  (WARDGATE_TEST_HOOKS=1) and an sd_notify socket as systemd's: a frozen web
  thread stops WATCHDOG=1 within a few seconds and the log says why, SIGTERM
  still stops the daemon; a frozen core thread stops WATCHDOG=1 and /healthz
  answers 503; without the variable both signals are ignored; a pause of the
  whole process (SIGSTOP) is not taken for a wedged thread.

Three daemons are started; the whole test takes about 50 s (it waits for the
5 s staleness limit three times). Prints TAP."""
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "modbus"))
from harness import TMP, ROOT, WARDGATED, PLUGINS, free_port, wait_until, ok, note, done  # noqa: E402

import websocket  # noqa: E402  (Debian python3-websocket)

STALE_S = 5.0  # WG_LIVENESS_STALE_MS
PASSWORD = "station-password-1"


class Daemon:
    """wardgated on its own port and database, with systemd's notify socket."""

    def __init__(self, name, hooks):
        self.name = name
        self.port = free_port()
        self.host = f"127.0.0.1:{self.port}"
        self.origin = f"http://{self.host}"
        with open(os.path.join(ROOT, "tests/integration/fixtures/small.yaml.in"), encoding="utf-8") as f:
            text = f.read().replace("@ROOT@", ROOT).replace("@SCRIPT@\n", "")
        text = text.replace("web:\n  enabled: false\n",
                            f"web:\n  listen: 127.0.0.1\n  port: {self.port}\n  root: {ROOT}/web\n")
        self.config = os.path.join(TMP, f"{name}.yaml")
        with open(self.config, "w", encoding="utf-8") as f:
            f.write(text)
        self.db = os.path.join(TMP, f"{name}.db")
        password_file = os.path.join(TMP, "password")
        with open(password_file, "w", encoding="utf-8") as f:
            f.write(PASSWORD + "\n")
        subprocess.run([WARDGATED, "-c", self.config, "--db", self.db, "--add-user", "station1",
                        "--role", "nurse", "--password-file", password_file],
                       check=True, capture_output=True)
        self.notify_path = os.path.join(TMP, f"{name}.notify")
        self.notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.notify.bind(self.notify_path)
        self.notify.settimeout(0.2)
        self.messages = []  # (monotonic time, datagram)
        self.log_path = os.path.join(TMP, f"{name}.log")
        env = dict(os.environ, NOTIFY_SOCKET=self.notify_path, WATCHDOG_USEC="400000")
        env.pop("WARDGATE_TEST_HOOKS", None)
        if hooks:
            env["WARDGATE_TEST_HOOKS"] = "1"
        self.log = open(self.log_path, "w", encoding="utf-8")
        self.process = subprocess.Popen([WARDGATED, "-c", self.config, "--db", self.db,
                                         "--plugin-dir", PLUGINS], env=env,
                                        stdout=self.log, stderr=self.log)
        self.listening = True
        self.listener = threading.Thread(target=self._listen, daemon=True)
        self.listener.start()

    def _listen(self):
        while self.listening:
            try:
                self.messages.append((time.monotonic(), self.notify.recv(4096).decode()))
            except socket.timeout:
                continue
            except OSError:
                return

    def running(self):
        """Serving its port and feeding the watchdog, as after READY=1."""
        return (wait_until(lambda: "web: serving" in self.read_log() and self.process.poll() is None, 20)
                and wait_until(lambda: len(self.pings_since(0)) >= 3, 10))

    def pings_since(self, since):
        return [t for t, m in self.messages if t >= since and m == "WATCHDOG=1"]

    def read_log(self):
        with open(self.log_path, encoding="utf-8", errors="replace") as f:
            return f.read()

    def cpu_seconds(self):
        with open(f"/proc/{self.process.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def finish(self):
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        self.listening = False
        self.notify.close()


# ---- HTTP on raw sockets ----

def exchange(daemon, data, then=None, seconds=8):
    """Sends `data` (then `then` 0.3 s later, if given) and reads until the
    server ends the connection. Returns (bytes, how it ended)."""
    s = socket.create_connection(("127.0.0.1", daemon.port), timeout=seconds)
    out = b""
    try:
        s.sendall(data)
        if then is not None:
            time.sleep(0.3)
            s.sendall(then)
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return out, "closed"
            out += chunk
    except socket.timeout:
        return out, "timeout"
    except (ConnectionResetError, BrokenPipeError):
        return out, "reset"
    finally:
        s.close()


def responses(data):
    """The complete HTTP responses in `data`: [(status, headers, body)]."""
    found = []
    while data:
        head, sep, rest = data.partition(b"\r\n\r\n")
        if not sep:
            break
        lines = head.decode("latin-1").split("\r\n")
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0"))
        if len(rest) < length:
            break
        found.append((int(lines[0].split()[1]), headers, rest[:length]))
        data = rest[length:]
    return found


def request_bytes(method, path, headers=(), body=None, host="x"):
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}"] + list(headers)
    if body is not None:
        lines += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + (body.encode() if body else b"")


def status_of(daemon, method, path, headers=(), body=None, host=None):
    data, _ = exchange(daemon, request_bytes(method, path, headers, body, host or daemon.host))
    found = responses(data)
    return found[0][0] if found else None


def login(daemon):
    data, _ = exchange(daemon, request_bytes("POST", "/api/v1/login", [f"Origin: {daemon.origin}"],
                                             json.dumps({"username": "station1", "password": PASSWORD}),
                                             daemon.host))
    found = responses(data)
    if not found or found[0][0] != 200:
        return None, None
    cookie = found[0][1]["set-cookie"].split(";")[0].split("=", 1)[1]
    return cookie, json.loads(found[0][2])["csrf"]


class Display:
    """A wall display on the WebSocket, noting when each heartbeat arrives."""

    def __init__(self, daemon, cookie):
        self.ws = websocket.create_connection(f"ws://{daemon.host}/ws", subprotocols=["wardgate.v1"],
                                              cookie=f"wg_session={cookie}", origin=daemon.origin,
                                              timeout=2)
        self.beats = []
        self.running = True
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        while self.running:
            try:
                message = json.loads(self.ws.recv())
            except websocket.WebSocketTimeoutException:
                continue
            except Exception:
                return
            if message.get("type") == "heartbeat":
                self.beats.append(time.monotonic())

    def longest_gap(self, since):
        times = [since] + [t for t in self.beats if t >= since] + [time.monotonic()]
        return max(b - a for a, b in zip(times, times[1:]))

    def close(self):
        self.running = False
        self.ws.close()


def ws_handshake(daemon, cookie, origin_header):
    """A raw WebSocket handshake; the status line the server answers, or None."""
    headers = ["Upgrade: websocket", "Connection: Upgrade", "Sec-WebSocket-Version: 13",
               "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Protocol: wardgate.v1",
               f"Cookie: wg_session={cookie}", origin_header]
    s = socket.create_connection(("127.0.0.1", daemon.port), timeout=5)
    try:
        s.sendall(request_bytes("GET", "/ws", headers, None, daemon.host))
        head = s.recv(4096).split(b"\r\n", 1)[0].decode("latin-1")
        return head or None
    except OSError:
        return None
    finally:
        s.close()


# ==== 1. pipelining, with a display connected ====

web = Daemon("hostile", hooks=False)
ok(web.running(), "the daemon serves its web port and feeds the watchdog")
cookie, csrf = login(web)
ok(cookie is not None, "the display's account logs in")
display = Display(web, cookie)
ok(wait_until(lambda: len(display.beats) >= 2, 10), "the display gets heartbeats")

login_post = request_bytes("POST", "/api/v1/login", body="{}")  # the bytes: no Origin
healthz = request_bytes("GET", "/healthz")
page = request_bytes("GET", "/index.html")
big_page = request_bytes("GET", "/manage.js")  # several 16 KiB writes
upgrade = request_bytes("GET", "/ws", ["Upgrade: websocket", "Connection: Upgrade",
                                       "Sec-WebSocket-Version: 13", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
                                       "Sec-WebSocket-Protocol: wardgate.v1", f"Cookie: wg_session={cookie}"])
cases = [
    ("POST+POST (the issue's login pair)", login_post * 2, None, 400),
    ("GET+GET", healthz * 2, None, 200),
    ("GET+POST", healthz + login_post, None, 200),
    ("POST+GET", login_post + healthz, None, 400),
    ("a page, then a POST", page + login_post, None, 200),
    ("a large file, then a POST", big_page + login_post, None, 200),
    ("a large file, then a GET", big_page + healthz, None, 200),
    ("a request, then a WebSocket upgrade", healthz + upgrade, None, 200),
    ("a half-sent second request", healthz + b"GET /heal", None, 200),
    ("fifty requests at once", healthz * 50, None, 200),
    ("a POST whose body ends the read, then a GET", login_post, healthz, 400),
]
started = time.monotonic()
cpu_before = web.cpu_seconds()
for name, data, then, status in cases:
    out, ended = exchange(web, data, then)
    found = responses(out)
    ok(len(found) == 1 and found[0][0] == status and ended in ("closed", "reset" if then else "closed"),
       f"{name}: the first is answered in full ({status}), then the connection ends cleanly",
       f"{[r[0] for r in found]} then {ended}: {out[:300]!r}")
    ok(found and found[0][1].get("connection") == "close", f"{name}: the answer says connection: close",
       found[0][1] if found else out[:200])

# Twenty pipelining connections at once.
results = []


def one_pipeliner():
    out, ended = exchange(web, login_post * 2)
    results.append((len(responses(out)), ended))


threads = [threading.Thread(target=one_pipeliner) for _ in range(20)]
for t in threads:
    t.start()
for t in threads:
    t.join(30)
ok(len(results) == 20 and all(r == (1, "closed") for r in results),
   "twenty pipelining connections at once: each first request answered, each closed", results)

status = status_of(web, "GET", "/healthz")
ok(status == 200, "/healthz answers after all of them", status)
time.sleep(2)  # idle: a spinning loop would use a core now
cpu = web.cpu_seconds() - cpu_before
elapsed = time.monotonic() - started
ok(cpu < 0.5 * elapsed, f"no spinning: the daemon used {cpu:.2f} s of CPU in {elapsed:.1f} s")
gap = display.longest_gap(started)
ok(gap < 5, f"the display kept its heartbeat throughout (longest gap {gap:.1f} s)")

# ==== 2. Origin and Host fail closed ====

good_body = json.dumps({"username": "station1", "password": PASSWORD})
long_origin = "http://" + "a" * 248 + ".evil.example"  # 269 characters: did not fit the old buffer
ok(len(long_origin) > 256, "the long Origin is longer than 256 characters")
origin_cases = [
    ("a cross-site Origin longer than 256 characters", [f"Origin: {long_origin}"], None),
    ("Origin: null", ["Origin: null"], None),
    ("an Origin with a path", [f"Origin: {web.origin}/x"], None),
    ("an Origin with user info", [f"Origin: http://evil@{web.host}"], None),
    ("an Origin without a scheme", [f"Origin: {web.host}"], None),
    ("an Origin with another scheme", [f"Origin: ftp://{web.host}"], None),
    ("an empty Origin", ["Origin: "], None),
    ("two Origin headers (both this host)", [f"Origin: {web.origin}", f"Origin: {web.origin}"], None),
    ("this host's Origin with a Host longer than it can hold", [f"Origin: {web.origin}"],
     "h" * 300 + f":{web.port}"),
    ("this host's Origin with a Host that has a path", [f"Origin: {web.origin}"], f"{web.host}/x"),
]
for name, headers, host in origin_cases:
    status = status_of(web, "POST", "/api/v1/login", headers, good_body, host)
    ok(status == 403, f"login with {name}: 403", status)
status = status_of(web, "POST", "/api/v1/login", [f"Origin: HTTP://{web.host.upper()}"], good_body)
ok(status == 200, "login with this host's Origin, in capitals: 200", status)
status = status_of(web, "POST", "/api/v1/login", [], good_body)
ok(status == 200, "login without an Origin (not a browser): 200", status)

victim = [f"Cookie: wg_session={cookie}", f"X-CSRF-Token: {csrf}"]
for name, headers, host in origin_cases[:4]:
    status = status_of(web, "POST", "/api/v1/logout", victim + headers, "{}", host)
    ok(status == 403, f"a CSRF-protected POST (logout) with the victim's cookie and {name}: 403", status)
status = status_of(web, "GET", "/api/v1/session", [f"Cookie: wg_session={cookie}"])
ok(status == 200, "the session survived those attempts", status)

for name, header in [("a long cross-site Origin", f"Origin: {long_origin}"), ("Origin: null", "Origin: null"),
                     ("two Origins", f"Origin: {web.origin}\r\nOrigin: {web.origin}")]:
    head = ws_handshake(web, cookie, header)
    ok(head is None or " 101 " not in head, f"WebSocket handshake with the victim's cookie and {name}: refused",
       head)
head = ws_handshake(web, cookie, f"Origin: {web.origin}")
ok(head is not None and " 101 " in head, "the same handshake from this host's Origin: accepted", head)

# ==== 3. without WARDGATE_TEST_HOOKS the hooks are ignored ====

mark = time.monotonic()
web.process.send_signal(signal.SIGUSR1)
web.process.send_signal(signal.SIGUSR2)
time.sleep(STALE_S + 1.5)
ok(web.process.poll() is None and len(web.pings_since(mark + STALE_S)) >= 3,
   "without WARDGATE_TEST_HOOKS, SIGUSR1 and SIGUSR2 change nothing: WATCHDOG=1 goes on")
ok(web.read_log().count("ignored (it is a test hook") == 2, "the log says the two signals were ignored")
ok(status_of(web, "GET", "/healthz") == 200, "/healthz answers")

# A pause of the whole process (SIGSTOP, a suspended machine) wedges no thread.
web.process.send_signal(signal.SIGSTOP)
time.sleep(STALE_S + 2)
web.process.send_signal(signal.SIGCONT)
mark = time.monotonic()
ok(wait_until(lambda: len(web.pings_since(mark)) >= 5, 10), "after SIGSTOP and SIGCONT WATCHDOG=1 goes on")
log = web.read_log()
ok("has not turned" not in log and "no heartbeat from the core" not in log,
   "and neither thread is reported wedged for the time the whole process was stopped",
   [line for line in log.splitlines() if " crit " in line])
display.close()
web.finish()

# ==== 4. a frozen web thread stops the watchdog ====

frozen = Daemon("frozen-web", hooks=True)
ok(frozen.running(), "with test hooks: it serves and sends WATCHDOG=1 as usual")
frozen.process.send_signal(signal.SIGUSR1)
mark = time.monotonic()
ok(wait_until(lambda: "watchdog: the web thread has not turned" in frozen.read_log(), STALE_S + 8),
   "the log says the web thread is wedged", frozen.read_log()[-1500:])
stopped = wait_until(lambda: frozen.pings_since(0) and time.monotonic() - frozen.pings_since(0)[-1] > 2,
                     STALE_S + 10)
last = frozen.pings_since(0)[-1] - mark if frozen.pings_since(0) else -1
ok(stopped and last < STALE_S + 4, f"WATCHDOG=1 stops {last:.1f} s after the web thread froze")
time.sleep(1)
ok(not frozen.pings_since(time.monotonic() - 2.5), "and stays stopped")
ok(status_of(frozen, "GET", "/healthz") is None, "/healthz gets no answer from the frozen thread")
frozen.process.send_signal(signal.SIGTERM)
try:
    rc = frozen.process.wait(20)
except subprocess.TimeoutExpired:
    rc = None
ok(rc == 0, f"SIGTERM still stops the daemon, leaving the frozen thread behind (exit {rc})")
ok("left behind" in frozen.read_log() and "stopped" in frozen.read_log(),
   "the log says the web thread was left behind and the daemon stopped", frozen.read_log()[-1500:])
frozen.finish()

# ==== 5. a frozen core thread stops the watchdog ====

core = Daemon("frozen-core", hooks=True)
ok(core.running(), "a third daemon with test hooks runs")
core.process.send_signal(signal.SIGUSR2)
mark = time.monotonic()
ok(wait_until(lambda: "the core thread stops here" in core.read_log(), 10), "the core thread freezes")
time.sleep(3)
ok(not core.pings_since(mark + 1.5), "WATCHDOG=1 stops with the core thread")
ok(wait_until(lambda: "no heartbeat from the core thread" in core.read_log(), 10),
   "the web thread logs that the core's heartbeat is late")
data, _ = exchange(core, request_bytes("GET", "/healthz", host=core.host))
found = responses(data)
body = json.loads(found[0][2]) if found else {}
ok(found and found[0][0] == 503 and body.get("status") == "failing" and body.get("core_heartbeat_age_ms", 0) > 3000,
   "/healthz answers 503 with the core's heartbeat age", body)
core.finish()

done()
