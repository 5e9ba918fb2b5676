/* The alarm engine's rules that wait for time, checked every second: out
 * of bed at night (and not back), vital signs out of range, gas above its
 * thresholds (with the interlock), a door open at night, no activity. */
#include "alarm/engine_private.h"

#include <math.h>

#include "common/clock.h"

/* Raises gas_low or gas_high for the device unless its slot holds one already. */
static bool raise_gas(struct wg_engine *engine, const struct wg_rule *rule, size_t device,
                      char *slot, bool high, double lel, int64_t now)
{
    if (engine_alarm_in(engine, slot))
        return false;
    struct wg_alarm proto =
        engine_proto_alarm(engine, device, WG_NO_INDEX, high ? "gas_high" : "gas_low",
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
    engine_raise_into(engine, slot, &proto, now);
    return true;
}

static bool rule_has_timers(enum wg_rule_kind kind)
{
    return kind == WG_RULE_BED_EXIT || kind == WG_RULE_VITAL_RANGE || kind == WG_RULE_GAS ||
           kind == WG_RULE_DOOR_NIGHT || kind == WG_RULE_WELLBEING;
}

void engine_rule_timers(struct wg_engine *engine, int64_t now)
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
                    !engine_alarm_in(engine, state->alarm)) {
                    struct wg_alarm proto = engine_proto_alarm(
                        engine, d, WG_NO_INDEX, "bed_exit", rule_priority(rule, WG_PRIO_URGENT),
                        rule->risk ? rule->risk : WG_RISK_FALL_FROM_BED, rule->id,
                        WG_RESET_ON_NORMAL);
                    snprintf(proto.detail, sizeof proto.detail, "out of bed at night");
                    alarm_set_code(&proto, "bed_exit_night", NULL);
                    engine_raise_into(engine, state->alarm, &proto, now);
                    state->followup_ms = rule->followup_s ? now + rule->followup_s * 1000LL : 0;
                    state->since_ms = 0;
                }
                struct wg_alarm *alarm = engine_alarm_in(engine, state->alarm);
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
                    !engine_alarm_in(engine, state->alarm)) {
                    struct wg_alarm proto = engine_proto_alarm(
                        engine, d, WG_NO_INDEX, "vital_signs", rule_priority(rule, WG_PRIO_URGENT),
                        rule->risk, rule->id,
                        rule->reset_on_normal ? WG_RESET_ON_NORMAL : WG_RESET_AT_ORIGIN);
                    snprintf(proto.detail, sizeof proto.detail, "%s %.0f outside %.0f-%.0f",
                             rule->meaning, state->last_value, rule->low, rule->high);
                    alarm_set_code(&proto, "vital_range", "{s:s, s:I, s:I, s:I}", "meaning",
                                   rule->meaning, "value", (json_int_t)llround(state->last_value),
                                   "low", (json_int_t)llround(rule->low), "high",
                                   (json_int_t)llround(rule->high));
                    engine_raise_into(engine, state->alarm, &proto, now);
                }
                break;
            case WG_RULE_GAS:
                if (state->since_ms && now - state->since_ms >= hold)
                    raise_gas(engine, rule, d, state->alarm, false, state->last_value, now);
                if (state->since2_ms && now - state->since2_ms >= hold &&
                    raise_gas(engine, rule, d, state->alarm2, true, state->last_value, now))
                    engine_gas_interlock(engine, config->devices[d].room);
                break;
            case WG_RULE_DOOR_NIGHT:
                if (state->since_ms && now - state->since_ms >= hold &&
                    !engine_alarm_in(engine, state->alarm)) {
                    struct wg_alarm proto = engine_proto_alarm(
                        engine, d, WG_NO_INDEX, "door_open_night",
                        rule_priority(rule, WG_PRIO_URGENT),
                        rule->risk ? rule->risk : WG_RISK_WANDERING, rule->id, WG_RESET_AT_ORIGIN);
                    size_t resident =
                        room_resident_with(config, config->devices[d].room, WG_RISK_WANDERING);
                    if (resident != WG_NO_INDEX)
                        snprintf(proto.resident, sizeof proto.resident, "%s",
                                 config->residents[resident].id);
                    snprintf(proto.detail, sizeof proto.detail, "door open at night for %d s",
                             rule->for_s);
                    alarm_set_code(&proto, "door_open_night", "{s:i}", "s", rule->for_s);
                    engine_raise_into(engine, state->alarm, &proto, now);
                }
                break;
            case WG_RULE_WELLBEING:
                if (state->seen && !engine_alarm_in(engine, state->alarm) &&
                    now - state->last_change_ms >= rule->idle_hours * 3600000LL &&
                    (!rule->has_window ||
                     window_contains(&rule->window, clock_minute_of_day(now)))) {
                    struct wg_alarm proto =
                        engine_proto_alarm(engine, d, WG_NO_INDEX, "no_activity",
                                           rule_priority(rule, WG_PRIO_ADVISORY), rule->risk,
                                           rule->id, WG_RESET_ON_NORMAL);
                    snprintf(proto.detail, sizeof proto.detail, "no %s use for %d h", rule->meaning,
                             rule->idle_hours);
                    alarm_set_code(&proto, "no_activity", "{s:s, s:i}", "meaning", rule->meaning,
                                   "hours", rule->idle_hours);
                    engine_raise_into(engine, state->alarm, &proto, now);
                }
                break;
            default:
                break;
            }
        }
    }
}
