/* The core loop and device model; see core.h. */
#include "core.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "liveness.h"
#include "log.h"
#include "meaning.h"
#include "alarm.h"
#include "engine.h"
#include "health_reason.h"
#include "plugin_host.h"
#include "queue.h"
#include "service.h"
#include "uplink.h"

#define MAX_LISTENERS       8
#define MAX_COUNTERS        8
#define BATCH_MAX           256
#define BATCHES_PER_WAKEUP  16 /* then back to poll, so signals and timers are never starved */
#define MAX_OUTSTANDING     256
#define RETRY_PERIOD_MS     1000
#define ENGINE_PERIOD_MS    1000 /* rule timers, supervision, escalation */
#define MAINTAIN_PERIOD_MS  (10 * 60 * 1000)
#define STATUS_PERIOD_MS    (30 * 1000)
#define DEFAULT_QUEUE_DEPTH 4096

struct device_counter {
    char name[64]; /* as long as wg_msg.text */
    uint64_t count;
};

struct device_state {
    enum wg_health health;
    char reason[64];
    const char *reason_code; /* health_reason.h: a static string, "" before any report */
    size_t point_count;
    double *values;
    bool *seen;
    struct wg_reading_aggregate *buckets;   /* the open readings bucket per point (count 0: none) */
    struct wg_reading_aggregate *telemetry; /* the open uplink telemetry interval per point */
    struct device_counter counters[MAX_COUNTERS];
};

enum alarm_row_op { ALARM_ROW_NONE, ALARM_ROW_PUT, ALARM_ROW_DELETE };

/* An event waiting for its commit; its strings live in `strings`. An alarm
 * event also carries the alarm's row (the current-alarms table), written in
 * the same transaction. */
struct pending_event {
    struct wg_event event;
    char *strings;
    enum alarm_row_op alarm_op;
    int64_t alarm_update;
    char alarm_state[16];
    char alarm_kind[64];
};

/* A readings bucket that has closed and waits for the next commit. */
struct closed_bucket {
    uint32_t device;
    uint32_t point;
    struct wg_reading_aggregate aggregate;
};

struct outstanding_write {
    uint64_t request_id;
    uint32_t device;
    uint32_t point;
    double value;
};

struct listener {
    wg_event_listener fn;
    void *ctx;
};

/* A file descriptor another part of the daemon (the web bridge) wants the
 * core loop to watch; `ready` runs on the core thread when it is readable. */
struct extra_source {
    int fd;
    void (*ready)(void *ctx);
    void *ctx;
};
#define MAX_SOURCES    4
#define MAX_SUPERVISED 4
/* The supervision check runs at the watchdog's period, or this often without one. */
#define SUPERVISE_PERIOD_MS 1000

struct periodic_job {
    const char *name;
    int64_t period_ms;
    int64_t next_mono_ms;
    void (*run)(struct wg_core *core);
};

enum {
    JOB_ENGINE,
    JOB_RETRY,
    JOB_WATCHDOG,
    JOB_MAINTAIN,
    JOB_STATUS,
    JOB_BUCKETS,
    JOB_UPLINK,
    JOB_TELEMETRY,
    JOB_COUNT
};

struct wg_core {
    char *config_path;
    char *plugin_dir_override; /* NULL: take it from the config */
    char *timezone;            /* the zone local time is in (main set TZ from it at start) */
    struct wg_clock *clock;
    struct wg_config *config;
    struct wg_store *store;
    struct wg_queue *queue;
    struct wg_plugin_host *host;
    struct wg_engine *engine;
    struct wg_uplink_client *uplink; /* NULL when the uplink is disabled */
    int64_t telemetry_from_ms;       /* start of the open telemetry interval */
    struct device_state *devices;

    struct pending_event *pending;
    size_t pending_count, pending_capacity;
    struct closed_bucket *closed;
    size_t closed_count, closed_capacity;
    struct outstanding_write outstanding[MAX_OUTSTANDING];
    uint64_t next_request_id;

    struct listener listeners[MAX_LISTENERS];
    size_t listener_count;
    struct extra_source sources[MAX_SOURCES];
    size_t source_count;
    struct periodic_job jobs[JOB_COUNT];
    struct wg_liveness *supervised[MAX_SUPERVISED]; /* other threads the watchdog job checks */
    size_t supervised_count;
    bool test_hooks;

    bool stop_requested;
    bool storage_failing;
    uint64_t events_committed;
    uint64_t messages_handled;
};

static uint64_t engine_write_output(void *ctx, size_t device, size_t point, double value);

/* ---- device model ---- */

static void free_device_states(struct device_state *states, size_t count)
{
    if (!states)
        return;
    for (size_t i = 0; i < count; i++) {
        free(states[i].values);
        free(states[i].seen);
        free(states[i].buckets);
        free(states[i].telemetry);
    }
    free(states);
}

static struct device_state *new_device_states(const struct wg_config *config)
{
    struct device_state *states =
        calloc(config->device_count ? config->device_count : 1, sizeof *states);
    if (!states)
        return NULL;
    for (size_t i = 0; i < config->device_count; i++) {
        size_t points = config->profiles[config->devices[i].profile].point_count;
        states[i].point_count = points;
        states[i].values = calloc(points ? points : 1, sizeof *states[i].values);
        states[i].seen = calloc(points ? points : 1, sizeof *states[i].seen);
        states[i].buckets = calloc(points ? points : 1, sizeof *states[i].buckets);
        states[i].telemetry = calloc(points ? points : 1, sizeof *states[i].telemetry);
        if (!states[i].values || !states[i].seen || !states[i].buckets || !states[i].telemetry) {
            free_device_states(states, i + 1);
            return NULL;
        }
    }
    return states;
}

/* Carries health, values and counters over to a new config, by device id and
 * point name, so a reload forgets nothing about devices that stay. */
static void carry_device_states(const struct wg_config *old_config,
                                const struct device_state *old_states,
                                const struct wg_config *new_config, struct device_state *new_states)
{
    for (size_t n = 0; n < new_config->device_count; n++) {
        size_t o = config_find_device(old_config, new_config->devices[n].id);
        if (o == WG_NO_INDEX)
            continue;
        const struct device_state *from = &old_states[o];
        struct device_state *to = &new_states[n];
        to->health = from->health;
        memcpy(to->reason, from->reason, sizeof to->reason);
        to->reason_code = from->reason_code;
        memcpy(to->counters, from->counters, sizeof to->counters);
        const struct wg_profile *old_profile =
            &old_config->profiles[old_config->devices[o].profile];
        const struct wg_profile *new_profile =
            &new_config->profiles[new_config->devices[n].profile];
        for (size_t np = 0; np < new_profile->point_count; np++)
            for (size_t op = 0; op < old_profile->point_count; op++)
                if (strcmp(new_profile->points[np].name, old_profile->points[op].name) == 0) {
                    to->values[np] = from->values[op];
                    to->seen[np] = from->seen[op];
                }
    }
}

static const char *health_name(enum wg_health health)
{
    switch (health) {
    case WG_HEALTH_ONLINE:
        return "online";
    case WG_HEALTH_SUSPECT:
        return "suspect";
    case WG_HEALTH_OFFLINE:
        return "offline";
    default:
        return "unknown";
    }
}

/* ---- events ---- */

static char *copy_into(char **cursor, const char *text)
{
    if (!text)
        return NULL;
    size_t len = strlen(text) + 1;
    char *start = *cursor;
    memcpy(start, text, len);
    *cursor += len;
    return start;
}

/* Queues an event for the next commit: copies `proto`'s strings and takes
 * `body` (a JSON object). Returns the pending entry, or NULL when out of memory. */
static struct pending_event *queue_event(struct wg_core *core, const struct wg_event *proto,
                                         json_t *body)
{
    char *body_text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    if (!body_text) {
        wg_crit("out of memory serialising a %s event", proto->kind);
        return NULL;
    }
    const char *parts[] = {proto->kind, proto->alarm_id, proto->device,   proto->zone,
                           proto->room, proto->bed,      proto->resident, body_text};
    size_t total = 0;
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++)
        total += parts[i] ? strlen(parts[i]) + 1 : 0;

    if (core->pending_count == core->pending_capacity) {
        size_t capacity = core->pending_capacity ? core->pending_capacity * 2 : 64;
        struct pending_event *grown = realloc(core->pending, capacity * sizeof *grown);
        if (!grown) {
            free(body_text);
            wg_crit("out of memory queueing a %s event", proto->kind);
            return NULL;
        }
        core->pending = grown;
        core->pending_capacity = capacity;
    }
    char *strings = malloc(total);
    if (!strings) {
        free(body_text);
        wg_crit("out of memory queueing a %s event", proto->kind);
        return NULL;
    }
    char *cursor = strings;
    struct pending_event *pending = &core->pending[core->pending_count++];
    *pending = (struct pending_event){.strings = strings, .alarm_op = ALARM_ROW_NONE};
    pending->event = (struct wg_event){
        .ts_ms = proto->ts_ms,
        .kind = copy_into(&cursor, proto->kind),
        .priority = proto->priority,
        .alarm_id = copy_into(&cursor, proto->alarm_id),
        .device = copy_into(&cursor, proto->device),
        .zone = copy_into(&cursor, proto->zone),
        .room = copy_into(&cursor, proto->room),
        .bed = copy_into(&cursor, proto->bed),
        .resident = copy_into(&cursor, proto->resident),
        .body = copy_into(&cursor, body_text),
        .uplink = proto->uplink,
    };
    event_new_id(&pending->event);
    free(body_text);
    return pending;
}

/* Queues an event about a device (or the system, with WG_NO_INDEX). Takes `body`. */
static int core_emit(struct wg_core *core, const char *kind, int priority, size_t device_index,
                     json_t *body, enum wg_uplink_class uplink, int64_t ts_ms)
{
    const struct wg_config *config = core->config;
    struct wg_event proto = {.ts_ms = ts_ms, .kind = kind, .priority = priority, .uplink = uplink};
    if (device_index != WG_NO_INDEX) {
        const struct wg_device *device = &config->devices[device_index];
        proto.device = device->id;
        if (device->room != WG_NO_INDEX) {
            proto.room = config->rooms[device->room].id;
            proto.zone = config->zones[config->rooms[device->room].zone].id;
        }
        if (device->bed != WG_NO_INDEX) {
            proto.bed = config->beds[device->bed].id;
            size_t r = config_resident_of_bed(config, device->bed);
            if (r != WG_NO_INDEX)
                proto.resident = config->residents[r].id;
        }
    }
    return queue_event(core, &proto, body) ? 0 : -1;
}

static const char *empty_to_null(const char *text)
{
    return text && text[0] ? text : NULL;
}

/* The engine's sink: every alarm change becomes an "alarm" event for the
 * journal and the uplink, with the alarm's row, committed before anybody sees it. */
static void alarm_changed(void *ctx, const struct wg_alarm *alarm, const char *phase)
{
    struct wg_core *core = ctx;
    json_t *body = alarm_to_json(alarm);
    if (!body) {
        wg_crit("out of memory journaling alarm %s (%s)", alarm->id, phase);
        return;
    }
    json_object_set_new(body, "phase", json_string(phase));
    struct wg_event proto = {.ts_ms = clock_wall_ms(core->clock),
                             .kind = "alarm",
                             .priority = alarm->priority,
                             .alarm_id = alarm->id,
                             .device = empty_to_null(alarm->device),
                             .zone = empty_to_null(alarm->zone),
                             .room = empty_to_null(alarm->room),
                             .bed = empty_to_null(alarm->bed),
                             .resident = empty_to_null(alarm->resident),
                             .uplink = WG_UPLINK_ALARM};
    struct pending_event *pending = queue_event(core, &proto, body);
    if (!pending)
        return;
    pending->alarm_op = alarm->state == WG_ALARM_RESET ? ALARM_ROW_DELETE : ALARM_ROW_PUT;
    pending->alarm_update = alarm->update;
    snprintf(pending->alarm_state, sizeof pending->alarm_state, "%s",
             alarm_state_name(alarm->state));
    snprintf(pending->alarm_kind, sizeof pending->alarm_kind, "%s", alarm->kind);
}

/* Writes the alarm row that goes with a pending alarm event. */
static int store_alarm_row(struct wg_store *store, const struct pending_event *pending)
{
    if (pending->alarm_op == ALARM_ROW_DELETE)
        return store_alarm_delete(store, pending->event.alarm_id);
    struct wg_alarm_row row = {.id = pending->event.alarm_id,
                               .update_count = pending->alarm_update,
                               .state = pending->alarm_state,
                               .priority = pending->event.priority,
                               .kind = pending->alarm_kind,
                               .body = pending->event.body,
                               .updated_ms = pending->event.ts_ms};
    return store_alarm_put(store, &row);
}

/* Alarm events get one readable line: what a nurse would want to read. */
static void log_alarm_event(const struct wg_event *event)
{
    json_t *body = json_loads(event->body, 0, NULL);
    const char *phase = json_string_value(json_object_get(body, "phase"));
    const char *kind = json_string_value(json_object_get(body, "kind"));
    const char *detail = json_string_value(json_object_get(body, "detail"));
    const char *bed = json_string_value(json_object_get(body, "bed"));
    wg_log(event->priority >= WG_PRIO_URGENT ? WG_LOG_WARNING : WG_LOG_NOTICE,
           "event #%lld ALARM %-12s %-9s %-16s room %s%s%s%s%s (%s) %s", (long long)event->seq,
           phase ? phase : "?", priority_name((enum wg_priority)event->priority), kind ? kind : "?",
           event->room ? event->room : "-", bed && bed[0] ? " bed " : "", bed ? bed : "",
           event->resident ? " resident " : "", event->resident ? event->resident : "",
           event->device ? event->device : "-", detail ? detail : "");
    json_decref(body);
}

static void log_event(const struct wg_event *event, void *ctx)
{
    (void)ctx;
    if (strcmp(event->kind, "alarm") == 0) {
        log_alarm_event(event);
        return;
    }
    enum wg_log_level level = WG_LOG_INFO;
    if (strcmp(event->kind, "device_health") == 0 || strcmp(event->kind, "write_result") == 0)
        level = WG_LOG_NOTICE;
    wg_log(level, "event #%lld %s %s%s%s%s%s %s", (long long)event->seq, event->kind,
           event->device ? event->device : "-", event->room ? " room " : "",
           event->room ? event->room : "", event->resident ? " resident " : "",
           event->resident ? event->resident : "", event->body);
}

/* Commits pending events and the batch's readings in one transaction; then,
 * and only then, hands the events to the listeners. */
static int flush(struct wg_core *core)
{
    if (core->pending_count == 0 && core->closed_count == 0)
        return 0;
    struct wg_store *store = core->store;
    int rc = store_begin(store);
    /* A reading the store refuses undoes only itself (the store uses a
     * savepoint per write); it must not hold up the events. */
    for (size_t i = 0; rc == 0 && i < core->closed_count; i++) {
        const struct closed_bucket *bucket = &core->closed[i];
        const struct wg_device *device = &core->config->devices[bucket->device];
        const char *point = core->config->profiles[device->profile].points[bucket->point].name;
        if (store_add_aggregate(store, device->id, point, &bucket->aggregate) != 0)
            wg_warn("storage: reading %s.%s not kept: %s", device->id, point,
                    store_last_error(store));
    }
    for (size_t i = 0; rc == 0 && i < core->pending_count; i++) {
        rc = store_append_event(store, &core->pending[i].event);
        if (rc == 0 && core->pending[i].alarm_op != ALARM_ROW_NONE)
            rc = store_alarm_row(store, &core->pending[i]);
    }
    if (rc == 0)
        rc = store_commit(store);
    else
        store_rollback(store);
    /* Readings are aggregates for history; a failed batch of them is not retried. */
    core->closed_count = 0;
    if (rc != 0) {
        if (!core->storage_failing)
            wg_crit("storage: %s; %zu events are held in memory and retried every %d s",
                    store_last_error(store), core->pending_count, RETRY_PERIOD_MS / 1000);
        core->storage_failing = true;
        return -1;
    }
    if (core->storage_failing)
        wg_notice("storage: working again; %zu held events committed", core->pending_count);
    core->storage_failing = false;
    for (size_t i = 0; i < core->pending_count; i++) {
        for (size_t l = 0; l < core->listener_count; l++)
            core->listeners[l].fn(&core->pending[i].event, core->listeners[l].ctx);
        free(core->pending[i].strings);
    }
    core->events_committed += core->pending_count;
    core->pending_count = 0;
    if (core->uplink)
        uplink_after_commit(core->uplink);
    return 0;
}

/* ---- readings history: one bucket per point in memory, written when it closes ---- */

static void close_bucket(struct wg_core *core, uint32_t device, uint32_t point)
{
    struct wg_reading_aggregate *bucket = &core->devices[device].buckets[point];
    if (bucket->count == 0)
        return;
    if (core->closed_count == core->closed_capacity) {
        size_t capacity = core->closed_capacity ? core->closed_capacity * 2 : 256;
        struct closed_bucket *grown = realloc(core->closed, capacity * sizeof *grown);
        if (!grown) {
            wg_err("out of memory: a readings bucket of %s is not kept",
                   core->config->devices[device].id);
            bucket->count = 0;
            return;
        }
        core->closed = grown;
        core->closed_capacity = capacity;
    }
    core->closed[core->closed_count++] =
        (struct closed_bucket){.device = device, .point = point, .aggregate = *bucket};
    bucket->count = 0;
}

static void add_to_bucket(struct wg_core *core, uint32_t device, uint32_t point, int64_t ts_ms,
                          double value)
{
    struct wg_reading_aggregate *bucket = &core->devices[device].buckets[point];
    int64_t start = store_bucket_start(core->store, ts_ms);
    if (bucket->count > 0 && bucket->bucket_ms != start)
        close_bucket(core, device, point);
    if (bucket->count == 0) {
        *bucket = (struct wg_reading_aggregate){start, 1, value, value, value, value, ts_ms};
        return;
    }
    bucket->count++;
    bucket->sum += value;
    bucket->min = value < bucket->min ? value : bucket->min;
    bucket->max = value > bucket->max ? value : bucket->max;
    if (ts_ms >= bucket->last_ms) {
        bucket->last = value;
        bucket->last_ms = ts_ms;
    }
}

/* The uplink's telemetry: one aggregate per numeric point per interval. */
static void add_to_telemetry(struct wg_reading_aggregate *aggregate, int64_t ts_ms, double value)
{
    if (aggregate->count == 0) {
        *aggregate = (struct wg_reading_aggregate){0, 1, value, value, value, value, ts_ms};
        return;
    }
    aggregate->count++;
    aggregate->sum += value;
    aggregate->min = value < aggregate->min ? value : aggregate->min;
    aggregate->max = value > aggregate->max ? value : aggregate->max;
    if (ts_ms >= aggregate->last_ms) {
        aggregate->last = value;
        aggregate->last_ms = ts_ms;
    }
}

/* Closes buckets whose interval has passed (all of them when `everything`). */
static void close_buckets(struct wg_core *core, bool everything)
{
    int64_t current = store_bucket_start(core->store, clock_wall_ms(core->clock));
    for (size_t d = 0; d < core->config->device_count; d++)
        for (size_t p = 0; p < core->devices[d].point_count; p++) {
            const struct wg_reading_aggregate *bucket = &core->devices[d].buckets[p];
            if (bucket->count > 0 && (everything || bucket->bucket_ms < current))
                close_bucket(core, (uint32_t)d, (uint32_t)p);
        }
}

/* ---- messages from the drivers ---- */

static void handle_counter(struct wg_core *core, const struct wg_msg *msg);

static void handle_reading(struct wg_core *core, const struct wg_msg *msg)
{
    const struct wg_config *config = core->config;
    if (msg->device >= config->device_count)
        return;
    struct device_state *state = &core->devices[msg->device];
    if (msg->point >= state->point_count)
        return;
    const struct wg_device *device = &config->devices[msg->device];
    const struct wg_point_def *point = &config->profiles[device->profile].points[msg->point];
    if (!isfinite(msg->value)) {
        /* A NaN or infinite register value (a float of an unwired input, say) is
         * counted against the device, never stored or compared. */
        struct wg_msg counter = {.type = WG_MSG_COUNTER, .device = msg->device, .value = 1};
        snprintf(counter.text, sizeof counter.text, "bad_value");
        handle_counter(core, &counter);
        return;
    }

    bool first = !state->seen[msg->point];
    double previous = state->values[msg->point];
    state->values[msg->point] = msg->value;
    state->seen[msg->point] = true;

    if (point->kind != WG_POINT_BOOL) {
        add_to_bucket(core, msg->device, msg->point, msg->ts_ms, msg->value);
        if (core->uplink)
            add_to_telemetry(&state->telemetry[msg->point], msg->ts_ms, msg->value);
    } else if (!meaning_is_heartbeat(point->meaning) && /* heartbeats: liveness only */
               (first ? msg->value != 0 : previous != msg->value)) {
        json_t *body = json_pack("{s:s, s:s, s:f}", "point", point->name, "meaning", point->meaning,
                                 "value", msg->value);
        if (body && !first)
            json_object_set_new(body, "previous", json_real(previous));
        if (body)
            core_emit(core, "point", -1, msg->device, body, WG_UPLINK_NONE, msg->ts_ms);
    }
    /* The cause is journaled first, then what the engine makes of it. */
    engine_on_point(core->engine, msg->device, msg->point, msg->value, previous, first, msg->ts_ms);
}

static void handle_health(struct wg_core *core, const struct wg_msg *msg)
{
    if (msg->device >= core->config->device_count)
        return;
    struct device_state *state = &core->devices[msg->device];
    enum wg_health health = (enum wg_health)msg->value;
    if (health == state->health)
        return;
    enum wg_health previous = state->health;
    state->health = health;
    snprintf(state->reason, sizeof state->reason, "%s", msg->text);
    state->reason_code = health_reason_code(msg->text);
    json_t *body =
        json_pack("{s:s, s:s, s:s, s:s}", "health", health_name(health), "previous",
                  health_name(previous), "reason", msg->text, "reason_code", state->reason_code);
    if (body)
        core_emit(core, "device_health", -1, msg->device, body, WG_UPLINK_HEALTH, msg->ts_ms);
    engine_on_health(core->engine, msg->device, health, msg->text, msg->ts_ms);
}

static void handle_write_result(struct wg_core *core, const struct wg_msg *msg)
{
    struct outstanding_write *write = &core->outstanding[msg->request_id % MAX_OUTSTANDING];
    if (write->request_id != msg->request_id) {
        wg_warn("write result for unknown request %llu (%s)", (unsigned long long)msg->request_id,
                msg->ok ? "ok" : msg->text);
        return;
    }
    const struct wg_device *device = &core->config->devices[write->device];
    const struct wg_point_def *point =
        &core->config->profiles[device->profile].points[write->point];
    json_t *body =
        json_pack("{s:I, s:s, s:f, s:b, s:s}", "request", (json_int_t)msg->request_id, "point",
                  point->name, "value", write->value, "ok", msg->ok, "reason", msg->text);
    if (body && !msg->ok) /* a write failure's reason as a code too ("write: timeout") */
        json_object_set_new(body, "reason_code", json_string(health_reason_code(msg->text)));
    if (body)
        core_emit(core, "write_result", -1, write->device, body,
                  msg->ok ? WG_UPLINK_NONE : WG_UPLINK_HEALTH, msg->ts_ms);
    if (!msg->ok)
        wg_err("write %s.%s = %g failed: %s", device->id, point->name, write->value, msg->text);
    engine_on_write_result(core->engine, write->device, write->point, msg->ok, msg->text,
                           msg->ts_ms);
    write->request_id = 0;
}

static void handle_counter(struct wg_core *core, const struct wg_msg *msg)
{
    if (msg->device >= core->config->device_count)
        return;
    struct device_counter *counters = core->devices[msg->device].counters;
    for (size_t i = 0; i < MAX_COUNTERS; i++) {
        if (counters[i].name[0] == '\0')
            snprintf(counters[i].name, sizeof counters[i].name, "%s", msg->text);
        if (strcmp(counters[i].name, msg->text) == 0) {
            counters[i].count += (uint64_t)msg->value;
            return;
        }
    }
    wg_warn("device %s: too many counter kinds, \"%s\" not kept",
            core->config->devices[msg->device].id, msg->text);
}

size_t core_process(struct wg_core *core)
{
    struct wg_msg batch[BATCH_MAX];
    size_t total = 0;
    for (int round = 0; round < BATCHES_PER_WAKEUP; round++) {
        size_t count = queue_pop_batch(core->queue, batch, BATCH_MAX);
        for (size_t i = 0; i < count; i++) {
            switch (batch[i].type) {
            case WG_MSG_READING:
                handle_reading(core, &batch[i]);
                break;
            case WG_MSG_HEALTH:
                handle_health(core, &batch[i]);
                break;
            case WG_MSG_WRITE_RESULT:
                handle_write_result(core, &batch[i]);
                break;
            case WG_MSG_COUNTER:
                handle_counter(core, &batch[i]);
                break;
            }
        }
        total += count;
        if (!core->storage_failing || core->pending_count == 0)
            flush(core);
        if (count < BATCH_MAX)
            break;
    }
    core->messages_handled += total;
    return total;
}

/* Handles everything queued; only for when the drivers are stopped. */
static void drain_queue(struct wg_core *core)
{
    while (core_process(core) > 0)
        ;
}

/* ---- periodic jobs ---- */

static void job_retry(struct wg_core *core)
{
    if (core->pending_count > 0)
        flush(core);
}

/* Feeds systemd's watchdog only while every supervised thread turns: a
 * wedged web thread cannot say so itself, so the core stops vouching for
 * the daemon and systemd restarts it. Each change is logged once. */
static void job_watchdog(struct wg_core *core)
{
    int64_t now = clock_mono_ms(core->clock);
    bool all_turning = true;
    for (size_t i = 0; i < core->supervised_count; i++) {
        struct wg_liveness *thread = core->supervised[i];
        int64_t age = liveness_age_ms(thread, now);
        if (age > WG_LIVENESS_STALE_MS) {
            all_turning = false;
            if (!thread->stale) {
                wg_crit("watchdog: the %s thread has not turned for %lld ms: it is wedged; "
                        "WATCHDOG=1 is no longer sent, so systemd restarts the daemon",
                        thread->name, (long long)age);
                service_status("the %s thread is wedged; waiting for the watchdog restart",
                               thread->name);
            }
            thread->stale = true;
        } else if (thread->stale) {
            thread->stale = false;
            wg_notice("watchdog: the %s thread turns again; WATCHDOG=1 is sent again",
                      thread->name);
        }
    }
    if (all_turning)
        service_watchdog();
}

int core_supervise(struct wg_core *core, struct wg_liveness *thread)
{
    if (core->supervised_count == MAX_SUPERVISED)
        return -1;
    core->supervised[core->supervised_count++] = thread;
    return 0;
}

static void job_maintain(struct wg_core *core)
{
    if (store_maintain(core->store, clock_wall_ms(core->clock)) != 0)
        wg_err("storage maintenance: %s", store_last_error(core->store));
}

static void job_status(struct wg_core *core)
{
    size_t online = 0, offline = 0;
    for (size_t i = 0; i < core->config->device_count; i++) {
        if (core->devices[i].health == WG_HEALTH_ONLINE)
            online++;
        else if (core->devices[i].health == WG_HEALTH_OFFLINE)
            offline++;
    }
    service_status("%zu devices: %zu online, %zu offline; %llu events; %zu pending%s",
                   core->config->device_count, online, offline,
                   (unsigned long long)core->events_committed, core->pending_count,
                   core->storage_failing ? "; STORAGE FAILING" : "");
}

static void job_engine(struct wg_core *core)
{
    engine_tick(core->engine, clock_wall_ms(core->clock));
    flush(core);
}

static void job_buckets(struct wg_core *core)
{
    close_buckets(core, false);
    flush(core);
}

static void job_uplink(struct wg_core *core)
{
    if (core->uplink)
        uplink_tick(core->uplink);
}

/* One telemetry event per device with numeric readings in the interval:
 * count, min, max, average and last of each point (class TELEMETRY, the
 * first to be evicted when the outbox is full). */
static void job_telemetry(struct wg_core *core)
{
    int64_t now = clock_wall_ms(core->clock);
    const struct wg_config *config = core->config;
    for (size_t d = 0; core->uplink && d < config->device_count; d++) {
        struct device_state *state = &core->devices[d];
        const struct wg_profile *profile = &config->profiles[config->devices[d].profile];
        json_t *points = json_array();
        for (size_t p = 0; points && p < state->point_count; p++) {
            struct wg_reading_aggregate *aggregate = &state->telemetry[p];
            if (aggregate->count == 0)
                continue;
            json_array_append_new(
                points,
                json_pack("{s:s, s:s, s:s, s:I, s:f, s:f, s:f, s:f}", "point",
                          profile->points[p].name, "meaning", profile->points[p].meaning, "unit",
                          profile->points[p].unit, "count", (json_int_t)aggregate->count, "min",
                          aggregate->min, "max", aggregate->max, "avg",
                          aggregate->sum / (double)aggregate->count, "last", aggregate->last));
            aggregate->count = 0;
        }
        if (json_array_size(points) == 0) {
            json_decref(points);
            continue;
        }
        json_t *body = json_pack(
            "{s:I, s:I, s:i, s:o}", "from_ms", (json_int_t)core->telemetry_from_ms, "to_ms",
            (json_int_t)now, "interval_s", config->uplink.telemetry_interval_s, "points", points);
        if (body)
            core_emit(core, "telemetry", -1, d, body, WG_UPLINK_TELEMETRY, now);
    }
    core->telemetry_from_ms = now;
    flush(core);
}

/* The uplink's timer and the telemetry interval; off when it is disabled. */
static void init_uplink_jobs(struct wg_core *core)
{
    int64_t now = clock_mono_ms(core->clock);
    int64_t telemetry_ms = (int64_t)core->config->uplink.telemetry_interval_s * 1000;
    core->jobs[JOB_UPLINK] =
        (struct periodic_job){"uplink", core->uplink ? 1000 : 0, now + 1000, job_uplink};
    core->jobs[JOB_TELEMETRY] = (struct periodic_job){"telemetry", core->uplink ? telemetry_ms : 0,
                                                      now + telemetry_ms, job_telemetry};
    core->telemetry_from_ms = clock_wall_ms(core->clock);
}

static void init_jobs(struct wg_core *core)
{
    int64_t now = clock_mono_ms(core->clock);
    int64_t watchdog = service_watchdog_period_ms();
    if (watchdog <= 0 || watchdog > SUPERVISE_PERIOD_MS)
        watchdog = SUPERVISE_PERIOD_MS; /* supervision is logged with or without systemd */
    core->jobs[JOB_ENGINE] = (struct periodic_job){"engine", ENGINE_PERIOD_MS, now, job_engine};
    core->jobs[JOB_RETRY] = (struct periodic_job){"retry", RETRY_PERIOD_MS, now, job_retry};
    core->jobs[JOB_WATCHDOG] = (struct periodic_job){"watchdog", watchdog, now, job_watchdog};
    core->jobs[JOB_MAINTAIN] =
        (struct periodic_job){"maintain", MAINTAIN_PERIOD_MS, now, job_maintain};
    core->jobs[JOB_STATUS] =
        (struct periodic_job){"status", STATUS_PERIOD_MS, now + STATUS_PERIOD_MS, job_status};
    int64_t bucket_ms = (int64_t)core->config->storage.readings_bucket_s * 1000;
    core->jobs[JOB_BUCKETS] =
        (struct periodic_job){"buckets", bucket_ms, now + bucket_ms, job_buckets};
    init_uplink_jobs(core);
}

void core_run_timers(struct wg_core *core)
{
    int64_t now = clock_mono_ms(core->clock);
    for (size_t i = 0; i < JOB_COUNT; i++) {
        struct periodic_job *job = &core->jobs[i];
        if (job->period_ms <= 0 || now < job->next_mono_ms)
            continue;
        job->run(core);
        job->next_mono_ms += job->period_ms;
        if (job->next_mono_ms <= now) /* fell behind (suspend, slow disk): do not catch up */
            job->next_mono_ms = now + job->period_ms;
    }
}

static int next_timer_in_ms(const struct wg_core *core)
{
    int64_t now = clock_mono_ms(core->clock);
    int64_t wait = 1000;
    for (size_t i = 0; i < JOB_COUNT; i++) {
        if (core->jobs[i].period_ms <= 0)
            continue;
        int64_t until = core->jobs[i].next_mono_ms - now;
        if (until < wait)
            wait = until;
    }
    return wait < 0 ? 0 : (int)wait;
}

/* ---- what the uplink asks of the core ---- */

json_t *core_status_json(const struct wg_core *core)
{
    size_t counts[4] = {0}; /* unknown, online, suspect, offline */
    for (size_t i = 0; i < core->config->device_count; i++) {
        enum wg_health health = core->devices[i].health;
        counts[health == WG_HEALTH_ONLINE    ? 1
               : health == WG_HEALTH_SUSPECT ? 2
               : health == WG_HEALTH_OFFLINE ? 3
                                             : 0]++;
    }
    return json_pack("{s:{s:i, s:i, s:i, s:i, s:i}, s:i}", "devices", "total",
                     (int)core->config->device_count, "online", (int)counts[1], "suspect",
                     (int)counts[2], "offline", (int)counts[3], "unknown", (int)counts[0],
                     "alarms_active", (int)alarm_count(engine_alarms(core->engine)));
}

static json_t *uplink_status(void *ctx)
{
    return core_status_json(ctx);
}

json_t *core_active_alarms_json(struct wg_core *core)
{
    size_t count = alarm_count(engine_alarms(core->engine));
    const struct wg_alarm **alarms = calloc(count ? count : 1, sizeof *alarms);
    json_t *records = json_array();
    if (!alarms || !records) {
        free(alarms);
        json_decref(records);
        return NULL;
    }
    count = alarm_active(engine_alarms(core->engine), alarms, count);
    for (size_t i = 0; i < count; i++)
        json_array_append_new(records, alarm_to_json(alarms[i]));
    free(alarms);
    return records;
}

static json_t *uplink_active_alarms(void *ctx)
{
    return core_active_alarms_json(ctx);
}

/* One device for the uplink (detailed = false) or the web API (detailed:
 * also address, placement, poll period, last values and error counters). */
static json_t *device_json(const struct wg_core *core, size_t index, bool detailed)
{
    const struct wg_config *config = core->config;
    const struct wg_device *device = &config->devices[index];
    const struct device_state *state = &core->devices[index];
    const char *zone = NULL, *room = NULL, *bed = NULL;
    if (device->room != WG_NO_INDEX) {
        room = config->rooms[device->room].id;
        zone = config->zones[config->rooms[device->room].zone].id;
    }
    if (device->bed != WG_NO_INDEX)
        bed = config->beds[device->bed].id;
    json_t *record = json_pack(
        "{s:s, s:s, s:s, s:s, s:{s:s?, s:s?, s:s?}, s:s, s:s, s:b}", "id", device->id, "label",
        device->label, "profile", config->profiles[device->profile].id, "bus",
        config->buses[device->bus].id, "location", "zone", zone, "room", room, "bed", bed, "health",
        health_name(state->health), "reason", state->reason, "enabled", device->enabled);
    if (record)
        json_object_set_new(record, "reason_code",
                            state->reason_code ? json_string(state->reason_code) : json_null());
    if (!record || !detailed)
        return record;
    const struct wg_profile *profile = &config->profiles[device->profile];
    json_t *values = json_object();
    for (size_t p = 0; values && p < profile->point_count && p < state->point_count; p++)
        if (state->seen[p])
            json_object_set_new(values, profile->points[p].name, json_real(state->values[p]));
    json_t *counters = json_object();
    for (size_t c = 0; counters && c < MAX_COUNTERS && state->counters[c].name[0]; c++)
        json_object_set_new(counters, state->counters[c].name,
                            json_integer((json_int_t)state->counters[c].count));
    json_object_set_new(record, "values", values ? values : json_null());
    json_object_set_new(record, "counters", counters ? counters : json_null());
    json_object_set_new(record, "address", json_integer(device->address));
    json_object_set_new(record, "poll_ms", json_integer(device->poll_ms));
    json_object_set_new(record, "spot", json_string(device->spot));
    json_object_set_new(record, "room", room && !bed ? json_string(room) : json_null());
    json_object_set_new(record, "bed", bed ? json_string(bed) : json_null());
    json_object_set_new(record, "driver", json_string(config->buses[device->bus].driver));
    return record;
}

json_t *core_devices_json(const struct wg_core *core, bool detailed)
{
    json_t *devices = json_array();
    for (size_t i = 0; devices && i < core->config->device_count; i++)
        json_array_append_new(devices, device_json(core, i, detailed));
    return devices;
}

json_t *core_device_json(const struct wg_core *core, const char *device_id)
{
    size_t index = config_find_device(core->config, device_id);
    return index == WG_NO_INDEX ? NULL : device_json(core, index, true);
}

static json_t *uplink_devices(void *ctx)
{
    return core_devices_json(ctx, false);
}

/* Creates the uplink when the config enables it (and it is not running). */
static void open_uplink(struct wg_core *core)
{
    if (!core->config->uplink.enabled || core->uplink)
        return;
    struct wg_uplink_host host = {.ctx = core,
                                  .status = uplink_status,
                                  .active_alarms = uplink_active_alarms,
                                  .devices = uplink_devices};
    core->uplink = uplink_new(core->config, core->store, core->clock, &host);
}

/* ---- life cycle ---- */

const char *core_plugin_dir(const char *override, const struct wg_config *config)
{
    if (override)
        return override;
    if (config->plugin_dir && config->plugin_dir[0])
        return config->plugin_dir;
    return WG_PLUGIN_DIR;
}

static int restore_one(const struct wg_alarm_row *row, void *ctx)
{
    struct wg_core *core = ctx;
    json_error_t error;
    json_t *record = json_loads(row->body, 0, &error);
    if (!record || engine_restore(core->engine, record) != 0)
        wg_err("storage: alarm %s could not be restored (%s); it stays in the journal", row->id,
               record ? "not an alarm record" : error.text);
    json_decref(record);
    return 0;
}

/* After a restart, or a crash, the active calls are still active. */
static int restore_alarms(struct wg_core *core)
{
    if (store_alarm_foreach(core->store, restore_one, core) != 0)
        return -1;
    size_t count = alarm_count(engine_alarms(core->engine));
    if (count > 0)
        wg_notice("restored %zu active alarms from the database", count);
    return 0;
}

struct wg_core *core_new(const struct wg_core_options *options, struct wg_config *config,
                         struct wg_store *store, struct wg_diag *diag)
{
    struct wg_core *core = calloc(1, sizeof *core);
    if (!core) {
        config_free(config);
        store_close(store);
        diag_at(diag, NULL, "out of memory");
        return NULL;
    }
    core->config = config;
    core->store = store;
    core->clock = options->clock;
    core->test_hooks = options->test_hooks;
    core->config_path = strdup(options->config_path ? options->config_path : config->path);
    core->plugin_dir_override = options->plugin_dir ? strdup(options->plugin_dir) : NULL;
    core->timezone = strdup(config->site.timezone);
    core->queue =
        queue_new(options->queue_capacity ? options->queue_capacity : DEFAULT_QUEUE_DEPTH);
    core->devices = new_device_states(config);
    core->next_request_id = 1;
    if (!core->config_path || (options->plugin_dir && !core->plugin_dir_override) || !core->queue ||
        !core->devices || !core->timezone) {
        diag_at(diag, NULL, "out of memory");
        core_free(core);
        return NULL;
    }
    core_add_listener(core, log_event, NULL);
    core->engine =
        engine_new(config, (struct wg_engine_host){core, alarm_changed, engine_write_output},
                   clock_wall_ms(core->clock));
    if (!core->engine) {
        diag_at(diag, NULL, "out of memory");
        core_free(core);
        return NULL;
    }
    if (restore_alarms(core) != 0) {
        diag_at(diag, NULL, "storage: cannot read the active alarms: %s", store_last_error(store));
        core_free(core);
        return NULL;
    }
    core->host = plugin_host_open(config, core_plugin_dir(core->plugin_dir_override, config),
                                  core->queue, core->clock, diag);
    if (!core->host) {
        core_free(core);
        return NULL;
    }
    open_uplink(core);
    init_jobs(core);
    return core;
}

int core_start(struct wg_core *core)
{
    if (plugin_host_start(core->host) != 0)
        return -1;
    if (core->uplink)
        uplink_start(core->uplink);
    json_t *body =
        json_pack("{s:s, s:i, s:i}", "what", "started", "devices", (int)core->config->device_count,
                  "buses", (int)core->config->bus_count);
    if (body)
        core_emit(core, "system", -1, WG_NO_INDEX, body, WG_UPLINK_HEALTH,
                  clock_wall_ms(core->clock));
    flush(core);
    return 0;
}

/* Every device's non-zero error counters ({"meter-3": {"timeout": 4}}), for the
 * "stopped" event: the totals of a run stay in the journal. */
static json_t *counters_json(const struct wg_core *core)
{
    json_t *all = json_object();
    for (size_t d = 0; all && d < core->config->device_count; d++) {
        json_t *device = NULL;
        for (size_t i = 0; i < MAX_COUNTERS && core->devices[d].counters[i].name[0]; i++) {
            if (!device)
                device = json_object();
            if (device)
                json_object_set_new(device, core->devices[d].counters[i].name,
                                    json_integer((json_int_t)core->devices[d].counters[i].count));
        }
        if (device)
            json_object_set_new(all, core->config->devices[d].id, device);
    }
    return all;
}

void core_free(struct wg_core *core)
{
    if (!core)
        return;
    if (core->host) {
        plugin_host_stop(core->host);
        drain_queue(core); /* what the drivers handed over before they stopped */
        plugin_host_close(core->host);
    }
    if (core->store && core->config) {
        close_buckets(core, true);
        json_t *body = json_pack("{s:s, s:o*}", "what", "stopped", "counters", counters_json(core));
        if (body)
            core_emit(core, "system", -1, WG_NO_INDEX, body, WG_UPLINK_HEALTH,
                      clock_wall_ms(core->clock));
        if (flush(core) != 0)
            wg_crit("shutting down with %zu events that could not be stored: %s",
                    core->pending_count, store_last_error(core->store));
    }
    uplink_free(core->uplink); /* before the store closes: it deletes what was acknowledged */
    core->uplink = NULL;
    for (size_t i = 0; i < core->pending_count; i++)
        free(core->pending[i].strings);
    free(core->pending);
    engine_free(core->engine);
    free(core->closed);
    if (core->config)
        free_device_states(core->devices, core->config->device_count);
    store_close(core->store);
    config_free(core->config);
    queue_free(core->queue);
    free(core->config_path);
    free(core->plugin_dir_override);
    free(core->timezone);
    free(core);
}

int core_add_listener(struct wg_core *core, wg_event_listener listener, void *ctx)
{
    if (core->listener_count == MAX_LISTENERS)
        return -1;
    core->listeners[core->listener_count++] = (struct listener){listener, ctx};
    return 0;
}

void core_request_stop(struct wg_core *core)
{
    core->stop_requested = true;
}

int core_reload(struct wg_core *core)
{
    return core_reload_report(core, NULL);
}

int core_reload_report(struct wg_core *core, struct wg_diag *report)
{
    service_reloading();
    wg_notice("reload: reading %s", core->config_path);
    struct wg_diag diag;
    diag_init(&diag);
    struct wg_config *next = config_load(core->config_path, &diag);
    struct wg_plugin_host *next_host = NULL;
    struct device_state *next_states = NULL;
    if (next)
        next_host = plugin_host_open(next, core_plugin_dir(core->plugin_dir_override, next),
                                     core->queue, core->clock, &diag);
    if (next_host)
        next_states = new_device_states(next);
    if (!next || !next_host || !next_states) {
        diag_log(&diag);
        for (size_t i = 0; report && i < diag.count; i++)
            diag_copy(report, &diag, i);
        wg_err("reload: %s has %zu error(s); keeping the running configuration", core->config_path,
               diag.count ? diag.count : 1);
        char why[400];
        snprintf(why, sizeof why, "%zu error(s), the first: %s", diag.count ? diag.count : 1,
                 diag.count ? diag.messages[0] : "out of memory");
        diag_free(&diag);
        plugin_host_close(next_host);
        config_free(next);
        service_reload_done(false, why);
        return -1;
    }
    diag_free(&diag);
    config_log_warnings(next);
    if (strcmp(next->storage.path, core->config->storage.path) != 0 ||
        next->storage.max_bytes != core->config->storage.max_bytes)
        wg_warn("reload: storage settings changed; they take effect at the next restart");
    if (strcmp(next->site.timezone, core->timezone) != 0)
        wg_warn("reload: site.timezone changed from %s to %s; local time (night windows, shifts, "
                "the times shown and sent) stays in %s until wardgated is restarted: the zone is "
                "set once, before any thread starts",
                core->timezone, next->site.timezone, core->timezone);

    /* Stop the old drivers, take in what they handed over, then switch. */
    plugin_host_stop(core->host);
    drain_queue(core);
    close_buckets(core, true); /* they name devices of the old config */
    flush(core);
    core->closed_count = 0;
    carry_device_states(core->config, core->devices, next, next_states);
    if (plugin_host_start(next_host) != 0) {
        wg_err("reload: the new drivers did not start; going back to the running configuration");
        if (report)
            diag_pos(report, NULL, 0, 0,
                     "the new drivers did not start (see the log); the running configuration "
                     "is kept");
        plugin_host_close(next_host);
        free_device_states(next_states, next->device_count);
        config_free(next);
        if (plugin_host_start(core->host) != 0)
            wg_crit("reload: the previous drivers did not restart either; no device is polled");
        service_reload_done(false, "the new drivers did not start (see the log)");
        return -1;
    }
    plugin_host_close(core->host);
    free_device_states(core->devices, core->config->device_count);
    /* The engine carries its state over while the old config still exists. */
    if (engine_set_config(core->engine, next, clock_wall_ms(core->clock)) != 0)
        wg_crit("reload: out of memory rebuilding the alarm engine's state");
    /* Nothing pending may point into the old config: events own their strings. */
    bool uplink_changed = !uplink_same_settings(core->config, next);
    if (uplink_changed && core->uplink) {
        wg_notice("reload: uplink settings changed; reconnecting with the new ones");
        uplink_free(core->uplink);
        core->uplink = NULL;
    }
    config_free(core->config);
    core->config = next;
    core->host = next_host;
    core->devices = next_states;
    if (uplink_changed) {
        open_uplink(core);
        if (core->uplink)
            uplink_start(core->uplink);
        init_uplink_jobs(core);
    }
    json_t *body = json_pack("{s:s, s:i}", "what", "reloaded", "devices", (int)next->device_count);
    if (body)
        core_emit(core, "system", -1, WG_NO_INDEX, body, WG_UPLINK_HEALTH,
                  clock_wall_ms(core->clock));
    flush(core);
    wg_notice("reload: applied %s (%zu devices on %zu buses)", core->config_path,
              next->device_count, next->bus_count);
    char applied[128];
    snprintf(applied, sizeof applied, "%zu devices on %zu buses", next->device_count,
             next->bus_count);
    service_reload_done(true, applied);
    return 0;
}

/* Test hooks (WARDGATE_TEST_HOOKS=1 only; docs/architecture.md): SIGUSR1
 * freezes the web thread at its next turn, SIGUSR2 the core thread here,
 * each until the process ends, so that tests can see the watchdog react to a
 * wedged thread. Without test hooks both signals are ignored. */
static void test_hook(struct wg_core *core, int signo)
{
    if (!core->test_hooks) {
        wg_info("signal %s ignored (it is a test hook; WARDGATE_TEST_HOOKS is not set)",
                strsignal(signo));
        return;
    }
    if (signo == SIGUSR2) {
        wg_warn("test hook: SIGUSR2: the core thread stops here until the process ends");
        for (;;)
            pause(); /* every signal is blocked (read through signal_fd) or fatal */
    }
    for (size_t i = 0; i < core->supervised_count; i++)
        if (strcmp(core->supervised[i]->name, "web") == 0) {
            wg_warn("test hook: SIGUSR1: the web thread is asked to stop until the process ends");
            liveness_request_freeze(core->supervised[i]);
            return;
        }
    wg_warn("test hook: SIGUSR1: there is no web thread to stop");
}

static void handle_signals(struct wg_core *core, int signal_fd)
{
    struct signalfd_siginfo info;
    while (read(signal_fd, &info, sizeof info) == (ssize_t)sizeof info) {
        switch (info.ssi_signo) {
        case SIGHUP:
            core_reload(core);
            break;
        case SIGTERM:
        case SIGINT:
            wg_notice("signal %s: shutting down", strsignal((int)info.ssi_signo));
            core->stop_requested = true;
            break;
        case SIGUSR1:
        case SIGUSR2:
            test_hook(core, (int)info.ssi_signo);
            break;
        default:
            break;
        }
    }
}

int core_add_source(struct wg_core *core, int fd, void (*ready)(void *ctx), void *ctx)
{
    if (core->source_count == MAX_SOURCES)
        return -1;
    core->sources[core->source_count++] = (struct extra_source){fd, ready, ctx};
    return 0;
}

int core_run(struct wg_core *core, int signal_fd)
{
    while (!core->stop_requested) {
        struct pollfd fds[3 + MAX_SOURCES] = {
            {.fd = queue_fd(core->queue), .events = POLLIN},
            {.fd = signal_fd, .events = POLLIN},
            {.fd = core->uplink ? uplink_fd(core->uplink) : -1, .events = POLLIN}};
        for (size_t i = 0; i < core->source_count; i++)
            fds[3 + i] = (struct pollfd){.fd = core->sources[i].fd, .events = POLLIN};
        int ready = poll(fds, (nfds_t)(3 + core->source_count), next_timer_in_ms(core));
        if (ready < 0 && errno != EINTR) {
            wg_crit("poll: %s", strerror(errno));
            return -1;
        }
        if (ready > 0 && (fds[0].revents & POLLIN))
            core_process(core);
        if (ready > 0 && signal_fd >= 0 && (fds[1].revents & POLLIN))
            handle_signals(core, signal_fd);
        if (ready > 0 && core->uplink && (fds[2].revents & POLLIN))
            uplink_process(core->uplink);
        for (size_t i = 0; ready > 0 && i < core->source_count; i++)
            if (fds[3 + i].revents & POLLIN)
                core->sources[i].ready(core->sources[i].ctx);
        core_run_timers(core);
    }
    service_stopping();
    return 0;
}

/* Drives an output by index: the one path every write takes, so the safety
 * interlocks live here. Returns the request id, or 0 when refused. */
static uint64_t write_output(struct wg_core *core, size_t device, size_t point, double value)
{
    const struct wg_device *dev = &core->config->devices[device];
    const struct wg_point_def *def = &core->config->profiles[dev->profile].points[point];
    if (strcmp(def->meaning, "valve_command") == 0 && value == 0) {
        /* GB 50028: a closed gas valve is re-opened by hand, on site; never from here. */
        wg_warn("write %s.%s = 0 refused: the gas valve is never re-opened remotely", dev->id,
                def->name);
        return 0;
    }
    uint64_t request_id = core->next_request_id++;
    struct outstanding_write *slot = &core->outstanding[request_id % MAX_OUTSTANDING];
    if (slot->request_id != 0)
        wg_warn("write request %llu still unanswered; no longer tracked",
                (unsigned long long)slot->request_id);
    *slot = (struct outstanding_write){request_id, (uint32_t)device, (uint32_t)point, value};
    if (plugin_host_write(core->host, device, point, value, request_id) != 0) {
        slot->request_id = 0;
        wg_err("write %s.%s = %g refused by its driver", dev->id, def->name, value);
        return 0;
    }
    return request_id;
}

static uint64_t engine_write_output(void *ctx, size_t device, size_t point, double value)
{
    struct wg_core *core = ctx;
    if (!core->host)
        return 0; /* drivers not loaded yet (restoring alarms at start) */
    return write_output(core, device, point, value);
}

uint64_t core_write_output(struct wg_core *core, const char *device_id, const char *point_name,
                           double value)
{
    size_t device = config_find_device(core->config, device_id);
    if (device == WG_NO_INDEX)
        return 0;
    const struct wg_profile *profile =
        &core->config->profiles[core->config->devices[device].profile];
    for (size_t p = 0; p < profile->point_count; p++)
        if (strcmp(profile->points[p].name, point_name) == 0)
            return write_output(core, device, p, value);
    return 0;
}

int core_acknowledge(struct wg_core *core, const char *alarm_id, const char *who, const char *where,
                     char *why, size_t why_len)
{
    int rc = engine_acknowledge(core->engine, alarm_id, who, where, clock_wall_ms(core->clock), why,
                                why_len);
    flush(core);
    return rc;
}

int core_reset_remote(struct wg_core *core, const char *alarm_id, const char *who,
                      const char *where, char *why, size_t why_len)
{
    return engine_reset_remote(core->engine, alarm_id, who, where, why, why_len);
}

const struct wg_alarm *core_find_alarm(struct wg_core *core, const char *alarm_id)
{
    return alarm_find(engine_alarms(core->engine), alarm_id);
}

const char *core_timezone(const struct wg_core *core)
{
    return core->timezone;
}

struct wg_clock *core_clock(struct wg_core *core)
{
    return core->clock;
}

size_t core_active_alarms(struct wg_core *core, const struct wg_alarm **out, size_t max)
{
    return alarm_active(engine_alarms(core->engine), out, max);
}

/* ---- read-only views ---- */

void core_stats(struct wg_core *core, struct wg_core_stats *stats)
{
    struct wg_queue_stats queue;
    queue_stats(core->queue, &queue);
    *stats = (struct wg_core_stats){.events_committed = core->events_committed,
                                    .events_pending = core->pending_count,
                                    .storage_failing = core->storage_failing,
                                    .queue_depth = queue.depth,
                                    .queue_capacity = queue.capacity,
                                    .queue_high_water = queue.high_water,
                                    .uplink_enabled = core->uplink != NULL};
}

const struct wg_config *core_config(const struct wg_core *core)
{
    return core->config;
}

struct wg_store *core_store(struct wg_core *core)
{
    return core->store;
}

size_t core_pending_events(const struct wg_core *core)
{
    return core->pending_count;
}

enum wg_health core_device_health(const struct wg_core *core, const char *device_id)
{
    size_t device = config_find_device(core->config, device_id);
    return device == WG_NO_INDEX ? WG_HEALTH_UNKNOWN : core->devices[device].health;
}

bool core_point_value(const struct wg_core *core, const char *device_id, const char *point_name,
                      double *value)
{
    size_t device = config_find_device(core->config, device_id);
    if (device == WG_NO_INDEX)
        return false;
    const struct wg_profile *profile =
        &core->config->profiles[core->config->devices[device].profile];
    for (size_t p = 0; p < profile->point_count; p++)
        if (strcmp(profile->points[p].name, point_name) == 0 && core->devices[device].seen[p]) {
            *value = core->devices[device].values[p];
            return true;
        }
    return false;
}

uint64_t core_device_counter(const struct wg_core *core, const char *device_id, const char *counter)
{
    size_t device = config_find_device(core->config, device_id);
    if (device == WG_NO_INDEX)
        return 0;
    for (size_t i = 0; i < MAX_COUNTERS; i++)
        if (strcmp(core->devices[device].counters[i].name, counter) == 0)
            return core->devices[device].counters[i].count;
    return 0;
}
