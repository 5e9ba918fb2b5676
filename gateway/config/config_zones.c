/* Zones, their rooms (of a known kind) and the rooms' beds. */
#include "config/config_load_internal.h"

#include <string.h>

/* ---- zones, rooms, beds --------------------------------------------------------------------- */

static const char *const room_kinds[] = {"resident", "bathroom", "kitchen",   "corridor",
                                         "common",   "office",   "stairwell", "plant"};
#define ROOM_KIND_COUNT (sizeof room_kinds / sizeof room_kinds[0])

static void load_room(struct loader *ld, const struct wg_cfg_node *item, size_t zone)
{
    static const char *const keys[] = {"id", "name", "kind", "beds", NULL};
    struct wg_config *config = ld->config;
    if (!expect_map(ld, item, "room")) {
        ld->places_incomplete = true;
        return;
    }
    /* A misspelt "beds" would make every bed of the room look unknown later. */
    if (!cfg_only_keys_in(ld->diag, item, keys, "room"))
        ld->places_incomplete = true;
    struct wg_room *room = &config->rooms[config->room_count];
    room->zone = zone;
    room->kind = "resident";
    if (!cfg_require_in(ld->diag, item, "id", "room") ||
        !read_id(ld, item, "id", false, &room->id)) {
        ld->places_incomplete = true;
        return;
    }
    for (size_t i = 0; i < config->room_count; i++)
        if (strcmp(config->rooms[i].id, room->id) == 0) {
            diag_at(ld->diag, cfg_get(item, "id"),
                    "room id \"%s\" is used twice (also in zone \"%s\")", room->id,
                    config->zones[config->rooms[i].zone].id);
            return;
        }
    room->name = room->id;
    read_text(ld, item, "name", false, &room->name);
    const char *kind = NULL;
    if (read_text(ld, item, "kind", false, &kind) && kind) {
        if (name_index(room_kinds, ROOM_KIND_COUNT, kind) < 0)
            diag_at(ld->diag, cfg_get(item, "kind"),
                    "kind: expected one of: resident, bathroom, kitchen, corridor, common, "
                    "office, stairwell, plant, got \"%s\"",
                    kind);
        else
            room->kind = kind;
    }
    size_t room_index = config->room_count++;
    const struct wg_cfg_node *beds = cfg_get(item, "beds");
    if (!beds)
        return;
    if (!expect_seq(ld, beds, "beds")) {
        ld->places_incomplete = true;
        return;
    }
    size_t first_bed = config->bed_count;
    for (size_t i = 0; i < beds->count; i++) {
        const struct wg_cfg_node *label_node = beds->items[i];
        const char *label = cfg_scalar(label_node);
        if (!label || !*label || !id_syntax_ok(label, false)) {
            diag_at(ld->diag, label_node, "beds: expected a short bed label such as A or 1, got %s",
                    label ? label : "a structure");
            diag_code(ld->diag, "bad_bed_label", "{s:s?}", "value", label);
            ld->places_incomplete = true;
            continue;
        }
        bool duplicate = false;
        for (size_t j = first_bed; j < config->bed_count && !duplicate; j++)
            duplicate = strcmp(config->beds[j].label, label) == 0;
        if (duplicate) {
            diag_at(ld->diag, label_node, "beds: bed \"%s\" is listed twice in room \"%s\"", label,
                    room->id);
            diag_code(ld->diag, "duplicate_bed", "{s:s, s:s}", "bed", label, "room", room->id);
            continue;
        }
        struct wg_bed *bed = &config->beds[config->bed_count];
        bed->label = label;
        bed->room = room_index;
        bed->id = ld_printf(ld, "%s-%s", room->id, label);
        if (!bed->id)
            return;
        config->bed_count++;
    }
}

void load_zones(struct loader *ld, const struct wg_cfg_node *zones)
{
    static const char *const keys[] = {"id", "name", "floor", "rooms", NULL};
    struct wg_config *config = ld->config;
    if (!zones || !expect_seq(ld, zones, "zones")) {
        ld->places_incomplete = zones != NULL;
        return;
    }
    size_t room_total = 0, bed_total = 0;
    for (size_t i = 0; i < zones->count; i++) {
        const struct wg_cfg_node *rooms = cfg_get(zones->items[i], "rooms");
        room_total += cfg_seq_len(rooms);
        for (size_t j = 0; j < cfg_seq_len(rooms); j++)
            bed_total += cfg_seq_len(cfg_get(rooms->items[j], "beds"));
    }
    config->zones = ld_alloc(ld, zones->count, sizeof *config->zones);
    config->rooms = ld_alloc(ld, room_total, sizeof *config->rooms);
    config->beds = ld_alloc(ld, bed_total, sizeof *config->beds);
    if (!config->zones || !config->rooms || !config->beds)
        return;
    for (size_t i = 0; i < zones->count; i++) {
        const struct wg_cfg_node *item = zones->items[i];
        if (!expect_map(ld, item, "zone")) {
            ld->places_incomplete = true;
            continue;
        }
        if (!cfg_only_keys_in(ld->diag, item, keys, "zone"))
            ld->places_incomplete = true;
        struct wg_zone *zone = &config->zones[config->zone_count];
        if (!cfg_require_in(ld->diag, item, "id", "zone") ||
            !read_id(ld, item, "id", false, &zone->id)) {
            ld->places_incomplete = true;
            continue;
        }
        bool duplicate = false;
        for (size_t j = 0; j < config->zone_count && !duplicate; j++)
            duplicate = strcmp(config->zones[j].id, zone->id) == 0;
        if (duplicate) {
            diag_at(ld->diag, cfg_get(item, "id"), "zone id \"%s\" is used twice", zone->id);
            ld->places_incomplete = true;
            continue;
        }
        zone->name = zone->id;
        read_text(ld, item, "name", false, &zone->name);
        read_int(ld, item, "floor", -10, 200, &zone->floor);
        size_t zone_index = config->zone_count++;
        const struct wg_cfg_node *rooms = cfg_get(item, "rooms");
        if (!cfg_require_in(ld->diag, item, "rooms", "zone") || !expect_seq(ld, rooms, "rooms")) {
            ld->places_incomplete = true;
            continue;
        }
        for (size_t j = 0; j < rooms->count; j++)
            load_room(ld, rooms->items[j], zone_index);
    }
}
