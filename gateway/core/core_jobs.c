/* The core's periodic jobs on its clock: the alarm engine's timers, the
 * writer's clock and the storage alarm, the watchdog's supervision of the
 * other threads, the systemd status line and the readings buckets;
 * core_run_timers runs what is due (and the attachments' ticks),
 * next_timer_in_ms says when. */
#include "core/core_private.h"

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

void core_storage_changed(void *ctx, const struct wg_writer_status *status)
{
    struct wg_core *core = ctx;
    core->storage_failing = status->failing;
    storage_alarm(core, status);
    core_flush(core); /* the alarm's own event */
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
        core_flush(core);
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
    core_flush(core);
}

static void job_monthly(struct wg_core *core)
{
    core_monthly_tick(core);
}

static void job_buckets(struct wg_core *core)
{
    core_close_buckets(core, false);
    core_flush(core);
}

void core_init_jobs(struct wg_core *core)
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
    core->jobs[JOB_MONTHLY] = (struct periodic_job){"monthly", 60000, now + 5000, job_monthly};
    core_init_telemetry_job(core);
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
    core_telemetry_due(core);
    core->attachments_wait_ms = -1;
    for (size_t i = 0; i < core->attachment_count; i++) {
        const struct wg_core_attachment *a = &core->attachments[i];
        int64_t wait = a->tick ? a->tick(a->ctx, now) : -1;
        if (wait >= 0 && (core->attachments_wait_ms < 0 || wait < core->attachments_wait_ms))
            core->attachments_wait_ms = wait;
    }
    journal_tick(core->journal); /* alarm events held past 250 ms are shown */
}

int core_next_timer_in_ms(const struct wg_core *core)
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
    int64_t polls = core_unannounced_due_ms(core, now);
    if (polls >= 0 && polls < wait)
        wait = polls;
    if (core->attachments_wait_ms >= 0 && core->attachments_wait_ms < wait)
        wait = core->attachments_wait_ms;
    return wait < 0 ? 0 : (int)wait;
}
