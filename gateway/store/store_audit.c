/* The audit log: who did what, from where, each row chained to the one
 * before it (audit_chain.h). */
#include "store/store_internal.h"

#include <string.h>

#include "store/audit_chain.h"

struct audit_job {
    int64_t ts_ms;
    const char *actor, *origin, *action, *target, *detail;
};

static int audit_work(struct wg_store *store, void *ctx)
{
    const struct audit_job *job = ctx;
    struct wg_audit_row row = {.ts_ms = job->ts_ms,
                               .actor = job->actor,
                               .origin = job->origin,
                               .action = job->action,
                               .target = job->target,
                               .detail = job->detail};
    int rc = audit_chain_append(store->db, &row);
    if (rc != SQLITE_OK)
        return store_fail_sqlite(store, rc,
                                 rc == SQLITE_CORRUPT
                                     ? "writing an audit row: the audit chain's anchor is gone"
                                     : "writing an audit row");
    return 0;
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
