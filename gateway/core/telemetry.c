/* The lean telemetry path: records written once into their final MQTT
 * payload, queued as outbox-only rows; see telemetry.h. */
#include "core/telemetry.h"

#include <stdlib.h>
#include <string.h>

#include "common/event.h"
#include "common/json_writer.h"
#include "common/log.h"

/* A message never grows past this, nor past the broker's limit. */
#define MESSAGE_MAX_BYTES (64 * 1024)

enum message_type { MESSAGE_NONE, MESSAGE_READINGS, MESSAGE_TELEMETRY };

struct wg_telemetry {
    struct wg_journal *journal;
    char *site, *district;
    int interval_s;
    size_t limit;
    struct jw_buffer message; /* the open message, without its closing "]}" */
    struct jw_buffer record;  /* the record being written */
    enum message_type type;
    size_t records_in_message;
    int64_t opened_mono_ms;
    int64_t from_ms, to_ms; /* interval messages: their interval */
    struct wg_telemetry_stats stats;
};

struct wg_telemetry *telemetry_new(struct wg_journal *journal)
{
    struct wg_telemetry *telemetry = calloc(1, sizeof *telemetry);
    if (!telemetry)
        return NULL;
    telemetry->journal = journal;
    telemetry->limit = MESSAGE_MAX_BYTES;
    jw_init(&telemetry->message);
    jw_init(&telemetry->record);
    return telemetry;
}

void telemetry_free(struct wg_telemetry *telemetry)
{
    if (!telemetry)
        return;
    jw_free(&telemetry->message);
    jw_free(&telemetry->record);
    free(telemetry->site);
    free(telemetry->district);
    free(telemetry);
}

int telemetry_configure(struct wg_telemetry *telemetry, const struct wg_config *config)
{
    char *site = strdup(config->site.id ? config->site.id : "");
    char *district = strdup(config->site.district ? config->site.district : "");
    if (!site || !district) {
        free(site);
        free(district);
        return -1;
    }
    telemetry_flush(telemetry); /* what is open was written with the settings it had */
    free(telemetry->site);
    free(telemetry->district);
    telemetry->site = site;
    telemetry->district = district;
    telemetry->interval_s = config->uplink.telemetry_interval_s;
    long long limit = config->uplink.max_message_bytes;
    telemetry->limit =
        limit > 0 && limit < MESSAGE_MAX_BYTES ? (size_t)limit : (size_t)MESSAGE_MAX_BYTES;
    return 0;
}

/* The message's head, up to the opening bracket of its records. */
static void open_message(struct wg_telemetry *telemetry, enum message_type type)
{
    struct jw_buffer *out = &telemetry->message;
    jw_reset(out);
    struct wg_event id = {0};
    event_new_id(&id);
    jw_text(out, type == MESSAGE_READINGS ? "{\"schema\":\"wardgate/readings/1\""
                                          : "{\"schema\":\"wardgate/telemetry/3\"");
    jw_key(out, "site", false);
    jw_string(out, telemetry->site);
    jw_key(out, "district", false);
    jw_string(out, telemetry->district);
    jw_key(out, "id", false);
    jw_string(out, id.id);
    if (type == MESSAGE_TELEMETRY) {
        jw_key(out, "from_ms", false);
        jw_int(out, telemetry->from_ms);
        jw_key(out, "to_ms", false);
        jw_int(out, telemetry->to_ms);
        jw_key(out, "interval_s", false);
        jw_int(out, telemetry->interval_s);
    }
    jw_key(out, type == MESSAGE_READINGS ? "readings" : "devices", false);
    jw_char(out, '[');
    telemetry->type = type;
    telemetry->records_in_message = 0;
}

void telemetry_flush(struct wg_telemetry *telemetry)
{
    if (telemetry->type == MESSAGE_NONE)
        return;
    struct jw_buffer *out = &telemetry->message;
    jw_text(out, "]}");
    const char *kind = telemetry->type == MESSAGE_READINGS ? "readings" : "telemetry";
    telemetry->type = MESSAGE_NONE;
    if (jw_failed(out)) {
        wg_err("telemetry: out of memory; a %s message of %zu records is not sent", kind,
               telemetry->records_in_message);
        jw_reset(out);
        return;
    }
    struct wg_outbox_append row = {.uplink_class = WG_UPLINK_TELEMETRY,
                                   .kind = kind,
                                   .payload = out->text,
                                   .payload_len = out->len,
                                   .created_ms = telemetry->to_ms};
    if (journal_outbox(telemetry->journal, &row) == 0) {
        telemetry->stats.messages++;
        telemetry->stats.bytes += out->len;
    }
    jw_reset(out);
}

/* Appends the record just written, closing the open message first when the
 * record would take it past the limit. */
static void add_record(struct wg_telemetry *telemetry, enum message_type type, int64_t now_mono_ms)
{
    struct jw_buffer *record = &telemetry->record;
    if (jw_failed(record)) {
        wg_err("telemetry: out of memory; a record is not sent");
        jw_reset(record);
        return;
    }
    if (telemetry->type != MESSAGE_NONE &&
        (telemetry->type != type || telemetry->message.len + record->len + 3 > telemetry->limit))
        telemetry_flush(telemetry);
    if (telemetry->type == MESSAGE_NONE) {
        open_message(telemetry, type);
        telemetry->opened_mono_ms = now_mono_ms;
    }
    if (telemetry->records_in_message++ > 0)
        jw_char(&telemetry->message, ',');
    jw_raw(&telemetry->message, record->text, record->len);
    jw_reset(record);
    telemetry->stats.records++;
}

void telemetry_add_poll(struct wg_telemetry *telemetry, const char *device, int64_t ts_ms,
                        const struct wg_profile *profile, const double *values, const bool *fresh,
                        int64_t now_mono_ms)
{
    struct jw_buffer *out = &telemetry->record;
    jw_text(out, "{\"device\":");
    jw_string(out, device);
    jw_key(out, "ts_ms", false);
    jw_int(out, ts_ms);
    jw_key(out, "values", false);
    jw_char(out, '{');
    bool first = true;
    for (size_t p = 0; p < profile->point_count; p++) {
        if (!fresh[p] || profile->points[p].kind == WG_POINT_BOOL)
            continue;
        jw_key(out, profile->points[p].name, first);
        jw_double(out, values[p]);
        first = false;
    }
    jw_text(out, "}}");
    if (first) { /* nothing numeric in this poll */
        jw_reset(out);
        return;
    }
    telemetry->to_ms = ts_ms;
    add_record(telemetry, MESSAGE_READINGS, now_mono_ms);
}

void telemetry_add_interval(struct wg_telemetry *telemetry, const char *device,
                            const struct wg_profile *profile,
                            const struct wg_reading_aggregate *aggregates, int64_t from_ms,
                            int64_t to_ms)
{
    if (telemetry->type == MESSAGE_TELEMETRY &&
        (telemetry->from_ms != from_ms || telemetry->to_ms != to_ms))
        telemetry_flush(telemetry);
    telemetry->from_ms = from_ms;
    telemetry->to_ms = to_ms;
    struct jw_buffer *out = &telemetry->record;
    jw_text(out, "{\"device\":");
    jw_string(out, device);
    jw_key(out, "points", false);
    jw_char(out, '{');
    bool first = true;
    for (size_t p = 0; p < profile->point_count; p++) {
        const struct wg_reading_aggregate *aggregate = &aggregates[p];
        if (aggregate->count == 0)
            continue;
        jw_key(out, profile->points[p].name, first);
        first = false;
        if (aggregate->count == 1) { /* read once: its value says it all */
            jw_double(out, aggregate->last);
            continue;
        }
        jw_text(out, "{\"count\":");
        jw_int(out, aggregate->count);
        jw_text(out, ",\"min\":");
        jw_double(out, aggregate->min);
        jw_text(out, ",\"max\":");
        jw_double(out, aggregate->max);
        jw_text(out, ",\"avg\":");
        jw_double(out, aggregate->sum / (double)aggregate->count);
        jw_text(out, ",\"last\":");
        jw_double(out, aggregate->last);
        jw_char(out, '}');
    }
    jw_text(out, "}}");
    if (first) {
        jw_reset(out);
        return;
    }
    add_record(telemetry, MESSAGE_TELEMETRY, 0);
}

int64_t telemetry_due_ms(const struct wg_telemetry *telemetry, int64_t now_mono_ms)
{
    if (telemetry->type != MESSAGE_READINGS)
        return -1;
    int64_t due = telemetry->opened_mono_ms + WG_TELEMETRY_BATCH_MS - now_mono_ms;
    return due < 0 ? 0 : due;
}

void telemetry_stats(const struct wg_telemetry *telemetry, struct wg_telemetry_stats *stats)
{
    *stats = telemetry->stats;
}
