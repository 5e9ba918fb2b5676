/* The API's read endpoints as query jobs: history pages, the streamed CSV
 * export, the response report, the audit log; see api_read.h. */
#include "web/api_read.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "config/config.h"
#include "common/log.h"

#define EXPORT_PAGE_ROWS 1000  /* rows an export reads in one turn */
#define CHUNK_BYTES      16384 /* an export's chunks, about */

const char *const wg_event_kinds[] = {"alarm",          "point",  "device_health", "write_result",
                                      "telemetry",      "system", "test_mode",     "device_test",
                                      "handover",       "drill",  "round",         "round_checkin",
                                      "monthly_report", NULL};

/* ---- text that grows ---- */

struct text {
    char *data;
    size_t len, cap;
    bool failed; /* out of memory: what was added since is lost */
};

static void text_add(struct text *text, const char *bytes, size_t len)
{
    if (text->failed)
        return;
    if (text->len + len + 1 > text->cap) {
        size_t cap = text->cap ? text->cap : CHUNK_BYTES + 4096;
        while (cap < text->len + len + 1)
            cap *= 2;
        char *grown = realloc(text->data, cap);
        if (!grown) {
            text->failed = true;
            return;
        }
        text->data = grown;
        text->cap = cap;
    }
    memcpy(text->data + text->len, bytes, len);
    text->len += len;
    text->data[text->len] = '\0';
}

/* Hands the text over (NULL when empty or failed) and starts it afresh. */
static char *text_take(struct text *text, size_t *len)
{
    char *data = text->failed ? NULL : text->data;
    *len = data ? text->len : 0;
    if (!data)
        free(text->data);
    *text = (struct text){0};
    return data;
}

/* A CSV field: quoted when needed; a leading = + - @ (or tab, CR) is
 * defused with a ' so a spreadsheet never runs it as a formula. */
static void csv_field(struct text *out, const char *value, bool last)
{
    value = value ? value : "";
    bool formula = value[0] && strchr("=+-@\t\r", value[0]);
    bool quote = formula || strpbrk(value, ",\"\r\n") != NULL;
    if (quote)
        text_add(out, "\"", 1);
    if (formula)
        text_add(out, "'", 1);
    for (const char *c = value; *c; c++) {
        const char *quote_end = strchr(c, '"');
        size_t run = quote_end ? (size_t)(quote_end - c) : strlen(c);
        text_add(out, c, run);
        c += run;
        if (!*c)
            break;
        text_add(out, "\"\"", 2);
    }
    if (quote)
        text_add(out, "\"", 1);
    text_add(out, last ? "\n" : ",", 1);
}

/* ---- a journal row as people read it ---- */

/* Who made the change an alarm row records, when a person or place did. */
static const char *actor_of(json_t *body, const char *phase)
{
    const char *key = !phase                        ? NULL
                      : strcmp(phase, "ack") == 0   ? "acknowledged_by"
                      : strcmp(phase, "reset") == 0 ? "reset_by"
                                                    : NULL;
    const char *actor = key ? json_string_value(json_object_get(body, key)) : NULL;
    return actor && actor[0] ? actor : NULL;
}

static void add_name(json_t *record, const char *key, const char *name)
{
    if (name)
        json_object_set_new(record, key, json_string(name));
}

static json_t *history_json(const struct wg_event_row *row, json_t *body,
                            const struct wg_labels *labels)
{
    const char *phase = json_string_value(json_object_get(body, "phase"));
    json_t *record = json_pack(
        "{s:I, s:s, s:I, s:s, s:i, s:s?, s:s?, s:s?, s:s?, s:s?, s:s?, s:O*}", "seq",
        (json_int_t)row->seq, "id", row->id, "ts_ms", (json_int_t)row->ts_ms, "kind", row->kind,
        "priority", row->priority, "alarm_id", row->alarm_id, "device", row->device, "zone",
        row->zone, "room", row->room, "bed", row->bed, "resident", row->resident, "body", body);
    if (!record)
        return NULL;
    add_name(record, "device_label", labels_device(labels, row->device));
    add_name(record, "zone_name", labels_zone(labels, row->zone));
    add_name(record, "room_name", labels_room(labels, row->room));
    add_name(record, "resident_label", labels_resident(labels, row->resident));
    add_name(record, "by", actor_of(body, phase));
    return record;
}

#define CSV_HEADER                                                                                 \
    "\xEF\xBB\xBF"                                                                                 \
    "seq,time,event,priority,alarm_kind,phase,state,by,alarm_id,device,device_label,zone,"         \
    "zone_name,room,room_name,bed,resident,resident_label,detail\n"

static void csv_row(struct text *out, const struct wg_event_row *row, json_t *body,
                    const struct wg_labels *labels)
{
    char seq[24], time_text[40];
    snprintf(seq, sizeof seq, "%lld", (long long)row->seq);
    clock_format_rfc3339(row->ts_ms, true, time_text, sizeof time_text);
    const char *phase = json_string_value(json_object_get(body, "phase"));
    const char *detail = json_string_value(json_object_get(body, "detail"));
    const char *fields[] = {
        seq,
        time_text,
        row->kind,
        row->priority >= 0 ? priority_name((enum wg_priority)row->priority) : "",
        row->alarm_id ? json_string_value(json_object_get(body, "kind")) : "",
        phase,
        json_string_value(json_object_get(body, "state")),
        actor_of(body, phase),
        row->alarm_id,
        row->device,
        labels_device(labels, row->device),
        row->zone,
        labels_zone(labels, row->zone),
        row->room,
        labels_room(labels, row->room),
        row->bed,
        row->resident,
        labels_resident(labels, row->resident),
        detail ? detail : row->body,
    };
    size_t count = sizeof fields / sizeof *fields;
    for (size_t i = 0; i < count; i++)
        csv_field(out, fields[i], i + 1 == count);
}

/* ---- the history job: one page as JSON, or the whole of it as CSV ---- */

struct history_job {
    struct wg_query_job job; /* first: the service hands this back */
    struct wg_query_service *queries;
    struct wg_web_bridge *bridge;
    uint64_t request_id;
    struct wg_event_filter filter; /* its strings point into `strings` */
    char *strings;
    struct wg_labels *labels;
    bool csv;
    /* JSON */
    json_t *events;
    int64_t last_seq;
    int rows;
    /* CSV */
    struct wg_web_stream *stream;
    struct text out;
    int64_t exported;
    bool page_full; /* the turn stopped before its page ended */
};

static void history_free(struct wg_query_job *base)
{
    struct history_job *job = (struct history_job *)base;
    if (job->stream) {
        wg_warn("web: CSV export (request %llu) ended before its last row",
                (unsigned long long)job->request_id);
        bridge_stream_end(job->stream, false);
    }
    json_decref(job->events);
    free(job->out.data);
    labels_free(job->labels);
    free(job->strings);
    free(job);
}

static int json_row(const struct wg_event_row *row, void *ctx)
{
    struct history_job *job = ctx;
    json_t *body = json_loads(row->body, 0, NULL);
    json_array_append_new(job->events, history_json(row, body, job->labels));
    json_decref(body);
    job->last_seq = row->seq;
    job->rows++;
    return 0;
}

/* Posts what the export has gathered as one chunk. */
static void flush_chunk(struct history_job *job)
{
    size_t len;
    char *data = text_take(&job->out, &len);
    if (data)
        bridge_stream_write(job->stream, data, len);
}

static int csv_line(const struct wg_event_row *row, void *ctx)
{
    struct history_job *job = ctx;
    json_t *body = json_loads(row->body, 0, NULL);
    csv_row(&job->out, row, body, job->labels);
    json_decref(body);
    job->filter.before_seq = row->seq; /* the next page starts below it */
    job->exported++;
    if (++job->rows >= EXPORT_PAGE_ROWS) {
        job->page_full = true;
        return 1;
    }
    if (job->out.len < CHUNK_BYTES)
        return 0;
    flush_chunk(job);
    if (bridge_stream_has_room(job->stream))
        return 0;
    job->page_full = true; /* the client has not taken what it was sent: wait */
    return 1;
}

static void stream_wake(void *ctx, uint64_t request_id)
{
    query_resume(ctx, request_id);
}

/* Ends the export: the rest and the end, or (not ok, or out of memory
 * underway) a cut-off the client sees as an incomplete transfer. */
static enum wg_query_step finish_export(struct history_job *job, bool ok)
{
    bool complete = ok && !job->out.failed;
    if (complete)
        flush_chunk(job);
    bridge_stream_end(job->stream, complete);
    job->stream = NULL;
    return WG_QUERY_DONE;
}

/* True (and the export ended) when its client has gone away. */
static bool abandoned(struct history_job *job)
{
    if (!bridge_stream_gone(job->stream))
        return false;
    wg_info("web: CSV export (request %llu) abandoned by its client after %lld rows",
            (unsigned long long)job->request_id, (long long)job->exported);
    bridge_stream_end(job->stream, false);
    job->stream = NULL;
    return true;
}

/* Waits for the client to take what it was sent, unless it has gone: a
 * client that leaves while the job runs wakes nobody (the job was not
 * waiting then), so it is checked after the stream said "no room". */
static enum wg_query_step wait_for_client(struct history_job *job)
{
    return abandoned(job) ? WG_QUERY_DONE : WG_QUERY_WAIT;
}

/* One turn of an export: up to a page of rows, while the client keeps up. */
static enum wg_query_step export_turn(struct history_job *job, struct wg_store_reader *reader)
{
    if (abandoned(job))
        return WG_QUERY_DONE;
    if (!bridge_stream_has_room(job->stream))
        return wait_for_client(job);
    job->rows = 0;
    job->page_full = false;
    job->filter.limit = EXPORT_PAGE_ROWS;
    if (store_read_events(reader, &job->filter, csv_line, job) != 0) {
        wg_err("web: CSV export (request %llu) cut off after %lld rows: %s",
               (unsigned long long)job->request_id, (long long)job->exported,
               store_reader_error(reader));
        return finish_export(job, false);
    }
    if (job->out.failed) {
        wg_err("web: CSV export (request %llu) cut off after %lld rows: out of memory",
               (unsigned long long)job->request_id, (long long)job->exported);
        return finish_export(job, false);
    }
    if (!job->page_full)
        return finish_export(job, true);
    return bridge_stream_has_room(job->stream) ? WG_QUERY_MORE : wait_for_client(job);
}

static enum wg_query_step history_run(struct wg_query_job *base, struct wg_store_reader *reader)
{
    struct history_job *job = (struct history_job *)base;
    if (job->stream)
        return export_turn(job, reader);
    bool empty = false;
    if (store_read_narrow(reader, &job->filter, &empty) != 0) {
        bridge_reply_error(job->bridge, job->request_id, 503, NULL, "history: %s",
                           store_reader_error(reader));
        return WG_QUERY_DONE;
    }
    if (job->csv) {
        job->stream = bridge_stream_start(
            job->bridge, job->request_id, 200, "text/csv; charset=utf-8",
            "attachment; filename=\"wardgate-history.csv\"", stream_wake, job->queries);
        if (!job->stream) {
            bridge_reply_error(job->bridge, job->request_id, 500, NULL, "out of memory");
            return WG_QUERY_DONE;
        }
        text_add(&job->out, CSV_HEADER, strlen(CSV_HEADER));
        if (empty)
            return finish_export(job, true);
        return export_turn(job, reader);
    }
    job->events = json_array();
    if (!empty && store_read_events(reader, &job->filter, json_row, job) != 0) {
        bridge_reply_error(job->bridge, job->request_id, 503, NULL, "history: %s",
                           store_reader_error(reader));
        return WG_QUERY_DONE;
    }
    json_t *reply = json_pack("{s:O}", "events", job->events);
    if (reply && job->rows == job->filter.limit)
        json_object_set_new(reply, "next_before", json_integer(job->last_seq));
    bridge_reply_json(job->bridge, job->request_id, 200, reply);
    return WG_QUERY_DONE;
}

/* A copy of `text` into `*cursor` (a buffer sized by the caller); NULL stays NULL. */
static const char *copy_into(char **cursor, const char *text)
{
    if (!text)
        return NULL;
    size_t len = strlen(text) + 1;
    char *start = memcpy(*cursor, text, len);
    *cursor += len;
    return start;
}

int api_read_history(struct wg_query_service *queries, struct wg_web_bridge *bridge,
                     uint64_t request_id, const struct wg_event_filter *filter, bool csv,
                     struct wg_labels *labels)
{
    const char *texts[] = {filter->kind, filter->room, filter->device, filter->alarm_id};
    size_t total = 0;
    for (size_t i = 0; i < sizeof texts / sizeof *texts; i++)
        total += texts[i] ? strlen(texts[i]) + 1 : 0;
    struct history_job *job = calloc(1, sizeof *job);
    char *strings = malloc(total ? total : 1);
    if (!job || !strings) {
        free(job);
        free(strings);
        labels_free(labels);
        return -1;
    }
    char *cursor = strings;
    *job = (struct history_job){
        .job = {.run = history_run, .free = history_free, .key = request_id, .limited = csv},
        .queries = queries,
        .bridge = bridge,
        .request_id = request_id,
        .filter = *filter,
        .strings = strings,
        .labels = labels,
        .csv = csv,
    };
    job->filter.kind = copy_into(&cursor, filter->kind);
    job->filter.room = copy_into(&cursor, filter->room);
    job->filter.device = copy_into(&cursor, filter->device);
    job->filter.alarm_id = copy_into(&cursor, filter->alarm_id);
    return query_submit(queries, &job->job);
}

/* ---- the response report ---- */

struct report_job {
    struct wg_query_job job;
    struct wg_web_bridge *bridge;
    uint64_t request_id;
    int64_t from_ms, to_ms;
};

static enum wg_query_step report_run(struct wg_query_job *base, struct wg_store_reader *reader)
{
    struct report_job *job = (struct report_job *)base;
    json_t *report;
    char err[256];
    if (bridge_response_report_json(reader, job->from_ms, job->to_ms, &report, err, sizeof err) !=
        0) {
        bridge_reply_error(job->bridge, job->request_id, 503, NULL, "report: %s", err);
        return WG_QUERY_DONE;
    }
    bridge_reply_json(job->bridge, job->request_id, 200, report);
    return WG_QUERY_DONE;
}

static void plain_free(struct wg_query_job *job)
{
    free(job);
}

int api_read_report(struct wg_query_service *queries, struct wg_web_bridge *bridge,
                    uint64_t request_id, int64_t from_ms, int64_t to_ms)
{
    struct report_job *job = calloc(1, sizeof *job);
    if (!job)
        return -1;
    *job = (struct report_job){.job = {.run = report_run, .free = plain_free},
                               .bridge = bridge,
                               .request_id = request_id,
                               .from_ms = from_ms,
                               .to_ms = to_ms};
    return query_submit(queries, &job->job);
}

/* ---- the audit log ---- */

struct audit_job {
    struct wg_query_job job;
    struct wg_web_bridge *bridge;
    uint64_t request_id;
    int64_t before_seq;
    int limit;
};

static int audit_row(const struct wg_audit_row *row, void *ctx)
{
    json_t *detail = row->detail ? json_loads(row->detail, 0, NULL) : NULL;
    json_array_append_new(ctx, json_pack("{s:I, s:I, s:s, s:s?, s:s, s:s?, s:o*}", "seq",
                                         (json_int_t)row->seq, "ts_ms", (json_int_t)row->ts_ms,
                                         "actor", row->actor, "origin", row->origin, "action",
                                         row->action, "target", row->target, "detail", detail));
    return 0;
}

static enum wg_query_step audit_run(struct wg_query_job *base, struct wg_store_reader *reader)
{
    struct audit_job *job = (struct audit_job *)base;
    json_t *entries = json_array();
    if (store_read_audit(reader, job->before_seq, job->limit, audit_row, entries) != 0) {
        json_decref(entries);
        bridge_reply_error(job->bridge, job->request_id, 503, NULL, "audit: %s",
                           store_reader_error(reader));
        return WG_QUERY_DONE;
    }
    bridge_reply_json(job->bridge, job->request_id, 200, json_pack("{s:o}", "entries", entries));
    return WG_QUERY_DONE;
}

int api_read_audit(struct wg_query_service *queries, struct wg_web_bridge *bridge,
                   uint64_t request_id, int64_t before_seq, int limit)
{
    struct audit_job *job = calloc(1, sizeof *job);
    if (!job)
        return -1;
    *job = (struct audit_job){.job = {.run = audit_run, .free = plain_free},
                              .bridge = bridge,
                              .request_id = request_id,
                              .before_seq = before_seq,
                              .limit = limit};
    return query_submit(queries, &job->job);
}
