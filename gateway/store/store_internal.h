/* What the files of the store share and nothing else may see: the store's
 * state (struct wg_store), its statements, and the helpers every part uses
 * to prepare, run and fail. The public contract is store.h. */
#ifndef WG_STORE_INTERNAL_H
#define WG_STORE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

#include "store/store.h"

#define DEFAULT_BUSY_TIMEOUT_MS    2000
#define DEFAULT_READINGS_BUCKET_S  60
#define DEFAULT_READINGS_RETENTION 30
#define DEFAULT_EVENTS_RETENTION   90
#define EVICT_ABOVE_PERCENT        90 /* of the database's budget in use: evict ... */
#define EVICT_TO_PERCENT           85 /* ... down to this, so it does not run on every commit */
#define ALARM_SHARE_PERCENT        20 /* reserved for alarm and audit rows: others never take it */
#define EVICT_CHUNK_ROWS           256
#define EXPIRE_CHUNK_ROWS          512
#define EXPIRE_CHUNKS_PER_CALL     4
/* Per-row bytes beyond the body, to estimate what alarm rows use from their
 * totals: the other columns and six index entries of a journal row, two of
 * an outbox row (measured with dbstat: docs/storage.md). */
#define JOURNAL_ROW_OVERHEAD 330
#define OUTBOX_ROW_OVERHEAD  110
#define RESERVE_PAGES_PER_WRITE                                                                    \
    64 /* an alarm append: events + 6 indexes, outbox + 2 = 10 b-trees x 4 levels + slack */
#define WAL_SIZE_LIMIT_BYTES (4 * 1024 * 1024) /* without max_bytes */
#define WAL_MIN_BYTES        (256 * 1024)
#define WAL_MAX_BYTES        (32 * 1024 * 1024)
#define MS_PER_DAY           (24LL * 3600 * 1000)

/* Every statement the store runs more than once, prepared on first use and
 * kept until store_close. */
enum stmt_id {
    ST_BEGIN,
    ST_COMMIT,
    ST_ROLLBACK,
    ST_SAVEPOINT,
    ST_RELEASE,
    ST_ROLLBACK_TO,
    ST_EVENT_INSERT,
    ST_OUTBOX_INSERT,
    ST_READING_UPSERT,
    ST_ALARM_PUT,
    ST_ALARM_DELETE,
    ST_ALARM_ALL,
    ST_OUTBOX_PEEK,
    ST_OUTBOX_DELETE,
    ST_OUTBOX_COUNT,
    ST_OUTBOX_BYTES,
    ST_EVENTS_SINCE,
    ST_EVENTS_OF_KIND,
    ST_EVENT_COUNT,
    ST_EVENT_LAST_SEQ,
    ST_SCHEMA_VERSION,
    ST_PAGE_COUNT,
    ST_FREELIST_COUNT,
    ST_READINGS_EXPIRE,
    ST_READINGS_OLDEST,
    ST_READINGS_EVICT,
    ST_KIND_OLDEST,
    ST_KIND_CUTOFF,
    ST_KIND_OUTBOX_EVICT,
    ST_KIND_EVICT,
    ST_ALARM_OLDEST,
    ST_ALARM_CUTOFF,
    ST_ALARM_OUTBOX_EVICT,
    ST_ALARM_EVICT,
    ST_AUDIT_OLDEST,
    ST_AUDIT_EVICT,
    ST_AUDIT_ANCHOR_MOVE,
    ST_JOURNAL_TOTALS,
    ST_EXPIRE_OUTBOX,
    ST_EXPIRE_EVENTS,
    ST_OUTBOX_TOTALS,
    ST_OUTBOX_OLDEST,
    ST_OUTBOX_OLDEST_OF_CLASS,
    ST_OUTBOX_EVICT_OLDEST,
    ST_OUTBOX_EVICT_AGED,
    ST_COUNT
};

/* The SQL of each statement (store_statements.c). */
extern const char *const store_stmt_sql[ST_COUNT];

struct wg_store {
    sqlite3 *db;
    char *path;
    int busy_timeout_ms;
    int64_t bucket_ms;
    int64_t readings_retention_ms;
    int64_t events_retention_ms;
    long long max_bytes;
    int64_t wal_budget_bytes; /* the WAL's share of max_bytes (journal_size_limit) */
    int64_t page_size;
    int64_t max_pages;  /* the database's budget in pages (max_page_count); 0 = unlimited */
    bool read_only;     /* store_open_read_only: every write is refused */
    bool trusted_json;  /* store_trust_json: bodies are not parsed again */
    int64_t room_pages; /* in a batch: pages surely free, counted down per write; -1 unknown */
    int64_t wal_frames; /* frames in the WAL after the last commit (the WAL hook) */
    int64_t auto_checkpoint_frames; /* a PASSIVE checkpoint after a commit past this */
    bool in_batch;                  /* between store_begin and store_commit/rollback */
    bool commits_not_fsynced;       /* store_set_fsync_at_commit(false) in force */
    bool batch_lost;                /* SQLite rolled the batch back on its own after an error */
    enum wg_store_status batch_lost_status; /* ... and the status of that error */
    bool evicting;                          /* above EVICT_ABOVE_PERCENT, until EVICT_TO_PERCENT */
    bool evicting_non_alarm; /* non-alarm rows above their share, until 5 points below */
    int last_sqlite_rc;      /* result code behind the last failure, 0 if not SQLite's */
    enum wg_store_status status;
    char error[768];
    sqlite3_stmt *stmts[ST_COUNT];
};

/* ---- errors (store_errors.c) ---- */

/* Records a failure: status and message; returns -1. */
int store_fail(struct wg_store *store, enum wg_store_status status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Records a failed SQLite call `rc` made while `doing` something; returns -1. */
int store_fail_sqlite(struct wg_store *store, int rc, const char *doing);
/* True when SQLITE_FULL came from max_page_count rather than the disk. */
bool store_at_size_limit(struct wg_store *store);

/* ---- statements (store_statements.c) ---- */

/* The cached statement, prepared on first use; NULL after recording the error. */
sqlite3_stmt *store_prepared(struct wg_store *store, enum stmt_id id);
/* The cached statement, or a fresh one when the cached one is mid-iteration
 * (a callback calling back into the store). Release with store_done_iterating. */
sqlite3_stmt *store_prepared_for_iteration(struct wg_store *store, enum stmt_id id);
/* Readies a statement for its next use. */
void store_done_with(sqlite3_stmt *stmt);
void store_done_iterating(struct wg_store *store, enum stmt_id id, sqlite3_stmt *stmt);
/* Runs a statement without results to completion; 0 or -1. */
int store_run_stmt(struct wg_store *store, sqlite3_stmt *stmt, const char *doing);
int store_run(struct wg_store *store, enum stmt_id id, const char *doing);
/* Runs a statement that yields one integer. */
int store_query_int64(struct wg_store *store, enum stmt_id id, int64_t *out, const char *doing);
/* Its integer, or -1 on failure (with the status reset first). */
int64_t store_read_int64(struct wg_store *store, enum stmt_id id, const char *doing);
/* page_count or freelist_count, or -1 (without touching the error) on failure. */
int64_t store_pragma_pages(struct wg_store *store, enum stmt_id id);
/* Cleanup after a failure: runs a statement, logging (not recording) its error. */
void store_run_quietly(struct wg_store *store, enum stmt_id id);
int store_bind_text(sqlite3_stmt *stmt, int index, const char *text);
const char *store_column_text(sqlite3_stmt *stmt, int column);
int64_t store_wall_clock_ms(void);
/* Steps an iteration statement (bound with (after, limit) when it takes
 * them: limit <= 0 means all), handing each row to `row` until it returns
 * non-zero; the statement may be reentered from `row`. 0, or -1 with the
 * error recorded. */
int store_each_row(struct wg_store *store, enum stmt_id id, int64_t after, int limit,
                   int (*row)(sqlite3_stmt *stmt, void *ctx), void *ctx, const char *doing);
/* The same for a statement whose first parameter is the text `key`. */
int store_each_row_of(struct wg_store *store, enum stmt_id id, const char *key, int64_t after,
                      int limit, int (*row)(sqlite3_stmt *stmt, void *ctx), void *ctx,
                      const char *doing);

/* ---- transactions (store_transaction.c) ---- */

typedef int (*store_write_fn)(struct wg_store *store, void *ctx);
/* Runs `work` as one unit: inside the caller's batch under a savepoint (so a
 * failure undoes only this unit), or in a transaction of its own. A write
 * that adds about `new_bytes` (> 0) first makes room under the size limit;
 * deletes pass 0 and always run. `doing` names the work for error messages. */
int store_run_write(struct wg_store *store, store_write_fn work, void *ctx, size_t new_bytes,
                    const char *doing);

/* ---- the journal (store_events.c) ---- */

/* 0 when text is a JSON object; else -1 with jansson's complaint in why. */
int store_check_json_object(const char *text, char *why, size_t why_len);

/* ---- the size bound (store_evict.c) ---- */

/* Pages in use (page_count - freelist_count), or -1. */
int64_t store_used_pages(struct wg_store *store);
/* Evicts, a chunk at a time, down to `target_pages` (see store_evict.c). */
int store_evict_until(struct wg_store *store, int64_t target_pages, int64_t max_bytes,
                      struct wg_store_eviction *evicted);
void store_log_eviction(const struct wg_store *store, const struct wg_store_eviction *evicted);
/* The journal's rows and body bytes per kind (journal_totals, kept by triggers). */
int store_load_kind_totals(struct wg_store *store, struct wg_store_kind_total *kinds,
                           size_t capacity, size_t *count);
/* Pages the alarm journal and outbox rows take, estimated from their totals. */
int64_t store_alarm_pages_estimate(struct wg_store *store, const struct wg_store_kind_total *kinds,
                                   size_t count, const struct wg_outbox_totals *outbox);

/* ---- open and close (store_open.c, store_maintain.c) ---- */

/* Runs a PRAGMA and returns its first column as text in out (may be empty). */
int store_pragma(struct wg_store *store, const char *sql, char *out, size_t out_len);
/* The size of a file (path and suffix), 0 when it does not exist. */
int64_t store_file_bytes(const char *path, const char *suffix);
/* Finalizes, closes and frees, whatever state the store is in. */
void store_free_store(struct wg_store *store);

/* store_outbox.c, for the eviction at the storage bound: created_ms of the
 * oldest outbox row of a class (1, 0 when it has none, -1 on error), and a
 * chunk of the oldest rows of a class deleted (only those created before
 * `before_ms` when it is > 0): the count, or -1. */
int store_outbox_oldest_of_class(struct wg_store *store, int uplink_class, int64_t *created_ms);
int64_t store_outbox_evict_chunk(struct wg_store *store, int uplink_class, int64_t before_ms);

#endif
