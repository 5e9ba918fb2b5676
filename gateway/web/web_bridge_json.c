/* The core's JSON views (web API, uplink); see web_bridge_json.h. */
#include "web/web_bridge_json.h"

#include <stdlib.h>

#include "alarm/alarm.h"

json_t *core_status_json(struct wg_core *core)
{
    struct wg_core_status status;
    core_status(core, &status);
    return json_pack("{s:{s:i, s:i, s:i, s:i, s:i}, s:i}", "devices", "total", (int)status.devices,
                     "online", (int)status.online, "suspect", (int)status.suspect, "offline",
                     (int)status.offline, "unknown", (int)status.unknown, "alarms_active",
                     (int)status.alarms_active);
}

json_t *core_active_alarms_json(struct wg_core *core)
{
    size_t count = core_active_alarm_count(core);
    const struct wg_alarm **alarms = calloc(count ? count : 1, sizeof *alarms);
    json_t *records = json_array();
    if (!alarms || !records) {
        free(alarms);
        json_decref(records);
        return NULL;
    }
    count = core_active_alarms(core, alarms, count);
    for (size_t i = 0; i < count; i++) {
        json_t *record = alarm_to_json(alarms[i]);
        if (!record)
            continue;
        /* Contract 1 (docs/api.md): false while its latest change is not journaled. */
        json_object_set_new(record, "journaled",
                            json_boolean(alarms[i]->journaled_update >= alarms[i]->update));
        json_array_append_new(records, record);
    }
    free(alarms);
    return records;
}

/* One device for the uplink (detailed = false) or the web API (detailed:
 * also address, placement, poll period, last values and error counters). */
static json_t *device_json(const struct wg_core *core, size_t index, bool detailed)
{
    struct wg_core_device_view view;
    core_device_view(core, index, &view);
    const struct wg_device *device = view.device;
    json_t *record =
        json_pack("{s:s, s:s, s:s, s:s, s:{s:s?, s:s?, s:s?}, s:s, s:s, s:b}", "id", device->id,
                  "label", device->label, "profile", view.profile->id, "bus", view.bus, "location",
                  "zone", view.zone, "room", view.room, "bed", view.bed, "health", view.health_name,
                  "reason", view.reason, "enabled", device->enabled);
    if (record)
        json_object_set_new(record, "reason_code",
                            view.reason_code ? json_string(view.reason_code) : json_null());
    if (!record || !detailed)
        return record;
    json_t *values = json_object();
    for (size_t p = 0; values && p < view.profile->point_count && p < view.point_count; p++)
        if (view.seen[p])
            json_object_set_new(values, view.profile->points[p].name, json_real(view.values[p]));
    json_t *counters = json_object();
    for (size_t c = 0; counters && c < view.counter_count; c++)
        json_object_set_new(counters, view.counters[c].name,
                            json_integer((json_int_t)view.counters[c].count));
    json_object_set_new(record, "values", values ? values : json_null());
    json_object_set_new(record, "counters", counters ? counters : json_null());
    json_object_set_new(record, "address", json_integer(device->address));
    json_object_set_new(record, "poll_ms", json_integer(device->poll_ms));
    json_object_set_new(record, "spot", json_string(device->spot));
    json_object_set_new(record, "room",
                        view.room && !view.bed ? json_string(view.room) : json_null());
    json_object_set_new(record, "bed", view.bed ? json_string(view.bed) : json_null());
    json_object_set_new(record, "driver", json_string(view.driver));
    return record;
}

json_t *core_devices_json(struct wg_core *core, bool detailed)
{
    json_t *devices = json_array();
    for (size_t i = 0; devices && i < core_device_count(core); i++)
        json_array_append_new(devices, device_json(core, i, detailed));
    return devices;
}

json_t *core_device_json(struct wg_core *core, const char *device_id)
{
    size_t index = config_find_device(core_config(core), device_id);
    return index == WG_NO_INDEX ? NULL : device_json(core, index, true);
}

json_t *core_device_summaries_json(struct wg_core *core)
{
    return core_devices_json(core, false);
}
