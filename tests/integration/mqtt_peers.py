"""Real MQTT peers for the Python integration tests (imported, not run): a
mosquitto broker on a free loopback port with persistence, and a
mosquitto_sub that writes every message under a topic as one line
"<unix time> <topic> <payload>"."""
import os
import pwd
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "modbus"))
from harness import TMP, _children, free_port, wait_until  # noqa: E402


def start_broker(name):
    """(process, port) of a mosquitto whose files are under TMP/name."""
    port = free_port()
    directory = os.path.join(TMP, name)
    os.makedirs(os.path.join(directory, "data"), exist_ok=True)
    conf = os.path.join(directory, "mosquitto.conf")
    log = os.path.join(directory, "mosquitto.log")
    with open(conf, "w") as f:
        f.write(f"user {pwd.getpwuid(os.geteuid()).pw_name}\n"
                f"persistence true\npersistence_location {directory}/data/\nautosave_interval 1\n"
                f"log_dest file {log}\nlog_type all\nmax_inflight_messages 0\nmax_queued_messages 0\n"
                f"listener {port} 127.0.0.1\nallow_anonymous true\n")
    proc = subprocess.Popen(["mosquitto", "-c", conf], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _children.append(proc)
    wait_until(lambda: os.path.exists(log) and "listen socket on port" in open(log).read(), 10)
    return proc, port


def start_sub(port, out, topic):
    """A QoS 1 persistent-session mosquitto_sub writing `topic`'s messages to `out`."""
    proc = subprocess.Popen(["mosquitto_sub", "-h", "127.0.0.1", "-p", str(port), "-q", "1", "-c", "-i",
                             f"wgtest-{port}-{time.monotonic_ns()}", "-t", topic, "-F", "%U %t %p"],
                            stdout=open(out, "w"), stderr=subprocess.DEVNULL)
    _children.append(proc)
    time.sleep(0.3)
    return proc
