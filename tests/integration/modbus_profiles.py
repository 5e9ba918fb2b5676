#!/usr/bin/python3
"""Every shipped Modbus profile decodes a known register image to the right values.

A pymodbus slave on loopback serves one unit per profile with a register
image written here by hand (floats packed with Python's struct, in the byte
order each vendor documents). wardgated polls them over Modbus TCP. Analog
values are checked in the readings table after a clean stop; bool points are
checked in the journal after the image flips every bool (each flip is a
point event carrying the value before and after).
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "../modbus"))
from harness import Daemon, Slave, done, f32, note, ok, u32, wait_until, write_config  # noqa: E402

# unit -> (profile, {table: {address: words}}, analog expectations,
#          bool phase-A words, bool phase-B words, bool expectations {point: (A, B)})
PROFILES = {
    1: ("acrel-adw300",
        {"hr": {20: [2305, 2298, 2311], 26: [1234, 56, 7], 36: u32(-1500), 62: u32(12345678)}},
        {"ua": 230.5, "ub": 229.8, "uc": 231.1, "ia": 12.34, "ib": 0.56, "ic": 0.07,
         "total_power": -1500, "forward_energy": 123456.78},
        {}, {}, {}),
    2: ("bed-sensor-r60abd1",
        {"ir": {2: [35, 16, 72]}},
        {"movement": 35, "breathing_rate": 16, "heart_rate": 72},
        {"ir": {1: 1, 6: 0x0000}}, {"ir": {1: 0, 6: 0x0001}},
        {"in_bed": (1, 0), "radar_fault": (0, 1)}),
    3: ("call-point", {}, {},
        {"di": {0: [0, 1, 1]}}, {"di": {0: [1, 0, 0]}},
        {"call": (0, 1), "pendant_out": (0, 1), "loop_open": (0, 1)}),
    4: ("chint-dtsu666",
        {"size": 16448,
         "hr": {0x2006: f32(2305.0) + f32(2298.0) + f32(2311.0) + f32(12340.0) + f32(560.0)
                + f32(70.0) + f32(15000.0),
                0x202A: f32(950.0), 0x2044: f32(4999.0), 0x401E: f32(1234.5),
                0x4028: f32(56.5)}},
        {"ua": 230.5, "ub": 229.8, "uc": 231.1, "ia": 12.34, "ib": 0.56, "ic": 0.07,
         "total_power": 1500, "power_factor": 0.95, "frequency": 49.99, "import_energy": 1234.5,
         "export_energy": 56.5},
        {}, {}, {}),
    5: ("door-contact", {}, {},
        {"di": {0: [1, 1]}}, {"di": {0: [0, 0]}},
        {"door": (0, 1), "tamper": (0, 1)}),
    7: ("eastron-sdm120",
        {"ir": {0: f32(230.5), 6: f32(4.25), 0x0C: f32(980.0), 0x1E: f32(0.95), 0x46: f32(50.0),
                0x48: f32(1234.5) + f32(12.5)}},
        {"voltage": 230.5, "current": 4.25, "power": 980.0, "power_factor": 0.95,
         "frequency": 50.0, "import_energy": 1234.5, "export_energy": 12.5},
        {}, {}, {}),
    8: ("eastron-sdm630",
        {"ir": {0: f32(230.5) + f32(231.0) + f32(229.5) + f32(4.25) + f32(3.5) + f32(8.5),
                0x34: f32(2950.0), 0x3E: f32(-0.875), 0x46: f32(50.0),
                0x48: f32(1234.5) + f32(12.5), 0x156: f32(1247.0)}},
        {"l1_voltage": 230.5, "l2_voltage": 231.0, "l3_voltage": 229.5, "l1_current": 4.25,
         "l2_current": 3.5, "l3_current": 8.5, "total_power": 2950.0, "power_factor": -0.875,
         "frequency": 50.0, "import_energy": 1234.5, "export_energy": 12.5,
         "total_energy": 1247.0},
        {}, {}, {}),
    10: ("fire-panel-gb26875", {"hr": {101: [2, 17]}}, {"fire_loop": 2, "fire_address": 17},
         {"hr": {0: [0] * 8, 100: 0}},
         {"hr": {0: [0x0001, 0x0002, 0x0004, 0x0008, 0x000F, 0, 0, 0x00F0], 100: 0x0080}},
         {"zone1_fire": (0, 1), "zone1_fault": (0, 0), "zone2_fault": (0, 1),
          "zone2_fire": (0, 0), "zone3_disabled": (0, 1), "zone4_supervisory": (0, 1),
          "zone5_fire": (0, 1), "zone5_fault": (0, 1), "zone5_disabled": (0, 1),
          "zone5_supervisory": (0, 1), "zone8_fire": (0, 0), "panel_power_fault": (0, 1)}),
    11: ("gas-midas",
         {"hr": {2: f32(12.5, "cdab")}},
         {"concentration": 12.5},
         {"hr": {0: 0x0001}}, {"hr": {0: 0x08F0}},
         {"warmup": (0, 1), "fault": (0, 1), "low_alarm": (0, 1), "high_alarm": (0, 1)}),
    12: ("gas-valve-fan", {}, {},
         {"di": {0: [0, 1, 1, 0]}}, {"di": {0: [1, 0, 0, 1]}},
         {"valve_closed": (0, 1), "valve_open": (1, 0), "valve_fault": (0, 1),
          "fan_running": (0, 1)}),
    13: ("presence-reset", {}, {},
         {"di": {0: [0, 0]}}, {"di": {0: [1, 1]}},
         {"presence": (0, 1), "reset": (0, 1)}),
    14: ("pull-cord", {}, {},
         {"di": {0: [0, 0, 1]}}, {"di": {0: [1, 1, 0]}},
         {"cord": (0, 1), "reset": (0, 1), "loop_open": (0, 1)}),
    15: ("smoke-detector", {}, {},
         {"di": {0: [0, 1, 0]}}, {"di": {0: [1, 0, 1]}},
         {"smoke": (0, 1), "fault": (0, 1), "battery": (0, 1)}),
    16: ("xintai-water",
         {"hr": {1: f32(123.25, "dcba"), 5: f32(3.5, "dcba")}},
         {"forward_volume": 123.25, "flow": 3.5},
         {"hr": {7: 0x0000, 0x1C: 0x0001}}, {"hr": {7: 0x0055, 0x1C: 0x000E}},
         {"pipe_empty": (0, 1), "valve_open": (1, 0), "valve_closed": (0, 1),
          "valve_abnormal": (0, 1), "battery_low": (0, 1)}),
}


def unit_image(spec, phase):
    image = {"size": spec[1].get("size", 1024)}
    for source in (spec[1], phase):
        for table, cells in source.items():
            if table == "size":
                continue
            image.setdefault(table, {}).update({str(a): v for a, v in cells.items()})
    return image


def main():
    slave = Slave({str(u): unit_image(spec, spec[3]) for u, spec in PROFILES.items()})
    devices = "\n".join(
        f"  - {{id: dev-{spec[0]}, bus: tcp1, address: {unit}, profile: {spec[0]}, poll_ms: 200}}"
        for unit, spec in PROFILES.items())
    config = write_config("profiles", f"""buses:
  - id: tcp1
    driver: modbus-tcp
    settings: {{host: 127.0.0.1, port: {slave.port}, timeout_ms: 500}}
devices:
{devices}
""")
    daemon = Daemon(config).start()
    ok(daemon.wait_log("started with"), "daemon starts with a modbus-tcp bus", daemon.read_log())
    online = wait_until(lambda: len({d for k, d, b in daemon.events("device_health")
                                     if b["health"] == "online"}) == len(PROFILES), 10)
    ok(online, f"all {len(PROFILES)} profile devices come online",
       daemon.read_log()[-2000:])

    # Phase B: every bool flips; the journal records each flip with before and after.
    for unit, spec in PROFILES.items():
        for table, cells in spec[4].items():
            for address, words in cells.items():
                slave.set(unit, table, address, words)
    expected_flips = sum(1 for spec in PROFILES.values() for a, b in spec[5].values() if a != b)
    wait_until(lambda: len([e for e in daemon.events("point") if "previous" in e[2]])
               >= expected_flips, 10)
    rc = daemon.stop()
    ok(rc == 0, "daemon stops cleanly", daemon.read_log()[-2000:])

    readings = {(d, p): (n, mn, mx, last) for d, p, n, mn, mx, last in daemon.query(
        "SELECT device, point, sum(n), min(min), max(max), "
        "(SELECT last FROM readings r2 WHERE r2.device = r.device AND r2.point = r.point "
        " ORDER BY bucket_ms DESC LIMIT 1) FROM readings r GROUP BY device, point")}
    events = daemon.events("point")
    for unit, spec in PROFILES.items():
        device = f"dev-{spec[0]}"
        for point, want in spec[2].items():
            got = readings.get((device, point))
            good = got is not None and abs(got[1] - want) <= 1e-6 * max(1, abs(want)) \
                and abs(got[2] - want) <= 1e-6 * max(1, abs(want))
            ok(good, f"{spec[0]} {point} = {want}", f"readings (n, min, max, last): {got}")
        for point, (before, after) in spec[5].items():
            seen = [b for k, d, b in events if d == device and b["point"] == point]
            last = seen[-1]["value"] if seen else 0.0  # a bool that starts at 0 is not journaled
            first = seen[0] if seen else None
            start = (first["previous"] if first and "previous" in first
                     else (first["value"] if first else 0.0))
            if before != after:
                good = bool(seen) and start == before and last == after
            else:
                good = not seen and before == 0
            ok(good, f"{spec[0]} {point}: {before} then {after}", f"journal: {seen}")
    slave.stop()
    note(f"{len(PROFILES)} profiles, {sum(len(s[2]) for s in PROFILES.values())} analog and "
         f"{sum(len(s[5]) for s in PROFILES.values())} bool points checked")
    done()


main()
