/* The core loop and device model; see core.h. */
#include "core/core.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "core/liveness.h"
#include "common/log.h"
#include "common/meaning.h"
#include "alarm/alarm.h"
#include "alarm/engine.h"
#include "drivers/health_reason.h"
#include "store/journal.h"
#include "drivers/plugin_host.h"
#include "core/queue.h"
#include "core/service.h"
#include "core/telemetry.h"

#define BATCH_MAX           256
#define BATCHES_PER_WAKEUP  16   /* then back to poll, so signals and timers are never starved */
#define STORAGE_PERIOD_MS   1000 /* the writer's clock, the storage alarm's count */
#define ENGINE_PERIOD_MS    1000 /* rule timers, supervision, escalation */
#define STATUS_PERIOD_MS    (30 * 1000)
#define DEFAULT_QUEUE_DEPTH 4096
#define WRITE_UNANSWERED_MS (60 * 1000) /* a write result later than this is no longer awaited */
#define STORAGE_ALARM_UPDATE_MS                                                                    \
    (30 * 1000)                        /* the waiting count in its detail, at most this often */
#define LOOP_WINDOW_MS     (10 * 1000) /* the loop's longest iteration, per 10 s ... */
#define LOOP_WINDOWS       6           /* ... over the last minute */
#define SHUTDOWN_COMMIT_MS 1000 /* at stop, the wait for what is held before the uplink closes */

/* Error counters (struct wg_core_counter: name as long as wg_msg.text) are
 * kept by name, as many kinds as the driver reports. */

struct device_state {
    enum wg_health health;
    char reason[64];
    const char *reason_code; /* health_reason.h: a static string, "" before any report */
    size_t point_count;
    double *values;
    bool *seen;
    struct wg_reading_aggregate *buckets;   /* the open readings bucket per point (count 0: none) */
    struct wg_reading_aggregate *telemetry; /* the open uplink telemetry interval per point */
    bool *fresh;        /* per_read telemetry: points read since the device's last poll record */
    size_t fresh_count; /* how many are */
    int64_t fresh_ms;   /* the latest of their times */
    int64_t fresh_since_mono_ms; /* when the first of them arrived */
    bool reports_polls;          /* its driver sends WG_MSG_POLL_DONE (plugin ABI 3) */
    struct wg_core_counter *counters;
    size_t counter_count;
};

/* A write to an output that waits for its result: in request order, so a
 * lookup is a binary search; answered ones leave from the front. */
struct outstanding_write {
    uint64_t request_id;
    bool answered;
    uint32_t device;
    uint32_t point;
    double value;
    int64_t sent_mono_ms;
};

/* A file descriptor another part of the daemon (the web bridge) wants the
 * core loop to watch; `ready` runs on the core thread when it is readable. */
struct extra_source {
    int fd;
    void (*ready)(void *ctx);
    void *ctx;
};
#define MAX_SOURCES     4
#define MAX_SUPERVISED  4
#define MAX_ATTACHMENTS 12
/* The supervision check runs at the watchdog's period, or this often without one. */
#define SUPERVISE_PERIOD_MS 1000

struct periodic_job {
    const char *name;
    int64_t period_ms;
    int64_t next_mono_ms;
    void (*run)(struct wg_core *core);
};

enum { JOB_ENGINE, JOB_STORAGE, JOB_WATCHDOG, JOB_STATUS, JOB_BUCKETS, JOB_TELEMETRY, JOB_COUNT };

struct wg_core {
    char *config_path;
    char *plugin_dir_override; /* NULL: take it from the config */
    char *timezone;            /* the zone local time is in (main set TZ from it at start) */
    struct wg_clock *clock;
    struct wg_config *config;
    struct wg_journal *journal; /* the writer's side: every write goes through it */
    struct wg_store *reader;    /* a read-only connection for the core thread */
    int64_t bucket_ms;          /* the readings bucket (storage.readings_bucket_s) */
    struct wg_queue *queue;
    struct wg_plugin_host *host;
    struct wg_engine *engine;
    /* Not owned: the query workers, where the uplink's journal reads go. */
    struct wg_query_service *queries;
    int64_t telemetry_from_ms;      /* start of the open telemetry interval */
    struct wg_telemetry *telemetry; /* the lean telemetry path (telemetry.h) */
    /* per_read: devices with fresh readings whose driver never reports the
     * end of a poll: their record goes after the batch window. */
    uint32_t *unannounced;
    size_t unannounced_count;
    struct device_state *devices;

    struct outstanding_write *outstanding;
    size_t outstanding_head, outstanding_count, outstanding_capacity;
    uint64_t next_request_id;

    /* The web API, the uplink, tests: attach.h. */
    struct wg_core_attachment attachments[MAX_ATTACHMENTS];
    size_t attachment_count;
    int64_t attachments_wait_ms; /* the soonest an attachment's tick wants to run again */
    struct extra_source sources[MAX_SOURCES];
    size_t source_count;
    struct periodic_job jobs[JOB_COUNT];
    struct wg_liveness *supervised[MAX_SUPERVISED]; /* other threads the watchdog job checks */
    size_t supervised_count;
    int64_t watchdog_ran_ms; /* the watchdog job's last run (0: none yet) */
    bool test_hooks;

    bool stop_requested;
    bool storage_failing;
    char storage_reason[16]; /* store_status_reason of the failure, "" when ok */
    size_t storage_alarm_waiting;
    int64_t storage_alarm_updated_ms;
    uint64_t events_committed;
    uint64_t messages_handled;
    /* The loop's longest iteration: since start, and per 10 s window. */
    int64_t loop_max_us;
    int64_t loop_window_max_us[LOOP_WINDOWS];
    int64_t loop_window_start_ms;
    size_t loop_window;
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
        free(states[i].fresh);
        free(states[i].counters);
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
        states[i].fresh = calloc(points ? points : 1, sizeof *states[i].fresh);
        if (!states[i].values || !states[i].seen || !states[i].buckets || !states[i].telemetry ||
            !states[i].fresh) {
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
        to->reports_polls = from->reports_polls;
        memcpy(to->reason, from->reason, sizeof to->reason);
        to->reason_code = from->reason_code;
        if (from->counter_count) {
            to->counters = malloc(from->counter_count * sizeof *to->counters);
            if (to->counters) {
                memcpy(to->counters, from->counters, from->counter_count * sizeof *to->counters);
                to->counter_count = from->counter_count;
            } else {
                wg_err("reload: out of memory: the error counters of %s start again at 0",
                       new_config->devices[n].id);
            }
        }
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

/* What is dropped first when the memory for unjournaled events runs out. */
static enum wg_write_class class_of(const char *kind)
{
    if (strcmp(kind, "alarm") == 0)
        return WG_CLASS_ALARM;
    if (strcmp(kind, "telemetry") == 0)
        return WG_CLASS_TELEMETRY;
    if (strcmp(kind, "point") == 0)
        return WG_CLASS_POINT;
    if (strcmp(kind, "write_result") == 0)
        return WG_CLASS_WRITE_RESULT;
    return WG_CLASS_HEALTH;
}

/* Queues an event about a device (or the system, with WG_NO_INDEX) for the
 * journal. Takes `body`. */
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
    return journal_event(core->journal, &proto, body, class_of(kind), NULL);
}

static const char *empty_to_null(const char *text)
{
    return text && text[0] ? text : NULL;
}

/* The engine's sink: every alarm change becomes an "alarm" event for the
 * journal and the uplink, with the alarm's row, in the same transaction. */
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
    struct wg_journal_alarm_row row = {.op = alarm->state == WG_ALARM_RESET ? WG_ALARM_ROW_DELETE
                                                                            : WG_ALARM_ROW_PUT,
                                       .update = alarm->update,
                                       .state = alarm_state_name(alarm->state),
                                       .kind = alarm->kind};
    journal_event(core->journal, &proto, body, WG_CLASS_ALARM, &row);
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

/* Hands what was queued to the store writer (never waits for the disk) and
 * shows the alarm events that have waited too long for their commit. The
 * listeners hear of the events once they are committed (journal_process). */
static int flush(struct wg_core *core)
{
    journal_flush(core->journal);
    return 0;
}

/* ---- readings history: one bucket per point in memory, written when it closes ---- */

static int64_t bucket_start(const struct wg_core *core, int64_t ts_ms)
{
    int64_t bucket = ts_ms / core->bucket_ms;
    if (ts_ms % core->bucket_ms < 0)
        bucket -= 1; /* floor for times before 1970 */
    return bucket * core->bucket_ms;
}

static void close_bucket(struct wg_core *core, uint32_t device, uint32_t point)
{
    struct wg_reading_aggregate *bucket = &core->devices[device].buckets[point];
    if (bucket->count == 0)
        return;
    const struct wg_device *dev = &core->config->devices[device];
    journal_reading(core->journal, dev->id, core->config->profiles[dev->profile].points[point].name,
                    bucket);
    bucket->count = 0;
}

static void add_to_bucket(struct wg_core *core, uint32_t device, uint32_t point, int64_t ts_ms,
                          double value)
{
    struct wg_reading_aggregate *bucket = &core->devices[device].buckets[point];
    int64_t start = bucket_start(core, ts_ms);
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
    int64_t current = bucket_start(core, clock_wall_ms(core->clock));
    for (size_t d = 0; d < core->config->device_count; d++)
        for (size_t p = 0; p < core->devices[d].point_count; p++) {
            const struct wg_reading_aggregate *bucket = &core->devices[d].buckets[p];
            if (bucket->count > 0 && (everything || bucket->bucket_ms < current))
                close_bucket(core, (uint32_t)d, (uint32_t)p);
        }
}

/* ---- per_read telemetry: a record per completed poll ---- */

/* A numeric point was read: it goes in the device's next poll record. */
static void mark_fresh(struct wg_core *core, uint32_t device, uint32_t point, int64_t ts_ms)
{
    struct device_state *state = &core->devices[device];
    if (ts_ms > state->fresh_ms)
        state->fresh_ms = ts_ms;
    if (state->fresh[point])
        return;
    state->fresh[point] = true;
    if (state->fresh_count++ > 0)
        return;
    state->fresh_since_mono_ms = clock_mono_ms(core->clock);
    if (state->reports_polls)
        return;
    /* Its driver does not report the end of a poll: what it posted within
     * the batch window is taken as the poll (a poll is posted at once, and
     * no device is polled more often than every 50 ms). */
    uint32_t *grown = core->unannounced;
    if (core->unannounced_count % 64 == 0)
        grown = realloc(core->unannounced, (core->unannounced_count + 64) * sizeof *grown);
    if (!grown) {
        wg_err("telemetry: out of memory; the readings of %s wait for its next poll",
               core->config->devices[device].id);
        return;
    }
    core->unannounced = grown;
    core->unannounced[core->unannounced_count++] = device;
}

/* One device's poll is complete: its fresh points become one record. */
static void emit_poll(struct wg_core *core, uint32_t device, int64_t ts_ms)
{
    struct device_state *state = &core->devices[device];
    if (state->fresh_count == 0)
        return;
    const struct wg_device *dev = &core->config->devices[device];
    telemetry_add_poll(core->telemetry, dev->id, ts_ms, &core->config->profiles[dev->profile],
                       state->values, state->fresh, clock_mono_ms(core->clock));
    memset(state->fresh, 0, state->point_count * sizeof *state->fresh);
    state->fresh_count = 0;
    state->fresh_ms = 0;
}

static void handle_poll_done(struct wg_core *core, const struct wg_msg *msg)
{
    if (msg->device >= core->config->device_count)
        return;
    core->devices[msg->device].reports_polls = true;
    if (core->config->uplink.enabled && core->config->uplink.telemetry_per_read)
        emit_poll(core, msg->device, msg->ts_ms);
}

/* The devices whose drivers never send WG_MSG_POLL_DONE (sim, gpio, ABI 1
 * and 2 plugins) have their record once WG_TELEMETRY_BATCH_MS have passed
 * since their first fresh reading. */
static void emit_unannounced_polls(struct wg_core *core, int64_t now_mono_ms)
{
    size_t kept = 0;
    for (size_t i = 0; i < core->unannounced_count; i++) {
        uint32_t device = core->unannounced[i];
        if (device >= core->config->device_count)
            continue;
        struct device_state *state = &core->devices[device];
        if (state->reports_polls || state->fresh_count == 0)
            continue;
        if (now_mono_ms - state->fresh_since_mono_ms < WG_TELEMETRY_BATCH_MS) {
            core->unannounced[kept++] = device; /* in arrival order: the rest wait too */
            continue;
        }
        emit_poll(core, device, state->fresh_ms);
    }
    core->unannounced_count = kept;
}

/* Milliseconds until the first unannounced device's record is due, -1: none. */
static int64_t unannounced_due_ms(const struct wg_core *core, int64_t now_mono_ms)
{
    if (core->unannounced_count == 0)
        return -1;
    uint32_t device = core->unannounced[0];
    if (device >= core->config->device_count)
        return 0;
    int64_t due = core->devices[device].fresh_since_mono_ms + WG_TELEMETRY_BATCH_MS - now_mono_ms;
    return due < 0 ? 0 : due;
}

/* Every record still open (before a reload or a stop). */
static void emit_all_polls(struct wg_core *core)
{
    for (size_t d = 0; d < core->config->device_count; d++)
        emit_poll(core, (uint32_t)d, core->devices[d].fresh_ms);
    core->unannounced_count = 0;
}

/* The open per_read message goes once its batch window is over. */
static void telemetry_due(struct wg_core *core)
{
    int64_t now = clock_mono_ms(core->clock);
    if (core->unannounced_count)
        emit_unannounced_polls(core, now);
    if (telemetry_due_ms(core->telemetry, now) == 0) {
        telemetry_flush(core->telemetry);
        flush(core);
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
        if (core->config->uplink.enabled && core->config->uplink.telemetry_per_read)
            mark_fresh(core, msg->device, msg->point, msg->ts_ms);
        else if (core->config->uplink.enabled)
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
    state->reason_code = health_reason_name((enum wg_health_reason)msg->code); /* the driver's */
    snprintf(state->reason, sizeof state->reason, "%s", msg->text);
    json_t *body =
        json_pack("{s:s, s:s, s:s, s:s}", "health", health_name(health), "previous",
                  health_name(previous), "reason", msg->text, "reason_code", state->reason_code);
    if (body)
        core_emit(core, "device_health", -1, msg->device, body, WG_UPLINK_HEALTH, msg->ts_ms);
    engine_on_health(core->engine, msg->device, health, state->reason_code, msg->text, msg->ts_ms);
}

/* ---- writes awaiting their result ---- */

static struct outstanding_write *outstanding_at(struct wg_core *core, size_t i)
{
    return &core->outstanding[(core->outstanding_head + i) % core->outstanding_capacity];
}

/* Forgets answered writes at the front, and those unanswered for too long. */
static void outstanding_trim(struct wg_core *core)
{
    int64_t now = clock_mono_ms(core->clock);
    while (core->outstanding_count > 0) {
        struct outstanding_write *first = outstanding_at(core, 0);
        if (!first->answered && now - first->sent_mono_ms < WRITE_UNANSWERED_MS)
            break;
        if (!first->answered) {
            const struct wg_device *device = &core->config->devices[first->device];
            wg_warn("write request %llu (%s.%s = %g) unanswered for %d s; no longer awaited",
                    (unsigned long long)first->request_id, device->id,
                    core->config->profiles[device->profile].points[first->point].name, first->value,
                    WRITE_UNANSWERED_MS / 1000);
        }
        core->outstanding_head = (core->outstanding_head + 1) % core->outstanding_capacity;
        core->outstanding_count--;
    }
}

static struct outstanding_write *outstanding_add(struct wg_core *core, uint64_t request_id,
                                                 size_t device, size_t point, double value)
{
    outstanding_trim(core);
    if (core->outstanding_count == core->outstanding_capacity) {
        size_t capacity = core->outstanding_capacity ? core->outstanding_capacity * 2 : 256;
        struct outstanding_write *grown = malloc(capacity * sizeof *grown);
        if (!grown)
            return NULL;
        for (size_t i = 0; i < core->outstanding_count; i++)
            grown[i] = *outstanding_at(core, i);
        free(core->outstanding);
        core->outstanding = grown;
        core->outstanding_capacity = capacity;
        core->outstanding_head = 0;
    }
    struct outstanding_write *slot = outstanding_at(core, core->outstanding_count++);
    *slot = (struct outstanding_write){request_id,      false, (uint32_t)device,
                                       (uint32_t)point, value, clock_mono_ms(core->clock)};
    return slot;
}

/* The write with this request id, by binary search (ids grow), or NULL. */
static struct outstanding_write *outstanding_find(struct wg_core *core, uint64_t request_id)
{
    size_t low = 0, high = core->outstanding_count;
    while (low < high) {
        size_t mid = low + (high - low) / 2;
        struct outstanding_write *write = outstanding_at(core, mid);
        if (write->request_id == request_id)
            return write->answered ? NULL : write;
        if (write->request_id < request_id)
            low = mid + 1;
        else
            high = mid;
    }
    return NULL;
}

static void handle_write_result(struct wg_core *core, const struct wg_msg *msg)
{
    struct outstanding_write *write = outstanding_find(core, msg->request_id);
    if (!write) {
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
    write->answered = true;
    engine_on_write_result(core->engine, write->device, write->point, msg->ok, msg->text,
                           msg->ts_ms);
    outstanding_trim(core);
}

static void handle_counter(struct wg_core *core, const struct wg_msg *msg)
{
    if (msg->device >= core->config->device_count)
        return;
    struct device_state *state = &core->devices[msg->device];
    for (size_t i = 0; i < state->counter_count; i++)
        if (strcmp(state->counters[i].name, msg->text) == 0) {
            state->counters[i].count += (uint64_t)msg->value;
            return;
        }
    struct wg_core_counter *grown =
        realloc(state->counters, (state->counter_count + 1) * sizeof *grown);
    if (!grown) {
        wg_err("device %s: out of memory, counter \"%s\" not kept",
               core->config->devices[msg->device].id, msg->text);
        return;
    }
    state->counters = grown;
    struct wg_core_counter *counter = &state->counters[state->counter_count++];
    snprintf(counter->name, sizeof counter->name, "%s", msg->text);
    counter->count = (uint64_t)msg->value;
}

size_t core_process(struct wg_core *core)
{
    struct wg_msg batch[BATCH_MAX];
    size_t total = 0;
    for (int round = 0; round < BATCHES_PER_WAKEUP; round++) {
        size_t count = queue_pop_batch(core->queue, batch, BATCH_MAX);
        for (size_t i = 0; i < count; i++) {
            if (core->host && !plugin_host_translate(core->host, &batch[i]))
                continue; /* a device or point the running configuration no longer has */
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
            case WG_MSG_POLL_DONE:
                handle_poll_done(core, &batch[i]);
                break;
            }
        }
        total += count;
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

/* ---- storage health: the storage alarm ---- */

static const char *storage_words(const char *reason)
{
    static const struct {
        const char *code, *words;
    } words[] = {
        {"locked", "the database is locked by another process"},
        {"disk_full", "the disk is full"},
        {"read_only", "the file system is read-only"},
        {"io_error", "I/O error"},
        {"size_limit", "the database reached its size limit"},
        {"corrupt", "the database is corrupt"},
    };
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
        if (strcmp(words[i].code, reason) == 0)
            return words[i].words;
    return reason;
}

/* Raises, updates or ends the storage alarm (a technical alarm, kind
 * storage_failing) to match the writer's status. */
static void storage_alarm(struct wg_core *core, const struct wg_writer_status *status)
{
    int64_t now = clock_mono_ms(core->clock);
    if (!status->failing) {
        core->storage_alarm_waiting = 0;
        engine_storage_alarm(core->engine, false, NULL, NULL, 0, clock_wall_ms(core->clock));
        core->storage_reason[0] = '\0';
        return;
    }
    const char *reason = store_status_reason(status->status);
    snprintf(core->storage_reason, sizeof core->storage_reason, "%s", reason ? reason : "io_error");
    core->storage_alarm_waiting = status->waiting_events;
    core->storage_alarm_updated_ms = now;
    char detail[128];
    snprintf(detail, sizeof detail, "storage failing: %s; %zu events waiting to be journaled",
             storage_words(core->storage_reason), status->waiting_events);
    engine_storage_alarm(core->engine, true, detail, core->storage_reason, status->waiting_events,
                         clock_wall_ms(core->clock));
}

static void storage_changed(void *ctx, const struct wg_writer_status *status)
{
    struct wg_core *core = ctx;
    core->storage_failing = status->failing;
    storage_alarm(core, status);
    flush(core); /* the alarm's own event */
}

/* Once a second: the writer's clock, and the storage alarm's count of what
 * waits (at most every 30 s, so it does not flood the journal it waits for). */
static void job_storage(struct wg_core *core)
{
    journal_set_now(core->journal, clock_wall_ms(core->clock));
    journal_process(core->journal);
    if (!core->storage_failing)
        return;
    struct wg_writer_status status;
    journal_status(core->journal, &status);
    if (status.failing && status.waiting_events != core->storage_alarm_waiting &&
        clock_mono_ms(core->clock) - core->storage_alarm_updated_ms >= STORAGE_ALARM_UPDATE_MS) {
        storage_alarm(core, &status);
        flush(core);
    }
}

/* Feeds systemd's watchdog only while every supervised thread turns: a
 * wedged web thread cannot say so itself, so the core stops vouching for
 * the daemon and systemd restarts it. Each change is logged once. */
static void job_watchdog(struct wg_core *core)
{
    int64_t now = clock_mono_ms(core->clock);
    /* Late itself (the whole process was stopped, the machine suspended): the
     * other threads were held too; they are judged at the next run, once they
     * had a moment to turn. */
    bool self_late = core->watchdog_ran_ms &&
                     now - core->watchdog_ran_ms > core->jobs[JOB_WATCHDOG].period_ms + 2000;
    core->watchdog_ran_ms = now;
    bool all_turning = true;
    for (size_t i = 0; i < core->supervised_count; i++) {
        struct wg_liveness *thread = core->supervised[i];
        int64_t age = liveness_age_ms(thread, now);
        if (age > WG_LIVENESS_STALE_MS && !self_late) {
            all_turning = false;
            if (!thread->stale) {
                wg_crit("watchdog: the %s thread has not turned for %lld ms: it is wedged; "
                        "WATCHDOG=1 is no longer sent, so systemd restarts the daemon",
                        thread->name, (long long)age);
                service_status("the %s thread is wedged; waiting for the watchdog restart",
                               thread->name);
            }
            thread->stale = true;
        } else if (thread->stale && age <= WG_LIVENESS_STALE_MS) {
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

static void job_status(struct wg_core *core)
{
    size_t online = 0, offline = 0;
    for (size_t i = 0; i < core->config->device_count; i++) {
        if (core->devices[i].health == WG_HEALTH_ONLINE)
            online++;
        else if (core->devices[i].health == WG_HEALTH_OFFLINE)
            offline++;
    }
    struct wg_writer_status storage;
    journal_status(core->journal, &storage);
    service_status("%zu devices: %zu online, %zu offline; %llu events; %zu waiting for storage%s",
                   core->config->device_count, online, offline,
                   (unsigned long long)core->events_committed, storage.waiting_events,
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

/* interval mode: every device's aggregates of the interval, in as few
 * telemetry messages as fit (telemetry.h), outbox only. */
static void job_telemetry(struct wg_core *core)
{
    int64_t now = clock_wall_ms(core->clock);
    const struct wg_config *config = core->config;
    for (size_t d = 0;
         config->uplink.enabled && !config->uplink.telemetry_per_read && d < config->device_count;
         d++) {
        struct device_state *state = &core->devices[d];
        telemetry_add_interval(core->telemetry, config->devices[d].id,
                               &config->profiles[config->devices[d].profile], state->telemetry,
                               core->telemetry_from_ms, now);
        for (size_t p = 0; p < state->point_count; p++)
            state->telemetry[p].count = 0;
    }
    telemetry_flush(core->telemetry);
    core->telemetry_from_ms = now;
    flush(core);
}

/* The telemetry interval; off when the uplink is disabled or runs per_read. */
static void init_telemetry_job(struct wg_core *core)
{
    int64_t now = clock_mono_ms(core->clock);
    int64_t telemetry_ms = (int64_t)core->config->uplink.telemetry_interval_s * 1000;
    bool interval = core->config->uplink.enabled && !core->config->uplink.telemetry_per_read;
    core->jobs[JOB_TELEMETRY] = (struct periodic_job){"telemetry", interval ? telemetry_ms : 0,
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
    core->jobs[JOB_STORAGE] = (struct periodic_job){"storage", STORAGE_PERIOD_MS, now, job_storage};
    core->jobs[JOB_WATCHDOG] = (struct periodic_job){"watchdog", watchdog, now, job_watchdog};
    core->jobs[JOB_STATUS] =
        (struct periodic_job){"status", STATUS_PERIOD_MS, now + STATUS_PERIOD_MS, job_status};
    int64_t bucket_ms = (int64_t)core->config->storage.readings_bucket_s * 1000;
    core->jobs[JOB_BUCKETS] =
        (struct periodic_job){"buckets", bucket_ms, now + bucket_ms, job_buckets};
    init_telemetry_job(core);
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
    telemetry_due(core);
    core->attachments_wait_ms = -1;
    for (size_t i = 0; i < core->attachment_count; i++) {
        const struct wg_core_attachment *a = &core->attachments[i];
        int64_t wait = a->tick ? a->tick(a->ctx, now) : -1;
        if (wait >= 0 && (core->attachments_wait_ms < 0 || wait < core->attachments_wait_ms))
            core->attachments_wait_ms = wait;
    }
    journal_tick(core->journal); /* alarm events held past 250 ms are shown */
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
    int64_t announce = journal_next_ms(core->journal);
    if (announce >= 0 && announce < wait)
        wait = announce;
    int64_t telemetry = telemetry_due_ms(core->telemetry, now);
    if (telemetry >= 0 && telemetry < wait)
        wait = telemetry;
    int64_t polls = unannounced_due_ms(core, now);
    if (polls >= 0 && polls < wait)
        wait = polls;
    if (core->attachments_wait_ms >= 0 && core->attachments_wait_ms < wait)
        wait = core->attachments_wait_ms;
    return wait < 0 ? 0 : (int)wait;
}

/* ---- views for the consumers (their JSON: web/core_json.c) ---- */

void core_status(struct wg_core *core, struct wg_core_status *status)
{
    *status = (struct wg_core_status){.devices = core->config->device_count};
    for (size_t i = 0; i < core->config->device_count; i++) {
        enum wg_health health = core->devices[i].health;
        if (health == WG_HEALTH_ONLINE)
            status->online++;
        else if (health == WG_HEALTH_SUSPECT)
            status->suspect++;
        else if (health == WG_HEALTH_OFFLINE)
            status->offline++;
        else
            status->unknown++;
    }
    status->alarms_active = alarm_count(engine_alarms(core->engine));
}

size_t core_device_count(const struct wg_core *core)
{
    return core->config->device_count;
}

void core_device_view(const struct wg_core *core, size_t index, struct wg_core_device_view *view)
{
    const struct wg_config *config = core->config;
    const struct wg_device *device = &config->devices[index];
    const struct device_state *state = &core->devices[index];
    *view = (struct wg_core_device_view){.device = device,
                                         .profile = &config->profiles[device->profile],
                                         .bus = config->buses[device->bus].id,
                                         .driver = config->buses[device->bus].driver,
                                         .health = state->health,
                                         .health_name = health_name(state->health),
                                         .reason = state->reason,
                                         .reason_code = state->reason_code,
                                         .point_count = state->point_count,
                                         .values = state->values,
                                         .seen = state->seen,
                                         .counters = state->counters,
                                         .counter_count = state->counter_count};
    if (device->room != WG_NO_INDEX) {
        view->room = config->rooms[device->room].id;
        view->zone = config->zones[config->rooms[device->room].zone].id;
    }
    if (device->bed != WG_NO_INDEX)
        view->bed = config->beds[device->bed].id;
}

/* The outbox keeps the same bound whether the uplink is enabled or not
 * (docs/mqtt.md): outbox_max_mb and outbox_max_age_h; a disabled uplink lets
 * alarms age out too, so the day it is enabled the district gets the last
 * outbox_max_age_h of alarms and health, not years of them. */
static void apply_outbox_bound(struct wg_core *core)
{
    const struct wg_uplink *settings = &core->config->uplink;
    struct wg_outbox_bound bound = {.max_bytes = settings->outbox_max_bytes,
                                    .max_age_ms = (int64_t)settings->outbox_max_age_h * 3600000,
                                    .alarms_age_out = !settings->enabled};
    journal_set_outbox_bound(core->journal, &bound);
}

int core_outbox_delete(struct wg_core *core, uint64_t tag, const int64_t *seqs, size_t count)
{
    int rc = journal_outbox_deletes(core->journal, tag, seqs, count);
    flush(core);
    return rc;
}

void core_outbox_totals(struct wg_core *core, struct wg_outbox_totals *totals)
{
    struct wg_writer_status status;
    journal_status(core->journal, &status);
    *totals = status.usage.outbox;
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
    if (!record || engine_restore(core->engine, record) != 0) {
        wg_err("storage: alarm %s could not be restored (%s); it stays in the journal", row->id,
               record ? "not an alarm record" : error.text);
    } else {
        struct wg_alarm *alarm = alarm_find(engine_alarms(core->engine), row->id);
        if (alarm)
            alarm->journaled_update = alarm->update; /* it came from the database */
    }
    json_decref(record);
    return 0;
}

/* After a restart, or a crash, the active calls are still active. Before
 * the writer starts, so the store is still this thread's. */
static int restore_alarms(struct wg_core *core, struct wg_store *store)
{
    if (store_alarm_foreach(store, restore_one, core) != 0)
        return -1;
    size_t count = alarm_count(engine_alarms(core->engine));
    if (count > 0)
        wg_notice("restored %zu active alarms from the database", count);
    return 0;
}

static int64_t real_us(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (int64_t)now.tv_sec * 1000000 + now.tv_nsec / 1000;
}

/* ---- what the journal hands back ---- */

/* The update number an alarm event's body carries, or -1. */
static int64_t alarm_update_of(const struct wg_event *event)
{
    json_t *body = json_loads(event->body, 0, NULL);
    json_t *update = json_object_get(body, "update");
    int64_t value = json_is_integer(update) ? (int64_t)json_integer_value(update) : -1;
    json_decref(body);
    return value;
}

static void on_committed(void *ctx, const struct wg_event *event)
{
    struct wg_core *core = ctx;
    core->events_committed++;
    if (event->alarm_id && strcmp(event->kind, "alarm") == 0) {
        struct wg_alarm *alarm = alarm_find(engine_alarms(core->engine), event->alarm_id);
        int64_t update = alarm ? alarm_update_of(event) : -1;
        if (alarm && update > alarm->journaled_update)
            alarm->journaled_update = update;
    }
    for (size_t i = 0; i < core->attachment_count; i++)
        if (core->attachments[i].committed)
            core->attachments[i].committed(event, core->attachments[i].ctx);
}

static void on_unjournaled(void *ctx, const struct wg_event *event)
{
    struct wg_core *core = ctx;
    for (size_t i = 0; i < core->attachment_count; i++)
        if (core->attachments[i].unjournaled)
            core->attachments[i].unjournaled(event, core->attachments[i].ctx);
}

static void on_outbox_deleted(void *ctx, uint64_t tag, const int64_t *seqs, size_t count)
{
    struct wg_core *core = ctx;
    for (size_t i = 0; i < core->attachment_count; i++)
        if (core->attachments[i].outbox_deleted)
            core->attachments[i].outbox_deleted(core->attachments[i].ctx, tag, seqs, count);
}

static void on_after_commits(void *ctx)
{
    struct wg_core *core = ctx;
    for (size_t i = 0; i < core->attachment_count; i++)
        if (core->attachments[i].after_commits)
            core->attachments[i].after_commits(core->attachments[i].ctx);
}

static int64_t core_mono_ms(void *ctx)
{
    return clock_mono_ms(ctx);
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
    core->clock = options->clock;
    core->test_hooks = options->test_hooks;
    core->queries = options->queries;
    core->bucket_ms =
        1000LL * (config->storage.readings_bucket_s > 0 ? config->storage.readings_bucket_s : 60);
    struct wg_journal_host journal_host = {.ctx = core,
                                           .committed = on_committed,
                                           .unjournaled = on_unjournaled,
                                           .outbox_deleted = on_outbox_deleted,
                                           .after_commits = on_after_commits,
                                           .storage_changed = storage_changed};
    /* The writer takes the store; until it starts, this thread reads through it. */
    struct wg_writer_options writer_options = {.max_held_writes = options->max_held_writes,
                                               .max_held_bytes = options->max_held_bytes};
    char db_path[4096];
    snprintf(db_path, sizeof db_path, "%s", store_path(store));
    core->journal = journal_new(store, &writer_options, &journal_host, core_mono_ms, core->clock);
    core->config_path = strdup(options->config_path ? options->config_path : config->path);
    core->plugin_dir_override = options->plugin_dir ? strdup(options->plugin_dir) : NULL;
    core->timezone = strdup(config->site.timezone);
    core->queue =
        queue_new(options->queue_capacity ? options->queue_capacity : DEFAULT_QUEUE_DEPTH);
    core->devices = new_device_states(config);
    core->next_request_id = 1;
    core->telemetry = core->journal ? telemetry_new(core->journal) : NULL;
    if (core->telemetry && telemetry_configure(core->telemetry, config) != 0) {
        telemetry_free(core->telemetry);
        core->telemetry = NULL;
    }
    if (!core->journal || !core->telemetry || !core->config_path ||
        (options->plugin_dir && !core->plugin_dir_override) || !core->queue || !core->devices ||
        !core->timezone) {
        diag_at(diag, NULL, core->journal ? "out of memory" : "storage: cannot start the writer");
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
    if (restore_alarms(core, store) != 0) {
        diag_at(diag, NULL, "storage: cannot read the active alarms: %s", store_last_error(store));
        core_free(core);
        return NULL;
    }
    char err[512];
    core->reader = store_open_reader(db_path, err, sizeof err);
    if (!core->reader) {
        diag_at(diag, NULL, "storage: %s", err);
        core_free(core);
        return NULL;
    }
    journal_set_now(core->journal, clock_wall_ms(core->clock));
    if (journal_start(core->journal) != 0) {
        diag_at(diag, NULL, "storage: cannot start the writer thread");
        core_free(core);
        return NULL;
    }
    core->host = plugin_host_open(config, core_plugin_dir(core->plugin_dir_override, config),
                                  core->queue, core->clock, diag);
    if (!core->host) {
        core_free(core);
        return NULL;
    }
    apply_outbox_bound(core);
    init_jobs(core);
    return core;
}

int core_start(struct wg_core *core)
{
    if (plugin_host_start(core->host) != 0)
        return -1;
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
        const struct device_state *state = &core->devices[d];
        if (state->counter_count == 0)
            continue;
        json_t *device = json_object();
        for (size_t i = 0; device && i < state->counter_count; i++)
            json_object_set_new(device, state->counters[i].name,
                                json_integer((json_int_t)state->counters[i].count));
        if (device)
            json_object_set_new(all, core->config->devices[d].id, device);
    }
    return all;
}

void core_free(struct wg_core *core)
{
    if (!core)
        return;
    /* How long each step of a stop takes goes to the log (SIGTERM at the bound). */
    int64_t started = real_us(), drivers = 0, committed = 0, uplink = 0;
    if (core->host) {
        plugin_host_stop(core->host);
        drain_queue(core); /* what the drivers handed over before they stopped */
        plugin_host_close(core->host);
        drivers = real_us();
    }
    if (core->journal && core->engine) {
        close_buckets(core, true);
        if (core->telemetry) {
            emit_all_polls(core); /* the last polls go out with the rest */
            telemetry_flush(core->telemetry);
        }
        json_t *body = json_pack("{s:s, s:o*}", "what", "stopped", "counters", counters_json(core));
        if (body)
            core_emit(core, "system", -1, WG_NO_INDEX, body, WG_UPLINK_HEALTH,
                      clock_wall_ms(core->clock));
        /* Committed before the uplink says goodbye, so it can still send them. */
        journal_wait(core->journal, SHUTDOWN_COMMIT_MS);
        committed = real_us();
    }
    for (size_t i = 0; i < core->attachment_count; i++)
        if (core->attachments[i].stopping) /* the uplink's last deletes go through the journal */
            core->attachments[i].stopping(core->attachments[i].ctx);
    uplink = real_us();
    journal_free(core->journal); /* one more try at what is held; what is lost is logged */
    if (drivers)
        wg_info("stopped in %lld ms: drivers %lld, commits %lld, uplink %lld, last commit %lld",
                (long long)(real_us() - started) / 1000, (long long)(drivers - started) / 1000,
                (long long)(committed ? committed - drivers : 0) / 1000,
                (long long)(uplink - (committed ? committed : drivers)) / 1000,
                (long long)(real_us() - uplink) / 1000);
    engine_free(core->engine);
    if (core->config)
        free_device_states(core->devices, core->config->device_count);
    free(core->outstanding);
    store_close(core->reader);
    config_free(core->config);
    queue_free(core->queue);
    free(core->config_path);
    free(core->plugin_dir_override);
    free(core->timezone);
    telemetry_free(core->telemetry);
    free(core->unannounced);
    free(core);
}

void core_request_stop(struct wg_core *core)
{
    core->stop_requested = true;
}

int core_reload(struct wg_core *core)
{
    return core_reload_report(core, NULL);
}

/* A point's index in a device's profile by name, or WG_NO_INDEX. */
static size_t point_named(const struct wg_config *config, size_t device, const char *name)
{
    const struct wg_profile *profile = &config->profiles[config->devices[device].profile];
    for (size_t p = 0; p < profile->point_count; p++)
        if (strcmp(profile->points[p].name, name) == 0)
            return p;
    return WG_NO_INDEX;
}

/* Writes still waiting for their result follow their device and point to the
 * next configuration (their buses may keep running through the reload). */
static void carry_outstanding(struct wg_core *core, const struct wg_config *next)
{
    const struct wg_config *config = core->config;
    for (size_t i = 0; i < core->outstanding_count; i++) {
        struct outstanding_write *write = outstanding_at(core, i);
        if (write->answered)
            continue;
        const struct wg_device *device = &config->devices[write->device];
        size_t d = config_find_device(next, device->id);
        size_t p =
            d == WG_NO_INDEX
                ? WG_NO_INDEX
                : point_named(next, d, config->profiles[device->profile].points[write->point].name);
        if (p == WG_NO_INDEX) {
            write->answered = true; /* its device or point is gone: no longer awaited */
            continue;
        }
        write->device = (uint32_t)d;
        write->point = (uint32_t)p;
    }
}

/* Ends a refused or undone reload: the reasons to the log and `report`. */
static int refuse_reload(struct wg_core *core, struct wg_diag *report, const struct wg_diag *diag,
                         const char *why)
{
    diag_log(diag);
    for (size_t i = 0; report && i < diag->count; i++)
        diag_copy(report, diag, i);
    char summary[400];
    if (why)
        snprintf(summary, sizeof summary, "%s", why);
    else
        snprintf(summary, sizeof summary, "%zu error(s), the first: %s",
                 diag->count ? diag->count : 1, diag->count ? diag->messages[0] : "out of memory");
    if (why && report)
        diag_pos(report, NULL, 0, 0, "%s; the running configuration is kept", why);
    wg_err("reload: %s: %s; keeping the running configuration", core->config_path, summary);
    service_reload_done(false, summary);
    return -1;
}

int core_reload_report(struct wg_core *core, struct wg_diag *report)
{
    service_reloading();
    wg_notice("reload: reading %s", core->config_path);
    struct wg_diag diag;
    diag_init(&diag);
    struct wg_config *next = config_load(core->config_path, &diag);
    struct wg_host_reload *change = NULL;
    struct device_state *next_states = NULL;
    /* Every driver whose bus changed validates its new section before anything is touched. */
    if (next)
        change = plugin_host_prepare(core->host, next,
                                     core_plugin_dir(core->plugin_dir_override, next), &diag);
    if (change)
        next_states = new_device_states(next);
    if (!next || !change || !next_states) {
        if (change && !next_states)
            diag_at(&diag, NULL, "out of memory");
        plugin_host_abandon(core->host, change);
        config_free(next);
        int rc = refuse_reload(core, report, &diag, NULL);
        diag_free(&diag);
        return rc;
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
    struct wg_host_reload_summary buses;
    plugin_host_reload_summary(change, &buses);

    /* Restart the changed buses only; on a failure every bus runs as before. */
    char why[256];
    if (plugin_host_apply(core->host, change, why, sizeof why) != 0) {
        free_device_states(next_states, next->device_count);
        config_free(next);
        diag_init(&diag);
        int rc = refuse_reload(core, report, &diag, why);
        diag_free(&diag);
        return rc;
    }

    /* The reload happens: switch the core over. Nothing below waits. */
    close_buckets(core, true); /* they name devices of the running config */
    emit_all_polls(core);      /* so do the readings not yet sent */
    bool telemetry_changed =
        next->uplink.telemetry_per_read != core->config->uplink.telemetry_per_read ||
        next->uplink.telemetry_interval_s != core->config->uplink.telemetry_interval_s;
    if (telemetry_changed && core->jobs[JOB_TELEMETRY].period_ms > 0)
        job_telemetry(core); /* the interval so far, under the settings it had */
    if (telemetry_configure(core->telemetry, next) != 0)
        wg_crit("reload: out of memory configuring telemetry; it keeps the old site ids");
    flush(core);
    carry_device_states(core->config, core->devices, next, next_states);
    carry_outstanding(core, next);
    /* The engine carries its state over while the old config still exists. */
    if (engine_set_config(core->engine, next, clock_wall_ms(core->clock)) != 0)
        wg_crit("reload: out of memory rebuilding the alarm engine's state");
    /* Outputs of restarted buses are written again (unchanged values stay as they are). */
    for (size_t d = 0; d < next->device_count; d++)
        if (plugin_host_reload_restarts(change, d))
            engine_forget_outputs(core->engine, d);
    bool outbox_changed = next->uplink.enabled != core->config->uplink.enabled ||
                          next->uplink.outbox_max_bytes != core->config->uplink.outbox_max_bytes ||
                          next->uplink.outbox_max_age_h != core->config->uplink.outbox_max_age_h;
    telemetry_changed = telemetry_changed || next->uplink.enabled != core->config->uplink.enabled;
    struct wg_config *old_config = core->config;
    struct device_state *old_states = core->devices;
    core->config = next;
    core->devices = next_states;
    plugin_host_commit(core->host, change);             /* every bus now reads `next` */
    for (size_t i = 0; i < core->attachment_count; i++) /* the uplink's client, say */
        if (core->attachments[i].reloaded)
            core->attachments[i].reloaded(core->attachments[i].ctx, old_config, next);
    free_device_states(old_states, old_config->device_count);
    config_free(old_config);
    if (outbox_changed)
        apply_outbox_bound(core);
    if (telemetry_changed)
        init_telemetry_job(core);
    json_t *body =
        json_pack("{s:s, s:i, s:{s:i, s:i, s:i, s:i}}", "what", "reloaded", "devices",
                  (int)next->device_count, "buses", "kept", (int)buses.kept, "restarted",
                  (int)buses.restarted, "added", (int)buses.added, "removed", (int)buses.removed);
    if (body)
        core_emit(core, "system", -1, WG_NO_INDEX, body, WG_UPLINK_HEALTH,
                  clock_wall_ms(core->clock));
    flush(core);
    char summary[900];
    snprintf(summary, sizeof summary,
             "%zu devices on %zu buses; %zu buses kept running, restarted: %s, added: %s, "
             "removed: %s",
             next->device_count, next->bus_count, buses.kept,
             buses.restarted ? buses.restarted_ids : "none", buses.added ? buses.added_ids : "none",
             buses.removed ? buses.removed_ids : "none");
    wg_notice("reload: applied %s (%s)", core->config_path, summary);
    service_reload_done(true, summary);
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

int core_attach(struct wg_core *core, const struct wg_core_attachment *attachment)
{
    if (core->attachment_count == MAX_ATTACHMENTS)
        return -1;
    core->attachments[core->attachment_count++] = *attachment;
    return 0;
}

int core_add_listener(struct wg_core *core, wg_event_listener listener, void *ctx)
{
    return core_attach(core, &(struct wg_core_attachment){.committed = listener, .ctx = ctx});
}

int core_add_unjournaled_listener(struct wg_core *core, wg_event_listener listener, void *ctx)
{
    return core_attach(core, &(struct wg_core_attachment){.unjournaled = listener, .ctx = ctx});
}

static size_t source_fd(void *ctx, int *fds, size_t max)
{
    const struct extra_source *source = ctx;
    if (max == 0)
        return 0;
    fds[0] = source->fd;
    return 1;
}

static void source_ready(void *ctx, int fd)
{
    (void)fd;
    const struct extra_source *source = ctx;
    source->ready(source->ctx);
}

int core_add_source(struct wg_core *core, int fd, void (*ready)(void *ctx), void *ctx)
{
    if (core->source_count == MAX_SOURCES)
        return -1;
    struct extra_source *source = &core->sources[core->source_count];
    *source = (struct extra_source){fd, ready, ctx};
    if (core_attach(core, &(struct wg_core_attachment){
                              .ctx = source, .fds = source_fd, .ready = source_ready}) != 0)
        return -1;
    core->source_count++;
    return 0;
}

/* The loop's longest iteration: since start, and per 10 s window for "the
 * last minute" (measured on the real clock: it is about this machine). */
static void note_iteration(struct wg_core *core, int64_t took_us)
{
    int64_t now_ms = real_us() / 1000;
    if (now_ms - core->loop_window_start_ms >= LOOP_WINDOW_MS) {
        core->loop_window = (core->loop_window + 1) % LOOP_WINDOWS;
        core->loop_window_max_us[core->loop_window] = 0;
        core->loop_window_start_ms = now_ms;
    }
    if (took_us > core->loop_max_us)
        core->loop_max_us = took_us;
    if (took_us > core->loop_window_max_us[core->loop_window])
        core->loop_window_max_us[core->loop_window] = took_us;
}

/* One poll(2) for the queue, the signals, the writer and every attachment's
 * descriptors; what is readable is handled, then the timers. */
int core_run(struct wg_core *core, int signal_fd)
{
    enum { QUEUE_FD, SIGNAL_FD, JOURNAL_FD, CORE_FDS };
    struct pollfd fds[CORE_FDS + MAX_ATTACHMENTS * WG_ATTACH_MAX_FDS];
    size_t owner[MAX_ATTACHMENTS * WG_ATTACH_MAX_FDS]; /* the attachment of fds[CORE_FDS + i] */
    while (!core->stop_requested) {
        fds[QUEUE_FD] = (struct pollfd){.fd = queue_fd(core->queue), .events = POLLIN};
        fds[SIGNAL_FD] = (struct pollfd){.fd = signal_fd, .events = POLLIN};
        fds[JOURNAL_FD] = (struct pollfd){.fd = journal_fd(core->journal), .events = POLLIN};
        size_t watched = 0;
        for (size_t a = 0; a < core->attachment_count; a++) {
            const struct wg_core_attachment *attachment = &core->attachments[a];
            if (!attachment->fds)
                continue;
            int theirs[WG_ATTACH_MAX_FDS];
            size_t count = attachment->fds(attachment->ctx, theirs, WG_ATTACH_MAX_FDS);
            for (size_t i = 0; i < count && i < WG_ATTACH_MAX_FDS; i++) {
                owner[watched] = a;
                fds[CORE_FDS + watched++] = (struct pollfd){.fd = theirs[i], .events = POLLIN};
            }
        }
        int ready = poll(fds, CORE_FDS + watched, next_timer_in_ms(core));
        if (ready < 0 && errno != EINTR) {
            wg_crit("poll: %s", strerror(errno));
            return -1;
        }
        int64_t started = real_us();
        if (ready > 0 && (fds[QUEUE_FD].revents & POLLIN))
            core_process(core);
        if (ready > 0 && (fds[JOURNAL_FD].revents & POLLIN))
            journal_process(core->journal);
        if (ready > 0 && signal_fd >= 0 && (fds[SIGNAL_FD].revents & POLLIN))
            handle_signals(core, signal_fd);
        for (size_t i = 0; ready > 0 && i < watched; i++)
            if ((fds[CORE_FDS + i].revents & POLLIN) && owner[i] < core->attachment_count &&
                core->attachments[owner[i]].ready)
                core->attachments[owner[i]].ready(core->attachments[owner[i]].ctx,
                                                  fds[CORE_FDS + i].fd);
        core_run_timers(core);
        note_iteration(core, real_us() - started);
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
    struct outstanding_write *slot = outstanding_add(core, request_id, device, point, value);
    if (!slot) {
        wg_err("write %s.%s = %g: out of memory; not sent", dev->id, def->name, value);
        return 0;
    }
    if (plugin_host_write(core->host, device, point, value, request_id) != 0) {
        core->outstanding_count--; /* it was the last one added */
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

size_t core_active_alarm_count(struct wg_core *core)
{
    return alarm_count(engine_alarms(core->engine));
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
    struct wg_writer_status storage;
    journal_status(core->journal, &storage);
    int64_t recent_us = 0;
    for (size_t i = 0; i < LOOP_WINDOWS; i++)
        if (core->loop_window_max_us[i] > recent_us)
            recent_us = core->loop_window_max_us[i];
    *stats = (struct wg_core_stats){.events_committed = core->events_committed,
                                    .events_pending = storage.waiting_events,
                                    .storage_failing = core->storage_failing,
                                    .queue_depth = queue.depth,
                                    .queue_capacity = queue.capacity,
                                    .queue_high_water = queue.high_water,
                                    .uplink_enabled = core->config->uplink.enabled,
                                    .loop_max_us = core->loop_max_us,
                                    .loop_max_recent_us = recent_us};
    snprintf(stats->storage_reason, sizeof stats->storage_reason, "%s", core->storage_reason);
    stats->storage = storage;
}

const struct wg_config *core_config(const struct wg_core *core)
{
    return core->config;
}

struct wg_store *core_store(struct wg_core *core)
{
    return core->reader;
}

size_t core_pending_events(struct wg_core *core)
{
    struct wg_writer_status storage;
    journal_status(core->journal, &storage);
    return storage.waiting_events;
}

int core_audit(struct wg_core *core, const char *actor, const char *origin, const char *action,
               const char *target, const char *detail_json)
{
    int rc = journal_audit(core->journal, clock_wall_ms(core->clock), actor, origin, action, target,
                           detail_json);
    flush(core);
    return rc;
}

int core_wait_journal(struct wg_core *core, int timeout_ms)
{
    return journal_wait(core->journal, timeout_ms);
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
    for (size_t i = 0; i < core->devices[device].counter_count; i++)
        if (strcmp(core->devices[device].counters[i].name, counter) == 0)
            return core->devices[device].counters[i].count;
    return 0;
}
