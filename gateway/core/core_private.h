/* The core's private state, shared by the files of gateway/core/ (one
 * concern each: core.c the life cycle, core_devices.c the device model,
 * core_events.c what is journaled, core_polls.c telemetry records,
 * core_outputs.c writes, core_jobs.c periodic jobs, core_reload.c reloads,
 * core_loop.c the loop, core_views.c read-only views) and by nothing else:
 * every other module reaches the core through core.h and attach.h. */
#ifndef WG_CORE_PRIVATE_H
#define WG_CORE_PRIVATE_H

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
#include "store/store_read.h"
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

enum {
    JOB_ENGINE,
    JOB_STORAGE,
    JOB_WATCHDOG,
    JOB_STATUS,
    JOB_BUCKETS,
    JOB_TELEMETRY,
    JOB_MONTHLY,
    JOB_COUNT
};

struct wg_core {
    char *config_path;
    char *plugin_dir_override; /* NULL: take it from the config */
    char *timezone;            /* the zone local time is in (main set TZ from it at start) */
    struct wg_clock *clock;
    struct wg_config *config;
    struct wg_journal *journal;     /* the writer's side: every write goes through it */
    struct wg_store_reader *reader; /* a read-only connection for the core thread */
    int64_t bucket_ms;              /* the readings bucket (storage.readings_bucket_s) */
    struct wg_queue *queue;
    struct wg_plugin_host *host;
    struct wg_engine *engine;
    unsigned char round_key[32]; /* keys the rooms' QR check-in codes (store_secret) */
    char monthly_sent[16];       /* the last month whose report was recorded, "" = none */
    bool monthly_running;        /* its report is with a query worker */
    int64_t monthly_tried_ms;    /* mono: the last try, to wait an hour after a failure */
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

/* core.c */
void core_apply_outbox_bound(struct wg_core *core);
int64_t core_real_us(void);

/* core_devices.c */
void core_free_device_states(struct device_state *states, size_t count);
struct device_state *core_new_device_states(const struct wg_config *config);
void core_carry_device_states(const struct wg_config *old_config,
                              const struct device_state *old_states,
                              const struct wg_config *new_config, struct device_state *new_states);
const char *core_health_name(enum wg_health health);
void core_close_buckets(struct wg_core *core, bool everything);
/* One value into an aggregate (a readings bucket, an interval's
 * telemetry); an empty one starts at `bucket_ms` with it. */
void core_aggregate_add(struct wg_reading_aggregate *aggregate, int64_t bucket_ms, int64_t ts_ms,
                        double value);
void core_drain_queue(struct wg_core *core);

/* core_events.c */
int core_emit(struct wg_core *core, const char *kind, int priority, size_t device_index,
              json_t *body, enum wg_uplink_class uplink, int64_t ts_ms);
void core_alarm_changed(void *ctx, const struct wg_alarm *alarm, const char *phase);

/* core_test_mode.c: the engine's test-mode callbacks, and the windows
 * restored from the journal at start (before the writer starts). */
void core_test_mode_changed(void *ctx, const struct wg_test_window *window, const char *phase);
void core_device_tested(void *ctx, const struct wg_device_test *test);
int core_restore_test_modes(struct wg_core *core, struct wg_store *store);

/* core_rounds.c: the engine's round callbacks, and at start the key of the
 * QR codes and the check-ins of the slots that still run. */
void core_round_checked(void *ctx, const struct wg_round_slot *slot,
                        const struct wg_round_room *room);
void core_round_closed(void *ctx, const struct wg_round_slot *slot);
int core_restore_rounds(struct wg_core *core, struct wg_store *store);

/* core_paging.c: the engine's paging callbacks, and at start the rooms
 * claimed in the running shift. */
void core_paged(void *ctx, const struct wg_alarm *alarm, const char *user);
void core_staff_changed(void *ctx);
int core_restore_claims(struct wg_core *core, struct wg_store *store);

/* core_monthly.c: the month last reported, from the journal at start; each
 * minute, the report of a month that has ended and is not reported yet. */
int core_restore_monthly(struct wg_core *core, struct wg_store *store);
void core_monthly_tick(struct wg_core *core);
void core_log_event(const struct wg_event *event, void *ctx);
int core_flush(struct wg_core *core);

/* core_polls.c */
/* What telemetry a config asks for: uplink.telemetry_mode, none while the
 * uplink is off. */
enum core_telemetry { CORE_TELEMETRY_OFF, CORE_TELEMETRY_INTERVAL, CORE_TELEMETRY_PER_READ };
static inline enum core_telemetry core_telemetry_of(const struct wg_config *config)
{
    if (!config->uplink.enabled)
        return CORE_TELEMETRY_OFF;
    return config->uplink.telemetry_per_read ? CORE_TELEMETRY_PER_READ : CORE_TELEMETRY_INTERVAL;
}
void core_mark_fresh(struct wg_core *core, uint32_t device, uint32_t point, int64_t ts_ms);
void core_handle_poll_done(struct wg_core *core, const struct wg_msg *msg);
int64_t core_unannounced_due_ms(const struct wg_core *core, int64_t now_mono_ms);
void core_emit_all_polls(struct wg_core *core);
void core_telemetry_due(struct wg_core *core);
void core_job_telemetry(struct wg_core *core);
void core_init_telemetry_job(struct wg_core *core);

/* core_outputs.c */
void core_handle_write_result(struct wg_core *core, const struct wg_msg *msg);
void core_carry_outstanding(struct wg_core *core, const struct wg_config *next);
uint64_t core_engine_write_output(void *ctx, size_t device, size_t point, double value);

/* core_jobs.c */
void core_storage_changed(void *ctx, const struct wg_writer_status *status);
void core_init_jobs(struct wg_core *core);
int core_next_timer_in_ms(const struct wg_core *core);

#endif
