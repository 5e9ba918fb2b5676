/* The alarm engine's fire rules: a fire zone of a panel or a smoke
 * detector raises a fire alarm whatever the device's health, placed where
 * the panel's places say the zone or the detector it names is, and releases
 * the fire doors; the panel is reset at its origin. */
#include "alarm/engine_private.h"

#include <math.h>

#include "common/meaning.h"

/* The value last read from the device's point of that meaning, 0 when none. */
static int point_value_of(const struct wg_engine *engine, size_t device, const char *meaning)
{
    const struct wg_config *config = engine->config;
    const struct wg_profile *profile = &config->profiles[config->devices[device].profile];
    const struct device_watch *watch = &engine->devices[device];
    for (size_t p = 0; p < profile->point_count && p < watch->point_count; p++)
        if (strcmp(profile->points[p].meaning, meaning) == 0 && !isnan(watch->values[p]) &&
            watch->values[p] > 0 && watch->values[p] < 1e6)
            return (int)watch->values[p];
    return 0;
}

/* Puts a fire alarm where the panel's places say its zone, or the detector at
 * its loop and address, is: that room (door lamp, the zone's corridor lamps
 * and buzzers) or site zone, and the place's name. Unmapped: the panel's own
 * room, with the zone number. Returns whether anything changed. */
static bool place_fire_alarm(const struct wg_engine *engine, size_t device, struct wg_alarm *alarm)
{
    const struct wg_config *config = engine->config;
    const struct wg_place *place = config_fire_place(&config->devices[device], alarm->fire_zone,
                                                     alarm->fire_loop, alarm->fire_address);
    struct wg_alarm before = *alarm;
    if (place) {
        snprintf(alarm->room, sizeof alarm->room, "%s",
                 place->room != WG_NO_INDEX ? config->rooms[place->room].id : "");
        snprintf(alarm->zone, sizeof alarm->zone, "%s",
                 place->zone != WG_NO_INDEX ? config->zones[place->zone].id : "");
        alarm_copy_text(alarm->place, sizeof alarm->place, place->name);
        alarm->bed[0] = alarm->resident[0] = '\0';
    }
    return strcmp(before.room, alarm->room) != 0 || strcmp(before.zone, alarm->zone) != 0 ||
           strcmp(before.place, alarm->place) != 0;
}

/* "fire panel zone 3, loop 1 address 17: 三楼东侧走廊" (the place as named). */
static void fire_detail(struct wg_alarm *alarm)
{
    char component[48] = "";
    if (alarm->fire_loop)
        snprintf(component, sizeof component, ", loop %d address %d", alarm->fire_loop,
                 alarm->fire_address);
    int used = snprintf(alarm->detail, sizeof alarm->detail, "fire panel zone %d%s%s",
                        alarm->fire_zone, component, alarm->place[0] ? ": " : "");
    if (used > 0 && (size_t)used < sizeof alarm->detail)
        alarm_copy_text(alarm->detail + used, sizeof alarm->detail - (size_t)used, alarm->place);
    if (alarm->fire_loop)
        alarm_set_code(alarm, "fire_zone", "{s:i, s:i, s:i}", "zone", alarm->fire_zone, "loop",
                       alarm->fire_loop, "address", alarm->fire_address);
    else
        alarm_set_code(alarm, "fire_zone", "{s:i}", "zone", alarm->fire_zone);
}

/* The latest active fire-zone alarm of the device, leaving out the one in `except`. */
static struct wg_alarm *latest_fire_alarm(struct wg_engine *engine, size_t device,
                                          const char *except)
{
    struct device_watch *watch = &engine->devices[device];
    struct wg_alarm *latest = NULL;
    for (size_t p = 0; p < watch->point_count; p++) {
        char *slot = &watch->point_alarm[p * 37];
        if (except && strcmp(slot, except) == 0)
            continue;
        struct wg_alarm *alarm = engine_alarm_in(engine, slot);
        if (alarm && alarm->fire_zone > 0 && (!latest || alarm->raised_ms > latest->raised_ms))
            latest = alarm;
    }
    return latest;
}

/* The panel names (another) detector in fire: it belongs to the latest zone
 * alarm of the panel, which moves to that detector's place if it has one. */
void engine_on_fire_component(struct wg_engine *engine, size_t device)
{
    int loop = point_value_of(engine, device, "fire_loop");
    int address = point_value_of(engine, device, "fire_address");
    struct wg_alarm *alarm = latest_fire_alarm(engine, device, NULL);
    if (!alarm || !loop || !address || (alarm->fire_loop == loop && alarm->fire_address == address))
        return;
    alarm->fire_loop = loop;
    alarm->fire_address = address;
    place_fire_alarm(engine, device, alarm);
    fire_detail(alarm);
    alarm_update(engine->alarms, alarm, "update");
}

void engine_on_fire(struct wg_engine *engine, size_t r, size_t device, size_t point, double value,
                    double previous, bool first, int64_t ts, const char *kind)
{
    const struct wg_rule *rule = &engine->config->rules[r];
    /* One alarm per fire point: a panel reports all its zones through one device. */
    char *slot = &engine->devices[device].point_alarm[point * 37];
    if (rising(value, previous, first) && !engine_alarm_in(engine, slot)) {
        /* Whatever the device's health: a fire during a fault still annunciates. */
        struct wg_alarm proto = engine_proto_alarm(
            engine, device, point, kind, rule_priority(rule, WG_PRIO_FIRE), rule->risk, rule->id,
            rule->reset_on_normal || strcmp(kind, "fire") == 0 ? WG_RESET_ON_NORMAL
                                                               : WG_RESET_AT_ORIGIN);
        int zone = 0;
        meaning_lookup(point_def(engine, device, point)->meaning, &zone);
        if (zone > 0) {
            proto.fire_zone = zone;
            /* A detector the panel names now is this zone's, unless another zone of
             * the panel is in fire already (then it may be that one's). */
            if (!latest_fire_alarm(engine, device, slot)) {
                proto.fire_loop = point_value_of(engine, device, "fire_loop");
                proto.fire_address = point_value_of(engine, device, "fire_address");
                if (!proto.fire_loop || !proto.fire_address)
                    proto.fire_loop = proto.fire_address = 0;
            }
            place_fire_alarm(engine, device, &proto);
            fire_detail(&proto);
        } else {
            /* A smoke detector of a room in test mode is tested; a panel's zone never is. */
            if (strcmp(kind, "smoke") == 0 &&
                engine_tested(engine, device, point, "smoke", true, ts))
                return;
            detector_place(engine, device, &proto);
            snprintf(proto.detail, sizeof proto.detail, "smoke detected");
            alarm_set_code(&proto, "smoke", NULL);
        }
        engine_raise_into(engine, slot, &proto, ts);
        engine_fire_doors(engine);
    } else if (falling(value, previous, first)) {
        /* The panel was reset on site (its origin); we never reset or silence the panel. */
        engine_condition_cleared(engine, slot, "fire panel / detector normal", ts);
    }
}
