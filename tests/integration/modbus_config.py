#!/usr/bin/python3
"""Bad Modbus configuration is refused by `wardgated --check` with file:line and a reason.

Covers profile `source:` maps (overlapping registers, out-of-range
addresses, impossible types, orders and bits, writes that cannot be read
back) and bus and device settings (missing device or host, bad parity,
baud, unit ids, limits, unknown keys). Also checks that every shipped
profile passes on both transports.
"""
import glob
import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "../modbus"))
from harness import ROOT, TMP, check, done, ok, write_config  # noqa: E402

BAD_PROFILES = [
    ("overlapping registers",
     "  - {name: a, meaning: voltage, unit: V, source: {function: 3, address: 2, type: f32}}\n"
     "  - {name: b, meaning: current, unit: A, source: {function: 3, address: 3, type: u16}}\n",
     6, r"point b \(fc3 3, u16\) overlaps point a \(fc3 2, f32\)"),
    ("address out of range",
     "  - {name: a, meaning: voltage, unit: V, source: {function: 4, address: 65535, type: u32}}\n",
     5, r"u32 at address 65535 runs past register 65535"),
    ("address not a number",
     "  - {name: a, meaning: voltage, unit: V, source: {function: 4, address: high}}\n",
     5, r"address: expected an integer from 0 to 65535"),
    ("function 7",
     "  - {name: a, meaning: voltage, unit: V, source: {function: 7, address: 0}}\n",
     5, r"function: expected an integer from 1 to 4"),
    ("unknown type",
     "  - {name: a, meaning: voltage, unit: V, source: {function: 3, address: 0, type: float128}}\n",
     5, r"type: expected bit, u16, i16, u32, i32, u64 or f32, got \"float128\""),
    ("register type on discrete inputs",
     "  - {name: a, meaning: voltage, unit: V, source: {function: 2, address: 0, type: f32}}\n",
     5, r"type: f32 cannot be read with function 2 \(bits\)"),
    ("word order on a one-register type",
     "  - {name: a, meaning: voltage, unit: V, source: {function: 3, address: 0, order: cdab}}\n",
     5, r"order: cdab does not fit u16 \(expected ab or ba\)"),
    ("bit 16 of a u16",
     "  - {name: a, meaning: smoke, source: {function: 3, address: 0, bit: 16}}\n",
     5, r"bit: expected an integer from 0 to 15"),
    ("bit on an analog point",
     "  - {name: a, meaning: voltage, unit: V, source: {function: 3, address: 0, bit: 3}}\n",
     5, r"bit, mask and equals make a bool"),
    ("mask wider than the type",
     "  - {name: a, meaning: smoke, source: {function: 3, address: 0, mask: 0x10000}}\n",
     5, r"mask 0x10000 is wider than u16"),
    ("scale zero",
     "  - {name: a, meaning: voltage, unit: V, source: {function: 3, address: 0, scale: 0}}\n",
     5, r"scale must be a finite non-zero number"),
    ("coil write read back as a register",
     "  - {name: a, meaning: valve_command, source: {function: 3, address: 0, write_function: 5}}\n",
     5, r"write_function 5 writes coils, so the point must be read back with function 1"),
    ("output without write_function",
     "  - {name: a, meaning: fan_command, source: {function: 1, address: 0}}\n",
     5, r"meaning fan_command is an output, so it needs write_function"),
    ("write_function on an input",
     "  - {name: a, meaning: smoke, source: {function: 1, address: 0, write_function: 5}}\n",
     5, r"write_function on an input"),
    ("single-register write of a 32-bit value",
     "  - {name: a, meaning: door_lamp, source: {function: 3, address: 0, type: u32, "
     "write_function: 6}}\n",
     5, r"write_function 6 writes one register; u32 needs 16"),
    ("unknown source key",
     "  - {name: a, meaning: smoke, source: {function: 2, address: 0, adress: 1}}\n",
     5, r"adress"),
    ("no source at all",
     "  - {name: a, meaning: smoke}\n",
     None, r"profile bad point a: a Modbus point needs source"),
]


def profile_text(points):
    return ("id: bad\nvendor: test\nmodel: bad map\npoints:\n" + points)


def run_bad_profile(name, points, line, pattern):
    directory = os.path.join(TMP, re.sub(r"\W+", "-", name))
    os.makedirs(directory)
    profile = os.path.join(directory, "bad.yaml")
    with open(profile, "w", encoding="utf-8") as f:
        f.write(profile_text(points))
    config = write_config(os.path.basename(directory), f"""buses:
  - id: tcp1
    driver: modbus-tcp
    settings: {{host: 127.0.0.1, port: 1502}}
devices:
  - {{id: d1, bus: tcp1, address: 1, profile: bad}}
  - {{id: d2, bus: tcp1, address: 2, profile: bad}}
""", extra_profiles=[profile])
    rc, output = check(config)
    where = f"{profile}:{line}:" if line else ""
    matched = [ln for ln in output.splitlines() if re.search(pattern, ln) and where in ln]
    ok(rc != 0 and len(matched) == 1,
       f"profile with {name}: refused once (for two devices) at {'line %d' % line if line else 'the point'}",
       f"rc={rc}\n{output}")


BAD_SETTINGS = [
    ("modbus-rtu", "{baud: 9600}", "", r"settings need device"),
    ("modbus-rtu", "{device: /dev/ttyS9, parity: mark}", "", r"parity: expected none, even or odd"),
    ("modbus-rtu", "{device: /dev/ttyS9, baud: 12345}", "", r"baud: 12345 is not a standard rate"),
    ("modbus-rtu", "{device: /dev/ttyS9, stop_bits: 3}", "", r"stop_bits: expected an integer from 1 to 2"),
    ("modbus-rtu", "{device: /dev/ttyS9, host: x}", "", r"host"),
    ("modbus-rtu", "{device: /dev/ttyS9}", "address: 0",
     r"device d1: address 0 is not a Modbus unit id \(1\.\.247 on modbus-rtu\)"),
    ("modbus-tcp", "{port: 502}", "", r"settings need host"),
    ("modbus-tcp", "{host: h, port: 70000}", "", r"port: expected an integer from 1 to 65535"),
    ("modbus-tcp", "{host: h, timeout_ms: 5}", "", r"timeout_ms: expected an integer from 10 to 10000"),
    ("modbus-tcp", "{host: h, backoff_ms: 9000, backoff_max_ms: 1000}", "",
     r"backoff_max_ms \(1000\) is less than backoff_ms \(9000\)"),
    ("modbus-tcp", "{host: h}", "settings: {max_registers: 1}",
     r"max_registers 1 is less than the 2 registers of point concentration"),
    ("modbus-tcp", "{host: h}", "settings: {priority: urgent}",
     r"priority: expected alarm or telemetry"),
    ("modbus-tcp", "{host: h}", "settings: {gap: 200}", r"gap: expected an integer from 0 to 124"),
]


def run_bad_settings(index, driver, bus_settings, device_extra, pattern):
    device = "{id: d1, bus: b1, address: 1, profile: gas-midas"
    if device_extra.startswith("address"):
        device = device.replace("address: 1", device_extra)
    elif device_extra:
        device += ", " + device_extra
    config = write_config(f"settings{index}", f"""buses:
  - id: b1
    driver: {driver}
    settings: {bus_settings}
devices:
  - {device}}}
""")
    rc, output = check(config)
    # A unit id is checked against the device's own entry, which the driver sees
    # without a position: that message names the device instead.
    positioned = not device_extra.startswith("address")
    located = [ln for ln in output.splitlines() if re.search(pattern, ln) and
               (not positioned or re.search(r"\.yaml:\d+:\d+:", ln))]
    ok(rc != 0 and located, f"{driver} {bus_settings} {device_extra}: refused with "
       f"{'file:line' if positioned else 'the device id'}",
       f"rc={rc}\n{output}")


def main():
    for name, points, line, pattern in BAD_PROFILES:
        run_bad_profile(name, points, line, pattern)
    for index, (driver, settings, extra, pattern) in enumerate(BAD_SETTINGS):
        run_bad_settings(index, driver, settings, extra, pattern)

    # Every shipped Modbus profile passes both drivers' checks (the gpio-* ones
    # carry GPIO sources and are the gpio driver's: tests/integration/gpio_*.sh).
    profiles = sorted(os.path.basename(p)[:-5] for p in glob.glob(f"{ROOT}/config/profiles/*.yaml")
                      if not os.path.basename(p).startswith("gpio-"))
    for driver, settings in (("modbus-tcp", "{host: 127.0.0.1, port: 1502}"),
                             ("modbus-rtu", "{device: /dev/ttyS9}")):
        devices = "\n".join(f"  - {{id: d{i}, bus: b1, address: {i + 1}, profile: {p}}}"
                            for i, p in enumerate(profiles))
        config = write_config(f"good-{driver}", f"""buses:
  - id: b1
    driver: {driver}
    settings: {settings}
devices:
{devices}
""")
        rc, output = check(config)
        ok(rc == 0, f"all {len(profiles)} shipped profiles pass {driver} --check", output)
    done()


main()
