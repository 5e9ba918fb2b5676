#!/usr/bin/env bash
# `make bench`: tools/bench.py (start-up, idle, journal), tools/bench_modbus.py
# (issue 15's workload: 100 and 1,000 Modbus TCP devices, one pymodbus
# endpoint each, read every second and forwarded to mosquitto; telemetry
# modes interval and per_read, 3 interleaved runs of 20 s + 60 s: about 20
# minutes; BENCH_NODERED=1 adds Node-RED on the same load, installed from the
# npm registry by tools/bench_nodered.py: about 10 minutes more),
# tools/bench_uplink.sh (MQTT latency and backlog drain), tools/bench_web.py
# (raise -> WebSocket frame; with --paging also the notify at carers' phones),
# tools/bench_config.py (config loading with 100,000 keys in one mapping),
# tools/bench_query.py (history and CSV export on a 1,000,000-row journal
# while calls are raised), then the 10-minute soak at the storage bound
# (tests/integration/soak_bound.py with SOAK_S=600: 1,000 Modbus TCP meters,
# telemetry every second, "# figure" lines). Results go to stdout;
# docs/benchmarks.md keeps the record.
set -euo pipefail
export BUILD=${BUILD:-build}
here=$(dirname "$0")
/usr/bin/python3 "$here/bench.py"
/usr/bin/python3 "$here/bench_modbus.py"
"$here/bench_uplink.sh"
/usr/bin/python3 "$here/bench_web.py"
/usr/bin/python3 "$here/bench_web.py" 100 5 --paging
/usr/bin/python3 "$here/bench_config.py"
/usr/bin/python3 "$here/bench_query.py"
SOAK_S=${SOAK_S:-600} /usr/bin/python3 "$here/../tests/integration/soak_bound.py"
