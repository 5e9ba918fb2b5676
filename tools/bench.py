#!/usr/bin/python3
"""`make bench`: measures the daemon on this machine and prints a Markdown
table (append it to docs/benchmarks.md with the machine and date).

Figures (medians over repeated runs; this machine is shared and noisy):
  - start to READY=1 with the demo facility (319 devices), via NOTIFY_SOCKET;
  - idle RSS and CPU of the demo facility after it settles;
  - journal throughput: events/s the store writer commits during a burst of
    point changes (the burst is faster than the writer; its memory bound
    drops the rest, see docs/storage.md).
"""
import os
import platform
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.environ.get("BUILD", "build")
DAEMON = os.path.join(ROOT, BUILD, "wardgated")
PLUGINS = os.path.join(ROOT, BUILD, "plugins")
RUNS = int(os.environ.get("BENCH_RUNS", "5"))


def start(config, db, env_extra=None, log=subprocess.DEVNULL):
    env = dict(os.environ, **(env_extra or {}))
    return subprocess.Popen([DAEMON, "-c", config, "--db", db, "--plugin-dir", PLUGINS, "-l", "notice"],
                            env=env, stdout=subprocess.DEVNULL, stderr=log)


def start_to_ready(tmp):
    sock_path = os.path.join(tmp, "notify.sock")
    if os.path.exists(sock_path):
        os.unlink(sock_path)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(sock_path)
    sock.settimeout(10)
    db = os.path.join(tmp, "ready.db")
    t0 = time.monotonic()
    proc = start(os.path.join(ROOT, "config/facility.yaml"), db, {"NOTIFY_SOCKET": sock_path})
    while True:
        msg = sock.recv(4096).decode()
        if "READY=1" in msg:
            break
    elapsed = time.monotonic() - t0
    proc.terminate()
    proc.wait()
    sock.close()
    return elapsed * 1000


def proc_stat(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime, in clock ticks


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        return int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1))


def idle_demo(tmp, settle=5, window=10):
    proc = start(os.path.join(ROOT, "config/facility.yaml"), os.path.join(tmp, "idle.db"))
    time.sleep(settle)
    ticks0, t0 = proc_stat(proc.pid), time.monotonic()
    time.sleep(window)
    ticks1, t1 = proc_stat(proc.pid), time.monotonic()
    rss = rss_kib(proc.pid)
    proc.terminate()
    proc.wait()
    cpu = (ticks1 - ticks0) / os.sysconf("SC_CLK_TCK") / (t1 - t0) * 100
    return rss / 1024, cpu


def burst(tmp, toggles=200000):
    template = open(os.path.join(ROOT, "tests/integration/fixtures/small.yaml.in"), encoding="utf-8").read()
    script = ("      script:\n        - {at_ms: 0, device: call-101A, point: call, value: 1, repeat: %d}\n" % toggles)
    config = os.path.join(tmp, "burst.yaml")
    open(config, "w", encoding="utf-8").write(template.replace("@ROOT@", ROOT).replace("@SCRIPT@\n", script))
    db = os.path.join(tmp, "burst.db")
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(db + suffix):
            os.unlink(db + suffix)
    proc = start(config, db)
    t0 = time.monotonic()
    # Count journal rows until they stop coming (the store writer is done:
    # what a burst faster than it brings beyond its memory bound is dropped,
    # and logged) or the burst is in (or 60 s); the rate is up to the last one.
    import sqlite3
    count, last_count, last_change = 0, -1, t0
    while time.monotonic() - t0 < 60:
        time.sleep(0.5)
        try:
            con = sqlite3.connect(db, timeout=5)
            count = con.execute("select count(*) from events where kind='point'").fetchone()[0]
            con.close()
        except sqlite3.Error:
            continue
        if count != last_count:
            last_count, last_change = count, time.monotonic()
        if count >= toggles or time.monotonic() - last_change >= 2:
            break
    elapsed = last_change - t0
    proc.terminate()
    proc.wait()
    return count / elapsed


def main():
    with tempfile.TemporaryDirectory() as tmp:
        ready = [start_to_ready(tmp) for _ in range(RUNS)]
        idle = [idle_demo(tmp) for _ in range(3)]
        rates = [burst(tmp) for _ in range(3)]
    cpu_model = "unknown"
    try:
        cpu_model = re.search(r"model name\s*:\s*(.*)", open("/proc/cpuinfo").read()).group(1)
    except (OSError, AttributeError):
        pass
    print("### %s, %s, %d cores (%s), kernel %s" % (time.strftime("%Y-%m-%d"), platform.node(), os.cpu_count(),
                                                  cpu_model, platform.release()))
    print()
    print("| figure | median | runs | target (DESIGN.md) |")
    print("|---|---|---|---|")
    print("| demo facility (319 devices): start to READY=1 | %.0f ms | %s | < 300 ms |"
          % (statistics.median(ready), ", ".join("%.0f" % r for r in ready)))
    print("| demo facility idle RSS after 15 s | %.1f MiB | %s | < 16 MB |"
          % (statistics.median(r for r, _ in idle), ", ".join("%.1f" % r for r, _ in idle)))
    print("| demo facility CPU (10 s window) | %.1f %% of one core | %s | - |"
          % (statistics.median(c for _, c in idle), ", ".join("%.1f" % c for _, c in idle)))
    print("| journal: point events committed per second (burst, synchronous=FULL) | %.0f /s | %s | - |"
          % (statistics.median(rates), ", ".join("%.0f" % r for r in rates)))


if __name__ == "__main__":
    sys.exit(main())
