#!/usr/bin/python3
"""Modbus TCP against a pymodbus slave: merged reads, exceptions, supervision, writes.

1. Each poll cycle makes the minimum number of requests the shipped maps
   allow: the slave counts the requests of each unit per cycle; the minimum is
   computed here, from the profile YAML, by exhaustive search (independent of
   the C planner). Lowering max_registers per device raises it as it should.
2. A slave that refuses reads across unmapped registers (exception 2) gets
   its blocks re-planned without gaps, logged once.
3. An exception reply on a mapped read is counted and logged once; the
   device stays online and the others keep their rate.
4. A unit that stops answering goes suspect, then offline, then costs one
   request per back-off period; it comes back online when it answers.
5. End to end with the core: a gas detector crossing its high threshold
   raises an emergency and the valve-close write reaches the relay module
   (read back by the driver, checked in the slave); fire releases the fire
   door (inverted coil) and the door lamp shows the call.
"""
import glob
import os
import sys

import yaml

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "../modbus"))
from harness import (ROOT, Daemon, Slave, done, f32, note, ok, wait_until,  # noqa: E402
                     write_config)

REGISTER_WIDTH = {"bit": 1, "u16": 1, "i16": 1, "u32": 2, "i32": 2, "u64": 4, "f32": 2}


def profile_spans(profile_id):
    path = os.path.join(ROOT, "config/profiles", profile_id + ".yaml")
    profile = yaml.safe_load(open(path, encoding="utf-8"))
    spans = []
    for point in profile["points"]:
        source = point["source"]
        width = REGISTER_WIDTH[source.get("type", "u16" if source["function"] >= 3 else "bit")]
        spans.append((source["function"], source["address"], source["address"] + width - 1))
    return spans


def minimum_requests(spans, gap, max_registers=125, max_bits=2000):
    """Fewest read requests covering every span: exhaustive DP over sorted spans."""
    total = 0
    for function in sorted({s[0] for s in spans}):
        runs = sorted({(a, e) for f, a, e in spans if f == function})
        cap = max_bits if function <= 2 else max_registers
        best = [0] + [None] * len(runs)
        for i in range(1, len(runs) + 1):
            for j in range(i):
                group = runs[j:i]
                start, end = group[0][0], max(e for a, e in group)
                gaps_ok = all(group[k + 1][0] <= max(e for a, e in group[:k + 1]) + 1 + gap
                              for k in range(len(group) - 1))
                if end - start + 1 <= cap and gaps_ok and best[j] is not None:
                    if best[i] is None or best[j] + 1 < best[i]:
                        best[i] = best[j] + 1
        total += best[len(runs)]
    return total


def cycles(times, poll_s):
    """Groups request times into poll cycles (a cycle's requests are back to back)."""
    groups = []
    for t in times:
        if groups and t - groups[-1][-1] < poll_s / 2:
            groups[-1].append(t)
        else:
            groups.append([t])
    return [len(g) for g in groups[1:-1]]  # the first and last may be cut by the window


PROFILE_UNITS = {  # unit: (profile, device settings)
    1: ("eastron-sdm630", ""), 2: ("eastron-sdm120", ""), 3: ("chint-dtsu666", ""),
    4: ("acrel-adw300", ""), 5: ("xintai-water", ""), 6: ("gas-midas", ""),
    7: ("fire-panel-gb26875", ""), 8: ("bed-sensor-r60abd1", ""), 9: ("gas-valve-fan", ""),
    10: ("call-point", ""), 11: ("smoke-detector", ""),
    12: ("eastron-sdm630", ", settings: {max_registers: 4}"),
    13: ("eastron-sdm630", ", settings: {gap: 0}"),
    14: ("door-lamp", ""), 15: ("fire-door-relay", ""), 16: ("presence-reset", ""),
}
HOLEY_UNIT = 20      # a water meter that refuses reads across its unmapped registers
EXCEPTION_UNIT = 21  # a gas detector whose register 2 is out of the slave's map
SILENT_UNIT = 22     # answers, then stops, then answers again
POLL_MS = 500


def main():
    units = {str(u): {"size": 16448} for u in PROFILE_UNITS}
    mapped = {a for f, s, e in profile_spans("xintai-water") for a in range(s, e + 1)}
    units[str(HOLEY_UNIT)] = {"size": 1024, "holes": {"hr": [a for a in range(0, 64)
                                                             if a not in mapped]},
                               "hr": {"28": 0x0001}}
    units[str(EXCEPTION_UNIT)] = {"size": 2, "hr": {"0": 0x0001}}
    units[str(SILENT_UNIT)] = {"size": 1024, "hr": {"2": f32(3.0, "cdab")}}
    units["6"]["hr"] = {"0": 0x0001, "2": f32(5.0, "cdab")}
    units["15"]["co"] = {"0": 1}  # the door's magnet was energised (held) on site
    slave = Slave(units)

    devices = [f"  - {{id: u{u}-{p}, bus: tcp1, address: {u}, profile: {p}, poll_ms: {POLL_MS}"
               f"{extra}}}" for u, (p, extra) in PROFILE_UNITS.items()]
    devices += [
        f"  - {{id: holey, bus: tcp1, address: {HOLEY_UNIT}, profile: xintai-water, "
        f"poll_ms: {POLL_MS}}}",
        f"  - {{id: exceptional, bus: tcp1, address: {EXCEPTION_UNIT}, profile: gas-midas, "
        f"poll_ms: {POLL_MS}}}",
        f"  - {{id: silent, bus: tcp1, address: {SILENT_UNIT}, profile: gas-midas, "
        f"poll_ms: {POLL_MS}}}",
    ]
    config = write_config("tcp", f"""buses:
  - id: tcp1
    driver: modbus-tcp
    settings: {{host: 127.0.0.1, port: {slave.port}, timeout_ms: 200, allowed_fails: 3,
                backoff_ms: 1000, backoff_max_ms: 2000}}
devices:
""" + "\n".join(devices).replace("u6-gas-midas, bus: tcp1, address: 6, profile: gas-midas",
                                 "u6-gas-midas, bus: tcp1, address: 6, profile: gas-midas, "
                                 "room: kitchen")
        .replace("u9-gas-valve-fan, bus: tcp1, address: 9, profile: gas-valve-fan",
                 "u9-gas-valve-fan, bus: tcp1, address: 9, profile: gas-valve-fan, room: kitchen")
        .replace("u10-call-point, bus: tcp1, address: 10, profile: call-point",
                 "u10-call-point, bus: tcp1, address: 10, profile: call-point, bed: 101-A")
        .replace("u14-door-lamp, bus: tcp1, address: 14, profile: door-lamp",
                 "u14-door-lamp, bus: tcp1, address: 14, profile: door-lamp, room: \"101\"")
        .replace("u16-presence-reset, bus: tcp1, address: 16, profile: presence-reset",
                 "u16-presence-reset, bus: tcp1, address: 16, profile: presence-reset, "
                 "room: \"101\"")
        + """
rules:
  - {id: call, kind: call}
  - {id: gas, kind: gas, low: 20, high: 40, for_s: 1, reset_on_normal: true}
  - {id: fire, kind: fire_zone}
""")
    daemon = Daemon(config).start()
    ok(daemon.wait_log("started with"), "daemon starts", daemon.read_log())

    # ---- 1. merged reads ------------------------------------------------------------------
    wait_until(lambda: "now reading without gaps" in daemon.read_log(), 5)
    slave.command("reset")
    wait_until(lambda: False, 3.2)  # six poll cycles
    for unit, (profile, extra) in PROFILE_UNITS.items():
        spans = profile_spans(profile)
        settings = dict(gap=8)
        if "max_registers" in extra:
            settings["max_registers"] = 4
        if "gap: 0" in extra:
            settings["gap"] = 0
        want = minimum_requests(spans, **settings)
        per_cycle = cycles(slave.times(unit), POLL_MS / 1000)
        ok(per_cycle and all(n == want for n in per_cycle),
           f"{profile}{extra.replace(', settings: ', ' ')}: {want} requests per poll cycle "
           f"(the minimum for {len(spans)} points)", f"requests per cycle: {per_cycle}")

    # ---- 2. a slave that refuses reads through holes ----------------------------------------
    log = daemon.read_log()
    ok(log.count("device holey (unit 20): refuses reads across unmapped registers") == 1,
       "a slave refusing reads across holes is re-planned without gaps, logged once",
       [line for line in log.splitlines() if "holey" in line])
    want = minimum_requests(profile_spans("xintai-water"), gap=0)
    per_cycle = cycles(slave.times(HOLEY_UNIT), POLL_MS / 1000)
    ok(per_cycle and all(n == want for n in per_cycle) and
       want > minimum_requests(profile_spans("xintai-water"), gap=8),
       f"... and then reads with {want} requests per cycle instead of "
       f"{minimum_requests(profile_spans('xintai-water'), gap=8)}", f"per cycle: {per_cycle}")
    readings = wait_until(lambda: [b for k, d, b in daemon.events("point", "holey")], 2)
    ok("valve_open" in [b["point"] for b in readings], "... and its points are read", readings)

    # ---- 3. exception replies -------------------------------------------------------------
    exception_lines = [line for line in log.splitlines()
                       if "device exceptional" in line and "exception 2" in line]
    ok(len(exception_lines) == 1, "an exception reply is logged once, not per poll",
       "\n".join(exception_lines))
    health = [b["health"] for k, d, b in daemon.events("device_health", "exceptional")]
    ok(health == ["online"], "a device answering with exceptions stays online", health)
    others = cycles(slave.times(2), POLL_MS / 1000)
    ok(len(others) >= 4, "the other devices keep polling meanwhile", others)

    # ---- 4. a unit that stops answering -----------------------------------------------------
    slave.command(f"silent {SILENT_UNIT}")
    went_offline = wait_until(lambda: [b["health"] for k, d, b in
                                       daemon.events("device_health", "silent")][-1:] ==
                              ["offline"], 8)
    states = [b["health"] for k, d, b in daemon.events("device_health", "silent")]
    ok(went_offline and states[-3:] == ["online", "suspect", "offline"],
       "a silent unit goes online -> suspect -> offline", states)
    reasons = [b["reason"] for k, d, b in daemon.events("device_health", "silent")]
    ok(reasons and reasons[-1] == "timeout", "the offline reason is the timeout", reasons)
    slave.command("reset")
    wait_until(lambda: False, 6.0)
    # Offline, it is probed once per back-off period (1 s, doubling to 2 s), not
    # at its 500 ms poll: the slave notes every request it leaves unanswered.
    probes = slave.probes(SILENT_UNIT)
    gaps = [round(b - a, 2) for a, b in zip(probes, probes[1:])]
    ok(2 <= len(probes) <= 4 and all(g >= 0.9 for g in gaps),
       f"offline, the dead unit costs the line one request per back-off period "
       f"({len(probes)} in 6 s, gaps {gaps} s; its poll is {POLL_MS} ms)", probes)
    healthy = cycles(slave.times(2), POLL_MS / 1000)
    want = minimum_requests(profile_spans("eastron-sdm120"), gap=8)
    ok(len(healthy) >= 9 and all(n == want for n in healthy),
       "the other units keep their poll rate while one is silent "
       f"({len(healthy) + 2} cycles in 6 s at {POLL_MS} ms)", healthy)
    slave.command(f"answer {SILENT_UNIT}")
    back = wait_until(lambda: [b["health"] for k, d, b in
                               daemon.events("device_health", "silent")][-1:] == ["online"], 6)
    ok(back, "the unit comes back online once it answers (within one back-off period)",
       [b for k, d, b in daemon.events("device_health", "silent")])

    # ---- 5. end to end: gas high closes the valve; fire releases the door ----------------------
    ok(slave.get(9, "co", 0) == [0], "the valve coil starts open (0)")
    slave.set(6, "hr", 2, f32(60.0, "cdab"))
    raised = wait_until(lambda: daemon.query(
        "SELECT kind, priority FROM alarms WHERE kind = 'gas_high'"), 8)
    ok(raised, "gas above high raises a gas_high alarm",
       daemon.query("SELECT kind, priority FROM alarms"))
    closed = wait_until(lambda: slave.get(9, "co", 0) == [1], 5)
    ok(closed, "the valve-close write reached the relay module (coil 0 = 1)")
    fan = wait_until(lambda: slave.get(9, "co", 1) == [1], 5)
    ok(fan, "the exhaust fan write reached the relay module (coil 1 = 1)")
    results = wait_until(lambda: [b for k, d, b in daemon.events("write_result", "u9-gas-valve-fan")
                                  if b["point"] == "valve_close" and b["value"] == 1], 5)
    ok(results and results[-1]["ok"], "the driver read the valve coil back and confirmed",
       results)

    ok(slave.get(15, "co", 0) == [1], "the fire door is held (coil energised on site, = 1)")
    slave.set(7, "hr", 0, 0x0001)
    released = wait_until(lambda: slave.get(15, "co", 0) == [0], 5)
    ok(released, "fire in zone 1 releases the fire door (coil de-energised = 0)")

    slave.set(10, "di", 0, [1, 1, 1])
    lamp = wait_until(lambda: slave.get(14, "co", 0) == [1], 5)
    ok(lamp, "a bed call lights the room's door lamp (coil 0)")

    ok(daemon.alive(), "the daemon is still running")
    rc = daemon.stop()
    ok(rc == 0, "clean stop", daemon.read_log()[-1500:])
    note("driver log lines: " + "; ".join(line.split("] ", 1)[-1] for line in
                                          daemon.read_log().splitlines() if "modbus" in line
                                          or "unit" in line)[:1500])
    slave.stop()
    done()


main()
