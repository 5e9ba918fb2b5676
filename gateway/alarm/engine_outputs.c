/* The alarm engine's outputs: door and corridor lamps by priority, buzzers
 * by zone, the gas valve and fan (only ever closed and started) and the
 * fire-door release, each written only when its value changes, and the
 * technical alarm when a write fails. */
#include "alarm/engine_private.h"

#include <math.h>
#include <stdlib.h>

#include "common/log.h"
#include "drivers/health_reason.h"

/* The index of the room with this id, or WG_NO_INDEX: a bisection, since
 * the lamps look up every active alarm's room each time they are set. */
static size_t find_room(const struct wg_engine *engine, const char *id)
{
    size_t low = 0, high = engine->config->room_count;
    while (id && low < high) {
        size_t mid = low + (high - low) / 2;
        size_t room = engine->rooms_by_id[mid];
        int order = strcmp(engine->config->rooms[room].id, id);
        if (order == 0)
            return room;
        if (order < 0)
            low = mid + 1;
        else
            high = mid;
    }
    return WG_NO_INDEX;
}

/* ---- outputs ---- */

static void write_point(struct wg_engine *engine, size_t device, size_t point, double value)
{
    struct device_watch *watch = &engine->devices[device];
    if (watch->written[point] == value)
        return;
    if (engine->host.write_output(engine->host.ctx, device, point, value) != 0)
        watch->written[point] = value;
}

/* Writes `value` to every output with `meaning`: in `room` (WG_NO_INDEX = anywhere),
 * or, when `room_or_site` and the room has none, to the site-wide ones. */
static size_t drive_outputs(struct wg_engine *engine, const char *meaning, size_t room,
                            double value)
{
    const struct wg_config *config = engine->config;
    size_t written = 0;
    for (size_t d = 0; d < config->device_count; d++) {
        const struct wg_device *device = &config->devices[d];
        if (!device->enabled || (room != WG_NO_INDEX && device->room != room))
            continue;
        const struct wg_profile *profile = &config->profiles[device->profile];
        for (size_t p = 0; p < profile->point_count; p++)
            if (profile->points[p].direction == WG_POINT_OUTPUT &&
                strcmp(profile->points[p].meaning, meaning) == 0) {
                write_point(engine, d, p, value);
                written++;
            }
    }
    return written;
}

static int lamp_code_for(int priority)
{
    if (priority == WG_PRIO_FIRE)
        return WG_LAMP_ALARM;
    if (priority >= WG_PRIO_URGENT)
        return WG_LAMP_EMERGENCY;
    if (priority == WG_PRIO_NORMAL)
        return WG_LAMP_CALL;
    return WG_LAMP_OFF;
}

static int buzzer_code_for(int priority)
{
    if (priority >= WG_PRIO_EMERGENCY)
        return WG_BUZZER_HIGH;
    if (priority == WG_PRIO_URGENT)
        return WG_BUZZER_MEDIUM;
    if (priority >= WG_PRIO_TECHNICAL)
        return WG_BUZZER_LOW;
    return WG_BUZZER_OFF;
}

struct room_summary {
    int lamp_priority;   /* highest not-yet-attended priority, -1 = none */
    int buzzer_priority; /* highest unacknowledged priority, -1 = none */
};

/* Door lamps per room, corridor lamps and buzzers per zone (site-wide ones
 * for the whole site). Gas and fire show as "alarm" whatever their priority.
 * The interlocks are re-driven for every active fire and gas-high alarm too,
 * so an alarm restored after a restart or kept over a reload still holds the
 * doors released and the valve closed (repeated values are not re-written). */
void engine_update_indicators(struct wg_engine *engine)
{
    if (!engine->indicators_dirty)
        return;
    engine->indicators_dirty = false;
    const struct wg_config *config = engine->config;
    size_t rooms = config->room_count, zones = config->zone_count;
    struct room_summary *room_sum = malloc((rooms + 1) * sizeof *room_sum);
    struct room_summary *zone_sum = malloc((zones + 1) * sizeof *zone_sum);
    if (!room_sum || !zone_sum) {
        free(room_sum);
        free(zone_sum);
        wg_err("out of memory updating lamps");
        return;
    }
    for (size_t i = 0; i <= rooms; i++)
        room_sum[i] = (struct room_summary){-1, -1};
    for (size_t i = 0; i <= zones; i++)
        zone_sum[i] = (struct room_summary){-1, -1};
    size_t count = alarm_count(engine->alarms);
    const struct wg_alarm **active = malloc((count ? count : 1) * sizeof *active);
    if (!active) {
        free(room_sum);
        free(zone_sum);
        engine->indicators_dirty = true; /* try again at the next tick */
        wg_err("out of memory updating lamps");
        return;
    }
    count = alarm_active(engine->alarms, active, count);
    for (size_t i = 0; i < count; i++) {
        const struct wg_alarm *alarm = active[i];
        size_t room = find_room(engine, alarm->room);
        size_t zone =
            room != WG_NO_INDEX ? config->rooms[room].zone : config_find_zone(config, alarm->zone);
        if (zone == WG_NO_INDEX) /* a fire zone mapped to a whole site zone has no room */
            zone = zones;
        if (room == WG_NO_INDEX)
            room = rooms;
        if (alarm->priority == WG_PRIO_FIRE)
            engine_fire_doors(engine);
        if (strcmp(alarm->kind, "gas_high") == 0)
            engine_gas_interlock(engine, find_room(engine, alarm->room));
        int lamp = alarm->state == WG_ALARM_ATTENDED ? -1 : alarm->priority;
        if (strncmp(alarm->kind, "gas", 3) == 0 && lamp >= 0)
            lamp = WG_PRIO_FIRE; /* gas shows the fast "alarm" pattern */
        int buzz = alarm->state == WG_ALARM_RAISED ? alarm->priority : -1;
        struct room_summary *targets[] = {&room_sum[room], &zone_sum[zone], &zone_sum[zones]};
        for (size_t t = 0; t < 3; t++) {
            if (t == 2 && zone == zones)
                continue;
            if (lamp > targets[t]->lamp_priority)
                targets[t]->lamp_priority = lamp;
            if (buzz > targets[t]->buzzer_priority)
                targets[t]->buzzer_priority = buzz;
        }
    }
    /* Door lamps: one pass over the devices (not one per room), so a busy
     * night in a large house costs devices, not rooms x devices. */
    for (size_t d = 0; d < config->device_count; d++) {
        const struct wg_device *device = &config->devices[d];
        if (!device->enabled || device->room == WG_NO_INDEX)
            continue;
        size_t r = device->room;
        const struct wg_profile *profile = &config->profiles[device->profile];
        for (size_t p = 0; p < profile->point_count; p++) {
            const struct wg_point_def *def = &profile->points[p];
            if (def->direction != WG_POINT_OUTPUT || strcmp(def->meaning, "door_lamp") != 0)
                continue;
            int code = room_sum[r].lamp_priority >= 0 ? lamp_code_for(room_sum[r].lamp_priority)
                                                      : WG_LAMP_OFF;
            if (code == WG_LAMP_OFF && engine->room_presence[r])
                code = WG_LAMP_PRESENCE;
            write_point(engine, d, p, code);
        }
    }
    /* Corridor lamps and buzzers: a device in a zone's room serves that zone;
     * one without a room serves the whole site. */
    for (size_t d = 0; d < config->device_count; d++) {
        const struct wg_device *device = &config->devices[d];
        if (!device->enabled)
            continue;
        size_t zone = device->room != WG_NO_INDEX ? config->rooms[device->room].zone : zones;
        const struct wg_profile *profile = &config->profiles[device->profile];
        for (size_t p = 0; p < profile->point_count; p++) {
            const struct wg_point_def *def = &profile->points[p];
            if (def->direction != WG_POINT_OUTPUT)
                continue;
            if (strcmp(def->meaning, "corridor_lamp") == 0)
                write_point(engine, d, p,
                            zone_sum[zone].lamp_priority >= 0
                                ? lamp_code_for(zone_sum[zone].lamp_priority)
                                : WG_LAMP_OFF);
            else if (strcmp(def->meaning, "buzzer") == 0)
                write_point(engine, d, p,
                            zone_sum[zone].buzzer_priority >= 0
                                ? buzzer_code_for(zone_sum[zone].buzzer_priority)
                                : WG_BUZZER_OFF);
        }
    }
    free(active);
    free(room_sum);
    free(zone_sum);
}

/* Gas high: close the valve and start the fan, in the room, else site-wide. Never opens. */
void engine_gas_interlock(struct wg_engine *engine, size_t room)
{
    if (drive_outputs(engine, "valve_command", room, 1) == 0)
        drive_outputs(engine, "valve_command", WG_NO_INDEX, 1);
    if (drive_outputs(engine, "fan_command", room, 1) == 0)
        drive_outputs(engine, "fan_command", WG_NO_INDEX, 1);
}

/* Fire: release every fire door (fail-safe: the driver de-energises the magnet). */
void engine_fire_doors(struct wg_engine *engine)
{
    drive_outputs(engine, "fire_door_release", WG_NO_INDEX, 1);
}

void engine_on_write_result(struct wg_engine *engine, size_t device, size_t point, bool ok,
                            const char *reason, int64_t ts_ms)
{
    if (device >= engine->config->device_count || point >= engine->devices[device].point_count)
        return;
    char *slot = &engine->devices[device].point_alarm[point * 37];
    if (ok) {
        engine_condition_cleared(engine, slot, "write confirmed", ts_ms);
        return;
    }
    engine->devices[device].written[point] = NAN; /* try again at the next change */
    if (engine_alarm_in(engine, slot))
        return;
    struct wg_alarm proto = engine_proto_alarm(engine, device, point, "action_failed",
                                               WG_PRIO_TECHNICAL, 0, "actions", WG_RESET_ON_NORMAL);
    snprintf(proto.detail, sizeof proto.detail, "writing %s failed: %s",
             point_def(engine, device, point)->name, reason ? reason : "");
    const char *meaning = point_def(engine, device, point)->meaning;
    bool safety =
        strcmp(meaning, "valve_command") == 0 || strcmp(meaning, "fire_door_release") == 0;
    if (safety)
        proto.priority = WG_PRIO_EMERGENCY; /* a safety action that did not happen */
    const char *why = reason ? reason : "";
    alarm_set_code(&proto, "write_failed", "{s:s, s:s, s:s, s:s, s:b}", "point",
                   point_def(engine, device, point)->name, "meaning", meaning, "reason_code",
                   health_reason_code(why), "reason", why, "safety", safety);
    engine_raise_into(engine, slot, &proto, ts_ms);
    engine_update_indicators(engine);
}
