/* Read-only views of the core for its consumers (their JSON is theirs:
 * web/web_bridge_json.c), status and tests: devices, alarms, counts,
 * statistics, and the few calls that hand work to the writer (audit rows)
 * or wait for it. */
#include "core/core_private.h"

void core_status(struct wg_core *core, struct wg_core_status *status)
{
    *status = (struct wg_core_status){.devices = core->config->device_count};
    for (size_t i = 0; i < core->config->device_count; i++) {
        enum wg_health health = core->devices[i].health;
        if (health == WG_HEALTH_ONLINE)
            status->online++;
        else if (health == WG_HEALTH_SUSPECT)
            status->suspect++;
        else if (health == WG_HEALTH_OFFLINE)
            status->offline++;
        else
            status->unknown++;
    }
    status->alarms_active = alarm_count(engine_alarms(core->engine));
}

size_t core_device_count(const struct wg_core *core)
{
    return core->config->device_count;
}

void core_device_view(const struct wg_core *core, size_t index, struct wg_core_device_view *view)
{
    const struct wg_config *config = core->config;
    const struct wg_device *device = &config->devices[index];
    const struct device_state *state = &core->devices[index];
    *view = (struct wg_core_device_view){.device = device,
                                         .profile = &config->profiles[device->profile],
                                         .bus = config->buses[device->bus].id,
                                         .driver = config->buses[device->bus].driver,
                                         .health = state->health,
                                         .health_name = core_health_name(state->health),
                                         .reason = state->reason,
                                         .reason_code = state->reason_code,
                                         .point_count = state->point_count,
                                         .values = state->values,
                                         .seen = state->seen,
                                         .counters = state->counters,
                                         .counter_count = state->counter_count};
    if (device->room != WG_NO_INDEX) {
        view->room = config->rooms[device->room].id;
        view->zone = config->zones[config->rooms[device->room].zone].id;
    }
    if (device->bed != WG_NO_INDEX)
        view->bed = config->beds[device->bed].id;
}

const struct wg_alarm *core_find_alarm(struct wg_core *core, const char *alarm_id)
{
    return alarm_find(engine_alarms(core->engine), alarm_id);
}

const char *core_timezone(const struct wg_core *core)
{
    return core->timezone;
}

struct wg_clock *core_clock(struct wg_core *core)
{
    return core->clock;
}

size_t core_active_alarm_count(struct wg_core *core)
{
    return alarm_count(engine_alarms(core->engine));
}

size_t core_active_alarms(struct wg_core *core, const struct wg_alarm **out, size_t max)
{
    return alarm_active(engine_alarms(core->engine), out, max);
}

void core_stats(struct wg_core *core, struct wg_core_stats *stats)
{
    struct wg_queue_stats queue;
    queue_stats(core->queue, &queue);
    struct wg_writer_status storage;
    journal_status(core->journal, &storage);
    int64_t recent_us = 0;
    for (size_t i = 0; i < LOOP_WINDOWS; i++)
        if (core->loop_window_max_us[i] > recent_us)
            recent_us = core->loop_window_max_us[i];
    *stats = (struct wg_core_stats){.events_committed = core->events_committed,
                                    .events_pending = storage.waiting_events,
                                    .storage_failing = core->storage_failing,
                                    .queue_depth = queue.depth,
                                    .queue_capacity = queue.capacity,
                                    .queue_high_water = queue.high_water,
                                    .uplink_enabled = core->config->uplink.enabled,
                                    .loop_max_us = core->loop_max_us,
                                    .loop_max_recent_us = recent_us};
    snprintf(stats->storage_reason, sizeof stats->storage_reason, "%s", core->storage_reason);
    stats->storage = storage;
}

const struct wg_config *core_config(const struct wg_core *core)
{
    return core->config;
}

struct wg_store *core_store(struct wg_core *core)
{
    return store_reader_store(core->reader);
}

size_t core_pending_events(struct wg_core *core)
{
    struct wg_writer_status storage;
    journal_status(core->journal, &storage);
    return storage.waiting_events;
}

int core_audit(struct wg_core *core, const char *actor, const char *origin, const char *action,
               const char *target, const char *detail_json)
{
    int rc = journal_audit(core->journal, clock_wall_ms(core->clock), actor, origin, action, target,
                           detail_json);
    core_flush(core);
    return rc;
}

int core_wait_journal(struct wg_core *core, int timeout_ms)
{
    return journal_wait(core->journal, timeout_ms);
}

enum wg_health core_device_health(const struct wg_core *core, const char *device_id)
{
    size_t device = config_find_device(core->config, device_id);
    return device == WG_NO_INDEX ? WG_HEALTH_UNKNOWN : core->devices[device].health;
}

bool core_point_value(const struct wg_core *core, const char *device_id, const char *point_name,
                      double *value)
{
    size_t device = config_find_device(core->config, device_id);
    if (device == WG_NO_INDEX)
        return false;
    const struct wg_profile *profile =
        &core->config->profiles[core->config->devices[device].profile];
    for (size_t p = 0; p < profile->point_count; p++)
        if (strcmp(profile->points[p].name, point_name) == 0 && core->devices[device].seen[p]) {
            *value = core->devices[device].values[p];
            return true;
        }
    return false;
}

uint64_t core_device_counter(const struct wg_core *core, const char *device_id, const char *counter)
{
    size_t device = config_find_device(core->config, device_id);
    if (device == WG_NO_INDEX)
        return 0;
    for (size_t i = 0; i < core->devices[device].counter_count; i++)
        if (strcmp(core->devices[device].counters[i].name, counter) == 0)
            return core->devices[device].counters[i].count;
    return 0;
}
