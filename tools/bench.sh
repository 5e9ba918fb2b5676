#!/usr/bin/env bash
# `make bench`: see tools/bench.py. Results go to stdout; docs/benchmarks.md keeps the record.
set -euo pipefail
BUILD=${BUILD:-build} exec /usr/bin/python3 "$(dirname "$0")/bench.py"
