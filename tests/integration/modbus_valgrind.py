#!/usr/bin/python3
"""The Modbus driver under valgrind memcheck, against pymodbus over TCP.

Start, polls with merged reads, an exception reply, a unit going silent and
offline, a gas alarm with the valve write and its read-back, a reload and a
clean stop: no invalid access, no uninitialised use, no leak.
"""
import os
import shutil
import signal
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "../modbus"))
from harness import TMP, Daemon, Slave, done, f32, note, ok, wait_until, write_config  # noqa: E402

if os.environ.get("SANITIZE") == "1" or not shutil.which("valgrind"):
    reason = ("this build uses AddressSanitizer, which cannot run under valgrind"
              if os.environ.get("SANITIZE") == "1" else "valgrind is not installed")
    print(f"ok 1 - modbus driver under memcheck # SKIP {reason}")
    print("1..1")
    sys.exit(0)

slave = Slave({"1": {"hr": {"0": 0x0001, "2": f32(4.0, "cdab")}},
               "2": {"di": {"0": [0, 1, 1, 0]}},
               "3": {"size": 2},
               "4": {"ir": {"0": f32(230.0)}}})
body = f"""buses:
  - id: tcp1
    driver: modbus-tcp
    settings: {{host: 127.0.0.1, port: {slave.port}, timeout_ms: 300, backoff_ms: 500,
                backoff_max_ms: 1000}}
devices:
  - {{id: gas, bus: tcp1, address: 1, profile: gas-midas, room: kitchen, poll_ms: 200}}
  - {{id: valve, bus: tcp1, address: 2, profile: gas-valve-fan, room: kitchen, poll_ms: 200}}
  - {{id: short-map, bus: tcp1, address: 3, profile: gas-midas, poll_ms: 200}}
  - {{id: meter, bus: tcp1, address: 4, profile: eastron-sdm120, poll_ms: 200}}
rules:
  - {{id: gas, kind: gas, low: 20, high: 40, for_s: 1, reset_on_normal: true}}
"""
config = write_config("vg", body)
report = os.path.join(TMP, "vg.txt")
daemon = Daemon(config, prefix=["valgrind", "--quiet", "--error-exitcode=99", "--leak-check=full",
                                "--show-leak-kinds=definite,indirect,possible",
                                "--errors-for-leak-kinds=definite,indirect,possible",
                                f"--log-file={report}"]).start()
ok(daemon.wait_log("ready:", 60), "daemon ready under valgrind", daemon.read_log()[-1500:])
wait_until(lambda: False, 2)
slave.set(1, "hr", 2, f32(60.0, "cdab"))
ok(wait_until(lambda: slave.get(2, "co", 0) == [1], 20), "valve closed and read back")
slave.command("silent 4")
ok(wait_until(lambda: [b["health"] for k, d, b in daemon.events("device_health", "meter")][-1:]
              == ["offline"], 20), "silent unit offline")
with open(config, "a", encoding="utf-8") as f:
    f.write("\n")
daemon.process.send_signal(signal.SIGHUP)
ok(daemon.wait_log("reload: applied", 30), "reload applied")
wait_until(lambda: False, 2)
rc = daemon.stop()
ok(rc == 0, f"wardgated with modbus-tcp under memcheck: no errors or leaks (exit {rc})",
   open(report, encoding="utf-8").read()[:3000] if os.path.exists(report) else "")
slave.stop()
done()
