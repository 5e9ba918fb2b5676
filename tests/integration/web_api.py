#!/usr/bin/python3
"""The HTTP/WebSocket API of a real wardgated (docs/api.md), driven with
urllib, raw sockets and python3-websocket: every endpoint, auth failures,
role violations, CSRF, throttling, bad input, path traversal, and WebSocket
clients that send garbage or flood while another keeps its feed."""
import http.client
import json
import os
import socket
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "modbus"))
from harness import TMP, ROOT, Daemon, free_port, wait_until, ok, note, done  # noqa: E402

import websocket  # noqa: E402  (Debian python3-websocket)

PORT = free_port()
HOST = f"127.0.0.1:{PORT}"
ORIGIN = f"http://{HOST}"

# A web root of our own, with a symlink that leaves it.
webroot = os.path.join(TMP, "web")
os.makedirs(webroot)
for name in os.listdir(os.path.join(ROOT, "web")):
    src = os.path.join(ROOT, "web", name)
    if os.path.isfile(src):
        with open(src, "rb") as f, open(os.path.join(webroot, name), "wb") as g:
            g.write(f.read())
os.symlink("/etc/passwd", os.path.join(webroot, "escape.txt"))

RULES = """rules:
  - {id: bed-call, kind: call, meaning: call_button, priority: normal}
  - {id: bathroom-cord, kind: pull_cord, meaning: pull_cord, priority: emergency}
  - {id: door-presence, kind: presence, meaning: presence}
"""
with open(os.path.join(ROOT, "tests/integration/fixtures/small.yaml.in"), encoding="utf-8") as f:
    text = f.read()
script = """      script:
        - {at_ms: 2500, device: call-101A, point: call, value: 1}
"""
text = text.replace("@ROOT@", ROOT).replace("@SCRIPT@\n", script)
text = text.replace("web:\n  enabled: false\n", RULES +
                    f"web:\n  listen: 127.0.0.1\n  port: {PORT}\n  root: {webroot}\n")
config = os.path.join(TMP, "facility.yaml")
with open(config, "w", encoding="utf-8") as f:
    f.write(text)
original_config = text

daemon = Daemon(config, name="web").start()
up = wait_until(lambda: "web: serving" in daemon.read_log(), 15)
ok(up, "the web server starts on its port")


def request(method, path, body=None, cookie=None, csrf=None, headers=None, raw=None):
    conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=10)
    h = dict(headers or {})
    if cookie:
        h["Cookie"] = f"wg_session={cookie}"
    if csrf:
        h["X-CSRF-Token"] = csrf
    data = raw
    if body is not None:
        data = json.dumps(body).encode()
        h.setdefault("Content-Type", "application/json")
    conn.request(method, path, body=data, headers=h)
    r = conn.getresponse()
    payload = r.read()
    conn.close()
    try:
        parsed = json.loads(payload) if r.getheader("Content-Type", "").startswith("application/json") else payload
    except ValueError:
        parsed = payload
    return r.status, parsed, r


class Session:
    def __init__(self, cookie, csrf, role):
        self.cookie, self.csrf, self.role = cookie, csrf, role

    def get(self, path):
        return request("GET", path, cookie=self.cookie)

    def send(self, method, path, body=None, csrf=True, **kw):
        return request(method, path, body=body, cookie=self.cookie,
                       csrf=self.csrf if csrf else None, **kw)


def cookie_of(response):
    value = response.getheader("Set-Cookie") or ""
    return value.split(";")[0].split("=", 1)[1] if value.startswith("wg_session=") else None


def login(user, password, expect=200):
    status, body, r = request("POST", "/api/v1/login", {"username": user, "password": password})
    if status != expect:
        note(f"login {user}: {status} {body}")
    return Session(cookie_of(r), body.get("csrf") if isinstance(body, dict) else None,
                   body.get("role") if isinstance(body, dict) else None) if status == 200 else (status, body, r)


# ---- health, metrics, static files ----
status, body, _ = request("GET", "/healthz")
ok(status == 200 and body["status"] == "ok", "/healthz is ok while the core beats", body)
status, body, r = request("GET", "/metrics")
ok(status == 200 and r.getheader("Content-Type").startswith("text/plain"), "/metrics is Prometheus text")
metrics_text = body.decode() if isinstance(body, bytes) else str(body)
for name in ["wardgate_device_health", "wardgate_alarms_active", "wardgate_outbox_rows",
             "wardgate_core_queue_depth", "wardgate_events_committed_total", "wardgate_ws_clients",
             "wardgate_http_requests_total", "wardgate_logins_failed_total",
             "wardgate_core_loop_seconds_max", "wardgate_query_backlog"]:
    ok(f"\n{name}" in metrics_text or metrics_text.startswith(name), f"/metrics has {name}")
status, body, r = request("GET", "/")
ok(status == 200 and b"<" in body and "default-src 'self'" in (r.getheader("Content-Security-Policy") or ""),
     "/ serves index.html with a content security policy")
status, _, _ = request("GET", "/no-such-file.js")
ok(status == 404, "an unknown file is 404")


def raw_get(path):
    s = socket.create_connection(("127.0.0.1", PORT), timeout=5)
    s.sendall(f"GET {path} HTTP/1.1\r\nHost: {HOST}\r\nConnection: close\r\n\r\n".encode())
    data = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    s.close()
    return data


for path in ["/../../../../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd", "/..%2f..%2fetc%2fpasswd",
             "/escape.txt", "/.hidden", "/common.js%00.html"]:
    data = raw_get(path)
    head = data.split(b"\r\n", 1)[0]
    ok(b"root:x:0:0" not in data and b" 200 " not in head,
         f"path traversal refused: {path} -> {head.decode(errors='replace')}")

# ---- first admin through the one-time token ----
token_file = os.path.join(TMP, "setup-token")
ok(os.path.exists(token_file) and oct(os.stat(token_file).st_mode & 0o777) == "0o600",
     "the setup token is written beside the database, mode 0600")
token = open(token_file).read().strip()
ok(token in daemon.read_log(), "the setup token is printed in the start-up log")
status, body, _ = request("GET", "/api/v1/setup")
ok(status == 200 and body == {"setup_pending": True}, "GET /api/v1/setup without a session: setup is pending", body)
status, body, _ = request("POST", "/api/v1/setup", {"token": "x" * 43, "username": "admin1",
                                                     "password": "correct-horse-1"})
ok(status == 403, "setup with a wrong token: 403", body)
status, body, r = request("POST", "/api/v1/setup", {"token": token, "username": "admin1",
                                                     "password": "correct-horse-1"})
ok(status == 200 and body["role"] == "admin", "setup with the token makes the first admin", body)
setcookie = r.getheader("Set-Cookie") or ""
ok("HttpOnly" in setcookie and "SameSite=Strict" in setcookie, "the session cookie is HttpOnly, SameSite=Strict",
     setcookie)
admin = Session(cookie_of(r), body["csrf"], "admin")
status, body, _ = request("POST", "/api/v1/setup", {"token": token, "username": "admin2",
                                                     "password": "correct-horse-1"})
ok(status == 403, "the token works once", body)
status, body, _ = request("GET", "/api/v1/setup")
ok(status == 200 and body == {"setup_pending": False}, "... and no longer once a user exists", body)

# ---- users (admin) ----
for user, role in [("nurse1", "nurse"), ("manager1", "manager"), ("station1", "station")]:
    status, body, _ = admin.send("POST", "/api/v1/users", {"username": user, "role": role,
                                                           "password": "password-" + user})
    ok(status == 201 and body["user"]["role"] == role, f"admin adds {user} ({role})", body)
status, body, _ = admin.send("POST", "/api/v1/users", {"username": "nurse1", "role": "nurse",
                                                       "password": "password-nurse1"})
ok(status == 409, "a duplicate user: 409", body)
status, body, _ = admin.send("POST", "/api/v1/users", {"username": "x", "role": "nurse", "password": "short"})
ok(status == 400 and body.get("field") == "password", "a short password: 400 naming the field", body)
status, body, _ = admin.send("POST", "/api/v1/users", {"username": "x2", "role": "boss", "password": "long-enough-1"})
ok(status == 400, "an unknown role: 400", body)
status, body, _ = admin.send("DELETE", "/api/v1/users/admin1")
ok(status == 409, "the last admin cannot be deleted: 409", body)
status, body, _ = admin.send("POST", "/api/v1/users", {"username": "u", "role": "nurse", "password": "p" * 12},
                             csrf=False)
ok(status == 403, "a change without the CSRF header: 403", body)
status, body, _ = admin.send("POST", "/api/v1/users", {"username": "u", "role": "nurse", "password": "p" * 12},
                             headers={"Origin": "http://evil.example"})
ok(status == 403, "a change from a foreign Origin: 403", body)
status, body, _ = admin.get("/api/v1/users")
ok(status == 200 and len(body["users"]) == 4, "admin lists 4 users", body)

nurse = login("nurse1", "password-nurse1")
manager = login("manager1", "password-manager1")
station = login("station1", "password-station1")
ok(all(isinstance(s, Session) for s in (nurse, manager, station)), "nurse, manager and station log in")

# ---- auth failures and throttling ----
status, body, _ = request("GET", "/api/v1/devices")
ok(status == 401, "no session: 401", body)
status, body, _ = request("GET", "/api/v1/devices", cookie="A" * 43)
ok(status == 401, "a made-up session: 401", body)
result = login("nurse1", "wrong-password", expect=401)
ok(isinstance(result, tuple) and result[0] == 401, "a wrong password: 401")
statuses = [login("manager1", f"wrong-{i}-password", expect=None)[0] for i in range(6)]
ok(statuses[:4] == [401] * 4 and statuses[-1] == 429, "the 6th failed login in a row is throttled", statuses)
status, body, r = request("POST", "/api/v1/login", {"username": "manager1", "password": "password-manager1"})
ok(status == 429 and int(r.getheader("Retry-After", "0")) > 0,
     "while throttled even the right password is refused, with Retry-After", (status, r.getheader("Retry-After")))

# ---- role violations ----
checks = [
    (station, "GET", "/api/v1/devices", 403), (station, "GET", "/api/v1/history", 403),
    (nurse, "GET", "/api/v1/devices", 200), (nurse, "PUT", "/api/v1/devices/meter-f1", 403),
    (nurse, "POST", "/api/v1/devices", 403), (nurse, "DELETE", "/api/v1/devices/meter-f1", 403),
    (nurse, "GET", "/api/v1/residents", 403), (nurse, "GET", "/api/v1/users", 403),
    (manager, "GET", "/api/v1/users", 403), (nurse, "GET", "/api/v1/report/response", 403),
    (nurse, "GET", "/api/v1/audit", 403), (station, "GET", "/api/v1/snapshot", 200),
    (station, "POST", "/api/v1/alarms/x/ack", 403),
]
for who, method, path, expected in checks:
    body = {"label": "x"} if method in ("PUT", "POST") else None
    status, reply, _ = who.send(method, path, body) if method != "GET" else who.get(path)
    ok(status == expected, f"{who.role} {method} {path}: {expected}", (status, reply))

# ---- bad input ----
status, body, _ = manager.send("PUT", "/api/v1/devices/meter-f1", raw=b"{not json",
                               headers={"Content-Type": "application/json"})
ok(status == 400 and "malformed JSON" in body["error"], "malformed JSON: 400 with a message", body)
status, body, _ = manager.send("PUT", "/api/v1/devices/meter-f1", raw=b"[1,2]",
                               headers={"Content-Type": "application/json"})
ok(status == 400, "a JSON array body: 400", body)
status, body, _ = manager.send("PUT", "/api/v1/devices/meter-f1", raw=b'{"label": "x"}',
                               headers={"Content-Type": "text/plain"})
ok(status == 415, "a body that is not application/json: 415", body)
status, body, _ = manager.send("PUT", "/api/v1/devices/meter-f1", raw=b'{"label": "' + b"x" * 70000 + b'"}',
                               headers={"Content-Type": "application/json"})
ok(status == 413, "a 70 kB body: 413", body)
status, body, _ = nurse.get("/api/v1/nothing")
ok(status == 404, "an unknown endpoint: 404", body)
status, body, _ = nurse.send("DELETE", "/api/v1/history")
ok(status == 405, "a wrong method: 405", body)
status, body, _ = nurse.get("/api/v1/history?colour=red")
ok(status == 400 and body.get("field") == "colour", "an unknown query parameter: 400 naming it", body)
status, body, _ = nurse.get("/api/v1/history?limit=abc")
ok(status == 400 and body.get("field") == "limit", "a non-numeric limit: 400", body)
status, body, _ = nurse.get("/api/v1/history?priority=loud")
ok(status == 400, "an unknown priority: 400", body)
status, body, _ = admin.send("POST", "/api/v1/users", {"username": "u1", "role": "nurse", "password": "p" * 12,
                                                       "shoe_size": "42"})
ok(status == 400 and body.get("field") == "shoe_size", "an unknown field: 400 naming it", body)
status, body, _ = admin.send("POST", "/api/v1/users", {"username": "u1", "role": "nurse", "password": 12345678901})
ok(status == 400 and body.get("field") == "password", "a wrong type: 400 naming the field", body)

# ---- the WebSocket feed ----


def ws_connect(session, origin=ORIGIN):
    return websocket.create_connection(f"ws://{HOST}/ws", subprotocols=["wardgate.v1"],
                                       cookie=f"wg_session={session.cookie}", origin=origin, timeout=5)


def ws_refused(**kw):
    try:
        ws = websocket.create_connection(f"ws://{HOST}/ws", subprotocols=["wardgate.v1"], timeout=5, **kw)
        ws.close()
        return False
    except Exception:
        return True


ok(ws_refused(origin=ORIGIN), "/ws without a session is refused")
ok(ws_refused(origin="http://evil.example", cookie=f"wg_session={nurse.cookie}"),
     "/ws from a foreign Origin is refused")
display = ws_connect(station)
first = json.loads(display.recv())
ok(first["type"] == "snapshot" and first["role"] == "station", "the first frame is the snapshot", first)
nurse_ws = ws_connect(nurse)
json.loads(nurse_ws.recv())


# Frames a client received that no wait has taken yet, per connection. A wait
# for one kind of frame must not throw away the others: the scripted call's
# raise can arrive while the test waits for a heartbeat (it did, on a loaded
# machine, when the display connected in the second before the call).
unclaimed = {}


def next_of(ws, kind, predicate=lambda m: True, seconds=8):
    """The first frame of `kind` matching `predicate`, received before or
    within `seconds`; None on a timeout or a closed connection."""
    kept = unclaimed.setdefault(ws, [])
    for i, m in enumerate(kept):
        if m["type"] == kind and predicate(m):
            return kept.pop(i)
    end = time.time() + seconds
    while time.time() < end:
        ws.settimeout(max(0.1, end - time.time()))
        try:
            m = json.loads(ws.recv())
        except Exception:
            return None
        if m["type"] == kind and predicate(m):
            return m
        kept.append(m)
    return None


beat = next_of(display, "heartbeat", seconds=3)
ok(beat is not None, "heartbeats arrive at least every second or two", beat)
# The scripted call may have come before this display connected (then it is
# in the snapshot) or after (then it arrives as a raise).
call = next((a for a in first["alarms"] if a["kind"] == "call"), None)
if call is None:
    raise_msg = next_of(display, "alarm", lambda m: m["phase"] == "raise")
    call = raise_msg["alarm"] if raise_msg else None
ok(call is not None and call.get("resident_label") == "王奶奶" and call.get("room") == "101",
   "the scripted call reaches the display, with room and the resident's label", call)
alarm_id = call["id"] if call else "none"

status, body, _ = station.send("POST", f"/api/v1/alarms/{alarm_id}/ack", {})
ok(status == 403, "the station account cannot acknowledge: 403", body)
status, body, _ = nurse.send("POST", f"/api/v1/alarms/{alarm_id}/reset", {})
ok(status == 409 and "origin" in body["error"], "a remote reset is refused: 409, reset at the origin", body)
nurse_ws.send(json.dumps({"type": "ack", "alarm": alarm_id, "ref": 7, "csrf": nurse.csrf}))
result = next_of(nurse_ws, "result", lambda m: m["ref"] == 7)
ok(result is not None and result["ok"] is True, "a nurse acknowledges over the WebSocket", result)
ack = next_of(display, "alarm", lambda m: m["phase"] == "ack")
ok(ack is not None and ack["alarm"]["state"] == "acknowledged" and ack["alarm"]["acknowledged_by"] == "nurse1",
     "every display sees the acknowledgement, by whom", ack)
status, body, _ = nurse.send("POST", "/api/v1/alarms/no-such-alarm/ack", {})
ok(status == 404, "acknowledging an unknown alarm: 404", body)
status, body, _ = nurse.send("POST", f"/api/v1/alarms/{alarm_id}/ack", {"note": "x"})
ok(status == 400, "ack with an unknown field: 400", body)
status, body, _ = nurse.send("POST", f"/api/v1/alarms/{alarm_id}/ack", {})
ok(status == 409 and "already acknowledged" in body["error"],
   "acknowledging it again (no re-annunciation yet): 409", body)
status, body, _ = station.get("/api/v1/alarms")
ok(status == 200 and any(a["id"] == alarm_id for a in body["alarms"]), "GET /alarms lists it")

# garbage, flood and oversized frames close only the offender
bad = ws_connect(nurse)
bad.recv()
bad.send("this is not json")
closed = next_of(bad, "never", seconds=3) is None
ok(closed, "a client sending garbage is closed")
flooder = ws_connect(nurse)
flooder.recv()
try:
    for i in range(30):
        flooder.send(json.dumps({"type": "ack", "alarm": "nope", "ref": i, "csrf": nurse.csrf}))
except Exception:
    pass
ok(next_of(flooder, "never", seconds=3) is None, "a client sending 30 frames at once is closed")
big = ws_connect(nurse)
big.recv()
try:
    big.send(json.dumps({"type": "ack", "alarm": "x" * 2000, "csrf": nurse.csrf}))
except Exception:
    pass
ok(next_of(big, "never", seconds=3) is None, "a client sending a 2 kB frame is closed")
now_ms = time.time() * 1000  # the daemon's clock is this host's: only a heartbeat sent from now on counts
ok(next_of(display, "heartbeat", lambda m: m["ts_ms"] >= now_ms, seconds=3) is not None,
   "the other display still gets its feed")
log = daemon.read_log()
ok("unexpected frame" in log and "too many frames" in log and "frame over 1 KiB" in log,
     "each closure is logged with its reason")

# 20 acknowledgements outstanding on one WebSocket: sent in one TCP write, so
# the web thread has passed all 20 to the core before the first answer is
# back (it used to keep 8, and lost the answers of the rest). Each gets its
# own result: the real alarm is already acknowledged (409), the others are
# unknown.
acker = ws_connect(nurse)
acker.recv()
frames = [websocket.ABNF.create_frame(json.dumps({"type": "ack", "alarm": alarm_id if ref == 0 else f"gone-{ref}",
                                                  "ref": ref, "csrf": nurse.csrf}), websocket.ABNF.OPCODE_TEXT)
          for ref in range(20)]
acker.sock.sendall(b"".join(frame.format() for frame in frames))
results = {}
for _ in range(20):
    m = next_of(acker, "result", seconds=10)
    if m is None:
        break
    results[m["ref"]] = m
ok(sorted(results) == list(range(20)), "20 outstanding acknowledgements on one WebSocket: 20 results",
   sorted(results))
ok(all(r["ok"] is False and r.get("error") for r in results.values()),
   "... each refused with its own reason (acknowledged already, no such alarm)",
   [r.get("error") for r in results.values()][:3])
ok(next_of(acker, "heartbeat", seconds=3) is not None, "... and that WebSocket stays open")
acker.close()

# ---- history, report, audit ----
# The journal is written by the store writer, a moment after the core acts.
wait_until(lambda: len(nurse.get(f"/api/v1/history?kind=alarm&alarm={alarm_id}")[1].get("events", [])) >= 2, 10)
status, body, _ = nurse.get(f"/api/v1/history?kind=alarm&alarm={alarm_id}")
ok(status == 200 and [e["body"]["phase"] for e in body["events"]] == ["ack", "raise"],
     "history filters by kind and alarm, newest first", body if status != 200 else [e["body"]["phase"] for e in body["events"]])
status, body, r = nurse.get("/api/v1/history?format=csv&kind=alarm")
ok(status == 200 and body.startswith(b"\xef\xbb\xbfseq,time,event,priority") and
   "attachment" in (r.getheader("Content-Disposition") or ""),
   "history as a CSV download, with a UTF-8 BOM for Excel", body[:80])
status, body, _ = nurse.get("/api/v1/history?limit=2")
ok(status == 200 and len(body["events"]) == 2 and "next_before" in body, "history pages with next_before")
status, body2, _ = nurse.get(f"/api/v1/history?limit=2&before={body.get('next_before', 0)}")
ok(status == 200 and body2["events"] and body2["events"][0]["seq"] < body["events"][-1]["seq"],
     "the next page continues below")
status, body, _ = manager.get("/api/v1/report/response?days=1")
ok(status == 200 and "shifts" in body, "the response report", body if status != 200 else "")
wait_until(lambda: "alarm.reset_refused" in [e["action"] for e in manager.get("/api/v1/audit")[1].get("entries", [])], 10)
status, body, _ = manager.get("/api/v1/audit")
actions = [e["action"] for e in body.get("entries", [])] if status == 200 else []
ok("alarm.ack" in actions and "alarm.reset_refused" in actions,
     "acknowledgements and the refused reset are audited", actions)
ok(all(e["actor"] for e in body.get("entries", [])), "every audit entry names its actor")

# ---- devices, residents, beds: edits to the config file ----
status, body, _ = nurse.get("/api/v1/devices")
ok(status == 200 and len(body["devices"]) == 8 and "values" in body["devices"][0], "the device list, with values")
status, body, _ = nurse.get("/api/v1/meta")
ok(status == 200 and body["buses"][0]["id"] == "sim1" and body["profiles"], "meta lists buses, profiles, rooms")
status, body, _ = manager.send("PUT", "/api/v1/devices/meter-f1",
                               {"label": "一楼总表", "bus": "sim1", "address": 7, "profile": "eastron-sdm120",
                                "room": "101", "poll_ms": 5000})
ok(status == 200 and body["device"]["label"] == "一楼总表" and body["device"]["poll_ms"] == 5000,
     "a manager edits a device; the running daemon has it", body)
with open(config, encoding="utf-8") as f:
    now_text = f.read()
ok("一楼总表" in now_text and os.path.exists(config + ".prev") and
     open(config + ".prev", encoding="utf-8").read() == original_config,
     "the file has the change and the previous version is kept")
status, body, _ = manager.send("PUT", "/api/v1/devices/meter-f1",
                               {"label": "x", "bus": "sim1", "address": 7, "profile": "no-such-profile"})
ok(status == 422 and body.get("details"), "an unknown profile: 422 with the loader's messages", body)
problem = (body.get("details") or [{}])[0] if isinstance(body, dict) else {}
ok(problem.get("field") == "profile" and problem.get("code") == "unknown_profile"
   and problem.get("args") == {"key": "profile", "value": "no-such-profile",
                               "profile": "no-such-profile"}
   and "no-such-profile" in problem.get("message", ""),
   "... each a field, a code and arguments the UI words, and the English message", body)
ok(TMP not in json.dumps(body, ensure_ascii=False), "... with no server path in the reply", body)
ok(TMP in daemon.read_log() and "config edit refused: " in daemon.read_log(),
   "... while the log keeps file:line of the real file")
with open(config, encoding="utf-8") as f:
    ok(f.read() == now_text, "... and the file is unchanged")
status, body, _ = manager.send("PUT", "/api/v1/devices/meter-f1", {"lable": "typo"})
ok(status == 400 and body.get("field") == "lable", "an unknown device field: 400", body)
status, body, _ = manager.send("POST", "/api/v1/devices",
                               {"id": "call-102B", "bus": "sim1", "address": 9, "profile": "call-point",
                                "room": "102"})
ok(status == 201, "a manager adds a device", body)
status, body, _ = manager.send("DELETE", "/api/v1/devices/call-102B")
ok(status == 200 and nurse.get("/api/v1/devices/call-102B")[0] == 404, "... and removes it", body)
# A change the loader accepts but the sim driver refuses at the reload (its
# script names the device): 422 with the driver's words, and the previous
# file is back (a worker put it back; the core thread only reloaded).
with open(config, encoding="utf-8") as f:
    before_refusal = f.read()
status, body, _ = manager.send("DELETE", "/api/v1/devices/call-101A")
ok(status == 422 and "drivers refused" in body.get("error", "") and
   any(d.get("code") == "driver_refused" and "call-101A" in d.get("message", "") for d in body.get("details", [])),
   "a change the driver refuses at the reload: 422 with its reason", body)
with open(config, encoding="utf-8") as f:
    ok(f.read() == before_refusal, "... and the file is as it was")
ok(nurse.get("/api/v1/devices/call-101A")[0] == 200, "... and the device is still there")
status, body, _ = manager.send("PUT", "/api/v1/residents/R-0002",
                               {"label": "李爷爷", "bed": "102-A", "care_level": 3, "risks": ["wandering", "fall"],
                                "night": "20:00-06:30"})
ok(status == 200 and body["resident"]["fall_risk"] and body["resident"]["night"] == "20:00-06:30",
     "a manager edits a resident's risks and night window", body)
status, body, _ = manager.send("PUT", "/api/v1/residents/R-0001",
                               {"bed": "102-A", "care_level": 3, "risks": ["fall"]})
problem = (body.get("details") or [{}])[0] if isinstance(body, dict) else {}
ok(status == 422 and body.get("field") == "bed" and problem.get("code") == "bed_taken"
   and problem.get("args", {}).get("resident") == "R-0002"
   and problem.get("args", {}).get("occupant") == "李爷爷" and "R-0002" in body.get("error", ""),
   "moving a resident into an occupied bed names the occupant, not the resident moved", body)
status, body, _ = manager.send("PUT", "/api/v1/rooms/102/beds", {"beds": ["A", "B"]})
ok(status == 200 and body["room"]["beds"] == ["A", "B"], "a manager adds a bed to a room", body)

# Three changes at once: made one after the other, each answered, all kept.
import threading  # noqa: E402
answers = {}


def change(label):
    answers[label] = manager.send("PUT", "/api/v1/devices/meter-f1",
                                  {"label": label, "bus": "sim1", "address": 7,
                                   "profile": "eastron-sdm120", "room": "101"})[0]


workers = [threading.Thread(target=change, args=(f"表{i}",)) for i in range(3)]
for w in workers:
    w.start()
for w in workers:
    w.join()
ok(sorted(answers.values()) == [200, 200, 200], "three changes at once: each answered 200", answers)
with open(config, encoding="utf-8") as f:
    text_now = f.read()
final_label = [lbl for lbl in answers if lbl in text_now]
ok(len(final_label) == 1 and nurse.get("/api/v1/devices/meter-f1")[1]["device"]["label"] == final_label[0],
   "... the file and the running daemon agree on the last one", final_label)
status, body, _ = manager.get("/api/v1/audit")
actions = [e["action"] for e in body.get("entries", [])]
ok(all(a in actions for a in ["device.update", "device.add", "device.delete", "resident.update", "room.beds"]),
     "configuration changes are audited", actions)
# Audit rows are written by the store writer, a moment after the reply.
wanted = ["device.update", "device.add", "device.delete", "resident.update", "room.beds"]
actions = []


def audited():
    global actions
    status, body, _ = manager.get("/api/v1/audit")
    actions = [e["action"] for e in body.get("entries", [])] if status == 200 else []
    return all(a in actions for a in wanted)


ok(wait_until(audited, 10), "configuration changes are audited", actions)

# ---- logout ----
status, body, r = nurse.send("POST", "/api/v1/logout", {})
ok(status == 200 and "Max-Age=0" in (r.getheader("Set-Cookie") or ""), "logout clears the cookie")
status, body, _ = nurse.get("/api/v1/devices")
ok(status == 401, "the session is gone after logout", body)

status, body, _ = request("GET", "/healthz")
ok(status == 200, "the daemon is healthy after all of it")
daemon.stop()
ok(daemon.process.returncode == 0, "it stops cleanly", daemon.process.returncode)
done()
