/* The core's side of the lean telemetry path (telemetry.h): the points each
 * device read since its last poll ended make one poll, complete when its
 * driver says so (WG_MSG_POLL_DONE) or, for drivers that never do, once the
 * batch window has passed. per_read: each poll is one record; interval: a
 * poll joins the interval's aggregates whole (a tick never takes half of
 * one), and every device's aggregates go at the telemetry job. */
#include "core/core_private.h"

static void emit_poll(struct wg_core *core, uint32_t device, int64_t ts_ms);

/* A numeric point was read: it goes in the device's current poll. Read
 * again before that poll ended (a driver that does not report the end of
 * its polls, or a re-read), it starts the next one: no read is lost. */
void core_mark_fresh(struct wg_core *core, uint32_t device, uint32_t point, int64_t ts_ms)
{
    struct device_state *state = &core->devices[device];
    if (state->fresh[point])
        emit_poll(core, device, state->fresh_ms);
    if (ts_ms > state->fresh_ms)
        state->fresh_ms = ts_ms;
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

/* One device's poll is complete: its fresh points become one record
 * (per_read) or join the interval's aggregates (interval). A point is read
 * once a poll, so its value now is the poll's. */
static void emit_poll(struct wg_core *core, uint32_t device, int64_t ts_ms)
{
    struct device_state *state = &core->devices[device];
    if (state->fresh_count == 0)
        return;
    if (core_telemetry_of(core->config) == CORE_TELEMETRY_INTERVAL) {
        for (size_t p = 0; p < state->point_count; p++)
            if (state->fresh[p])
                core_aggregate_add(&state->telemetry[p], 0, ts_ms, state->values[p]);
    } else {
        const struct wg_device *dev = &core->config->devices[device];
        telemetry_add_poll(core->telemetry, dev->id, ts_ms, &core->config->profiles[dev->profile],
                           state->values, state->fresh, clock_mono_ms(core->clock));
    }
    memset(state->fresh, 0, state->point_count * sizeof *state->fresh);
    state->fresh_count = 0;
    state->fresh_ms = 0;
}

void core_handle_poll_done(struct wg_core *core, const struct wg_msg *msg)
{
    if (msg->device >= core->config->device_count)
        return;
    core->devices[msg->device].reports_polls = true;
    if (core_telemetry_of(core->config) != CORE_TELEMETRY_OFF)
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
int64_t core_unannounced_due_ms(const struct wg_core *core, int64_t now_mono_ms)
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
void core_emit_all_polls(struct wg_core *core)
{
    for (size_t d = 0; d < core->config->device_count; d++)
        emit_poll(core, (uint32_t)d, core->devices[d].fresh_ms);
    core->unannounced_count = 0;
}

/* The open per_read message goes once its batch window is over. */
void core_telemetry_due(struct wg_core *core)
{
    int64_t now = clock_mono_ms(core->clock);
    if (core->unannounced_count)
        emit_unannounced_polls(core, now);
    if (telemetry_due_ms(core->telemetry, now) == 0) {
        telemetry_flush(core->telemetry);
        core_flush(core);
    }
}

/* interval mode: every device's aggregates of the interval, in as few
 * telemetry messages as fit (telemetry.h), outbox only. */
void core_job_telemetry(struct wg_core *core)
{
    if (core->unannounced_count) /* polls whose batch window is over belong to this interval */
        emit_unannounced_polls(core, clock_mono_ms(core->clock));
    int64_t now = clock_wall_ms(core->clock);
    const struct wg_config *config = core->config;
    bool interval = core_telemetry_of(config) == CORE_TELEMETRY_INTERVAL;
    for (size_t d = 0; interval && d < config->device_count; d++) {
        struct device_state *state = &core->devices[d];
        telemetry_add_interval(core->telemetry, config->devices[d].id,
                               &config->profiles[config->devices[d].profile], state->telemetry,
                               core->telemetry_from_ms, now);
        for (size_t p = 0; p < state->point_count; p++)
            state->telemetry[p].count = 0;
    }
    telemetry_flush(core->telemetry);
    core->telemetry_from_ms = now;
    core_flush(core);
}

/* The telemetry interval; off when the uplink is disabled or runs per_read. */
void core_init_telemetry_job(struct wg_core *core)
{
    int64_t now = clock_mono_ms(core->clock);
    int64_t telemetry_ms = (int64_t)core->config->uplink.telemetry_interval_s * 1000;
    bool interval = core_telemetry_of(core->config) == CORE_TELEMETRY_INTERVAL;
    core->jobs[JOB_TELEMETRY] = (struct periodic_job){"telemetry", interval ? telemetry_ms : 0,
                                                      now + telemetry_ms, core_job_telemetry};
    core->telemetry_from_ms = clock_wall_ms(core->clock);
}
