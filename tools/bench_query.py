#!/usr/bin/python3
"""Benchmark (in `make bench`): history queries and CSV exports on a
1,000,000-row journal while calls are raised.

A real wardgated on the small test facility with ROWS journal rows
(tests/integration/big_journal.py), calls raised and reset through the sim
control FIFO the whole time (tests/integration/journal_load.py), sd_notify
with WATCHDOG_USEC=2 s. Measured, RUNS times each, with curl as the client:
- history queries with sparse filters (a device with 20 rows in 1,000,000,
  the fire alarms, the system events, one alarm id, a room) and the first
  page without a filter;
- a CSV export of everything (BEFORE: main capped it at 100,000 rows);
- raise -> WebSocket frame (FIFO write to frame, monotonic clock, same host)
  during all of it, and before it on the idle daemon;
- the longest gap between WATCHDOG=1 pings, and the daemon's RSS.

Usage: tools/bench_query.py [ROWS] [RUNS] [--before]
(--before: for a daemon of main at adfe705, which knows no write_results
parameter.)"""
import os
import statistics
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "integration"))
from journal_load import Raiser, Scenario, percentile  # noqa: E402

args = [a for a in sys.argv[1:] if not a.startswith("--")]
BEFORE = "--before" in sys.argv
ROWS = int(args[0]) if args else 1_000_000
RUNS = int(args[1]) if len(args) > 1 else 5

QUERIES = [
    ("device with 20 rows", "/api/v1/history?device=cord-rare"),
    ("fire alarms (140 rows)", "/api/v1/history?priority=fire"),
    ("system events, page 1", "/api/v1/history?kind=system"),
    ("one alarm id", "/api/v1/history?alarm=al-00005003"),
    ("room with 20 rows", "/api/v1/history?room=rare-room"),
    ("no filter, page 1", "/api/v1/history"),
    ("a day a week ago, page 1", None),  # filled in below: from/to
]


def fmt(values, unit="ms", scale=1000.0):
    if not values:
        return "-"
    median = statistics.median(values) * scale
    return f"{median:.0f} {unit}" if unit == "ms" else f"{median:.1f} {unit}"


def main():
    s = Scenario(ROWS, watchdog_usec=2_000_000)
    print(f"journal: {ROWS} rows appended in {s.fill_s:.1f} s ({s.tmp})", flush=True)
    s.start()
    print(f"daemon up (web serving) {s.ready_s:.1f} s after start, RSS {s.rss_kib() / 1024:.0f} MiB", flush=True)
    try:
        idle = Raiser(s).start()
        time.sleep(6)
        idle.stop()
        print(f"idle: raise -> frame median {statistics.median(idle.latencies_ms):.1f} ms, "
              f"p99 {percentile(idle.latencies_ms, 0.99):.1f} ms ({len(idle.latencies_ms)} raises)", flush=True)

        loaded_since = time.monotonic()
        raiser = Raiser(s).start()
        now_ms = int(time.time() * 1000)
        day = 86400 * 1000
        queries = [(name, path if path else f"/api/v1/history?from={now_ms - 8 * day}&to={now_ms - 7 * day}")
                   for name, path in QUERIES]
        print("\n| query | median | runs (s) |\n|---|---|---|")
        for name, path in queries:
            times = []
            for _ in range(RUNS):
                status, total, _ = s.curl(path)
                if status != 200:
                    print(f"# {path}: HTTP {status}")
                times.append(total)
            print(f"| {name} | {fmt(times)} | {', '.join(f'{t:.3f}' for t in times)} |", flush=True)

        export = "/api/v1/history?format=csv" + ("" if BEFORE else "&write_results=1")
        out = os.path.join(s.tmp, "export.csv")
        totals, firsts, statuses, rss_peak = [], [], [], 0
        lines = 0
        rss_before = s.rss_kib()
        for _ in range(RUNS):
            done = threading.Event()

            def sample():
                nonlocal rss_peak
                while not done.is_set():
                    rss_peak = max(rss_peak, s.rss_kib() or 0)
                    time.sleep(0.05)

            sampler = threading.Thread(target=sample)
            sampler.start()
            status, total, first = s.curl(export)  # to /dev/null: the client's disk is not ours
            done.set()
            sampler.join()
            totals.append(total)
            firsts.append(first)
            statuses.append(status)
        s.curl(export, out)
        with open(out, "rb") as f:
            lines = sum(1 for _ in f) - 1
        size = os.path.getsize(out)
        print(f"\nCSV export of everything: median {fmt(totals, 's', 1)} (first byte {fmt(firsts)}), "
              f"{lines} rows, {size / 1e6:.0f} MB; runs {', '.join(f'{t:.2f}' for t in totals)} s "
              f"(HTTP {', '.join(str(x) for x in statuses)}); "
              f"daemon RSS {rss_before / 1024:.0f} MiB before, {rss_peak / 1024:.0f} MiB peak", flush=True)
        raiser.stop()
        lat = raiser.latencies_ms
        gaps = s.watchdog_gaps(loaded_since)
        print(f"under queries and exports: raise -> frame median {statistics.median(lat):.1f} ms, "
              f"p99 {percentile(lat, 0.99):.1f} ms, max {max(lat):.1f} ms ({len(lat)} raises, "
              f"{raiser.lost} more than 10 s late); WATCHDOG=1 longest gap {max(gaps):.0f} ms (period 2000 ms, "
              f"pings every {statistics.median(gaps):.0f} ms)", flush=True)
        s.curl("/metrics", os.path.join(s.tmp, "metrics.txt"))
        with open(os.path.join(s.tmp, "metrics.txt")) as f:
            longest = [line.split()[1] for line in f if line.startswith("wardgate_core_loop_seconds_max{window=\"start\"} ")]
        print(f"the core loop's longest turn since start (/metrics): "
              f"{float(longest[0]) * 1000:.0f} ms" if longest else "no wardgate_core_loop_seconds_max",
              flush=True)
        p99 = percentile(lat, 0.99)
        print(f"target (issue 12): raise -> frame p99 < 50 ms: {'met' if p99 < 50 else 'NOT met'}; "
              f"watchdog never missed: {'yes' if max(gaps) < 2000 else 'NO'}", flush=True)
    finally:
        rc = s.stop()
        s.cleanup()
    return 0 if rc == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
