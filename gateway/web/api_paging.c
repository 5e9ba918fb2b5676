/* The API of paging carers' phones (docs/api.md "Staff and paging"): a
 * phone's receipt, acceptance and decline of a call (each answer for the
 * person whose session sends it, never another's; refusals audited), the
 * staff view and rooms claimed for the shift; and, as the core's
 * attachment, the notification sent at once to the phones of the person
 * notified and the staff view to every display when duty changes. */
#include "web/api_private.h"

#include <stdio.h>
#include <string.h>

#define CLAIM_ROOMS_MAX 64

void api_page_answer(struct wg_api *api, const struct wg_web_request *request, const char *alarm_id,
                     const char *action)
{
    bool decline = strcmp(action, "decline") == 0;
    static const char *const none[] = {NULL};
    static const char *const reason_only[] = {"reason", NULL};
    json_t *body = api_request_body_only(api, request, decline ? reason_only : none);
    if (!body)
        return;
    json_t *reason = json_object_get(body, "reason");
    if (decline && !json_is_string(reason)) {
        json_decref(body);
        api_reply_error(api, request->id, 400, "reason",
                        "reason: a short text saying why (1 to 60 characters)");
        return;
    }
    char why[256] = "";
    int rc = bridge_core_page_answer(api->core, alarm_id, request->username, action,
                                     decline ? json_string_value(reason) : NULL, why, sizeof why);
    char audit_action[48];
    snprintf(audit_action, sizeof audit_action, "page.%s%s", action, rc == 0 ? "" : "_refused");
    /* Receipts are many and say little; every acceptance, decline and refusal is evidence. */
    if (rc != 0 || strcmp(action, "received") != 0)
        api_audit(api, request, audit_action, alarm_id,
                  rc != 0   ? json_pack("{s:s}", "reason", why)
                  : decline ? json_pack("{s:O}", "reason", reason)
                            : NULL);
    json_decref(body);
    if (rc != 0) {
        api_reply_error(api, request->id, -rc, rc == -400 ? "reason" : NULL, "%s", why);
        return;
    }
    json_t *record = bridge_core_alarm_json(api->core, alarm_id);
    if (record)
        api_add_names(bridge_core_config(api->core), record);
    api_reply_json(api, request->id, 200, json_pack("{s:o*}", "alarm", record));
}

json_t *api_staff_json(struct wg_api *api, const char *user, bool with_rooms)
{
    json_t *staff = bridge_core_staff_json(api->core);
    if (!staff)
        return NULL;
    json_object_set_new(staff, "me", bridge_staff_member_json(staff, user));
    if (with_rooms) {
        const struct wg_config *config = bridge_core_config(api->core);
        json_t *rooms = json_array();
        for (size_t r = 0; rooms && r < config->room_count; r++)
            json_array_append_new(rooms,
                                  json_pack("{s:s, s:s, s:s, s:s}", "id", config->rooms[r].id,
                                            "name", config->rooms[r].name, "zone",
                                            config->zones[config->rooms[r].zone].id, "zone_name",
                                            config->zones[config->rooms[r].zone].name));
        json_object_set_new(staff, "rooms", rooms ? rooms : json_array());
    }
    return staff;
}

void api_staff(struct wg_api *api, const struct wg_web_request *request)
{
    json_t *staff = api_staff_json(api, request->username, true);
    if (!staff) {
        api_reply_error(api, request->id, 404, NULL,
                        "paging to phones is not configured (the config has no staff: section)");
        return;
    }
    api_reply_json(api, request->id, 200, staff);
}

void api_staff_claim(struct wg_api *api, const struct wg_web_request *request)
{
    static const char *const fields[] = {"rooms", NULL};
    const struct wg_config *config = bridge_core_config(api->core);
    if (!config->staff.enabled) {
        api_reply_error(api, request->id, 404, NULL,
                        "paging to phones is not configured (the config has no staff: section)");
        return;
    }
    json_t *body = api_request_body_only(api, request, fields);
    if (!body)
        return;
    json_t *list = json_object_get(body, "rooms");
    const char *ids[CLAIM_ROOMS_MAX];
    size_t count = 0, index;
    json_t *item;
    const char *problem = !json_is_array(list)
                              ? "rooms: a list of room ids ([] releases your rooms)"
                          : json_array_size(list) > CLAIM_ROOMS_MAX ? "rooms: at most 64 rooms"
                                                                    : NULL;
    json_array_foreach(problem ? NULL : list, index, item)
    {
        const char *id = json_string_value(item);
        if (!id || config_find_room(config, id) == WG_NO_INDEX) {
            problem = "rooms: every item must be the id of a room of this home";
            break;
        }
        for (size_t i = 0; i < count; i++)
            if (strcmp(ids[i], id) == 0)
                problem = "rooms: a room is listed twice";
        ids[count++] = id;
    }
    if (problem) {
        api_reply_error(api, request->id, 400, "rooms", "%s", problem);
        json_decref(body);
        return;
    }
    char why[256] = "", origin[96];
    snprintf(origin, sizeof origin, "api %s", request->client);
    if (bridge_core_claim_rooms(api->core, request->username, ids, count, origin, why,
                                sizeof why) != 0) {
        api_audit(api, request, "staff.claim_refused", request->username,
                  json_pack("{s:s, s:O}", "reason", why, "rooms", list));
        api_reply_error(api, request->id, strstr(why, "not in the staff list") ? 403 : 409, NULL,
                        "%s", why);
        json_decref(body);
        return;
    }
    json_decref(body);
    api_reply_json(api, request->id, 200, api_staff_json(api, request->username, false));
}

/* ---- the core's attachment: at once, before the journal ---- */

void api_paged(void *ctx, const char *alarm_id, const char *user, int64_t ts_ms)
{
    struct wg_api *api = ctx;
    char *text = bridge_json_text(json_pack("{s:s, s:s, s:I}", "type", "notify", "alarm", alarm_id,
                                            "ts_ms", (json_int_t)ts_ms));
    if (!text)
        return;
    struct wg_web_reply reply = {.status = 200, .body = text, .len = strlen(text)};
    snprintf(reply.to_user, sizeof reply.to_user, "%s", user);
    snprintf(reply.content_type, sizeof reply.content_type, "application/json");
    bridge_post_reply(api->bridge, &reply);
}

void api_staff_changed(void *ctx)
{
    struct wg_api *api = ctx;
    json_t *staff = bridge_core_staff_json(api->core);
    if (staff)
        api_reply_json(api, 0, 200,
                       json_pack("{s:s, s:n, s:o}", "type", "staff", "seq", "staff", staff));
}
