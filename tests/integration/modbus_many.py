#!/usr/bin/python3
"""Many Modbus TCP endpoints on the driver's one I/O thread (about 60 s).

200 pymodbus servers on loopback ports (tests/modbus/farm.py, two processes
of 100), one device each, each its own `modbus-tcp` bus, 20 holding
registers read every second; beside them eight endpoints that misbehave one
way each (tests/modbus/tcp_rogue.py).

1. Every device is read, on its grid: each read falls within a slot
   (first read + k periods) and no slot is read twice; the devices' phases
   are spread over the period rather than all at one instant.
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


def farm_times(controls):
    times = {}
    for port in controls:
        times.update({int(p): t for p, t in json.loads(control(port, "times")).items()})
    return times


def on_grid(reads, period):
    """Worst distance of a read from its slot (first read + k periods), and
    whether two reads fell into one slot."""
    slots = [round((t - reads[0]) / period) for t in reads]
    worst = max(abs(t - reads[0] - k * period) for t, k in zip(reads, slots))
    return worst, len(set(slots)) != len(slots)


def main():
    farms, controls, device_ports = [], [], []
    for f in range(FARMS):
        path = os.path.join(TMP, f"farm{f}.ports")
        farms.append((spawn([FARM, "--count", str(PER_FARM), "--registers", "20",
                             "--ports-out", path]), path))
    for process, path in farms:
        lines = read_ports(path, process)
        controls.append(int(lines[0][1]))
        device_ports += [int(line[0]) for line in lines[1:]]
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
    for port in controls:
        control(port, "reset")
    window_start = time.monotonic()
    wait_until(lambda: all(len(farm_times(controls).get(p, [])) >= 8 for p in device_ports), 60, 1)
    times = farm_times(controls)
    elapsed = time.monotonic() - window_start
    counts = [len(times.get(p, [])) for p in device_ports]
    ok(min(counts) >= 8, f"each device read at least 8 times in {elapsed:.0f} s "
       f"(fewest {min(counts)}, most {max(counts)})")
    worst, doubled, late = 0.0, [], []
    for port in device_ports:
        reads = times.get(port, [])
        if len(reads) < 2:
            continue
        distance, twice = on_grid(reads, POLL_S)
        worst = max(worst, distance)
        if twice:
            doubled.append(port)
        if distance > 0.35:
            late.append((port, round(distance, 3)))
    ok(not doubled, "no device is read twice in one slot of its grid", doubled[:10])
    ok(len(late) <= len(device_ports) // 50,
       f"reads stay on each device's grid (worst {worst * 1000:.0f} ms off its slot; "
       f"{len(late)} devices more than 350 ms off)", late[:10])
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
    for port in controls:
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
