/* The SQLite store: event journal, current alarms, downsampled readings,
 * audit log and the MQTT outbox, in one WAL database.
 *
 * Schema changes are numbered migrations recorded in the `migrations` table;
 * opening a database runs the missing ones in order, each in a transaction.
 * The core batches work: store_begin(), any number of appends, store_commit()
 * (synchronous=FULL, so a committed event survives SIGKILL and power loss).
 * Only after store_commit() returns 0 may the caller show or send the events.
 *
 * The file never grows beyond storage.max_bytes: when it is full, readings
 * are thinned first, then telemetry in the outbox, then journal rows older
 * than the retention; alarms and unsent alarm outbox rows are never deleted.
 * Every error is returned as -1 with a message naming the file and cause in
 * store_last_error(); nothing here aborts the process. Single-threaded: the
 * core thread owns the store (a test may open a second store on the file). */
#ifndef WG_STORE_H
#define WG_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/event.h"

struct wg_store;

struct wg_store_options {
    const char *path;
    long long max_bytes;         /* 0 = unlimited */
    int readings_bucket_s;       /* downsampling interval, >= 1 */
    int readings_retention_days; /* >= 1 */
    int events_retention_days;   /* >= 1 */
    int busy_timeout_ms;         /* wait for a lock held by another process; 0 = default 2000 */
};

enum wg_store_status {
    WG_STORE_OK = 0,
    WG_STORE_LOCKED = 1,    /* another process holds the write lock beyond the busy timeout */
    WG_STORE_FULL = 2,      /* storage.max_bytes reached and nothing more may be evicted */
    WG_STORE_CORRUPT = 3,   /* the file is not a database or failed its integrity check */
    WG_STORE_IO = 4,        /* any other failure: permissions, I/O error, bad path */
    WG_STORE_DISK_FULL = 5, /* the file system is full (ENOSPC, EDQUOT), under max_bytes */
    WG_STORE_READ_ONLY = 6, /* the file or its file system cannot be written (EROFS, READONLY) */
    WG_STORE_REFUSED = 7,   /* the input was refused (a body that is not JSON, a duplicate id):
                             * a bug of the caller, never cured by trying again */
};

/* The reason code of a failure, as the heartbeat and the storage alarm name
 * it: "locked", "size_limit", "corrupt", "io_error", "disk_full",
 * "read_only"; NULL for WG_STORE_OK and WG_STORE_REFUSED. */
const char *store_status_reason(enum wg_store_status status);
/* True for the failures that go away by themselves or by an operator's hand
 * (locked, full, read-only, I/O): the writer keeps the data and retries. */
bool store_status_retryable(enum wg_store_status status);

/* Opens (creating if needed) and migrates. Checks the file with quick_check
 * on open: a corrupt database is never modified, and NULL is returned with
 * *status = WG_STORE_CORRUPT and a message in err. */
struct wg_store *store_open(const struct wg_store_options *options, enum wg_store_status *status,
                            char *err, size_t err_len);
void store_close(struct wg_store *store);
/* A read-only connection on another thread than the writer's is a
 * wg_store_reader (store_read.h: store_reader_open, store_reader_store). */

/* Bodies, details and alarm records handed to this store are known to be
 * JSON objects (the store writer's, all made by json_dumps): they are not
 * parsed again to check. Off by default. */
void store_trust_json(struct wg_store *store, bool trusted);
/* The database file's path, as given to store_open. */
const char *store_path(const struct wg_store *store);
/* The message of the last failure, naming the database file and the cause. */
const char *store_last_error(const struct wg_store *store);
enum wg_store_status store_last_status(const struct wg_store *store);

/* The schema version (highest applied migration). */
int store_schema_version(struct wg_store *store);

int store_begin(struct wg_store *store);
/* Commits. On failure the transaction is rolled back and -1 returned; the
 * caller still holds its events and retries later. */
int store_commit(struct wg_store *store);
void store_rollback(struct wg_store *store);
/* The transactions that follow are fsync'd at their commit (true: the
 * default, synchronous=FULL) or only written to the WAL (false:
 * synchronous=NORMAL), which a crash of the daemon cannot lose but a power
 * cut can, until the next fsync'd commit or checkpoint. The store writer
 * relaxes it only for transactions of telemetry, readings and outbox
 * deletes (docs/storage.md). 0, or -1 with the error. */
int store_set_fsync_at_commit(struct wg_store *store, bool fsync_at_commit);

/* Appends to the journal and, if event->uplink != NONE, to the outbox (the
 * payload is the event as JSON). Sets event->seq. Inside store_begin/commit. */
int store_append_event(struct wg_store *store, struct wg_event *event);

/* Adds a value to its (device, point, bucket) aggregate: count, min, max, sum, last. */
int store_add_reading(struct wg_store *store, const char *device, const char *point, int64_t ts_ms,
                      double value);

/* A bucket of readings aggregated by the caller (the core keeps the open
 * bucket in memory and writes it once it closes). Merged into an existing
 * row for the same bucket, so a restart mid-bucket adds up. */
struct wg_reading_aggregate {
    int64_t bucket_ms; /* start of the bucket: store_bucket_start() */
    int64_t count;
    double min, max, sum, last;
    int64_t last_ms;
};
int store_add_aggregate(struct wg_store *store, const char *device, const char *point,
                        const struct wg_reading_aggregate *aggregate);
/* The start of the readings bucket holding ts_ms. */
int64_t store_bucket_start(const struct wg_store *store, int64_t ts_ms);

/* Who did what, from where. */
int store_audit(struct wg_store *store, int64_t ts_ms, const char *actor, const char *origin,
                const char *action, const char *target, const char *detail_json);

/* Current alarms: the alarm engine keeps one row per alarm id. */
struct wg_alarm_row {
    const char *id;
    int64_t update_count;
    const char *state; /* "raised", "acknowledged", "attended", "reset" */
    int priority;
    const char *kind;
    const char *body; /* JSON with everything else (location, timestamps, who) */
    int64_t updated_ms;
};
int store_alarm_put(struct wg_store *store, const struct wg_alarm_row *alarm);
int store_alarm_delete(struct wg_store *store, const char *id);
/* Calls `each` for every stored alarm; stops early if it returns non-zero. */
int store_alarm_foreach(struct wg_store *store,
                        int (*each)(const struct wg_alarm_row *alarm, void *ctx), void *ctx);

/* The site's secret `name` (len 16..64 bytes), made at random and kept the
 * first time it is asked for (migration 9). 0, or -1 with the error. */
int store_secret(struct wg_store *store, const char *name, unsigned char *out, size_t len);

/* Whether the size bound keeps a journal kind like alarms (evicted only
 * when nothing else is left): "alarm" and the evidence records inspectors
 * ask for ("test_mode", "device_test", "handover", "drill", "round",
 * "round_checkin", "monthly_report"). */
bool store_kept_like_alarms(const char *kind);

/* Calls `each` with the body of every journal event of `kind` at or after
 * since_ms, in journal order; stops early if it returns non-zero. */
int store_events_of_kind(struct wg_store *store, const char *kind, int64_t since_ms,
                         int (*each)(const char *body, void *ctx), void *ctx);

/* Outbox, for the uplink. Rows come oldest first. */
struct wg_outbox_row {
    int64_t seq;
    const char *event_id;
    int uplink_class;
    const char *kind;
    const char *payload;
    size_t payload_len;
    int64_t created_ms;
};
/* Calls `each` for up to `limit` rows with seq > after_seq, in order. */
int store_outbox_peek(struct wg_store *store, int64_t after_seq, int limit,
                      int (*each)(const struct wg_outbox_row *row, void *ctx), void *ctx);
/* An outbox-only row (telemetry): a message already in its final wire form,
 * with no journal event (event_id NULL); `kind` is its topic leaf. Sets *seq
 * (may be NULL). Inside store_begin/commit. */
struct wg_outbox_append {
    int uplink_class; /* enum wg_uplink_class */
    const char *kind;
    const char *payload;
    size_t payload_len;
    int64_t created_ms;
};
int store_outbox_append(struct wg_store *store, const struct wg_outbox_append *row, int64_t *seq);
int store_outbox_delete(struct wg_store *store, int64_t seq);
int64_t store_outbox_count(struct wg_store *store);
int64_t store_outbox_bytes(struct wg_store *store);

/* Rows and bytes per uplink class (index 1..3; 0 unused), kept by triggers,
 * so this is cheap enough to call after every commit. */
struct wg_outbox_totals {
    int64_t rows[4];
    int64_t bytes[4];
    int64_t total_rows;
    int64_t total_bytes;
    int64_t oldest_created_ms; /* 0 when the outbox is empty */
};
int store_outbox_totals(struct wg_store *store, struct wg_outbox_totals *totals);

/* The uplink's bound on what waits to be sent (docs/storage.md). Rows older
 * than max_age_ms go first, then, while the outbox holds more than
 * max_bytes, the oldest telemetry, then the oldest health rows. Alarm rows
 * are never evicted, however old or big the outbox. 0 disables a limit.
 * Runs in its own transaction; counts go to `evicted` by class. */
struct wg_outbox_bound {
    long long max_bytes;
    int64_t max_age_ms;
    bool alarms_age_out; /* alarm rows too go by age (a disabled uplink keeps only the
                          * last max_age_ms for the day it is enabled) */
};
struct wg_outbox_eviction {
    int64_t by_age[4];
    int64_t by_size[4];
};
int store_outbox_bound(struct wg_store *store, const struct wg_outbox_bound *bound, int64_t now_ms,
                       struct wg_outbox_eviction *evicted);

/* A journal row. Reads for people (history, reports) are store_read.h's;
 * store_events_since is for tests. */
struct wg_event_row {
    int64_t seq;
    const char *id;
    int64_t ts_ms;
    const char *kind;
    int priority;
    const char *device;
    const char *body;
    /* Filled by store_read.h's queries only (NULL elsewhere or when empty). */
    const char *alarm_id, *zone, *room, *bed, *resident;
};
/* Rows with seq > after_seq, in order. */
int store_events_since(struct wg_store *store, int64_t after_seq, int limit,
                       int (*each)(const struct wg_event_row *row, void *ctx), void *ctx);
int64_t store_event_count(struct wg_store *store);
int64_t store_last_event_seq(struct wg_store *store);

/* Housekeeping, every few minutes: drops readings and journal rows past
 * their retention (a few chunks each time) and then keeps the bound
 * (store_evict, a quarter of the WAL's share).
 * Returns 0, or -1 on error. */
int store_maintain(struct wg_store *store, int64_t now_ms);

/* Bytes of the database file (page_count * page_size). */
int64_t store_size_bytes(struct wg_store *store);

/* What store_evict deleted, by what it was. */
enum wg_evict_class {
    WG_EVICT_READINGS,
    WG_EVICT_TELEMETRY,
    WG_EVICT_POINT,
    WG_EVICT_WRITE_RESULT,
    WG_EVICT_HEALTH,   /* device health, system and any other non-alarm journal kind */
    WG_EVICT_EVIDENCE, /* records for inspectors (store_kept_like_alarms), kept like alarms */
    WG_EVICT_AUDIT,
    WG_EVICT_ALARM,
    WG_EVICT_CLASSES
};
struct wg_store_eviction {
    int64_t rows[WG_EVICT_CLASSES];
    int64_t outbox_rows; /* unsent outbox rows that went with their journal rows */
    int chunks;
    bool exhausted; /* still above the bound with nothing left that may go */
};
/* What was evicted, in words for a log line ("12 readings, 3 alarm
 * events"); empty when nothing was. */
void store_eviction_text(const struct wg_store_eviction *evicted, char *text, size_t text_len);
/* Keeps the database within its bound: when more than 90 % of the pages
 * max_bytes allows are in use (after the WAL's share), or non-alarm data uses
 * more than its share, deletes the oldest non-alarm rows (readings, journal
 * rows of every kind but alarm with their outbox rows), then the oldest
 * alarm journal and audit rows, a chunk at a time, down to 85 %. Never the
 * current alarms. Writes about `max_bytes` to the WAL at most per call (0 =
 * no limit), in chunks of an eighth of the WAL's share, so one transaction's
 * WAL keeps within it and the caller can interleave its own writes. Inside a
 * batch, or in a transaction of its own. Returns 0, or -1 on error; *evicted
 * is added to. */
int store_evict(struct wg_store *store, int64_t max_bytes, struct wg_store_eviction *evicted);
/* True when store_evict has something to do (cheap: two page counts). */
bool store_over_bound(struct wg_store *store);

/* Where the bytes are. */
struct wg_store_kind_total {
    char kind[32];
    int64_t rows, bytes; /* journal rows of this kind and the bytes of their bodies */
};
struct wg_store_usage {
    int64_t max_bytes;        /* the bound, database and WAL together (0 = none) */
    int64_t db_budget_bytes;  /* what the database file may use: max_bytes less the WAL's share */
    int64_t wal_budget_bytes; /* the WAL's share (journal_size_limit) */
    int64_t file_bytes;       /* the database file */
    int64_t wal_bytes;        /* its -wal file (0 when absent) */
    int64_t used_bytes;       /* pages in use (page_count - freelist_count) */
    int64_t alarm_bytes;      /* estimate of what alarm journal and outbox rows use */
    size_t kind_count;
    struct wg_store_kind_total kinds[16];
    struct wg_outbox_totals outbox;
};
int store_usage(struct wg_store *store, struct wg_store_usage *usage);

/* Checkpoints the WAL into the database: PASSIVE (never waits), or TRUNCATE
 * (waits for readers up to the busy timeout, then truncates the -wal file to
 * zero). *wal_bytes (may be NULL) is the -wal file's size afterwards. */
int store_checkpoint(struct wg_store *store, bool truncate, int64_t *wal_bytes);
/* What the last commit left in the WAL, in bytes (0 after a TRUNCATE
 * checkpoint); a commit past a quarter of the WAL's share checkpoints it
 * (PASSIVE) by itself. */
int64_t store_wal_bytes(const struct wg_store *store);
/* The caller checkpoints (the store writer, after its commits): no PASSIVE
 * checkpoint by itself, so store_wal_bytes counts exactly what was written. */
void store_own_checkpoints(struct wg_store *store);

/* For work run on the store writer's own thread through store_call.h (and
 * for a read-only store's owner): the SQLite connection itself, and a
 * failure of one of its calls (`rc`, while `doing` something) recorded as
 * this store's error, classified like the store's own (locked, disk full,
 * read-only, ...: store_last_status, store_last_error). Returns -1. */
struct sqlite3 *store_connection(struct wg_store *store);
int store_sqlite_failed(struct wg_store *store, int rc, const char *doing);

/* A read-only connection to a database store_open has already prepared (no
 * checks, no migrations), for reads on another thread than the writer's
 * (auth's reads; the query workers' through store_reader_open);
 * every write is refused. Waits at most busy_timeout_ms for a lock (0: the
 * default). Closed with store_close. */
struct wg_store *store_open_read_only(const char *path, int busy_timeout_ms, char *err,
                                      size_t err_len);

#endif
