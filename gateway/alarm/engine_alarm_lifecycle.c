/* The alarm engine's side of an alarm's life: where a new alarm is placed
 * (device, room, zone, bed, resident, where it may be reset), raising it into
 * the slot of the rule or point that owns it, clearing its cause, the
 * acknowledgement at the station, the refused remote reset, and re-linking
 * a restored alarm to its owner. alarm.c keeps the records. */
#include "alarm/engine_private.h"

#include "common/log.h"

/* The rule of that id, or NULL ("technical", "supervision", "actions"). */
static const struct wg_rule *rule_named(const struct wg_config *config, const char *id)
{
    for (size_t r = 0; id && r < config->rule_count; r++)
        if (strcmp(config->rules[r].id, id) == 0)
            return &config->rules[r];
    return NULL;
}

static void fill_location(const struct wg_engine *engine, size_t device_index,
                          size_t resident_index, struct wg_alarm *proto)
{
    const struct wg_config *config = engine->config;
    const struct wg_device *device = &config->devices[device_index];
    snprintf(proto->device, sizeof proto->device, "%s", device->id);
    if (device->room != WG_NO_INDEX) {
        const struct wg_room *room = &config->rooms[device->room];
        snprintf(proto->room, sizeof proto->room, "%s", room->id);
        snprintf(proto->zone, sizeof proto->zone, "%s", config->zones[room->zone].id);
    }
    if (device->bed != WG_NO_INDEX)
        snprintf(proto->bed, sizeof proto->bed, "%s", config->beds[device->bed].id);
    if (resident_index == WG_NO_INDEX)
        resident_index = resident_of_device(config, device);
    if (resident_index != WG_NO_INDEX)
        snprintf(proto->resident, sizeof proto->resident, "%s",
                 config->residents[resident_index].id);
}

struct wg_alarm engine_proto_alarm(const struct wg_engine *engine, size_t device, size_t point,
                                   const char *kind, int priority, int risk, const char *rule,
                                   enum wg_alarm_reset_mode reset_mode)
{
    struct wg_alarm proto = {
        .priority = priority, .risk = risk, .reset_mode = reset_mode, .condition_active = true};
    snprintf(proto.kind, sizeof proto.kind, "%s", kind);
    snprintf(proto.rule, sizeof proto.rule, "%s", rule);
    if (point != WG_NO_INDEX)
        snprintf(proto.point, sizeof proto.point, "%s", point_def(engine, device, point)->name);
    fill_location(engine, device, WG_NO_INDEX, &proto);
    const struct wg_rule *by = rule_named(engine->config, rule);
    if (by && by->reset_at && reset_mode == WG_RESET_AT_ORIGIN)
        snprintf(proto.reset_at, sizeof proto.reset_at, "%s", by->reset_at);
    return proto;
}

/* Raises and remembers the id in `slot` (37 bytes). */
struct wg_alarm *engine_raise_into(struct wg_engine *engine, char *slot,
                                   const struct wg_alarm *proto, int64_t now_ms)
{
    struct wg_alarm *alarm = alarm_raise(engine->alarms, proto, now_ms);
    if (alarm && slot)
        memcpy(slot, alarm->id, 37);
    return alarm;
}

struct wg_alarm *engine_alarm_in(struct wg_engine *engine, char *slot)
{
    if (!slot[0])
        return NULL;
    struct wg_alarm *alarm = alarm_find(engine->alarms, slot);
    if (!alarm)
        slot[0] = '\0'; /* reset meanwhile (at its origin) */
    return alarm;
}

void engine_reset_slot(struct wg_engine *engine, char *slot, const char *who, const char *where,
                       int64_t now_ms)
{
    struct wg_alarm *alarm = engine_alarm_in(engine, slot);
    if (alarm)
        alarm_reset(engine->alarms, alarm, who, where, now_ms);
    slot[0] = '\0';
}

/* The cause went away: reset if the rule says so, else remember it for the reset at origin. */
void engine_condition_cleared(struct wg_engine *engine, char *slot, const char *who, int64_t now_ms)
{
    struct wg_alarm *alarm = engine_alarm_in(engine, slot);
    if (!alarm)
        return;
    if (alarm->reset_mode == WG_RESET_ON_NORMAL) {
        alarm_reset(engine->alarms, alarm, who, "device", now_ms);
        slot[0] = '\0';
    } else if (alarm->condition_active) {
        alarm->condition_active = false;
        alarm_update(engine->alarms, alarm, "update");
    }
}

int engine_acknowledge(struct wg_engine *engine, const char *alarm_id, const char *who,
                       const char *where, int64_t now_ms, char *why, size_t why_len)
{
    int rc = alarm_acknowledge(engine->alarms, alarm_id, who, where, now_ms,
                               engine->config->escalation.reannunciate_s * 1000LL, why, why_len);
    if (rc == 0)
        engine_update_indicators(engine);
    return rc;
}

int engine_reset_remote(struct wg_engine *engine, const char *alarm_id, const char *who,
                        const char *where, char *why, size_t why_len)
{
    struct wg_alarm *alarm = alarm_find(engine->alarms, alarm_id);
    if (!alarm)
        snprintf(why, why_len, "no active alarm %s", alarm_id);
    else if (alarm->reset_mode == WG_RESET_ON_NORMAL)
        snprintf(why, why_len,
                 "reset refused: a %s is reset only at its origin (its device returning to "
                 "normal), not from %s",
                 alarm->kind, where ? where : "elsewhere");
    else
        snprintf(why, why_len,
                 "reset refused: a %s is reset only at its origin (the presence/reset button in "
                 "room %s%s%s), not from %s",
                 alarm->kind, alarm->room, alarm->reset_at[0] ? " or at " : "", alarm->reset_at,
                 where ? where : "elsewhere");
    wg_warn("%s (asked by %s)", why, who ? who : "?");
    return -1;
}

int engine_restore(struct wg_engine *engine, const json_t *record)
{
    if (alarm_restore(engine->alarms, record) != 0)
        return -1;
    /* Re-link the alarm to the rule state that owns it, so the origin can reset it. */
    const char *id = json_string_value(json_object_get(record, "id"));
    struct wg_alarm *alarm = alarm_find(engine->alarms, id);
    if (!alarm)
        return 0;
    if (strcmp(alarm->kind, WG_STORAGE_ALARM_KIND) == 0) {
        memcpy(engine->storage_alarm, alarm->id, 37);
        return 0;
    }
    if (strcmp(alarm->rule, "site") == 0) {
        /* A gateway fault (engine_site_fault): its part says again whether it works. */
        for (size_t i = 0; i < WG_SITE_FAULTS_MAX; i++)
            if (!engine->site_faults[i].kind[0] ||
                strcmp(engine->site_faults[i].kind, alarm->kind) == 0) {
                alarm_copy_text(engine->site_faults[i].kind, sizeof engine->site_faults[i].kind,
                                alarm->kind);
                memcpy(engine->site_faults[i].alarm, alarm->id, 37);
                break;
            }
        return 0;
    }
    if (strcmp(alarm->kind, "phone_offline") == 0) {
        engine_paging_relink(engine, alarm, engine->started_ms);
        return 0;
    }
    if (strcmp(alarm->kind, "round_overdue") == 0) {
        engine_rounds_relink(engine, alarm, engine->started_ms);
        return 0;
    }
    const struct wg_config *config = engine->config;
    /* Where it may be reset follows the rule as configured now (a reload may move it). */
    const struct wg_rule *rule = rule_named(config, alarm->rule);
    if (rule && alarm->reset_mode == WG_RESET_AT_ORIGIN)
        snprintf(alarm->reset_at, sizeof alarm->reset_at, "%s",
                 rule->reset_at ? rule->reset_at : "");
    size_t device = config_find_device(config, alarm->device);
    if (device == WG_NO_INDEX)
        return 0;
    struct device_watch *watch = &engine->devices[device];
    if (strcmp(alarm->kind, "device_offline") == 0) {
        memcpy(watch->offline_alarm, alarm->id, 37);
        return 0;
    }
    const struct wg_profile *profile = &config->profiles[config->devices[device].profile];
    bool point_owned = strcmp(alarm->rule, "technical") == 0 ||
                       strcmp(alarm->rule, "actions") == 0 ||
                       (rule && (rule->kind == WG_RULE_FIRE_ZONE || rule->kind == WG_RULE_SMOKE));
    if (point_owned) {
        for (size_t p = 0; p < profile->point_count; p++)
            if (strcmp(profile->points[p].name, alarm->point) == 0)
                memcpy(&watch->point_alarm[p * 37], alarm->id, 37);
        return 0;
    }
    for (size_t r = 0; r < config->rule_count; r++) {
        if (strcmp(config->rules[r].id, alarm->rule) != 0)
            continue;
        if (config->rules[r].kind == WG_RULE_COMBINE) {
            size_t room = config->devices[device].room;
            if (room != WG_NO_INDEX)
                memcpy(engine->combine_states[r * config->room_count + room].alarm, alarm->id, 37);
        } else {
            struct rule_state *state = rule_state(engine, r, device);
            char *slot = strcmp(alarm->kind, "gas_high") == 0 ? state->alarm2 : state->alarm;
            memcpy(slot, alarm->id, 37);
        }
    }
    return 0;
}
