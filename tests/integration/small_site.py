"""The small test facility for the Python integration tests (imported, not
run): its config (tests/integration/fixtures/small.yaml.in) with the sim's
control FIFO, rules, more sections, the web server and the uplink to a
mosquitto; a FIFO writer; and a wardgated on it whose log the test reads."""
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "modbus"))
from harness import TMP, ROOT, WARDGATED, PLUGINS, _children, wait_until  # noqa: E402


def small_config(name, web_port, rules, mqtt_port=None, fifo=None, sections="", devices="", uplink=""):
    """Writes TMP/<name>.yaml and returns its path. `rules`: YAML lines of the
    rules list; `sections`: more top-level YAML; `devices`: more device lines;
    `uplink`: more uplink keys (indented two spaces)."""
    with open(os.path.join(ROOT, "tests/integration/fixtures/small.yaml.in"), encoding="utf-8") as f:
        text = f.read()
    text = text.replace("@ROOT@", ROOT).replace("@SCRIPT@\n", "")
    if fifo:
        text = text.replace("      seed: 7\n", f"      seed: 7\n      control: {fifo}\n")
    if devices:
        text = text.replace("  - {id: presence-102,", devices + "  - {id: presence-102,")
    tail = f"rules:\n{rules}{sections}web:\n  listen: 127.0.0.1\n  port: {web_port}\n"
    if mqtt_port:
        tail += f"uplink:\n  enabled: true\n  brokers: [tcp://127.0.0.1:{mqtt_port}]\n  keepalive_s: 5\n{uplink}"
    text = text.replace("web:\n  enabled: false\n", tail)
    path = os.path.join(TMP, f"{name}.yaml")
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    return path


def press(fifo, *lines):
    """Sends lines ("DEVICE POINT VALUE") to the sim's control FIFO."""
    with open(fifo, "w") as f:
        for line in lines:
            f.write(line + "\n")


class Wardgated:
    """A wardgated on `config` and `db`, serving the repository's pages; its
    log (every start appended to one file) is read with log()."""

    def __init__(self, config, db, name, env=None):
        self.config, self.db, self.env = config, db, env
        self.log_path = os.path.join(TMP, f"{name}.log")
        self.proc = None
        self.starts = 0

    def start(self, ready=("web: serving",), seconds=20):
        """Starts it; True once its log says every `ready` text this start."""
        self.proc = subprocess.Popen([WARDGATED, "-c", self.config, "--db", self.db, "--plugin-dir", PLUGINS,
                                      "--web-root", os.path.join(ROOT, "web")],
                                     stdout=open(self.log_path, "a"), stderr=subprocess.STDOUT, env=self.env)
        _children.append(self.proc)
        self.starts += 1
        return wait_until(lambda: all(self.log().count(text) >= self.starts for text in ready), seconds)

    def log(self):
        if not os.path.exists(self.log_path):
            return ""
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def stop(self, sig=None):
        import signal
        self.proc.send_signal(sig or signal.SIGTERM)
        self.proc.wait(20)
