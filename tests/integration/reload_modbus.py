#!/usr/bin/python3
"""Reload on Modbus TCP: three buses, each polling its own pymodbus slave.

1. A reload that changes one bus (its timeout) restarts that bus only: the
   other two keep their TCP connection (the same client port in the kernel's
   /proc/net/tcp) and their per-second request counts at the slaves show no
   gap around the reload; the changed bus connects again and goes on polling.
2. A reload that changes no bus (a resident's label) keeps every connection.
3. A reload the driver refuses (timeout_ms out of range for the changed bus)
   changes nothing: every connection stays, polling goes on.
Takes about 20 s.
"""
import os
import signal
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "../modbus"))
from harness import Daemon, Slave, done, note, ok, wait_until, write_config  # noqa: E402

POLL_MS = 100
BUSES = ("mb1", "mb2", "mb3")


def client_ports(port):
    """Local ports of the established TCP connections to 127.0.0.1:port."""
    found = set()
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = open(name, encoding="ascii").read().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            local, remote, state = fields[1], fields[2], fields[3]
            if state == "01" and int(remote.split(":")[1], 16) == port:
                found.add(int(local.split(":")[1], 16))
    return found


def config_text(slaves, label="Bed A", timeout_ms=(300, 300, 300)):
    buses = "".join(
        f"  - {{id: {bus}, driver: modbus-tcp, settings: {{host: 127.0.0.1, "
        f"port: {slaves[bus].port}, timeout_ms: {timeout}}}}}\n"
        for bus, timeout in zip(BUSES, timeout_ms))
    devices = "".join(
        f"  - {{id: call-{bus}, bus: {bus}, address: 1, profile: call-point, poll_ms: {POLL_MS}}}\n"
        for bus in BUSES)
    return f"buses:\n{buses}devices:\n{devices}", label


def write(slaves, **kwargs):
    body, label = config_text(slaves, **kwargs)
    path = write_config("reload", body)
    text = open(path, encoding="utf-8").read().replace(
        "{id: R-0001, bed: 101-A", f"{{id: R-0001, label: \"{label}\", bed: 101-A", 1)
    open(path, "w", encoding="utf-8").write(text)
    return path


def reload(daemon, outcome):
    before = daemon.read_log().count(outcome)
    daemon.process.send_signal(signal.SIGHUP)
    return wait_until(lambda: daemon.read_log().count(outcome) > before, 15)


def gaps(times, start, end):
    """Seconds in [start, end) without a request, and the longest pause."""
    inside = [t for t in times if start <= t < end]
    empty = [s for s in range(int(end - start)) if not any(start + s <= t < start + s + 1
                                                          for t in inside)]
    pauses = [b - a for a, b in zip(inside, inside[1:])]
    return empty, max(pauses) if pauses else end - start


def main():
    slaves = {bus: Slave({"1": {"size": 64}}, name=bus) for bus in BUSES}
    config = write(slaves)
    daemon = Daemon(config).start()
    ok(daemon.wait_log("started with"), "daemon starts", daemon.read_log())
    ok(wait_until(lambda: all(client_ports(s.port) for s in slaves.values()), 10),
       "each bus is connected to its slave")
    wait_until(lambda: False, 1.0)
    ports = {bus: client_ports(slaves[bus].port) for bus in BUSES}
    note(f"client ports: {ports}")

    # ---- 1. one bus changes ----
    for slave in slaves.values():
        slave.command("reset")
    wait_until(lambda: False, 2.0)
    write(slaves, timeout_ms=(300, 300, 400))
    t_reload = time.monotonic()
    ok(reload(daemon, "reload: applied"), "the reload changing mb3 is applied", daemon.read_log()[-2000:])
    ok("2 buses kept running, restarted: mb3" in daemon.read_log(),
       "only mb3 was restarted", daemon.read_log()[-1500:])
    wait_until(lambda: False, 3.0)
    t_end = time.monotonic()
    for bus in ("mb1", "mb2"):
        ok(client_ports(slaves[bus].port) == ports[bus],
           f"{bus} kept its TCP connection (client port {ports[bus]})",
           f"now {client_ports(slaves[bus].port)}")
        empty, pause = gaps(slaves[bus].times(1), t_reload - 2.0, t_end)
        note(f"{bus}: longest pause between requests around the reload {pause * 1000:.0f} ms")
        ok(not empty, f"{bus}: a request in every second around the reload", f"empty seconds: {empty}")
    new_ports = client_ports(slaves["mb3"].port)
    ok(new_ports and new_ports != ports["mb3"], f"mb3 connected again ({ports['mb3']} -> {new_ports})")
    after = [t for t in slaves["mb3"].times(1) if t > t_reload]
    ok(len(after) >= 10, f"mb3 polls again after its restart ({len(after)} requests in 3 s)")
    ports["mb3"] = new_ports

    # ---- 2. nothing a bus depends on changes ----
    write(slaves, label="Grandma Wang", timeout_ms=(300, 300, 400))
    ok(reload(daemon, "reload: applied"), "a label change is applied")
    ok("3 buses kept running, restarted: none" in daemon.read_log(), "... with every bus kept running")
    ok(all(client_ports(slaves[bus].port) == ports[bus] for bus in BUSES),
       "... and every connection kept")

    # ---- 3. the driver refuses the changed bus: nothing changes ----
    write(slaves, label="Grandma Wang", timeout_ms=(300, 300, 5))
    ok(reload(daemon, "keeping the running configuration"), "a reload the driver refuses is refused")
    ok("timeout_ms: expected an integer from 10 to 10000" in daemon.read_log(),
       "... with the driver's reason", daemon.read_log()[-1500:])
    t_refused = time.monotonic()
    wait_until(lambda: False, 1.5)
    for bus in BUSES:
        ok(client_ports(slaves[bus].port) == ports[bus], f"{bus}: connection kept")
        polled = [t for t in slaves[bus].times(1) if t > t_refused]
        ok(len(polled) >= 5, f"{bus}: still polled ({len(polled)} requests in 1.5 s)")
    ok(daemon.stop() == 0, "clean stop")
    ok("AddressSanitizer" not in daemon.read_log(), "no sanitizer report")
    done()


main()
