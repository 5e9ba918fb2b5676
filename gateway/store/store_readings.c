/* Readings, downsampled: one row per (device, point, bucket) holding count,
 * min, max, sum and the last value. */
#include "store/store_internal.h"

#include <math.h>
#include <string.h>

struct reading_job {
    const char *device;
    const char *point;
    const struct wg_reading_aggregate *aggregate;
};

static int reading_work(struct wg_store *store, void *ctx)
{
    const struct reading_job *job = ctx;
    const struct wg_reading_aggregate *agg = job->aggregate;
    sqlite3_stmt *stmt = store_prepared(store, ST_READING_UPSERT);
    if (!stmt)
        return -1;
    int rc = store_bind_text(stmt, 1, job->device);
    if (rc == SQLITE_OK)
        rc = store_bind_text(stmt, 2, job->point);
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
        store_done_with(stmt);
        return store_fail_sqlite(store, rc, "adding a reading");
    }
    return store_run_stmt(store, stmt, "adding a reading");
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
        return store_fail(store, WG_STORE_REFUSED,
                          "database %s: reading without device, point or values refused",
                          store->path);
    if (!isfinite(aggregate->min) || !isfinite(aggregate->max) || !isfinite(aggregate->sum) ||
        !isfinite(aggregate->last))
        return store_fail(store, WG_STORE_REFUSED,
                          "database %s: reading %s/%s is not a finite number", store->path, device,
                          point);
    struct reading_job job = {device, point, aggregate};
    return store_run_write(store, reading_work, &job, strlen(device) + strlen(point) + 96,
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
