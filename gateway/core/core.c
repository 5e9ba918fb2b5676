/* The core's life cycle: core_new opens the journal (the store writer),
 * restores the active alarms, loads the drivers and applies the outbox
 * bound; core_start starts the drivers; core_free stops them, commits
 * what is held, tells the attachments and closes the journal. What the
 * journal hands back (commits, unjournaled alarm events, outbox deletes)
 * goes to the attachments here. See core.h. */
#include "core/core_private.h"

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

int64_t core_real_us(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (int64_t)now.tv_sec * 1000000 + now.tv_nsec / 1000;
}

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

/* The outbox keeps the same bound whether the uplink is enabled or not
 * (docs/mqtt.md): outbox_max_mb and outbox_max_age_h; a disabled uplink lets
 * alarms age out too, so the day it is enabled the district gets the last
 * outbox_max_age_h of alarms and health, not years of them. */
void core_apply_outbox_bound(struct wg_core *core)
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
    core_flush(core);
    return rc;
}

void core_outbox_totals(struct wg_core *core, struct wg_outbox_totals *totals)
{
    struct wg_writer_status status;
    journal_status(core->journal, &status);
    *totals = status.usage.outbox;
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
                                           .storage_changed = core_storage_changed};
    /* The writer takes the store; until it starts, this thread reads through it. */
    struct wg_writer_options writer_options = {.max_held_writes = options->max_held_writes,
                                               .max_held_bytes = options->max_held_bytes,
                                               .calls = options->store_calls};
    char db_path[4096];
    snprintf(db_path, sizeof db_path, "%s", store_path(store));
    core->journal = journal_new(store, &writer_options, &journal_host, core_mono_ms, core->clock);
    core->config_path = strdup(options->config_path ? options->config_path : config->path);
    core->plugin_dir_override = options->plugin_dir ? strdup(options->plugin_dir) : NULL;
    core->timezone = strdup(config->site.timezone);
    core->queue =
        queue_new(options->queue_capacity ? options->queue_capacity : DEFAULT_QUEUE_DEPTH);
    core->devices = core_new_device_states(config);
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
    core_add_listener(core, core_log_event, NULL);
    core->engine =
        engine_new(config,
                   (struct wg_engine_host){core, core_alarm_changed, core_engine_write_output,
                                           core_test_mode_changed, core_device_tested,
                                           core_round_checked, core_round_closed, core_paged,
                                           core_staff_changed},
                   clock_wall_ms(core->clock));
    if (!core->engine) {
        diag_at(diag, NULL, "out of memory");
        core_free(core);
        return NULL;
    }
    if (restore_alarms(core, store) != 0 || core_restore_test_modes(core, store) != 0 ||
        core_restore_rounds(core, store) != 0 || core_restore_monthly(core, store) != 0 ||
        core_restore_claims(core, store) != 0) {
        diag_at(diag, NULL, "storage: cannot read the active alarms, test modes or rounds: %s",
                store_last_error(store));
        core_free(core);
        return NULL;
    }
    char err[512];
    core->reader = store_reader_open(db_path, WG_READER_NO_WAIT_MS, err, sizeof err);
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
    core_apply_outbox_bound(core);
    core_init_jobs(core);
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
    core_flush(core);
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
    int64_t started = core_real_us(), drivers = 0, committed = 0, uplink = 0;
    if (core->host) {
        plugin_host_stop(core->host);
        core_drain_queue(core); /* what the drivers handed over before they stopped */
        plugin_host_close(core->host);
        drivers = core_real_us();
    }
    if (core->journal && core->engine) {
        core_close_buckets(core, true);
        if (core->telemetry) {
            core_emit_all_polls(core); /* the last polls go out with the rest */
            telemetry_flush(core->telemetry);
        }
        json_t *body = json_pack("{s:s, s:o*}", "what", "stopped", "counters", counters_json(core));
        if (body)
            core_emit(core, "system", -1, WG_NO_INDEX, body, WG_UPLINK_HEALTH,
                      clock_wall_ms(core->clock));
        /* Committed before the uplink says goodbye, so it can still send them. */
        journal_wait(core->journal, SHUTDOWN_COMMIT_MS);
        committed = core_real_us();
    }
    for (size_t i = 0; i < core->attachment_count; i++)
        if (core->attachments[i].stopping) /* the uplink's last deletes go through the journal */
            core->attachments[i].stopping(core->attachments[i].ctx);
    uplink = core_real_us();
    journal_free(core->journal); /* one more try at what is held; what is lost is logged */
    if (drivers)
        wg_info("stopped in %lld ms: drivers %lld, commits %lld, uplink %lld, last commit %lld",
                (long long)(core_real_us() - started) / 1000, (long long)(drivers - started) / 1000,
                (long long)(committed ? committed - drivers : 0) / 1000,
                (long long)(uplink - (committed ? committed : drivers)) / 1000,
                (long long)(core_real_us() - uplink) / 1000);
    engine_free(core->engine);
    if (core->config)
        core_free_device_states(core->devices, core->config->device_count);
    free(core->outstanding);
    store_reader_close(core->reader);
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
