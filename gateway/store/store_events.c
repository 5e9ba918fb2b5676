/* The journal: appending an event (and, when it goes to the district, its
 * outbox row with the payload built once), and reading it back in order. */
#include "store/store_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/clock.h"

static int set_optional_string(json_t *object, const char *key, const char *value)
{
    if (!value)
        return 0;
    return json_object_set_new(object, key, json_string(value));
}

/* The outbox payload: the event's fields, then its body as "data". The body
 * text is spliced in verbatim (it was checked to be a JSON object) so the
 * producer's numbers reach the platform exactly as written. */
static char *outbox_payload(const struct wg_event *event, int64_t seq, size_t *len)
{
    json_t *head = json_object();
    if (!head)
        return NULL;
    char ts[40];
    clock_format_rfc3339(event->ts_ms, false, ts, sizeof ts);
    int rc = json_object_set_new(head, "id", json_string(event->id));
    rc |= json_object_set_new(head, "seq", json_integer(seq));
    rc |= json_object_set_new(head, "ts", json_string(ts));
    rc |= json_object_set_new(head, "ts_ms", json_integer(event->ts_ms));
    rc |= json_object_set_new(head, "kind", json_string(event->kind));
    if (event->priority >= 0)
        rc |= json_object_set_new(head, "priority", json_integer(event->priority));
    rc |= set_optional_string(head, "alarm_id", event->alarm_id);
    rc |= set_optional_string(head, "device", event->device);
    rc |= set_optional_string(head, "zone", event->zone);
    rc |= set_optional_string(head, "room", event->room);
    rc |= set_optional_string(head, "bed", event->bed);
    rc |= set_optional_string(head, "resident", event->resident);
    char *head_text = rc == 0 ? json_dumps(head, JSON_COMPACT) : NULL;
    json_decref(head);
    if (!head_text)
        return NULL;

    /* head_text is "{...}": drop its closing brace, append ,"data":body} */
    size_t head_len = strlen(head_text);
    char *payload = NULL;
    int n = asprintf(&payload, "%.*s,\"data\":%s}", (int)(head_len - 1), head_text, event->body);
    free(head_text);
    if (n < 0)
        return NULL;
    *len = (size_t)n;
    return payload;
}

struct append_job {
    struct wg_event *event;
    const char *body;
    int64_t seq;
};

static int append_work(struct wg_store *store, void *ctx)
{
    struct append_job *job = ctx;
    struct wg_event *event = job->event;
    sqlite3_stmt *insert = store_prepared(store, ST_EVENT_INSERT);
    if (!insert)
        return -1;
    int rc = store_bind_text(insert, 1, event->id);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(insert, 2, event->ts_ms);
    if (rc == SQLITE_OK)
        rc = store_bind_text(insert, 3, event->kind);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int(insert, 4, event->priority < 0 ? -1 : event->priority);
    if (rc == SQLITE_OK)
        rc = store_bind_text(insert, 5, event->alarm_id);
    if (rc == SQLITE_OK)
        rc = store_bind_text(insert, 6, event->device);
    if (rc == SQLITE_OK)
        rc = store_bind_text(insert, 7, event->zone);
    if (rc == SQLITE_OK)
        rc = store_bind_text(insert, 8, event->room);
    if (rc == SQLITE_OK)
        rc = store_bind_text(insert, 9, event->bed);
    if (rc == SQLITE_OK)
        rc = store_bind_text(insert, 10, event->resident);
    if (rc == SQLITE_OK)
        rc = store_bind_text(insert, 11, job->body);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int(insert, 12, (int)event->uplink);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(insert);
    if (rc != SQLITE_DONE) {
        if (rc == SQLITE_CONSTRAINT_UNIQUE) {
            store_done_with(insert);
            return store_fail(store, WG_STORE_REFUSED,
                              "database %s: event id %s is already in the journal", store->path,
                              event->id);
        }
        store_fail_sqlite(store, rc, "appending an event");
        store_done_with(insert);
        return -1;
    }
    store_done_with(insert);
    job->seq = sqlite3_last_insert_rowid(store->db);
    if (event->uplink == WG_UPLINK_NONE)
        return 0;

    size_t payload_len = 0;
    char *payload = outbox_payload(event, job->seq, &payload_len);
    if (!payload)
        return store_fail(
            store, WG_STORE_REFUSED,
            "database %s: cannot build the outbox payload of event %s (out of memory, "
            "or a field is not UTF-8)",
            store->path, event->id);
    sqlite3_stmt *queue = store_prepared(store, ST_OUTBOX_INSERT);
    if (!queue) {
        free(payload);
        return -1;
    }
    rc = store_bind_text(queue, 1, event->id);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int(queue, 2, (int)event->uplink);
    if (rc == SQLITE_OK)
        rc = store_bind_text(queue, 3, event->kind);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_text(queue, 4, payload, (int)payload_len, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(queue, 5, (sqlite3_int64)payload_len);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(queue, 6, store_wall_clock_ms());
    if (rc == SQLITE_OK)
        rc = sqlite3_step(queue);
    int result = 0;
    if (rc != SQLITE_DONE)
        result = store_fail_sqlite(store, rc, "queueing an event in the outbox");
    store_done_with(queue);
    free(payload);
    return result;
}

/* 0 when text is a JSON object; else -1 with jansson's complaint in why. */
int store_check_json_object(const char *text, char *why, size_t why_len)
{
    json_error_t error;
    json_t *value = json_loads(text, JSON_DECODE_ANY, &error);
    if (!value) {
        snprintf(why, why_len, "%s at line %d column %d", error.text, error.line, error.column);
        return -1;
    }
    bool is_object = json_is_object(value);
    json_decref(value);
    if (!is_object) {
        snprintf(why, why_len, "it is JSON but not an object");
        return -1;
    }
    return 0;
}

int store_append_event(struct wg_store *store, struct wg_event *event)
{
    store->status = WG_STORE_OK;
    if (!event || !event->kind || !event->kind[0])
        return store_fail(store, WG_STORE_REFUSED, "database %s: event without a kind refused",
                          store->path);
    if ((int)event->uplink < WG_UPLINK_NONE || event->uplink > WG_UPLINK_TELEMETRY)
        return store_fail(store, WG_STORE_REFUSED,
                          "database %s: event %s has an unknown uplink class %d", store->path,
                          event->id, (int)event->uplink);
    if (!event->id[0])
        event_new_id(event);
    struct append_job job = {.event = event, .body = event->body ? event->body : "{}"};
    char why[200];
    if (!store->trusted_json && store_check_json_object(job.body, why, sizeof why) < 0)
        return store_fail(
            store, WG_STORE_REFUSED,
            "database %s: event %s (kind %s) refused: its body is not a JSON object: %s",
            store->path, event->id, event->kind, why);
    if (store_run_write(store, append_work, &job, 2 * strlen(job.body) + 512,
                        "appending an event") < 0)
        return -1;
    event->seq = job.seq;
    return 0;
}

int64_t store_event_count(struct wg_store *store)
{
    return store_read_int64(store, ST_EVENT_COUNT, "counting events");
}

int64_t store_last_event_seq(struct wg_store *store)
{
    return store_read_int64(store, ST_EVENT_LAST_SEQ, "reading the last event seq");
}

struct events_since {
    int (*each)(const struct wg_event_row *row, void *ctx);
    void *ctx;
};

static int event_row(sqlite3_stmt *stmt, void *ctx)
{
    const struct events_since *since = ctx;
    struct wg_event_row row = {
        .seq = sqlite3_column_int64(stmt, 0),
        .id = store_column_text(stmt, 1),
        .ts_ms = sqlite3_column_int64(stmt, 2),
        .kind = store_column_text(stmt, 3),
        .priority = sqlite3_column_int(stmt, 4),
        .device = store_column_text(stmt, 5),
        .body = store_column_text(stmt, 6),
    };
    return since->each(&row, since->ctx);
}

int store_events_since(struct wg_store *store, int64_t after_seq, int limit,
                       int (*each)(const struct wg_event_row *row, void *ctx), void *ctx)
{
    store->status = WG_STORE_OK;
    if (!each)
        return store_fail(store, WG_STORE_IO, "database %s: no callback given", store->path);
    struct events_since since = {each, ctx};
    return store_each_row(store, ST_EVENTS_SINCE, after_seq, limit, event_row, &since,
                          "reading the journal");
}

struct events_of_kind {
    int (*each)(const char *body, void *ctx);
    void *ctx;
};

static int body_row(sqlite3_stmt *stmt, void *ctx)
{
    const struct events_of_kind *of_kind = ctx;
    const char *body = store_column_text(stmt, 0);
    return of_kind->each(body ? body : "{}", of_kind->ctx);
}

int store_events_of_kind(struct wg_store *store, const char *kind, int64_t since_ms,
                         int (*each)(const char *body, void *ctx), void *ctx)
{
    store->status = WG_STORE_OK;
    if (!each || !kind)
        return store_fail(store, WG_STORE_IO, "database %s: no callback or kind given",
                          store->path);
    struct events_of_kind of_kind = {each, ctx};
    return store_each_row_of(store, ST_EVENTS_OF_KIND, kind, since_ms, 0, body_row, &of_kind,
                             "reading the journal by kind");
}
