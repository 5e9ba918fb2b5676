#!/usr/bin/python3
"""sd_notify as systemd sees it: a datagram socket set as NOTIFY_SOCKET with
WATCHDOG_USEC receives READY=1 and STATUS once the drivers run, WATCHDOG=1 at
half the interval, RELOADING=1 then READY=1 on SIGHUP (also when the reload is
refused), and STOPPING=1 on SIGTERM. Prints TAP."""
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

root = os.environ.get("WG_ROOT", os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
build = os.environ.get("BUILD", "build")
n = 0


def tap(ok, text):
    global n
    n += 1
    print(("ok" if ok else "not ok"), n, "-", text, flush=True)


def make_config(path):
    template = open(os.path.join(root, "tests/integration/fixtures/small.yaml.in"), encoding="utf-8").read()
    open(path, "w", encoding="utf-8").write(template.replace("@ROOT@", root).replace("@SCRIPT@\n", ""))


def receive(sock, until, wanted):
    """Collects datagrams until one contains `wanted` or the deadline passes."""
    seen = []
    while time.monotonic() < until:
        sock.settimeout(max(0.01, until - time.monotonic()))
        try:
            data = sock.recv(4096).decode()
        except socket.timeout:
            break
        seen.append(data)
        if wanted in data:
            break
    return seen


with tempfile.TemporaryDirectory() as tmp:
    config = os.path.join(tmp, "site.yaml")
    make_config(config)
    sock_path = os.path.join(tmp, "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(sock_path)
    env = dict(os.environ, NOTIFY_SOCKET=sock_path, WATCHDOG_USEC="400000")
    daemon = subprocess.Popen([os.path.join(root, build, "wardgated"), "-c", config, "--db", os.path.join(tmp, "db"),
                               "--plugin-dir", os.path.join(root, build, "plugins")],
                              env=env, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL)
    env["WATCHDOG_PID"] = str(daemon.pid)
    try:
        seen = receive(sock, time.monotonic() + 10, "READY=1")
        ready = [m for m in seen if "READY=1" in m]
        tap(bool(ready), "READY=1 once the drivers have started")
        tap(bool(ready) and "STATUS=" in ready[0], "READY comes with a STATUS line: %r" % (ready[0] if ready else None))

        start = time.monotonic()
        seen = []
        while time.monotonic() - start < 1.2:
            seen += receive(sock, time.monotonic() + 0.3, "\0never")
        pings = [m for m in seen if m == "WATCHDOG=1"]
        tap(len(pings) >= 4, "WATCHDOG=1 at half of WATCHDOG_USEC (%d pings in 1.2 s for 0.4 s)" % len(pings))

        daemon.send_signal(signal.SIGHUP)
        seen = receive(sock, time.monotonic() + 5, "READY=1")
        tap(any("RELOADING=1" in m for m in seen), "RELOADING=1 on SIGHUP")
        tap(any("READY=1" in m for m in seen), "READY=1 after the reload")

        with open(config, "a", encoding="utf-8") as f:
            f.write("nonsense_key: 1\n")
        daemon.send_signal(signal.SIGHUP)
        seen = receive(sock, time.monotonic() + 5, "READY=1")
        refused = [m for m in seen if "READY=1" in m]
        tap(bool(refused) and "refused" in refused[0], "a refused reload still answers READY=1, with a STATUS saying so")

        daemon.send_signal(signal.SIGTERM)
        seen = receive(sock, time.monotonic() + 10, "STOPPING=1")
        tap(any("STOPPING=1" in m for m in seen), "STOPPING=1 on SIGTERM")
        rc = daemon.wait(timeout=10)
        tap(rc == 0, "exit code 0 after SIGTERM (got %s)" % rc)
    finally:
        if daemon.poll() is None:
            daemon.kill()
            daemon.wait()
        err = daemon.stderr.read().decode(errors="replace")
        for line in err.splitlines()[-5:]:
            print("#", line)
print("1..%d" % n)
