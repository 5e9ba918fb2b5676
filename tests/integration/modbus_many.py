#!/usr/bin/python3
"""Many Modbus TCP endpoints on the driver's one I/O thread (about 60 s).

200 pymodbus servers on loopback ports (tests/modbus/farm.py, two processes
of 100), one device each, each its own `modbus-tcp` bus, 20 holding
registers read every second; beside them eight endpoints that misbehave one
way each (tests/modbus/tcp_rogue.py).

1. Every device is read, on its grid: its reads keep one phase (median
   distance from it at most a tenth of the period; a late poll on a loaded
   machine is allowed) and two polls never come back to back; the devices'
   phases are spread over the period rather than all at one instant.
2. The daemon runs a handful of threads, not one per endpoint.
3. Bad input on the reactor path is named, with the device, in the log and
   in the device's health: a reply under another transaction id or from
   another unit (dropped, never taken for the reply), a reply cut short, a
   frame longer than Modbus TCP allows, an exception reply, a peer that
   closes mid-reply, one that never answers, one that refuses connections.
   The 200 others keep their rate meanwhile.
"""
import json
import os
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "../modbus"))
import harness  # noqa: E402
from harness import PYTHON, ROOT, TMP, Daemon, done, note, ok, wait_until, write_config  # noqa: E402

FARMS, PER_FARM, POLL_S = 2, 100, 1.0
FARM = os.path.join(ROOT, "tests/modbus/farm.py")
ROGUE = os.path.join(ROOT, "tests/modbus/tcp_rogue.py")

# What the log says about each misbehaving endpoint's device.
EXPECTED = {
    "wrong_tid": "dropped a reply to another request (transaction id mismatch)",
    "wrong_unit": "dropped a reply from unit 7 to a request to unit 1",
    "truncated": "timeout (a reply cut short after 5 bytes)",
    "oversize": "bad reply: not a Modbus TCP frame (protocol 0, length 300)",
    "exception": "exception 4 (slave device failure)",
    "close_mid": "connection: closed by the device",
    "silent": "timeout",
    "refused": "connect: Connection refused",
}


def spawn(args):
    process = subprocess.Popen([PYTHON] + args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    harness._children.append(process)
    return process


def read_ports(path, process, seconds=90):
    if not wait_until(lambda: os.path.exists(path) or process.poll() is not None, seconds, 0.2) \
            or not os.path.exists(path):
        sys.exit(f"Bail out! {path} never appeared: {process.stderr.read().decode()[-2000:]}")
    return [line.split() for line in open(path).read().split("\n") if line]


def control(port, command):
    with socket.create_connection(("127.0.0.1", port), timeout=20) as s:
        s.sendall((command + "\n").encode())
        return s.makefile().readline().strip()


def farm_times(farms):
    """Per device port, when it was read since the last reset (farm.py's dump)."""
    times = {}
    for control_port, ports in farms:
        path = os.path.join(TMP, f"dump-{control_port}.json")
        control(control_port, f"dump {path}")
        reads = json.load(open(path))
        times.update({port: sorted(device.values()) for port, device in zip(ports, reads)})
    return times


def grid_offsets(reads, period):
    """Each read's distance from the device's grid: the phase its reads keep
    (their median offset from the first read, modulo the period)."""
    offsets = [((t - reads[0]) + period / 2) % period - period / 2 for t in reads]
    phase = sorted(offsets)[len(offsets) // 2]
    return [abs(o - phase) for o in offsets]


def main():
    farms, controls, device_ports = [], [], []
    for f in range(FARMS):
        path = os.path.join(TMP, f"farm{f}.ports")
        farms.append((spawn([FARM, "--count", str(PER_FARM), "--registers", "20",
                             "--read-times", "--ports-out", path]), path))
    for process, path in farms:
        lines = read_ports(path, process)
        ports = [int(line[0]) for line in lines[1:]]
        controls.append((int(lines[0][1]), ports))
        device_ports += ports
    rogue_path = os.path.join(TMP, "rogue.ports")
    rogue = spawn([ROGUE, "--ports-out", rogue_path])
    rogues = {behaviour: int(port) for behaviour, port in read_ports(rogue_path, rogue)}
    note(f"{len(device_ports)} pymodbus endpoints, {len(rogues)} misbehaving ones")

    profile = os.path.join(TMP, "meter-20.yaml")
    with open(profile, "w") as f:
        f.write("id: meter-20\nvendor: test\nmodel: 20 holding registers\npoints:\n")
        for r in range(20):
            f.write(f"  - {{name: r{r}, meaning: voltage, unit: V, "
                    f"source: {{function: 3, address: {r}, scale: 0.1}}}}\n")
    endpoints = [(f"m{i}", port) for i, port in enumerate(device_ports)]
    endpoints += [(f"rogue-{b}", port) for b, port in rogues.items()]
    body = "buses:\n" + "".join(
        f"  - {{id: tcp-{name}, driver: modbus-tcp, settings: {{host: 127.0.0.1, port: {port}, "
        f"timeout_ms: 300, backoff_ms: 2000}}}}\n" for name, port in endpoints)
    body += "devices:\n" + "".join(
        f"  - {{id: {name}, bus: tcp-{name}, address: 1, profile: meter-20, poll_ms: "
        f"{int(POLL_S * 1000)}}}\n" for name, _ in endpoints)
    daemon = Daemon(write_config("many", body, extra_profiles=[profile])).start()

    # ---- 1. every device read, on its grid ----
    def all_read():
        times = farm_times(controls)
        return all(len(times.get(p, [])) >= 2 for p in device_ports)
    ok(wait_until(all_read, 60, 0.5), "every one of the 200 pymodbus endpoints is read",
       daemon.read_log()[-3000:])
    for port, _ in controls:
        control(port, "reset")
    window_start = time.monotonic()
    wait_until(lambda: all(len(farm_times(controls).get(p, [])) >= 8 for p in device_ports), 60, 1)
    times = farm_times(controls)
    elapsed = time.monotonic() - window_start
    counts = [len(times.get(p, [])) for p in device_ports]
    ok(min(counts) >= 8, f"each device read at least 8 times in {elapsed:.0f} s "
       f"(fewest {min(counts)}, most {max(counts)})")
    # Lateness on a loaded machine is allowed (the grid stays, the poll is
    # late); what is not: two polls back to back, or reads that leave their phase.
    close, distances = [], []
    for port in device_ports:
        reads = times.get(port, [])
        if len(reads) < 2:
            continue
        gaps = [b - a for a, b in zip(reads, reads[1:])]
        if min(gaps) < 0.3 * POLL_S:
            close.append((port, round(min(gaps), 3)))
        distances += grid_offsets(reads, POLL_S)
    distances.sort()
    median = distances[len(distances) // 2]
    ok(not close, "no device is polled twice within a third of its period", close[:10])
    ok(median <= 0.1 * POLL_S,
       f"reads keep each device's phase on its grid (median {median * 1000:.0f} ms off, "
       f"95th percentile {distances[int(len(distances) * 0.95)] * 1000:.0f} ms)")
    phases = [min(times[p]) % POLL_S for p in device_ports if times.get(p)]
    buckets = [sum(1 for x in phases if b / 10 <= x < (b + 1) / 10) for b in range(10)]
    ok(max(buckets) <= len(phases) * 0.3,
       f"the devices' phases are spread over the period (per 100 ms: {buckets})")

    # ---- 2. threads ----
    tasks = len(os.listdir(f"/proc/{daemon.process.pid}/task"))
    fds = len(os.listdir(f"/proc/{daemon.process.pid}/fd"))
    ok(tasks <= 16, f"the daemon runs {tasks} threads for {len(endpoints)} Modbus TCP endpoints")
    ok(fds <= len(endpoints) + 60, f"and holds {fds} descriptors (one per endpoint and a few)")

    # ---- 3. bad input, each named with its device ----
    for behaviour, text in EXPECTED.items():
        device = f"rogue-{behaviour}"
        line = f"device {device} (unit 1): {text}"
        ok(daemon.wait_log(line, 30), f"{behaviour}: the log says \"{line}\"",
           "\n".join(x for x in daemon.read_log().splitlines() if device in x)[-1500:])
    for behaviour in EXPECTED:
        device = f"rogue-{behaviour}"
        want = ["online"] if behaviour == "exception" else ["suspect", "offline"]

        def health(device=device):
            return [b["health"] for k, d, b in daemon.events("device_health", device)]
        ok(wait_until(lambda: any(h in want for h in health()), 30, 0.5),
           f"{behaviour}: the device's health says so ({' or '.join(want)})", health())
    for behaviour in ("wrong_tid", "wrong_unit", "oversize", "truncated"):
        device = f"rogue-{behaviour}"
        states = [b["health"] for k, d, b in daemon.events("device_health", device)]
        ok("online" not in states,
           f"{behaviour}: a wrong reply is never taken for the reply (never online)", states)
    for port, _ in controls:
        control(port, "reset")
    time.sleep(3 * POLL_S)
    times = farm_times(controls)
    slow = [p for p in device_ports if len(times.get(p, [])) < 2]
    ok(not slow, "with the misbehaving endpoints running, the 200 others keep being read",
       slow[:10])
    ok(daemon.alive(), "the daemon keeps running")
    ok(daemon.stop() == 0, "and stops cleanly")
    done()


if __name__ == "__main__":
    main()
