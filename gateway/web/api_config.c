/* The configuration as the API shows it, on the core thread: the site's
 * buses, profiles, zones, rooms and beds (/meta), the residents, and an
 * edited item after the reload. */
#include "web/api_private.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- configuration: meta, devices, residents, beds ---- */

static json_t *window_json(bool has, const struct wg_window *window)
{
    if (!has)
        return json_null();
    char text[48];
    snprintf(text, sizeof text, "%02d:%02d-%02d:%02d", window->start_min / 60,
             window->start_min % 60, window->end_min / 60, window->end_min % 60);
    return json_string(text);
}

static json_t *resident_json(const struct wg_config *config, const struct wg_resident *resident)
{
    json_t *risks = json_array();
    for (unsigned bit = 1; risks && bit <= WG_RISK_ACTIVITY_ACCIDENT; bit <<= 1)
        if (resident->risks & bit)
            json_array_append_new(risks, json_string(risk_name((enum wg_risk)bit)));
    const struct wg_bed *bed = &config->beds[resident->bed];
    return json_pack("{s:s, s:s, s:s, s:s, s:i, s:o, s:o, s:b, s:b}", "id", resident->id, "label",
                     resident->label, "bed", bed->id, "room", config->rooms[bed->room].id,
                     "care_level", resident->care_level, "risks", risks, "night",
                     window_json(resident->has_night, &resident->night), "fall_risk",
                     (resident->risks & (WG_RISK_FALL | WG_RISK_FALL_FROM_BED)) != 0,
                     "wandering_risk", (resident->risks & WG_RISK_WANDERING) != 0);
}

static json_t *room_json(const struct wg_config *config, size_t index)
{
    const struct wg_room *room = &config->rooms[index];
    json_t *beds = json_array();
    for (size_t b = 0; beds && b < config->bed_count; b++)
        if (config->beds[b].room == index)
            json_array_append_new(beds, json_string(config->beds[b].label));
    return json_pack("{s:s, s:s, s:s, s:s, s:o}", "id", room->id, "name", room->name, "zone",
                     config->zones[room->zone].id, "kind", room->kind, "beds", beds);
}

void api_meta(struct wg_api *api, const struct wg_web_request *request)
{
    const struct wg_config *config = bridge_core_config(api->core);
    json_t *buses = json_array(), *profiles = json_array(), *zones = json_array(),
           *rooms = json_array(), *beds = json_array();
    for (size_t i = 0; buses && i < config->bus_count; i++)
        json_array_append_new(buses, json_pack("{s:s, s:s}", "id", config->buses[i].id, "driver",
                                               config->buses[i].driver));
    for (size_t i = 0; profiles && i < config->profile_count; i++) {
        const struct wg_profile *profile = &config->profiles[i];
        json_t *points = json_array();
        for (size_t p = 0; points && p < profile->point_count; p++) {
            const struct wg_point_def *point = &profile->points[p];
            json_array_append_new(
                points,
                json_pack("{s:s, s:s, s:s, s:s, s:s}", "name", point->name, "meaning",
                          point->meaning, "kind",
                          point->kind == WG_POINT_BOOL      ? "bool"
                          : point->kind == WG_POINT_COUNTER ? "counter"
                                                            : "analog",
                          "direction", point->direction == WG_POINT_OUTPUT ? "output" : "input",
                          "unit", point->unit));
        }
        json_array_append_new(profiles,
                              json_pack("{s:s, s:s, s:s, s:s, s:o}", "id", profile->id, "vendor",
                                        profile->vendor, "model", profile->model, "description",
                                        profile->description, "points", points));
    }
    for (size_t i = 0; zones && i < config->zone_count; i++)
        json_array_append_new(zones,
                              json_pack("{s:s, s:s, s:i}", "id", config->zones[i].id, "name",
                                        config->zones[i].name, "floor", config->zones[i].floor));
    for (size_t i = 0; rooms && i < config->room_count; i++)
        json_array_append_new(rooms, room_json(config, i));
    for (size_t i = 0; beds && i < config->bed_count; i++)
        json_array_append_new(beds, json_pack("{s:s, s:s, s:s}", "id", config->beds[i].id, "room",
                                              config->rooms[config->beds[i].room].id, "label",
                                              config->beds[i].label));
    api_reply_json(api, request->id, 200,
                   json_pack("{s:{s:s, s:s, s:s, s:s, s:i}, s:o, s:o, s:o, s:o, s:o}", "site", "id",
                             config->site.id, "name", config->site.name, "district",
                             config->site.district, "timezone", bridge_core_timezone(api->core),
                             "utc_offset_min", clock_utc_offset_min(bridge_core_now_ms(api->core)),
                             "buses", buses, "profiles", profiles, "zones", zones, "rooms", rooms,
                             "beds", beds));
}

void api_list_residents(struct wg_api *api, const struct wg_web_request *request)
{
    const struct wg_config *config = bridge_core_config(api->core);
    json_t *list = json_array();
    for (size_t i = 0; list && i < config->resident_count; i++)
        json_array_append_new(list, resident_json(config, &config->residents[i]));
    api_reply_json(api, request->id, 200, json_pack("{s:o}", "residents", list));
}

const char *api_edit_action(enum wg_edit_op op)
{
    switch (op) {
    case WG_EDIT_DEVICE_ADD:
        return "device.add";
    case WG_EDIT_DEVICE_UPDATE:
        return "device.update";
    case WG_EDIT_DEVICE_DELETE:
        return "device.delete";
    case WG_EDIT_RESIDENT_ADD:
        return "resident.add";
    case WG_EDIT_RESIDENT_UPDATE:
        return "resident.update";
    case WG_EDIT_RESIDENT_DELETE:
        return "resident.delete";
    case WG_EDIT_ROOM_BEDS:
        return "room.beds";
    }
    return "config.edit";
}

/* A refused change's problems as the manager UI puts them into words: the
 * form field at fault (or null), a code and its arguments (docs/api.md), and
 * the English message without any server path; file:line went to the log.
 * A problem nobody coded is `fallback` with the message only. */
json_t *api_problems_json(const struct wg_diag *diag, const char *fallback)
{
    json_t *list = json_array();
    for (size_t i = 0; list && i < diag->count; i++) {
        const struct wg_diag_entry *entry = &diag->entries[i];
        json_t *args = entry->args ? json_loads(entry->args, 0, NULL) : NULL;
        const char *text = entry->text ? entry->text : diag->messages[i];
        json_array_append_new(
            list, json_pack("{s:s?, s:s, s:o, s:s}", "field", entry->field[0] ? entry->field : NULL,
                            "code", entry->code[0] ? entry->code : fallback, "args",
                            json_is_object(args) ? args : json_object(), "message", text));
        if (args && !json_is_object(args))
            json_decref(args);
    }
    return list;
}

/* The edited item as the API shows it after the reload. */
json_t *api_edited_item(struct wg_api *api, enum wg_edit_op op, const char *id)
{
    const struct wg_config *config = bridge_core_config(api->core);
    switch (op) {
    case WG_EDIT_DEVICE_ADD:
    case WG_EDIT_DEVICE_UPDATE:
        return json_pack("{s:o*}", "device", core_device_json(api->core, id));
    case WG_EDIT_RESIDENT_ADD:
    case WG_EDIT_RESIDENT_UPDATE:
        for (size_t i = 0; i < config->resident_count; i++)
            if (strcmp(config->residents[i].id, id) == 0)
                return json_pack("{s:o*}", "resident",
                                 resident_json(config, &config->residents[i]));
        return json_object();
    case WG_EDIT_ROOM_BEDS: {
        size_t room = config_find_room(config, id);
        return json_pack("{s:o*}", "room", room == WG_NO_INDEX ? NULL : room_json(config, room));
    }
    default:
        return json_object();
    }
}
