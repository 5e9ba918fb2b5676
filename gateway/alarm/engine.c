/* The alarm engine's state and life cycle (see engine.h): built from a
 * configuration, carried over a reload (supervision by device id, presence
 * by room id, outputs by point name, alarms re-linked to their rules), the
 * once-a-second tick, and what the core reads back. The engine's parts:
 * engine_rules.c and engine_fire.c (readings), engine_timed_rules.c,
 * engine_supervision.c (silent devices, storage), engine_outputs.c (lamps,
 * buzzers, valve, doors), engine_alarm_lifecycle.c (raise to reset),
 * engine_paging.c (carers' phones). */
#include "alarm/engine_private.h"

#include <math.h>
#include <stdlib.h>

static void alarm_changed(void *ctx, const struct wg_alarm *alarm, const char *phase)
{
    struct wg_engine *engine = ctx;
    engine->indicators_dirty = true;
    if (strcmp(phase, "raise") == 0) {
        /* The first step is paged before anybody is told, so the raise carries it. */
        struct wg_alarm *stored = alarm_find(engine->alarms, alarm->id);
        if (stored)
            engine_paging_start(engine, stored, stored->raised_ms);
    } else if (strcmp(phase, "reset") == 0) {
        engine_paging_ended(engine, alarm);
    }
    engine->host.alarm_changed(engine->host.ctx, alarm, phase);
}

static int by_room_id(const void *a, const void *b, void *ctx)
{
    const struct wg_config *config = ctx;
    return strcmp(config->rooms[*(const size_t *)a].id, config->rooms[*(const size_t *)b].id);
}

void engine_tick(struct wg_engine *engine, int64_t now_ms)
{
    engine_test_mode_tick(engine, now_ms);
    engine_rounds_tick(engine, now_ms);
    engine_supervise(engine, now_ms);
    engine_rule_timers(engine, now_ms);
    alarm_run_timers(engine->alarms, now_ms, engine->level_after_s, engine->level_count);
    engine_paging_tick(engine, now_ms);
    engine_update_indicators(engine);
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
        watch->point_technical[p] = engine_technical_entry(meaning);
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
    engine->fault_level = engine->level_count ? engine->level_count - 1 : 0;
    for (size_t i = 0; i < engine->level_count; i++) {
        engine->level_after_s[i] = config->escalation.levels[i].after_s;
        if (strcmp(config->escalation.levels[i].name, "manager") == 0)
            engine->fault_level = i;
    }
    engine->fault_escalate_ms = config->escalation.fault_escalate_s * 1000LL;
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
    if (engine_rounds_rebuild(engine, NULL, now_ms) != 0 ||
        engine_paging_rebuild(engine, NULL, now_ms) != 0) {
        engine_free(engine);
        return NULL;
    }
    return engine;
}

int engine_set_config(struct wg_engine *engine, const struct wg_config *config, int64_t now_ms)
{
    int64_t started = engine->started_ms;
    const struct wg_config *old = engine->config;
    if (build_state(engine, config, now_ms) != 0 ||
        engine_rounds_rebuild(engine, old, now_ms) != 0 ||
        engine_paging_rebuild(engine, old, now_ms) != 0)
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
    engine_test_mode_reconfigured(engine, now_ms);
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
    engine_rounds_free(engine);
    engine_paging_free(engine);
    alarm_table_free(engine->alarms);
    free(engine);
}
