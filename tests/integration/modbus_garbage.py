#!/usr/bin/python3
"""A slave that answers garbage, a wrong byte count or an undefined exception.

pymodbus serves three units over RTU; a fault injector (tests/modbus/rogue.py)
between the gateway's pty and pymodbus's spoils the replies of unit 3 in
turn. Each fault is counted against the device, logged once per change of
state, and never crashes the daemon or slows the other units on the line.
The totals land in the journal's "stopped" event.
"""
import os
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "../modbus"))
from harness import (PYTHON, ROOT, TMP, Daemon, Slave, _children, done, f32, free_port,  # noqa: E402
                     note, ok, wait_until, write_config)

# The peers are Python (pymodbus and the injector) on a machine that may run
# a sanitized suite beside this one: a reply may come 150 ms late there,
# which a healthy unit would count as a timeout and back off for. A 400 ms
# timeout covers that, and a 600 ms poll fits a whole cycle of the line (two
# quick replies and one wrong one that runs into the timeout).
POLL_MS = 600


def main():
    slave = Slave({"1": {"hr": {"0": 0x0001, "2": f32(4.0, "cdab")}},
                   "2": {"di": {"0": [0, 1, 1]}},
                   "3": {"ir": {"0": f32(230.0)}}}, rtu=True)
    # A second pty pair: the gateway talks to the injector, the injector to pymodbus.
    gateway_end, injector_end = os.path.join(TMP, "ttyGW2"), os.path.join(TMP, "ttyINJ")
    log = open(os.path.join(TMP, "rogue.log"), "w", encoding="utf-8")
    socat = subprocess.Popen(["socat", f"pty,raw,echo=0,link={gateway_end}",
                              f"pty,raw,echo=0,link={injector_end}"], stderr=log)
    _children.append(socat)
    wait_until(lambda: os.path.exists(gateway_end) and os.path.exists(injector_end))
    control_port = free_port()
    rogue = subprocess.Popen([PYTHON, os.path.join(ROOT, "tests/modbus/rogue.py"), "--gateway",
                              injector_end, "--slave", slave.pty_gateway, "--control",
                              str(control_port), "--reply-window", "0.35"],
                             stdout=log, stderr=log)
    _children.append(rogue)
    control = wait_until(lambda: _connect(control_port), 10)

    def mode(unit, name):
        control.sendall(f"mode {unit} {name}\n".encode())
        return control.recv(100)

    config = write_config("garbage", f"""buses:
  - id: rs485
    driver: modbus-rtu
    settings: {{device: {gateway_end}, baud: 19200, timeout_ms: 400, frame_pause_ms: 2,
                backoff_ms: 1000, backoff_max_ms: 1000}}
devices:
  - {{id: gas, bus: rs485, address: 1, profile: gas-midas, poll_ms: {POLL_MS}}}
  - {{id: call, bus: rs485, address: 2, profile: call-point, poll_ms: {POLL_MS}}}
  - {{id: meter, bus: rs485, address: 3, profile: eastron-sdm120, poll_ms: {POLL_MS}}}
""")
    daemon = Daemon(config).start()
    online = wait_until(lambda: len({d for k, d, b in daemon.events("device_health")
                                     if b["health"] == "online"}) == 3, 10)
    ok(online, "three units online through the fault injector", daemon.read_log()[-1500:])

    def rates(seconds=6.0):
        slave.command("reset")
        start = time.monotonic()
        wait_until(lambda: False, seconds)
        elapsed = time.monotonic() - start
        return {unit: len(slave.times(unit)) / elapsed for unit in (1, 2)}

    baseline = rates()
    note(f"baseline: {baseline[1]:.1f} and {baseline[2]:.1f} requests/s (poll {POLL_MS} ms)")
    logged = ""
    for name in ("garbage", "short", "badexc", "noise", "pass"):
        if name == "noise":  # random bytes may look like any fault: count lines before it
            logged = daemon.read_log()
        mode(3, name)
        during = rates()
        for unit in (1, 2):
            # Against the same run's baseline: a loaded machine slows both alike.
            ok(during[unit] >= 0.75 * baseline[unit],
               f"{name}: unit {unit} keeps its rate ({during[unit]:.1f} requests/s, "
               f"{during[unit] / baseline[unit]:.2f} of baseline)")
        ok(daemon.alive(), f"{name}: the daemon keeps running")
    lines = [line for line in logged.splitlines()
             if "device meter" in line and "answering normally" not in line]
    note("\n".join(line.split("bus rs485: ", 1)[-1] for line in lines))
    ok(sum("crc error" in line for line in lines) == 1, "garbage is logged once (crc error)")
    ok(sum("Invalid data" in line for line in lines) == 1,
       "a wrong byte count is logged once (bad reply: invalid data)")
    ok(sum("exception code" in line for line in lines) == 1,
       "an undefined exception code is logged once (bad reply)")
    ok(sum("answering normally again" in line for line in daemon.read_log().splitlines()) >= 1,
       "recovery is logged once the replies are good again")
    back = wait_until(lambda: [b["health"] for k, d, b in daemon.events("device_health", "meter")]
                      [-1:] == ["online"], 5)
    ok(back, "the meter is online again",
       [b for k, d, b in daemon.events("device_health", "meter")])

    rc = daemon.stop()
    ok(rc == 0, "clean stop")
    stopped = [b for k, d, b in daemon.events("system") if b.get("what") == "stopped"]
    counters = stopped[-1].get("counters", {}).get("meter", {}) if stopped else {}
    note(f"meter counters at stop: {counters}")
    ok(counters.get("crc_error", 0) >= 3 and counters.get("bad_reply", 0) >= 6,
       "the faults are counted per device (journaled at stop)", stopped)
    # pymodbus answering a healthy unit later than the gateway waits (a
    # loaded machine) is a real timeout: each error of a healthy unit must be
    # one the injector saw.
    log.flush()
    with open(os.path.join(TMP, "rogue.log"), encoding="utf-8") as f:
        rogue_log = f.read()
    healthy = stopped[-1].get("counters", {}) if stopped else None
    explained = healthy is not None and all(
        sum(healthy.get(name, {}).values()) <= rogue_log.count(f"late unit {unit}:")
        for name, unit in (("gas", 1), ("call", 2)))
    note(f"pymodbus late for unit 1: {rogue_log.count('late unit 1:')}, unit 2: "
         f"{rogue_log.count('late unit 2:')}; stale replies dropped: {rogue_log.count('stale ')}")
    ok(explained, "the healthy units have no error counts but for replies pymodbus sent late",
       stopped)
    rogue.kill()
    slave.stop()
    done()


def _connect(port):
    try:
        return socket.create_connection(("127.0.0.1", port), timeout=5)
    except OSError:
        return None


main()
