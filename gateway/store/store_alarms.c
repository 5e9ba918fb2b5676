/* The current alarms: one row per alarm id, kept by the alarm engine and
 * read back at start-up. */
#include "store/store_internal.h"

#include <string.h>

static int alarm_put_work(struct wg_store *store, void *ctx)
{
    const struct wg_alarm_row *alarm = ctx;
    sqlite3_stmt *stmt = store_prepared(store, ST_ALARM_PUT);
    if (!stmt)
        return -1;
    int rc = store_bind_text(stmt, 1, alarm->id);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(stmt, 2, alarm->update_count);
    if (rc == SQLITE_OK)
        rc = store_bind_text(stmt, 3, alarm->state);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int(stmt, 4, alarm->priority);
    if (rc == SQLITE_OK)
        rc = store_bind_text(stmt, 5, alarm->kind);
    if (rc == SQLITE_OK)
        rc = store_bind_text(stmt, 6, alarm->body ? alarm->body : "{}");
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(stmt, 7, alarm->updated_ms);
    if (rc != SQLITE_OK) {
        store_done_with(stmt);
        return store_fail_sqlite(store, rc, "storing an alarm");
    }
    rc = sqlite3_step(stmt);
    int result = 0;
    if (rc == SQLITE_CONSTRAINT_CHECK)
        result = store_fail(store, WG_STORE_REFUSED,
                            "database %s: alarm %s refused: state \"%s\" is not one of raised, "
                            "acknowledged, attended, reset",
                            store->path, alarm->id, alarm->state);
    else if (rc != SQLITE_DONE)
        result = store_fail_sqlite(store, rc, "storing an alarm");
    store_done_with(stmt);
    return result;
}

int store_alarm_put(struct wg_store *store, const struct wg_alarm_row *alarm)
{
    store->status = WG_STORE_OK;
    if (!alarm || !alarm->id || !alarm->state || !alarm->kind)
        return store_fail(store, WG_STORE_REFUSED,
                          "database %s: alarm without id, state or kind refused", store->path);
    char why[200];
    if (alarm->body && !store->trusted_json &&
        store_check_json_object(alarm->body, why, sizeof why) < 0)
        return store_fail(store, WG_STORE_REFUSED,
                          "database %s: alarm %s refused: its body is not a JSON object: %s",
                          store->path, alarm->id, why);
    return store_run_write(store, alarm_put_work, (void *)alarm,
                           256 + (alarm->body ? strlen(alarm->body) : 0), "storing an alarm");
}

static int alarm_delete_work(struct wg_store *store, void *ctx)
{
    sqlite3_stmt *stmt = store_prepared(store, ST_ALARM_DELETE);
    if (!stmt)
        return -1;
    int rc = store_bind_text(stmt, 1, ctx);
    if (rc != SQLITE_OK) {
        store_done_with(stmt);
        return store_fail_sqlite(store, rc, "deleting an alarm");
    }
    return store_run_stmt(store, stmt, "deleting an alarm");
}

int store_alarm_delete(struct wg_store *store, const char *id)
{
    store->status = WG_STORE_OK;
    if (!id)
        return store_fail(store, WG_STORE_REFUSED, "database %s: alarm delete without id",
                          store->path);
    return store_run_write(store, alarm_delete_work, (void *)id, 0, "deleting an alarm");
}

struct alarm_foreach {
    int (*each)(const struct wg_alarm_row *alarm, void *ctx);
    void *ctx;
};

static int alarm_row(sqlite3_stmt *stmt, void *ctx)
{
    const struct alarm_foreach *foreach = ctx;
    struct wg_alarm_row row = {
        .id = store_column_text(stmt, 0),
        .update_count = sqlite3_column_int64(stmt, 1),
        .state = store_column_text(stmt, 2),
        .priority = sqlite3_column_int(stmt, 3),
        .kind = store_column_text(stmt, 4),
        .body = store_column_text(stmt, 5),
        .updated_ms = sqlite3_column_int64(stmt, 6),
    };
    return foreach->each(&row, foreach->ctx);
}

int store_alarm_foreach(struct wg_store *store,
                        int (*each)(const struct wg_alarm_row *alarm, void *ctx), void *ctx)
{
    store->status = WG_STORE_OK;
    if (!each)
        return store_fail(store, WG_STORE_IO, "database %s: no callback given", store->path);
    struct alarm_foreach foreach = {each, ctx};
    return store_each_row(store, ST_ALARM_ALL, 0, 0, alarm_row, &foreach, "reading the alarms");
}
