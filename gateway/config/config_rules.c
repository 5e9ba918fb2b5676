/* Rules, one spec per kind (the meanings it reads, its keys, its
 * conditions), the names of rule kinds, and the escalation levels. */
#include "config/config_load_internal.h"

#include <stdio.h>
#include <string.h>

#include "common/meaning.h"

static const char *const rule_kind_names[] = {
    [WG_RULE_CALL] = "call",
    [WG_RULE_PULL_CORD] = "pull_cord",
    [WG_RULE_PRESENCE] = "presence",
    [WG_RULE_BED_EXIT] = "bed_exit",
    [WG_RULE_VITAL_RANGE] = "vital_range",
    [WG_RULE_GAS] = "gas",
    [WG_RULE_FIRE_ZONE] = "fire_zone",
    [WG_RULE_SMOKE] = "smoke",
    [WG_RULE_DOOR_NIGHT] = "door_night",
    [WG_RULE_WELLBEING] = "wellbeing",
    [WG_RULE_COMBINE] = "combine",
};
#define RULE_KIND_COUNT (sizeof rule_kind_names / sizeof rule_kind_names[0])

const char *rule_kind_name(enum wg_rule_kind kind)
{
    if ((unsigned)kind >= RULE_KIND_COUNT)
        return "unknown";
    return rule_kind_names[kind];
}

/* ---- rules ---------------------------------------------------------------------------------- */

enum meaning_shape { SHAPE_BOOL_INPUT, SHAPE_ANALOG_INPUT, SHAPE_FIRE, SHAPE_USAGE, SHAPE_NONE };

struct rule_kind_spec {
    const char *default_meaning; /* NULL: meaning is required (or derived, for combine) */
    enum meaning_shape shape;
    const char *const keys[8]; /* kind-specific keys, NULL-terminated */
};

static const struct rule_kind_spec rule_specs[] = {
    [WG_RULE_CALL] = {"call_button", SHAPE_BOOL_INPUT, {"reset_at", NULL}},
    [WG_RULE_PULL_CORD] = {"pull_cord", SHAPE_BOOL_INPUT, {NULL}},
    [WG_RULE_PRESENCE] = {"presence", SHAPE_BOOL_INPUT, {NULL}},
    [WG_RULE_BED_EXIT] = {"in_bed", SHAPE_BOOL_INPUT, {"for_s", "followup_s", "window", NULL}},
    [WG_RULE_VITAL_RANGE] = {NULL,
                             SHAPE_ANALOG_INPUT,
                             {"low", "high", "for_s", "reset_on_normal", "reset_at", NULL}},
    [WG_RULE_GAS] = {"gas_lel",
                     SHAPE_ANALOG_INPUT,
                     {"low", "high", "for_s", "reset_on_normal", "reset_at", NULL}},
    [WG_RULE_FIRE_ZONE] = {"fire_zone", SHAPE_FIRE, {NULL}},
    [WG_RULE_SMOKE] = {"smoke", SHAPE_BOOL_INPUT, {"reset_on_normal", "reset_at", NULL}},
    [WG_RULE_DOOR_NIGHT] = {"door_open", SHAPE_BOOL_INPUT, {"for_s", "window", "reset_at", NULL}},
    [WG_RULE_WELLBEING] = {"water_m3", SHAPE_USAGE, {"idle_hours", "window", NULL}},
    [WG_RULE_COMBINE] = {NULL,
                         SHAPE_NONE,
                         {"conditions", "within_s", "alarm_kind", "reset_at", NULL}},
};

static const char *const rule_common_keys[] = {"id", "kind", "meaning", "priority", "risk"};
#define RULE_COMMON_COUNT (sizeof rule_common_keys / sizeof rule_common_keys[0])

static const char *const compare_names[][2] = {
    [WG_CMP_EQ] = {"==", "eq"}, [WG_CMP_NE] = {"!=", "ne"}, [WG_CMP_LT] = {"<", "lt"},
    [WG_CMP_LE] = {"<=", "le"}, [WG_CMP_GT] = {">", "gt"},  [WG_CMP_GE] = {">=", "ge"},
};

static bool meaning_fits(const struct wg_meaning_info *info, int index, enum meaning_shape shape)
{
    switch (shape) {
    case SHAPE_BOOL_INPUT:
        return info->kind == WG_POINT_BOOL && info->direction == WG_POINT_INPUT && !info->indexed;
    case SHAPE_ANALOG_INPUT:
        return info->kind == WG_POINT_ANALOG && info->direction == WG_POINT_INPUT;
    case SHAPE_FIRE:
        return info->indexed && strcmp(info->name, "fire_zone") == 0;
    case SHAPE_USAGE:
        return info->kind != WG_POINT_BOOL && info->direction == WG_POINT_INPUT;
    case SHAPE_NONE:
        break;
    }
    (void)index;
    return true;
}

static const char *const shape_words[] = {
    [SHAPE_BOOL_INPUT] = "a bool input meaning such as call_button or door_open",
    [SHAPE_ANALOG_INPUT] = "an analog input meaning such as heart_rate or gas_lel",
    [SHAPE_FIRE] = "\"fire_zone\" (all zones) or \"fire_zone_N\"",
    [SHAPE_USAGE] = "a meter meaning such as water_m3 or energy_kwh",
    [SHAPE_NONE] = "any meaning",
};

static bool check_meaning(struct loader *ld, const struct wg_cfg_node *node, const char *key,
                          const char *meaning, enum meaning_shape shape)
{
    int index = 0;
    const struct wg_meaning_info *info = meaning_lookup(meaning, &index);
    if (!info) {
        diag_at(ld->diag, node, "%s: \"%s\" is not in the vocabulary (see docs/config.md)", key,
                meaning);
        return false;
    }
    if (!meaning_fits(info, index, shape)) {
        diag_at(ld->diag, node, "%s: expected %s, got \"%s\"", key, shape_words[shape], meaning);
        return false;
    }
    return true;
}

static void load_conditions(struct loader *ld, const struct wg_cfg_node *item, struct wg_rule *rule)
{
    static const char *const keys[] = {"meaning", "op", "value", NULL};
    const struct wg_cfg_node *list = cfg_get(item, "conditions");
    if (!cfg_require_in(ld->diag, item, "conditions", "rule of kind \"combine\"") ||
        !expect_seq(ld, list, "conditions"))
        return;
    if (list->count < 2)
        diag_at(ld->diag, list, "conditions: expected at least two conditions to combine");
    rule->conditions = ld_alloc(ld, list->count, sizeof *rule->conditions);
    for (size_t i = 0; rule->conditions && i < list->count; i++) {
        const struct wg_cfg_node *entry = list->items[i];
        if (!expect_map(ld, entry, "condition"))
            continue;
        cfg_only_keys_in(ld->diag, entry, keys, "condition");
        struct wg_condition *condition = &rule->conditions[rule->condition_count];
        bool ok =
            cfg_require_in(ld->diag, entry, "meaning", "condition") &&
            read_text(ld, entry, "meaning", false, &condition->meaning) &&
            check_meaning(ld, cfg_get(entry, "meaning"), "meaning", condition->meaning, SHAPE_NONE);
        const char *op = NULL;
        if (cfg_require_in(ld->diag, entry, "op", "condition") &&
            read_text(ld, entry, "op", false, &op) && op) {
            int found = -1;
            for (int c = 0; c < 6 && found < 0; c++)
                if (strcmp(op, compare_names[c][0]) == 0 || strcmp(op, compare_names[c][1]) == 0)
                    found = c;
            if (found < 0) {
                diag_at(ld->diag, cfg_get(entry, "op"),
                        "op: expected one of: eq, ne, lt, le, gt, ge (or \"==\", \"!=\", \"<\", "
                        "\"<=\", \">\", \">=\" in quotes), got \"%s\"",
                        op);
                ok = false;
            }
            condition->op = (enum wg_compare)(found < 0 ? 0 : found);
        } else {
            ok = false;
        }
        const struct wg_cfg_node *value = cfg_get(entry, "value");
        bool flag = false;
        if (!cfg_require_in(ld->diag, entry, "value", "condition")) {
            ok = false;
        } else if (value->type == WG_CFG_SCALAR && !value->quoted &&
                   (strcmp(value->scalar, "true") == 0 || strcmp(value->scalar, "false") == 0)) {
            cfg_read_bool(ld->diag, entry, "value", &flag);
            condition->value = flag ? 1.0 : 0.0;
        } else if (!cfg_read_double(ld->diag, entry, "value", &condition->value)) {
            ok = false;
        }
        if (ok)
            rule->condition_count++;
    }
}

static void load_rule(struct loader *ld, const struct wg_cfg_node *item)
{
    struct wg_config *config = ld->config;
    if (!expect_map(ld, item, "rule"))
        return;
    struct wg_rule *rule = &config->rules[config->rule_count];
    *rule = (struct wg_rule){.priority = -1, .node = item};
    bool ok =
        cfg_require_in(ld->diag, item, "id", "rule") && read_id(ld, item, "id", false, &rule->id);
    for (size_t i = 0; ok && i < config->rule_count; i++)
        if (strcmp(config->rules[i].id, rule->id) == 0) {
            diag_at(ld->diag, cfg_get(item, "id"), "rule id \"%s\" is used twice", rule->id);
            ok = false;
        }
    const char *kind_text = NULL;
    if (!cfg_require_in(ld->diag, item, "kind", "rule") ||
        !read_text(ld, item, "kind", false, &kind_text) || !kind_text)
        return;
    int kind = name_index(rule_kind_names, RULE_KIND_COUNT, kind_text);
    if (kind < 0) {
        diag_at(ld->diag, cfg_get(item, "kind"),
                "kind: expected one of: call, pull_cord, presence, bed_exit, vital_range, gas, "
                "fire_zone, smoke, door_night, wellbeing, combine, got \"%s\"",
                kind_text);
        return;
    }
    rule->kind = (enum wg_rule_kind)kind;
    const struct rule_kind_spec *spec = &rule_specs[kind];

    const char *allowed[RULE_COMMON_COUNT + 8];
    size_t allowed_count = 0;
    for (size_t i = 0; i < RULE_COMMON_COUNT; i++)
        if (kind != WG_RULE_COMBINE || strcmp(rule_common_keys[i], "meaning") != 0)
            allowed[allowed_count++] = rule_common_keys[i];
    for (size_t i = 0; spec->keys[i]; i++)
        allowed[allowed_count++] = spec->keys[i];
    allowed[allowed_count] = NULL;
    char what[64];
    snprintf(what, sizeof what, "rule of kind \"%s\"", kind_text);
    if (!cfg_only_keys_in(ld->diag, item, allowed, what))
        ok = false;

    rule->meaning = spec->default_meaning;
    if (kind != WG_RULE_COMBINE) {
        if (!spec->default_meaning && !cfg_require_in(ld->diag, item, "meaning", what))
            ok = false;
        if (!read_text(ld, item, "meaning", false, &rule->meaning))
            ok = false;
        else if (rule->meaning && cfg_get(item, "meaning") &&
                 !check_meaning(ld, cfg_get(item, "meaning"), "meaning", rule->meaning,
                                spec->shape))
            ok = false;
    }
    const char *text = NULL;
    if (read_text(ld, item, "priority", false, &text) && text) {
        rule->priority = priority_from_name(text);
        if (rule->priority < 0)
            diag_at(ld->diag, cfg_get(item, "priority"),
                    "priority: expected one of: fire, emergency, urgent, normal, technical, "
                    "advisory, got \"%s\"",
                    text);
    }
    text = NULL;
    if (read_text(ld, item, "risk", false, &text) && text) {
        int bit = risk_from_name(text);
        if (bit < 0)
            diag_at(ld->diag, cfg_get(item, "risk"),
                    "risk: expected a GB 38600 risk name (choking, wrong_ingestion, "
                    "pressure_sore, scald, fall_from_bed, fall, wandering, harm, "
                    "activity_accident), got \"%s\"",
                    text);
        else
            rule->risk = bit;
    }

    switch (rule->kind) {
    case WG_RULE_BED_EXIT:
    case WG_RULE_DOOR_NIGHT:
        read_int(ld, item, "for_s", 0, 86400, &rule->for_s);
        read_int(ld, item, "followup_s", 0, 86400, &rule->followup_s);
        read_window(ld, item, "window", &rule->has_window, &rule->window);
        break;
    case WG_RULE_VITAL_RANGE:
    case WG_RULE_GAS:
        if (rule->kind == WG_RULE_GAS) {
            rule->low = 25;
            rule->high = 50;
        } else {
            rule->for_s = 60;
            if (!cfg_require_in(ld->diag, item, "low", what) ||
                !cfg_require_in(ld->diag, item, "high", what))
                ok = false;
        }
        if (cfg_read_double(ld->diag, item, "low", &rule->low) &&
            cfg_read_double(ld->diag, item, "high", &rule->high) && rule->low >= rule->high &&
            (rule->kind == WG_RULE_GAS || (cfg_get(item, "low") && cfg_get(item, "high")))) {
            const struct wg_cfg_node *where =
                cfg_get(item, "high") ? cfg_get(item, "high") : cfg_get(item, "low");
            diag_at(ld->diag, where ? where : item, "high: expected more than low (%g), got %g",
                    rule->low, rule->high);
        }
        read_int(ld, item, "for_s", 0, 86400, &rule->for_s);
        cfg_read_bool(ld->diag, item, "reset_on_normal", &rule->reset_on_normal);
        break;
    case WG_RULE_SMOKE:
        cfg_read_bool(ld->diag, item, "reset_on_normal", &rule->reset_on_normal);
        break;
    case WG_RULE_WELLBEING:
        if (cfg_require_in(ld->diag, item, "idle_hours", what))
            read_int(ld, item, "idle_hours", 1, 72, &rule->idle_hours);
        read_window(ld, item, "window", &rule->has_window, &rule->window);
        break;
    case WG_RULE_COMBINE:
        load_conditions(ld, item, rule);
        rule->meaning = rule->condition_count ? rule->conditions[0].meaning : "";
        if (cfg_require_in(ld->diag, item, "within_s", what))
            read_int(ld, item, "within_s", 1, 3600, &rule->within_s);
        if (cfg_require_in(ld->diag, item, "alarm_kind", what))
            read_id(ld, item, "alarm_kind", false, &rule->alarm_kind);
        break;
    case WG_RULE_CALL:
    case WG_RULE_PULL_CORD:
    case WG_RULE_PRESENCE:
    case WG_RULE_FIRE_ZONE:
        break;
    }
    if (read_text(ld, item, "reset_at", false, &rule->reset_at) && rule->reset_at &&
        rule->reset_on_normal)
        diag_at(ld->diag, cfg_get(item, "reset_at"),
                "reset_at: an alarm that ends by itself (reset_on_normal: true) is not reset "
                "anywhere; give one or the other");
    if (ok && rule->meaning)
        config->rule_count++;
}

void load_rules(struct loader *ld, const struct wg_cfg_node *rules)
{
    if (!rules || !expect_seq(ld, rules, "rules"))
        return;
    ld->config->rules = ld_alloc(ld, rules->count, sizeof *ld->config->rules);
    for (size_t i = 0; ld->config->rules && i < rules->count; i++)
        load_rule(ld, rules->items[i]);
}

/* ---- escalation ----------------------------------------------------------------------------- */

void load_escalation(struct loader *ld, const struct wg_cfg_node *escalation)
{
    static const char *const keys[] = {"reannunciate_s", "fault_escalate_s", "levels", NULL};
    static const char *const level_keys[] = {"name", "after_s", NULL};
    static const struct wg_escalation_level default_levels[] = {
        {"carer", 0}, {"floor_lead", 300}, {"manager", 900}, {"district", 1800}};
    struct wg_escalation *out = &ld->config->escalation;
    out->reannunciate_s = 180;
    out->fault_escalate_s = 7200; /* JGJ/T 484: remedial action for a fault not fixed in 2 h */
    const struct wg_cfg_node *levels = NULL;
    if (escalation && expect_map(ld, escalation, "escalation")) {
        cfg_only_keys_in(ld->diag, escalation, keys, "escalation");
        read_int(ld, escalation, "reannunciate_s", 10, 86400, &out->reannunciate_s);
        read_int(ld, escalation, "fault_escalate_s", 60, 7 * 86400, &out->fault_escalate_s);
        levels = cfg_get(escalation, "levels");
    }
    if (!levels) {
        size_t count = sizeof default_levels / sizeof default_levels[0];
        out->levels = ld_alloc(ld, count, sizeof *out->levels);
        if (out->levels) {
            memcpy(out->levels, default_levels, sizeof default_levels);
            out->level_count = count;
        }
        return;
    }
    if (!expect_seq(ld, levels, "levels"))
        return;
    if (levels->count == 0)
        diag_at(ld->diag, levels,
                "levels: expected at least one level, e.g. {name: carer, "
                "after_s: 0}");
    out->levels = ld_alloc(ld, levels->count, sizeof *out->levels);
    for (size_t i = 0; out->levels && i < levels->count; i++) {
        const struct wg_cfg_node *item = levels->items[i];
        if (!expect_map(ld, item, "escalation level"))
            continue;
        cfg_only_keys_in(ld->diag, item, level_keys, "escalation level");
        struct wg_escalation_level *level = &out->levels[out->level_count];
        bool ok = cfg_require_in(ld->diag, item, "name", "escalation level") &&
                  read_id(ld, item, "name", false, &level->name);
        for (size_t j = 0; ok && j < out->level_count; j++)
            if (strcmp(out->levels[j].name, level->name) == 0) {
                diag_at(ld->diag, cfg_get(item, "name"), "name: level \"%s\" is listed twice",
                        level->name);
                ok = false;
            }
        if (!cfg_require_in(ld->diag, item, "after_s", "escalation level") ||
            !read_int(ld, item, "after_s", 0, 7 * 86400, &level->after_s))
            ok = false;
        else if (out->level_count > 0 &&
                 level->after_s <= out->levels[out->level_count - 1].after_s) {
            diag_at(ld->diag, cfg_get(item, "after_s"),
                    "after_s: levels must come strictly later one after another: expected more "
                    "than %d (level \"%s\"), got %d",
                    out->levels[out->level_count - 1].after_s,
                    out->levels[out->level_count - 1].name, level->after_s);
            ok = false;
        }
        if (ok)
            out->level_count++;
    }
}
