/* The device model: the messages the drivers queue (readings, health,
 * counters) applied to each device's state, the readings history (one
 * bucket per point in memory, journaled when it closes), and
 * core_process, which drains the queue. */
#include "core/core_private.h"

void core_free_device_states(struct device_state *states, size_t count)
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

struct device_state *core_new_device_states(const struct wg_config *config)
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
            core_free_device_states(states, i + 1);
            return NULL;
        }
    }
    return states;
}

/* Carries health, values and counters over to a new config, by device id and
 * point name, so a reload forgets nothing about devices that stay. */
void core_carry_device_states(const struct wg_config *old_config,
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

const char *core_health_name(enum wg_health health)
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

static int64_t bucket_start(const struct wg_core *core, int64_t ts_ms)
{
    int64_t bucket = ts_ms / core->bucket_ms;
    if (ts_ms % core->bucket_ms < 0)
        bucket -= 1; /* floor for times before 1970 */
    return bucket * core->bucket_ms;
}

#define BUCKETS_PER_WRITE 64

/* Closes the device's buckets that started before `before_ms`, its points
 * in one write (BUCKETS_PER_WRITE at most). */
static void close_device_buckets(struct wg_core *core, uint32_t device, int64_t before_ms)
{
    struct device_state *state = &core->devices[device];
    const struct wg_device *dev = &core->config->devices[device];
    const struct wg_point_def *defs = core->config->profiles[dev->profile].points;
    const char *names[BUCKETS_PER_WRITE];
    struct wg_reading_aggregate closed[BUCKETS_PER_WRITE];
    size_t count = 0;
    for (size_t p = 0; p < state->point_count; p++) {
        struct wg_reading_aggregate *bucket = &state->buckets[p];
        if (bucket->count == 0 || bucket->bucket_ms >= before_ms)
            continue;
        names[count] = defs[p].name;
        closed[count++] = *bucket;
        bucket->count = 0;
        if (count == BUCKETS_PER_WRITE) {
            journal_readings(core->journal, dev->id, count, names, closed);
            count = 0;
        }
    }
    if (count > 0)
        journal_readings(core->journal, dev->id, count, names, closed);
}

static void add_to_bucket(struct wg_core *core, uint32_t device, uint32_t point, int64_t ts_ms,
                          double value)
{
    struct wg_reading_aggregate *bucket = &core->devices[device].buckets[point];
    int64_t start = bucket_start(core, ts_ms);
    if (bucket->count > 0 && bucket->bucket_ms != start)
        /* A new bucket: the device's other points are past theirs too (a
         * late reading for one merges into its row: the store adds it). */
        close_device_buckets(core, device, bucket->bucket_ms < start ? start : INT64_MAX);
    core_aggregate_add(bucket, start, ts_ms, value);
}

void core_aggregate_add(struct wg_reading_aggregate *aggregate, int64_t bucket_ms, int64_t ts_ms,
                        double value)
{
    if (aggregate->count == 0) {
        *aggregate = (struct wg_reading_aggregate){bucket_ms, 1, value, value, value, value, ts_ms};
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
void core_close_buckets(struct wg_core *core, bool everything)
{
    int64_t current = bucket_start(core, clock_wall_ms(core->clock));
    for (size_t d = 0; d < core->config->device_count; d++)
        close_device_buckets(core, (uint32_t)d, everything ? INT64_MAX : current);
}

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

    /* Before the value changes: a re-read closes the poll that holds the old one. */
    if (point->kind != WG_POINT_BOOL && core_telemetry_of(core->config) != CORE_TELEMETRY_OFF)
        core_mark_fresh(core, msg->device, msg->point, msg->ts_ms);
    bool first = !state->seen[msg->point];
    double previous = state->values[msg->point];
    state->values[msg->point] = msg->value;
    state->seen[msg->point] = true;

    if (point->kind != WG_POINT_BOOL) {
        add_to_bucket(core, msg->device, msg->point, msg->ts_ms, msg->value);
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
    json_t *body = json_pack("{s:s, s:s, s:s, s:s}", "health", core_health_name(health), "previous",
                             core_health_name(previous), "reason", msg->text, "reason_code",
                             state->reason_code);
    if (body)
        core_emit(core, "device_health", -1, msg->device, body, WG_UPLINK_HEALTH, msg->ts_ms);
    engine_on_health(core->engine, msg->device, health, state->reason_code, msg->text, msg->ts_ms);
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
                core_handle_write_result(core, &batch[i]);
                break;
            case WG_MSG_COUNTER:
                handle_counter(core, &batch[i]);
                break;
            case WG_MSG_POLL_DONE:
                core_handle_poll_done(core, &batch[i]);
                break;
            }
        }
        total += count;
        core_flush(core);
        if (count < BATCH_MAX)
            break;
    }
    core->messages_handled += total;
    return total;
}

/* Handles everything queued; only for when the drivers are stopped. */
void core_drain_queue(struct wg_core *core)
{
    while (core_process(core) > 0)
        ;
}
