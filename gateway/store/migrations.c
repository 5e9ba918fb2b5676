/* The store's schema, as numbered migrations; see migrations.h and docs/storage.md. */
#include "store/migrations.h"

#include "store/audit_chain.h"

/* The outbox's triggers: outbox_totals kept per class on insert and delete,
 * and no update (the totals would drift). Migration 3 made them, migration 6
 * makes them again on the rebuilt table. */
#define OUTBOX_TRIGGERS                                                                            \
    "CREATE TRIGGER outbox_totals_insert AFTER INSERT ON outbox\n"                                 \
    "BEGIN\n"                                                                                      \
    "    UPDATE outbox_totals SET rows = rows + 1, bytes = bytes + NEW.bytes\n"                    \
    "    WHERE class = NEW.class;\n"                                                               \
    "END;\n"                                                                                       \
    "CREATE TRIGGER outbox_totals_delete AFTER DELETE ON outbox\n"                                 \
    "BEGIN\n"                                                                                      \
    "    UPDATE outbox_totals SET rows = rows - 1, bytes = bytes - OLD.bytes\n"                    \
    "    WHERE class = OLD.class;\n"                                                               \
    "END;\n"                                                                                       \
    "CREATE TRIGGER outbox_no_update BEFORE UPDATE ON outbox\n"                                    \
    "BEGIN\n"                                                                                      \
    "    SELECT RAISE(ABORT, 'outbox rows are never updated: delete and insert');\n"               \
    "END;\n"

static const struct wg_migration migrations[] = {
    {
        .version = 1,
        .name = "initial schema",
        .sql =
            /* 0x57474154 = WG_STORE_APPLICATION_ID */
        "PRAGMA application_id = 1464287572;\n"
        "CREATE TABLE migrations (\n"
        "    version    INTEGER PRIMARY KEY,\n"
        "    name       TEXT    NOT NULL,\n"
        "    applied_ms INTEGER NOT NULL\n"
        ");\n"
        /* The journal: append-only; rows leave only by retention. */
        "CREATE TABLE events (\n"
        "    seq      INTEGER PRIMARY KEY AUTOINCREMENT,\n"
        "    id       TEXT    NOT NULL UNIQUE,\n"
        "    ts_ms    INTEGER NOT NULL,\n"
        "    kind     TEXT    NOT NULL,\n"
        "    priority INTEGER NOT NULL DEFAULT -1,\n"
        "    alarm_id TEXT,\n"
        "    device   TEXT,\n"
        "    zone     TEXT,\n"
        "    room     TEXT,\n"
        "    bed      TEXT,\n"
        "    resident TEXT,\n"
        "    body     TEXT    NOT NULL\n"
        ");\n"
        "CREATE INDEX events_by_ts ON events (ts_ms);\n"
        "CREATE INDEX events_by_alarm ON events (alarm_id, seq) WHERE alarm_id IS NOT NULL;\n"
        "CREATE INDEX events_by_device ON events (device, seq) WHERE device IS NOT NULL;\n"
        "CREATE INDEX events_by_room ON events (room, seq) WHERE room IS NOT NULL;\n"
        "CREATE TRIGGER events_append_only BEFORE UPDATE ON events\n"
        "BEGIN\n"
        "    SELECT RAISE(ABORT, 'events is an append-only journal: UPDATE is not allowed');\n"
        "END;\n"
        /* Current alarms: one row per alarm id, kept by the alarm engine. */
        "CREATE TABLE alarms (\n"
        "    id           TEXT    PRIMARY KEY,\n"
        "    update_count INTEGER NOT NULL,\n"
        "    state        TEXT    NOT NULL\n"
        "                 CHECK (state IN ('raised', 'acknowledged', 'attended', 'reset')),\n"
        "    priority     INTEGER NOT NULL,\n"
        "    kind         TEXT    NOT NULL,\n"
        "    body         TEXT    NOT NULL,\n"
        "    updated_ms   INTEGER NOT NULL\n"
        ") WITHOUT ROWID;\n"
        /* Downsampled readings: one aggregate per device, point and bucket. */
        "CREATE TABLE readings (\n"
        "    device    TEXT    NOT NULL,\n"
        "    point     TEXT    NOT NULL,\n"
        "    bucket_ms INTEGER NOT NULL,\n"
        "    n         INTEGER NOT NULL,\n"
        "    min       REAL    NOT NULL,\n"
        "    max       REAL    NOT NULL,\n"
        "    sum       REAL    NOT NULL,\n"
        "    last      REAL    NOT NULL,\n"
        "    last_ms   INTEGER NOT NULL,\n"
        "    PRIMARY KEY (device, point, bucket_ms)\n"
        ") WITHOUT ROWID;\n"
        "CREATE INDEX readings_by_bucket ON readings (bucket_ms);\n"
        "CREATE TABLE audit (\n"
        "    seq    INTEGER PRIMARY KEY,\n"
        "    ts_ms  INTEGER NOT NULL,\n"
        "    actor  TEXT    NOT NULL,\n"
        "    origin TEXT,\n"
        "    action TEXT    NOT NULL,\n"
        "    target TEXT,\n"
        "    detail TEXT\n"
        ");\n"
        "CREATE INDEX audit_by_ts ON audit (ts_ms);\n"
        /* Uplink queue: a row leaves on PUBACK (or telemetry eviction).
         * AUTOINCREMENT so a seq is never reused after the queue empties. */
        "CREATE TABLE outbox (\n"
        "    seq        INTEGER PRIMARY KEY AUTOINCREMENT,\n"
        "    event_id   TEXT    NOT NULL REFERENCES events (id),\n"
        "    class      INTEGER NOT NULL CHECK (class BETWEEN 1 AND 3),\n"
        "    kind       TEXT    NOT NULL,\n"
        "    payload    TEXT    NOT NULL,\n"
        "    bytes      INTEGER NOT NULL,\n"
        "    created_ms INTEGER NOT NULL\n"
        ");\n"
        /* Covers eviction (class, oldest first) and the byte total. */
        "CREATE INDEX outbox_by_class ON outbox (class, seq, bytes);\n"
        /* Lets a journal delete check its outbox reference quickly. */
        "CREATE INDEX outbox_by_event ON outbox (event_id);\n",
    },
    {
        .version = 2,
        .name = "alarm journal by time",
        /* Partial, so appends of other kinds do not pay for it; serves
         * store_read_alarm_events (response-time figures) and the size
         * bound's alarm eviction (store_evict.c). */
        .sql = "CREATE INDEX events_alarm_by_ts ON events (ts_ms) WHERE kind = 'alarm';\n",
    },
    {
        .version = 3,
        .name = "uplink: class in the journal, outbox totals",
        /* events.uplink: which journal rows were meant for the district
         * (counted against what the platform received). outbox_totals: rows
         * and bytes per class, kept by triggers, so the uplink can check its
         * bound after every commit without summing the outbox. */
        .sql = "ALTER TABLE events ADD COLUMN uplink INTEGER NOT NULL DEFAULT 0;\n"
               "CREATE TABLE outbox_totals (\n"
               "    class INTEGER PRIMARY KEY,\n"
               "    rows  INTEGER NOT NULL,\n"
               "    bytes INTEGER NOT NULL\n"
               ");\n"
               "INSERT INTO outbox_totals (class, rows, bytes)\n"
               "    SELECT c.value, (SELECT count(*) FROM outbox WHERE class = c.value),\n"
               "           (SELECT coalesce(sum(bytes), 0) FROM outbox WHERE class = c.value)\n"
               "    FROM (SELECT 1 AS value UNION ALL SELECT 2 UNION ALL SELECT 3) AS "
               "c;\n" OUTBOX_TRIGGERS,
    },
    {
        .version = 4,
        .name = "web users, sessions, setup token",
        /* Reached through the auth module's own connection (auth.c). Only
         * hashes of secrets are stored: argon2id strings for passwords,
         * BLAKE2b-256 of the session and setup tokens. A session's role is
         * its user's (ending sessions is how a role change takes effect). */
        .sql = "CREATE TABLE users (\n"
               "    username      TEXT    PRIMARY KEY\n"
               "                  CHECK (length(username) BETWEEN 1 AND 32\n"
               "                         AND username NOT GLOB '*[^a-z0-9._-]*'),\n"
               "    role          TEXT    NOT NULL\n"
               "                  CHECK (role IN ('station', 'nurse', 'manager', 'admin')),\n"
               "    password_hash TEXT    NOT NULL CHECK (password_hash GLOB '$argon2*'),\n"
               "    created_ms    INTEGER NOT NULL,\n"
               "    updated_ms    INTEGER NOT NULL,\n"
               "    last_login_ms INTEGER\n"
               ") WITHOUT ROWID;\n"
               "CREATE TABLE sessions (\n"
               "    token_hash   BLOB    PRIMARY KEY CHECK (length(token_hash) = 32),\n"
               "    username     TEXT    NOT NULL REFERENCES users (username) ON DELETE CASCADE,\n"
               "    created_ms   INTEGER NOT NULL,\n"
               "    last_seen_ms INTEGER NOT NULL,\n"
               "    expires_ms   INTEGER NOT NULL\n"
               ") WITHOUT ROWID;\n"
               "CREATE INDEX sessions_by_user ON sessions (username, last_seen_ms);\n"
               "CREATE INDEX sessions_by_expiry ON sessions (expires_ms);\n"
               /* At most one row: the first admin's one-time token. */
               "CREATE TABLE setup_token (\n"
               "    id         INTEGER PRIMARY KEY CHECK (id = 1),\n"
               "    token_hash BLOB    NOT NULL CHECK (length(token_hash) = 32),\n"
               "    created_ms INTEGER NOT NULL,\n"
               "    expires_ms INTEGER NOT NULL\n"
               ");\n",
    },
    {
        .version = 5,
        .name = "history and size bound: journal by kind, journal totals",
        /* events_by_kind: the history search by kind (and by priority: only
         * alarm rows have one), newest first: seq in the key gives that
         * order, priority in it is checked without reading the row (see
         * store_read.c); and the size bound evicts the oldest rows of a kind
         * in chunks without scanning the journal. Alarm rows go by time
         * through events_alarm_by_ts, named in those statements (store_evict.c).
         * journal_totals: rows and body bytes per kind, kept by triggers
         * (like outbox_totals), so the bound knows what alarms use and which
         * kinds have rows. The first fill scans the journal once. */
        .sql = "CREATE INDEX events_by_kind ON events (kind, seq, priority);\n"
               "CREATE TABLE journal_totals (\n"
               "    kind  TEXT    PRIMARY KEY,\n"
               "    rows  INTEGER NOT NULL,\n"
               "    bytes INTEGER NOT NULL\n"
               ") WITHOUT ROWID;\n"
               "INSERT INTO journal_totals (kind, rows, bytes)\n"
               "    SELECT kind, count(*), coalesce(sum(length(body)), 0) FROM events\n"
               "    GROUP BY kind;\n"
               "CREATE TRIGGER journal_totals_insert AFTER INSERT ON events\n"
               "BEGIN\n"
               "    INSERT INTO journal_totals (kind, rows, bytes)\n"
               "    VALUES (NEW.kind, 1, length(NEW.body))\n"
               "    ON CONFLICT (kind) DO UPDATE SET rows = rows + 1,\n"
               "                                    bytes = bytes + excluded.bytes;\n"
               "END;\n"
               "CREATE TRIGGER journal_totals_delete AFTER DELETE ON events\n"
               "BEGIN\n"
               "    UPDATE journal_totals SET rows = rows - 1, bytes = bytes - length(OLD.body)\n"
               "    WHERE kind = OLD.kind;\n"
               "END;\n",
    },
    {
        .version = 6,
        .name = "outbox-only rows: telemetry without a journal event",
        /* Telemetry is encoded once, in its final MQTT form, and kept only
         * in the outbox until its PUBACK (docs/mqtt.md): its event_id is
         * NULL. SQLite cannot drop a NOT NULL, so the table is rebuilt with
         * its rows, indexes, triggers and AUTOINCREMENT counter (a seq is
         * never reused). */
        .sql = "CREATE TABLE outbox_v6 (\n"
               "    seq        INTEGER PRIMARY KEY AUTOINCREMENT,\n"
               "    event_id   TEXT    REFERENCES events (id),\n"
               "    class      INTEGER NOT NULL CHECK (class BETWEEN 1 AND 3),\n"
               "    kind       TEXT    NOT NULL,\n"
               "    payload    TEXT    NOT NULL,\n"
               "    bytes      INTEGER NOT NULL,\n"
               "    created_ms INTEGER NOT NULL\n"
               ");\n"
               "INSERT INTO outbox_v6\n"
               "    SELECT seq, event_id, class, kind, payload, bytes, created_ms FROM outbox;\n"
               "DELETE FROM sqlite_sequence WHERE name = 'outbox_v6';\n"
               "INSERT INTO sqlite_sequence (name, seq)\n"
               "    SELECT 'outbox_v6', seq FROM sqlite_sequence WHERE name = 'outbox';\n"
               "DROP TABLE outbox;\n"
               "ALTER TABLE outbox_v6 RENAME TO outbox;\n"
               "CREATE INDEX outbox_by_class ON outbox (class, seq, bytes);\n"
               "CREATE INDEX outbox_by_event ON outbox (event_id);\n" OUTBOX_TRIGGERS,
    },
    {
        .version = 7,
        .name = "readings kept in time order",
        /* Keyed by bucket first, the readings history is a ring: a flush
         * appends its bucket at the table's end and eviction and retention
         * take the oldest buckets from its start, whole pages at a time.
         * Keyed by device first, one bucket's rows lay on every leaf, so
         * evicting it rewrote most of the table (13 MB of WAL in one
         * transaction at a 16 MiB bound) and freed almost no page. */
        .sql = "CREATE TABLE readings_v7 (\n"
               "    bucket_ms INTEGER NOT NULL,\n"
               "    device    TEXT    NOT NULL,\n"
               "    point     TEXT    NOT NULL,\n"
               "    n         INTEGER NOT NULL,\n"
               "    min       REAL    NOT NULL,\n"
               "    max       REAL    NOT NULL,\n"
               "    sum       REAL    NOT NULL,\n"
               "    last      REAL    NOT NULL,\n"
               "    last_ms   INTEGER NOT NULL,\n"
               "    PRIMARY KEY (bucket_ms, device, point)\n"
               ") WITHOUT ROWID;\n"
               "INSERT INTO readings_v7\n"
               "    SELECT bucket_ms, device, point, n, min, max, sum, last, last_ms\n"
               "    FROM readings ORDER BY bucket_ms, device, point;\n"
               "DROP TABLE readings;\n"
               "ALTER TABLE readings_v7 RENAME TO readings;\n",
    },
    {
        .version = 8,
        .name = "audit rows hash-chained",
        /* Each audit row carries the hash of its fields and of the row
         * before it (audit_chain.h); the anchor is what the first row
         * chains from: zeros, or the last row the size bound evicted. The
         * rows already there are chained by `after`. */
        .sql = "ALTER TABLE audit ADD COLUMN hash BLOB;\n"
               "CREATE TABLE audit_anchor (\n"
               "    id   INTEGER PRIMARY KEY CHECK (id = 1),\n"
               "    seq  INTEGER NOT NULL,\n"
               "    hash BLOB    NOT NULL CHECK (length(hash) = 32)\n"
               ");\n"
               "INSERT INTO audit_anchor (id, seq, hash) VALUES (1, 0, zeroblob(32));\n",
        .after = audit_chain_existing_rows,
    },
    {
        .version = 9,
        .name = "site secrets",
        /* Random keys made once per site (store_secret): the rooms' QR
         * check-in codes are keyed with one, so a code cannot be made
         * without the database. */
        .sql = "CREATE TABLE secrets (\n"
               "    name  TEXT PRIMARY KEY,\n"
               "    value BLOB NOT NULL CHECK (length(value) BETWEEN 16 AND 64)\n"
               ") WITHOUT ROWID;\n",
    },
};

const struct wg_migration *migrations_list(size_t *count)
{
    *count = sizeof migrations / sizeof migrations[0];
    return migrations;
}
