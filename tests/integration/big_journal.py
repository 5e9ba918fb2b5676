"""A large event journal written straight into a wardgate database (imported
by tests and tools/bench_query.py, not run on its own).

fill(db, rows) appends `rows` journal rows in one SQL statement (a recursive
CTE, all inside SQLite) to a database the daemon (or `--add-user`) has
already created and migrated, so the schema is the real one. The rows look
like the example facility's journal over the last 30 days: point changes,
output write results, telemetry, device health, alarm records in runs of six
(raise, ack, ... of one alarm id) and a few system events, spread over 300
devices in 60 rooms. Two things are deliberately rare, for sparse filters:
device "cord-rare" (one row in 50,000, in room "rare-room") and fire alarms
(one alarm id in 500).

Takes about 10 s for a million rows on a 2-core machine.
"""
import os
import sqlite3
import time

DAY_MS = 86400 * 1000

KIND_SQL = """CASE
    WHEN i % 50000 = 7 THEN 'alarm'
    WHEN i % 100 < 45 THEN 'point'
    WHEN i % 100 < 75 THEN 'write_result'
    WHEN i % 100 < 85 THEN 'telemetry'
    WHEN i % 100 < 93 THEN 'device_health'
    WHEN i % 100 < 99 THEN 'alarm'
    ELSE 'system' END"""


def fill(db, rows, span_days=30, now_ms=None):
    """Appends `rows` rows ending at now_ms (default: now). Returns seconds taken."""
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    start_ms = now_ms - span_days * DAY_MS
    step = max(1, span_days * DAY_MS // max(rows, 1))
    began = time.monotonic()
    con = sqlite3.connect(db, isolation_level=None)
    con.execute("PRAGMA journal_mode = OFF")  # one bulk write; WAL again below
    con.execute("PRAGMA synchronous = OFF")
    con.execute("BEGIN")
    con.execute(f"""
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?1),
r AS (SELECT i, {KIND_SQL} AS kind,
             CASE WHEN i % 50000 = 7 THEN 'cord-rare' ELSE printf('dev-%03d', (i * 7) % 300) END AS device,
             CASE WHEN i % 50000 = 7 THEN 'rare-room' ELSE printf('%d', 101 + ((i * 7) % 300) / 5) END AS room
      FROM n)
INSERT INTO events (id, ts_ms, kind, priority, alarm_id, device, zone, room, bed, resident, body, uplink)
SELECT printf('bulk-%010d', i), ?2 + i * ?3, kind,
       CASE WHEN kind != 'alarm' THEN -1
            WHEN i % 50000 = 7 OR (i / 100) % 500 = 3 THEN 5
            ELSE (i / 100) % 4 + 1 END,
       CASE WHEN kind = 'alarm' THEN printf('al-%08d', i / 100) END,
       CASE WHEN kind = 'system' THEN NULL ELSE device END,
       CASE WHEN kind = 'system' THEN NULL ELSE printf('f%d', 1 + ((i * 7) % 300) / 100) END,
       CASE WHEN kind = 'system' THEN NULL ELSE room END,
       CASE WHEN kind IN ('alarm', 'point') THEN room || '-A' END,
       CASE WHEN kind IN ('alarm', 'point') THEN printf('R-%04d', (i * 7) % 300) END,
       CASE kind
         WHEN 'point' THEN json_object('point', 'power', 'meaning', 'power_w', 'value', (i % 4000) / 10.0)
         WHEN 'write_result' THEN json_object('request', i, 'point', 'lamp', 'value', i % 2,
                                              'ok', json('true'), 'error', '')
         WHEN 'telemetry' THEN json_object('point', 'energy', 'meaning', 'energy_kwh', 'n', 60,
                                           'min', 1.0, 'max', 2.0, 'avg', 1.5, 'last', 1.7)
         WHEN 'device_health' THEN json_object('health', CASE WHEN i % 2 THEN 'online' ELSE 'offline' END,
                                               'previous', CASE WHEN i % 2 THEN 'offline' ELSE 'online' END,
                                               'reason', 'timeout')
         WHEN 'alarm' THEN json_object('id', printf('al-%08d', i / 100),
                                       'phase', CASE i % 100 WHEN 93 THEN 'raise' WHEN 94 THEN 'ack'
                                                WHEN 98 THEN 'reset' ELSE 'update' END,
                                       'state', CASE i % 100 WHEN 93 THEN 'raised' WHEN 98 THEN 'reset'
                                                ELSE 'acknowledged' END,
                                       'kind', CASE WHEN i % 50000 = 7 OR (i / 100) % 500 = 3 THEN 'fire'
                                               ELSE 'call' END,
                                       'device', device, 'room', room, 'detail', 'bulk test alarm')
         ELSE json_object('what', 'bulk test system event') END,
       0
FROM r""", (rows, start_ms, step))
    con.execute("COMMIT")
    con.execute("PRAGMA journal_mode = WAL")
    con.close()
    # On disk before the daemon starts: else its first WAL checkpoint (an
    # fsync of the database file, on the core thread's commit) would flush
    # these hundreds of MB, a cost of making the test, not of running.
    fd = os.open(db, os.O_RDWR)
    os.fsync(fd)
    os.close(fd)
    return time.monotonic() - began
