/* Evidence records people make (a shift handover, a drill): each is
 * journaled as an event of its kind, for the history and the district, and
 * as an audit row whose detail is the whole record, so that the record is in
 * the audit's hash chain (store/audit_chain.h) and --verify-audit would name
 * it if it were changed. Both go to the store writer in the same batch. */
#include "core/core_private.h"

int core_record(struct wg_core *core, const char *kind, json_t *body, const char *actor,
                const char *origin, int64_t *ts_ms)
{
    int64_t now = clock_wall_ms(core->clock);
    char *detail = json_dumps(body, JSON_COMPACT | JSON_SORT_KEYS);
    char action[48];
    snprintf(action, sizeof action, "%s.add", kind);
    if (!detail) {
        json_decref(body);
        wg_crit("out of memory recording a %s by %s", kind, actor);
        return -1;
    }
    struct wg_event proto = {
        .ts_ms = now, .kind = kind, .priority = -1, .uplink = WG_UPLINK_HEALTH};
    int rc = journal_event(core->journal, &proto, body, WG_CLASS_HEALTH, NULL);
    if (rc == 0)
        rc = journal_audit(core->journal, now, actor, origin, action, NULL, detail);
    free(detail);
    core_flush(core);
    if (ts_ms)
        *ts_ms = now;
    return rc;
}
