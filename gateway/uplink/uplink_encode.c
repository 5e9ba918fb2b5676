/* Topics and JSON payloads for the district platform; see uplink_encode.h. */
#include "uplink/uplink_encode.h"

#include "common/clock.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int uplink_topic(const struct wg_uplink_identity *identity, const char *leaf, char *out,
                 size_t out_len)
{
    int n = snprintf(out, out_len, "%s/%s/%s/%s", identity->prefix, identity->district,
                     identity->facility, leaf);
    return n < 0 || (size_t)n >= out_len ? -1 : 0;
}

void uplink_format_time(int64_t ts_ms, char *out, size_t out_len)
{
    clock_format_rfc3339(ts_ms, true, out, out_len);
}

static json_t *time_value(int64_t ts_ms)
{
    char text[48];
    uplink_format_time(ts_ms, text, sizeof text);
    return json_string(text);
}

/* A time field of an alarm record: ms, 0 or null = not yet. */
static json_t *time_or_null(const json_t *ms)
{
    if (!json_is_integer(ms) || json_integer_value(ms) <= 0)
        return json_null();
    return time_value((int64_t)json_integer_value(ms));
}

/* A text field; "" and missing become null. */
static json_t *text_or_null(const json_t *object, const char *key)
{
    const char *text = json_string_value(json_object_get(object, key));
    return text && text[0] ? json_string(text) : json_null();
}

json_t *uplink_envelope(const struct wg_uplink_identity *identity, const char *schema,
                        int64_t ts_ms)
{
    json_t *message = json_object();
    if (!message)
        return NULL;
    int rc = json_object_set_new(message, "schema", json_string(schema));
    rc |= json_object_set_new(message, "facility", json_string(identity->facility));
    rc |= json_object_set_new(message, "district", json_string(identity->district));
    rc |= json_object_set_new(message, "ts", time_value(ts_ms));
    if (rc != 0) {
        json_decref(message);
        return NULL;
    }
    return message;
}

static json_t *location_object(const json_t *source)
{
    return json_pack("{s:o, s:o, s:o}", "zone", text_or_null(source, "zone"), "room",
                     text_or_null(source, "room"), "bed", text_or_null(source, "bed"));
}

/* A positive integer field, else null. */
static json_t *count_or_null(const json_t *object, const char *key)
{
    json_int_t value = json_integer_value(json_object_get(object, key));
    return value > 0 ? json_integer(value) : json_null();
}

/* Who was paged about the alarm and what each did (issue 16), with times
 * as RFC 3339; null when paging is not configured. */
static json_t *paging_object(const json_t *paging)
{
    if (!json_is_object(paging))
        return json_null();
    json_t *pages = json_array();
    size_t index;
    const json_t *page;
    json_array_foreach(json_object_get(paging, "pages"), index, page) json_array_append_new(
        pages,
        json_pack("{s:o, s:o, s:o, s:O, s:o, s:o, s:o, s:o, s:o, s:o}", "user",
                  text_or_null(page, "user"), "name", text_or_null(page, "name"), "care_role",
                  text_or_null(page, "care_role"), "step", json_object_get(page, "step"),
                  "notified_at", time_or_null(json_object_get(page, "notified_ms")), "received_at",
                  time_or_null(json_object_get(page, "received_ms")), "accepted_at",
                  time_or_null(json_object_get(page, "accepted_ms")), "declined_at",
                  time_or_null(json_object_get(page, "declined_ms")), "reason",
                  text_or_null(page, "reason"), "outcome", text_or_null(page, "outcome")));
    return json_pack("{s:o, s:b, s:o, s:o, s:o}", "step_kind", text_or_null(paging, "step_kind"),
                     "no_cover", json_is_true(json_object_get(paging, "no_cover")), "accepted_by",
                     text_or_null(paging, "accepted_by"), "accepted_at",
                     time_or_null(json_object_get(paging, "accepted_ms")), "pages",
                     pages ? pages : json_array());
}

json_t *uplink_alarm_object(const json_t *record, const char *phase)
{
    json_t *escalations = json_array();
    size_t index;
    const json_t *step;
    json_array_foreach(json_object_get(record, "escalations"), index, step) json_array_append_new(
        escalations, json_pack("{s:O, s:o}", "level", json_object_get(step, "level"), "at",
                               time_or_null(json_object_get(step, "ms"))));
    const json_t *risk = json_object_get(record, "risk");
    json_t *alarm = json_pack(
        "{s:o, s:I, s:s, s:o, s:o, s:I, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:b}", "id",
        text_or_null(record, "id"), "update", json_integer_value(json_object_get(record, "update")),
        "phase", phase, "state", text_or_null(record, "state"), "priority",
        text_or_null(record, "priority"), "priority_level",
        json_integer_value(json_object_get(record, "priority_level")), "kind",
        text_or_null(record, "kind"), "risk",
        json_is_string(risk) && strcmp(json_string_value(risk), "none") != 0
            ? json_copy((json_t *)risk)
            : json_null(),
        "rule", text_or_null(record, "rule"), "location", location_object(record), "device",
        text_or_null(record, "device"), "point", text_or_null(record, "point"), "resident",
        text_or_null(record, "resident"), "detail", text_or_null(record, "detail"),
        "condition_active", json_is_true(json_object_get(record, "condition_active")));
    if (!alarm || !escalations) {
        json_decref(alarm);
        json_decref(escalations);
        return NULL;
    }
    int rc =
        json_object_set_new(alarm, "raised_at", time_or_null(json_object_get(record, "raised_ms")));
    rc |= json_object_set_new(alarm, "acknowledged_at",
                              time_or_null(json_object_get(record, "acknowledged_ms")));
    rc |= json_object_set_new(alarm, "acknowledged_by", text_or_null(record, "acknowledged_by"));
    rc |= json_object_set_new(alarm, "attended_at",
                              time_or_null(json_object_get(record, "attended_ms")));
    rc |= json_object_set_new(alarm, "reset_at", time_or_null(json_object_get(record, "reset_ms")));
    rc |= json_object_set_new(alarm, "reset_by", text_or_null(record, "reset_by"));
    rc |= json_object_set_new(
        alarm, "escalation_level",
        json_integer(json_integer_value(json_object_get(record, "escalation_level"))));
    rc |= json_object_set_new(alarm, "escalations", escalations);
    rc |= json_object_set_new(
        alarm, "reannunciations",
        json_integer(json_integer_value(json_object_get(record, "reannunciations"))));
    /* Where a fire zone or a detector is, as the site names it, and the panel's numbers. */
    rc |= json_object_set_new(json_object_get(alarm, "location"), "place",
                              text_or_null(record, "place"));
    /* What detail says, as a code and arguments a platform can put into its own words. */
    const json_t *args = json_object_get(record, "detail_args");
    rc |= json_object_set_new(alarm, "detail_code", text_or_null(record, "detail_code"));
    rc |= json_object_set_new(alarm, "detail_args",
                              json_is_object(args) ? json_deep_copy(args) : json_object());
    rc |= json_object_set_new(alarm, "fire_zone", count_or_null(record, "fire_zone"));
    rc |= json_object_set_new(alarm, "fire_loop", count_or_null(record, "fire_loop"));
    rc |= json_object_set_new(alarm, "fire_address", count_or_null(record, "fire_address"));
    rc |= json_object_set_new(alarm, "paging", paging_object(json_object_get(record, "paging")));
    if (rc != 0) {
        json_decref(alarm);
        return NULL;
    }
    return alarm;
}

/* Fills a journal event's message; returns the topic leaf, or NULL. */
static const char *fill_event(json_t *message, const json_t *row, const char *kind,
                              const json_t *data, char *why, size_t why_len)
{
    if (strcmp(kind, "alarm") == 0) {
        const char *phase = json_string_value(json_object_get(data, "phase"));
        json_t *alarm = uplink_alarm_object(data, phase ? phase : "update");
        if (!alarm || !json_is_string(json_object_get(data, "id"))) {
            json_decref(alarm);
            snprintf(why, why_len, "alarm event without an alarm record");
            return NULL;
        }
        json_object_set_new(message, "alarm", alarm);
        return WG_LEAF_ALARM;
    }
    if (strcmp(kind, "device_health") == 0) {
        json_object_set_new(message, "device", text_or_null(row, "device"));
        json_object_set_new(message, "location", location_object(row));
        json_object_set_new(message, "health", text_or_null(data, "health"));
        json_object_set_new(message, "previous", text_or_null(data, "previous"));
        json_object_set_new(message, "reason", text_or_null(data, "reason"));
        json_object_set_new(message, "reason_code", text_or_null(data, "reason_code"));
        return WG_LEAF_HEALTH;
    }
    if (strcmp(kind, "telemetry") == 0) {
        json_object_set_new(message, "device", text_or_null(row, "device"));
        json_object_set_new(message, "location", location_object(row));
        json_object_set_new(message, "from", time_or_null(json_object_get(data, "from_ms")));
        json_object_set_new(message, "to", time_or_null(json_object_get(data, "to_ms")));
        json_object_set_new(message, "interval_s",
                            json_integer(json_integer_value(json_object_get(data, "interval_s"))));
        const json_t *points = json_object_get(data, "points");
        json_object_set_new(message, "points",
                            json_is_array(points) ? json_copy((json_t *)points) : json_array());
        return WG_LEAF_TELEMETRY;
    }
    json_object_set_new(message, "kind", json_string(kind));
    json_object_set_new(message, "device", text_or_null(row, "device"));
    json_object_set_new(message, "location", location_object(row));
    json_object_set_new(message, "data", json_copy((json_t *)data));
    return WG_LEAF_EVENT;
}

static const char *schema_of(const char *leaf)
{
    if (strcmp(leaf, WG_LEAF_ALARM) == 0)
        return "wardgate/alarm/1";
    if (strcmp(leaf, WG_LEAF_HEALTH) == 0)
        return "wardgate/health/1";
    if (strcmp(leaf, WG_LEAF_TELEMETRY) == 0)
        return "wardgate/telemetry/1";
    return "wardgate/event/1";
}

char *uplink_encode_event(const struct wg_uplink_identity *identity, const char *row_text,
                          size_t row_len, const char **leaf, size_t *length, char *why,
                          size_t why_len)
{
    json_error_t error;
    json_t *row = json_loadb(row_text, row_len, 0, &error);
    const char *id = json_string_value(json_object_get(row, "id"));
    const char *kind = json_string_value(json_object_get(row, "kind"));
    const json_t *seq = json_object_get(row, "seq");
    const json_t *ts = json_object_get(row, "ts_ms");
    const json_t *data = json_object_get(row, "data");
    if (!row || !id || !kind || !json_is_integer(seq) || !json_is_integer(ts) ||
        !json_is_object(data)) {
        snprintf(why, why_len, "outbox row is not an event: %s",
                 row ? "id, seq, ts_ms, kind or data missing" : error.text);
        json_decref(row);
        return NULL;
    }
    /* The schema needs the leaf, the leaf needs the kind: fill, then stamp. */
    json_t *message = json_object();
    const char *chosen = message ? fill_event(message, row, kind, data, why, why_len) : NULL;
    json_t *envelope =
        chosen ? uplink_envelope(identity, schema_of(chosen), (int64_t)json_integer_value(ts))
               : NULL;
    char *text = NULL;
    if (envelope) {
        json_object_set_new(envelope, "id", json_string(id));
        json_object_set_new(envelope, "seq", json_integer(json_integer_value(seq)));
        json_object_update(envelope, message);
        text = json_dumps(envelope, JSON_COMPACT);
        if (!text)
            snprintf(why, why_len, "out of memory encoding event %s", id);
    } else if (chosen) {
        snprintf(why, why_len, "out of memory encoding event %s", id);
    }
    json_decref(envelope);
    json_decref(message);
    json_decref(row);
    if (!text)
        return NULL;
    *leaf = chosen;
    *length = strlen(text);
    return text;
}

char *uplink_encode_oversize(const struct wg_uplink_identity *identity, const char *event_id,
                             int64_t seq, const char *kind, size_t size, long long limit,
                             int64_t now_ms, size_t *length)
{
    json_t *message = uplink_envelope(identity, "wardgate/event/1", now_ms);
    if (!message)
        return NULL;
    char reason[160];
    snprintf(reason, sizeof reason,
             "the %s event is %zu bytes, more than the broker's limit of %lld; its full record "
             "stays in the gateway's journal",
             kind, size, limit);
    json_object_set_new(message, "id", json_string(event_id));
    json_object_set_new(message, "seq", json_integer(seq));
    json_object_set_new(message, "kind", json_string("oversize"));
    json_object_set_new(message, "device", json_null());
    json_object_set_new(message, "location", json_pack("{s:n, s:n, s:n}", "zone", "room", "bed"));
    json_object_set_new(message, "data",
                        json_pack("{s:s, s:I, s:I, s:s}", "original_kind", kind, "bytes",
                                  (json_int_t)size, "limit", (json_int_t)limit, "reason", reason));
    char *text = json_dumps(message, JSON_COMPACT);
    json_decref(message);
    if (text)
        *length = strlen(text);
    return text;
}

char *uplink_encode_status(const struct wg_uplink_identity *identity, bool online,
                           const char *version, int64_t ts_ms)
{
    json_t *message = uplink_envelope(identity, "wardgate/status/1", ts_ms);
    if (!message)
        return NULL;
    json_object_set_new(message, "state", json_string(online ? "online" : "offline"));
    json_object_set_new(message, "version", json_string(version));
    char *text = json_dumps(message, JSON_COMPACT);
    json_decref(message);
    return text;
}

static char *dump_part(const struct wg_uplink_identity *identity, const struct wg_reply *reply,
                       int64_t ts_ms, json_t *items, int part, int parts)
{
    json_t *message = uplink_envelope(identity, "wardgate/reply/1", ts_ms);
    if (!message)
        return NULL;
    json_object_set_new(message, "request", json_string(reply->request));
    json_object_set_new(message, "command",
                        reply->command ? json_string(reply->command) : json_null());
    json_object_set_new(message, "result", json_string(reply->confirm ? "confirm" : "deny"));
    json_object_set_new(message, "reason", json_string(reply->reason ? reply->reason : ""));
    json_object_set_new(message, "part", json_integer(part));
    json_object_set_new(message, "parts", json_integer(parts));
    if (reply->summary)
        json_object_set(message, "summary", (json_t *)reply->summary);
    if (items)
        json_object_set(message, "items", items);
    char *text = json_dumps(message, JSON_COMPACT);
    json_decref(message);
    return text;
}

void uplink_free_parts(char **parts, int count)
{
    for (int i = 0; parts && i < count; i++)
        free(parts[i]);
    free(parts);
}

int uplink_encode_reply(const struct wg_uplink_identity *identity, const struct wg_reply *reply,
                        int64_t ts_ms, long long max_bytes, char ***parts_out, char *why,
                        size_t why_len)
{
    *parts_out = NULL;
    size_t item_count = json_array_size(reply->items);
    /* The frame: everything but the items, with the widest part numbers. */
    json_t *empty = json_array();
    char *frame =
        empty ? dump_part(identity, reply, ts_ms, reply->items ? empty : NULL, 99999, 99999) : NULL;
    json_decref(empty);
    if (!frame) {
        snprintf(why, why_len, "out of memory encoding a reply");
        return -1;
    }
    long long room = max_bytes - (long long)strlen(frame);
    free(frame);
    if (room < 2) {
        snprintf(why, why_len, "a reply without items is already larger than %lld bytes",
                 max_bytes);
        return -1;
    }
    /* Greedy: items in order, a new part when the next one does not fit.
     * starts[p] is the first item of part p; starts[parts] the end. There
     * is always one part, even without items, so parts <= item_count + 1. */
    size_t *starts = calloc(item_count + 2, sizeof *starts);
    if (!starts) {
        snprintf(why, why_len, "out of memory encoding a reply");
        return -1;
    }
    int parts = 1;
    long long used = 0;
    for (size_t i = 0; i < item_count; i++) {
        char *item = json_dumps(json_array_get(reply->items, i), JSON_COMPACT | JSON_ENCODE_ANY);
        long long size = item ? (long long)strlen(item) + 1 : -1; /* +1: the comma */
        free(item);
        if (size < 0 || size > room) {
            if (size < 0)
                snprintf(why, why_len, "out of memory encoding a reply");
            else
                snprintf(why, why_len,
                         "item %zu alone is larger than the broker's limit of %lld bytes", i,
                         max_bytes);
            free(starts);
            return -1;
        }
        if (used + size > room) {
            starts[parts++] = i;
            used = 0;
        }
        used += size;
    }
    starts[parts] = item_count;
    char **texts = calloc((size_t)parts, sizeof *texts);
    for (int p = 0; texts && p < parts; p++) {
        json_t *chunk = NULL;
        if (reply->items) {
            chunk = json_array();
            for (size_t i = starts[p]; chunk && i < starts[p + 1]; i++)
                json_array_append(chunk, json_array_get(reply->items, i));
        }
        texts[p] = dump_part(identity, reply, ts_ms, chunk, p + 1, parts);
        json_decref(chunk);
        if (!texts[p] || (long long)strlen(texts[p]) > max_bytes) {
            snprintf(why, why_len, "reply part %d could not be encoded within %lld bytes", p + 1,
                     max_bytes);
            uplink_free_parts(texts, parts);
            free(starts);
            return -1;
        }
    }
    free(starts);
    if (!texts) {
        snprintf(why, why_len, "out of memory encoding a reply");
        return -1;
    }
    *parts_out = texts;
    return parts;
}
