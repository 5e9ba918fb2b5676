"""Shared pieces of the Modbus integration tests (imported, not run).

TAP output, a scratch directory, free loopback ports, the pymodbus slave
(tests/modbus/slave.py) over TCP or over a socat pty pair (RTU), wardgated
started on a generated config, and reading its SQLite journal.
"""
import atexit
import json
import os
import shutil
import signal
import socket
import sqlite3
import struct
import subprocess
import sys
import tempfile
import time

ROOT = os.environ.get("WG_ROOT") or os.path.abspath(os.path.join(os.path.dirname(__file__), "../.."))
BUILD = os.path.join(ROOT, os.environ.get("BUILD", "build"))
WARDGATED = os.path.join(BUILD, "wardgated")
PLUGINS = os.path.join(BUILD, "plugins")
SLAVE = os.path.join(ROOT, "tests/modbus/slave.py")
PYTHON = "/usr/bin/python3"  # Debian's, which sees python3-pymodbus

TMP = tempfile.mkdtemp(prefix="wgmb.")
_children = []
_count = 0
_failed = 0


def _cleanup():
    for child in _children:
        if child.poll() is None:
            child.kill()
            child.wait()
    shutil.rmtree(TMP, ignore_errors=True)


atexit.register(_cleanup)


def ok(condition, description, diagnostic=""):
    global _count, _failed
    _count += 1
    if condition:
        print(f"ok {_count} - {description}", flush=True)
    else:
        _failed += 1
        print(f"not ok {_count} - {description}", flush=True)
        for line in str(diagnostic).splitlines()[:30]:
            print(f"#   {line}", flush=True)
    return condition


def note(text):
    for line in str(text).splitlines():
        print(f"# {line}", flush=True)


def done():
    print(f"1..{_count}", flush=True)
    sys.exit(1 if _failed else 0)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(predicate, seconds=10.0, step=0.05):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    return predicate()


# ---- register encodings, written independently of the C decoder ----------------------------

def f32(value, order="abcd"):
    """Two registers holding an IEEE 754 float in the given byte/word order."""
    big = struct.pack(">f", value)
    words = {"abcd": big, "cdab": big[2:] + big[:2], "badc": big[1::-1] + big[3:1:-1],
             "dcba": big[::-1]}[order]
    return [words[0] << 8 | words[1], words[2] << 8 | words[3]]


def u32(value, order="abcd"):
    value &= 0xFFFFFFFF
    return [value >> 16, value & 0xFFFF] if order == "abcd" else [value & 0xFFFF, value >> 16]


# ---- the slave ------------------------------------------------------------------------------

class Slave:
    """pymodbus serving `units` (the image's "units" map) over TCP or RTU."""

    def __init__(self, units, rtu=False, name="slave"):
        self.name = name
        self.image = os.path.join(TMP, f"{name}.json")
        with open(self.image, "w", encoding="utf-8") as f:
            json.dump({"units": units}, f)
        self.control_port = free_port()
        self.log = open(os.path.join(TMP, f"{name}.log"), "w", encoding="utf-8")
        self.socat = None
        if rtu:
            self.pty_slave = os.path.join(TMP, f"{name}-ttySIM")
            self.pty_gateway = os.path.join(TMP, f"{name}-ttyGW")
            self.socat = subprocess.Popen(
                ["socat", "-d", "-d", f"pty,raw,echo=0,link={self.pty_slave}",
                 f"pty,raw,echo=0,link={self.pty_gateway}"], stderr=self.log)
            _children.append(self.socat)
            wait_until(lambda: os.path.exists(self.pty_slave) and os.path.exists(self.pty_gateway))
            where = ["--rtu", self.pty_slave]
        else:
            self.port = free_port()
            where = ["--tcp", str(self.port)]
        self.process = subprocess.Popen(
            [PYTHON, SLAVE, "--image", self.image, "--control", str(self.control_port)] + where,
            stdout=self.log, stderr=self.log)
        _children.append(self.process)
        self.sock = None
        if not wait_until(self._connect, 15):
            raise RuntimeError(f"{name}: pymodbus did not start: {self.read_log()}")
        if not rtu:
            wait_until(lambda: self._port_open(self.port), 10)

    @staticmethod
    def _port_open(port):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return True
        except OSError:
            return False

    def _connect(self):
        try:
            self.sock = socket.create_connection(("127.0.0.1", self.control_port), timeout=5)
            self.reader = self.sock.makefile("r")
            return True
        except OSError:
            return False

    def read_log(self):
        self.log.flush()
        with open(self.log.name, encoding="utf-8", errors="replace") as f:
            return f.read()[-3000:]

    def command(self, text):
        self.sock.sendall((text + "\n").encode())
        reply = self.reader.readline().strip()
        if reply.startswith("error"):
            raise RuntimeError(f"{self.name}: {text}: {reply}")
        return reply

    def set(self, unit, table, address, values):
        values = values if isinstance(values, list) else [values]
        self.command(f"set {unit} {table} {address} " + " ".join(str(int(v)) for v in values))

    def get(self, unit, table, address, count=1):
        return [int(v) for v in self.command(f"get {unit} {table} {address} {count}").split()]

    def counts(self):
        return json.loads(self.command("counts"))

    def times(self, unit):
        reply = self.command(f"times {unit}")
        return [float(t) for t in reply.split()] if reply else []

    def probes(self, unit):
        """Times of the requests a silenced unit left unanswered."""
        reply = self.command(f"probes {unit}")
        return [float(t) for t in reply.split()] if reply else []

    def stop(self):
        for child in (self.process, self.socat):
            if child and child.poll() is None:
                child.terminate()
                child.wait(5)


# ---- the daemon -----------------------------------------------------------------------------

CONFIG_HEAD = """web: {{enabled: false}}
site:
  id: modbus-test
  name: Modbus test home
  district: test-district
  timezone: Asia/Shanghai
  night: "21:00-07:00"
log:
  level: info
profiles:
  - "{root}/config/profiles/*.yaml"
zones:
  - id: f1
    name: floor 1
    floor: 1
    rooms:
      - {{id: "101", kind: resident, beds: [A]}}
      - {{id: kitchen, kind: kitchen}}
residents:
  - {{id: R-0001, bed: 101-A, care_level: 2, risks: []}}
"""


def write_config(name, body, extra_profiles=()):
    """Writes a config: the common head (site, zones, shipped profiles) and `body`."""
    path = os.path.join(TMP, f"{name}.yaml")
    head = CONFIG_HEAD.format(root=ROOT)
    for profile in extra_profiles:
        head = head.replace("profiles:\n", f"profiles:\n  - \"{profile}\"\n", 1)
    with open(path, "w", encoding="utf-8") as f:
        f.write(head + body)
    return path


class Daemon:
    def __init__(self, config, name="wardgated", extra=(), prefix=()):
        self.prefix = list(prefix)  # e.g. valgrind and its options
        self.db = os.path.join(TMP, f"{name}.db")
        self.log_path = os.path.join(TMP, f"{name}.log")
        self.config = config
        self.extra = list(extra)
        self.process = None

    def start(self):
        self.log = open(self.log_path, "a", encoding="utf-8")
        self.process = subprocess.Popen(
            self.prefix + [WARDGATED, "-c", self.config, "--db", self.db, "--plugin-dir", PLUGINS] + self.extra,
            stdout=self.log, stderr=self.log)
        _children.append(self.process)
        return self

    def wait_log(self, text, seconds=10):
        return wait_until(lambda: text in self.read_log(), seconds)

    def read_log(self):
        try:
            with open(self.log_path, encoding="utf-8", errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def stop(self, sig=signal.SIGTERM):
        if self.process and self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode

    def alive(self):
        return self.process is not None and self.process.poll() is None

    def query(self, sql, *args):
        if not os.path.exists(self.db):
            return []  # not created yet
        db = sqlite3.connect(f"file:{self.db}?mode=ro", uri=True, timeout=5)
        try:
            return db.execute(sql, args).fetchall()
        except sqlite3.OperationalError as e:
            if "no such table" in str(e):
                return []  # the file exists but the daemon has not migrated it yet
            raise
        finally:
            db.close()

    def events(self, kind=None, device=None):
        sql = "SELECT kind, device, body FROM events WHERE 1=1"
        args = []
        if kind:
            sql += " AND kind = ?"
            args.append(kind)
        if device:
            sql += " AND device = ?"
            args.append(device)
        return [(k, d, json.loads(b)) for k, d, b in self.query(sql + " ORDER BY seq", *args)]


def check(config_path):
    """Runs wardgated --check; returns (exit code, output)."""
    result = subprocess.run([WARDGATED, "-c", config_path, "--check", "--plugin-dir", PLUGINS],
                            capture_output=True, text=True, timeout=30)
    return result.returncode, result.stdout + result.stderr
