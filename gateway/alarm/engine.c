/* The alarm engine: rules, supervision and actions; see engine.h. */
#include "alarm/engine.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "drivers/health_reason.h"
#include "common/log.h"
#include "common/meaning.h"

/* Per (rule, device): timers and the alarm the rule raised for the device. */
struct rule_state {
    int64_t since_ms;    /* condition started (0 = not pending) */
    int64_t since2_ms;   /* gas: above high since */
    int64_t followup_ms; /* bed exit: "not back in bed" due */
    char alarm[37];      /* active alarm raised by this rule for this device ("" = none) */
    char alarm2[37];     /* gas high */
    double last_value;   /* wellbeing: the counter when it last moved */
    int64_t last_change_ms;
    bool seen;
};

/* Per (combine rule, room). */
struct combine_condition {
    bool now_true;
    int64_t last_true_ms;
};
struct combine_state {
    struct combine_condition *conditions; /* the rule's condition_count, in combine_conditions */
    char alarm[37];
};

struct device_watch {
    int64_t last_seen_ms;
    enum wg_health health; /* supervision's view */
    char offline_alarm[37];
    size_t point_count;
    double *written;   /* last value written per point (NAN = never) */
    double *values;    /* last value read per point (NAN = none yet): a panel's fire_loop */
    char *point_alarm; /* per point, 37 bytes each: the alarm that point raised by itself
                        * (technical fault, fire zone, failed write); "" = none */
    /* Per point, worked out once per config: the rules that read it and its
     * technical-fault entry (-1 = none), so a reading costs no string compares. */
    size_t **point_rules;
    size_t *point_rule_count;
    int *point_technical;
};

struct wg_engine {
    const struct wg_config *config;
    struct wg_engine_host host;
    struct wg_alarm_table *alarms;
    struct device_watch *devices;
    struct rule_state *rule_states;               /* [rule][device] */
    struct combine_state *combine_states;         /* [rule][room] */
    struct combine_condition *combine_conditions; /* what combine_states point into */
    size_t *rooms_by_id; /* room indexes sorted by id: an alarm's room found by bisection */
    bool *room_presence;
    int level_after_s[WG_ALARM_MAX_LEVEL];
    size_t level_count;
    int64_t started_ms;
    bool indicators_dirty;  /* an alarm or a presence changed since lamps were last set */
    char storage_alarm[37]; /* the storage_failing alarm, "" when none */
};

/* ---- small helpers ---- */

static void alarm_changed(void *ctx, const struct wg_alarm *alarm, const char *phase)
{
    struct wg_engine *engine = ctx;
    engine->indicators_dirty = true;
    engine->host.alarm_changed(engine->host.ctx, alarm, phase);
}

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

static int by_room_id(const void *a, const void *b, void *ctx)
{
    const struct wg_config *config = ctx;
    return strcmp(config->rooms[*(const size_t *)a].id, config->rooms[*(const size_t *)b].id);
}

static const struct wg_point_def *point_def(const struct wg_engine *engine, size_t device,
                                            size_t point)
{
    const struct wg_config *config = engine->config;
    return &config->profiles[config->devices[device].profile].points[point];
}

static struct rule_state *rule_state(struct wg_engine *engine, size_t rule, size_t device)
{
    return &engine->rule_states[rule * engine->config->device_count + device];
}

static size_t resident_of_device(const struct wg_config *config, const struct wg_device *device)
{
    if (device->bed != WG_NO_INDEX)
        return config_resident_of_bed(config, device->bed);
    return WG_NO_INDEX;
}

/* The first resident of the room with any of the risk bits, or WG_NO_INDEX. */
static size_t room_resident_with(const struct wg_config *config, size_t room, unsigned risks)
{
    for (size_t r = 0; room != WG_NO_INDEX && r < config->resident_count; r++)
        if (config->beds[config->residents[r].bed].room == room &&
            (config->residents[r].risks & risks))
            return r;
    return WG_NO_INDEX;
}

static bool in_night(const struct wg_engine *engine, size_t resident, const struct wg_rule *rule,
                     int64_t now_ms)
{
    const struct wg_config *config = engine->config;
    const struct wg_window *window = &config->site.night;
    if (resident != WG_NO_INDEX && config->residents[resident].has_night)
        window = &config->residents[resident].night;
    else if (rule && rule->has_window)
        window = &rule->window;
    return window_contains(window, clock_minute_of_day(now_ms));
}

static bool meaning_matches(const char *rule_meaning, const char *point_meaning)
{
    if (!rule_meaning || !point_meaning)
        return false;
    if (strcmp(rule_meaning, point_meaning) == 0)
        return true;
    /* "fire_zone" covers "fire_zone_1" .. "fire_zone_999" */
    size_t len = strlen(rule_meaning);
    return strncmp(rule_meaning, point_meaning, len) == 0 && point_meaning[len] == '_' &&
           point_meaning[len + 1] >= '0' && point_meaning[len + 1] <= '9';
}

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

/* A smoke or gas detector's alarm: its place is the detector's spot in its room. */
static void detector_place(const struct wg_engine *engine, size_t device, struct wg_alarm *proto)
{
    alarm_copy_text(proto->place, sizeof proto->place, engine->config->devices[device].spot);
}

static struct wg_alarm proto_alarm(const struct wg_engine *engine, size_t device, size_t point,
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
static struct wg_alarm *raise_into(struct wg_engine *engine, char *slot,
                                   const struct wg_alarm *proto, int64_t now_ms)
{
    struct wg_alarm *alarm = alarm_raise(engine->alarms, proto, now_ms);
    if (alarm && slot)
        memcpy(slot, alarm->id, 37);
    return alarm;
}

static struct wg_alarm *alarm_in(struct wg_engine *engine, char *slot)
{
    if (!slot[0])
        return NULL;
    struct wg_alarm *alarm = alarm_find(engine->alarms, slot);
    if (!alarm)
        slot[0] = '\0'; /* reset meanwhile (at its origin) */
    return alarm;
}

static void reset_slot(struct wg_engine *engine, char *slot, const char *who, const char *where,
                       int64_t now_ms)
{
    struct wg_alarm *alarm = alarm_in(engine, slot);
    if (alarm)
        alarm_reset(engine->alarms, alarm, who, where, now_ms);
    slot[0] = '\0';
}

/* The cause went away: reset if the rule says so, else remember it for the reset at origin. */
static void condition_cleared(struct wg_engine *engine, char *slot, const char *who, int64_t now_ms)
{
    struct wg_alarm *alarm = alarm_in(engine, slot);
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

static void gas_interlock(struct wg_engine *engine, size_t room);
static void fire_doors(struct wg_engine *engine);

/* Door lamps per room, corridor lamps and buzzers per zone (site-wide ones
 * for the whole site). Gas and fire show as "alarm" whatever their priority.
 * The interlocks are re-driven for every active fire and gas-high alarm too,
 * so an alarm restored after a restart or kept over a reload still holds the
 * doors released and the valve closed (repeated values are not re-written). */
static void update_indicators(struct wg_engine *engine)
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
            fire_doors(engine);
        if (strcmp(alarm->kind, "gas_high") == 0)
            gas_interlock(engine, find_room(engine, alarm->room));
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
static void gas_interlock(struct wg_engine *engine, size_t room)
{
    if (drive_outputs(engine, "valve_command", room, 1) == 0)
        drive_outputs(engine, "valve_command", WG_NO_INDEX, 1);
    if (drive_outputs(engine, "fan_command", room, 1) == 0)
        drive_outputs(engine, "fan_command", WG_NO_INDEX, 1);
}

/* Fire: release every fire door (fail-safe: the driver de-energises the magnet). */
static void fire_doors(struct wg_engine *engine)
{
    drive_outputs(engine, "fire_door_release", WG_NO_INDEX, 1);
}

/* ---- room operations: presence and reset at the origin ---- */

struct room_op {
    struct wg_engine *engine;
    const char *room;
    const char *who;
    int64_t now_ms;
    size_t refused;
};

/* Whether the presence/reset device op->who in op->room is at the alarm's
 * origin: its own room, or the room or device its rule names in reset_at. */
static bool at_origin(const struct wg_alarm *alarm, const struct room_op *op)
{
    return strcmp(alarm->room, op->room) == 0 ||
           (alarm->reset_at[0] &&
            (strcmp(alarm->reset_at, op->room) == 0 || strcmp(alarm->reset_at, op->who) == 0));
}

static bool attend_in_room(struct wg_alarm *alarm, void *ctx)
{
    struct room_op *op = ctx;
    if (at_origin(alarm, op) && alarm->priority >= WG_PRIO_NORMAL)
        alarm_attend(op->engine->alarms, alarm, op->now_ms);
    return true;
}

/* Resets what may be reset at this origin: origin-reset alarms of the room
 * whose cause is gone. With `attended_only`, only those staff attended. */
static bool reset_in_room(struct wg_alarm *alarm, void *ctx, bool attended_only)
{
    struct room_op *op = ctx;
    if (!at_origin(alarm, op) || alarm->reset_mode != WG_RESET_AT_ORIGIN ||
        alarm->priority < WG_PRIO_ADVISORY)
        return true;
    if (attended_only && alarm->state != WG_ALARM_ATTENDED)
        return true;
    if (alarm->condition_active) {
        op->refused++;
        wg_warn("reset at %s refused for %s %s: its cause is still present (%s)", op->who,
                alarm->kind, alarm->id, alarm->detail[0] ? alarm->detail : alarm->point);
        return true;
    }
    alarm_reset(op->engine->alarms, alarm, op->who, op->room, op->now_ms);
    return true;
}

static bool reset_button_in_room(struct wg_alarm *alarm, void *ctx)
{
    return reset_in_room(alarm, ctx, false);
}

static bool presence_off_in_room(struct wg_alarm *alarm, void *ctx)
{
    return reset_in_room(alarm, ctx, true);
}

/* ---- rules on point values ---- */

static bool rising(double value, double previous, bool first)
{
    return value != 0 && (first || previous == 0);
}

static bool falling(double value, double previous, bool first)
{
    return value == 0 && !first && previous != 0;
}

static int rule_priority(const struct wg_rule *rule, int fallback)
{
    return rule->priority >= 0 ? rule->priority : fallback;
}

static void on_call(struct wg_engine *engine, size_t r, size_t device, size_t point, double value,
                    double previous, bool first, int64_t ts)
{
    const struct wg_rule *rule = &engine->config->rules[r];
    struct rule_state *state = rule_state(engine, r, device);
    if (!rising(value, previous, first) || alarm_in(engine, state->alarm))
        return; /* the same call point again: still the same call */
    const struct wg_device *dev = &engine->config->devices[device];
    bool staff_present = dev->room != WG_NO_INDEX && engine->room_presence[dev->room];
    int priority = rule_priority(rule, WG_PRIO_NORMAL);
    struct wg_alarm proto = proto_alarm(engine, device, point, "call", priority, rule->risk,
                                        rule->id, WG_RESET_AT_ORIGIN);
    proto.condition_active = false; /* latched by the gateway: the button may be released */
    snprintf(proto.detail, sizeof proto.detail, "call button pressed");
    alarm_set_code(&proto, "call", NULL);
    if (staff_present && priority < WG_PRIO_EMERGENCY) {
        proto.priority = WG_PRIO_EMERGENCY; /* staff in the room call for help */
        snprintf(proto.kind, sizeof proto.kind, "staff_call");
        snprintf(proto.detail, sizeof proto.detail, "call while staff presence is logged");
        alarm_set_code(&proto, "presence_call", NULL);
    }
    raise_into(engine, state->alarm, &proto, ts);
}

static void on_pull_cord(struct wg_engine *engine, size_t r, size_t device, size_t point,
                         double value, double previous, bool first, int64_t ts)
{
    const struct wg_rule *rule = &engine->config->rules[r];
    struct rule_state *state = rule_state(engine, r, device);
    if (rising(value, previous, first) && !alarm_in(engine, state->alarm)) {
        struct wg_alarm proto =
            proto_alarm(engine, device, point, "pull_cord", rule_priority(rule, WG_PRIO_EMERGENCY),
                        rule->risk, rule->id, WG_RESET_AT_ORIGIN);
        snprintf(proto.detail, sizeof proto.detail, "bathroom pull cord");
        alarm_set_code(&proto, "pull_cord", NULL);
        raise_into(engine, state->alarm, &proto, ts);
    } else if (falling(value, previous, first)) {
        /* The cord is reset at its own unit, in the bathroom: that is the origin. */
        reset_slot(engine, state->alarm, engine->config->devices[device].id, "pull cord unit", ts);
    }
}

static void on_presence(struct wg_engine *engine, size_t device, double value, double previous,
                        bool first, int64_t ts)
{
    const struct wg_device *dev = &engine->config->devices[device];
    if (dev->room == WG_NO_INDEX)
        return;
    struct room_op op = {engine, engine->config->rooms[dev->room].id, dev->id, ts, 0};
    if (rising(value, previous, first)) {
        engine->room_presence[dev->room] = true;
        engine->indicators_dirty = true;
        alarm_foreach(engine->alarms, attend_in_room, &op);
    } else if (falling(value, previous, first)) {
        engine->room_presence[dev->room] = false;
        engine->indicators_dirty = true;
        /* Presence off after attending cancels the room's calls (DIN VDE 0834). */
        alarm_foreach(engine->alarms, presence_off_in_room, &op);
    }
}

static void on_reset_button(struct wg_engine *engine, size_t device, double value, double previous,
                            bool first, int64_t ts)
{
    const struct wg_device *dev = &engine->config->devices[device];
    if (dev->room == WG_NO_INDEX || !rising(value, previous, first))
        return;
    struct room_op op = {engine, engine->config->rooms[dev->room].id, dev->id, ts, 0};
    alarm_foreach(engine->alarms, reset_button_in_room, &op);
}

static void on_bed_exit(struct wg_engine *engine, size_t r, size_t device, double value,
                        double previous, bool first, int64_t ts)
{
    const struct wg_rule *rule = &engine->config->rules[r];
    struct rule_state *state = rule_state(engine, r, device);
    const struct wg_device *dev = &engine->config->devices[device];
    size_t resident = resident_of_device(engine->config, dev);
    if (resident == WG_NO_INDEX ||
        !(engine->config->residents[resident].risks & (WG_RISK_FALL | WG_RISK_FALL_FROM_BED)))
        return; /* only for residents assessed at risk of falling */
    if (falling(value, previous, first) && in_night(engine, resident, rule, ts)) {
        state->since_ms = ts;
    } else if (value != 0 && !first && previous == 0) {
        state->since_ms = 0; /* back in bed */
        state->followup_ms = 0;
        condition_cleared(engine, state->alarm, "back in bed", ts);
    }
}

static void on_vital(struct wg_engine *engine, size_t r, size_t device, double value, int64_t ts)
{
    const struct wg_rule *rule = &engine->config->rules[r];
    struct rule_state *state = rule_state(engine, r, device);
    bool measured = value > 0; /* 0 = nobody on the sensor */
    bool outside = measured && (value < rule->low || value > rule->high);
    if (outside && state->since_ms == 0)
        state->since_ms = ts;
    if (!outside) {
        state->since_ms = 0;
        if (measured)
            condition_cleared(engine, state->alarm, "back in range", ts);
    }
    state->last_value = value;
}

static void on_gas(struct wg_engine *engine, size_t r, size_t device, double value, int64_t ts)
{
    const struct wg_rule *rule = &engine->config->rules[r];
    struct rule_state *state = rule_state(engine, r, device);
    state->last_value = value;
    if (value >= rule->low) {
        if (state->since_ms == 0)
            state->since_ms = ts;
    } else {
        state->since_ms = 0;
        condition_cleared(engine, state->alarm, "gas below the low threshold", ts);
        condition_cleared(engine, state->alarm2, "gas below the low threshold", ts);
    }
    if (value >= rule->high) {
        if (state->since2_ms == 0)
            state->since2_ms = ts;
    } else {
        state->since2_ms = 0;
    }
}

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
        struct wg_alarm *alarm = alarm_in(engine, slot);
        if (alarm && alarm->fire_zone > 0 && (!latest || alarm->raised_ms > latest->raised_ms))
            latest = alarm;
    }
    return latest;
}

/* The panel names (another) detector in fire: it belongs to the latest zone
 * alarm of the panel, which moves to that detector's place if it has one. */
static void on_fire_component(struct wg_engine *engine, size_t device)
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

static void on_fire(struct wg_engine *engine, size_t r, size_t device, size_t point, double value,
                    double previous, bool first, int64_t ts, const char *kind)
{
    const struct wg_rule *rule = &engine->config->rules[r];
    /* One alarm per fire point: a panel reports all its zones through one device. */
    char *slot = &engine->devices[device].point_alarm[point * 37];
    if (rising(value, previous, first) && !alarm_in(engine, slot)) {
        /* Whatever the device's health: a fire during a fault still annunciates. */
        struct wg_alarm proto = proto_alarm(
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
            detector_place(engine, device, &proto);
            snprintf(proto.detail, sizeof proto.detail, "smoke detected");
            alarm_set_code(&proto, "smoke", NULL);
        }
        raise_into(engine, slot, &proto, ts);
        fire_doors(engine);
    } else if (falling(value, previous, first)) {
        /* The panel was reset on site (its origin); we never reset or silence the panel. */
        condition_cleared(engine, slot, "fire panel / detector normal", ts);
    }
}

static void on_door_night(struct wg_engine *engine, size_t r, size_t device, double value,
                          double previous, bool first, int64_t ts)
{
    const struct wg_rule *rule = &engine->config->rules[r];
    struct rule_state *state = rule_state(engine, r, device);
    const struct wg_device *dev = &engine->config->devices[device];
    size_t resident = room_resident_with(engine->config, dev->room, WG_RISK_WANDERING);
    if (resident == WG_NO_INDEX)
        return;
    if (rising(value, previous, first) && in_night(engine, resident, rule, ts))
        state->since_ms = ts;
    else if (falling(value, previous, first)) {
        state->since_ms = 0;
        condition_cleared(engine, state->alarm, "door closed", ts);
    }
}

static void on_wellbeing(struct wg_engine *engine, size_t r, size_t device, double value,
                         int64_t ts)
{
    struct rule_state *state = rule_state(engine, r, device);
    if (!state->seen || value > state->last_value + 1e-9) {
        if (state->seen)
            condition_cleared(engine, state->alarm, "usage resumed", ts);
        state->last_value = value;
        state->last_change_ms = ts;
        state->seen = true;
    }
}

static bool compare(enum wg_compare op, double value, double reference)
{
    switch (op) {
    case WG_CMP_EQ:
        return value == reference;
    case WG_CMP_NE:
        return value != reference;
    case WG_CMP_LT:
        return value < reference;
    case WG_CMP_LE:
        return value <= reference;
    case WG_CMP_GT:
        return value > reference;
    case WG_CMP_GE:
        return value >= reference;
    }
    return false;
}

static void on_combine(struct wg_engine *engine, size_t r, size_t device, size_t point,
                       double value, int64_t ts)
{
    const struct wg_config *config = engine->config;
    const struct wg_rule *rule = &config->rules[r];
    const struct wg_device *dev = &config->devices[device];
    if (dev->room == WG_NO_INDEX)
        return;
    struct combine_state *state = &engine->combine_states[r * config->room_count + dev->room];
    const char *meaning = point_def(engine, device, point)->meaning;
    bool became_true = false;
    size_t n = rule->condition_count;
    for (size_t c = 0; c < n; c++) {
        if (!meaning_matches(rule->conditions[c].meaning, meaning))
            continue;
        bool now = compare(rule->conditions[c].op, value, rule->conditions[c].value);
        struct combine_condition *condition = &state->conditions[c];
        became_true = became_true || (now && !condition->now_true);
        condition->now_true = now;
        if (now)
            condition->last_true_ms = ts;
    }
    if (!became_true || alarm_in(engine, state->alarm))
        return;
    for (size_t c = 0; c < n; c++)
        if (!state->conditions[c].now_true &&
            (state->conditions[c].last_true_ms == 0 ||
             ts - state->conditions[c].last_true_ms > rule->within_s * 1000LL))
            return;
    struct wg_alarm proto =
        proto_alarm(engine, device, point, rule->alarm_kind, rule_priority(rule, WG_PRIO_URGENT),
                    rule->risk, rule->id, WG_RESET_AT_ORIGIN);
    proto.condition_active = false;
    snprintf(proto.detail, sizeof proto.detail, "%zu conditions within %d s", n, rule->within_s);
    alarm_set_code(&proto, "combination", "{s:i, s:i}", "n", (int)n, "within_s", rule->within_s);
    raise_into(engine, state->alarm, &proto, ts);
}

/* Faults every device may report, whatever the rules: technical alarms that
 * end when the device reports normal again. */
static const struct {
    const char *meaning;
    const char *kind;
    const char *detail;
} technical_points[] = {
    {"cord_unplugged", "cord_unplugged", "call pendant or cord pulled out of its socket"},
    {"line_fault", "line_fault", "supervised line open: cut wire or contact fault"},
    {"battery_low", "battery_low", "battery low"},
    {"tamper", "tamper", "tamper contact open"},
    {"device_fault", "device_fault", "device reports a fault"},
    {"gas_fault", "gas_detector_fault", "gas detector fault"},
    {"valve_fault", "valve_fault", "gas valve fault"},
    {"fire_fault", "fire_zone_fault", "fault"},
    {"fire_disabled", "fire_zone_disabled", "disabled"},
    {"fire_supervisory", "fire_supervisory", "supervisory signal"},
    {"fire_power_fault", "fire_panel_power_fault", "fire panel power fault"},
};

static int technical_entry(const char *meaning)
{
    for (size_t t = 0; t < sizeof technical_points / sizeof technical_points[0]; t++)
        if (meaning_matches(technical_points[t].meaning, meaning))
            return (int)t;
    return -1;
}

static void on_technical(struct wg_engine *engine, size_t device, size_t point, double value,
                         double previous, bool first, int64_t ts)
{
    struct device_watch *watch = &engine->devices[device];
    int entry = watch->point_technical[point];
    if (entry >= 0) {
        size_t t = (size_t)entry;
        char *slot = &watch->point_alarm[point * 37]; /* one technical alarm per point */
        if (rising(value, previous, first) && !alarm_in(engine, slot)) {
            struct wg_alarm proto =
                proto_alarm(engine, device, point, technical_points[t].kind, WG_PRIO_TECHNICAL, 0,
                            "technical", WG_RESET_ON_NORMAL);
            /* The detail code is the kind; a panel zone's fault names its zone. */
            int zone = 0;
            meaning_lookup(point_def(engine, device, point)->meaning, &zone);
            if (zone > 0) {
                proto.fire_zone = zone;
                snprintf(proto.detail, sizeof proto.detail, "fire panel zone %d %s", zone,
                         technical_points[t].detail);
                alarm_set_code(&proto, technical_points[t].kind, "{s:i}", "zone", zone);
            } else {
                snprintf(proto.detail, sizeof proto.detail, "%s", technical_points[t].detail);
                alarm_set_code(&proto, technical_points[t].kind, NULL);
            }
            raise_into(engine, slot, &proto, ts);
        } else if (falling(value, previous, first)) {
            condition_cleared(engine, slot, "device normal", ts);
        }
    }
}

void engine_on_point(struct wg_engine *engine, size_t device, size_t point, double value,
                     double previous, bool first, int64_t ts_ms)
{
    const struct wg_config *config = engine->config;
    if (device >= config->device_count)
        return;
    struct device_watch *watch = &engine->devices[device];
    if (point >= watch->point_count)
        return;
    watch->last_seen_ms = ts_ms;
    watch->values[point] = value;
    if (watch->offline_alarm[0]) {
        watch->health = WG_HEALTH_ONLINE;
        reset_slot(engine, watch->offline_alarm, config->devices[device].id, "device answered",
                   ts_ms);
    }
    const struct wg_point_def *def = point_def(engine, device, point);
    if (def->direction == WG_POINT_OUTPUT)
        return; /* read-back of what we drive */
    bool changed = first || value != previous;
    if (changed &&
        (strcmp(def->meaning, "fire_loop") == 0 || strcmp(def->meaning, "fire_address") == 0))
        on_fire_component(engine, device);
    if (def->kind == WG_POINT_BOOL && !changed)
        return;
    if (def->kind == WG_POINT_BOOL) {
        on_technical(engine, device, point, value, previous, first, ts_ms);
        if (strcmp(def->meaning, "reset_button") == 0)
            on_reset_button(engine, device, value, previous, first, ts_ms);
    }
    for (size_t i = 0; i < watch->point_rule_count[point]; i++) {
        size_t r = watch->point_rules[point][i];
        const struct wg_rule *rule = &config->rules[r];
        switch (rule->kind) {
        case WG_RULE_CALL:
            on_call(engine, r, device, point, value, previous, first, ts_ms);
            break;
        case WG_RULE_PULL_CORD:
            on_pull_cord(engine, r, device, point, value, previous, first, ts_ms);
            break;
        case WG_RULE_PRESENCE:
            on_presence(engine, device, value, previous, first, ts_ms);
            break;
        case WG_RULE_BED_EXIT:
            on_bed_exit(engine, r, device, value, previous, first, ts_ms);
            break;
        case WG_RULE_VITAL_RANGE:
            on_vital(engine, r, device, value, ts_ms);
            break;
        case WG_RULE_GAS:
            on_gas(engine, r, device, value, ts_ms);
            break;
        case WG_RULE_FIRE_ZONE:
            on_fire(engine, r, device, point, value, previous, first, ts_ms, "fire");
            break;
        case WG_RULE_SMOKE:
            on_fire(engine, r, device, point, value, previous, first, ts_ms, "smoke");
            break;
        case WG_RULE_DOOR_NIGHT:
            on_door_night(engine, r, device, value, previous, first, ts_ms);
            break;
        case WG_RULE_WELLBEING:
            on_wellbeing(engine, r, device, value, ts_ms);
            break;
        case WG_RULE_COMBINE:
            on_combine(engine, r, device, point, value, ts_ms);
            break;
        }
    }
    update_indicators(engine);
}

/* ---- health, writes, timers ---- */

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
    if (alarm_in(engine, watch->offline_alarm))
        return;
    struct wg_alarm proto = proto_alarm(engine, device, WG_NO_INDEX, "device_offline",
                                        WG_PRIO_TECHNICAL, 0, "supervision", WG_RESET_ON_NORMAL);
    if (reason) {
        snprintf(proto.detail, sizeof proto.detail, "driver reports offline: %s", reason);
        alarm_set_code(&proto, "device_offline", "{s:s, s:s}", "reason_code",
                       reason_code ? reason_code : health_reason_code(reason), "reason", reason);
    } else {
        snprintf(proto.detail, sizeof proto.detail, "no reply for %lld s", (long long)silent_s);
        alarm_set_code(&proto, "device_silent", "{s:I}", "s", (json_int_t)silent_s);
    }
    raise_into(engine, watch->offline_alarm, &proto, now);
}

void engine_on_health(struct wg_engine *engine, size_t device, enum wg_health health,
                      const char *reason_code, const char *reason, int64_t ts_ms)
{
    if (device >= engine->config->device_count)
        return;
    if (health == WG_HEALTH_OFFLINE) {
        raise_offline(engine, device, reason_code, reason ? reason : "", 0, ts_ms);
        update_indicators(engine);
    }
}

void engine_on_write_result(struct wg_engine *engine, size_t device, size_t point, bool ok,
                            const char *reason, int64_t ts_ms)
{
    if (device >= engine->config->device_count || point >= engine->devices[device].point_count)
        return;
    char *slot = &engine->devices[device].point_alarm[point * 37];
    if (ok) {
        condition_cleared(engine, slot, "write confirmed", ts_ms);
        return;
    }
    engine->devices[device].written[point] = NAN; /* try again at the next change */
    if (alarm_in(engine, slot))
        return;
    struct wg_alarm proto = proto_alarm(engine, device, point, "action_failed", WG_PRIO_TECHNICAL,
                                        0, "actions", WG_RESET_ON_NORMAL);
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
    raise_into(engine, slot, &proto, ts_ms);
    update_indicators(engine);
}

static void supervise(struct wg_engine *engine, int64_t now)
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
}

/* Raises gas_low or gas_high for the device unless its slot holds one already. */
static bool raise_gas(struct wg_engine *engine, const struct wg_rule *rule, size_t device,
                      char *slot, bool high, double lel, int64_t now)
{
    if (alarm_in(engine, slot))
        return false;
    struct wg_alarm proto =
        proto_alarm(engine, device, WG_NO_INDEX, high ? "gas_high" : "gas_low",
                    high ? rule_priority(rule, WG_PRIO_EMERGENCY) : WG_PRIO_URGENT,
                    rule->risk ? rule->risk : WG_RISK_ACTIVITY_ACCIDENT, rule->id,
                    rule->reset_on_normal ? WG_RESET_ON_NORMAL : WG_RESET_AT_ORIGIN);
    detector_place(engine, device, &proto);
    if (high) {
        snprintf(proto.detail, sizeof proto.detail,
                 "gas %.0f %%LEL (high %.0f): valve closed, fan started", lel, rule->high);
        alarm_set_code(&proto, "gas_lel_high", "{s:I, s:I}", "lel", (json_int_t)llround(lel),
                       "high", (json_int_t)llround(rule->high));
    } else {
        snprintf(proto.detail, sizeof proto.detail, "gas %.0f %%LEL (low %.0f)", lel, rule->low);
        alarm_set_code(&proto, "gas_lel", "{s:I, s:I}", "lel", (json_int_t)llround(lel), "low",
                       (json_int_t)llround(rule->low));
    }
    raise_into(engine, slot, &proto, now);
    return true;
}

static bool rule_has_timers(enum wg_rule_kind kind)
{
    return kind == WG_RULE_BED_EXIT || kind == WG_RULE_VITAL_RANGE || kind == WG_RULE_GAS ||
           kind == WG_RULE_DOOR_NIGHT || kind == WG_RULE_WELLBEING;
}

static void rule_timers(struct wg_engine *engine, int64_t now)
{
    const struct wg_config *config = engine->config;
    for (size_t r = 0; r < config->rule_count; r++) {
        const struct wg_rule *rule = &config->rules[r];
        if (!rule_has_timers(rule->kind))
            continue; /* calls, cords, presence, fire and combinations act on edges only */
        for (size_t d = 0; d < config->device_count; d++) {
            struct rule_state *state = rule_state(engine, r, d);
            const int64_t hold = rule->for_s * 1000LL;
            switch (rule->kind) {
            case WG_RULE_BED_EXIT: {
                if (state->since_ms && now - state->since_ms >= hold &&
                    !alarm_in(engine, state->alarm)) {
                    struct wg_alarm proto = proto_alarm(
                        engine, d, WG_NO_INDEX, "bed_exit", rule_priority(rule, WG_PRIO_URGENT),
                        rule->risk ? rule->risk : WG_RISK_FALL_FROM_BED, rule->id,
                        WG_RESET_ON_NORMAL);
                    snprintf(proto.detail, sizeof proto.detail, "out of bed at night");
                    alarm_set_code(&proto, "bed_exit_night", NULL);
                    raise_into(engine, state->alarm, &proto, now);
                    state->followup_ms = rule->followup_s ? now + rule->followup_s * 1000LL : 0;
                    state->since_ms = 0;
                }
                struct wg_alarm *alarm = alarm_in(engine, state->alarm);
                if (alarm && state->followup_ms && now >= state->followup_ms) {
                    state->followup_ms = 0;
                    if (alarm->priority < WG_PRIO_EMERGENCY)
                        alarm->priority = WG_PRIO_EMERGENCY;
                    if (rule->followup_s % 60)
                        snprintf(alarm->detail, sizeof alarm->detail, "not back in bed after %d s",
                                 rule->followup_s);
                    else
                        snprintf(alarm->detail, sizeof alarm->detail,
                                 "not back in bed after %d min", rule->followup_s / 60);
                    alarm_set_code(alarm, "not_back_in_bed", "{s:i, s:i}", "min",
                                   rule->followup_s / 60, "seconds", rule->followup_s);
                    alarm_update(engine->alarms, alarm, "update");
                }
                break;
            }
            case WG_RULE_VITAL_RANGE:
                if (state->since_ms && now - state->since_ms >= hold &&
                    !alarm_in(engine, state->alarm)) {
                    struct wg_alarm proto = proto_alarm(
                        engine, d, WG_NO_INDEX, "vital_signs", rule_priority(rule, WG_PRIO_URGENT),
                        rule->risk, rule->id,
                        rule->reset_on_normal ? WG_RESET_ON_NORMAL : WG_RESET_AT_ORIGIN);
                    snprintf(proto.detail, sizeof proto.detail, "%s %.0f outside %.0f-%.0f",
                             rule->meaning, state->last_value, rule->low, rule->high);
                    alarm_set_code(&proto, "vital_range", "{s:s, s:I, s:I, s:I}", "meaning",
                                   rule->meaning, "value", (json_int_t)llround(state->last_value),
                                   "low", (json_int_t)llround(rule->low), "high",
                                   (json_int_t)llround(rule->high));
                    raise_into(engine, state->alarm, &proto, now);
                }
                break;
            case WG_RULE_GAS:
                if (state->since_ms && now - state->since_ms >= hold)
                    raise_gas(engine, rule, d, state->alarm, false, state->last_value, now);
                if (state->since2_ms && now - state->since2_ms >= hold &&
                    raise_gas(engine, rule, d, state->alarm2, true, state->last_value, now))
                    gas_interlock(engine, config->devices[d].room);
                break;
            case WG_RULE_DOOR_NIGHT:
                if (state->since_ms && now - state->since_ms >= hold &&
                    !alarm_in(engine, state->alarm)) {
                    struct wg_alarm proto = proto_alarm(engine, d, WG_NO_INDEX, "door_open_night",
                                                        rule_priority(rule, WG_PRIO_URGENT),
                                                        rule->risk ? rule->risk : WG_RISK_WANDERING,
                                                        rule->id, WG_RESET_AT_ORIGIN);
                    size_t resident =
                        room_resident_with(config, config->devices[d].room, WG_RISK_WANDERING);
                    if (resident != WG_NO_INDEX)
                        snprintf(proto.resident, sizeof proto.resident, "%s",
                                 config->residents[resident].id);
                    snprintf(proto.detail, sizeof proto.detail, "door open at night for %d s",
                             rule->for_s);
                    alarm_set_code(&proto, "door_open_night", "{s:i}", "s", rule->for_s);
                    raise_into(engine, state->alarm, &proto, now);
                }
                break;
            case WG_RULE_WELLBEING:
                if (state->seen && !alarm_in(engine, state->alarm) &&
                    now - state->last_change_ms >= rule->idle_hours * 3600000LL &&
                    (!rule->has_window ||
                     window_contains(&rule->window, clock_minute_of_day(now)))) {
                    struct wg_alarm proto = proto_alarm(engine, d, WG_NO_INDEX, "no_activity",
                                                        rule_priority(rule, WG_PRIO_ADVISORY),
                                                        rule->risk, rule->id, WG_RESET_ON_NORMAL);
                    snprintf(proto.detail, sizeof proto.detail, "no %s use for %d h", rule->meaning,
                             rule->idle_hours);
                    alarm_set_code(&proto, "no_activity", "{s:s, s:i}", "meaning", rule->meaning,
                                   "hours", rule->idle_hours);
                    raise_into(engine, state->alarm, &proto, now);
                }
                break;
            default:
                break;
            }
        }
    }
}

void engine_tick(struct wg_engine *engine, int64_t now_ms)
{
    supervise(engine, now_ms);
    rule_timers(engine, now_ms);
    alarm_run_timers(engine->alarms, now_ms, engine->level_after_s, engine->level_count);
    update_indicators(engine);
}

int engine_acknowledge(struct wg_engine *engine, const char *alarm_id, const char *who,
                       const char *where, int64_t now_ms, char *why, size_t why_len)
{
    int rc = alarm_acknowledge(engine->alarms, alarm_id, who, where, now_ms,
                               engine->config->escalation.reannunciate_s * 1000LL, why, why_len);
    if (rc == 0)
        update_indicators(engine);
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

void engine_storage_alarm(struct wg_engine *engine, bool failing, const char *detail,
                          const char *reason, size_t waiting, int64_t now_ms)
{
    struct wg_alarm *alarm = alarm_in(engine, engine->storage_alarm);
    if (!failing) {
        if (alarm)
            alarm_reset(engine->alarms, alarm, "storage", "storage working again", now_ms);
        engine->storage_alarm[0] = '\0';
        update_indicators(engine);
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
    raise_into(engine, engine->storage_alarm, &proto, now_ms);
    update_indicators(engine);
}

struct wg_alarm_table *engine_alarms(struct wg_engine *engine)
{
    return engine->alarms;
}

enum wg_health engine_device_health(const struct wg_engine *engine, size_t device)
{
    return device < engine->config->device_count ? engine->devices[device].health
                                                 : WG_HEALTH_UNKNOWN;
}

/* ---- life cycle ---- */

static void free_watches(struct device_watch *watches, size_t count)
{
    for (size_t d = 0; watches && d < count; d++) {
        for (size_t p = 0; watches[d].point_rules && p < watches[d].point_count; p++)
            free(watches[d].point_rules[p]);
        free(watches[d].point_rules);
        free(watches[d].point_rule_count);
        free(watches[d].point_technical);
        free(watches[d].written);
        free(watches[d].values);
        free(watches[d].point_alarm);
    }
    free(watches);
}

static bool rule_reads(const struct wg_rule *rule, const char *meaning)
{
    if (rule->kind != WG_RULE_COMBINE)
        return meaning_matches(rule->meaning, meaning);
    for (size_t c = 0; c < rule->condition_count; c++)
        if (meaning_matches(rule->conditions[c].meaning, meaning))
            return true;
    return false;
}

/* Works out, for every point of the device, which rules read it. */
static int bind_rules(const struct wg_config *config, struct device_watch *watch, size_t device)
{
    const struct wg_profile *profile = &config->profiles[config->devices[device].profile];
    size_t n = profile->point_count ? profile->point_count : 1;
    watch->point_rules = calloc(n, sizeof *watch->point_rules);
    watch->point_rule_count = calloc(n, sizeof *watch->point_rule_count);
    watch->point_technical = calloc(n, sizeof *watch->point_technical);
    if (!watch->point_rules || !watch->point_rule_count || !watch->point_technical)
        return -1;
    for (size_t p = 0; p < profile->point_count; p++) {
        const char *meaning = profile->points[p].meaning;
        watch->point_technical[p] = technical_entry(meaning);
        for (size_t r = 0; r < config->rule_count; r++) {
            if (!rule_reads(&config->rules[r], meaning))
                continue;
            size_t *grown =
                realloc(watch->point_rules[p], (watch->point_rule_count[p] + 1) * sizeof *grown);
            if (!grown)
                return -1;
            grown[watch->point_rule_count[p]++] = r;
            watch->point_rules[p] = grown;
        }
    }
    return 0;
}

static struct device_watch *new_watches(const struct wg_config *config)
{
    struct device_watch *watches =
        calloc(config->device_count ? config->device_count : 1, sizeof *watches);
    for (size_t d = 0; watches && d < config->device_count; d++) {
        size_t points = config->profiles[config->devices[d].profile].point_count;
        size_t n = points ? points : 1;
        watches[d].point_count = points;
        watches[d].written = malloc(n * sizeof *watches[d].written);
        watches[d].values = malloc(n * sizeof *watches[d].values);
        watches[d].point_alarm = calloc(n, 37);
        if (!watches[d].written || !watches[d].values || !watches[d].point_alarm) {
            free_watches(watches, d + 1);
            return NULL;
        }
        for (size_t p = 0; p < n; p++)
            watches[d].written[p] = watches[d].values[p] = NAN;
        if (bind_rules(config, &watches[d], d) != 0) {
            free_watches(watches, d + 1);
            return NULL;
        }
    }
    return watches;
}

static int build_state(struct wg_engine *engine, const struct wg_config *config, int64_t now_ms)
{
    struct device_watch *watches = new_watches(config);
    size_t rules = config->rule_count ? config->rule_count : 1;
    struct rule_state *states =
        calloc(rules * (config->device_count ? config->device_count : 1), sizeof *states);
    struct combine_state *combines =
        calloc(rules * (config->room_count ? config->room_count : 1), sizeof *combines);
    bool *presence = calloc(config->room_count ? config->room_count : 1, sizeof *presence);
    /* As many conditions as each combine rule has, per room: no fixed cap. */
    size_t condition_total = 0;
    for (size_t r = 0; r < config->rule_count; r++)
        if (config->rules[r].kind == WG_RULE_COMBINE)
            condition_total += config->rules[r].condition_count * config->room_count;
    struct combine_condition *conditions =
        calloc(condition_total ? condition_total : 1, sizeof *conditions);
    size_t *rooms_by_id =
        malloc((config->room_count ? config->room_count : 1) * sizeof *rooms_by_id);
    if (!watches || !states || !combines || !presence || !conditions || !rooms_by_id) {
        free_watches(watches, config->device_count);
        free(states);
        free(combines);
        free(presence);
        free(conditions);
        free(rooms_by_id);
        return -1;
    }
    for (size_t r = 0; r < config->room_count; r++)
        rooms_by_id[r] = r;
    qsort_r(rooms_by_id, config->room_count, sizeof *rooms_by_id, by_room_id, (void *)config);
    struct combine_condition *next_condition = conditions;
    for (size_t r = 0; r < config->rule_count; r++) {
        if (config->rules[r].kind != WG_RULE_COMBINE)
            continue;
        for (size_t room = 0; room < config->room_count; room++) {
            combines[r * config->room_count + room].conditions = next_condition;
            next_condition += config->rules[r].condition_count;
        }
    }
    if (engine->config) {
        /* Carry supervision over by device id and presence by room id. */
        for (size_t d = 0; d < config->device_count; d++) {
            size_t old = config_find_device(engine->config, config->devices[d].id);
            if (old == WG_NO_INDEX)
                continue;
            watches[d].last_seen_ms = engine->devices[old].last_seen_ms;
            watches[d].health = engine->devices[old].health;
            memcpy(watches[d].offline_alarm, engine->devices[old].offline_alarm, 37);
            /* What each output was last set to, by point name: a bus that keeps
             * running keeps its outputs, and they are not written again. */
            const struct wg_profile *now = &config->profiles[config->devices[d].profile];
            const struct wg_profile *before =
                &engine->config->profiles[engine->config->devices[old].profile];
            for (size_t p = 0; p < now->point_count; p++)
                for (size_t q = 0; q < before->point_count; q++)
                    if (strcmp(now->points[p].name, before->points[q].name) == 0)
                        watches[d].written[p] = engine->devices[old].written[q];
        }
        for (size_t r = 0; r < config->room_count; r++) {
            size_t old = config_find_room(engine->config, config->rooms[r].id);
            presence[r] = old != WG_NO_INDEX && engine->room_presence[old];
        }
        free_watches(engine->devices, engine->config->device_count);
        free(engine->rule_states);
        free(engine->combine_states);
        free(engine->combine_conditions);
        free(engine->rooms_by_id);
        free(engine->room_presence);
    }
    engine->config = config;
    engine->rooms_by_id = rooms_by_id;
    engine->combine_conditions = conditions;
    engine->devices = watches;
    engine->rule_states = states;
    engine->combine_states = combines;
    engine->room_presence = presence;
    engine->level_count = config->escalation.level_count < WG_ALARM_MAX_LEVEL
                              ? config->escalation.level_count
                              : WG_ALARM_MAX_LEVEL;
    for (size_t i = 0; i < engine->level_count; i++)
        engine->level_after_s[i] = config->escalation.levels[i].after_s;
    engine->started_ms = now_ms;
    engine->indicators_dirty = true; /* every output gets a defined state at start and reload */
    return 0;
}

struct wg_engine *engine_new(const struct wg_config *config, struct wg_engine_host host,
                             int64_t now_ms)
{
    struct wg_engine *engine = calloc(1, sizeof *engine);
    if (!engine)
        return NULL;
    engine->host = host;
    engine->alarms = alarm_table_new((struct wg_alarm_sink){engine, alarm_changed});
    if (!engine->alarms || build_state(engine, config, now_ms) != 0) {
        alarm_table_free(engine->alarms);
        free(engine);
        return NULL;
    }
    return engine;
}

int engine_set_config(struct wg_engine *engine, const struct wg_config *config, int64_t now_ms)
{
    int64_t started = engine->started_ms;
    if (build_state(engine, config, now_ms) != 0)
        return -1;
    engine->started_ms = started;
    /* Rules' alarms are re-linked by id, as after a restart. */
    size_t count = alarm_count(engine->alarms);
    const struct wg_alarm **active = malloc((count ? count : 1) * sizeof *active);
    if (!active)
        return -1;
    count = alarm_active(engine->alarms, active, count);
    int rc = 0;
    for (size_t i = 0; i < count; i++) {
        json_t *record = alarm_to_json(active[i]);
        if (!record || engine_restore(engine, record) != 0)
            rc = -1;
        json_decref(record);
    }
    free(active);
    return rc;
}

void engine_forget_outputs(struct wg_engine *engine, size_t device)
{
    if (device >= engine->config->device_count)
        return;
    struct device_watch *watch = &engine->devices[device];
    for (size_t p = 0; p < watch->point_count; p++)
        watch->written[p] = NAN;
    engine->indicators_dirty = true;
}

void engine_free(struct wg_engine *engine)
{
    if (!engine)
        return;
    free_watches(engine->devices, engine->config->device_count);
    free(engine->rule_states);
    free(engine->combine_states);
    free(engine->combine_conditions);
    free(engine->rooms_by_id);
    free(engine->room_presence);
    alarm_table_free(engine->alarms);
    free(engine);
}
