/* The alarm engine's rules on point values: every reading is handed to the
 * rules that read its point (calls, pull cords, presence and reset at the
 * origin, bed exit, vital signs, gas, door at night, wellbeing counters,
 * combinations) and to the technical faults any device may report. Fire
 * zones and smoke are in engine_fire.c; what waits for time in
 * engine_timed_rules.c. */
#include "alarm/engine_private.h"

#include <math.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/meaning.h"

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

static void on_call(struct wg_engine *engine, size_t r, size_t device, size_t point, double value,
                    double previous, bool first, int64_t ts)
{
    const struct wg_rule *rule = &engine->config->rules[r];
    struct rule_state *state = rule_state(engine, r, device);
    if (!rising(value, previous, first) || engine_alarm_in(engine, state->alarm))
        return; /* the same call point again: still the same call */
    if (engine_tested(engine, device, point, "call", true, ts))
        return;
    const struct wg_device *dev = &engine->config->devices[device];
    bool staff_present = dev->room != WG_NO_INDEX && engine->room_presence[dev->room];
    int priority = rule_priority(rule, WG_PRIO_NORMAL);
    struct wg_alarm proto = engine_proto_alarm(engine, device, point, "call", priority, rule->risk,
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
    engine_raise_into(engine, state->alarm, &proto, ts);
}

static void on_pull_cord(struct wg_engine *engine, size_t r, size_t device, size_t point,
                         double value, double previous, bool first, int64_t ts)
{
    const struct wg_rule *rule = &engine->config->rules[r];
    struct rule_state *state = rule_state(engine, r, device);
    if (rising(value, previous, first) && !engine_alarm_in(engine, state->alarm)) {
        if (engine_tested(engine, device, point, "pull_cord", true, ts))
            return;
        struct wg_alarm proto = engine_proto_alarm(engine, device, point, "pull_cord",
                                                   rule_priority(rule, WG_PRIO_EMERGENCY),
                                                   rule->risk, rule->id, WG_RESET_AT_ORIGIN);
        snprintf(proto.detail, sizeof proto.detail, "bathroom pull cord");
        alarm_set_code(&proto, "pull_cord", NULL);
        engine_raise_into(engine, state->alarm, &proto, ts);
    } else if (falling(value, previous, first)) {
        /* The cord is reset at its own unit, in the bathroom: that is the origin. */
        engine_reset_slot(engine, state->alarm, engine->config->devices[device].id,
                          "pull cord unit", ts);
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
        engine_rounds_room_op(engine, dev->room, dev->id, ts); /* staff in the room: a check-in */
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
    engine_rounds_room_op(engine, dev->room, dev->id, ts);
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
        engine_condition_cleared(engine, state->alarm, "back in bed", ts);
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
            engine_condition_cleared(engine, state->alarm, "back in range", ts);
    }
    state->last_value = value;
}

static void on_gas(struct wg_engine *engine, size_t r, size_t device, size_t point, double value,
                   int64_t ts)
{
    const struct wg_rule *rule = &engine->config->rules[r];
    struct rule_state *state = rule_state(engine, r, device);
    state->last_value = value;
    if (value >= rule->low) {
        /* Gas is never masked: in test mode it alarms as always, and is its test. */
        if (state->since_ms == 0 && !engine_alarm_in(engine, state->alarm))
            engine_tested(engine, device, point, "gas", false, ts);
        if (state->since_ms == 0)
            state->since_ms = ts;
    } else {
        state->since_ms = 0;
        engine_condition_cleared(engine, state->alarm, "gas below the low threshold", ts);
        engine_condition_cleared(engine, state->alarm2, "gas below the low threshold", ts);
    }
    if (value >= rule->high) {
        if (state->since2_ms == 0)
            state->since2_ms = ts;
    } else {
        state->since2_ms = 0;
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
        engine_condition_cleared(engine, state->alarm, "door closed", ts);
    }
}

static void on_wellbeing(struct wg_engine *engine, size_t r, size_t device, double value,
                         int64_t ts)
{
    struct rule_state *state = rule_state(engine, r, device);
    if (!state->seen || value > state->last_value + 1e-9) {
        if (state->seen)
            engine_condition_cleared(engine, state->alarm, "usage resumed", ts);
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
    if (!became_true || engine_alarm_in(engine, state->alarm))
        return;
    for (size_t c = 0; c < n; c++)
        if (!state->conditions[c].now_true &&
            (state->conditions[c].last_true_ms == 0 ||
             ts - state->conditions[c].last_true_ms > rule->within_s * 1000LL))
            return;
    struct wg_alarm proto = engine_proto_alarm(engine, device, point, rule->alarm_kind,
                                               rule_priority(rule, WG_PRIO_URGENT), rule->risk,
                                               rule->id, WG_RESET_AT_ORIGIN);
    proto.condition_active = false;
    snprintf(proto.detail, sizeof proto.detail, "%zu conditions within %d s", n, rule->within_s);
    alarm_set_code(&proto, "combination", "{s:i, s:i}", "n", (int)n, "within_s", rule->within_s);
    engine_raise_into(engine, state->alarm, &proto, ts);
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

int engine_technical_entry(const char *meaning)
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
        if (rising(value, previous, first) && !engine_alarm_in(engine, slot)) {
            struct wg_alarm proto =
                engine_proto_alarm(engine, device, point, technical_points[t].kind,
                                   WG_PRIO_TECHNICAL, 0, "technical", WG_RESET_ON_NORMAL);
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
            engine_raise_into(engine, slot, &proto, ts);
        } else if (falling(value, previous, first)) {
            engine_condition_cleared(engine, slot, "device normal", ts);
        }
    }
}

void engine_raise_held(struct wg_engine *engine, size_t device, int64_t now)
{
    struct device_watch *watch = &engine->devices[device];
    for (size_t p = 0; p < watch->point_count; p++) {
        double value = watch->values[p];
        if (isnan(value) || value == 0)
            continue;
        for (size_t i = 0; i < watch->point_rule_count[p]; i++) {
            size_t r = watch->point_rules[p][i];
            switch (engine->config->rules[r].kind) {
            case WG_RULE_CALL:
                on_call(engine, r, device, p, value, 0, true, now);
                break;
            case WG_RULE_PULL_CORD:
                on_pull_cord(engine, r, device, p, value, 0, true, now);
                break;
            case WG_RULE_SMOKE:
                engine_on_fire(engine, r, device, p, value, 0, true, now, "smoke");
                break;
            default:
                break; /* what test mode never masks needs nothing */
            }
        }
    }
    engine_update_indicators(engine);
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
        engine_reset_slot(engine, watch->offline_alarm, config->devices[device].id,
                          "device answered", ts_ms);
    }
    const struct wg_point_def *def = point_def(engine, device, point);
    if (def->direction == WG_POINT_OUTPUT)
        return; /* read-back of what we drive */
    bool changed = first || value != previous;
    if (changed &&
        (strcmp(def->meaning, "fire_loop") == 0 || strcmp(def->meaning, "fire_address") == 0))
        engine_on_fire_component(engine, device);
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
            on_gas(engine, r, device, point, value, ts_ms);
            break;
        case WG_RULE_FIRE_ZONE:
            engine_on_fire(engine, r, device, point, value, previous, first, ts_ms, "fire");
            break;
        case WG_RULE_SMOKE:
            engine_on_fire(engine, r, device, point, value, previous, first, ts_ms, "smoke");
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
    engine_update_indicators(engine);
}
