/* Shift handovers and drills in the API (docs/api.md): the records people
 * make for inspectors (GB 38600: 交接班 recorded; JGJ/T 484 and GB 50440:
 * drills), checked field by field, completed with what the gateway knows
 * (who, the shift, the alarms and test modes open at the handover) and
 * handed to the core, which journals and audits them (core_record). They
 * are read back through the history (kind handover or drill). */
#include "web/api_private.h"

#include <stdio.h>
#include <string.h>

#define NAME_MAX_CHARS   40
#define NOTES_MAX_CHARS  2000
#define SCENARIO_MAX     500
#define PARTICIPANTS_MAX 200
#define DRILL_MAX_MIN    600
#define DRILL_PAST_MS    (366LL * 86400000)
#define DRILL_FUTURE_MS  (5LL * 60000)

/* UTF-8 characters in text (it is valid UTF-8: jansson checked it). */
static size_t chars_of(const char *text)
{
    size_t count = 0;
    for (; *text; text++)
        count += ((unsigned char)*text & 0xc0) != 0x80;
    return count;
}

/* A text field: required or not, 1..max characters, no control characters
 * (but newlines and tabs where `lines`). NULL when absent and optional;
 * sets *bad after replying 400. */
static const char *text_field(struct wg_api *api, uint64_t request_id, const json_t *body,
                              const char *name, bool required, size_t max, bool lines, bool *bad)
{
    const json_t *value = json_object_get(body, name);
    if (!value && !required)
        return NULL;
    const char *text = json_string_value(value);
    if (!text || (!text[0] && required)) {
        api_reply_error(api, request_id, 400, name, "%s: expected text%s", name,
                        required ? ", not empty" : "");
        *bad = true;
        return NULL;
    }
    if (chars_of(text) > max) {
        api_reply_error(api, request_id, 400, name, "%s: at most %zu characters", name, max);
        *bad = true;
        return NULL;
    }
    for (const char *c = text; *c; c++)
        if ((unsigned char)*c < 0x20 && !(lines && (*c == '\n' || *c == '\t' || *c == '\r'))) {
            api_reply_error(api, request_id, 400, name, "%s: control characters are not allowed",
                            name);
            *bad = true;
            return NULL;
        }
    return text;
}

/* Hands a copy of `record` (taken) to the core and replies with it and its time. */
static void reply_recorded(struct wg_api *api, const struct wg_web_request *request,
                           const char *kind, json_t *record)
{
    int64_t ts = 0;
    json_t *copy = record ? json_deep_copy(record) : NULL;
    if (!copy ||
        bridge_core_record(api->core, kind, copy, request->username, request->client, &ts) != 0) {
        json_decref(record);
        api_reply_error(api, request->id, 503, NULL, "the gateway is out of memory; try again");
        return;
    }
    json_object_set_new(record, "ts_ms", json_integer(ts));
    api_reply_json(api, request->id, 200, json_pack("{s:o}", kind, record));
}

/* ---- the handover ---- */

/* An open alarm as the handover keeps it: what, where, since when, how far. */
static json_t *open_alarm(const json_t *alarm)
{
    static const char *const keep[] = {"id",          "kind",           "priority",
                                       "state",       "room",           "room_name",
                                       "bed",         "resident_label", "place",
                                       "device",      "device_label",   "raised_ms",
                                       "detail_code", "detail_args",    "escalation_level",
                                       NULL};
    json_t *kept = json_object();
    for (size_t i = 0; kept && keep[i]; i++) {
        json_t *value = json_object_get(alarm, keep[i]);
        if (value && !json_is_null(value))
            json_object_set(kept, keep[i], value);
    }
    return kept;
}

void api_handover_add(struct wg_api *api, const struct wg_web_request *request)
{
    static const char *const allowed[] = {"to", "notes", NULL};
    json_t *body = api_request_body_only(api, request, allowed);
    if (!body)
        return;
    bool bad = false;
    const char *to = text_field(api, request->id, body, "to", true, NAME_MAX_CHARS, false, &bad);
    const char *notes =
        bad ? NULL
            : text_field(api, request->id, body, "notes", false, NOTES_MAX_CHARS, true, &bad);
    if (bad) {
        json_decref(body);
        return;
    }
    json_t *alarms = api_active_alarms_json(api);
    json_t *open = json_array();
    size_t index;
    json_t *alarm;
    json_array_foreach(alarms, index, alarm) json_array_append_new(open, open_alarm(alarm));
    json_decref(alarms);
    json_t *record =
        json_pack("{s:s, s:s, s:s, s:s, s:o, s:i, s:o}", "shift", bridge_core_shift_now(api->core),
                  "from", request->username, "to", to, "notes", notes ? notes : "", "open_alarms",
                  open ? open : json_array(), "open_count", (int)json_array_size(open),
                  "test_modes", api_test_modes_json(api));
    json_decref(body);
    reply_recorded(api, request, "handover", record);
}

/* ---- the drill ---- */

void api_drill_add(struct wg_api *api, const struct wg_web_request *request)
{
    static const char *const allowed[] = {"kind",         "started_ms", "minutes", "scenario",
                                          "participants", "notes",      NULL};
    static const char *const kinds[] = {"fire", "evacuation", "other", NULL};
    json_t *body = api_request_body_only(api, request, allowed);
    if (!body)
        return;
    bool bad = false;
    const char *kind = text_field(api, request->id, body, "kind", true, 16, false, &bad);
    bool known = false;
    for (size_t i = 0; kind && kinds[i]; i++)
        known = known || strcmp(kinds[i], kind) == 0;
    int64_t now = bridge_core_now_ms(api->core);
    json_t *started = json_object_get(body, "started_ms");
    json_t *minutes = json_object_get(body, "minutes");
    json_t *participants = json_object_get(body, "participants");
    const char *scenario = NULL, *notes = NULL;
    if (bad) {
    } else if (!known) {
        api_reply_error(api, request->id, 400, "kind", "kind: expected fire, evacuation or other");
        bad = true;
    } else if (!json_is_integer(started) || json_integer_value(started) < now - DRILL_PAST_MS ||
               json_integer_value(started) > now + DRILL_FUTURE_MS) {
        api_reply_error(api, request->id, 400, "started_ms",
                        "started_ms: expected when the drill started (ms since the epoch), within "
                        "the last year and not in the future");
        bad = true;
    } else if (!json_is_integer(minutes) || json_integer_value(minutes) < 1 ||
               json_integer_value(minutes) > DRILL_MAX_MIN) {
        api_reply_error(api, request->id, 400, "minutes",
                        "minutes: expected how long it took, a whole number from 1 to %d",
                        DRILL_MAX_MIN);
        bad = true;
    } else if (!(scenario = text_field(api, request->id, body, "scenario", true, SCENARIO_MAX, true,
                                       &bad))) {
        bad = true;
    } else if (!json_is_array(participants) || json_array_size(participants) == 0 ||
               json_array_size(participants) > PARTICIPANTS_MAX) {
        api_reply_error(api, request->id, 400, "participants",
                        "participants: expected a list of 1 to %d names", PARTICIPANTS_MAX);
        bad = true;
    } else {
        size_t index;
        json_t *name;
        json_array_foreach(participants, index, name)
        {
            const char *text = json_string_value(name);
            if (!text || !text[0] || chars_of(text) > NAME_MAX_CHARS || strpbrk(text, "\n\r\t")) {
                api_reply_error(api, request->id, 400, "participants",
                                "participants: name %zu: expected text of 1 to %d characters on "
                                "one line",
                                index + 1, NAME_MAX_CHARS);
                bad = true;
                break;
            }
        }
        if (!bad)
            notes = text_field(api, request->id, body, "notes", false, NOTES_MAX_CHARS, true, &bad);
    }
    if (bad) {
        json_decref(body);
        return;
    }
    json_t *record =
        json_pack("{s:s, s:O, s:O, s:s, s:O, s:i, s:s, s:s}", "kind", kind, "started_ms", started,
                  "minutes", minutes, "scenario", scenario, "participants", participants,
                  "participant_count", (int)json_array_size(participants), "notes",
                  notes ? notes : "", "recorded_by", request->username);
    json_decref(body);
    reply_recorded(api, request, "drill", record);
}
