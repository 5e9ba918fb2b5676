/* Device test mode and the weekly test report in the API (docs/api.md):
 * the running test windows with the names people read (for the displays'
 * snapshot and banner, and the manager UI), a manager's start and end of a
 * room's or zone's test mode (audited), the WebSocket messages for a window
 * that changed or a device tested, and the report of which call points,
 * cords and detectors were tested in a period (JGJ/T 484: weekly), whose
 * journal reading runs on a query worker. */
#include "web/api_private.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The name of a test window's room or zone. */
static void add_target_name(const struct wg_config *config, json_t *window)
{
    const char *target = json_string_value(json_object_get(window, "target"));
    const char *scope = json_string_value(json_object_get(window, "scope"));
    if (!target || !scope)
        return;
    if (strcmp(scope, "zone") == 0) {
        size_t z = config_find_zone(config, target);
        if (z != WG_NO_INDEX)
            json_object_set_new(window, "target_name", json_string(config->zones[z].name));
    } else {
        size_t r = config_find_room(config, target);
        if (r != WG_NO_INDEX)
            json_object_set_new(window, "target_name", json_string(config->rooms[r].name));
    }
}

json_t *api_test_modes_json(struct wg_api *api)
{
    json_t *list = bridge_core_test_modes_json(api->core);
    size_t index;
    json_t *window;
    json_array_foreach(list, index, window) add_target_name(bridge_core_config(api->core), window);
    return list;
}

/* Every display gets the running windows whole: a start, an extension, an end. */
static void broadcast_test_modes(struct wg_api *api, int64_t seq)
{
    api_reply_json(api, 0, 200,
                   json_pack("{s:s, s:o, s:o}", "type", "test_modes", "seq",
                             seq > 0 ? json_integer(seq) : json_null(), "test_modes",
                             api_test_modes_json(api)));
}

void api_test_event(struct wg_api *api, const struct wg_event *event)
{
    if (strcmp(event->kind, "test_mode") == 0) {
        broadcast_test_modes(api, event->seq);
        return;
    }
    json_t *body = json_loads(event->body, 0, NULL);
    json_t *test =
        json_pack("{s:s?, s:s?, s:I, s:O?, s:O?}", "device", event->device, "room", event->room,
                  "ts_ms", (json_int_t)event->ts_ms, "kind", json_object_get(body, "kind"), "point",
                  json_object_get(body, "point"));
    json_decref(body);
    if (!test)
        return;
    api_add_names(bridge_core_config(api->core), test);
    api_reply_json(api, 0, 200,
                   json_pack("{s:s, s:I, s:o}", "type", "device_test", "seq",
                             (json_int_t)event->seq, "test", test));
}

/* ---- a manager starts and ends a test ---- */

void api_test_mode_start(struct wg_api *api, const struct wg_web_request *request)
{
    static const char *const allowed[] = {"target", "minutes", NULL};
    json_t *body = api_request_body_only(api, request, allowed);
    if (!body)
        return;
    const char *target = json_string_value(json_object_get(body, "target"));
    json_t *minutes = json_object_get(body, "minutes");
    if (!target || !target[0]) {
        api_reply_error(api, request->id, 400, "target",
                        "target: expected the id of a room or a zone, as text");
    } else if (!json_is_integer(minutes) ||
               json_integer_value(minutes) < WG_TEST_MODE_MIN_MINUTES ||
               json_integer_value(minutes) > WG_TEST_MODE_MAX_MINUTES) {
        api_reply_error(api, request->id, 400, "minutes",
                        "minutes: expected a whole number from %d to %d", WG_TEST_MODE_MIN_MINUTES,
                        WG_TEST_MODE_MAX_MINUTES);
    } else {
        char why[256] = "";
        int rc =
            bridge_core_test_mode_start(api->core, target, (int)json_integer_value(minutes) * 60,
                                        request->username, why, sizeof why);
        api_audit(api, request, rc == 0 ? "test_mode.start" : "test_mode.start_refused", target,
                  rc == 0 ? json_pack("{s:I}", "minutes", json_integer_value(minutes))
                          : json_pack("{s:s}", "reason", why));
        if (rc != 0) {
            api_reply_error(api, request->id, strncmp(why, "no room", 7) == 0 ? 404 : 409, "target",
                            "%s", why);
        } else {
            api_reply_json(api, request->id, 200,
                           json_pack("{s:o}", "test_modes", api_test_modes_json(api)));
            broadcast_test_modes(api, 0);
        }
    }
    json_decref(body);
}

void api_test_mode_end(struct wg_api *api, const struct wg_web_request *request, const char *target)
{
    char why[256] = "";
    int rc = bridge_core_test_mode_end(api->core, target, request->username, why, sizeof why);
    api_audit(api, request, rc == 0 ? "test_mode.end" : "test_mode.end_refused", target,
              rc == 0 ? NULL : json_pack("{s:s}", "reason", why));
    if (rc != 0) {
        api_reply_error(api, request->id, 404, NULL, "%s", why);
        return;
    }
    api_reply_json(api, request->id, 200,
                   json_pack("{s:o}", "test_modes", api_test_modes_json(api)));
    broadcast_test_modes(api, 0);
}

/* ---- the test report ---- */

void api_test_report(struct wg_api *api, const struct wg_web_request *request)
{
    int64_t from, to;
    if (!api_request_period(api, request, &from, &to))
        return;
    json_t *devices = bridge_core_testable_devices_json(api->core);
    size_t index;
    json_t *device;
    json_array_foreach(devices, index, device) api_add_names(bridge_core_config(api->core), device);
    if (!devices ||
        api_read_test_report(api->queries, api->bridge, request->id, from, to, devices) != 0)
        api_reply_error(api, request->id, 503, NULL, "the gateway is stopping or out of memory");
}
