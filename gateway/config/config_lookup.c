/* Lookups on a loaded config: items by id, a fire panel's place, the
 * resident of a bed, a device's location as zone/room/bed, and logging the
 * load's warnings. */
#include "config/config_load_internal.h"

#include <stdio.h>
#include <string.h>

#include "common/log.h"

/* ---- lookups -------------------------------------------------------------------------------- */

#define FIND_BY_ID(array, count, id)                                                               \
    do {                                                                                           \
        for (size_t i_ = 0; (id) && i_ < (count); i_++)                                            \
            if ((array)[i_].id && strcmp((array)[i_].id, (id)) == 0)                               \
                return i_;                                                                         \
        return WG_NO_INDEX;                                                                        \
    } while (0)

size_t config_find_device(const struct wg_config *config, const char *id)
{
    FIND_BY_ID(config->devices, config->device_count, id);
}

size_t config_find_room(const struct wg_config *config, const char *id)
{
    FIND_BY_ID(config->rooms, config->room_count, id);
}

size_t config_find_bed(const struct wg_config *config, const char *id)
{
    FIND_BY_ID(config->beds, config->bed_count, id);
}

size_t config_find_bus(const struct wg_config *config, const char *id)
{
    FIND_BY_ID(config->buses, config->bus_count, id);
}

size_t config_find_profile(const struct wg_config *config, const char *id)
{
    FIND_BY_ID(config->profiles, config->profile_count, id);
}

size_t config_find_zone(const struct wg_config *config, const char *id)
{
    FIND_BY_ID(config->zones, config->zone_count, id);
}

const struct wg_place *config_fire_place(const struct wg_device *device, int fire_zone, int loop,
                                         int address)
{
    for (size_t i = 0; loop > 0 && address > 0 && i < device->place_count; i++)
        if (device->places[i].loop == loop && device->places[i].address == address)
            return &device->places[i];
    for (size_t i = 0; fire_zone > 0 && i < device->place_count; i++)
        if (device->places[i].fire_zone == fire_zone)
            return &device->places[i];
    return NULL;
}

void config_log_warnings(const struct wg_config *config)
{
    for (size_t i = 0; i < config->warnings.count; i++)
        wg_warn("%s", config->warnings.messages[i]);
}

size_t config_resident_of_bed(const struct wg_config *config, size_t bed)
{
    for (size_t i = 0; i < config->resident_count; i++)
        if (config->residents[i].bed == bed)
            return i;
    return WG_NO_INDEX;
}

const char *config_device_location(const struct wg_config *config, const struct wg_device *device,
                                   char *buf, size_t len)
{
    if (!buf || len == 0)
        return "";
    if (device->room == WG_NO_INDEX || device->room >= config->room_count) {
        snprintf(buf, len, "site");
        return buf;
    }
    const struct wg_room *room = &config->rooms[device->room];
    const char *zone = room->zone < config->zone_count ? config->zones[room->zone].id : "?";
    if (device->bed != WG_NO_INDEX && device->bed < config->bed_count)
        snprintf(buf, len, "%s/%s/%s", zone, room->id, config->beds[device->bed].id);
    else
        snprintf(buf, len, "%s/%s", zone, room->id);
    return buf;
}
