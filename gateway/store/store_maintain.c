/* Housekeeping: retention of readings and journal rows, where the bytes
 * are (store_usage), and WAL checkpoints. */
#include "store/store_internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <sys/stat.h>

#include "common/log.h"

struct maintain_job {
    int64_t now_ms;
};

/* Deletes what is older than `cutoff_ms` in chunks; returns the rows, or -1. */
static int64_t expire_journal(struct wg_store *store, int64_t cutoff_ms)
{
    int64_t total = 0;
    int chunks = 0;
    for (;;) {
        sqlite3_stmt *stmt = store_prepared(store, ST_EXPIRE_OUTBOX);
        if (!stmt)
            return -1;
        int rc = sqlite3_bind_int64(stmt, 1, cutoff_ms);
        if (rc == SQLITE_OK)
            rc = sqlite3_bind_int(stmt, 2, EXPIRE_CHUNK_ROWS);
        if (rc != SQLITE_OK) {
            store_done_with(stmt);
            return store_fail_sqlite(store, rc, "expiring journal rows");
        }
        if (store_run_stmt(store, stmt, "expiring outbox rows") < 0)
            return -1;
        if (!(stmt = store_prepared(store, ST_EXPIRE_EVENTS)))
            return -1;
        rc = sqlite3_bind_int64(stmt, 1, cutoff_ms);
        if (rc == SQLITE_OK)
            rc = sqlite3_bind_int(stmt, 2, EXPIRE_CHUNK_ROWS);
        if (rc != SQLITE_OK) {
            store_done_with(stmt);
            return store_fail_sqlite(store, rc, "expiring journal rows");
        }
        if (store_run_stmt(store, stmt, "expiring journal rows") < 0)
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
    sqlite3_stmt *expire = store_prepared(store, ST_READINGS_EXPIRE);
    if (!expire)
        return -1;
    int rc = sqlite3_bind_int64(expire, 1, job->now_ms - store->readings_retention_ms);
    if (rc != SQLITE_OK) {
        store_done_with(expire);
        return store_fail_sqlite(store, rc, "expiring readings");
    }
    if (store_run_stmt(store, expire, "expiring readings") < 0)
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
    if (store_run_write(store, maintain_work, &job, 0, "maintaining the database") < 0)
        return -1;
    struct wg_store_eviction evicted = {0};
    int rc = store_evict(store, store->wal_budget_bytes / 4, &evicted);
    store_log_eviction(store, &evicted);
    if (rc == 0 && evicted.exhausted)
        wg_warn("database %s: above its size bound with nothing left to evict but the current "
                "alarms",
                store->path);
    return rc;
}

/* The size of a file, 0 when it does not exist. */
int64_t store_file_bytes(const char *path, const char *suffix)
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
    int64_t used = store_used_pages(store);
    if (used < 0)
        return store_fail(store, WG_STORE_IO, "database %s: cannot read its page counts: %s",
                          store->path, sqlite3_errmsg(store->db));
    usage->used_bytes = used * store->page_size;
    usage->file_bytes = store_file_bytes(store->path, "");
    usage->wal_bytes = store_file_bytes(store->path, "-wal");
    if (store_load_kind_totals(store, usage->kinds, sizeof usage->kinds / sizeof usage->kinds[0],
                               &usage->kind_count) < 0 ||
        store_outbox_totals(store, &usage->outbox) < 0)
        return -1;
    usage->alarm_bytes =
        store_alarm_pages_estimate(store, usage->kinds, usage->kind_count, &usage->outbox) *
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
        *wal_bytes = store_file_bytes(store->path, "-wal");
    if (rc == SQLITE_OK && truncate)
        store->wal_frames = 0;
    if (rc != SQLITE_OK && !(truncate && (rc & 0xff) == SQLITE_BUSY))
        return store_fail_sqlite(store, rc, "checkpointing the WAL");
    return 0;
}

int64_t store_wal_bytes(const struct wg_store *store)
{
    return store->wal_frames * (store->page_size + 24);
}

void store_own_checkpoints(struct wg_store *store)
{
    store->auto_checkpoint_frames = 0;
}
