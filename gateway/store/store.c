/* The SQLite store: journal, current alarms, readings, audit and outbox in
 * one WAL database; see store.h for the contract and docs/storage.md for the
 * schema, the size bound and the failure modes. */
#include "store/store.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <sqlite3.h>

#include "common/clock.h"
#include "common/log.h"
#include "store/migrations.h"

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
#define JOURNAL_ROW_OVERHEAD   330
#define OUTBOX_ROW_OVERHEAD    110
#define READER_BUSY_TIMEOUT_MS 10
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
    ST_AUDIT_INSERT,
    ST_ALARM_PUT,
    ST_ALARM_DELETE,
    ST_ALARM_ALL,
    ST_OUTBOX_PEEK,
    ST_OUTBOX_DELETE,
    ST_OUTBOX_COUNT,
    ST_OUTBOX_BYTES,
    ST_EVENTS_SINCE,
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

static const char *const stmt_sql[ST_COUNT] = {
    [ST_BEGIN] = "BEGIN IMMEDIATE",
    [ST_COMMIT] = "COMMIT",
    [ST_ROLLBACK] = "ROLLBACK",
    [ST_SAVEPOINT] = "SAVEPOINT wg_write",
    [ST_RELEASE] = "RELEASE wg_write",
    [ST_ROLLBACK_TO] = "ROLLBACK TO wg_write",
    [ST_EVENT_INSERT] =
        "INSERT INTO events (id, ts_ms, kind, priority, alarm_id, device, zone, "
        "room, bed, resident, body, uplink) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    [ST_OUTBOX_INSERT] = "INSERT INTO outbox (event_id, class, kind, payload, bytes, created_ms) "
                         "VALUES (?, ?, ?, ?, ?, ?)",
    [ST_READING_UPSERT] =
        "INSERT INTO readings (device, point, bucket_ms, n, min, max, sum, last, last_ms) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) "
        "ON CONFLICT (device, point, bucket_ms) DO UPDATE SET n = readings.n + excluded.n, "
        "min = min(readings.min, excluded.min), max = max(readings.max, excluded.max), "
        "sum = readings.sum + excluded.sum, "
        "last = CASE WHEN excluded.last_ms >= readings.last_ms THEN excluded.last "
        "ELSE readings.last END, last_ms = max(readings.last_ms, excluded.last_ms)",
    [ST_AUDIT_INSERT] = "INSERT INTO audit (ts_ms, actor, origin, action, target, detail) "
                        "VALUES (?, ?, ?, ?, ?, ?)",
    [ST_ALARM_PUT] = "INSERT INTO alarms (id, update_count, state, priority, kind, body, "
                     "updated_ms) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET "
                     "update_count = excluded.update_count, state = excluded.state, "
                     "priority = excluded.priority, kind = excluded.kind, body = excluded.body, "
                     "updated_ms = excluded.updated_ms",
    [ST_ALARM_DELETE] = "DELETE FROM alarms WHERE id = ?",
    [ST_ALARM_ALL] = "SELECT id, update_count, state, priority, kind, body, updated_ms "
                     "FROM alarms ORDER BY priority, updated_ms, id",
    [ST_OUTBOX_PEEK] = "SELECT seq, event_id, class, kind, payload, created_ms FROM outbox "
                       "WHERE seq > ? ORDER BY seq LIMIT ?",
    [ST_OUTBOX_DELETE] = "DELETE FROM outbox WHERE seq = ?",
    [ST_OUTBOX_COUNT] = "SELECT count(*) FROM outbox",
    [ST_OUTBOX_BYTES] = "SELECT total(bytes) FROM outbox INDEXED BY outbox_by_class",
    [ST_EVENTS_SINCE] = "SELECT seq, id, ts_ms, kind, priority, device, body FROM events "
                        "WHERE seq > ? ORDER BY seq LIMIT ?",
    [ST_EVENT_COUNT] = "SELECT count(*) FROM events",
    [ST_EVENT_LAST_SEQ] = "SELECT coalesce(max(seq), 0) FROM events",
    [ST_SCHEMA_VERSION] = "SELECT coalesce(max(version), 0) FROM migrations",
    [ST_PAGE_COUNT] = "PRAGMA page_count",
    [ST_FREELIST_COUNT] = "PRAGMA freelist_count",
    [ST_READINGS_EXPIRE] = "DELETE FROM readings WHERE bucket_ms < ?",
    [ST_READINGS_OLDEST] = "SELECT bucket_ms FROM readings ORDER BY bucket_ms LIMIT 1",
    [ST_READINGS_EVICT] = "DELETE FROM readings WHERE (device, point, bucket_ms) IN "
                          "(SELECT device, point, bucket_ms FROM readings "
                          "ORDER BY bucket_ms LIMIT ?)",
    /* By kind, oldest first: events_by_kind (migration 5) serves these four
     * for every kind but alarm, events_alarm_by_ts (named, so that the kind
     * index cannot draw the planner away from it) the alarm four, in time
     * order. */
    [ST_KIND_OLDEST] = "SELECT ts_ms FROM events INDEXED BY events_by_kind WHERE kind = ?1 AND "
                       "kind <> 'alarm' ORDER BY seq LIMIT 1",
    [ST_KIND_CUTOFF] =
        "SELECT seq FROM events INDEXED BY events_by_kind WHERE kind = ?1 AND kind <> 'alarm' "
        "ORDER BY seq LIMIT 1 OFFSET ?2",
    [ST_KIND_OUTBOX_EVICT] = "DELETE FROM outbox WHERE event_id IN "
                             "(SELECT id FROM events INDEXED BY events_by_kind WHERE kind = ?1 AND "
                             "kind <> 'alarm' AND seq <= ?2)",
    [ST_KIND_EVICT] = "DELETE FROM events INDEXED BY events_by_kind WHERE kind = ?1 AND kind <> "
                      "'alarm' AND seq <= ?2",
    [ST_ALARM_OLDEST] =
        "SELECT ts_ms FROM events INDEXED BY events_alarm_by_ts WHERE kind = ?1 AND kind = 'alarm' "
        "ORDER BY ts_ms LIMIT 1",
    [ST_ALARM_CUTOFF] = "SELECT ts_ms FROM events INDEXED BY events_alarm_by_ts "
                        "WHERE kind = ?1 AND kind = 'alarm' ORDER BY ts_ms LIMIT 1 OFFSET ?2",
    [ST_ALARM_OUTBOX_EVICT] = "DELETE FROM outbox WHERE event_id IN "
                              "(SELECT id FROM events INDEXED BY events_alarm_by_ts "
                              "WHERE kind = ?1 AND kind = 'alarm' AND ts_ms <= ?2)",
    [ST_ALARM_EVICT] = "DELETE FROM events INDEXED BY events_alarm_by_ts "
                       "WHERE kind = ?1 AND kind = 'alarm' AND ts_ms <= ?2",
    [ST_AUDIT_OLDEST] = "SELECT ts_ms FROM audit ORDER BY seq LIMIT 1",
    [ST_AUDIT_EVICT] =
        "DELETE FROM audit WHERE seq IN (SELECT seq FROM audit ORDER BY seq LIMIT ?)",
    [ST_JOURNAL_TOTALS] = "SELECT kind, rows, bytes FROM journal_totals WHERE rows > 0",
    /* Retention, by events_by_ts: the outbox rows of the same rows first. */
    [ST_EXPIRE_OUTBOX] = "DELETE FROM outbox WHERE event_id IN (SELECT id FROM events "
                         "WHERE ts_ms < ?1 ORDER BY ts_ms, seq LIMIT ?2)",
    [ST_EXPIRE_EVENTS] = "DELETE FROM events WHERE seq IN (SELECT seq FROM events "
                         "WHERE ts_ms < ?1 ORDER BY ts_ms, seq LIMIT ?2)",
    [ST_OUTBOX_TOTALS] = "SELECT class, rows, bytes FROM outbox_totals",
    [ST_OUTBOX_OLDEST] = "SELECT created_ms FROM outbox ORDER BY seq LIMIT 1",
    [ST_OUTBOX_OLDEST_OF_CLASS] =
        "SELECT created_ms FROM outbox INDEXED BY outbox_by_class WHERE class = ? "
        "ORDER BY seq LIMIT 1",
    /* Oldest first within a class; the covering index serves both. */
    [ST_OUTBOX_EVICT_OLDEST] = "DELETE FROM outbox WHERE seq IN (SELECT seq FROM outbox "
                               "INDEXED BY outbox_by_class WHERE class = ?1 ORDER BY seq LIMIT ?2)",
    [ST_OUTBOX_EVICT_AGED] = "DELETE FROM outbox WHERE seq IN (SELECT seq FROM outbox "
                             "INDEXED BY outbox_by_class WHERE class = ?1 AND created_ms < ?2 "
                             "ORDER BY seq LIMIT ?3)",
};

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
    bool read_only;     /* store_open_reader: every write is refused */
    bool trusted_json;  /* store_trust_json: bodies are not parsed again */
    int64_t room_pages; /* in a batch: pages surely free, counted down per write; -1 unknown */
    int64_t wal_frames; /* frames in the WAL after the last commit (the WAL hook) */
    int64_t auto_checkpoint_frames; /* a PASSIVE checkpoint after a commit past this */
    bool in_batch;                  /* between store_begin and store_commit/rollback */
    bool batch_lost;                /* SQLite rolled the batch back on its own after an error */
    enum wg_store_status batch_lost_status; /* ... and the status of that error */
    bool evicting;                          /* above EVICT_ABOVE_PERCENT, until EVICT_TO_PERCENT */
    bool evicting_non_alarm; /* non-alarm rows above their share, until 5 points below */
    int last_sqlite_rc;      /* result code behind the last failure, 0 if not SQLite's */
    enum wg_store_status status;
    char error[768];
    sqlite3_stmt *stmts[ST_COUNT];
};

/* ---- errors ---------------------------------------------------------- */

static int fail(struct wg_store *store, enum wg_store_status status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(struct wg_store *store, enum wg_store_status status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(store->error, sizeof store->error, fmt, ap);
    va_end(ap);
    store->status = status;
    store->last_sqlite_rc = 0;
    return -1;
}

const char *store_status_reason(enum wg_store_status status)
{
    switch (status) {
    case WG_STORE_LOCKED:
        return "locked";
    case WG_STORE_FULL:
        return "size_limit";
    case WG_STORE_CORRUPT:
        return "corrupt";
    case WG_STORE_IO:
        return "io_error";
    case WG_STORE_DISK_FULL:
        return "disk_full";
    case WG_STORE_READ_ONLY:
        return "read_only";
    case WG_STORE_OK:
    case WG_STORE_REFUSED:
        break;
    }
    return NULL;
}

bool store_status_retryable(enum wg_store_status status)
{
    return status != WG_STORE_OK && status != WG_STORE_REFUSED;
}

static int64_t query_pragma_pages(struct wg_store *store, enum stmt_id id);

/* True when SQLITE_FULL came from max_page_count rather than the disk. */
static bool at_size_limit(struct wg_store *store)
{
    if (store->max_pages <= 0)
        return false;
    int64_t pages = query_pragma_pages(store, ST_PAGE_COUNT);
    return pages >= store->max_pages;
}

/* What an extended SQLITE_IOERR code means, in words. */
static const char *io_operation(int rc)
{
    switch (rc) {
    case SQLITE_IOERR_READ:
    case SQLITE_IOERR_SHORT_READ:
        return "read failed";
    case SQLITE_IOERR_WRITE:
        return "write failed";
    case SQLITE_IOERR_FSYNC:
    case SQLITE_IOERR_DIR_FSYNC:
        return "fsync failed";
    case SQLITE_IOERR_TRUNCATE:
        return "truncate failed";
    case SQLITE_IOERR_SHMOPEN:
    case SQLITE_IOERR_SHMSIZE:
    case SQLITE_IOERR_SHMMAP:
        return "the -shm file failed";
    case SQLITE_IOERR_LOCK:
    case SQLITE_IOERR_RDLOCK:
    case SQLITE_IOERR_UNLOCK:
        return "file locking failed";
    default:
        return "I/O failed";
    }
}

/* "N MiB free on its filesystem", for disk-full and I/O error messages. */
static void describe_free_space(const char *path, char *out, size_t out_len)
{
    char *copy = strdup(path);
    struct statvfs fs;
    if (copy && statvfs(dirname(copy), &fs) == 0)
        snprintf(out, out_len, "%llu MiB free on its filesystem",
                 (unsigned long long)fs.f_bavail * fs.f_frsize / (1024 * 1024));
    else
        snprintf(out, out_len, "free space unknown");
    free(copy);
}

/* What the file system says when SQLite's I/O error came without an OS
 * error (it often loses errno on the way, a failed WAL write at commit for
 * one): a read-only mount, no free blocks, or else what writing a probe
 * file next to the database gives. 0 when writing works. */
static int file_system_errno(const char *path)
{
    char *copy = strdup(path);
    struct statvfs fs;
    int err = 0;
    if (copy && statvfs(dirname(copy), &fs) == 0) {
        if (fs.f_flag & ST_RDONLY)
            err = EROFS;
        else if (fs.f_bavail == 0)
            err = ENOSPC;
    }
    free(copy);
    if (err)
        return err;
    char probe[4096];
    snprintf(probe, sizeof probe, "%s-wgprobe", path);
    int fd = open(probe, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return errno;
    char block[4096] = {0};
    ssize_t written = write(fd, block, sizeof block);
    if (written < 0)
        err = errno;
    else if ((size_t)written < sizeof block)
        err = ENOSPC;
    else if (fdatasync(fd) != 0)
        err = errno;
    close(fd);
    unlink(probe);
    return err;
}

/* Records a failed SQLite call `rc` made while `doing` something. */
static int fail_sqlite(struct wg_store *store, int rc, const char *doing)
{
    char sqlite_msg[256];
    snprintf(sqlite_msg, sizeof sqlite_msg, "%s", store->db ? sqlite3_errmsg(store->db) : "");
    int sys_errno = store->db ? sqlite3_system_errno(store->db) : 0;
    if (sys_errno == 0 && ((rc & 0xff) == SQLITE_IOERR || (rc & 0xff) == SQLITE_CANTOPEN))
        sys_errno = file_system_errno(store->path);
    int result = -1;
    char free_space[96] = "";
    if ((rc & 0xff) == SQLITE_IOERR || (rc & 0xff) == SQLITE_FULL)
        describe_free_space(store->path, free_space, sizeof free_space);

    bool read_only_fs = sys_errno == EROFS;
    bool no_space = sys_errno == ENOSPC || sys_errno == EDQUOT || sys_errno == EFBIG;
    switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        result = fail(store, WG_STORE_LOCKED,
                      "database %s is locked by another process (waited %d ms) while %s",
                      store->path, store->busy_timeout_ms, doing);
        break;
    case SQLITE_FULL:
        /* SQLite reports ENOSPC as SQLITE_FULL and clears the OS error, so
         * max_page_count is told apart by the page count, not by errno. */
        if (!no_space && at_size_limit(store))
            result = fail(store, WG_STORE_FULL,
                          "database %s is full: %s reached the size limit of %lld bytes "
                          "(storage.max_mb) and nothing more may be evicted",
                          store->path, doing, store->max_bytes);
        else
            result = fail(store, WG_STORE_DISK_FULL,
                          "database %s: the disk is full while %s (%s; the database is within "
                          "its own size limit): free space on the disk",
                          store->path, doing, free_space);
        break;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
        result = fail(store, WG_STORE_CORRUPT, "database %s is corrupt (%s) while %s", store->path,
                      sqlite_msg, doing);
        break;
    case SQLITE_IOERR:
        if (no_space)
            result = fail(store, WG_STORE_DISK_FULL,
                          "database %s: the disk is full while %s: %s: %s (%s)", store->path, doing,
                          io_operation(rc), strerror(sys_errno), free_space);
        else if (read_only_fs)
            result = fail(store, WG_STORE_READ_ONLY,
                          "database %s is on a read-only file system while %s: %s: %s", store->path,
                          doing, io_operation(rc), strerror(sys_errno));
        else
            result = fail(store, WG_STORE_IO,
                          "database %s: I/O error while %s: %s%s%s (SQLite code %d, %s)",
                          store->path, doing, io_operation(rc), sys_errno ? ": " : "",
                          sys_errno ? strerror(sys_errno) : "", rc, free_space);
        break;
    case SQLITE_READONLY:
        result = fail(store, WG_STORE_READ_ONLY, "database %s cannot be written while %s: %s%s%s",
                      store->path, doing, sqlite_msg, sys_errno ? ": " : "",
                      sys_errno ? strerror(sys_errno) : "");
        break;
    case SQLITE_CANTOPEN:
    case SQLITE_PERM:
        result = fail(store, read_only_fs ? WG_STORE_READ_ONLY : WG_STORE_IO,
                      "database %s cannot be written while %s: %s%s%s", store->path, doing,
                      sqlite_msg, sys_errno ? ": " : "", sys_errno ? strerror(sys_errno) : "");
        break;
    default:
        result =
            fail(store, WG_STORE_IO, "database %s: %s failed: %s", store->path, doing, sqlite_msg);
        break;
    }
    store->last_sqlite_rc = rc;
    return result;
}

/* ---- statements ------------------------------------------------------ */

static sqlite3_stmt *prepared(struct wg_store *store, enum stmt_id id)
{
    if (store->stmts[id])
        return store->stmts[id];
    int rc = sqlite3_prepare_v3(store->db, stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT,
                                &store->stmts[id], NULL);
    if (rc != SQLITE_OK) {
        fail_sqlite(store, rc, "preparing a statement");
        sqlite3_finalize(store->stmts[id]);
        store->stmts[id] = NULL;
    }
    return store->stmts[id];
}

/* The cached statement, or a fresh one when the cached one is mid-iteration
 * (a callback calling back into the store). Release with done_iterating. */
static sqlite3_stmt *prepared_for_iteration(struct wg_store *store, enum stmt_id id)
{
    sqlite3_stmt *cached = prepared(store, id);
    if (!cached || !sqlite3_stmt_busy(cached))
        return cached;
    sqlite3_stmt *fresh = NULL;
    int rc = sqlite3_prepare_v2(store->db, stmt_sql[id], -1, &fresh, NULL);
    if (rc != SQLITE_OK) {
        fail_sqlite(store, rc, "preparing a statement");
        sqlite3_finalize(fresh);
        return NULL;
    }
    return fresh;
}

/* Readies a statement for its next use. sqlite3_reset repeats the error of
 * the last step, which the caller has already handled, so it is not checked. */
static void done_with(sqlite3_stmt *stmt)
{
    sqlite3_reset(stmt);
    sqlite3_clear_bindings(stmt);
}

static void done_iterating(struct wg_store *store, enum stmt_id id, sqlite3_stmt *stmt)
{
    if (stmt == store->stmts[id])
        done_with(stmt);
    else
        sqlite3_finalize(stmt);
}

/* Runs a statement without results to completion. */
static int run_stmt(struct wg_store *store, sqlite3_stmt *stmt, const char *doing)
{
    int rc = sqlite3_step(stmt);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
        fail_sqlite(store, rc, doing);
        done_with(stmt);
        return -1;
    }
    done_with(stmt);
    return 0;
}

static int run(struct wg_store *store, enum stmt_id id, const char *doing)
{
    sqlite3_stmt *stmt = prepared(store, id);
    return stmt ? run_stmt(store, stmt, doing) : -1;
}

/* Runs a statement that yields one integer. */
static int query_int64(struct wg_store *store, enum stmt_id id, int64_t *out, const char *doing)
{
    sqlite3_stmt *stmt = prepared(store, id);
    if (!stmt)
        return -1;
    int rc = sqlite3_step(stmt);
    if (rc != SQLITE_ROW) {
        fail_sqlite(store, rc == SQLITE_DONE ? SQLITE_ERROR : rc, doing);
        done_with(stmt);
        return -1;
    }
    *out = sqlite3_column_int64(stmt, 0);
    done_with(stmt);
    return 0;
}

/* page_count or freelist_count, or -1 (without touching the error) on failure. */
static int64_t query_pragma_pages(struct wg_store *store, enum stmt_id id)
{
    sqlite3_stmt *stmt = store->stmts[id];
    if (!stmt && sqlite3_prepare_v3(store->db, stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT,
                                    &store->stmts[id], NULL) != SQLITE_OK) {
        sqlite3_finalize(store->stmts[id]);
        store->stmts[id] = NULL;
        return -1;
    }
    stmt = store->stmts[id];
    int64_t pages = -1;
    if (sqlite3_step(stmt) == SQLITE_ROW)
        pages = sqlite3_column_int64(stmt, 0);
    done_with(stmt);
    return pages;
}

/* Cleanup after a failure: runs a statement, logging (not recording) its error. */
static void run_quietly(struct wg_store *store, enum stmt_id id)
{
    sqlite3_stmt *stmt = store->stmts[id];
    if (!stmt && sqlite3_prepare_v3(store->db, stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT,
                                    &store->stmts[id], NULL) != SQLITE_OK) {
        wg_err("database %s: cannot prepare \"%s\": %s", store->path, stmt_sql[id],
               sqlite3_errmsg(store->db));
        sqlite3_finalize(store->stmts[id]);
        store->stmts[id] = NULL;
        return;
    }
    stmt = store->stmts[id];
    int rc = sqlite3_step(stmt);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW)
        wg_err("database %s: \"%s\" failed: %s", store->path, stmt_sql[id],
               sqlite3_errmsg(store->db));
    done_with(stmt);
}

static int bind_text(sqlite3_stmt *stmt, int index, const char *text)
{
    return sqlite3_bind_text(stmt, index, text, -1, SQLITE_STATIC);
}

static int64_t wall_clock_ms(void)
{
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    return (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

/* ---- transactions ---------------------------------------------------- */

typedef int (*write_fn)(struct wg_store *store, void *ctx);

static int evict_until(struct wg_store *store, int64_t target_pages, int64_t max_bytes,
                       struct wg_store_eviction *evicted);
static void log_eviction(const struct wg_store *store, const struct wg_store_eviction *evicted);

/* Rolls back to the write savepoint and releases it; notes a lost batch. */
static void undo_savepoint(struct wg_store *store)
{
    if (sqlite3_get_autocommit(store->db))
        return; /* SQLite already rolled the whole transaction back */
    run_quietly(store, ST_ROLLBACK_TO);
    run_quietly(store, ST_RELEASE);
}

/* Pages a write adding about `new_bytes` may allocate at worst: a split at
 * every level of each b-tree it touches, plus overflow pages for big texts. */
static int64_t reserve_pages(const struct wg_store *store, size_t new_bytes)
{
    int64_t usable = store->page_size > 512 ? store->page_size - 256 : 256;
    return RESERVE_PAGES_PER_WRITE + 2 * ((int64_t)new_bytes / usable + 1);
}

/* Before a write under max_bytes: when fewer than `reserve` pages are left,
 * prunes; fails with WG_STORE_FULL (nothing written, the batch intact) when
 * pruning cannot make room. Hitting max_page_count inside SQLite instead
 * would make it roll back the whole transaction, batch and all. */
static int ensure_room(struct wg_store *store, int64_t reserve, const char *doing)
{
    /* Inside a batch the page counts are read again only when what is
     * surely left (counted down by each write's worst case) runs short. */
    if (store->in_batch && store->room_pages >= reserve) {
        store->room_pages -= reserve;
        return 0;
    }
    int64_t pages = query_pragma_pages(store, ST_PAGE_COUNT);
    int64_t free_pages = query_pragma_pages(store, ST_FREELIST_COUNT);
    if (pages < 0 || free_pages < 0)
        return fail(store, WG_STORE_IO, "database %s: cannot read its page counts: %s", store->path,
                    sqlite3_errmsg(store->db));
    if (store->max_pages - pages + free_pages >= reserve) {
        store->room_pages = store->max_pages - pages + free_pages - reserve;
        return 0;
    }
    store->room_pages = -1;
    int64_t target = store->max_pages * EVICT_TO_PERCENT / 100;
    if (target > store->max_pages - 2 * reserve)
        target = store->max_pages - 2 * reserve;
    struct wg_store_eviction evicted = {0};
    int rc = evict_until(store, target, 0, &evicted);
    log_eviction(store, &evicted);
    if (rc < 0)
        return -1;
    pages = query_pragma_pages(store, ST_PAGE_COUNT);
    free_pages = query_pragma_pages(store, ST_FREELIST_COUNT);
    if (pages >= 0 && free_pages >= 0 && store->max_pages - pages + free_pages >= reserve)
        return 0;
    return fail(store, WG_STORE_FULL,
                "database %s is full: %s needs room that the size limit of %lld bytes "
                "(storage.max_mb) no longer has, and nothing more may be evicted (only the "
                "current alarms are left); nothing was written",
                store->path, doing, store->max_bytes);
}

/* Runs `work` as one unit: inside the caller's batch under a savepoint (so a
 * failure undoes only this unit), or in a transaction of its own. A write
 * that adds about `new_bytes` (> 0) first makes room under the size limit;
 * deletes pass 0 and always run. `doing` names the work for error messages. */
static int run_write(struct wg_store *store, write_fn work, void *ctx, size_t new_bytes,
                     const char *doing)
{
    if (store->read_only)
        return fail(store, WG_STORE_REFUSED,
                    "database %s: %s refused: this is a read-only connection", store->path, doing);
    if (store->in_batch && store->batch_lost)
        return fail(store, store->batch_lost_status,
                    "database %s: the open batch was rolled back after an earlier error; "
                    "roll back and append the batch again",
                    store->path);
    bool own_transaction = !store->in_batch;
    if (own_transaction && run(store, ST_BEGIN, "starting a transaction") < 0)
        return -1;

    int result = run(store, ST_SAVEPOINT, doing);
    if (result == 0 && new_bytes > 0 && store->max_pages > 0)
        result = ensure_room(store, reserve_pages(store, new_bytes), doing);
    if (result == 0) {
        result = work(store, ctx);
        if (result < 0 && (store->last_sqlite_rc & 0xff) == SQLITE_FULL &&
            !sqlite3_get_autocommit(store->db) && at_size_limit(store)) {
            run_quietly(store, ST_ROLLBACK_TO); /* the savepoint stays open */
            struct wg_store_eviction evicted = {0};
            int rc = evict_until(store, store->max_pages * EVICT_TO_PERCENT / 100, 0, &evicted);
            log_eviction(store, &evicted);
            if (rc == 0)
                result = work(store, ctx);
        }
        if (result == 0)
            result = run(store, ST_RELEASE, doing);
        if (result < 0)
            undo_savepoint(store);
    }

    bool transaction_gone = sqlite3_get_autocommit(store->db);
    if (own_transaction) {
        if (result == 0) {
            result = run(store, ST_COMMIT, "committing");
            if (result < 0 && !sqlite3_get_autocommit(store->db))
                run_quietly(store, ST_ROLLBACK);
        } else if (!transaction_gone) {
            run_quietly(store, ST_ROLLBACK);
        }
    } else if (transaction_gone) {
        store->batch_lost = true;
        store->batch_lost_status = result == 0 ? WG_STORE_IO : store->status;
        if (result == 0)
            result = fail(store, WG_STORE_IO, "database %s: the open batch ended unexpectedly",
                          store->path);
        size_t used = strlen(store->error);
        snprintf(store->error + used, sizeof store->error - used,
                 "; SQLite rolled back the whole batch, which must be appended again");
    }
    return result;
}

int store_begin(struct wg_store *store)
{
    store->status = WG_STORE_OK;
    if (store->in_batch)
        return fail(store, WG_STORE_IO, "database %s: store_begin inside an open batch",
                    store->path);
    if (run(store, ST_BEGIN, "starting a transaction") < 0)
        return -1;
    store->in_batch = true;
    store->room_pages = -1;
    store->batch_lost = false;
    store->batch_lost_status = WG_STORE_OK;
    return 0;
}

int store_commit(struct wg_store *store)
{
    store->status = WG_STORE_OK;
    if (!store->in_batch)
        return fail(store, WG_STORE_IO, "database %s: store_commit without store_begin",
                    store->path);
    store->in_batch = false;
    if (store->batch_lost || sqlite3_get_autocommit(store->db)) {
        store->batch_lost = false;
        return fail(store, store->batch_lost_status ? store->batch_lost_status : WG_STORE_IO,
                    "database %s: nothing committed: the batch was rolled back after an "
                    "earlier error and must be appended again",
                    store->path);
    }
    if (run(store, ST_COMMIT, "committing") < 0) {
        if (!sqlite3_get_autocommit(store->db))
            run_quietly(store, ST_ROLLBACK);
        return -1;
    }
    return 0;
}

void store_rollback(struct wg_store *store)
{
    if (!sqlite3_get_autocommit(store->db))
        run_quietly(store, ST_ROLLBACK);
    store->in_batch = false;
    store->batch_lost = false;
}

/* ---- journal and outbox ---------------------------------------------- */

static int set_optional_string(json_t *object, const char *key, const char *value)
{
    if (!value)
        return 0;
    return json_object_set_new(object, key, json_string(value));
}

/* The outbox payload: the event's fields, then its body as "data". The body
 * text is spliced in verbatim (it was checked to be a JSON object) so the
 * producer's numbers reach the platform exactly as written. */
static char *outbox_payload(const struct wg_event *event, int64_t seq, size_t *len)
{
    json_t *head = json_object();
    if (!head)
        return NULL;
    char ts[40];
    clock_format_rfc3339(event->ts_ms, false, ts, sizeof ts);
    int rc = json_object_set_new(head, "id", json_string(event->id));
    rc |= json_object_set_new(head, "seq", json_integer(seq));
    rc |= json_object_set_new(head, "ts", json_string(ts));
    rc |= json_object_set_new(head, "ts_ms", json_integer(event->ts_ms));
    rc |= json_object_set_new(head, "kind", json_string(event->kind));
    if (event->priority >= 0)
        rc |= json_object_set_new(head, "priority", json_integer(event->priority));
    rc |= set_optional_string(head, "alarm_id", event->alarm_id);
    rc |= set_optional_string(head, "device", event->device);
    rc |= set_optional_string(head, "zone", event->zone);
    rc |= set_optional_string(head, "room", event->room);
    rc |= set_optional_string(head, "bed", event->bed);
    rc |= set_optional_string(head, "resident", event->resident);
    char *head_text = rc == 0 ? json_dumps(head, JSON_COMPACT) : NULL;
    json_decref(head);
    if (!head_text)
        return NULL;

    /* head_text is "{...}": drop its closing brace, append ,"data":body} */
    size_t head_len = strlen(head_text);
    char *payload = NULL;
    int n = asprintf(&payload, "%.*s,\"data\":%s}", (int)(head_len - 1), head_text, event->body);
    free(head_text);
    if (n < 0)
        return NULL;
    *len = (size_t)n;
    return payload;
}

struct append_job {
    struct wg_event *event;
    const char *body;
    int64_t seq;
};

static int append_work(struct wg_store *store, void *ctx)
{
    struct append_job *job = ctx;
    struct wg_event *event = job->event;
    sqlite3_stmt *insert = prepared(store, ST_EVENT_INSERT);
    if (!insert)
        return -1;
    int rc = bind_text(insert, 1, event->id);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(insert, 2, event->ts_ms);
    if (rc == SQLITE_OK)
        rc = bind_text(insert, 3, event->kind);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int(insert, 4, event->priority < 0 ? -1 : event->priority);
    if (rc == SQLITE_OK)
        rc = bind_text(insert, 5, event->alarm_id);
    if (rc == SQLITE_OK)
        rc = bind_text(insert, 6, event->device);
    if (rc == SQLITE_OK)
        rc = bind_text(insert, 7, event->zone);
    if (rc == SQLITE_OK)
        rc = bind_text(insert, 8, event->room);
    if (rc == SQLITE_OK)
        rc = bind_text(insert, 9, event->bed);
    if (rc == SQLITE_OK)
        rc = bind_text(insert, 10, event->resident);
    if (rc == SQLITE_OK)
        rc = bind_text(insert, 11, job->body);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int(insert, 12, (int)event->uplink);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(insert);
    if (rc != SQLITE_DONE) {
        if (rc == SQLITE_CONSTRAINT_UNIQUE) {
            done_with(insert);
            return fail(store, WG_STORE_REFUSED,
                        "database %s: event id %s is already in the journal", store->path,
                        event->id);
        }
        fail_sqlite(store, rc, "appending an event");
        done_with(insert);
        return -1;
    }
    done_with(insert);
    job->seq = sqlite3_last_insert_rowid(store->db);
    if (event->uplink == WG_UPLINK_NONE)
        return 0;

    size_t payload_len = 0;
    char *payload = outbox_payload(event, job->seq, &payload_len);
    if (!payload)
        return fail(store, WG_STORE_REFUSED,
                    "database %s: cannot build the outbox payload of event %s (out of memory, "
                    "or a field is not UTF-8)",
                    store->path, event->id);
    sqlite3_stmt *queue = prepared(store, ST_OUTBOX_INSERT);
    if (!queue) {
        free(payload);
        return -1;
    }
    rc = bind_text(queue, 1, event->id);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int(queue, 2, (int)event->uplink);
    if (rc == SQLITE_OK)
        rc = bind_text(queue, 3, event->kind);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_text(queue, 4, payload, (int)payload_len, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(queue, 5, (sqlite3_int64)payload_len);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(queue, 6, wall_clock_ms());
    if (rc == SQLITE_OK)
        rc = sqlite3_step(queue);
    int result = 0;
    if (rc != SQLITE_DONE)
        result = fail_sqlite(store, rc, "queueing an event in the outbox");
    done_with(queue);
    free(payload);
    return result;
}

/* 0 when text is a JSON object; else -1 with jansson's complaint in why. */
static int check_json_object(const char *text, char *why, size_t why_len)
{
    json_error_t error;
    json_t *value = json_loads(text, JSON_DECODE_ANY, &error);
    if (!value) {
        snprintf(why, why_len, "%s at line %d column %d", error.text, error.line, error.column);
        return -1;
    }
    bool is_object = json_is_object(value);
    json_decref(value);
    if (!is_object) {
        snprintf(why, why_len, "it is JSON but not an object");
        return -1;
    }
    return 0;
}

int store_append_event(struct wg_store *store, struct wg_event *event)
{
    store->status = WG_STORE_OK;
    if (!event || !event->kind || !event->kind[0])
        return fail(store, WG_STORE_REFUSED, "database %s: event without a kind refused",
                    store->path);
    if ((int)event->uplink < WG_UPLINK_NONE || event->uplink > WG_UPLINK_TELEMETRY)
        return fail(store, WG_STORE_REFUSED, "database %s: event %s has an unknown uplink class %d",
                    store->path, event->id, (int)event->uplink);
    if (!event->id[0])
        event_new_id(event);
    struct append_job job = {.event = event, .body = event->body ? event->body : "{}"};
    char why[200];
    if (!store->trusted_json && check_json_object(job.body, why, sizeof why) < 0)
        return fail(store, WG_STORE_REFUSED,
                    "database %s: event %s (kind %s) refused: its body is not a JSON object: %s",
                    store->path, event->id, event->kind, why);
    if (run_write(store, append_work, &job, 2 * strlen(job.body) + 512, "appending an event") < 0)
        return -1;
    event->seq = job.seq;
    return 0;
}

/* ---- outbox-only rows: payloads already in their final form --------- */

struct outbox_append_job {
    const struct wg_outbox_append *row;
    int64_t seq;
};

static int outbox_append_work(struct wg_store *store, void *ctx)
{
    struct outbox_append_job *job = ctx;
    const struct wg_outbox_append *row = job->row;
    sqlite3_stmt *queue = prepared(store, ST_OUTBOX_INSERT);
    if (!queue)
        return -1;
    int rc = sqlite3_bind_null(queue, 1);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int(queue, 2, row->uplink_class);
    if (rc == SQLITE_OK)
        rc = bind_text(queue, 3, row->kind);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_text(queue, 4, row->payload, (int)row->payload_len, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(queue, 5, (sqlite3_int64)row->payload_len);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(queue, 6, row->created_ms);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(queue);
    int result = 0;
    if (rc != SQLITE_DONE)
        result = fail_sqlite(store, rc, "queueing a message in the outbox");
    done_with(queue);
    job->seq = sqlite3_last_insert_rowid(store->db);
    return result;
}

int store_outbox_append(struct wg_store *store, const struct wg_outbox_append *row, int64_t *seq)
{
    store->status = WG_STORE_OK;
    if (!row || !row->kind || !row->kind[0] || !row->payload || row->payload_len > INT32_MAX ||
        row->uplink_class < WG_UPLINK_ALARM || row->uplink_class > WG_UPLINK_TELEMETRY)
        return fail(store, WG_STORE_REFUSED,
                    "database %s: an outbox message without kind, payload or class refused",
                    store->path);
    struct outbox_append_job job = {.row = row};
    if (run_write(store, outbox_append_work, &job, row->payload_len + 256,
                  "queueing a message in the outbox") < 0)
        return -1;
    if (seq)
        *seq = job.seq;
    return 0;
}

static int64_t run_read_int64(struct wg_store *store, enum stmt_id id, const char *doing)
{
    store->status = WG_STORE_OK;
    int64_t value = -1;
    if (query_int64(store, id, &value, doing) < 0)
        return -1;
    return value;
}

int64_t store_event_count(struct wg_store *store)
{
    return run_read_int64(store, ST_EVENT_COUNT, "counting events");
}

int64_t store_last_event_seq(struct wg_store *store)
{
    return run_read_int64(store, ST_EVENT_LAST_SEQ, "reading the last event seq");
}

int64_t store_outbox_count(struct wg_store *store)
{
    return run_read_int64(store, ST_OUTBOX_COUNT, "counting the outbox");
}

int64_t store_outbox_bytes(struct wg_store *store)
{
    return run_read_int64(store, ST_OUTBOX_BYTES, "summing the outbox bytes");
}

int store_schema_version(struct wg_store *store)
{
    return (int)run_read_int64(store, ST_SCHEMA_VERSION, "reading the schema version");
}

int64_t store_size_bytes(struct wg_store *store)
{
    store->status = WG_STORE_OK;
    int64_t pages = query_pragma_pages(store, ST_PAGE_COUNT);
    if (pages < 0)
        return fail(store, WG_STORE_IO, "database %s: cannot read its page count: %s", store->path,
                    sqlite3_errmsg(store->db));
    return pages * store->page_size;
}

static const char *column_text(sqlite3_stmt *stmt, int column)
{
    return (const char *)sqlite3_column_text(stmt, column);
}

/* Binds (after, limit) to an iteration statement; limit <= 0 means all. */
static int bind_range(sqlite3_stmt *stmt, int64_t after, int limit)
{
    int rc = sqlite3_bind_int64(stmt, 1, after);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int(stmt, 2, limit > 0 ? limit : -1);
    return rc;
}

/* Finishes an iteration: 0 on SQLITE_DONE or an early stop, else -1. */
static int end_iteration(struct wg_store *store, enum stmt_id id, sqlite3_stmt *stmt, int rc,
                         const char *doing)
{
    int result = 0;
    if (rc != SQLITE_DONE && rc != SQLITE_ROW)
        result = fail_sqlite(store, rc, doing);
    done_iterating(store, id, stmt);
    return result;
}

int store_outbox_peek(struct wg_store *store, int64_t after_seq, int limit,
                      int (*each)(const struct wg_outbox_row *row, void *ctx), void *ctx)
{
    store->status = WG_STORE_OK;
    if (!each)
        return fail(store, WG_STORE_IO, "database %s: no callback given", store->path);
    sqlite3_stmt *stmt = prepared_for_iteration(store, ST_OUTBOX_PEEK);
    if (!stmt)
        return -1;
    int rc = bind_range(stmt, after_seq, limit);
    while (rc == SQLITE_OK || rc == SQLITE_ROW) {
        if ((rc = sqlite3_step(stmt)) != SQLITE_ROW)
            break;
        struct wg_outbox_row row = {
            .seq = sqlite3_column_int64(stmt, 0),
            .event_id = column_text(stmt, 1),
            .uplink_class = sqlite3_column_int(stmt, 2),
            .kind = column_text(stmt, 3),
            .payload = column_text(stmt, 4),
            .payload_len = (size_t)sqlite3_column_bytes(stmt, 4),
            .created_ms = sqlite3_column_int64(stmt, 5),
        };
        if (each(&row, ctx) != 0)
            break;
    }
    return end_iteration(store, ST_OUTBOX_PEEK, stmt, rc, "reading the outbox");
}

static int outbox_delete_work(struct wg_store *store, void *ctx)
{
    sqlite3_stmt *stmt = prepared(store, ST_OUTBOX_DELETE);
    if (!stmt)
        return -1;
    int rc = sqlite3_bind_int64(stmt, 1, *(const int64_t *)ctx);
    if (rc != SQLITE_OK) {
        done_with(stmt);
        return fail_sqlite(store, rc, "deleting an outbox row");
    }
    return run_stmt(store, stmt, "deleting an outbox row");
}

int store_outbox_delete(struct wg_store *store, int64_t seq)
{
    store->status = WG_STORE_OK;
    return run_write(store, outbox_delete_work, &seq, 0, "deleting an outbox row");
}

int store_outbox_totals(struct wg_store *store, struct wg_outbox_totals *totals)
{
    store->status = WG_STORE_OK;
    *totals = (struct wg_outbox_totals){0};
    sqlite3_stmt *stmt = prepared(store, ST_OUTBOX_TOTALS);
    if (!stmt)
        return -1;
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        int uplink_class = sqlite3_column_int(stmt, 0);
        if (uplink_class < WG_UPLINK_ALARM || uplink_class > WG_UPLINK_TELEMETRY)
            continue;
        totals->rows[uplink_class] = sqlite3_column_int64(stmt, 1);
        totals->bytes[uplink_class] = sqlite3_column_int64(stmt, 2);
        totals->total_rows += totals->rows[uplink_class];
        totals->total_bytes += totals->bytes[uplink_class];
    }
    done_with(stmt);
    if (rc != SQLITE_DONE)
        return fail_sqlite(store, rc, "reading the outbox totals");
    stmt = prepared(store, ST_OUTBOX_OLDEST);
    if (!stmt)
        return -1;
    rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW)
        totals->oldest_created_ms = sqlite3_column_int64(stmt, 0);
    done_with(stmt);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return fail_sqlite(store, rc, "reading the oldest outbox row");
    return 0;
}

#define EVICT_CHUNK_ROWS 256

struct bound_job {
    const struct wg_outbox_bound *bound;
    int64_t now_ms;
    struct wg_outbox_eviction *evicted;
};

/* created_ms of the oldest row of a class; 0 when it has none, -1 on error. */
static int oldest_of_class(struct wg_store *store, int uplink_class, int64_t *created_ms)
{
    sqlite3_stmt *stmt = prepared(store, ST_OUTBOX_OLDEST_OF_CLASS);
    if (!stmt)
        return -1;
    *created_ms = 0;
    int rc = sqlite3_bind_int(stmt, 1, uplink_class);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW)
        *created_ms = sqlite3_column_int64(stmt, 0);
    done_with(stmt);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return fail_sqlite(store, rc, "reading the oldest outbox row of a class");
    return rc == SQLITE_ROW ? 1 : 0;
}

/* Deletes up to EVICT_CHUNK_ROWS of the oldest rows of a class (only those
 * created before `before_ms` when it is > 0). Returns the count, or -1. */
static int64_t evict_outbox_chunk(struct wg_store *store, int uplink_class, int64_t before_ms)
{
    enum stmt_id id = before_ms > 0 ? ST_OUTBOX_EVICT_AGED : ST_OUTBOX_EVICT_OLDEST;
    sqlite3_stmt *stmt = prepared(store, id);
    if (!stmt)
        return -1;
    int rc = sqlite3_bind_int(stmt, 1, uplink_class);
    if (rc == SQLITE_OK && before_ms > 0)
        rc = sqlite3_bind_int64(stmt, 2, before_ms);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int(stmt, before_ms > 0 ? 3 : 2, EVICT_CHUNK_ROWS);
    if (rc != SQLITE_OK) {
        done_with(stmt);
        return fail_sqlite(store, rc, "evicting from the outbox");
    }
    if (run_stmt(store, stmt, "evicting from the outbox") < 0)
        return -1;
    return sqlite3_changes(store->db);
}

static int bound_work(struct wg_store *store, void *ctx)
{
    struct bound_job *job = ctx;
    static const int evictable[] = {WG_UPLINK_TELEMETRY, WG_UPLINK_HEALTH, WG_UPLINK_ALARM};
    /* Age first: rows the platform no longer wants, alarms excepted unless
     * the uplink is disabled. */
    if (job->bound->max_age_ms > 0) {
        int64_t cutoff = job->now_ms - job->bound->max_age_ms;
        size_t classes = job->bound->alarms_age_out ? 3 : 2;
        for (size_t i = 0; i < classes; i++) {
            int64_t oldest = 0;
            int found = oldest_of_class(store, evictable[i], &oldest);
            if (found < 0)
                return -1;
            while (found && oldest < cutoff) {
                int64_t n = evict_outbox_chunk(store, evictable[i], cutoff);
                if (n < 0)
                    return -1;
                job->evicted->by_age[evictable[i]] += n;
                if (n < EVICT_CHUNK_ROWS)
                    break;
            }
        }
    }
    if (job->bound->max_bytes <= 0)
        return 0;
    /* Then bytes: telemetry oldest first, then health; alarms never. */
    for (size_t i = 0; i < 2; i++) {
        for (;;) {
            struct wg_outbox_totals totals;
            if (store_outbox_totals(store, &totals) < 0)
                return -1;
            if (totals.total_bytes <= job->bound->max_bytes || totals.rows[evictable[i]] == 0)
                break;
            int64_t n = evict_outbox_chunk(store, evictable[i], 0);
            if (n < 0)
                return -1;
            job->evicted->by_size[evictable[i]] += n;
            if (n == 0)
                break;
        }
    }
    return 0;
}

int store_outbox_bound(struct wg_store *store, const struct wg_outbox_bound *bound, int64_t now_ms,
                       struct wg_outbox_eviction *evicted)
{
    store->status = WG_STORE_OK;
    *evicted = (struct wg_outbox_eviction){0};
    struct bound_job job = {bound, now_ms, evicted};
    return run_write(store, bound_work, &job, 0, "bounding the outbox");
}

int store_events_since(struct wg_store *store, int64_t after_seq, int limit,
                       int (*each)(const struct wg_event_row *row, void *ctx), void *ctx)
{
    store->status = WG_STORE_OK;
    if (!each)
        return fail(store, WG_STORE_IO, "database %s: no callback given", store->path);
    sqlite3_stmt *stmt = prepared_for_iteration(store, ST_EVENTS_SINCE);
    if (!stmt)
        return -1;
    int rc = bind_range(stmt, after_seq, limit);
    while (rc == SQLITE_OK || rc == SQLITE_ROW) {
        if ((rc = sqlite3_step(stmt)) != SQLITE_ROW)
            break;
        struct wg_event_row row = {
            .seq = sqlite3_column_int64(stmt, 0),
            .id = column_text(stmt, 1),
            .ts_ms = sqlite3_column_int64(stmt, 2),
            .kind = column_text(stmt, 3),
            .priority = sqlite3_column_int(stmt, 4),
            .device = column_text(stmt, 5),
            .body = column_text(stmt, 6),
        };
        if (each(&row, ctx) != 0)
            break;
    }
    return end_iteration(store, ST_EVENTS_SINCE, stmt, rc, "reading the journal");
}

/* ---- readings, audit, alarms ----------------------------------------- */

struct reading_job {
    const char *device;
    const char *point;
    const struct wg_reading_aggregate *aggregate;
};

static int reading_work(struct wg_store *store, void *ctx)
{
    const struct reading_job *job = ctx;
    const struct wg_reading_aggregate *agg = job->aggregate;
    sqlite3_stmt *stmt = prepared(store, ST_READING_UPSERT);
    if (!stmt)
        return -1;
    int rc = bind_text(stmt, 1, job->device);
    if (rc == SQLITE_OK)
        rc = bind_text(stmt, 2, job->point);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(stmt, 3, agg->bucket_ms);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(stmt, 4, agg->count);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_double(stmt, 5, agg->min);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_double(stmt, 6, agg->max);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_double(stmt, 7, agg->sum);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_double(stmt, 8, agg->last);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(stmt, 9, agg->last_ms);
    if (rc != SQLITE_OK) {
        done_with(stmt);
        return fail_sqlite(store, rc, "adding a reading");
    }
    return run_stmt(store, stmt, "adding a reading");
}

int64_t store_bucket_start(const struct wg_store *store, int64_t ts_ms)
{
    int64_t bucket = ts_ms / store->bucket_ms;
    if (ts_ms % store->bucket_ms < 0)
        bucket -= 1; /* floor for times before 1970 */
    return bucket * store->bucket_ms;
}

int store_add_aggregate(struct wg_store *store, const char *device, const char *point,
                        const struct wg_reading_aggregate *aggregate)
{
    store->status = WG_STORE_OK;
    if (!device || !point || !aggregate || aggregate->count < 1)
        return fail(store, WG_STORE_REFUSED,
                    "database %s: reading without device, point or values refused", store->path);
    if (!isfinite(aggregate->min) || !isfinite(aggregate->max) || !isfinite(aggregate->sum) ||
        !isfinite(aggregate->last))
        return fail(store, WG_STORE_REFUSED, "database %s: reading %s/%s is not a finite number",
                    store->path, device, point);
    struct reading_job job = {device, point, aggregate};
    return run_write(store, reading_work, &job, strlen(device) + strlen(point) + 96,
                     "adding a reading");
}

int store_add_reading(struct wg_store *store, const char *device, const char *point, int64_t ts_ms,
                      double value)
{
    struct wg_reading_aggregate single = {.bucket_ms = store_bucket_start(store, ts_ms),
                                          .count = 1,
                                          .min = value,
                                          .max = value,
                                          .sum = value,
                                          .last = value,
                                          .last_ms = ts_ms};
    return store_add_aggregate(store, device, point, &single);
}

struct audit_job {
    int64_t ts_ms;
    const char *actor, *origin, *action, *target, *detail;
};

static int audit_work(struct wg_store *store, void *ctx)
{
    const struct audit_job *job = ctx;
    sqlite3_stmt *stmt = prepared(store, ST_AUDIT_INSERT);
    if (!stmt)
        return -1;
    int rc = sqlite3_bind_int64(stmt, 1, job->ts_ms);
    if (rc == SQLITE_OK)
        rc = bind_text(stmt, 2, job->actor);
    if (rc == SQLITE_OK)
        rc = bind_text(stmt, 3, job->origin);
    if (rc == SQLITE_OK)
        rc = bind_text(stmt, 4, job->action);
    if (rc == SQLITE_OK)
        rc = bind_text(stmt, 5, job->target);
    if (rc == SQLITE_OK)
        rc = bind_text(stmt, 6, job->detail);
    if (rc != SQLITE_OK) {
        done_with(stmt);
        return fail_sqlite(store, rc, "writing an audit row");
    }
    return run_stmt(store, stmt, "writing an audit row");
}

int store_audit(struct wg_store *store, int64_t ts_ms, const char *actor, const char *origin,
                const char *action, const char *target, const char *detail_json)
{
    store->status = WG_STORE_OK;
    if (!actor || !action)
        return fail(store, WG_STORE_REFUSED,
                    "database %s: audit row without actor or action refused", store->path);
    char why[200];
    if (detail_json && !store->trusted_json && check_json_object(detail_json, why, sizeof why) < 0)
        return fail(store, WG_STORE_REFUSED,
                    "database %s: audit row (%s %s) refused: detail is not a JSON object: %s",
                    store->path, actor, action, why);
    struct audit_job job = {ts_ms, actor, origin, action, target, detail_json};
    return run_write(store, audit_work, &job,
                     256 + strlen(actor) + strlen(action) + (detail_json ? strlen(detail_json) : 0),
                     "writing an audit row");
}

static int alarm_put_work(struct wg_store *store, void *ctx)
{
    const struct wg_alarm_row *alarm = ctx;
    sqlite3_stmt *stmt = prepared(store, ST_ALARM_PUT);
    if (!stmt)
        return -1;
    int rc = bind_text(stmt, 1, alarm->id);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(stmt, 2, alarm->update_count);
    if (rc == SQLITE_OK)
        rc = bind_text(stmt, 3, alarm->state);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int(stmt, 4, alarm->priority);
    if (rc == SQLITE_OK)
        rc = bind_text(stmt, 5, alarm->kind);
    if (rc == SQLITE_OK)
        rc = bind_text(stmt, 6, alarm->body ? alarm->body : "{}");
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(stmt, 7, alarm->updated_ms);
    if (rc != SQLITE_OK) {
        done_with(stmt);
        return fail_sqlite(store, rc, "storing an alarm");
    }
    rc = sqlite3_step(stmt);
    int result = 0;
    if (rc == SQLITE_CONSTRAINT_CHECK)
        result = fail(store, WG_STORE_REFUSED,
                      "database %s: alarm %s refused: state \"%s\" is not one of raised, "
                      "acknowledged, attended, reset",
                      store->path, alarm->id, alarm->state);
    else if (rc != SQLITE_DONE)
        result = fail_sqlite(store, rc, "storing an alarm");
    done_with(stmt);
    return result;
}

int store_alarm_put(struct wg_store *store, const struct wg_alarm_row *alarm)
{
    store->status = WG_STORE_OK;
    if (!alarm || !alarm->id || !alarm->state || !alarm->kind)
        return fail(store, WG_STORE_REFUSED, "database %s: alarm without id, state or kind refused",
                    store->path);
    char why[200];
    if (alarm->body && !store->trusted_json && check_json_object(alarm->body, why, sizeof why) < 0)
        return fail(store, WG_STORE_REFUSED,
                    "database %s: alarm %s refused: its body is not a JSON object: %s", store->path,
                    alarm->id, why);
    return run_write(store, alarm_put_work, (void *)alarm,
                     256 + (alarm->body ? strlen(alarm->body) : 0), "storing an alarm");
}

static int alarm_delete_work(struct wg_store *store, void *ctx)
{
    sqlite3_stmt *stmt = prepared(store, ST_ALARM_DELETE);
    if (!stmt)
        return -1;
    int rc = bind_text(stmt, 1, ctx);
    if (rc != SQLITE_OK) {
        done_with(stmt);
        return fail_sqlite(store, rc, "deleting an alarm");
    }
    return run_stmt(store, stmt, "deleting an alarm");
}

int store_alarm_delete(struct wg_store *store, const char *id)
{
    store->status = WG_STORE_OK;
    if (!id)
        return fail(store, WG_STORE_REFUSED, "database %s: alarm delete without id", store->path);
    return run_write(store, alarm_delete_work, (void *)id, 0, "deleting an alarm");
}

int store_alarm_foreach(struct wg_store *store,
                        int (*each)(const struct wg_alarm_row *alarm, void *ctx), void *ctx)
{
    store->status = WG_STORE_OK;
    if (!each)
        return fail(store, WG_STORE_IO, "database %s: no callback given", store->path);
    sqlite3_stmt *stmt = prepared_for_iteration(store, ST_ALARM_ALL);
    if (!stmt)
        return -1;
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        struct wg_alarm_row row = {
            .id = column_text(stmt, 0),
            .update_count = sqlite3_column_int64(stmt, 1),
            .state = column_text(stmt, 2),
            .priority = sqlite3_column_int(stmt, 3),
            .kind = column_text(stmt, 4),
            .body = column_text(stmt, 5),
            .updated_ms = sqlite3_column_int64(stmt, 6),
        };
        if (each(&row, ctx) != 0)
            break;
    }
    return end_iteration(store, ST_ALARM_ALL, stmt, rc, "reading the alarms");
}

/* ---- size bound and housekeeping ------------------------------------- */

static int64_t used_pages(struct wg_store *store)
{
    int64_t pages = query_pragma_pages(store, ST_PAGE_COUNT);
    int64_t free_pages = query_pragma_pages(store, ST_FREELIST_COUNT);
    if (pages < 0 || free_pages < 0)
        return -1;
    return pages - free_pages;
}

static const char *const evict_class_names[WG_EVICT_CLASSES] = {
    [WG_EVICT_READINGS] = "readings",        [WG_EVICT_TELEMETRY] = "telemetry",
    [WG_EVICT_POINT] = "point changes",      [WG_EVICT_WRITE_RESULT] = "write results",
    [WG_EVICT_HEALTH] = "health and system", [WG_EVICT_AUDIT] = "audit",
    [WG_EVICT_ALARM] = "alarm events",
};

const char *store_evict_class_name(enum wg_evict_class evict_class)
{
    return (unsigned)evict_class < WG_EVICT_CLASSES ? evict_class_names[evict_class] : "?";
}

static enum wg_evict_class class_of_kind(const char *kind)
{
    if (strcmp(kind, "telemetry") == 0)
        return WG_EVICT_TELEMETRY;
    if (strcmp(kind, "point") == 0)
        return WG_EVICT_POINT;
    if (strcmp(kind, "write_result") == 0)
        return WG_EVICT_WRITE_RESULT;
    if (strcmp(kind, "alarm") == 0)
        return WG_EVICT_ALARM;
    return WG_EVICT_HEALTH;
}

/* The journal's rows and body bytes per kind (journal_totals, kept by triggers). */
static int load_kind_totals(struct wg_store *store, struct wg_store_kind_total *kinds,
                            size_t capacity, size_t *count)
{
    *count = 0;
    sqlite3_stmt *stmt = prepared(store, ST_JOURNAL_TOTALS);
    if (!stmt)
        return -1;
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        if (*count == capacity)
            continue;
        struct wg_store_kind_total *total = &kinds[(*count)++];
        snprintf(total->kind, sizeof total->kind, "%s",
                 column_text(stmt, 0) ? column_text(stmt, 0) : "");
        total->rows = sqlite3_column_int64(stmt, 1);
        total->bytes = sqlite3_column_int64(stmt, 2);
    }
    done_with(stmt);
    return rc == SQLITE_DONE ? 0 : fail_sqlite(store, rc, "reading the journal totals");
}

/* Pages the alarm journal and outbox rows take, estimated from their totals
 * (a b-tree page is about three quarters full). */
static int64_t alarm_pages_estimate(struct wg_store *store, const struct wg_store_kind_total *kinds,
                                    size_t count, const struct wg_outbox_totals *outbox)
{
    int64_t bytes =
        outbox->bytes[WG_UPLINK_ALARM] + outbox->rows[WG_UPLINK_ALARM] * OUTBOX_ROW_OVERHEAD;
    for (size_t i = 0; i < count; i++)
        if (strcmp(kinds[i].kind, "alarm") == 0)
            bytes += kinds[i].bytes + kinds[i].rows * JOURNAL_ROW_OVERHEAD;
    return bytes * 4 / 3 / store->page_size;
}

/* One place rows may be evicted from, and the time of its oldest row. */
struct evict_source {
    enum { SOURCE_READINGS, SOURCE_KIND, SOURCE_AUDIT, SOURCE_OUTBOX_TELEMETRY } type;
    const char *kind;
    int64_t oldest_ms;
};

/* The time of the oldest row a statement (bound with `kind` when given)
 * finds; 0 when it finds none (then *found is false). */
static int oldest_row(struct wg_store *store, enum stmt_id id, const char *kind, int64_t *oldest,
                      bool *found)
{
    sqlite3_stmt *stmt = prepared(store, id);
    if (!stmt)
        return -1;
    int rc = kind ? bind_text(stmt, 1, kind) : SQLITE_OK;
    if (rc == SQLITE_OK)
        rc = sqlite3_step(stmt);
    *found = rc == SQLITE_ROW;
    *oldest = *found ? sqlite3_column_int64(stmt, 0) : 0;
    done_with(stmt);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return fail_sqlite(store, rc, "finding the oldest rows to evict");
    return 0;
}

/* The source whose oldest row is the oldest: among the non-alarm ones
 * (readings and every journal kind but alarm), or among alarm and audit
 * rows. *found is false when every candidate is empty. */
static int oldest_source(struct wg_store *store, bool alarm_tier,
                         const struct wg_store_kind_total *kinds, size_t kind_count,
                         struct evict_source *best, bool *found)
{
    *found = false;
    struct evict_source candidate;
    bool has = false;
    int64_t oldest = 0;
    if (!alarm_tier) {
        if (oldest_row(store, ST_READINGS_OLDEST, NULL, &oldest, &has) < 0)
            return -1;
        if (has) {
            *best = (struct evict_source){SOURCE_READINGS, NULL, oldest};
            *found = true;
        }
        /* Telemetry lives in the outbox only (migration 6): unsent, it is
         * evicted by age like the journal's kinds. */
        int telemetry = oldest_of_class(store, WG_UPLINK_TELEMETRY, &oldest);
        if (telemetry < 0)
            return -1;
        if (telemetry && (!*found || oldest < best->oldest_ms)) {
            *best = (struct evict_source){SOURCE_OUTBOX_TELEMETRY, NULL, oldest};
            *found = true;
        }
    } else {
        if (oldest_row(store, ST_AUDIT_OLDEST, NULL, &oldest, &has) < 0)
            return -1;
        if (has) {
            *best = (struct evict_source){SOURCE_AUDIT, NULL, oldest};
            *found = true;
        }
    }
    for (size_t i = 0; i < kind_count; i++) {
        bool alarm = strcmp(kinds[i].kind, "alarm") == 0;
        if (alarm != alarm_tier || kinds[i].rows <= 0)
            continue;
        if (oldest_row(store, alarm ? ST_ALARM_OLDEST : ST_KIND_OLDEST, kinds[i].kind, &oldest,
                       &has) < 0)
            return -1;
        candidate = (struct evict_source){SOURCE_KIND, kinds[i].kind, oldest};
        if (has && (!*found || candidate.oldest_ms < best->oldest_ms)) {
            *best = candidate;
            *found = true;
        }
    }
    return 0;
}

/* Runs a DELETE bound with (text, int64) or (int) and returns the rows it deleted. */
static int64_t run_delete(struct wg_store *store, enum stmt_id id, const char *text, int64_t number,
                          const char *doing)
{
    sqlite3_stmt *stmt = prepared(store, id);
    if (!stmt)
        return -1;
    int rc = text ? bind_text(stmt, 1, text) : SQLITE_OK;
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(stmt, text ? 2 : 1, number);
    if (rc != SQLITE_OK) {
        done_with(stmt);
        return fail_sqlite(store, rc, doing);
    }
    if (run_stmt(store, stmt, doing) < 0)
        return -1;
    return sqlite3_changes(store->db);
}

/* What deleting one row writes to the WAL: every page it touches goes there
 * whole. A journal row sits in its table and seven indexes, two of them on
 * random keys (its UUID, its device), and its outbox row in three more; a
 * reading in its table's random leaf and the by-bucket index. Measured with
 * the soak (docs/storage.md). */
#define EVICT_JOURNAL_ROW_WAL (6 * 4096)
#define EVICT_READING_ROW_WAL (2 * 4096)
#define EVICT_AUDIT_ROW_WAL   (2 * 4096)

/* Rows per chunk: an eighth of the WAL's share, at least 8. */
static int64_t chunk_rows(const struct wg_store *store, int64_t row_wal_bytes, int64_t most)
{
    int64_t rows = store->wal_budget_bytes / 8 / row_wal_bytes;
    return rows < 8 ? 8 : rows > most ? most : rows;
}

/* Deletes the oldest chunk of a source: journal rows go with their outbox
 * rows. Adds to *evicted and returns what it wrote to the WAL (an
 * estimate), or -1. */
static int64_t evict_source_chunk(struct wg_store *store, const struct evict_source *source,
                                  struct wg_store_eviction *evicted)
{
    int64_t n, row_wal;
    switch (source->type) {
    case SOURCE_READINGS:
        row_wal = EVICT_READING_ROW_WAL;
        n = run_delete(store, ST_READINGS_EVICT, NULL,
                       chunk_rows(store, row_wal, 2 * EVICT_CHUNK_ROWS), "evicting readings");
        if (n < 0)
            return -1;
        evicted->rows[WG_EVICT_READINGS] += n;
        break;
    case SOURCE_AUDIT:
        row_wal = EVICT_AUDIT_ROW_WAL;
        n = run_delete(store, ST_AUDIT_EVICT, NULL, chunk_rows(store, row_wal, EVICT_CHUNK_ROWS),
                       "evicting audit rows");
        if (n < 0)
            return -1;
        evicted->rows[WG_EVICT_AUDIT] += n;
        break;
    case SOURCE_OUTBOX_TELEMETRY:
        row_wal = EVICT_READING_ROW_WAL;
        n = evict_outbox_chunk(store, WG_UPLINK_TELEMETRY, 0);
        if (n < 0)
            return -1;
        evicted->rows[WG_EVICT_TELEMETRY] += n;
        evicted->outbox_rows += n;
        break;
    case SOURCE_KIND: {
        /* The chunk ends at the seq (alarms: the time) `rows` rows in, or
         * covers the rest. */
        row_wal = EVICT_JOURNAL_ROW_WAL;
        int64_t rows = chunk_rows(store, row_wal, EVICT_CHUNK_ROWS);
        bool alarm = strcmp(source->kind, "alarm") == 0;
        sqlite3_stmt *stmt = prepared(store, alarm ? ST_ALARM_CUTOFF : ST_KIND_CUTOFF);
        if (!stmt)
            return -1;
        int rc = bind_text(stmt, 1, source->kind);
        if (rc == SQLITE_OK)
            rc = sqlite3_bind_int64(stmt, 2, rows - 1);
        if (rc == SQLITE_OK)
            rc = sqlite3_step(stmt);
        int64_t cutoff = rc == SQLITE_ROW ? sqlite3_column_int64(stmt, 0) : INT64_MAX;
        done_with(stmt);
        if (rc != SQLITE_ROW && rc != SQLITE_DONE)
            return fail_sqlite(store, rc, "evicting journal rows");
        n = run_delete(store, alarm ? ST_ALARM_OUTBOX_EVICT : ST_KIND_OUTBOX_EVICT, source->kind,
                       cutoff, "evicting unsent outbox rows");
        if (n < 0)
            return -1;
        evicted->outbox_rows += n;
        n = run_delete(store, alarm ? ST_ALARM_EVICT : ST_KIND_EVICT, source->kind, cutoff,
                       "evicting journal rows");
        if (n < 0)
            return -1;
        evicted->rows[class_of_kind(source->kind)] += n;
        break;
    }
    default:
        return 0;
    }
    evicted->chunks++;
    return n * row_wal;
}

/* Evicts, a chunk at a time, while the database uses more than `target`
 * pages (the whole bound, when it is above EVICT_ABOVE_PERCENT) or non-alarm
 * rows more than their share: the oldest non-alarm rows first; alarm and
 * audit rows only when the whole bound needs it and nothing else is left.
 * Stops once it wrote about `max_bytes` to the WAL (0: no limit), so one
 * transaction's WAL stays within its share. */
static int evict_until(struct wg_store *store, int64_t target_pages, int64_t max_bytes,
                       struct wg_store_eviction *evicted)
{
    int64_t freed = 0;
    if (store->max_pages <= 0)
        return 0;
    int64_t non_alarm_high = store->max_pages * (100 - ALARM_SHARE_PERCENT) / 100;
    int64_t non_alarm_low = non_alarm_high - store->max_pages * 5 / 100;
    struct wg_store_kind_total kinds[16];
    size_t kind_count = 0;
    struct wg_outbox_totals outbox;
    while (max_bytes <= 0 || freed < max_bytes) {
        int64_t used = used_pages(store);
        if (used < 0)
            return fail(store, WG_STORE_IO, "database %s: cannot read its page counts: %s",
                        store->path, sqlite3_errmsg(store->db));
        if (load_kind_totals(store, kinds, 16, &kind_count) < 0 ||
            store_outbox_totals(store, &outbox) < 0)
            return -1;
        int64_t non_alarm = used - alarm_pages_estimate(store, kinds, kind_count, &outbox);
        if (non_alarm > non_alarm_high)
            store->evicting_non_alarm = true;
        else if (non_alarm <= non_alarm_low)
            store->evicting_non_alarm = false;
        bool over = used > target_pages;
        if (!over && !store->evicting_non_alarm)
            return 0;
        struct evict_source source;
        bool found = false;
        if (oldest_source(store, false, kinds, kind_count, &source, &found) < 0)
            return -1;
        if (!found) {
            store->evicting_non_alarm = false;
            if (!over)
                return 0;
            if (oldest_source(store, true, kinds, kind_count, &source, &found) < 0)
                return -1;
            if (!found) {
                evicted->exhausted = true;
                return 0;
            }
        }
        int64_t bytes = evict_source_chunk(store, &source, evicted);
        if (bytes < 0)
            return -1;
        freed += bytes;
    }
    return 0;
}

static void log_eviction(const struct wg_store *store, const struct wg_store_eviction *evicted)
{
    char text[400] = "";
    size_t used = 0;
    for (int c = 0; c < WG_EVICT_CLASSES && used < sizeof text; c++)
        if (evicted->rows[c])
            used += (size_t)snprintf(text + used, sizeof text - used, "%s%" PRId64 " %s",
                                     used ? ", " : "", evicted->rows[c], evict_class_names[c]);
    if (used)
        wg_info("database %s: size bound: evicted the oldest %s (%" PRId64
                " of them unsent outbox rows)",
                store->path, text, evicted->outbox_rows);
}

bool store_over_bound(struct wg_store *store)
{
    if (store->max_pages <= 0 || store->read_only)
        return false;
    if (store->evicting || store->evicting_non_alarm)
        return true;
    int64_t used = used_pages(store);
    return used > store->max_pages * (100 - ALARM_SHARE_PERCENT) / 100;
}

struct evict_job {
    int64_t max_bytes;
    struct wg_store_eviction *evicted;
};

static int evict_work(struct wg_store *store, void *ctx)
{
    struct evict_job *job = ctx;
    int64_t used = used_pages(store);
    if (used > store->max_pages * EVICT_ABOVE_PERCENT / 100)
        store->evicting = true;
    int64_t target = store->evicting ? store->max_pages * EVICT_TO_PERCENT / 100 : store->max_pages;
    if (evict_until(store, target, job->max_bytes, job->evicted) < 0)
        return -1;
    used = used_pages(store);
    if (used >= 0 && used <= store->max_pages * EVICT_TO_PERCENT / 100)
        store->evicting = false;
    return 0;
}

int store_evict(struct wg_store *store, int64_t max_bytes, struct wg_store_eviction *evicted)
{
    store->status = WG_STORE_OK;
    if (store->max_pages <= 0)
        return 0;
    struct evict_job job = {max_bytes, evicted};
    return run_write(store, evict_work, &job, 0, "keeping the size bound");
}

struct maintain_job {
    int64_t now_ms;
};

/* Deletes what is older than `cutoff_ms` in chunks; returns the rows, or -1. */
static int64_t expire_journal(struct wg_store *store, int64_t cutoff_ms)
{
    int64_t total = 0;
    int chunks = 0;
    for (;;) {
        sqlite3_stmt *stmt = prepared(store, ST_EXPIRE_OUTBOX);
        if (!stmt)
            return -1;
        int rc = sqlite3_bind_int64(stmt, 1, cutoff_ms);
        if (rc == SQLITE_OK)
            rc = sqlite3_bind_int(stmt, 2, EXPIRE_CHUNK_ROWS);
        if (rc != SQLITE_OK) {
            done_with(stmt);
            return fail_sqlite(store, rc, "expiring journal rows");
        }
        if (run_stmt(store, stmt, "expiring outbox rows") < 0)
            return -1;
        if (!(stmt = prepared(store, ST_EXPIRE_EVENTS)))
            return -1;
        rc = sqlite3_bind_int64(stmt, 1, cutoff_ms);
        if (rc == SQLITE_OK)
            rc = sqlite3_bind_int(stmt, 2, EXPIRE_CHUNK_ROWS);
        if (rc != SQLITE_OK) {
            done_with(stmt);
            return fail_sqlite(store, rc, "expiring journal rows");
        }
        if (run_stmt(store, stmt, "expiring journal rows") < 0)
            return -1;
        int changes = sqlite3_changes(store->db);
        total += changes;
        if (changes < EXPIRE_CHUNK_ROWS || ++chunks == EXPIRE_CHUNKS_PER_CALL)
            return total; /* the rest at the next maintenance: the WAL keeps its share */
    }
}

static int maintain_work(struct wg_store *store, void *ctx)
{
    const struct maintain_job *job = ctx;
    sqlite3_stmt *expire = prepared(store, ST_READINGS_EXPIRE);
    if (!expire)
        return -1;
    int rc = sqlite3_bind_int64(expire, 1, job->now_ms - store->readings_retention_ms);
    if (rc != SQLITE_OK) {
        done_with(expire);
        return fail_sqlite(store, rc, "expiring readings");
    }
    if (run_stmt(store, expire, "expiring readings") < 0)
        return -1;
    int64_t expired = expire_journal(store, job->now_ms - store->events_retention_ms);
    if (expired < 0)
        return -1;
    if (expired > 0)
        wg_info("database %s: %" PRId64 " journal rows older than the retention deleted",
                store->path, expired);
    return 0;
}

int store_maintain(struct wg_store *store, int64_t now_ms)
{
    store->status = WG_STORE_OK;
    struct maintain_job job = {now_ms};
    if (run_write(store, maintain_work, &job, 0, "maintaining the database") < 0)
        return -1;
    struct wg_store_eviction evicted = {0};
    int rc = store_evict(store, store->wal_budget_bytes / 4, &evicted);
    log_eviction(store, &evicted);
    if (rc == 0 && evicted.exhausted)
        wg_warn("database %s: above its size bound with nothing left to evict but the current "
                "alarms",
                store->path);
    return rc;
}

/* The size of a file, 0 when it does not exist. */
static int64_t file_bytes(const char *path, const char *suffix)
{
    char name[4096];
    snprintf(name, sizeof name, "%s%s", path, suffix);
    struct stat st;
    return stat(name, &st) == 0 ? (int64_t)st.st_size : 0;
}

int store_usage(struct wg_store *store, struct wg_store_usage *usage)
{
    store->status = WG_STORE_OK;
    *usage = (struct wg_store_usage){.max_bytes = store->max_bytes,
                                     .db_budget_bytes = store->max_pages * store->page_size,
                                     .wal_budget_bytes = store->wal_budget_bytes};
    int64_t used = used_pages(store);
    if (used < 0)
        return fail(store, WG_STORE_IO, "database %s: cannot read its page counts: %s", store->path,
                    sqlite3_errmsg(store->db));
    usage->used_bytes = used * store->page_size;
    usage->file_bytes = file_bytes(store->path, "");
    usage->wal_bytes = file_bytes(store->path, "-wal");
    if (load_kind_totals(store, usage->kinds, sizeof usage->kinds / sizeof usage->kinds[0],
                         &usage->kind_count) < 0 ||
        store_outbox_totals(store, &usage->outbox) < 0)
        return -1;
    usage->alarm_bytes =
        alarm_pages_estimate(store, usage->kinds, usage->kind_count, &usage->outbox) *
        store->page_size;
    return 0;
}

int store_checkpoint(struct wg_store *store, bool truncate, int64_t *wal_bytes)
{
    store->status = WG_STORE_OK;
    int log_frames = 0, done_frames = 0;
    int rc = sqlite3_wal_checkpoint_v2(
        store->db, NULL, truncate ? SQLITE_CHECKPOINT_TRUNCATE : SQLITE_CHECKPOINT_PASSIVE,
        &log_frames, &done_frames);
    if (wal_bytes)
        *wal_bytes = file_bytes(store->path, "-wal");
    if (rc == SQLITE_OK && truncate)
        store->wal_frames = 0;
    if (rc != SQLITE_OK && !(truncate && (rc & 0xff) == SQLITE_BUSY))
        return fail_sqlite(store, rc, "checkpointing the WAL");
    return 0;
}

int64_t store_wal_bytes(const struct wg_store *store)
{
    return store->wal_frames * (store->page_size + 24);
}

/* ---- open and close -------------------------------------------------- */

void store_own_checkpoints(struct wg_store *store)
{
    store->auto_checkpoint_frames = 0;
}

void store_trust_json(struct wg_store *store, bool trusted)
{
    store->trusted_json = trusted;
}

const char *store_path(const struct wg_store *store)
{
    return store->path;
}

const char *store_last_error(const struct wg_store *store)
{
    return store->error;
}

enum wg_store_status store_last_status(const struct wg_store *store)
{
    return store->status;
}

static void finalize_all(struct wg_store *store)
{
    for (int i = 0; i < ST_COUNT; i++) {
        sqlite3_finalize(store->stmts[i]);
        store->stmts[i] = NULL;
    }
}

static void free_store(struct wg_store *store)
{
    finalize_all(store);
    if (store->db) {
        int rc = sqlite3_close(store->db);
        if (rc != SQLITE_OK)
            wg_err("database %s: close failed: %s", store->path, sqlite3_errstr(rc));
    }
    free(store->path);
    free(store);
}

void store_close(struct wg_store *store)
{
    if (!store)
        return;
    if (store->db && !sqlite3_get_autocommit(store->db)) {
        wg_warn("database %s: closed inside a batch; rolling it back", store->path);
        run_quietly(store, ST_ROLLBACK);
    }
    free_store(store);
}

/* Checks the directory and file are usable before SQLite tries, so the
 * message says what is wrong in words. */
static int check_path(struct wg_store *store)
{
    char *copy = strdup(store->path);
    if (!copy)
        return fail(store, WG_STORE_IO, "database %s: out of memory", store->path);
    const char *dir = dirname(copy);
    struct stat st;
    int result = 0;
    if (stat(dir, &st) < 0)
        result = fail(store, WG_STORE_IO, "database %s: directory %s: %s", store->path, dir,
                      strerror(errno));
    else if (!S_ISDIR(st.st_mode))
        result = fail(store, WG_STORE_IO, "database %s: %s is not a directory", store->path, dir);
    else if (access(dir, W_OK | X_OK) < 0)
        result = fail(store, WG_STORE_IO,
                      "database %s: directory %s is not writable (%s); the database and its "
                      "-wal and -shm files need to be created there",
                      store->path, dir, strerror(errno));
    else if (stat(store->path, &st) == 0 && S_ISDIR(st.st_mode))
        result = fail(store, WG_STORE_IO, "database %s is a directory", store->path);
    else if (stat(store->path, &st) == 0 && access(store->path, R_OK | W_OK) < 0)
        result = fail(store, WG_STORE_IO, "database %s cannot be opened for writing: %s",
                      store->path, strerror(errno));
    free(copy);
    return result;
}

/* PRAGMA quick_check before anything writes: a corrupt file is left as is. */
static int check_integrity(struct wg_store *store)
{
    sqlite3_stmt *stmt = NULL;
    int rc = sqlite3_prepare_v2(store->db, "PRAGMA quick_check(3)", -1, &stmt, NULL);
    if (rc != SQLITE_OK) {
        sqlite3_finalize(stmt);
        return fail_sqlite(store, rc, "checking it with quick_check");
    }
    char findings[400] = "";
    size_t used = 0;
    bool ok = false;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        const char *line = column_text(stmt, 0);
        if (line && strcmp(line, "ok") == 0) {
            ok = true;
            continue;
        }
        if (used < sizeof findings)
            used += (size_t)snprintf(findings + used, sizeof findings - used, "%s%s",
                                     used ? "; " : "", line ? line : "?");
    }
    if (rc != SQLITE_DONE) {
        fail_sqlite(store, rc, "checking it with quick_check");
        sqlite3_finalize(stmt);
        return -1;
    }
    sqlite3_finalize(stmt);
    for (char *c = findings; *c; c++)
        if (*c == '\n')
            *c = ' '; /* one log line */
    if (!ok || findings[0])
        return fail(store, WG_STORE_CORRUPT,
                    "database %s is corrupt: quick_check found: %s; the file was not modified",
                    store->path, findings[0] ? findings : "no result");
    return 0;
}

/* Runs a PRAGMA and returns its first column as text in out (may be empty). */
static int pragma(struct wg_store *store, const char *sql, char *out, size_t out_len)
{
    sqlite3_stmt *stmt = NULL;
    int rc = sqlite3_prepare_v2(store->db, sql, -1, &stmt, NULL);
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(stmt);
        if (out_len)
            out[0] = '\0';
        if (rc == SQLITE_ROW && out_len)
            snprintf(out, out_len, "%s", column_text(stmt, 0) ? column_text(stmt, 0) : "");
        if (rc == SQLITE_ROW || rc == SQLITE_DONE)
            rc = SQLITE_OK;
    }
    if (rc != SQLITE_OK) {
        char doing[120];
        snprintf(doing, sizeof doing, "running %s", sql);
        fail_sqlite(store, rc, doing);
    }
    sqlite3_finalize(stmt);
    return rc == SQLITE_OK ? 0 : -1;
}

static int on_wal_commit(void *ctx, sqlite3 *db, const char *name, int frames)
{
    struct wg_store *store = ctx;
    store->wal_frames = frames;
    if (store->auto_checkpoint_frames > 0 && frames >= store->auto_checkpoint_frames)
        sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
    return SQLITE_OK;
}

static int configure_connection(struct wg_store *store)
{
    char value[64];
    if (pragma(store, "PRAGMA page_size = 4096", NULL, 0) < 0 ||
        pragma(store, "PRAGMA journal_mode = WAL", value, sizeof value) < 0)
        return -1;
    if (strcmp(value, "wal") != 0)
        return fail(store, WG_STORE_IO, "database %s: cannot switch to WAL mode (mode is %s)",
                    store->path, value);
    /* The WAL is part of the bound: truncated back to its share after a
     * checkpoint, and checkpointed when half of it is used. */
    char sql[80];
    snprintf(sql, sizeof sql, "PRAGMA journal_size_limit = %lld",
             (long long)store->wal_budget_bytes);
    if (pragma(store, "PRAGMA synchronous = FULL", NULL, 0) < 0 ||
        pragma(store, "PRAGMA foreign_keys = ON", NULL, 0) < 0 || pragma(store, sql, NULL, 0) < 0)
        return -1;
    /* Our own WAL hook (it replaces wal_autocheckpoint): it counts what each
     * commit left in the WAL, so the writer can keep the WAL in its share. */
    store->auto_checkpoint_frames = store->wal_budget_bytes / 4096 / 4;
    sqlite3_wal_hook(store->db, on_wal_commit, store);
    if (pragma(store, "PRAGMA foreign_keys", value, sizeof value) < 0)
        return -1;
    if (strcmp(value, "1") != 0)
        return fail(store, WG_STORE_IO, "database %s: SQLite refused foreign_keys=ON", store->path);
    return 0;
}

/* Refuses a SQLite file of another application. */
static int check_application(struct wg_store *store)
{
    char value[32], tables[32];
    if (pragma(store, "PRAGMA application_id", value, sizeof value) < 0)
        return -1;
    long long id = atoll(value);
    if (id == WG_STORE_APPLICATION_ID)
        return 0;
    if (id != 0)
        return fail(store, WG_STORE_IO,
                    "database %s belongs to another application (application_id %lld); "
                    "not touching it",
                    store->path, id);
    if (pragma(store, "SELECT count(*) FROM sqlite_schema", tables, sizeof tables) < 0)
        return -1;
    if (atoll(tables) != 0)
        return fail(store, WG_STORE_IO,
                    "database %s holds tables but is not a wardgate database; not touching it",
                    store->path);
    return 0;
}

static int current_version(struct wg_store *store, int *version)
{
    char value[32];
    if (pragma(store,
               "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = 'migrations'",
               value, sizeof value) < 0)
        return -1;
    if (atoi(value) == 0) {
        *version = 0;
        return 0;
    }
    if (pragma(store, "SELECT coalesce(max(version), 0) FROM migrations", value, sizeof value) < 0)
        return -1;
    *version = atoi(value);
    return 0;
}

static int apply_migration(struct wg_store *store, const struct wg_migration *migration)
{
    char doing[160];
    snprintf(doing, sizeof doing, "applying migration %d (%s)", migration->version,
             migration->name);
    if (run(store, ST_BEGIN, doing) < 0)
        return -1;
    char *exec_error = NULL;
    int rc = sqlite3_exec(store->db, migration->sql, NULL, NULL, &exec_error);
    sqlite3_free(exec_error);
    if (rc == SQLITE_OK) {
        sqlite3_stmt *record = NULL;
        rc = sqlite3_prepare_v2(store->db,
                                "INSERT INTO migrations (version, name, applied_ms) "
                                "VALUES (?, ?, ?)",
                                -1, &record, NULL);
        if (rc == SQLITE_OK)
            rc = sqlite3_bind_int(record, 1, migration->version);
        if (rc == SQLITE_OK)
            rc = bind_text(record, 2, migration->name);
        if (rc == SQLITE_OK)
            rc = sqlite3_bind_int64(record, 3, wall_clock_ms());
        if (rc == SQLITE_OK && (rc = sqlite3_step(record)) == SQLITE_DONE)
            rc = SQLITE_OK;
        if (rc != SQLITE_OK)
            fail_sqlite(store, rc, doing);
        sqlite3_finalize(record);
    } else {
        fail_sqlite(store, rc, doing);
    }
    if (rc == SQLITE_OK && run(store, ST_COMMIT, doing) == 0) {
        wg_info("database %s: applied migration %d (%s)", store->path, migration->version,
                migration->name);
        return 0;
    }
    if (!sqlite3_get_autocommit(store->db))
        run_quietly(store, ST_ROLLBACK);
    return -1;
}

static int migrate(struct wg_store *store)
{
    size_t known = 0;
    const struct wg_migration *migrations = migrations_list(&known);
    int version = 0;
    if (current_version(store, &version) < 0)
        return -1;
    if (version > (int)known)
        return fail(store, WG_STORE_IO,
                    "database %s has schema version %d but this wardgated knows only up to %d; "
                    "refusing to open it (a newer version wrote it; it is never downgraded)",
                    store->path, version, (int)known);
    for (size_t i = 0; i < known; i++)
        if (migrations[i].version > version && apply_migration(store, &migrations[i]) < 0)
            return -1;
    return 0;
}

static int apply_size_limit(struct wg_store *store)
{
    char value[32];
    if (pragma(store, "PRAGMA page_size", value, sizeof value) < 0)
        return -1;
    store->page_size = atoll(value);
    if (store->page_size <= 0)
        return fail(store, WG_STORE_IO, "database %s: bad page size %s", store->path, value);
    if (store->max_bytes <= 0)
        return 0;
    int64_t wanted = (store->max_bytes - store->wal_budget_bytes) / store->page_size;
    char sql[64];
    snprintf(sql, sizeof sql, "PRAGMA max_page_count = %" PRId64, wanted);
    if (pragma(store, sql, value, sizeof value) < 0)
        return -1;
    store->max_pages = atoll(value);
    if (store->max_pages > wanted)
        wg_warn("database %s: already %" PRId64 " bytes, above its share of storage.max_mb "
                "(%lld bytes with the WAL); it will not grow further, and rows are evicted "
                "until it is within it (the file itself shrinks only with VACUUM)",
                store->path, store->max_pages * store->page_size, store->max_bytes);
    return 0;
}

static int open_database(struct wg_store *store)
{
    if (check_path(store) < 0)
        return -1;
    int rc =
        sqlite3_open_v2(store->path, &store->db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK)
        return fail_sqlite(store, rc, "opening it");
    /* Until the checks pass, closing must not checkpoint a WAL into the file. */
    rc = sqlite3_db_config(store->db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_extended_result_codes(store->db, 1);
    if (rc != SQLITE_OK)
        return fail_sqlite(store, rc, "configuring the connection");
    rc = sqlite3_busy_timeout(store->db, store->busy_timeout_ms);
    if (rc != SQLITE_OK)
        return fail_sqlite(store, rc, "setting the busy timeout");
    if (check_integrity(store) < 0 || check_application(store) < 0 ||
        configure_connection(store) < 0 || migrate(store) < 0 || apply_size_limit(store) < 0)
        return -1;
    rc = sqlite3_db_config(store->db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 0, NULL);
    if (rc != SQLITE_OK)
        wg_warn("database %s: cannot re-enable the checkpoint on close: %s", store->path,
                sqlite3_errstr(rc));
    return 0;
}

struct wg_store *store_open(const struct wg_store_options *options, enum wg_store_status *status,
                            char *err, size_t err_len)
{
    enum wg_store_status ignored_status;
    if (!status)
        status = &ignored_status;
    if (!options || !options->path || !options->path[0]) {
        *status = WG_STORE_IO;
        if (err && err_len)
            snprintf(err, err_len, "database: no path given");
        return NULL;
    }
    struct wg_store *store = calloc(1, sizeof *store);
    char *path = strdup(options->path);
    if (!store || !path) {
        free(store);
        free(path);
        *status = WG_STORE_IO;
        if (err && err_len)
            snprintf(err, err_len, "database %s: out of memory", options->path);
        return NULL;
    }
    store->path = path;
    store->busy_timeout_ms =
        options->busy_timeout_ms > 0 ? options->busy_timeout_ms : DEFAULT_BUSY_TIMEOUT_MS;
    store->bucket_ms = 1000LL * (options->readings_bucket_s > 0 ? options->readings_bucket_s
                                                                : DEFAULT_READINGS_BUCKET_S);
    store->readings_retention_ms =
        MS_PER_DAY * (options->readings_retention_days > 0 ? options->readings_retention_days
                                                           : DEFAULT_READINGS_RETENTION);
    store->events_retention_ms =
        MS_PER_DAY * (options->events_retention_days > 0 ? options->events_retention_days
                                                         : DEFAULT_EVENTS_RETENTION);
    store->max_bytes = options->max_bytes > 0 ? options->max_bytes : 0;
    store->wal_budget_bytes = WAL_SIZE_LIMIT_BYTES;
    if (store->max_bytes > 0) {
        /* An eighth of the bound, within 256 KiB-32 MiB, at most a quarter. */
        store->wal_budget_bytes = store->max_bytes / 8;
        if (store->wal_budget_bytes < WAL_MIN_BYTES)
            store->wal_budget_bytes = WAL_MIN_BYTES;
        if (store->wal_budget_bytes > WAL_MAX_BYTES)
            store->wal_budget_bytes = WAL_MAX_BYTES;
        if (store->wal_budget_bytes > store->max_bytes / 4)
            store->wal_budget_bytes = store->max_bytes / 4;
    }

    if (open_database(store) < 0) {
        *status = store->status;
        if (err && err_len)
            snprintf(err, err_len, "%s", store->error);
        free_store(store);
        return NULL;
    }
    *status = WG_STORE_OK;
    if (err && err_len)
        err[0] = '\0';
    return store;
}

struct wg_store *store_open_reader(const char *path, char *err, size_t err_len)
{
    struct wg_store *store = calloc(1, sizeof *store);
    char *copy = path ? strdup(path) : NULL;
    if (!store || !copy) {
        free(store);
        free(copy);
        if (err && err_len)
            snprintf(err, err_len, "database %s: out of memory", path ? path : "");
        return NULL;
    }
    store->path = copy;
    store->read_only = true;
    store->busy_timeout_ms = READER_BUSY_TIMEOUT_MS;
    store->page_size = 4096;
    store->bucket_ms = 1000LL * DEFAULT_READINGS_BUCKET_S;
    int rc = sqlite3_open_v2(path, &store->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_extended_result_codes(store->db, 1);
    if (rc == SQLITE_OK)
        rc = sqlite3_busy_timeout(store->db, store->busy_timeout_ms);
    char value[32];
    if (rc != SQLITE_OK) {
        fail_sqlite(store, rc, "opening it to read");
    } else if (pragma(store, "PRAGMA page_size", value, sizeof value) == 0) {
        store->page_size = atoll(value) > 0 ? atoll(value) : 4096;
        if (err && err_len)
            err[0] = '\0';
        return store;
    }
    if (err && err_len)
        snprintf(err, err_len, "%s", store->error);
    free_store(store);
    return NULL;
}
