#!/usr/bin/python3
"""Modbus benchmark: 1,000 Modbus TCP devices x 20 registers, polled once a second.

The devices are served by pymodbus (tests/modbus/slave.py) in separate
processes: 4 TCP endpoints x 250 unit ids, as behind four Modbus TCP
gateways. The daemon has one bus (one thread) per endpoint. Reported: the
daemon's own CPU (% of one core) and RSS after it settles, the request rate
the slaves actually served (to prove the load was there), and the slaves'
CPU for reference. Medians over BENCH_RUNS runs.
"""
import json
import os
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
SLAVE = os.path.join(ROOT, "tests/modbus/slave.py")
ENDPOINTS, UNITS, REGISTERS = 4, 250, 20
SETTLE_S, WINDOW_S = 10, 30
TICKS = os.sysconf("SC_CLK_TCK")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def control(port, command):
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall((command + "\n").encode())
        return s.makefile().readline().strip()


def write_files(tmp, ports):
    profile = os.path.join(tmp, "bench-20.yaml")
    with open(profile, "w") as f:
        f.write("id: bench-20\nvendor: bench\nmodel: 20 holding registers\npoints:\n")
        for r in range(REGISTERS):
            f.write(f"  - {{name: r{r}, meaning: voltage, unit: V, "
                    f"source: {{function: 3, address: {r}, scale: 0.1}}}}\n")
    image = os.path.join(tmp, "image.json")
    with open(image, "w") as f:
        json.dump({"units": {str(u): {"size": 32, "hr": {"0": list(range(2200, 2200 + REGISTERS))}}
                             for u in range(1, UNITS + 1)}}, f)
    config = os.path.join(tmp, "bench.yaml")
    with open(config, "w") as f:
        f.write(f"""site: {{id: bench, name: bench, district: bench}}
log: {{level: notice}}
web: {{enabled: false}}
profiles: ["{profile}"]
zones:
  - id: f1
    name: floor
    floor: 1
    rooms: [{{id: "101", kind: resident, beds: [A]}}]
buses:
""")
        for e, (port, _) in enumerate(ports):
            f.write(f"  - {{id: tcp{e}, driver: modbus-tcp, settings: {{host: 127.0.0.1, port: {port}}}}}\n")
        f.write("devices:\n")
        for e in range(ENDPOINTS):
            for u in range(1, UNITS + 1):
                f.write(f"  - {{id: m{e}-{u}, bus: tcp{e}, address: {u}, profile: bench-20, "
                        f"poll_ms: 1000}}\n")
    return image, config


def one_run(tmp):
    ports = [(free_port(), free_port()) for _ in range(ENDPOINTS)]
    image, config = write_files(tmp, ports)
    slaves = [subprocess.Popen(["/usr/bin/python3", SLAVE, "--image", image, "--tcp", str(p),
                                "--control", str(c)], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL) for p, c in ports]
    try:
        for _, c in ports:
            for _ in range(200):
                try:
                    control(c, "reset")
                    break
                except OSError:
                    time.sleep(0.05)
        db = os.path.join(tmp, f"bench-{time.monotonic_ns()}.db")
        daemon = subprocess.Popen([DAEMON, "-c", config, "--db", db, "--plugin-dir", PLUGINS,
                                   "-l", "notice"], stdout=subprocess.DEVNULL,
                                  stderr=open(os.path.join(tmp, "daemon.log"), "a"))
        time.sleep(SETTLE_S)
        for _, c in ports:
            control(c, "reset")
        t0, d0 = time.monotonic(), cpu_ticks(daemon.pid)
        s0 = sum(cpu_ticks(s.pid) for s in slaves)
        time.sleep(WINDOW_S)
        elapsed = time.monotonic() - t0
        daemon_cpu = (cpu_ticks(daemon.pid) - d0) / TICKS / elapsed * 100
        slave_cpu = (sum(cpu_ticks(s.pid) for s in slaves) - s0) / TICKS / elapsed * 100
        requests = sum(sum(json.loads(control(c, "counts")).values()) for _, c in ports)
        rss = rss_kib(daemon.pid)
        alive = daemon.poll() is None
        daemon.terminate()
        daemon.wait(30)
        return {"cpu": daemon_cpu, "rss_mib": rss / 1024, "req_s": requests / elapsed,
                "slave_cpu": slave_cpu, "alive": alive}
    finally:
        for s in slaves:
            s.kill()
            s.wait()


def main():
    runs = int(os.environ.get("BENCH_RUNS", "3"))
    with tempfile.TemporaryDirectory() as tmp:
        results = [one_run(tmp) for _ in range(runs)]
    for r in results:
        print(f"# run: daemon {r['cpu']:.1f} % CPU, {r['rss_mib']:.1f} MiB RSS, "
              f"{r['req_s']:.0f} requests/s served, slaves {r['slave_cpu']:.0f} % CPU", flush=True)
    median = {k: statistics.median(r[k] for r in results) for k in ("cpu", "rss_mib", "req_s",
                                                                     "slave_cpu")}
    print(f"| Modbus TCP: {ENDPOINTS * UNITS} devices x {REGISTERS} registers at 1 s "
          f"({ENDPOINTS} endpoints x {UNITS} units) | daemon CPU {median['cpu']:.1f} % of one core "
          f"(target < 15 %), RSS {median['rss_mib']:.1f} MiB (target < 32 MB); "
          f"{median['req_s']:.0f} requests/s served (1,000 wanted); pymodbus slaves "
          f"{median['slave_cpu']:.0f} % | median of {runs} |")
    if not all(r["alive"] for r in results):
        print("daemon died during the run", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
