/* Buses and devices: each device's bus, address, profile, place in the
 * building and poll period, and a fire panel's places (fire zones and loop
 * addresses mapped to rooms). */
#include "config/config_load_internal.h"

#include <stdio.h>
#include <string.h>

/* ---- buses and devices ---------------------------------------------------------------------- */

void load_buses(struct loader *ld, const struct wg_cfg_node *buses)
{
    static const char *const keys[] = {"id", "driver", "settings", NULL};
    struct wg_config *config = ld->config;
    if (!buses || !expect_seq(ld, buses, "buses")) {
        ld->buses_incomplete = buses != NULL;
        return;
    }
    config->buses = ld_alloc(ld, buses->count, sizeof *config->buses);
    for (size_t i = 0; config->buses && i < buses->count; i++) {
        const struct wg_cfg_node *item = buses->items[i];
        if (!expect_map(ld, item, "bus")) {
            ld->buses_incomplete = true;
            continue;
        }
        cfg_only_keys_in(ld->diag, item, keys, "bus");
        struct wg_bus *bus = &config->buses[config->bus_count];
        bus->node = item;
        bus->driver = "";
        if (!cfg_require_in(ld->diag, item, "id", "bus") ||
            !read_id(ld, item, "id", false, &bus->id)) {
            ld->buses_incomplete = true;
            continue;
        }
        if (config_find_bus(config, bus->id) != WG_NO_INDEX) {
            diag_at(ld->diag, cfg_get(item, "id"), "bus id \"%s\" is used twice", bus->id);
            continue;
        }
        if (cfg_require_in(ld->diag, item, "driver", "bus"))
            read_id(ld, item, "driver", true, &bus->driver);
        bus->settings = cfg_get(item, "settings");
        if (bus->settings)
            expect_map(ld, bus->settings, "settings");
        config->bus_count++;
    }
}

/* ---- fire-panel places ---- */

/* Whether the profile has a point of exactly this meaning. */
static bool profile_has(const struct wg_profile *profile, const char *meaning)
{
    for (size_t p = 0; p < profile->point_count; p++)
        if (strcmp(profile->points[p].meaning, meaning) == 0)
            return true;
    return false;
}

/* The zone numbers in `zones` (ascending, no repeats) as "1-3, 5, 8". */
const char *zone_ranges(const int *zones, size_t count, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < count && used < len; i++) {
        size_t j = i;
        while (j + 1 < count && zones[j + 1] == zones[j] + 1)
            j++;
        int n = j > i ? snprintf(buf + used, len - used, "%s%d-%d", used ? ", " : "", zones[i],
                                 zones[j])
                      : snprintf(buf + used, len - used, "%s%d", used ? ", " : "", zones[i]);
        used += n > 0 ? (size_t)n : 0;
        i = j;
    }
    return buf;
}

/* The fire zones a profile reports (its fire_zone_N points), ascending; returns the count. */
size_t profile_fire_zones(const struct wg_profile *profile, int *zones, size_t max)
{
    size_t count = 0;
    for (int zone = 1; zone <= 999 && count < max; zone++) {
        char meaning[32];
        snprintf(meaning, sizeof meaning, "fire_zone_%d", zone);
        if (profile_has(profile, meaning))
            zones[count++] = zone;
    }
    return count;
}

/* One entry of `places:`: {fire_zone: N} or {loop: L, address: A}, and where:
 * room (its zone follows), zone (a whole site zone) and/or spot (a name). */
static bool load_place(struct loader *ld, const struct wg_cfg_node *entry,
                       const struct wg_profile *profile, struct wg_device *device)
{
    static const char *const keys[] = {"fire_zone", "loop", "address", "room",
                                       "zone",      "spot", NULL};
    struct wg_config *config = ld->config;
    if (!expect_map(ld, entry, "place"))
        return false;
    bool ok = cfg_only_keys_in(ld->diag, entry, keys, "place");
    struct wg_place *place = &device->places[device->place_count];
    *place = (struct wg_place){.room = WG_NO_INDEX, .zone = WG_NO_INDEX, .node = entry};
    bool by_zone = cfg_get(entry, "fire_zone") != NULL;
    bool by_component = cfg_get(entry, "loop") || cfg_get(entry, "address");
    if (by_zone == by_component) {
        diag_at(ld->diag, entry,
                "place: give fire_zone (a panel zone), or loop and address (one detector), %s",
                by_zone ? "not both" : "got neither");
        return false;
    }
    if (by_zone) {
        if (!read_int(ld, entry, "fire_zone", 1, 999, &place->fire_zone))
            return false;
        char meaning[32];
        snprintf(meaning, sizeof meaning, "fire_zone_%d", place->fire_zone);
        if (!profile_has(profile, meaning)) {
            int zones[999];
            char list[256];
            size_t count = profile_fire_zones(profile, zones, 999);
            diag_at(ld->diag, cfg_get(entry, "fire_zone"),
                    "fire_zone: profile \"%s\" has no zone %d (%s%s)", profile->id,
                    place->fire_zone, count ? "its zones: " : "it reports no zones",
                    zone_ranges(zones, count, list, sizeof list));
            ok = false;
        }
    } else {
        if (!cfg_require_in(ld->diag, entry, "loop", "place by loop and address") ||
            !cfg_require_in(ld->diag, entry, "address", "place by loop and address") ||
            !read_int(ld, entry, "loop", 1, 999, &place->loop) ||
            !read_int(ld, entry, "address", 1, 65535, &place->address))
            return false;
        if (!profile_has(profile, "fire_loop") || !profile_has(profile, "fire_address")) {
            diag_at(ld->diag, cfg_get(entry, "loop"),
                    "loop: profile \"%s\" reports no loop and address of a detector in fire "
                    "(points meaning fire_loop and fire_address); map its zones with fire_zone",
                    profile->id);
            ok = false;
        }
    }
    for (size_t i = 0; ok && i < device->place_count; i++) {
        const struct wg_place *other = &device->places[i];
        if (by_zone ? other->fire_zone == place->fire_zone
                    : other->loop == place->loop && other->address == place->address) {
            if (by_zone)
                diag_at(ld->diag, cfg_get(entry, "fire_zone"),
                        "fire_zone: zone %d already has a place (line %d)", place->fire_zone,
                        other->node->line);
            else
                diag_at(ld->diag, cfg_get(entry, "loop"),
                        "loop: loop %d address %d already has a place (line %d)", place->loop,
                        place->address, other->node->line);
            ok = false;
        }
    }
    const char *text = NULL, *spot = NULL;
    if (read_text(ld, entry, "room", false, &text) && text) {
        place->room = resolve_ref(ld, entry, "room", config_find_room(config, text),
                                  ld->places_incomplete, "room", " in zones");
        if (place->room == WG_NO_INDEX)
            ok = false;
        else
            place->zone = config->rooms[place->room].zone;
    } else if (text) {
        ok = false;
    }
    text = NULL;
    if (read_text(ld, entry, "zone", false, &text) && text) {
        if (cfg_get(entry, "room")) {
            diag_at(ld->diag, cfg_get(entry, "zone"),
                    "zone: give room or zone, not both (a room is in its zone already)");
            ok = false;
        } else {
            place->zone = resolve_ref(ld, entry, "zone", config_find_zone(config, text),
                                      ld->places_incomplete, "zone", " in zones");
            ok = ok && place->zone != WG_NO_INDEX;
        }
    } else if (text) {
        ok = false;
    }
    if (!read_text(ld, entry, "spot", false, &spot))
        ok = false;
    if (ok && !spot && place->room == WG_NO_INDEX && place->zone == WG_NO_INDEX) {
        diag_at(ld->diag, entry, "place: expected room, zone or spot: where it is");
        ok = false;
    }
    place->name = spot                         ? spot
                  : place->room != WG_NO_INDEX ? config->rooms[place->room].name
                  : place->zone != WG_NO_INDEX ? config->zones[place->zone].name
                                               : "";
    return ok;
}

static void load_places(struct loader *ld, const struct wg_cfg_node *item, struct wg_device *device)
{
    const struct wg_cfg_node *list = cfg_get(item, "places");
    if (!list || !expect_seq(ld, list, "places") || device->profile == WG_NO_INDEX)
        return;
    const struct wg_profile *profile = &ld->config->profiles[device->profile];
    int zones[1];
    if (!profile_fire_zones(profile, zones, 1) &&
        !(profile_has(profile, "fire_loop") && profile_has(profile, "fire_address"))) {
        diag_at(ld->diag, list,
                "places: profile \"%s\" reports no fire zones nor the loop and address of a "
                "detector; places are for fire panels (a detector's own place is its room and "
                "spot)",
                profile->id);
        return;
    }
    device->places = ld_alloc(ld, list->count, sizeof *device->places);
    for (size_t i = 0; device->places && i < list->count; i++)
        if (load_place(ld, list->items[i], profile, device))
            device->place_count++;
}

static void load_device(struct loader *ld, const struct wg_cfg_node *item)
{
    static const char *const keys[] = {"id",      "label",    "bus",  "address", "profile",
                                       "room",    "bed",      "spot", "places",  "poll_ms",
                                       "enabled", "settings", NULL};
    struct wg_config *config = ld->config;
    if (!expect_map(ld, item, "device"))
        return;
    cfg_only_keys_in(ld->diag, item, keys, "device");
    struct wg_device *device = &config->devices[config->device_count];
    *device = (struct wg_device){.label = "",
                                 .bus = WG_NO_INDEX,
                                 .profile = WG_NO_INDEX,
                                 .room = WG_NO_INDEX,
                                 .bed = WG_NO_INDEX,
                                 .spot = "",
                                 .poll_ms = 1000,
                                 .enabled = true,
                                 .node = item};
    bool ok = cfg_require_in(ld->diag, item, "id", "device") &&
              read_id(ld, item, "id", false, &device->id);
    if (ok && config_find_device(config, device->id) != WG_NO_INDEX) {
        diag_at(ld->diag, cfg_get(item, "id"), "device id \"%s\" is used twice (first on line %d)",
                device->id, config->devices[config_find_device(config, device->id)].node->line);
        diag_code(ld->diag, "exists", "{s:s, s:s}", "what", "device", "id", device->id);
        ok = false;
    }
    read_text(ld, item, "label", true, &device->label);
    read_text(ld, item, "spot", true, &device->spot);
    const char *text = NULL;
    if (cfg_require_in(ld->diag, item, "bus", "device") &&
        read_text(ld, item, "bus", false, &text) && text)
        device->bus = resolve_ref(ld, item, "bus", config_find_bus(config, text),
                                  ld->buses_incomplete, "bus", " in buses");
    if (cfg_require_in(ld->diag, item, "address", "device") &&
        read_int(ld, item, "address", 0, 65535, &device->address) && device->bus != WG_NO_INDEX) {
        for (size_t i = 0; i < config->device_count; i++)
            if (config->devices[i].bus == device->bus &&
                config->devices[i].address == device->address) {
                diag_at(ld->diag, cfg_get(item, "address"),
                        "address: %d on bus \"%s\" is already used by device \"%s\"",
                        device->address, config->buses[device->bus].id, config->devices[i].id);
                diag_code(ld->diag, "address_taken", "{s:i, s:s, s:s}", "address", device->address,
                          "bus", config->buses[device->bus].id, "device", config->devices[i].id);
                ok = false;
                break;
            }
    }
    text = NULL;
    if (cfg_require_in(ld->diag, item, "profile", "device") &&
        read_text(ld, item, "profile", false, &text) && text)
        device->profile = resolve_ref(ld, item, "profile", config_find_profile(config, text),
                                      ld->profiles_incomplete, "profile",
                                      " (check the profiles: includes and the profile's id)");
    text = NULL;
    if (read_text(ld, item, "room", false, &text) && text)
        device->room = resolve_ref(ld, item, "room", config_find_room(config, text),
                                   ld->places_incomplete, "room", " in zones");
    else if (text)
        ok = false;
    text = NULL;
    if (read_text(ld, item, "bed", false, &text) && text) {
        device->bed =
            resolve_ref(ld, item, "bed", config_find_bed(config, text), ld->places_incomplete,
                        "bed", " (bed ids are <room>-<label>, e.g. \"203-A\")");
        if (device->bed != WG_NO_INDEX) {
            size_t bed_room = config->beds[device->bed].room;
            if (cfg_get(item, "room") && device->room != WG_NO_INDEX && device->room != bed_room) {
                diag_at(ld->diag, cfg_get(item, "bed"), "bed: bed \"%s\" is not in room \"%s\"",
                        text, config->rooms[device->room].id);
                diag_code(ld->diag, "bed_not_in_room", "{s:s, s:s}", "bed", text, "room",
                          config->rooms[device->room].id);
            }
            device->room = bed_room;
        }
    }
    load_places(ld, item, device);
    read_int(ld, item, "poll_ms", 50, 3600000, &device->poll_ms);
    cfg_read_bool(ld->diag, item, "enabled", &device->enabled);
    device->settings = cfg_get(item, "settings");
    if (device->settings)
        expect_map(ld, device->settings, "settings");
    if (ok)
        config->device_count++;
}

void load_devices(struct loader *ld, const struct wg_cfg_node *devices)
{
    if (!devices || !expect_seq(ld, devices, "devices"))
        return;
    ld->config->devices = ld_alloc(ld, devices->count, sizeof *ld->config->devices);
    for (size_t i = 0; ld->config->devices && i < devices->count; i++)
        load_device(ld, devices->items[i]);
}
