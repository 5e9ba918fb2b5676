#!/usr/bin/env bash
# `make bench`: tools/bench.py (start-up, idle, journal), tools/bench_modbus.py
# (1,000 Modbus TCP devices) and tools/bench_uplink.sh (MQTT latency and
# backlog drain), tools/bench_web.py (raise -> WebSocket frame) and
# tools/bench_config.py (config loading with 100,000 keys in one mapping).
# Results go to stdout; docs/benchmarks.md keeps the record.
set -euo pipefail
export BUILD=${BUILD:-build}
here=$(dirname "$0")
/usr/bin/python3 "$here/bench.py"
/usr/bin/python3 "$here/bench_modbus.py"
"$here/bench_uplink.sh"
/usr/bin/python3 "$here/bench_web.py"
/usr/bin/python3 "$here/bench_config.py"
