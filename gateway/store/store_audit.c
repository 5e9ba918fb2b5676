/* The audit log: who did what, from where. */
#include "store/store_internal.h"

#include <string.h>

struct audit_job {
    int64_t ts_ms;
    const char *actor, *origin, *action, *target, *detail;
};

static int audit_work(struct wg_store *store, void *ctx)
{
    const struct audit_job *job = ctx;
    sqlite3_stmt *stmt = store_prepared(store, ST_AUDIT_INSERT);
    if (!stmt)
        return -1;
    int rc = sqlite3_bind_int64(stmt, 1, job->ts_ms);
    if (rc == SQLITE_OK)
        rc = store_bind_text(stmt, 2, job->actor);
    if (rc == SQLITE_OK)
        rc = store_bind_text(stmt, 3, job->origin);
    if (rc == SQLITE_OK)
        rc = store_bind_text(stmt, 4, job->action);
    if (rc == SQLITE_OK)
        rc = store_bind_text(stmt, 5, job->target);
    if (rc == SQLITE_OK)
        rc = store_bind_text(stmt, 6, job->detail);
    if (rc != SQLITE_OK) {
        store_done_with(stmt);
        return store_fail_sqlite(store, rc, "writing an audit row");
    }
    return store_run_stmt(store, stmt, "writing an audit row");
}

int store_audit(struct wg_store *store, int64_t ts_ms, const char *actor, const char *origin,
                const char *action, const char *target, const char *detail_json)
{
    store->status = WG_STORE_OK;
    if (!actor || !action)
        return store_fail(store, WG_STORE_REFUSED,
                          "database %s: audit row without actor or action refused", store->path);
    char why[200];
    if (detail_json && !store->trusted_json &&
        store_check_json_object(detail_json, why, sizeof why) < 0)
        return store_fail(store, WG_STORE_REFUSED,
                          "database %s: audit row (%s %s) refused: detail is not a JSON object: %s",
                          store->path, actor, action, why);
    struct audit_job job = {ts_ms, actor, origin, action, target, detail_json};
    return store_run_write(store, audit_work, &job,
                           256 + strlen(actor) + strlen(action) +
                               (detail_json ? strlen(detail_json) : 0),
                           "writing an audit row");
}
