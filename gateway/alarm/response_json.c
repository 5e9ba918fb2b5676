/* The response report as JSON (shape in docs/response.md): figures per
 * shift and overall, per carer and per room, the long waits, times in the
 * site's local time. */
#include "alarm/response_private.h"

#include "common/clock.h"

/* Adds key: value (stealing value); remembers a failure in *ok. */
static void put(json_t *object, const char *key, json_t *value, bool *ok)
{
    if (!value || json_object_set_new(object, key, value) != 0)
        *ok = false;
}

static json_t *seconds_or_null(double seconds)
{
    return seconds < 0 ? json_null() : json_real(seconds);
}

static json_t *ms_or_null(int64_t ms)
{
    return ms ? json_integer(ms) : json_null();
}

static json_t *text_or_null(const char *text)
{
    return text[0] ? json_string(text) : json_null();
}

static json_t *local_time(int64_t ms)
{
    char text[64];
    clock_format_rfc3339(ms, true, text, sizeof text); /* the site's time, with its offset */
    return json_string(text);
}

static json_t *figures_json(const struct wg_response_figures *f, json_t *object)
{
    if (!object)
        return NULL;
    bool ok = true;
    put(object, "raised", json_integer(f->raised), &ok);
    put(object, "acknowledged", json_integer(f->acknowledged), &ok);
    put(object, "attended", json_integer(f->attended), &ok);
    put(object, "reset_unattended", json_integer(f->reset_unattended), &ok);
    put(object, "open_unattended", json_integer(f->open_unattended), &ok);
    put(object, "long_waits", json_integer(f->long_waits), &ok);
    put(object, "ack_p50_s", seconds_or_null(f->ack_p50_s), &ok);
    put(object, "ack_p90_s", seconds_or_null(f->ack_p90_s), &ok);
    put(object, "attend_p50_s", seconds_or_null(f->attend_p50_s), &ok);
    put(object, "attend_p90_s", seconds_or_null(f->attend_p90_s), &ok);
    put(object, "paged", json_integer(f->paged), &ok);
    put(object, "accepted", json_integer(f->accepted), &ok);
    put(object, "reset", json_integer(f->reset), &ok);
    put(object, "accept_p50_s", seconds_or_null(f->accept_p50_s), &ok);
    put(object, "accept_p90_s", seconds_or_null(f->accept_p90_s), &ok);
    put(object, "accept_attend_p50_s", seconds_or_null(f->accept_attend_p50_s), &ok);
    put(object, "accept_attend_p90_s", seconds_or_null(f->accept_attend_p90_s), &ok);
    put(object, "reset_p50_s", seconds_or_null(f->reset_p50_s), &ok);
    put(object, "reset_p90_s", seconds_or_null(f->reset_p90_s), &ok);
    if (!ok) {
        json_decref(object);
        return NULL;
    }
    return object;
}

static json_t *clock_text(int minute)
{
    char text[16];
    snprintf(text, sizeof text, "%02d:%02d", minute / 60, minute % 60);
    return json_string(text);
}

static json_t *shift_json(const struct wg_response_shift *shift)
{
    json_t *object = json_object();
    bool ok = object != NULL;
    if (ok) {
        put(object, "name", json_string(shift->name), &ok);
        put(object, "start", clock_text(shift->start_min), &ok);
        put(object, "end", clock_text(shift->end_min), &ok);
    }
    if (!ok) {
        json_decref(object);
        return NULL;
    }
    return figures_json(&shift->figures, object);
}

static json_t *long_wait_json(const struct wg_response_report *report,
                              const struct wg_long_wait *wait)
{
    json_t *object = json_object();
    if (!object)
        return NULL;
    bool ok = true;
    put(object, "alarm_id", json_string(wait->alarm_id), &ok);
    put(object, "raised_ms", json_integer(wait->raised_ms), &ok);
    put(object, "raised", local_time(wait->raised_ms), &ok);
    put(object, "shift",
        wait->shift == WG_RESPONSE_NO_SHIFT ? json_null()
                                            : json_string(report->shifts[wait->shift].name),
        &ok);
    put(object, "priority", json_string(response_priority_name(wait->priority)), &ok);
    put(object, "priority_level", json_integer(wait->priority), &ok);
    put(object, "kind", text_or_null(wait->kind), &ok);
    put(object, "zone", text_or_null(wait->zone), &ok);
    put(object, "room", text_or_null(wait->room), &ok);
    put(object, "bed", text_or_null(wait->bed), &ok);
    put(object, "resident", text_or_null(wait->resident), &ok);
    put(object, "acknowledged_ms", ms_or_null(wait->acknowledged_ms), &ok);
    put(object, "attended_ms", ms_or_null(wait->attended_ms), &ok);
    put(object, "reset_ms", ms_or_null(wait->reset_ms), &ok);
    put(object, "wait_s", json_real((double)wait->wait_ms / 1000.0), &ok);
    put(object, "outcome", json_string(response_outcome_name(wait->outcome)), &ok);
    if (!ok) {
        json_decref(object);
        return NULL;
    }
    return object;
}

static json_t *carer_json(const struct wg_response_carer *carer)
{
    json_t *object = json_object();
    if (!object)
        return NULL;
    bool ok = true;
    put(object, "user", json_string(carer->user), &ok);
    put(object, "name", text_or_null(carer->name), &ok);
    put(object, "accepted", json_integer(carer->accepted), &ok);
    put(object, "accept_p50_s", seconds_or_null(carer->accept_p50_s), &ok);
    put(object, "accept_p90_s", seconds_or_null(carer->accept_p90_s), &ok);
    put(object, "accept_attend_p50_s", seconds_or_null(carer->accept_attend_p50_s), &ok);
    put(object, "accept_attend_p90_s", seconds_or_null(carer->accept_attend_p90_s), &ok);
    put(object, "paged", json_integer(carer->paged), &ok);
    put(object, "declined", json_integer(carer->declined), &ok);
    put(object, "not_reached", json_integer(carer->not_reached), &ok);
    put(object, "timed_out", json_integer(carer->timed_out), &ok);
    if (!ok) {
        json_decref(object);
        return NULL;
    }
    return object;
}

static json_t *room_json(const struct wg_response_room *room)
{
    json_t *object = json_object();
    if (!object)
        return NULL;
    bool ok = true;
    put(object, "room", text_or_null(room->room), &ok);
    put(object, "raised", json_integer(room->raised), &ok);
    put(object, "long_waits", json_integer(room->long_waits), &ok);
    put(object, "ack_p50_s", seconds_or_null(room->ack_p50_s), &ok);
    put(object, "attend_p50_s", seconds_or_null(room->attend_p50_s), &ok);
    put(object, "accept_p50_s", seconds_or_null(room->accept_p50_s), &ok);
    put(object, "reset_p50_s", seconds_or_null(room->reset_p50_s), &ok);
    if (!ok) {
        json_decref(object);
        return NULL;
    }
    return object;
}

static json_t *priorities_json(unsigned priorities)
{
    json_t *array = json_array();
    for (int p = 0; array && p < PRIORITY_LEVELS; p++)
        if ((priorities & WG_RESPONSE_PRIORITY(p)) &&
            json_array_append_new(array, json_string(response_priority_name(p))) != 0) {
            json_decref(array);
            return NULL;
        }
    return array;
}

json_t *response_report_to_json(const struct wg_response_report *report)
{
    json_t *root = json_object();
    json_t *shifts = json_array();
    json_t *waits = json_array();
    json_t *carers = json_array();
    json_t *rooms = json_array();
    bool ok = root && shifts && waits && carers && rooms;
    for (size_t i = 0; ok && i < report->shift_count; i++) {
        json_t *shift = shift_json(&report->shifts[i]);
        ok = shift && json_array_append_new(shifts, shift) == 0;
    }
    for (size_t i = 0; ok && i < report->long_wait_count; i++) {
        json_t *wait = long_wait_json(report, &report->long_waits[i]);
        ok = wait && json_array_append_new(waits, wait) == 0;
    }
    for (size_t i = 0; ok && i < report->carer_count; i++) {
        json_t *carer = carer_json(&report->carers[i]);
        ok = carer && json_array_append_new(carers, carer) == 0;
    }
    for (size_t i = 0; ok && i < report->room_count; i++) {
        json_t *room = room_json(&report->rooms[i]);
        ok = room && json_array_append_new(rooms, room) == 0;
    }
    if (!ok) {
        json_decref(root);
        json_decref(shifts);
        json_decref(waits);
        json_decref(carers);
        json_decref(rooms);
        return NULL;
    }
    put(root, "from_ms", json_integer(report->from_ms), &ok);
    put(root, "to_ms", json_integer(report->to_ms), &ok);
    put(root, "from", local_time(report->from_ms), &ok);
    put(root, "to", local_time(report->to_ms), &ok);
    put(root, "percentile", json_string("nearest-rank"), &ok);
    put(root, "long_wait_s", json_real((double)report->long_wait_ms / 1000.0), &ok);
    put(root, "priorities", priorities_json(report->priorities), &ok);
    put(root, "overall", figures_json(&report->overall, json_object()), &ok);
    put(root, "unassigned", json_integer(report->unassigned), &ok);
    put(root, "skipped_rows", json_integer(report->skipped_rows), &ok);
    put(root, "shifts", shifts, &ok);
    put(root, "long_waits", waits, &ok);
    put(root, "long_waits_truncated", json_boolean(report->long_waits_truncated), &ok);
    put(root, "carers", carers, &ok);
    put(root, "carers_truncated", json_boolean(report->carers_truncated), &ok);
    put(root, "rooms", rooms, &ok);
    put(root, "rooms_truncated", json_boolean(report->rooms_truncated), &ok);
    if (!ok) {
        json_decref(root);
        return NULL;
    }
    return root;
}
