/* The JSON API and the WebSocket feed, answered on the core thread.
 *
 * The web thread hands every /api/v1 call (already authenticated: it carries
 * the user and role), every WebSocket snapshot and action to the core through
 * the bridge; this file answers them with the core's state, and turns each
 * committed event into a WebSocket delta. Because requests and deltas are
 * answered on the one thread that commits events, a snapshot and the deltas
 * after it can never disagree. Roles are checked here, in one route table,
 * for every call; acknowledgements, refused resets and configuration changes
 * are written to the audit log. Reads of the journal (history, CSV export,
 * report, audit log) are checked here and answered by a query worker
 * (api_read.c), so the core thread never waits for them. See docs/api.md. */
#include "web/api.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "alarm/alarm.h"
#include "web/api_parse.h"
#include "web/api_read.h"
#include "web/core_json.h"
#include "auth/auth.h"
#include "config/config_edit.h"
#include "alarm/engine.h"
#include "web/labels.h"
#include "common/log.h"
#include "store/store.h"

#define HEARTBEAT_MS      1000
#define HISTORY_MAX_LIMIT 1000
#define MAX_SEGMENTS      6

struct edit_job;

struct wg_api {
    struct wg_core *core;
    struct wg_web_bridge *bridge;
    struct wg_query_service *queries;
    struct edit_job *edits, *edits_tail; /* configuration changes waiting their turn */
    bool editing;                        /* one is with a worker or reloading */
    int heartbeat_fd;
    int64_t last_seq;
    uint64_t raised[WG_PRIO_FIRE + 1];
};

/* ---- replies ---- */

static void post(struct wg_api *api, uint64_t request_id, int status, const char *type, char *body,
                 size_t len, const char *disposition)
{
    struct wg_web_reply reply = {
        .request_id = request_id, .status = status, .body = body, .len = len};
    snprintf(reply.content_type, sizeof reply.content_type, "%s", type);
    snprintf(reply.disposition, sizeof reply.disposition, "%s", disposition ? disposition : "");
    bridge_post_reply(api->bridge, &reply);
}

/* `value` (stolen) as compact JSON text; NULL when out of memory. */
static char *json_text_of(json_t *value)
{
    char *text = value ? json_dumps(value, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
    json_decref(value);
    return text;
}

/* Sends `value` (stolen) as JSON. */
static void reply_json(struct wg_api *api, uint64_t request_id, int status, json_t *value)
{
    bridge_reply_json(api->bridge, request_id, status, value);
}

static void reply_error(struct wg_api *api, uint64_t request_id, int status, const char *field,
                        const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static void reply_error(struct wg_api *api, uint64_t request_id, int status, const char *field,
                        const char *fmt, ...)
{
    char message[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    bridge_reply_error(api->bridge, request_id, status, field, "%s", message);
}

/* ---- alarms as people read them ---- */

static void add_names(const struct wg_config *config, json_t *record)
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
static json_t *active_alarms_json(struct wg_api *api)
{
    json_t *list = core_active_alarms_json(api->core);
    size_t index;
    json_t *record;
    json_array_foreach(list, index, record) add_names(core_config(api->core), record);
    return list;
}

static json_t *snapshot_json(struct wg_api *api, const struct wg_web_request *request)
{
    const struct wg_config *config = core_config(api->core);
    json_t *status = core_status_json(api->core);
    json_t *snapshot = json_pack("{s:s, s:I, s:I, s:{s:s, s:s}, s:s, s:o, s:O, s:s, s:s}", "type",
                                 "snapshot", "seq", (json_int_t)api->last_seq, "ts_ms",
                                 (json_int_t)clock_wall_ms(core_clock(api->core)), "site", "id",
                                 config->site.id, "name", config->site.name, "language",
                                 config->web.language, "alarms", active_alarms_json(api), "devices",
                                 status ? json_object_get(status, "devices") : json_null(), "role",
                                 role_name(request->role), "username", request->username);
    json_decref(status);
    /* Pages show every time in the site's zone, never the browser's or the host's. */
    if (snapshot) {
        json_object_set_new(snapshot, "timezone", json_string(core_timezone(api->core)));
        json_object_set_new(
            snapshot, "utc_offset_min",
            json_integer(clock_utc_offset_min(clock_wall_ms(core_clock(api->core)))));
    }
    return snapshot;
}

/* ---- committed events become WebSocket deltas ---- */

static void broadcast(struct wg_api *api, json_t *message)
{
    reply_json(api, 0, 200, message);
}

/* A committed event (seq > 0), or an alarm event shown before it is
 * journaled (seq 0): then the delta says journaled:false and seq null, and
 * the same record comes again with journaled:true and its seq once it is
 * committed (contract 1). */
static void on_event(const struct wg_event *event, void *ctx)
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
        add_names(core_config(api->core), record);
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
    }
}

/* Once a second, from the core thread: proves the core (not only the web
 * thread) is alive; the web thread also reads storage health from it. */
static void heartbeat(void *ctx)
{
    struct wg_api *api = ctx;
    uint64_t expirations;
    if (read(api->heartbeat_fd, &expirations, sizeof expirations) < 0 && errno != EAGAIN)
        wg_warn("web: heartbeat timer: %s", strerror(errno));
    struct wg_core_stats stats;
    core_stats(api->core, &stats);
    /* Contract 3: the reason of a storage failure and what waits for it. */
    char *text = json_text_of(json_pack(
        "{s:s, s:I, s:I, s:s, s:s?, s:I}", "type", "heartbeat", "ts_ms",
        (json_int_t)clock_wall_ms(core_clock(api->core)), "seq", (json_int_t)api->last_seq,
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

/* ---- request parsing ---- */

/* The body as a JSON object; NULL after replying 400. An empty body is {}. */
static json_t *body_object(struct wg_api *api, const struct wg_web_request *request)
{
    struct api_error error;
    json_t *value = api_body_object(request->body, request->body_len, &error);
    if (!value)
        reply_error(api, request->id, 400, error.field, "%s", error.message);
    return value;
}

/* Splits the query into the allowed parameters (api_parse.h); values point
 * into `buffer`. Returns false after replying 400. */
static bool parse_query(struct wg_api *api, const struct wg_web_request *request, char *buffer,
                        size_t buffer_len, struct query_param *params, size_t count)
{
    struct api_error error;
    if (api_parse_query(request->query, buffer, buffer_len, params, count, &error))
        return true;
    reply_error(api, request->id, 400, error.field, "%s", error.message);
    return false;
}

/* A whole number in [low, high] from a query value; false after replying. */
static bool query_int(struct wg_api *api, uint64_t request_id, const struct query_param *param,
                      long long low, long long high, long long *out)
{
    struct api_error error;
    if (api_query_int(param, low, high, out, &error))
        return true;
    reply_error(api, request_id, 400, error.field, "%s", error.message);
    return false;
}

static void audit(struct wg_api *api, const struct wg_web_request *request, const char *action,
                  const char *target, json_t *detail)
{
    char *text = detail ? json_dumps(detail, JSON_COMPACT) : NULL;
    /* Through the store writer, like every write (refusals are logged there). */
    core_audit(api->core, request->username, request->client, action, target, text);
    free(text);
    json_decref(detail);
}

/* ---- the display ---- */

static void acknowledge(struct wg_api *api, const struct wg_web_request *request,
                        const char *alarm_id, bool over_ws)
{
    char why[256] = "";
    char where[96];
    snprintf(where, sizeof where, "%s %s", over_ws ? "display" : "api", request->client);
    int rc = core_acknowledge(api->core, alarm_id, request->username, where, why, sizeof why);
    bool unknown = rc != 0 && strncmp(why, "no active alarm", 15) == 0;
    audit(api, request, rc == 0 ? "alarm.ack" : "alarm.ack_refused", alarm_id,
          rc == 0 ? NULL : json_pack("{s:s}", "reason", why));
    int status = rc == 0 ? 200 : unknown ? 404 : 409;
    if (over_ws) {
        json_t *result = json_pack("{s:s, s:I, s:b}", "type", "result", "ref",
                                   (json_int_t)request->ref, "ok", rc == 0);
        if (result && rc != 0)
            json_object_set_new(result, "error", json_string(why));
        reply_json(api, request->id, status, result);
        return;
    }
    if (rc != 0) {
        reply_error(api, request->id, status, NULL, "%s", why);
        return;
    }
    const struct wg_alarm *alarm = core_find_alarm(api->core, alarm_id);
    json_t *record = alarm ? alarm_to_json(alarm) : NULL;
    if (record)
        add_names(core_config(api->core), record);
    reply_json(api, request->id, 200, json_pack("{s:o*}", "alarm", record));
}

static void reset_remote(struct wg_api *api, const struct wg_web_request *request,
                         const char *alarm_id)
{
    char why[256] = "";
    char where[96];
    snprintf(where, sizeof where, "api %s", request->client);
    core_reset_remote(api->core, alarm_id, request->username, where, why, sizeof why);
    audit(api, request, "alarm.reset_refused", alarm_id, json_pack("{s:s}", "reason", why));
    reply_error(api, request->id, strncmp(why, "no active alarm", 15) == 0 ? 404 : 409, NULL, "%s",
                why);
}

/* ---- configuration: meta, devices, residents, beds ---- */

static json_t *window_json(bool has, const struct wg_window *window)
{
    if (!has)
        return json_null();
    char text[48];
    snprintf(text, sizeof text, "%02d:%02d-%02d:%02d", window->start_min / 60,
             window->start_min % 60, window->end_min / 60, window->end_min % 60);
    return json_string(text);
}

static json_t *resident_json(const struct wg_config *config, const struct wg_resident *resident)
{
    json_t *risks = json_array();
    for (unsigned bit = 1; risks && bit <= WG_RISK_ACTIVITY_ACCIDENT; bit <<= 1)
        if (resident->risks & bit)
            json_array_append_new(risks, json_string(risk_name((enum wg_risk)bit)));
    const struct wg_bed *bed = &config->beds[resident->bed];
    return json_pack("{s:s, s:s, s:s, s:s, s:i, s:o, s:o, s:b, s:b}", "id", resident->id, "label",
                     resident->label, "bed", bed->id, "room", config->rooms[bed->room].id,
                     "care_level", resident->care_level, "risks", risks, "night",
                     window_json(resident->has_night, &resident->night), "fall_risk",
                     (resident->risks & (WG_RISK_FALL | WG_RISK_FALL_FROM_BED)) != 0,
                     "wandering_risk", (resident->risks & WG_RISK_WANDERING) != 0);
}

static json_t *room_json(const struct wg_config *config, size_t index)
{
    const struct wg_room *room = &config->rooms[index];
    json_t *beds = json_array();
    for (size_t b = 0; beds && b < config->bed_count; b++)
        if (config->beds[b].room == index)
            json_array_append_new(beds, json_string(config->beds[b].label));
    return json_pack("{s:s, s:s, s:s, s:s, s:o}", "id", room->id, "name", room->name, "zone",
                     config->zones[room->zone].id, "kind", room->kind, "beds", beds);
}

static void meta(struct wg_api *api, const struct wg_web_request *request)
{
    const struct wg_config *config = core_config(api->core);
    json_t *buses = json_array(), *profiles = json_array(), *zones = json_array(),
           *rooms = json_array(), *beds = json_array();
    for (size_t i = 0; buses && i < config->bus_count; i++)
        json_array_append_new(buses, json_pack("{s:s, s:s}", "id", config->buses[i].id, "driver",
                                               config->buses[i].driver));
    for (size_t i = 0; profiles && i < config->profile_count; i++) {
        const struct wg_profile *profile = &config->profiles[i];
        json_t *points = json_array();
        for (size_t p = 0; points && p < profile->point_count; p++) {
            const struct wg_point_def *point = &profile->points[p];
            json_array_append_new(
                points,
                json_pack("{s:s, s:s, s:s, s:s, s:s}", "name", point->name, "meaning",
                          point->meaning, "kind",
                          point->kind == WG_POINT_BOOL      ? "bool"
                          : point->kind == WG_POINT_COUNTER ? "counter"
                                                            : "analog",
                          "direction", point->direction == WG_POINT_OUTPUT ? "output" : "input",
                          "unit", point->unit));
        }
        json_array_append_new(profiles,
                              json_pack("{s:s, s:s, s:s, s:s, s:o}", "id", profile->id, "vendor",
                                        profile->vendor, "model", profile->model, "description",
                                        profile->description, "points", points));
    }
    for (size_t i = 0; zones && i < config->zone_count; i++)
        json_array_append_new(zones,
                              json_pack("{s:s, s:s, s:i}", "id", config->zones[i].id, "name",
                                        config->zones[i].name, "floor", config->zones[i].floor));
    for (size_t i = 0; rooms && i < config->room_count; i++)
        json_array_append_new(rooms, room_json(config, i));
    for (size_t i = 0; beds && i < config->bed_count; i++)
        json_array_append_new(beds, json_pack("{s:s, s:s, s:s}", "id", config->beds[i].id, "room",
                                              config->rooms[config->beds[i].room].id, "label",
                                              config->beds[i].label));
    reply_json(api, request->id, 200,
               json_pack("{s:{s:s, s:s, s:s, s:s, s:i}, s:o, s:o, s:o, s:o, s:o}", "site", "id",
                         config->site.id, "name", config->site.name, "district",
                         config->site.district, "timezone", core_timezone(api->core),
                         "utc_offset_min",
                         clock_utc_offset_min(clock_wall_ms(core_clock(api->core))), "buses", buses,
                         "profiles", profiles, "zones", zones, "rooms", rooms, "beds", beds));
}

static void list_residents(struct wg_api *api, const struct wg_web_request *request)
{
    const struct wg_config *config = core_config(api->core);
    json_t *list = json_array();
    for (size_t i = 0; list && i < config->resident_count; i++)
        json_array_append_new(list, resident_json(config, &config->residents[i]));
    reply_json(api, request->id, 200, json_pack("{s:o}", "residents", list));
}

static const char *edit_action(enum wg_edit_op op)
{
    switch (op) {
    case WG_EDIT_DEVICE_ADD:
        return "device.add";
    case WG_EDIT_DEVICE_UPDATE:
        return "device.update";
    case WG_EDIT_DEVICE_DELETE:
        return "device.delete";
    case WG_EDIT_RESIDENT_ADD:
        return "resident.add";
    case WG_EDIT_RESIDENT_UPDATE:
        return "resident.update";
    case WG_EDIT_RESIDENT_DELETE:
        return "resident.delete";
    case WG_EDIT_ROOM_BEDS:
        return "room.beds";
    }
    return "config.edit";
}

/* A refused change's problems as the manager UI puts them into words: the
 * form field at fault (or null), a code and its arguments (docs/api.md), and
 * the English message without any server path; file:line went to the log.
 * A problem nobody coded is `fallback` with the message only. */
static json_t *problems_json(const struct wg_diag *diag, const char *fallback)
{
    json_t *list = json_array();
    for (size_t i = 0; list && i < diag->count; i++) {
        const struct wg_diag_entry *entry = &diag->entries[i];
        json_t *args = entry->args ? json_loads(entry->args, 0, NULL) : NULL;
        const char *text = entry->text ? entry->text : diag->messages[i];
        json_array_append_new(
            list, json_pack("{s:s?, s:s, s:o, s:s}", "field", entry->field[0] ? entry->field : NULL,
                            "code", entry->code[0] ? entry->code : fallback, "args",
                            json_is_object(args) ? args : json_object(), "message", text));
        if (args && !json_is_object(args))
            json_decref(args);
    }
    return list;
}

/* The edited item as the API shows it after the reload. */
static json_t *edited_item(struct wg_api *api, enum wg_edit_op op, const char *id)
{
    const struct wg_config *config = core_config(api->core);
    switch (op) {
    case WG_EDIT_DEVICE_ADD:
    case WG_EDIT_DEVICE_UPDATE:
        return json_pack("{s:o*}", "device", core_device_json(api->core, id));
    case WG_EDIT_RESIDENT_ADD:
    case WG_EDIT_RESIDENT_UPDATE:
        for (size_t i = 0; i < config->resident_count; i++)
            if (strcmp(config->residents[i].id, id) == 0)
                return json_pack("{s:o*}", "resident",
                                 resident_json(config, &config->residents[i]));
        return json_object();
    case WG_EDIT_ROOM_BEDS: {
        size_t room = config_find_room(config, id);
        return json_pack("{s:o*}", "room", room == WG_NO_INDEX ? NULL : room_json(config, room));
    }
    default:
        return json_object();
    }
}

/* ---- configuration changes: the file on a worker, the reload here ---- */

/* One change to the config file. Changes go one at a time (api->edits
 * waits): a query worker edits, checks and writes the file (config_edit.h:
 * the validation load and every fsync); then the core thread reloads; if
 * the drivers refuse the new file, a worker puts the previous one back. So
 * file and running config always agree, and the core thread neither touches
 * the file nor waits for the disk. */
struct edit_job {
    struct wg_query_job job; /* first: the service hands this back */
    struct wg_api *api;
    struct edit_job *next;         /* waiting in api->edits */
    struct wg_web_request request; /* who and from where; no query or body */
    enum wg_edit_op op;
    char *id;      /* NULL for an add */
    json_t *value; /* the body; NULL for a delete */
    char *path;
    char item[128];
    bool restoring; /* the next step: the drivers refused, put the file back */
    int rc;
    struct wg_edit_result result;
    struct wg_diag refusal; /* the reload's messages */
    char restore_error[320];
};

static enum wg_query_step edit_run(struct wg_query_job *base, struct wg_store_reader *reader)
{
    (void)reader;
    struct edit_job *job = (struct edit_job *)base;
    if (job->restoring)
        job->rc = config_edit_restore(job->path, job->restore_error, sizeof job->restore_error);
    else
        job->rc = config_edit_apply(job->path, job->op, job->id, job->value, &job->result);
    return WG_QUERY_DONE;
}

static void edit_free(struct wg_query_job *base)
{
    struct edit_job *job = (struct edit_job *)base;
    json_decref(job->value);
    config_edit_result_free(&job->result);
    diag_free(&job->refusal);
    free(job->id);
    free(job->path);
    free(job);
}

/* The next waiting change, if any, goes to a worker. */
static void edit_next(struct wg_api *api)
{
    api->editing = false;
    while (api->edits && !api->editing) {
        struct edit_job *job = api->edits;
        api->edits = job->next;
        if (!api->edits)
            api->edits_tail = NULL;
        uint64_t request_id = job->request.id;
        if (query_submit(api->queries, &job->job) == 0)
            api->editing = true;
        else /* the service freed it */
            reply_error(api, request_id, 503, NULL, "the gateway is stopping; nothing was changed");
    }
}

/* Core thread: a step of a change is done. */
static bool edit_done(struct wg_query_job *base)
{
    struct edit_job *job = (struct edit_job *)base;
    struct wg_api *api = job->api;
    const struct wg_web_request *request = &job->request;
    if (job->restoring) {
        if (job->rc != 0)
            wg_crit("config: %s was changed but the daemon refused it, and %s; the running "
                    "configuration is the previous one",
                    job->path, job->restore_error);
        else
            wg_warn("config: the change to %s was refused at reload; the previous file is back",
                    job->path);
        reply_json(api, request->id, 422,
                   json_pack("{s:s, s:o}", "error",
                             "the change passed the file checks but the drivers refused it; "
                             "nothing was changed",
                             "details", problems_json(&job->refusal, "driver_refused")));
    } else if (job->rc != 0) {
        struct wg_edit_result *result = &job->result;
        json_t *body = json_pack("{s:s}", "error", result->error);
        if (body && result->field[0])
            json_object_set_new(body, "field", json_string(result->field));
        if (body && result->details.count)
            json_object_set_new(body, "details", problems_json(&result->details, "config_invalid"));
        reply_json(api, request->id, result->status >= 400 ? result->status : 500, body);
    } else if (core_reload_report(api->core, &job->refusal) != 0) {
        job->restoring = true;
        if (query_submit(api->queries, &job->job) == 0)
            return true; /* edit_done runs again when the file is back */
        wg_crit("config: the change to a file was refused at reload and cannot be undone: the "
                "gateway is stopping; <file>.prev holds the previous version");
        edit_next(api);
        return true; /* query_submit freed it */
    } else {
        audit(api, request, edit_action(job->op), job->item,
              json_pack("{s:O?, s:O?}", "before", job->result.before, "after", job->result.after));
        wg_notice("config: %s %s by %s from %s", edit_action(job->op), job->item, request->username,
                  request->client);
        reply_json(api, request->id, job->result.status ? job->result.status : 200,
                   edited_item(api, job->op, job->item));
    }
    edit_next(api);
    return false;
}

/* A change asked for: checked for JSON here, made by a worker in turn. */
static void edit_config(struct wg_api *api, const struct wg_web_request *request,
                        enum wg_edit_op op, const char *id)
{
    json_t *value = NULL;
    if (op != WG_EDIT_DEVICE_DELETE && op != WG_EDIT_RESIDENT_DELETE) {
        value = body_object(api, request);
        if (!value)
            return;
    }
    if (!api->queries) {
        json_decref(value);
        reply_error(api, request->id, 503, NULL,
                    "configuration changes are unavailable (see the log at start-up)");
        return;
    }
    struct edit_job *job = calloc(1, sizeof *job);
    if (job) {
        *job = (struct edit_job){.job = {.run = edit_run, .done = edit_done, .free = edit_free},
                                 .api = api,
                                 .request = *request,
                                 .op = op,
                                 .id = id ? strdup(id) : NULL,
                                 .value = value,
                                 .path = strdup(core_config(api->core)->path)};
        job->request.query = job->request.body = NULL;
        job->request.body_len = 0;
        diag_init(&job->refusal);
        const char *item_id = id ? id : json_string_value(json_object_get(value, "id"));
        snprintf(job->item, sizeof job->item, "%s", item_id ? item_id : "");
    }
    if (!job || !job->path || (id && !job->id)) {
        if (job)
            edit_free(&job->job);
        else
            json_decref(value);
        reply_error(api, request->id, 500, NULL, "out of memory");
        return;
    }
    if (api->edits_tail)
        api->edits_tail->next = job;
    else
        api->edits = job;
    api->edits_tail = job;
    if (!api->editing)
        edit_next(api);
}

/* ---- history, report, audit: answered on the query workers ---- */

static bool known_kind(const char *kind)
{
    for (size_t i = 0; wg_event_kinds[i]; i++)
        if (strcmp(wg_event_kinds[i], kind) == 0)
            return true;
    return false;
}

static void refused_by_workers(struct wg_api *api, const struct wg_web_request *request, bool csv)
{
    if (csv)
        reply_error(api, request->id, 503, NULL,
                    "%d CSV exports are running already; try again when one has finished",
                    WG_EXPORTS_AT_ONCE);
    else
        reply_error(api, request->id, 503, NULL, "the gateway is stopping or out of memory");
}

static void history(struct wg_api *api, const struct wg_web_request *request)
{
    struct query_param params[] = {{"from", NULL},     {"to", NULL},           {"kind", NULL},
                                   {"priority", NULL}, {"room", NULL},         {"device", NULL},
                                   {"alarm", NULL},    {"before", NULL},       {"limit", NULL},
                                   {"format", NULL},   {"write_results", NULL}};
    enum {
        P_FROM,
        P_TO,
        P_KIND,
        P_PRIORITY,
        P_ROOM,
        P_DEVICE,
        P_ALARM,
        P_BEFORE,
        P_LIMIT,
        P_FORMAT,
        P_WRITE_RESULTS
    };
    char buffer[2048];
    if (!parse_query(api, request, buffer, sizeof buffer, params, sizeof params / sizeof *params))
        return;
    long long from = 0, to = 0, before = 0, limit = 200, write_results = 0;
    if (!query_int(api, request->id, &params[P_FROM], 0, INT64_MAX, &from) ||
        !query_int(api, request->id, &params[P_TO], 0, INT64_MAX, &to) ||
        !query_int(api, request->id, &params[P_BEFORE], 0, INT64_MAX, &before) ||
        !query_int(api, request->id, &params[P_LIMIT], 1, HISTORY_MAX_LIMIT, &limit) ||
        !query_int(api, request->id, &params[P_WRITE_RESULTS], 0, 1, &write_results))
        return;
    if (from && to && from >= to) {
        reply_error(api, request->id, 400, "from", "from must be before to");
        return;
    }
    int min_priority = -1;
    if (params[P_PRIORITY].value && params[P_PRIORITY].value[0]) {
        min_priority = priority_from_name(params[P_PRIORITY].value);
        if (min_priority < 0) {
            reply_error(api, request->id, 400, "priority",
                        "priority: expected fire, emergency, urgent, normal, technical or "
                        "advisory");
            return;
        }
    }
    const char *kind = params[P_KIND].value;
    if (kind && kind[0] && !known_kind(kind)) {
        reply_error(api, request->id, 400, "kind",
                    "kind: expected alarm, point, device_health, write_result, telemetry or "
                    "system");
        return;
    }
    bool csv = false;
    if (params[P_FORMAT].value) {
        csv = strcmp(params[P_FORMAT].value, "csv") == 0;
        if (!csv && strcmp(params[P_FORMAT].value, "json") != 0) {
            reply_error(api, request->id, 400, "format", "format: expected json or csv");
            return;
        }
    }
#define EMPTY_NULL(i) (params[i].value && params[i].value[0] ? params[i].value : NULL)
    /* A CSV export is every matching row: limit and paging do not apply. */
    struct wg_event_filter filter = {.from_ms = from,
                                     .to_ms = to,
                                     .kind = EMPTY_NULL(P_KIND),
                                     .room = EMPTY_NULL(P_ROOM),
                                     .device = EMPTY_NULL(P_DEVICE),
                                     .alarm_id = EMPTY_NULL(P_ALARM),
                                     .min_priority = min_priority,
                                     .write_results = write_results == 1,
                                     .before_seq = csv ? 0 : before,
                                     .limit = csv ? 0 : (int)limit};
#undef EMPTY_NULL
    if (api_read_history(api->queries, api->bridge, request->id, &filter, csv,
                         labels_of(core_config(api->core))) != 0)
        refused_by_workers(api, request, csv);
}

static void report(struct wg_api *api, const struct wg_web_request *request)
{
    struct query_param params[] = {{"days", NULL}, {"from", NULL}, {"to", NULL}};
    char buffer[256];
    if (!parse_query(api, request, buffer, sizeof buffer, params, 3))
        return;
    long long days = 7, from = 0, to = 0;
    if (!query_int(api, request->id, &params[0], 1, 92, &days) ||
        !query_int(api, request->id, &params[1], 0, INT64_MAX, &from) ||
        !query_int(api, request->id, &params[2], 0, INT64_MAX, &to))
        return;
    int64_t now = clock_wall_ms(core_clock(api->core));
    if (!to)
        to = now;
    if (!from)
        from = to - days * 86400000LL;
    if (from >= to) {
        reply_error(api, request->id, 400, "from", "from must be before to");
        return;
    }
    if (api_read_report(api->queries, api->bridge, request->id, from, to) != 0)
        refused_by_workers(api, request, false);
}

static void audit_log(struct wg_api *api, const struct wg_web_request *request)
{
    struct query_param params[] = {{"before", NULL}, {"limit", NULL}};
    char buffer[256];
    if (!parse_query(api, request, buffer, sizeof buffer, params, 2))
        return;
    long long before = 0, limit = 200;
    if (!query_int(api, request->id, &params[0], 0, INT64_MAX, &before) ||
        !query_int(api, request->id, &params[1], 1, HISTORY_MAX_LIMIT, &limit))
        return;
    if (api_read_audit(api->queries, api->bridge, request->id, before, (int)limit) != 0)
        refused_by_workers(api, request, false);
}

/* ---- /metrics ---- */

static void metric_help(FILE *out, const char *name, const char *type, const char *help)
{
    fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A label value with \ " and newline escaped, as the text format wants. */
static void label_value(FILE *out, const char *text)
{
    for (const char *c = text ? text : ""; *c; c++) {
        if (*c == '\\' || *c == '"')
            fputc('\\', out);
        if (*c == '\n') {
            fputs("\\n", out);
            continue;
        }
        fputc(*c, out);
    }
}

static void metrics(struct wg_api *api, const struct wg_web_request *request)
{
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    if (!out) {
        reply_error(api, request->id, 500, NULL, "out of memory");
        return;
    }
    json_t *devices = core_devices_json(api->core, true);
    static const char *const states[] = {"online", "suspect", "offline", "unknown"};
    metric_help(out, "wardgate_device_health", "gauge", "1 for the device's current health state");
    size_t index;
    json_t *device;
    json_array_foreach(devices, index, device)
    {
        const char *health = json_string_value(json_object_get(device, "health"));
        for (size_t s = 0; s < 4; s++) {
            fputs("wardgate_device_health{device=\"", out);
            label_value(out, json_string_value(json_object_get(device, "id")));
            fputs("\",bus=\"", out);
            label_value(out, json_string_value(json_object_get(device, "bus")));
            fprintf(out, "\",state=\"%s\"} %d\n", states[s],
                    health && strcmp(health, states[s]) == 0);
        }
    }
    metric_help(out, "wardgate_device_errors_total", "counter",
                "driver error counters per device (timeout, crc_error, ...)");
    json_array_foreach(devices, index, device)
    {
        const char *name;
        json_t *count;
        json_object_foreach(json_object_get(device, "counters"), name, count)
        {
            fputs("wardgate_device_errors_total{device=\"", out);
            label_value(out, json_string_value(json_object_get(device, "id")));
            fputs("\",counter=\"", out);
            label_value(out, name);
            fprintf(out, "\"} %lld\n", (long long)json_integer_value(count));
        }
    }
    json_decref(devices);
    size_t active[WG_PRIO_FIRE + 1] = {0};
    json_t *alarms = core_active_alarms_json(api->core);
    json_t *alarm;
    json_array_foreach(alarms, index, alarm)
    {
        json_int_t level = json_integer_value(json_object_get(alarm, "priority_level"));
        if (level >= 0 && level <= WG_PRIO_FIRE)
            active[level]++;
    }
    json_decref(alarms);
    metric_help(out, "wardgate_alarms_active", "gauge", "active calls and alarms by priority");
    for (int p = WG_PRIO_FIRE; p >= 0; p--)
        fprintf(out, "wardgate_alarms_active{priority=\"%s\"} %zu\n",
                priority_name((enum wg_priority)p), active[p]);
    metric_help(out, "wardgate_alarms_raised_total", "counter",
                "calls and alarms raised since the daemon started, by priority");
    for (int p = WG_PRIO_FIRE; p >= 0; p--)
        fprintf(out, "wardgate_alarms_raised_total{priority=\"%s\"} %llu\n",
                priority_name((enum wg_priority)p), (unsigned long long)api->raised[p]);
    struct wg_core_stats stats;
    core_stats(api->core, &stats);
    const struct wg_outbox_totals *totals = &stats.storage.usage.outbox;
    metric_help(out, "wardgate_outbox_rows", "gauge", "events waiting for the district's PUBACK");
    fprintf(out, "wardgate_outbox_rows %lld\n", (long long)totals->total_rows);
    metric_help(out, "wardgate_outbox_bytes", "gauge", "bytes waiting in the outbox");
    fprintf(out, "wardgate_outbox_bytes %lld\n", (long long)totals->total_bytes);
    metric_help(out, "wardgate_core_queue_depth", "gauge", "driver messages waiting for the core");
    fprintf(out, "wardgate_core_queue_depth %zu\n", stats.queue_depth);
    metric_help(out, "wardgate_core_queue_high_water", "gauge", "the deepest the queue has been");
    fprintf(out, "wardgate_core_queue_high_water %zu\n", stats.queue_high_water);
    metric_help(out, "wardgate_events_committed_total", "counter", "journal events committed");
    fprintf(out, "wardgate_events_committed_total %llu\n",
            (unsigned long long)stats.events_committed);
    metric_help(out, "wardgate_events_pending", "gauge",
                "events held in memory because storage is failing");
    fprintf(out, "wardgate_events_pending %zu\n", stats.events_pending);
    metric_help(out, "wardgate_storage_failing", "gauge", "1 while commits fail");
    fprintf(out, "wardgate_storage_failing %d\n", stats.storage_failing);
    metric_help(out, "wardgate_storage_bytes", "gauge",
                "the database and its WAL on disk, against the bound (storage.max_mb)");
    fprintf(out, "wardgate_storage_bytes{file=\"db\"} %lld\n",
            (long long)stats.storage.usage.file_bytes);
    fprintf(out, "wardgate_storage_bytes{file=\"wal\"} %lld\n",
            (long long)stats.storage.usage.wal_bytes);
    fprintf(out, "wardgate_storage_bytes{file=\"bound\"} %lld\n",
            (long long)stats.storage.usage.max_bytes);
    metric_help(out, "wardgate_storage_held_bytes", "gauge",
                "memory held for writes not yet committed (bounded, docs/storage.md)");
    fprintf(out, "wardgate_storage_held_bytes %zu\n", stats.storage.held_bytes);
    metric_help(out, "wardgate_storage_dropped_total", "counter",
                "writes dropped at the memory bound while storage failed, by class");
    for (int c = 0; c < WG_CLASS_COUNT; c++)
        if (c != WG_CLASS_KEEP)
            fprintf(out, "wardgate_storage_dropped_total{class=\"%s\"} %llu\n",
                    writer_class_name((enum wg_write_class)c),
                    (unsigned long long)stats.storage.dropped[c]);
    metric_help(out, "wardgate_storage_transaction_seconds_max", "gauge",
                "the writer's longest transaction since start");
    fprintf(out, "wardgate_storage_transaction_seconds_max %.3f\n",
            stats.storage.longest_transaction_ms / 1000.0);
    metric_help(out, "wardgate_core_loop_seconds_max", "gauge",
                "the core loop's longest iteration: since start, and over the last minute");
    fprintf(out, "wardgate_core_loop_seconds_max{window=\"start\"} %.6f\n",
            stats.loop_max_us / 1e6);
    fprintf(out, "wardgate_core_loop_seconds_max{window=\"1m\"} %.6f\n",
            stats.loop_max_recent_us / 1e6);
    metric_help(out, "wardgate_query_backlog", "gauge",
                "history, export, report and config jobs waiting for or on a query worker");
    fprintf(out, "wardgate_query_backlog %zu\n",
            api->queries ? query_service_backlog(api->queries) : 0);
    metric_help(out, "wardgate_ws_broadcasts_dropped_total", "counter",
                "display deltas dropped because the web thread fell behind");
    fprintf(out, "wardgate_ws_broadcasts_dropped_total %llu\n",
            (unsigned long long)bridge_dropped_broadcasts(api->bridge));
    fclose(out);
    post(api, request->id, 200, "text/plain; version=0.0.4; charset=utf-8", text, len, NULL);
}

/* ---- routing ---- */

enum route_id {
    R_SNAPSHOT,
    R_ALARMS,
    R_ACK,
    R_RESET,
    R_DEVICES,
    R_DEVICE,
    R_DEVICE_ADD,
    R_DEVICE_UPDATE,
    R_DEVICE_DELETE,
    R_META,
    R_RESIDENTS,
    R_RESIDENT_ADD,
    R_RESIDENT_UPDATE,
    R_RESIDENT_DELETE,
    R_ROOM_BEDS,
    R_HISTORY,
    R_REPORT,
    R_AUDIT,
    R_METRICS,
};

struct route {
    const char *method;
    const char *pattern; /* segments; "*" takes any one (the id) */
    enum wg_role role;
    enum route_id id;
    bool query; /* takes query parameters */
};

static const struct route routes[] = {
    {"GET", "/api/v1/snapshot", WG_ROLE_STATION, R_SNAPSHOT, false},
    {"GET", "/api/v1/alarms", WG_ROLE_STATION, R_ALARMS, false},
    {"POST", "/api/v1/alarms/*/ack", WG_ROLE_NURSE, R_ACK, false},
    {"POST", "/api/v1/alarms/*/reset", WG_ROLE_NURSE, R_RESET, false},
    {"GET", "/api/v1/devices", WG_ROLE_NURSE, R_DEVICES, false},
    {"GET", "/api/v1/devices/*", WG_ROLE_NURSE, R_DEVICE, false},
    {"POST", "/api/v1/devices", WG_ROLE_MANAGER, R_DEVICE_ADD, false},
    {"PUT", "/api/v1/devices/*", WG_ROLE_MANAGER, R_DEVICE_UPDATE, false},
    {"DELETE", "/api/v1/devices/*", WG_ROLE_MANAGER, R_DEVICE_DELETE, false},
    {"GET", "/api/v1/meta", WG_ROLE_NURSE, R_META, false},
    {"GET", "/api/v1/residents", WG_ROLE_MANAGER, R_RESIDENTS, false},
    {"POST", "/api/v1/residents", WG_ROLE_MANAGER, R_RESIDENT_ADD, false},
    {"PUT", "/api/v1/residents/*", WG_ROLE_MANAGER, R_RESIDENT_UPDATE, false},
    {"DELETE", "/api/v1/residents/*", WG_ROLE_MANAGER, R_RESIDENT_DELETE, false},
    {"PUT", "/api/v1/rooms/*/beds", WG_ROLE_MANAGER, R_ROOM_BEDS, false},
    {"GET", "/api/v1/history", WG_ROLE_NURSE, R_HISTORY, true},
    {"GET", "/api/v1/report/response", WG_ROLE_MANAGER, R_REPORT, true},
    {"GET", "/api/v1/audit", WG_ROLE_MANAGER, R_AUDIT, true},
    {"GET", "/metrics", WG_ROLE_NONE, R_METRICS, false},
};

/* Matches path against pattern; the "*" segment is copied to id. */
static bool path_matches(const char *pattern, const char *path, char *id, size_t id_len)
{
    while (*pattern && *path) {
        if (*pattern == '*') {
            size_t n = strcspn(path, "/");
            if (n == 0 || n >= id_len)
                return false;
            memcpy(id, path, n);
            id[n] = '\0';
            path += n;
            pattern++;
            continue;
        }
        if (*pattern != *path)
            return false;
        pattern++;
        path++;
    }
    return !*pattern && !*path;
}

static void handle_http(struct wg_api *api, const struct wg_web_request *request)
{
    char id[256] = "";
    const struct route *route = NULL;
    bool path_known = false;
    for (size_t i = 0; i < sizeof routes / sizeof *routes && !route; i++) {
        if (!path_matches(routes[i].pattern, request->path, id, sizeof id))
            continue;
        path_known = true;
        if (strcmp(routes[i].method, request->method) == 0)
            route = &routes[i];
    }
    if (!route) {
        reply_error(api, request->id, path_known ? 405 : 404, NULL, "%s %s: %s", request->method,
                    request->path, path_known ? "method not allowed" : "no such endpoint");
        return;
    }
    if (request->role < (int)route->role) {
        reply_error(api, request->id, 403, NULL, "%s %s needs the %s role; %s is %s",
                    request->method, request->path, role_name(route->role), request->username,
                    role_name((enum wg_role)request->role));
        return;
    }
    if (!route->query && request->query && request->query[0]) {
        reply_error(api, request->id, 400, NULL, "%s takes no query parameters", request->path);
        return;
    }
    switch (route->id) {
    case R_SNAPSHOT:
        reply_json(api, request->id, 200, snapshot_json(api, request));
        return;
    case R_ALARMS:
        reply_json(api, request->id, 200, json_pack("{s:o*}", "alarms", active_alarms_json(api)));
        return;
    case R_ACK: {
        json_t *body = body_object(api, request);
        if (!body)
            return;
        const char *unknown = NULL;
        json_t *value;
        json_object_foreach(body, unknown, value) break;
        if (unknown) {
            reply_error(api, request->id, 400, unknown, "unknown field \"%s\"", unknown);
            json_decref(body);
            return;
        }
        json_decref(body);
        acknowledge(api, request, id, false);
        return;
    }
    case R_RESET:
        reset_remote(api, request, id);
        return;
    case R_DEVICES:
        reply_json(api, request->id, 200,
                   json_pack("{s:o*}", "devices", core_devices_json(api->core, true)));
        return;
    case R_DEVICE: {
        json_t *device = core_device_json(api->core, id);
        if (!device)
            reply_error(api, request->id, 404, NULL, "no device \"%s\"", id);
        else
            reply_json(api, request->id, 200, json_pack("{s:o}", "device", device));
        return;
    }
    case R_DEVICE_ADD:
        edit_config(api, request, WG_EDIT_DEVICE_ADD, NULL);
        return;
    case R_DEVICE_UPDATE:
        edit_config(api, request, WG_EDIT_DEVICE_UPDATE, id);
        return;
    case R_DEVICE_DELETE:
        edit_config(api, request, WG_EDIT_DEVICE_DELETE, id);
        return;
    case R_META:
        meta(api, request);
        return;
    case R_RESIDENTS:
        list_residents(api, request);
        return;
    case R_RESIDENT_ADD:
        edit_config(api, request, WG_EDIT_RESIDENT_ADD, NULL);
        return;
    case R_RESIDENT_UPDATE:
        edit_config(api, request, WG_EDIT_RESIDENT_UPDATE, id);
        return;
    case R_RESIDENT_DELETE:
        edit_config(api, request, WG_EDIT_RESIDENT_DELETE, id);
        return;
    case R_ROOM_BEDS:
        edit_config(api, request, WG_EDIT_ROOM_BEDS, id);
        return;
    case R_HISTORY:
        history(api, request);
        return;
    case R_REPORT:
        report(api, request);
        return;
    case R_AUDIT:
        audit_log(api, request);
        return;
    case R_METRICS:
        metrics(api, request);
        return;
    }
}

static void handle(struct wg_api *api, const struct wg_web_request *request)
{
    switch (request->kind) {
    case WG_WEB_HTTP:
        handle_http(api, request);
        return;
    case WG_WEB_WS_SNAPSHOT:
        reply_json(api, request->id, 200, snapshot_json(api, request));
        return;
    case WG_WEB_WS_ACK:
        if (request->role < WG_ROLE_NURSE) {
            reply_json(api, request->id, 403,
                       json_pack("{s:s, s:I, s:b, s:s}", "type", "result", "ref",
                                 (json_int_t)request->ref, "ok", 0, "error",
                                 "acknowledging needs the nurse role"));
            return;
        }
        acknowledge(api, request, request->alarm_id, true);
        return;
    }
}

static void requests_ready(void *ctx)
{
    struct wg_api *api = ctx;
    /* A bounded batch, so a flood of requests never starves the drivers' queue. */
    for (int i = 0; i < 64; i++) {
        struct wg_web_request *request = bridge_next_request(api->bridge);
        if (!request)
            return;
        handle(api, request);
        bridge_request_free(request);
    }
}

/* ---- life cycle ---- */

static size_t watched_fds(void *ctx, int *fds, size_t max)
{
    struct wg_api *api = ctx;
    size_t count = 0;
    if (count < max)
        fds[count++] = bridge_request_fd(api->bridge);
    if (count < max)
        fds[count++] = api->heartbeat_fd;
    return count;
}

static void fd_ready(void *ctx, int fd)
{
    struct wg_api *api = ctx;
    if (fd == api->heartbeat_fd)
        heartbeat(api);
    else
        requests_ready(api);
}

struct wg_api *api_new(struct wg_core *core, struct wg_web_bridge *bridge,
                       struct wg_query_service *queries)
{
    struct wg_api *api = calloc(1, sizeof *api);
    if (!api)
        return NULL;
    api->core = core;
    api->bridge = bridge;
    api->queries = queries;
    api->last_seq = store_last_event_seq(core_store(core));
    api->heartbeat_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    struct itimerspec period = {.it_interval = {HEARTBEAT_MS / 1000, 0},
                                .it_value = {HEARTBEAT_MS / 1000, 0}};
    if (api->heartbeat_fd < 0 || timerfd_settime(api->heartbeat_fd, 0, &period, NULL) != 0 ||
        core_attach(core, &(struct wg_core_attachment){.name = "web",
                                                       .ctx = api,
                                                       .committed = on_event,
                                                       .unjournaled = on_event,
                                                       .fds = watched_fds,
                                                       .ready = fd_ready}) != 0) {
        wg_crit("web: cannot attach the API to the core: %s", strerror(errno));
        if (api->heartbeat_fd >= 0)
            close(api->heartbeat_fd);
        free(api);
        return NULL;
    }
    return api;
}

void api_free(struct wg_api *api)
{
    if (!api)
        return;
    while (api->edits) {
        struct edit_job *next = api->edits->next;
        edit_free(&api->edits->job);
        api->edits = next;
    }
    close(api->heartbeat_fd);
    free(api);
}
