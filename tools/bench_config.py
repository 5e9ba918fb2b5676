#!/usr/bin/python3
"""Config loading with many keys in one mapping (part of `make bench`).

A generated or damaged config file may hold a mapping of 100,000 keys; the
duplicate-key check must not make loading (or a reload on the core thread)
quadratic. Writes the small test facility plus one mapping of N keys whose
last key repeats the first, runs `wardgated --check` on it, checks that the
duplicate is reported with the positions of both keys, and prints the
median wall time of BENCH_RUNS runs (default 5) for each N.
"""
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.environ.get("BUILD", "build")
DAEMON = os.path.join(ROOT, BUILD, "wardgated")
RUNS = int(os.environ.get("BENCH_RUNS", "5"))


def write_config(path, keys):
    base = open(os.path.join(ROOT, "tests/integration/fixtures/small.yaml.in"), encoding="utf-8").read()
    base = base.replace("@ROOT@", ROOT).replace("@SCRIPT@\n", "")
    head_lines = base.count("\n") + 1
    with open(path, "w", encoding="utf-8") as f:
        f.write(base)
        f.write("extra:\n")
        for i in range(keys):
            f.write(f"  key{i}: {i}\n")
        f.write("  key0: again\n")
    return head_lines + 1, head_lines + keys + 1  # lines of the first key0 and of its duplicate


def main():
    print("| keys in one mapping | `wardgated --check` (median) | runs |")
    print("|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for keys in (1000, 10000, 100000):
            path = os.path.join(tmp, f"keys{keys}.yaml")
            first, duplicate = write_config(path, keys)
            times = []
            for _ in range(RUNS):
                t0 = time.monotonic()
                run = subprocess.run([DAEMON, "-c", path, "--check"], capture_output=True, text=True)
                times.append(time.monotonic() - t0)
                expected = f"{path}:{duplicate}:3: duplicate key \"key0\" (first defined at {path}:{first}:3)"
                if run.returncode != 1 or expected not in run.stderr:
                    sys.exit(f"bench_config: {keys} keys: expected the duplicate to be reported as\n"
                             f"  {expected}\ngot (exit {run.returncode}):\n{run.stderr[-2000:]}")
            print(f"| {keys:,} | {statistics.median(times) * 1000:.0f} ms | "
                  + ", ".join(f"{t * 1000:.0f}" for t in times) + " |")


main()
