/* The SQL the store runs more than once, and the helpers that prepare it
 * once, bind, run and read it. */
#include "store/store_internal.h"

#include <stdio.h>
#include <time.h>

#include "common/log.h"

const char *const store_stmt_sql[ST_COUNT] = {
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
        "ON CONFLICT (bucket_ms, device, point) DO UPDATE SET n = readings.n + excluded.n, "
        "min = min(readings.min, excluded.min), max = max(readings.max, excluded.max), "
        "sum = readings.sum + excluded.sum, "
        "last = CASE WHEN excluded.last_ms >= readings.last_ms THEN excluded.last "
        "ELSE readings.last END, last_ms = max(readings.last_ms, excluded.last_ms)",
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
    [ST_EVENTS_OF_KIND] = "SELECT body FROM events WHERE kind = ? AND ts_ms >= ? ORDER BY seq "
                          "LIMIT ?",
    [ST_EVENT_COUNT] = "SELECT count(*) FROM events",
    [ST_EVENT_LAST_SEQ] = "SELECT coalesce(max(seq), 0) FROM events",
    [ST_SCHEMA_VERSION] = "SELECT coalesce(max(version), 0) FROM migrations",
    [ST_PAGE_COUNT] = "PRAGMA page_count",
    [ST_FREELIST_COUNT] = "PRAGMA freelist_count",
    [ST_READINGS_EXPIRE] = "DELETE FROM readings WHERE bucket_ms < ?",
    [ST_READINGS_OLDEST] = "SELECT bucket_ms FROM readings ORDER BY bucket_ms LIMIT 1",
    /* The oldest rows in key order: the start of the table (migration 7). */
    [ST_READINGS_EVICT] = "DELETE FROM readings WHERE (bucket_ms, device, point) IN "
                          "(SELECT bucket_ms, device, point FROM readings "
                          "ORDER BY bucket_ms, device, point LIMIT ?)",
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
    /* Before ST_AUDIT_EVICT of the same rows: the anchor becomes the last of them. */
    [ST_AUDIT_ANCHOR_MOVE] = "UPDATE audit_anchor SET (seq, hash) = (SELECT seq, hash FROM "
                             "(SELECT seq, hash FROM audit ORDER BY seq LIMIT ?1) "
                             "ORDER BY seq DESC LIMIT 1) WHERE EXISTS (SELECT 1 FROM audit)",
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

sqlite3_stmt *store_prepared(struct wg_store *store, enum stmt_id id)
{
    if (store->stmts[id])
        return store->stmts[id];
    int rc = sqlite3_prepare_v3(store->db, store_stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT,
                                &store->stmts[id], NULL);
    if (rc != SQLITE_OK) {
        store_fail_sqlite(store, rc, "preparing a statement");
        sqlite3_finalize(store->stmts[id]);
        store->stmts[id] = NULL;
    }
    return store->stmts[id];
}

/* The cached statement, or a fresh one when the cached one is mid-iteration
 * (a callback calling back into the store). Release with done_iterating. */
sqlite3_stmt *store_prepared_for_iteration(struct wg_store *store, enum stmt_id id)
{
    sqlite3_stmt *cached = store_prepared(store, id);
    if (!cached || !sqlite3_stmt_busy(cached))
        return cached;
    sqlite3_stmt *fresh = NULL;
    int rc = sqlite3_prepare_v2(store->db, store_stmt_sql[id], -1, &fresh, NULL);
    if (rc != SQLITE_OK) {
        store_fail_sqlite(store, rc, "preparing a statement");
        sqlite3_finalize(fresh);
        return NULL;
    }
    return fresh;
}

/* Readies a statement for its next use. sqlite3_reset repeats the error of
 * the last step, which the caller has already handled, so it is not checked. */
void store_done_with(sqlite3_stmt *stmt)
{
    sqlite3_reset(stmt);
    sqlite3_clear_bindings(stmt);
}

void store_done_iterating(struct wg_store *store, enum stmt_id id, sqlite3_stmt *stmt)
{
    if (stmt == store->stmts[id])
        store_done_with(stmt);
    else
        sqlite3_finalize(stmt);
}

/* Runs a statement without results to completion. */
int store_run_stmt(struct wg_store *store, sqlite3_stmt *stmt, const char *doing)
{
    int rc = sqlite3_step(stmt);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
        store_fail_sqlite(store, rc, doing);
        store_done_with(stmt);
        return -1;
    }
    store_done_with(stmt);
    return 0;
}

int store_run(struct wg_store *store, enum stmt_id id, const char *doing)
{
    sqlite3_stmt *stmt = store_prepared(store, id);
    return stmt ? store_run_stmt(store, stmt, doing) : -1;
}

/* Runs a statement that yields one integer. */
int store_query_int64(struct wg_store *store, enum stmt_id id, int64_t *out, const char *doing)
{
    sqlite3_stmt *stmt = store_prepared(store, id);
    if (!stmt)
        return -1;
    int rc = sqlite3_step(stmt);
    if (rc != SQLITE_ROW) {
        store_fail_sqlite(store, rc == SQLITE_DONE ? SQLITE_ERROR : rc, doing);
        store_done_with(stmt);
        return -1;
    }
    *out = sqlite3_column_int64(stmt, 0);
    store_done_with(stmt);
    return 0;
}

/* page_count or freelist_count, or -1 (without touching the error) on failure. */
int64_t store_pragma_pages(struct wg_store *store, enum stmt_id id)
{
    sqlite3_stmt *stmt = store->stmts[id];
    if (!stmt && sqlite3_prepare_v3(store->db, store_stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT,
                                    &store->stmts[id], NULL) != SQLITE_OK) {
        sqlite3_finalize(store->stmts[id]);
        store->stmts[id] = NULL;
        return -1;
    }
    stmt = store->stmts[id];
    int64_t pages = -1;
    if (sqlite3_step(stmt) == SQLITE_ROW)
        pages = sqlite3_column_int64(stmt, 0);
    store_done_with(stmt);
    return pages;
}

/* Cleanup after a failure: runs a statement, logging (not recording) its error. */
void store_run_quietly(struct wg_store *store, enum stmt_id id)
{
    sqlite3_stmt *stmt = store->stmts[id];
    if (!stmt && sqlite3_prepare_v3(store->db, store_stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT,
                                    &store->stmts[id], NULL) != SQLITE_OK) {
        wg_err("database %s: cannot prepare \"%s\": %s", store->path, store_stmt_sql[id],
               sqlite3_errmsg(store->db));
        sqlite3_finalize(store->stmts[id]);
        store->stmts[id] = NULL;
        return;
    }
    stmt = store->stmts[id];
    int rc = sqlite3_step(stmt);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW)
        wg_err("database %s: \"%s\" failed: %s", store->path, store_stmt_sql[id],
               sqlite3_errmsg(store->db));
    store_done_with(stmt);
}

int store_bind_text(sqlite3_stmt *stmt, int index, const char *text)
{
    return sqlite3_bind_text(stmt, index, text, -1, SQLITE_STATIC);
}

int64_t store_wall_clock_ms(void)
{
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    return (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

int64_t store_read_int64(struct wg_store *store, enum stmt_id id, const char *doing)
{
    store->status = WG_STORE_OK;
    int64_t value = -1;
    if (store_query_int64(store, id, &value, doing) < 0)
        return -1;
    return value;
}

const char *store_column_text(sqlite3_stmt *stmt, int column)
{
    return (const char *)sqlite3_column_text(stmt, column);
}

/* Binds (after, limit) to an iteration statement; limit <= 0 means all. */
static int bind_range(sqlite3_stmt *stmt, int first, int64_t after, int limit)
{
    int rc = sqlite3_bind_int64(stmt, first, after);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int(stmt, first + 1, limit > 0 ? limit : -1);
    return rc;
}

/* Finishes an iteration: 0 on SQLITE_DONE or an early stop, else -1. */
static int end_iteration(struct wg_store *store, enum stmt_id id, sqlite3_stmt *stmt, int rc,
                         const char *doing)
{
    int result = 0;
    if (rc != SQLITE_DONE && rc != SQLITE_ROW)
        result = store_fail_sqlite(store, rc, doing);
    store_done_iterating(store, id, stmt);
    return result;
}

int store_each_row_of(struct wg_store *store, enum stmt_id id, const char *key, int64_t after,
                      int limit, int (*row)(sqlite3_stmt *stmt, void *ctx), void *ctx,
                      const char *doing)
{
    sqlite3_stmt *stmt = store_prepared_for_iteration(store, id);
    if (!stmt)
        return -1;
    int first = key ? 2 : 1;
    int rc = key ? sqlite3_bind_text(stmt, 1, key, -1, SQLITE_TRANSIENT) : SQLITE_OK;
    if (rc == SQLITE_OK && sqlite3_bind_parameter_count(stmt) == first + 1)
        rc = bind_range(stmt, first, after, limit);
    while (rc == SQLITE_OK || rc == SQLITE_ROW) {
        if ((rc = sqlite3_step(stmt)) != SQLITE_ROW)
            break;
        if (row(stmt, ctx) != 0)
            break;
    }
    return end_iteration(store, id, stmt, rc, doing);
}

int store_each_row(struct wg_store *store, enum stmt_id id, int64_t after, int limit,
                   int (*row)(sqlite3_stmt *stmt, void *ctx), void *ctx, const char *doing)
{
    return store_each_row_of(store, id, NULL, after, limit, row, ctx, doing);
}
