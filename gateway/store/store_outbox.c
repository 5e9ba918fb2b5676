/* The MQTT outbox: what waits to go to the district, oldest first. The
 * uplink peeks at it, deletes what the broker acknowledged, and keeps it
 * within its bound (age, then bytes; alarm rows are never evicted). */
#include "store/store_internal.h"

int64_t store_outbox_count(struct wg_store *store)
{
    return store_read_int64(store, ST_OUTBOX_COUNT, "counting the outbox");
}

int64_t store_outbox_bytes(struct wg_store *store)
{
    return store_read_int64(store, ST_OUTBOX_BYTES, "summing the outbox bytes");
}

struct outbox_peek {
    int (*each)(const struct wg_outbox_row *row, void *ctx);
    void *ctx;
};

static int outbox_row(sqlite3_stmt *stmt, void *ctx)
{
    const struct outbox_peek *peek = ctx;
    struct wg_outbox_row row = {
        .seq = sqlite3_column_int64(stmt, 0),
        .event_id = store_column_text(stmt, 1),
        .uplink_class = sqlite3_column_int(stmt, 2),
        .kind = store_column_text(stmt, 3),
        .payload = store_column_text(stmt, 4),
        .payload_len = (size_t)sqlite3_column_bytes(stmt, 4),
        .created_ms = sqlite3_column_int64(stmt, 5),
    };
    return peek->each(&row, peek->ctx);
}

int store_outbox_peek(struct wg_store *store, int64_t after_seq, int limit,
                      int (*each)(const struct wg_outbox_row *row, void *ctx), void *ctx)
{
    store->status = WG_STORE_OK;
    if (!each)
        return store_fail(store, WG_STORE_IO, "database %s: no callback given", store->path);
    struct outbox_peek peek = {each, ctx};
    return store_each_row(store, ST_OUTBOX_PEEK, after_seq, limit, outbox_row, &peek,
                          "reading the outbox");
}

static int outbox_delete_work(struct wg_store *store, void *ctx)
{
    sqlite3_stmt *stmt = store_prepared(store, ST_OUTBOX_DELETE);
    if (!stmt)
        return -1;
    int rc = sqlite3_bind_int64(stmt, 1, *(const int64_t *)ctx);
    if (rc != SQLITE_OK) {
        store_done_with(stmt);
        return store_fail_sqlite(store, rc, "deleting an outbox row");
    }
    return store_run_stmt(store, stmt, "deleting an outbox row");
}

int store_outbox_delete(struct wg_store *store, int64_t seq)
{
    store->status = WG_STORE_OK;
    return store_run_write(store, outbox_delete_work, &seq, 0, "deleting an outbox row");
}

int store_outbox_totals(struct wg_store *store, struct wg_outbox_totals *totals)
{
    store->status = WG_STORE_OK;
    *totals = (struct wg_outbox_totals){0};
    sqlite3_stmt *stmt = store_prepared(store, ST_OUTBOX_TOTALS);
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
    store_done_with(stmt);
    if (rc != SQLITE_DONE)
        return store_fail_sqlite(store, rc, "reading the outbox totals");
    stmt = store_prepared(store, ST_OUTBOX_OLDEST);
    if (!stmt)
        return -1;
    rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW)
        totals->oldest_created_ms = sqlite3_column_int64(stmt, 0);
    store_done_with(stmt);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return store_fail_sqlite(store, rc, "reading the oldest outbox row");
    return 0;
}

struct bound_job {
    const struct wg_outbox_bound *bound;
    int64_t now_ms;
    struct wg_outbox_eviction *evicted;
};

/* created_ms of the oldest row of a class; 0 when it has none, -1 on error. */
int store_outbox_oldest_of_class(struct wg_store *store, int uplink_class, int64_t *created_ms)
{
    sqlite3_stmt *stmt = store_prepared(store, ST_OUTBOX_OLDEST_OF_CLASS);
    if (!stmt)
        return -1;
    *created_ms = 0;
    int rc = sqlite3_bind_int(stmt, 1, uplink_class);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW)
        *created_ms = sqlite3_column_int64(stmt, 0);
    store_done_with(stmt);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return store_fail_sqlite(store, rc, "reading the oldest outbox row of a class");
    return rc == SQLITE_ROW ? 1 : 0;
}

/* Deletes up to EVICT_CHUNK_ROWS of the oldest rows of a class (only those
 * created before `before_ms` when it is > 0). Returns the count, or -1. */
int64_t store_outbox_evict_chunk(struct wg_store *store, int uplink_class, int64_t before_ms)
{
    enum stmt_id id = before_ms > 0 ? ST_OUTBOX_EVICT_AGED : ST_OUTBOX_EVICT_OLDEST;
    sqlite3_stmt *stmt = store_prepared(store, id);
    if (!stmt)
        return -1;
    int rc = sqlite3_bind_int(stmt, 1, uplink_class);
    if (rc == SQLITE_OK && before_ms > 0)
        rc = sqlite3_bind_int64(stmt, 2, before_ms);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int(stmt, before_ms > 0 ? 3 : 2, EVICT_CHUNK_ROWS);
    if (rc != SQLITE_OK) {
        store_done_with(stmt);
        return store_fail_sqlite(store, rc, "evicting from the outbox");
    }
    if (store_run_stmt(store, stmt, "evicting from the outbox") < 0)
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
            int found = store_outbox_oldest_of_class(store, evictable[i], &oldest);
            if (found < 0)
                return -1;
            while (found && oldest < cutoff) {
                int64_t n = store_outbox_evict_chunk(store, evictable[i], cutoff);
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
            int64_t n = store_outbox_evict_chunk(store, evictable[i], 0);
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
    return store_run_write(store, bound_work, &job, 0, "bounding the outbox");
}

/* ---- outbox-only rows: payloads already in their final form ---- */

struct outbox_append_job {
    const struct wg_outbox_append *row;
    int64_t seq;
};

static int outbox_append_work(struct wg_store *store, void *ctx)
{
    struct outbox_append_job *job = ctx;
    const struct wg_outbox_append *row = job->row;
    sqlite3_stmt *queue = store_prepared(store, ST_OUTBOX_INSERT);
    if (!queue)
        return -1;
    int rc = sqlite3_bind_null(queue, 1);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int(queue, 2, row->uplink_class);
    if (rc == SQLITE_OK)
        rc = store_bind_text(queue, 3, row->kind);
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
        result = store_fail_sqlite(store, rc, "queueing a message in the outbox");
    store_done_with(queue);
    job->seq = sqlite3_last_insert_rowid(store->db);
    return result;
}

int store_outbox_append(struct wg_store *store, const struct wg_outbox_append *row, int64_t *seq)
{
    store->status = WG_STORE_OK;
    if (!row || !row->kind || !row->kind[0] || !row->payload || row->payload_len > INT32_MAX ||
        row->uplink_class < WG_UPLINK_ALARM || row->uplink_class > WG_UPLINK_TELEMETRY)
        return store_fail(store, WG_STORE_REFUSED,
                          "database %s: an outbox message without kind, payload or class refused",
                          store->path);
    struct outbox_append_job job = {.row = row};
    if (store_run_write(store, outbox_append_work, &job, row->payload_len + 256,
                        "queueing a message in the outbox") < 0)
        return -1;
    if (seq)
        *seq = job.seq;
    return 0;
}
