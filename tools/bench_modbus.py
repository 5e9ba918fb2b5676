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
BENCH_KEEP=DIR keeps the runs' files there. The harness (farm, broker,
subscriber, /proc figures, one run and its analysis) is tools/bench_harness.py.
Run with /usr/bin/python3. 1.5-2 minutes a run: the default (2 N x 2 modes
x 3) takes about 20 minutes; Node-RED adds 10.
"""
import os
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_harness import REGISTERS, ROOT, Target, Broker, Farm, free_port, one_run, stop_process  # noqa: E402

BUILD = os.path.join(ROOT, os.environ.get("BUILD", "build"))
DAEMON = os.path.join(BUILD, "wardgated")
PLUGINS = os.path.join(BUILD, "plugins")


def env_int(name, default):
    return int(os.environ.get(name, default))


class Wardgate(Target):
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

    def notes(self):
        """Daemon log lines that may explain a lost reading: the first warnings, errors, drops."""
        with open(self.log, errors="replace") as f:
            return [line.strip()[:200] for line in f
                    if any(word in line for word in (" warning ", " error ", " crit ", "dropped"))][:4]

    def stop(self):
        stop_process(self.proc)

    def cleanup(self):
        """The run's database and log can be hundreds of MB at N = 1,000."""
        directory = os.path.dirname(self.log)
        for name in os.listdir(directory):
            if name.startswith("bench.db") or name == "daemon.log":
                os.unlink(os.path.join(directory, name))

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
