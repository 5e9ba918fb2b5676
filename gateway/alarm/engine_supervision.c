/* The alarm engine's supervision: a device that is silent too long (within
 * 100 s) or that its driver reports offline becomes a technical alarm and
 * is online again when it answers; failing storage is a technical alarm
 * too, ended when storage works again; a technical alarm still open after
 * fault_escalate_s (2 h) is escalated to the manager. */
#include "alarm/engine_private.h"

#include "common/log.h"

#include "drivers/health_reason.h"

/* ---- health, writes, timers ---- */

/* A technical alarm still open after fault_escalate_s goes to the manager's
 * level (JGJ/T 484: remedial action for a fault not fixed within 2 h). */
struct fault_scan {
    struct wg_engine *engine;
    int64_t now;
};

static bool escalate_fault(struct wg_alarm *alarm, void *ctx)
{
    const struct fault_scan *scan = ctx;
    struct wg_engine *engine = scan->engine;
    int64_t now = scan->now;
    if (alarm->priority != WG_PRIO_TECHNICAL || alarm->state == WG_ALARM_RESET ||
        engine->fault_level == 0 || alarm->escalation_level >= (int)engine->fault_level ||
        now < alarm->raised_ms + engine->fault_escalate_ms)
        return true;
    alarm->escalation_level = (int)engine->fault_level;
    alarm->escalated_ms[engine->fault_level] = now;
    alarm_update(engine->alarms, alarm, "escalate");
    return true;
}

static int64_t offline_after_ms(const struct wg_device *device)
{
    /* Five poll periods, at least 30 s, at most 90 s: a silent device is a
     * technical alarm within 100 s (GB 4717 fault signal time), checked every second. */
    int64_t ms = 5LL * device->poll_ms;
    return ms < 30000 ? 30000 : ms > 90000 ? 90000 : ms;
}

/* Offline: the driver says why (`reason`), or it has been silent for `silent_s`. */
static void raise_offline(struct wg_engine *engine, size_t device, const char *reason_code,
                          const char *reason, int64_t silent_s, int64_t now)
{
    struct device_watch *watch = &engine->devices[device];
    watch->health = WG_HEALTH_OFFLINE;
    if (engine_alarm_in(engine, watch->offline_alarm))
        return;
    struct wg_alarm proto =
        engine_proto_alarm(engine, device, WG_NO_INDEX, "device_offline", WG_PRIO_TECHNICAL, 0,
                           "supervision", WG_RESET_ON_NORMAL);
    if (reason) {
        snprintf(proto.detail, sizeof proto.detail, "driver reports offline: %s", reason);
        alarm_set_code(&proto, "device_offline", "{s:s, s:s}", "reason_code",
                       reason_code ? reason_code : health_reason_code(reason), "reason", reason);
    } else {
        snprintf(proto.detail, sizeof proto.detail, "no reply for %lld s", (long long)silent_s);
        alarm_set_code(&proto, "device_silent", "{s:I}", "s", (json_int_t)silent_s);
    }
    engine_raise_into(engine, watch->offline_alarm, &proto, now);
}

void engine_on_health(struct wg_engine *engine, size_t device, enum wg_health health,
                      const char *reason_code, const char *reason, int64_t ts_ms)
{
    if (device >= engine->config->device_count)
        return;
    if (health == WG_HEALTH_OFFLINE) {
        raise_offline(engine, device, reason_code, reason ? reason : "", 0, ts_ms);
        engine_update_indicators(engine);
    }
}

void engine_supervise(struct wg_engine *engine, int64_t now)
{
    const struct wg_config *config = engine->config;
    for (size_t d = 0; d < config->device_count; d++) {
        const struct wg_device *device = &config->devices[d];
        struct device_watch *watch = &engine->devices[d];
        if (!device->enabled)
            continue;
        int64_t last = watch->last_seen_ms ? watch->last_seen_ms : engine->started_ms;
        int64_t silent = now - last;
        int64_t offline = offline_after_ms(device);
        int64_t suspect = 2LL * device->poll_ms + 1000;
        if (suspect > offline / 2)
            suspect = offline / 2;
        if (silent >= offline) {
            raise_offline(engine, d, NULL, NULL, silent / 1000, now);
        } else if (silent >= suspect && watch->health != WG_HEALTH_OFFLINE) {
            watch->health = WG_HEALTH_SUSPECT;
        } else if (silent < suspect && watch->last_seen_ms) {
            watch->health = WG_HEALTH_ONLINE;
        }
    }
    alarm_foreach(engine->alarms, escalate_fault, &(struct fault_scan){engine, now});
}

void engine_site_fault(struct wg_engine *engine, const char *kind, const char *where, bool failing,
                       const char *detail, int64_t now_ms)
{
    size_t slot = WG_SITE_FAULTS_MAX, free_slot = WG_SITE_FAULTS_MAX;
    for (size_t i = 0; i < WG_SITE_FAULTS_MAX; i++) {
        if (strcmp(engine->site_faults[i].kind, kind) == 0)
            slot = i;
        else if (!engine->site_faults[i].kind[0] && free_slot == WG_SITE_FAULTS_MAX)
            free_slot = i;
    }
    if (!failing) {
        if (slot == WG_SITE_FAULTS_MAX)
            return;
        struct wg_alarm *alarm = engine_alarm_in(engine, engine->site_faults[slot].alarm);
        if (alarm)
            alarm_reset(engine->alarms, alarm, "site", "working again", now_ms);
        memset(&engine->site_faults[slot], 0, sizeof engine->site_faults[slot]);
        engine_update_indicators(engine);
        return;
    }
    if (slot != WG_SITE_FAULTS_MAX && engine_alarm_in(engine, engine->site_faults[slot].alarm))
        return; /* raised already */
    if (slot == WG_SITE_FAULTS_MAX)
        slot = free_slot;
    if (slot == WG_SITE_FAULTS_MAX) {
        wg_crit("%s (%s): more than %d gateway faults at once; this one is not on the wall", kind,
                detail ? detail : "", WG_SITE_FAULTS_MAX);
        return;
    }
    struct wg_alarm proto = {
        .priority = WG_PRIO_TECHNICAL, .reset_mode = WG_RESET_ON_NORMAL, .condition_active = true};
    alarm_copy_text(proto.kind, sizeof proto.kind, kind);
    snprintf(proto.rule, sizeof proto.rule, "site");
    alarm_copy_text(proto.device, sizeof proto.device, where ? where : "");
    alarm_copy_text(proto.detail, sizeof proto.detail, detail ? detail : kind);
    alarm_set_code(&proto, kind, "{s:s}", "where", where ? where : "");
    alarm_copy_text(engine->site_faults[slot].kind, sizeof engine->site_faults[slot].kind, kind);
    engine_raise_into(engine, engine->site_faults[slot].alarm, &proto, now_ms);
    engine_update_indicators(engine);
}

void engine_storage_alarm(struct wg_engine *engine, bool failing, const char *detail,
                          const char *reason, size_t waiting, int64_t now_ms)
{
    struct wg_alarm *alarm = engine_alarm_in(engine, engine->storage_alarm);
    if (!failing) {
        if (alarm)
            alarm_reset(engine->alarms, alarm, "storage", "storage working again", now_ms);
        engine->storage_alarm[0] = '\0';
        engine_update_indicators(engine);
        return;
    }
    if (alarm) {
        if (detail && strcmp(alarm->detail, detail) != 0) {
            snprintf(alarm->detail, sizeof alarm->detail, "%s", detail);
            alarm_set_code(alarm, WG_STORAGE_ALARM_KIND, "{s:s?, s:I}", "reason", reason, "waiting",
                           (json_int_t)waiting);
            alarm_update(engine->alarms, alarm, "update");
        }
        return;
    }
    struct wg_alarm proto = {
        .priority = WG_PRIO_TECHNICAL, .reset_mode = WG_RESET_ON_NORMAL, .condition_active = true};
    snprintf(proto.kind, sizeof proto.kind, "%s", WG_STORAGE_ALARM_KIND);
    snprintf(proto.rule, sizeof proto.rule, "storage");
    snprintf(proto.detail, sizeof proto.detail, "%s", detail ? detail : "storage failing");
    alarm_set_code(&proto, WG_STORAGE_ALARM_KIND, "{s:s?, s:I}", "reason", reason, "waiting",
                   (json_int_t)waiting);
    engine_raise_into(engine, engine->storage_alarm, &proto, now_ms);
    engine_update_indicators(engine);
}
