"""A station display for the integration tests (imported, not run): logs in
over HTTP, keeps the WebSocket feed open in a thread and every frame with the
monotonic time it arrived, and connects again when the gateway closes it, as
the real page does (docs/api.md). python3-websocket (Debian)."""
import http.client
import json
import os
import subprocess
import threading
import time

import websocket


def add_user(wardgated, config, db, plugins, directory, username, password, role="station"):
    """Adds a web user to the database before the daemon starts."""
    password_file = os.path.join(directory, f"{username}.password")
    with open(password_file, "w") as f:
        f.write(password + "\n")
    subprocess.run([wardgated, "-c", config, "--db", db, "--plugin-dir", plugins, "--add-user", username,
                    "--role", role, "--password-file", password_file], check=True, capture_output=True)


class Display:
    def __init__(self, port, username, password, connect_s=30):
        self.port, self.username, self.password = port, username, password
        self.frames = []
        self.reconnects = 0
        self.lock = threading.Lock()
        self.running = True
        self.ws = None
        deadline = time.monotonic() + connect_s
        while True:
            try:
                self._connect()
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(1)
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _connect(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        conn.request("POST", "/api/v1/login", json.dumps({"username": self.username, "password": self.password}),
                     {"Content-Type": "application/json"})
        r = conn.getresponse()
        r.read()
        cookie = (r.getheader("Set-Cookie") or "").split(";")[0]
        conn.close()
        self.ws = websocket.create_connection(f"ws://127.0.0.1:{self.port}/ws", subprotocols=["wardgate.v1"],
                                              cookie=cookie, origin=f"http://127.0.0.1:{self.port}", timeout=10)
        self.ws.settimeout(None)  # blocking reads: a timeout in the middle of a frame would lose it

    def _read(self):
        while self.running:
            try:
                frame = json.loads(self.ws.recv())  # "" once the gateway closed the socket
            except Exception:
                if not self.running:
                    break
                try:
                    time.sleep(0.5)
                    self._connect()
                    self.reconnects += 1
                except Exception:
                    pass
                continue
            with self.lock:
                self.frames.append((time.monotonic(), frame))

    def find(self, predicate, after=0.0):
        """The first (time, frame) received at or after `after` that matches, or None."""
        with self.lock:
            return next(((t, m) for t, m in self.frames if t >= after and predicate(m)), None)

    def wait(self, predicate, seconds=10, after=0.0):
        deadline = time.monotonic() + seconds
        while True:
            found = self.find(predicate, after)
            if found or time.monotonic() > deadline:
                return found
            time.sleep(0.01)

    def close(self):
        self.running = False
        try:
            self.ws.shutdown()
        except Exception:
            pass
        self.thread.join(2)


def is_raise_of(device, journaled=None):
    """A raise delta of the device's alarm; journaled True, False or None (either)."""
    return lambda m: (m.get("type") == "alarm" and m.get("phase") == "raise" and
                      m["alarm"].get("device") == device and
                      (journaled is None or m["alarm"].get("journaled") is journaled))
