/* Checks across sections, made once every section has loaded cleanly (no
 * cascades): every rule has devices with the points it reads, every
 * latching alarm can be reset at its origin, and a fire zone without a
 * place is a warning. */
#include "config/config_load_internal.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "common/meaning.h"

/* True when a point meaning is `meaning`, or one of its indexed forms
 * ("fire_zone" matches "fire_zone_3"). */
static bool meaning_covers(const char *meaning, const char *have)
{
    size_t len = strlen(meaning);
    return strcmp(have, meaning) == 0 || (strncmp(have, meaning, len) == 0 && have[len] == '_' &&
                                          have[len + 1] >= '0' && have[len + 1] <= '9');
}

static bool device_has(const struct wg_config *config, const struct wg_device *device,
                       const char *meaning)
{
    const struct wg_profile *profile = &config->profiles[device->profile];
    for (size_t p = 0; p < profile->point_count; p++)
        if (meaning_covers(meaning, profile->points[p].meaning))
            return true;
    return false;
}

/* True when a device has a point with this meaning. */
static bool some_device_has(const struct wg_config *config, const char *meaning)
{
    for (size_t d = 0; d < config->device_count; d++)
        if (device_has(config, &config->devices[d], meaning))
            return true;
    return false;
}

/* A rule bound to a point no device has would never fire: refuse it, naming the place. */
void check_rule_points(struct loader *ld)
{
    const struct wg_config *config = ld->config;
    for (size_t r = 0; r < config->rule_count; r++) {
        const struct wg_rule *rule = &config->rules[r];
        if (rule->kind == WG_RULE_COMBINE) {
            const struct wg_cfg_node *conditions = cfg_get(rule->node, "conditions");
            for (size_t c = 0; c < rule->condition_count; c++)
                if (!some_device_has(config, rule->conditions[c].meaning)) {
                    diag_at(ld->diag, cfg_get(cfg_seq_at(conditions, c), "meaning"),
                            "meaning: rule \"%s\" needs a point meaning \"%s\", but no device "
                            "has one (check devices: and their profiles)",
                            rule->id, rule->conditions[c].meaning);
                    diag_code(ld->diag, "rule_point_missing", "{s:s, s:s}", "rule", rule->id,
                              "meaning", rule->conditions[c].meaning);
                }
        } else if (rule->meaning && !some_device_has(config, rule->meaning)) {
            const struct wg_cfg_node *at = cfg_get(rule->node, "meaning");
            diag_at(ld->diag, at ? at : rule->node,
                    "meaning: rule \"%s\" needs a point meaning \"%s\", but no device has one "
                    "(check devices: and their profiles)",
                    rule->id, rule->meaning);
            diag_code(ld->diag, "rule_point_missing", "{s:s, s:s}", "rule", rule->id, "meaning",
                      rule->meaning);
        }
    }
}

/* ---- every latching alarm can end ----------------------------------------------------------- */

bool rule_latches(const struct wg_rule *rule)
{
    switch (rule->kind) {
    case WG_RULE_CALL:
    case WG_RULE_DOOR_NIGHT:
    case WG_RULE_COMBINE:
        return true;
    case WG_RULE_VITAL_RANGE:
    case WG_RULE_GAS:
    case WG_RULE_SMOKE:
        return !rule->reset_on_normal;
    default:
        return false; /* pull cords reset at their unit; the rest end by themselves */
    }
}

/* Whether the device can end latched alarms where it is: enabled, with a
 * reset button, or (when `presence_counts`) a point a presence rule reads:
 * presence attends, and presence going off after attending resets. */
static bool device_resets(const struct wg_config *config, const struct wg_device *device,
                          bool presence_counts)
{
    if (!device->enabled)
        return false;
    if (device_has(config, device, "reset_button"))
        return true;
    for (size_t r = 0; presence_counts && r < config->rule_count; r++)
        if (config->rules[r].kind == WG_RULE_PRESENCE &&
            device_has(config, device, config->rules[r].meaning))
            return true;
    return false;
}

static bool room_has_reset(const struct wg_config *config, size_t room, bool presence_counts)
{
    for (size_t d = 0; d < config->device_count; d++)
        if (config->devices[d].room == room &&
            device_resets(config, &config->devices[d], presence_counts))
            return true;
    return false;
}

/* Whether the rule can raise in `room` (a combine rule: every condition has a device there). */
static bool rule_raises_in(const struct wg_config *config, const struct wg_rule *rule, size_t room)
{
    if (rule->kind != WG_RULE_COMBINE) {
        for (size_t d = 0; d < config->device_count; d++)
            if (config->devices[d].enabled && config->devices[d].room == room &&
                device_has(config, &config->devices[d], rule->meaning))
                return true;
        return false;
    }
    for (size_t c = 0; c < rule->condition_count; c++) {
        bool found = false;
        for (size_t d = 0; d < config->device_count && !found; d++)
            found = config->devices[d].enabled && config->devices[d].room == room &&
                    device_has(config, &config->devices[d], rule->conditions[c].meaning);
        if (!found)
            return false;
    }
    return rule->condition_count > 0;
}

/* reset_at names a room or a device that can end the rule's alarms. */
static void check_reset_at(struct loader *ld, const struct wg_rule *rule, bool presence_counts)
{
    const struct wg_config *config = ld->config;
    const struct wg_cfg_node *at = cfg_get(rule->node, "reset_at");
    size_t room = config_find_room(config, rule->reset_at);
    size_t device = config_find_device(config, rule->reset_at);
    if (room != WG_NO_INDEX && device != WG_NO_INDEX) {
        diag_at(ld->diag, at, "reset_at: \"%s\" names both a room and a device; rename one",
                rule->reset_at);
    } else if (room != WG_NO_INDEX && !room_has_reset(config, room, presence_counts)) {
        diag_at(ld->diag, at,
                "reset_at: room \"%s\" has no reset device (an enabled device with a reset "
                "button%s), so rule \"%s\"'s alarms could never end there",
                rule->reset_at,
                presence_counts ? ", or a presence button a presence rule reads" : "", rule->id);
        diag_code(ld->diag, "no_reset_device", "{s:s, s:s, s:[s]}", "rule", rule->id, "kind",
                  rule_kind_name(rule->kind), "rooms", rule->reset_at);
    } else if (device != WG_NO_INDEX &&
               !device_resets(config, &config->devices[device], presence_counts)) {
        bool disabled = !config->devices[device].enabled;
        diag_at(ld->diag, at,
                "reset_at: device \"%s\" %s, so rule \"%s\"'s alarms could never end there",
                rule->reset_at,
                disabled          ? "is disabled"
                : presence_counts ? "has no reset button nor a presence button a presence rule "
                                    "reads"
                                  : "has no reset button",
                rule->id);
        diag_code(ld->diag, "reset_device_cannot_reset", "{s:s, s:s, s:b}", "rule", rule->id,
                  "device", rule->reset_at, "disabled", disabled);
    } else if (room == WG_NO_INDEX && device == WG_NO_INDEX) {
        diag_at(ld->diag, at, "reset_at: no room or device \"%s\" is defined", rule->reset_at);
        diag_code(ld->diag, "unknown_reference", "{s:s, s:s, s:s}", "key", "reset_at", "what",
                  "room or device", "value", rule->reset_at);
    }
}

/* An alarm that latches until a reset at its origin must have an origin
 * that can reset it, or it would stay on the board for ever: refuse, at the
 * rule's line, a rule that raises in a room without a reset device (or on a
 * device with no room), unless it says how its alarms end. */
void check_rule_ends(struct loader *ld)
{
    const struct wg_config *config = ld->config;
    for (size_t r = 0; r < config->rule_count; r++) {
        const struct wg_rule *rule = &config->rules[r];
        if (!rule_latches(rule))
            continue;
        /* Presence attends only calls of priority normal and above. */
        bool presence_counts = rule->priority < 0 || rule->priority >= WG_PRIO_NORMAL;
        if (rule->reset_at) {
            check_reset_at(ld, rule, presence_counts);
            continue;
        }
        char rooms[256] = "";
        size_t missing = 0;
        json_t *room_ids = json_array();
        for (size_t room = 0; room < config->room_count; room++) {
            if (!rule_raises_in(config, rule, room) ||
                room_has_reset(config, room, presence_counts))
                continue;
            json_array_append_new(room_ids, json_string(config->rooms[room].id));
            size_t used = strlen(rooms);
            if (missing++ < 4)
                snprintf(rooms + used, sizeof rooms - used, "%s\"%s\"", used ? ", " : "",
                         config->rooms[room].id);
        }
        const char *roomless = NULL;
        for (size_t d = 0; d < config->device_count && !roomless && rule->kind != WG_RULE_COMBINE;
             d++)
            if (config->devices[d].enabled && config->devices[d].room == WG_NO_INDEX &&
                device_has(config, &config->devices[d], rule->meaning))
                roomless = config->devices[d].id;
        if (!missing && !roomless) {
            json_decref(room_ids);
            continue;
        }
        char where[384];
        if (missing)
            snprintf(where, sizeof where,
                     "room%s %s%s ha%s no reset device (an enabled device "
                     "with a reset button%s)",
                     missing > 1 ? "s" : "", rooms, missing > 4 ? " and more" : "",
                     missing > 1 ? "ve" : "s",
                     presence_counts ? ", or a presence button a presence rule reads" : "");
        else
            snprintf(where, sizeof where, "device \"%s\" has no room", roomless);
        bool may_end_by_itself = rule->kind == WG_RULE_VITAL_RANGE || rule->kind == WG_RULE_GAS ||
                                 rule->kind == WG_RULE_SMOKE;
        diag_at(ld->diag, rule->node,
                "rule \"%s\" (%s): its alarms stay until they are reset at their origin, but %s, "
                "so they could never end; %s, or say where they are reset: reset_at: <a room or "
                "device with a reset button>%s",
                rule->id, rule_kind_name(rule->kind), where,
                missing ? "add one there" : "give it a room that has one",
                may_end_by_itself ? ", or that they end by themselves: reset_on_normal: true" : "");
        diag_code(ld->diag, "no_reset_device", "{s:s, s:s, s:o, s:s?}", "rule", rule->id, "kind",
                  rule_kind_name(rule->kind), "rooms", room_ids, "device",
                  missing ? NULL : roomless);
    }
}

/* A fire zone without a place still alarms, at the panel's own room; that is
 * rarely what a site wants, so it is a warning naming the zones. */
void warn_unmapped_fire_zones(struct loader *ld)
{
    const struct wg_config *config = ld->config;
    bool fire_rule = false;
    for (size_t r = 0; r < config->rule_count; r++)
        fire_rule = fire_rule || config->rules[r].kind == WG_RULE_FIRE_ZONE;
    for (size_t d = 0; fire_rule && d < config->device_count; d++) {
        const struct wg_device *device = &config->devices[d];
        int zones[999], unmapped[999];
        size_t count = profile_fire_zones(&config->profiles[device->profile], zones, 999),
               missing = 0;
        for (size_t z = 0; device->enabled && z < count; z++)
            if (!config_fire_place(device, zones[z], 0, 0))
                unmapped[missing++] = zones[z];
        if (!missing)
            continue;
        char list[512];
        diag_at(
            &ld->config->warnings, device->node,
            "warning: device \"%s\": fire zone%s %s %s no place (places:); %s alarms show at "
            "%s%s%s",
            device->id, missing > 1 ? "s" : "", zone_ranges(unmapped, missing, list, sizeof list),
            missing > 1 ? "have" : "has", missing > 1 ? "their" : "its",
            device->room != WG_NO_INDEX ? "the panel's room \"" : "no room (the panel has none)",
            device->room != WG_NO_INDEX ? config->rooms[device->room].id : "",
            device->room != WG_NO_INDEX ? "\"" : "");
    }
}
