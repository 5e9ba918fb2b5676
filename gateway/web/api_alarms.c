/* The display's side of the API on the core thread: the snapshot and the
 * active alarms with the names people read, each committed event turned into
 * a WebSocket delta, the once-a-second heartbeat, and the acknowledgement
 * and refused remote reset of an alarm. */
#include "web/api_private.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"

/* ---- alarms as people read them ---- */

void api_add_names(const struct wg_config *config, json_t *record)
{
    const char *room = json_string_value(json_object_get(record, "room"));
    const char *bed = json_string_value(json_object_get(record, "bed"));
    const char *device = json_string_value(json_object_get(record, "device"));
    size_t r = room && room[0] ? config_find_room(config, room) : WG_NO_INDEX;
    if (r != WG_NO_INDEX) {
        json_object_set_new(record, "room_name", json_string(config->rooms[r].name));
        json_object_set_new(record, "zone_name",
                            json_string(config->zones[config->rooms[r].zone].name));
    }
    size_t b = bed && bed[0] ? config_find_bed(config, bed) : WG_NO_INDEX;
    size_t resident = b != WG_NO_INDEX ? config_resident_of_bed(config, b) : WG_NO_INDEX;
    if (resident != WG_NO_INDEX)
        json_object_set_new(record, "resident_label",
                            json_string(config->residents[resident].label));
    size_t d = device && device[0] ? config_find_device(config, device) : WG_NO_INDEX;
    if (d != WG_NO_INDEX)
        json_object_set_new(record, "device_label", json_string(config->devices[d].label));
}

/* The active alarms in display order, with the names people read. */
json_t *api_active_alarms_json(struct wg_api *api)
{
    json_t *list = core_active_alarms_json(api->core);
    size_t index;
    json_t *record;
    json_array_foreach(list, index, record) api_add_names(bridge_core_config(api->core), record);
    return list;
}

json_t *api_snapshot_json(struct wg_api *api, const struct wg_web_request *request)
{
    const struct wg_config *config = bridge_core_config(api->core);
    json_t *status = core_status_json(api->core);
    json_t *snapshot = json_pack(
        "{s:s, s:I, s:I, s:{s:s, s:s}, s:s, s:o, s:O, s:s, s:s}", "type", "snapshot", "seq",
        (json_int_t)api->last_seq, "ts_ms", (json_int_t)bridge_core_now_ms(api->core), "site", "id",
        config->site.id, "name", config->site.name, "language", config->web.language, "alarms",
        api_active_alarms_json(api), "devices",
        status ? json_object_get(status, "devices") : json_null(), "role", role_name(request->role),
        "username", request->username);
    json_decref(status);
    if (snapshot)
        json_object_set_new(snapshot, "test_modes", api_test_modes_json(api));
    if (snapshot) {
        json_t *staff = api_staff_json(api, request->username, false);
        json_object_set_new(snapshot, "me",
                            staff ? json_incref(json_object_get(staff, "me")) : json_null());
        if (staff)
            json_object_del(staff, "me");
        json_object_set_new(snapshot, "staff", staff ? staff : json_null());
    }
    /* Pages show every time in the site's zone, never the browser's or the host's. */
    if (snapshot) {
        json_object_set_new(snapshot, "timezone", json_string(bridge_core_timezone(api->core)));
        json_object_set_new(snapshot, "utc_offset_min",
                            json_integer(clock_utc_offset_min(bridge_core_now_ms(api->core))));
    }
    return snapshot;
}

/* ---- committed events become WebSocket deltas ---- */

static void broadcast(struct wg_api *api, json_t *message)
{
    api_reply_json(api, 0, 200, message);
}

/* A committed event (seq > 0), or an alarm event shown before it is
 * journaled (seq 0): then the delta says journaled:false and seq null, and
 * the same record comes again with journaled:true and its seq once it is
 * committed (contract 1). */
void api_on_event(const struct wg_event *event, void *ctx)
{
    struct wg_api *api = ctx;
    bool journaled = event->seq > 0;
    if (journaled)
        api->last_seq = event->seq;
    if (strcmp(event->kind, "alarm") == 0) {
        json_t *record = json_loads(event->body, 0, NULL);
        if (!record)
            return;
        json_t *phase = json_object_get(record, "phase");
        json_t *message = json_pack("{s:s, s:o, s:O}", "type", "alarm", "seq",
                                    journaled ? json_integer(event->seq) : json_null(), "phase",
                                    phase ? phase : json_null());
        const char *phase_text = json_string_value(phase);
        bool raise = phase_text && strcmp(phase_text, "raise") == 0;
        json_object_del(record, "phase");
        json_object_set_new(record, "journaled", json_boolean(journaled));
        api_add_names(bridge_core_config(api->core), record);
        if (message)
            json_object_set_new(message, "alarm", record);
        else
            json_decref(record);
        /* Counted once: when shown unjournaled, or when committed if it was not. */
        if (raise && event->priority >= 0 && event->priority <= WG_PRIO_FIRE &&
            (!journaled || !event->announced))
            api->raised[event->priority]++;
        broadcast(api, message);
    } else if (journaled && strcmp(event->kind, "device_health") == 0 && event->device) {
        json_t *body = json_loads(event->body, 0, NULL);
        json_t *code = json_object_get(body, "reason_code");
        broadcast(api, json_pack("{s:s, s:I, s:{s:s, s:O, s:O, s:O}}", "type", "device", "seq",
                                 (json_int_t)event->seq, "device", "id", event->device, "health",
                                 body ? json_object_get(body, "health") : json_null(), "reason",
                                 body ? json_object_get(body, "reason") : json_null(),
                                 "reason_code", code ? code : json_null()));
        json_decref(body);
    } else if (journaled &&
               (strcmp(event->kind, "test_mode") == 0 || strcmp(event->kind, "device_test") == 0)) {
        api_test_event(api, event);
    }
}

/* Once a second, from the core thread: proves the core (not only the web
 * thread) is alive; the web thread also reads storage health from it. */
void api_heartbeat(void *ctx)
{
    struct wg_api *api = ctx;
    uint64_t expirations;
    if (read(api->heartbeat_fd, &expirations, sizeof expirations) < 0 && errno != EAGAIN)
        wg_warn("web: heartbeat timer: %s", strerror(errno));
    struct wg_web_core_stats stats;
    bridge_core_stats(api->core, &stats);
    /* Contract 3: the reason of a storage failure and what waits for it. */
    char *text = bridge_json_text(
        json_pack("{s:s, s:I, s:I, s:s, s:s?, s:I}", "type", "heartbeat", "ts_ms",
                  (json_int_t)bridge_core_now_ms(api->core), "seq", (json_int_t)api->last_seq,
                  "storage", stats.storage_failing ? "failing" : "ok", "storage_reason",
                  stats.storage_failing && stats.storage_reason[0] ? stats.storage_reason : NULL,
                  "events_waiting", (json_int_t)stats.events_pending));
    if (!text)
        return;
    struct wg_web_reply reply = {.status = 200,
                                 .content_type = "application/json",
                                 .body = text,
                                 .len = strlen(text),
                                 .heartbeat = true,
                                 .storage_failing = stats.storage_failing};
    bridge_post_reply(api->bridge, &reply);
}

/* ---- the display ---- */

void api_acknowledge(struct wg_api *api, const struct wg_web_request *request, const char *alarm_id,
                     bool over_ws)
{
    char why[256] = "";
    char where[96];
    snprintf(where, sizeof where, "%s %s", over_ws ? "display" : "api", request->client);
    int rc =
        bridge_core_acknowledge(api->core, alarm_id, request->username, where, why, sizeof why);
    bool unknown = rc != 0 && strncmp(why, "no active alarm", 15) == 0;
    api_audit(api, request, rc == 0 ? "alarm.ack" : "alarm.ack_refused", alarm_id,
              rc == 0 ? NULL : json_pack("{s:s}", "reason", why));
    int status = rc == 0 ? 200 : unknown ? 404 : 409;
    if (over_ws) {
        json_t *result = json_pack("{s:s, s:I, s:b}", "type", "result", "ref",
                                   (json_int_t)request->ref, "ok", rc == 0);
        if (result && rc != 0)
            json_object_set_new(result, "error", json_string(why));
        api_reply_json(api, request->id, status, result);
        return;
    }
    if (rc != 0) {
        api_reply_error(api, request->id, status, NULL, "%s", why);
        return;
    }
    json_t *record = bridge_core_alarm_json(api->core, alarm_id);
    if (record)
        api_add_names(bridge_core_config(api->core), record);
    api_reply_json(api, request->id, 200, json_pack("{s:o*}", "alarm", record));
}

void api_reset_remote(struct wg_api *api, const struct wg_web_request *request,
                      const char *alarm_id)
{
    char why[256] = "";
    char where[96];
    snprintf(where, sizeof where, "api %s", request->client);
    bridge_core_reset_remote(api->core, alarm_id, request->username, where, why, sizeof why);
    api_audit(api, request, "alarm.reset_refused", alarm_id, json_pack("{s:s}", "reason", why));
    api_reply_error(api, request->id, strncmp(why, "no active alarm", 15) == 0 ? 404 : 409, NULL,
                    "%s", why);
}
