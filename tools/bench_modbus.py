#!/usr/bin/python3
"""Issue 15's workload (part of `make bench`): N Modbus TCP meters, each its
own pymodbus endpoint on a loopback port (unit 1, 20 holding registers read
with FC3 once a second), their values forwarded to a local mosquitto at QoS 1,
and a subscriber counting.

The farm is tests/modbus/farm.py, 250 ports per process (one asyncio loop
each), counting the reads per device and noting when each was served: its
register 0 counts up by one a read, so every reading that reaches the
subscriber names the read it came from. The subscriber is
tools/bench_subscriber.py (paho). What is measured on the same farm, broker
and subscriber, interleaved:

  wardgate interval   one modbus-tcp bus per device, a profile of 20 analog
                      points, uplink on, telemetry_interval_s: 1, log level
                      info (the default), the web on a free port
  wardgate per_read   the same with uplink.telemetry_mode: per_read (skipped,
                      with a line saying so, when the daemon refuses the key)
  Node-RED            with BENCH_NODERED=1 (tools/bench_nodered.py: installs
                      pinned versions from the npm registry under build/)

Each run: start, wait until every device has been read once (at most 180 s),
BENCH_WARMUP_S (20) of warm-up, then BENCH_WINDOW_S (60) of window;
BENCH_RUNS (3) runs per target, interleaved. Per run: CPU % of one core
(utime+stime from /proc/PID/stat over the window, every process of the
target), RSS, threads and fds (the largest sample, every 5 s), msgs/s and
readings/s at the subscriber, requests/s served by the farm, every read of
the window delivered (read by the farm vs received; missing and duplicate
reads named), read -> subscriber latency p50/p99 (the farm's time of the
read to the subscriber's receipt; for per_read also from the message's
ts_ms), the daemon's log bytes/s, the farm's CPU for reference. Then medians
and ranges per N and target.

BENCH_N ("100,1000"), BENCH_RUNS, BENCH_WARMUP_S, BENCH_WINDOW_S,
BENCH_MODES ("interval,per_read"), BENCH_NODERED ("1" adds Node-RED).
BENCH_RSS_S=600: the 10-minute mode instead: one run per target at each N
with a window of that many seconds, RSS sampled every 10 s and printed.
Run with /usr/bin/python3. About 90 s a run: the default (2 N x 2 modes x 3)
takes about 20 minutes; Node-RED adds 10.
"""
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.path.join(ROOT, os.environ.get("BUILD", "build"))
DAEMON = os.path.join(BUILD, "wardgated")
PLUGINS = os.path.join(BUILD, "plugins")
FARM = os.path.join(ROOT, "tests/modbus/farm.py")
SUBSCRIBER = os.path.join(ROOT, "tools/bench_subscriber.py")
PYTHON = "/usr/bin/python3"  # Debian's, which sees python3-pymodbus and python3-paho-mqtt
REGISTERS = 20
DEVICES_PER_FARM = 250
DRAIN_S = 5  # after the window: readings of its last reads still on their way
START_S = 180  # at most this long from the start until every device has been read once
TICKS = os.sysconf("SC_CLK_TCK")


def env_int(name, default):
    return int(os.environ.get(name, default))


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


# ---- wardgate ----

class Wardgate:
    """wardgated with one modbus-tcp bus per device, in one telemetry mode."""

    def __init__(self, mode):
        self.mode = mode
        self.name = f"wardgate {mode}"
        self.proc = None
        self.log = None

    def write_config(self, ports, broker_port, directory):
        profile = os.path.join(directory, "bench-20.yaml")
        with open(profile, "w") as f:
            f.write("id: bench-20\nvendor: bench\nmodel: 20 holding registers\npoints:\n")
            for r in range(REGISTERS):
                f.write(f"  - {{name: r{r}, meaning: voltage, unit: V, source: {{function: 3, address: {r}, "
                        f"scale: 0.1}}}}\n")
        telemetry = "telemetry_interval_s: 1" if self.mode == "interval" else f"telemetry_mode: {self.mode}"
        config = os.path.join(directory, "bench.yaml")
        with open(config, "w") as f:
            f.write(f"""site: {{id: bench, name: bench, district: bench}}
profiles: ["{profile}"]
zones:
  - id: f1
    name: plant
    floor: 1
    rooms: [{{id: plant, kind: plant}}]
web: {{listen: 127.0.0.1, port: {free_port()}}}
uplink:
  enabled: true
  brokers: [tcp://127.0.0.1:{broker_port}]
  {telemetry}
buses:
""")
            for i, port in enumerate(ports):
                f.write(f"  - {{id: tcp{i}, driver: modbus-tcp, settings: {{host: 127.0.0.1, port: {port}}}}}\n")
            f.write("devices:\n")
            for i in range(len(ports)):
                f.write(f"  - {{id: m{i}, bus: tcp{i}, address: 1, profile: bench-20, room: plant, "
                        f"poll_ms: 1000}}\n")
        return config

    def refusal(self, ports, broker_port, directory):
        """None when the daemon accepts this configuration, else why not."""
        config = self.write_config(ports, broker_port, directory)
        check = subprocess.run([DAEMON, "-c", config, "--check", "--plugin-dir", PLUGINS],
                               capture_output=True, text=True)
        if check.returncode != 0:
            return ["the daemon refuses the configuration"] + (check.stderr + check.stdout).strip().splitlines()[:2]
        return None

    def start(self, ports, broker_port, directory):
        config = self.write_config(ports, broker_port, directory)
        self.log = os.path.join(directory, "daemon.log")
        self.proc = subprocess.Popen([DAEMON, "-c", config, "--db", os.path.join(directory, "bench.db"),
                                      "--plugin-dir", PLUGINS, "--web-root", os.path.join(ROOT, "web")],
                                     stdout=subprocess.DEVNULL, stderr=open(self.log, "w"))

    def pids(self):
        return [self.proc.pid] if self.proc.poll() is None else []

    def alive(self):
        return self.proc.poll() is None

    def log_bytes(self):
        return os.path.getsize(self.log)

    def notes(self):
        """Daemon log lines that explain a lost reading."""
        with open(self.log, errors="replace") as f:
            return [line.strip()[:200] for line in f if "dropped" in line or "crit" in line][:3]

    def stop(self):
        stop_process(self.proc)

    def cleanup(self):
        """The run's database and log can be hundreds of MB at N = 1,000."""
        directory = os.path.dirname(self.log)
        for name in os.listdir(directory):
            if name.startswith("bench.db") or name == "daemon.log":
                os.unlink(os.path.join(directory, name))


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


def describe(n, r, run):
    ts = (f"; ts_ms -> subscriber p50 {r['ts_p50_ms']:.0f} ms, p99 {r['ts_p99_ms']:.0f} ms (ts_ms is "
          f"{r['ts_after_read_ms'][1]:.1f} ms after the farm served the read at the median, "
          f"{r['ts_after_read_ms'][0]:.1f} ms at p1)" if r["ts_p50_ms"] is not None else "")
    lost = (f" ({r['missing']} missing, {r['missing_at_end']} of them read in the window's last 2 s; "
            f"{r['duplicates']} duplicates; {r['silent_devices']} devices with none; {r['partial']} messages "
            f"carried part of a poll)")
    print(f"# run {run} N={n} {r['target']} (every device read {r['all_polled_s']:.1f} s after the start): "
          f"CPU {r['cpu']:.1f} % of a core, RSS {r['rss_mib']:.1f} MiB, "
          f"{r['threads']} threads, {r['fds']} fds; {r['msgs_s']:.0f} msgs/s, {r['readings_s']:.0f} readings/s "
          f"at the subscriber; {r['req_s']:.0f} requests/s served "
          f"({r['per_device'][0]}–{r['per_device'][1]} a device); delivered {r['delivered']}/{r['served']} "
          f"reads{lost}; read -> subscriber p50 {r['p50_ms']:.0f} ms, p99 {r['p99_ms']:.0f} ms{ts}; log "
          f"{r['log_kib_s']:.1f} KiB/s; farm CPU {r['farm_cpu']:.0f} %"
          + ("" if r["alive"] else "; THE TARGET DIED"), flush=True)
    if r["lost_examples"]:
        print(f"#   first reads not delivered: {', '.join(r['lost_examples'])}", flush=True)
    for line in r["errors"] + r["notes"]:
        print(f"#   {line}", flush=True)


def spread(results, key, fmt="{:.1f}"):
    values = [r[key] for r in results if r[key] is not None]
    if not values:
        return "–"
    low, mid, high = min(values), statistics.median(values), max(values)
    if len(values) == 1 or fmt.format(low) == fmt.format(high):
        return fmt.format(mid)
    return f"{fmt.format(mid)} ({fmt.format(low)}–{fmt.format(high)})"


def summary(n, name, results):
    print(f"| {n} | {name} | {spread(results, 'cpu')} % | {spread(results, 'rss_mib')} MiB | "
          f"{spread(results, 'threads', '{:.0f}')} / {spread(results, 'fds', '{:.0f}')} | "
          f"{spread(results, 'msgs_s', '{:.0f}')} / {spread(results, 'readings_s', '{:.0f}')} | "
          f"{spread(results, 'req_s', '{:.0f}')} | "
          f"{sum(r['delivered'] for r in results)}/{sum(r['served'] for r in results)} "
          f"(missing {sum(r['missing'] for r in results)}, dup {sum(r['duplicates'] for r in results)}, part of a "
          f"poll {sum(r['partial'] for r in results)}) | "
          f"{spread(results, 'p50_ms', '{:.0f}')} / {spread(results, 'p99_ms', '{:.0f}')} ms | "
          f"{spread(results, 'ts_p99_ms', '{:.0f}')} | {spread(results, 'farm_cpu', '{:.0f}')} % |", flush=True)


def targets():
    chosen = [Wardgate(m) for m in os.environ.get("BENCH_MODES", "interval,per_read").split(",") if m]
    if os.environ.get("BENCH_NODERED") == "1":
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        from bench_nodered import NodeRed  # noqa: E402 (needs the npm registry: only on request)
        chosen.append(NodeRed(BUILD))
    return chosen


def bench(sizes, chosen):
    runs = env_int("BENCH_RUNS", 3)
    warmup_s, window_s = env_int("BENCH_WARMUP_S", 20), env_int("BENCH_WINDOW_S", 60)
    long_s = env_int("BENCH_RSS_S", 0)
    if long_s:
        runs, window_s = 1, long_s
    sample_s = 10 if long_s else 5
    failed = False
    with tempfile.TemporaryDirectory(prefix="wgbench.") as tmp:
        if os.environ.get("BENCH_KEEP"):
            tmp = os.environ["BENCH_KEEP"]  # keep the runs' files there (for a closer look)
        for n in sizes:
            directory = os.path.join(tmp, f"n{n}")
            os.makedirs(directory)
            farm = Farm(n, directory)
            try:
                broker = Broker(directory)
            except RuntimeError:
                farm.stop()
                raise
            print(f"# N={n}: {len(farm.ports)} pymodbus devices on {len(farm.ports)} loopback ports "
                  f"({len(farm.procs)} processes), mosquitto on port {broker.port}", flush=True)
            try:
                usable = []
                for target in chosen:
                    refusal = target.refusal(farm.ports, broker.port, directory)
                    if refusal:
                        print(f"# SKIP {target.name}: {' / '.join(refusal)}", flush=True)
                    else:
                        usable.append(target)
                results = {t.name: [] for t in usable}
                for run in range(1, runs + 1):
                    for target in usable:
                        r = one_run(target, farm, broker, os.path.join(directory, f"{target.name}-{run}"
                                                                       .replace(" ", "-")),
                                    warmup_s, window_s, sample_s)
                        results[target.name].append(r)
                        describe(n, r, run)
                        if long_s:
                            series = [mib for _, mib in r["rss_series"]]
                            print(f"#   RSS every {sample_s} s (s, MiB): {r['rss_series']}", flush=True)
                            print(f"#   RSS over {long_s} s: first {series[0] if series else 0} MiB, last "
                                  f"{series[-1] if series else 0} MiB, lowest {min(series, default=0)}, highest "
                                  f"{max(series, default=0)}", flush=True)
                        failed |= not r["alive"]
                print(f"\nN = {n}, {runs} interleaved runs, {warmup_s} s warm-up + {window_s} s; median "
                      f"(range):\n\n| N | target | CPU of a core | RSS | threads / fds | msgs/s / readings/s | "
                      f"requests/s served | reads delivered | read→subscriber p50 / p99 | ts_ms→subscriber "
                      f"p99 (ms) | pymodbus CPU |\n|---|---|---|---|---|---|---|---|---|---|---|")
                for name, rs in results.items():
                    summary(n, name, rs)
                print(flush=True)
            finally:
                broker.stop()
                farm.stop()
    return failed


def main(chosen=None):
    sizes = [int(n) for n in os.environ.get("BENCH_N", "100,1000").split(",") if n]
    started = time.monotonic()
    failed = bench(sizes, chosen or targets())
    print(f"# tools/bench_modbus.py took {(time.monotonic() - started) / 60:.1f} minutes", flush=True)
    if failed:
        print("a target died during a run", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
