#!/usr/bin/python3
"""The harness of tools/bench_modbus.py and tools/bench_nodered.py (imported,
not run): the pymodbus farm (tests/modbus/farm.py, DEVICES_PER_FARM ports to
a process), mosquitto on a free loopback port, the counting subscriber
(tools/bench_subscriber.py), the /proc figures of a process tree, and one
run of a target with what it shows.

A target is an object with `name`, `refusal(ports, broker_port, directory)`
(None, or the lines saying why it cannot run), `start(ports, broker_port,
directory)`, `pids()`, `alive()`, `log_bytes()`, `notes()` (log lines that
explain a lost reading), `stop()` and `cleanup()`.
"""
import json
import os
import signal
import socket
import subprocess
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FARM = os.path.join(ROOT, "tests/modbus/farm.py")
SUBSCRIBER = os.path.join(ROOT, "tools/bench_subscriber.py")
PYTHON = "/usr/bin/python3"  # Debian's, which sees python3-pymodbus and python3-paho-mqtt
REGISTERS = 20
DEVICES_PER_FARM = 250
DRAIN_S = 5  # after the window: readings of its last reads still on their way
START_S = 180  # at most this long from the start until every device has been read once
TICKS = os.sysconf("SC_CLK_TCK")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(predicate, seconds, step=0.1):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return bool(predicate())


def control(port, command):
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall((command + "\n").encode())
        return s.makefile().readline().strip()


# ---- processes: CPU, RSS, threads, fds from /proc ----

def process_tree(pid):
    """pid and every descendant of it alive now."""
    children = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
                children.setdefault(ppid, []).append(int(entry))
            except (OSError, ValueError, IndexError):
                pass
    tree, todo = [], [pid]
    while todo:
        p = todo.pop()
        tree.append(p)
        todo += children.get(p, [])
    return tree


def cpu_ticks(pids):
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, IndexError):
            pass
    return total


def memory_figures(pids):
    """(RSS MiB, threads, fds) summed over pids."""
    rss, threads, fds = 0, 0, 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        rss += int(line.split()[1])
                    elif line.startswith("Threads:"):
                        threads += int(line.split()[1])
            fds += len(os.listdir(f"/proc/{pid}/fd"))
        except OSError:
            pass
    return rss / 1024, threads, fds


def stop_process(proc, seconds=60):
    if proc is None:
        return
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(seconds)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# ---- the pymodbus farm, the broker, the subscriber ----

class Target:
    """What bench_modbus asks of a program under test (wardgate, Node-RED):
    its process `proc` and log file `log`, set by its start()."""

    def pids(self):
        return [self.proc.pid] if self.proc.poll() is None else []

    def alive(self):
        return self.proc.poll() is None

    def log_bytes(self):
        return os.path.getsize(self.log)


class Farm:
    """N devices on N loopback ports, DEVICES_PER_FARM to a pymodbus process."""

    def __init__(self, devices, directory):
        self.procs, self.controls, self.ports = [], [], []
        starting = []
        for i, first in enumerate(range(0, devices, DEVICES_PER_FARM)):
            out = os.path.join(directory, f"farm{i}.ports")
            log = open(os.path.join(directory, f"farm{i}.log"), "w")
            proc = subprocess.Popen([PYTHON, FARM, "--count", str(min(DEVICES_PER_FARM, devices - first)),
                                     "--registers", str(REGISTERS), "--ports-out", out, "--read-times"],
                                    stdout=subprocess.DEVNULL, stderr=log)
            self.procs.append(proc)
            starting.append((proc, out, log.name))
        for proc, out, log in starting:
            if not wait_until(lambda: os.path.exists(out) or proc.poll() is not None, 300) or \
                    not os.path.exists(out):
                self.stop()
                raise RuntimeError(f"pymodbus farm did not start (exit {proc.poll()}): "
                                   f"{open(log, errors='replace').read()[-2000:]}")
            words = open(out).read().split()
            self.controls.append(int(words[1]))
            self.ports += [int(p) for p in words[2:]]

    def reset(self):
        for c in self.controls:
            control(c, "reset")

    def counts(self):
        return [n for c in self.controls for n in json.loads(control(c, "counts"))]

    def read_times(self, directory):
        """[{raw value of register 0: unix time}] per device, since the last reset."""
        times = []
        for i, c in enumerate(self.controls):
            path = os.path.join(directory, f"reads{i}.json")
            control(c, f"dump {path}")
            with open(path) as f:
                times += [{int(k): v for k, v in d.items()} for d in json.load(f)]
            os.unlink(path)
        return times

    def pids(self):
        return [p.pid for p in self.procs]

    def stop(self):
        for p in self.procs:
            stop_process(p, 10)


class Broker:
    def __init__(self, directory):
        self.port = free_port()
        conf, self.log = os.path.join(directory, "mosquitto.conf"), os.path.join(directory, "mosquitto.log")
        with open(conf, "w") as f:
            f.write(f"persistence false\nlog_dest file {self.log}\nlog_type error\nlog_type warning\n"
                    f"log_type notice\nmax_inflight_messages 0\nmax_queued_messages 0\n"
                    f"listener {self.port} 127.0.0.1\nallow_anonymous true\n")
        if os.geteuid() == 0:
            with open(conf, "a") as f:
                f.write("user root\n")
        self.proc = subprocess.Popen(["mosquitto", "-c", conf], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        if not wait_until(self.listening, 20):
            self.stop()
            raise RuntimeError(f"mosquitto did not start: {open(self.log).read()[-1000:]}")

    def listening(self):
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
            return True
        except OSError:
            return False

    def stop(self):
        stop_process(self.proc, 10)


class Subscriber:
    def __init__(self, broker_port, directory):
        self.out, ready = os.path.join(directory, "received.json"), os.path.join(directory, "subscribed")
        self.proc = subprocess.Popen([PYTHON, SUBSCRIBER, "--port", str(broker_port), "--out", self.out,
                                      "--ready", ready], stderr=open(os.path.join(directory, "sub.log"), "w"))
        if not wait_until(lambda: os.path.exists(ready) or self.proc.poll() is not None, 30):
            raise RuntimeError("the subscriber did not subscribe")

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(60)
        with open(self.out) as f:
            return json.load(f)


# ---- one run, and what it shows ----

def percentile(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] if values else float("nan")


def one_run(target, farm, broker, directory, warmup_s, window_s, sample_s):
    os.makedirs(directory)
    subscriber = Subscriber(broker.port, directory)
    try:
        farm.reset()
        started = time.monotonic()
        target.start(farm.ports, broker.port, directory)
        # The warm-up counts from the moment every device has been read once
        # (Node-RED takes seconds to start, more on a loaded machine).
        wait_until(lambda: not target.alive() or all(farm.counts()), START_S, 0.5)
        all_polled_s = time.monotonic() - started
        while time.monotonic() < started + all_polled_s + warmup_s and target.alive():
            time.sleep(0.5)
        farm.reset()
        t0_wall, t0 = time.time(), time.monotonic()
        pids = process_tree(target.pids()[0]) if target.pids() else []
        ticks0, farm_ticks0, log0 = cpu_ticks(pids), cpu_ticks(farm.pids()), target.log_bytes()
        samples = []
        while time.monotonic() < t0 + window_s and target.alive():
            time.sleep(max(0.0, min(sample_s, t0 + window_s - time.monotonic())))
            samples.append((time.monotonic() - t0, *memory_figures(process_tree(pids[0]) if pids else [])))
        ticks1, farm_ticks1 = cpu_ticks(pids), cpu_ticks(farm.pids())
        elapsed, t1_wall = time.monotonic() - t0, time.time()
        counts, reads = farm.counts(), farm.read_times(directory)
        log_rate = (target.log_bytes() - log0) / elapsed
        alive = target.alive()
        time.sleep(DRAIN_S)
    finally:
        target.stop()
        received = subscriber.stop()
    result = analyse(target, received, counts, reads, (t0_wall, t1_wall, elapsed), samples, alive,
                     {"cpu": (ticks1 - ticks0) / TICKS / elapsed * 100, "all_polled_s": all_polled_s,
                      "farm_cpu": (farm_ticks1 - farm_ticks0) / TICKS / elapsed * 100,
                      "log_kib_s": log_rate / 1024})
    target.cleanup()
    return result


def analyse(target, received, counts, reads, window, samples, alive, figures):
    """Matches every reading received to the read it came from; the run's figures."""
    t0_wall, t1_wall, elapsed = window
    # The farms dump a moment after the window closes: only the window's reads count.
    reads = [{raw: at for raw, at in t.items() if at <= t1_wall} for t in reads]
    delivered = [dict() for _ in reads]  # per device: raw value of register 0 -> times received
    latencies, ts_latencies, ts_after_read = [], [], []
    for ms, device, last, count, ts_ms in received["readings"]:
        try:
            index = int(device[1:])
            times = reads[index]
        except (ValueError, IndexError):
            continue
        for raw in (r % 65536 for r in range(last - count + 1, last + 1)):
            at = times.get(raw)
            if at is None:
                continue  # a read before or after the window
            delivered[index][raw] = delivered[index].get(raw, 0) + 1
            latencies.append(ms - at * 1000)
            if ts_ms is not None:
                ts_latencies.append(ms - ts_ms)
                ts_after_read.append(ts_ms - at * 1000)
    served = sum(len(t) for t in reads)
    got = sum(len(d) for d in delivered)
    lost = sorted((at, index, raw) for index, (t, d) in enumerate(zip(reads, delivered))
                  for raw, at in t.items() if raw not in d)
    in_window = [m for m in received["messages"] if t0_wall * 1000 <= m[0] <= t1_wall * 1000]
    result = dict(figures)
    result.update({
        "target": target.name, "alive": alive,
        "rss_mib": max((s[1] for s in samples), default=0), "threads": max((s[2] for s in samples), default=0),
        "fds": max((s[3] for s in samples), default=0),
        "rss_series": [(round(s[0]), round(s[1], 1)) for s in samples],
        "req_s": sum(counts) / elapsed, "per_device": (min(counts, default=0), max(counts, default=0)),
        "msgs_s": len(in_window) / elapsed, "readings_s": sum(m[2] for m in in_window) / elapsed,
        "partial": sum(m[3] for m in in_window),
        "served": served, "delivered": got, "missing": served - got,
        "missing_at_end": sum(1 for at, _, _ in lost if at >= t1_wall - 2),
        "duplicates": sum(n - 1 for d in delivered for n in d.values()),
        "silent_devices": sum(1 for d in delivered if not d),
        "p50_ms": percentile(latencies, 0.5), "p99_ms": percentile(latencies, 0.99),
        "ts_p50_ms": percentile(ts_latencies, 0.5) if ts_latencies else None,
        "ts_p99_ms": percentile(ts_latencies, 0.99) if ts_latencies else None,
        "ts_after_read_ms": ((percentile(ts_after_read, 0.01), percentile(ts_after_read, 0.5))
                             if ts_after_read else None),
        "lost_examples": [f"m{index} read {raw} at +{at - t0_wall:.2f} s" for at, index, raw in lost[:4]],
        "errors": received["errors"][:3], "notes": target.notes() if served - got else []})
    return result
