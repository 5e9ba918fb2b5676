/* The core: the one thread that owns all state.
 *
 * Driver threads hand readings, health, write results and counters over
 * through the bounded queue; the core loop wakes on its eventfd, applies them
 * to the device model and the alarm engine (which drives lamps, buzzers and
 * the valve at once), turns what matters into journal events and hands them
 * to the store writer thread (journal.h), never waiting for the disk. Once
 * they are committed, the listeners (the log, the displays' deltas, the
 * uplink) are told, in journal order. An alarm event not committed within
 * 250 ms, or while storage fails, goes to the unjournaled listeners at once
 * (the displays mark it not yet journaled), and the storage failure is
 * itself a technical alarm (kind storage_failing).
 *
 * Time comes from an injectable clock, and core_process()/core_run_timers()
 * can be driven step by step, so tests need neither threads nor sleeps. */
#ifndef WG_CORE_H
#define WG_CORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "common/clock.h"
#include "core/attach.h"
#include "config/config.h"
#include "common/event.h"
#include "store/store.h"
#include "store/store_writer.h"

struct wg_core;
struct wg_query_service;

struct wg_core_options {
    const char *config_path; /* re-read on reload */
    const char *plugin_dir;  /* resolved: --plugin-dir, config plugins.dir, or the default */
    struct wg_clock *clock;  /* not owned */
    size_t queue_capacity;   /* 0 = 4096 */
    size_t max_held_writes;  /* memory bound for unjournaled writes: 0 = 50,000 ... */
    size_t max_held_bytes;   /* ... and 0 = 16 MiB (docs/storage.md) */
    bool test_hooks; /* WARDGATE_TEST_HOOKS=1: SIGUSR1/SIGUSR2 freeze threads (tests only) */
    struct wg_query_service *queries;   /* the read workers (query.h); not owned; may be NULL */
    struct wg_store_calls *store_calls; /* others' work on the writer (store_call.h); not owned */
};

/* Called after an event is committed, in commit order, on the core thread. */
typedef void (*wg_event_listener)(const struct wg_event *event, void *ctx);

/* Where the drivers are: --plugin-dir (override, may be NULL), else the
 * config's plugins.dir, else the compiled-in default. */
const char *core_plugin_dir(const char *override, const struct wg_config *config);

/* Takes ownership of `config` and `store`. Loads and opens the drivers (so
 * a driver config error is reported here, in `diag`); returns NULL on failure,
 * in which case config and store are still freed. */
struct wg_core *core_new(const struct wg_core_options *options, struct wg_config *config,
                         struct wg_store *store, struct wg_diag *diag);
/* Starts the drivers. Returns 0, or -1 after logging why. */
int core_start(struct wg_core *core);
/* Stops the drivers, handles what is still queued, commits, closes the store. */
void core_free(struct wg_core *core);

/* Attaches the web API, the uplink, a test (attach.h): -1 when full. */
int core_attach(struct wg_core *core, const struct wg_core_attachment *attachment);
/* Attachments of one callback each: */
int core_add_listener(struct wg_core *core, wg_event_listener listener, void *ctx);
/* Called with an alarm event that is shown before it is journaled (its seq
 * is 0): held past 250 ms, or storage failing. The committed listeners get
 * the same event again once it is journaled. -1 when full. */
int core_add_unjournaled_listener(struct wg_core *core, wg_event_listener listener, void *ctx);
/* Has core_run also watch `fd`; `ready` runs on the core thread whenever it
 * is readable (the web bridge's requests, its heartbeat timer). -1 when full. */
int core_add_source(struct wg_core *core, int fd, void (*ready)(void *ctx), void *ctx);

struct wg_liveness;
/* Has the watchdog job check another thread's liveness (liveness.h): while
 * it is stale the core stops sending WATCHDOG=1 and logs once why. The
 * thread named "web" is the one SIGUSR1 freezes under test hooks. -1 when
 * full. The liveness must outlive core_run. */
int core_supervise(struct wg_core *core, struct wg_liveness *thread);

/* The loop: handles the queue, signals (signal_fd from signalfd(2), or -1)
 * and timers until SIGTERM/SIGINT or core_request_stop. SIGHUP reloads.
 * SIGUSR1 and SIGUSR2 are test hooks (options.test_hooks): they freeze the
 * web thread and the core thread until the process ends; else ignored. */
int core_run(struct wg_core *core, int signal_fd);
void core_request_stop(struct wg_core *core);

/* One step for tests: handles everything queued now and hands the events to
 * the writer. Returns the number of messages handled. */
size_t core_process(struct wg_core *core);
/* Waits up to timeout_ms until the writer committed all it holds (or
 * reports a failure), calling the listeners. 0 when nothing is held. For
 * tests and shutdown: the loop itself never waits. */
int core_wait_journal(struct wg_core *core, int timeout_ms);
/* Runs the periodic jobs that are due on the core's clock. */
void core_run_timers(struct wg_core *core);

/* Re-reads the config file and applies it; on any error keeps the running
 * config and drivers and returns -1 (the reasons are logged). */
int core_reload(struct wg_core *core);
/* The same, with the reasons for a refusal also added to `report` (may be NULL). */
int core_reload_report(struct wg_core *core, struct wg_diag *report);

/* Drives an output point through its driver (the outcome comes back as a
 * write_result event). Returns the request id, or 0 when refused. */
uint64_t core_write_output(struct wg_core *core, const char *device_id, const char *point_name,
                           double value);

/* At the station: acknowledge an alarm. 0, or -1 with the reason in `why`. */
int core_acknowledge(struct wg_core *core, const char *alarm_id, const char *who, const char *where,
                     char *why, size_t why_len);
/* A reset asked for away from the origin: always -1, the reason in `why`. */
int core_reset_remote(struct wg_core *core, const char *alarm_id, const char *who,
                      const char *where, char *why, size_t why_len);
/* An evidence record a person made (kind "handover" or "drill"): a journal
 * event with `body` (taken) and an audit row "<kind>.add" whose detail is
 * the record, in the hash chain. 0, or -1 when out of memory. */
int core_record(struct wg_core *core, const char *kind, json_t *body, const char *actor,
                const char *origin, int64_t *ts_ms);

/* Rounds (alarm/engine.h). A check-in by a room's QR code: `code` must be
 * the room's (core_round_code). 0, or -1 with the reason in `why`. */
struct wg_round_slot;
int core_round_checkin(struct wg_core *core, const char *room_id, const char *code, const char *who,
                       char *why, size_t why_len);
/* The room's check-in code (base64url, 22 characters), for its QR code. */
void core_round_code(struct wg_core *core, const char *room_id, char code[23]);
/* The running slot of round `index`: false when none runs now. */
bool core_round_slot(struct wg_core *core, size_t index, struct wg_round_slot *out);

/* Device test mode of a room or zone (alarm/engine.h). 0, or -1 with the
 * reason in `why`. */
struct wg_test_window;
int core_test_mode_start(struct wg_core *core, const char *target, int duration_s, const char *who,
                         char *why, size_t why_len);
int core_test_mode_end(struct wg_core *core, const char *target, const char *who, char *why,
                       size_t why_len);
/* The running windows, valid until the core's next message. */
size_t core_test_windows(struct wg_core *core, const struct wg_test_window **out);
/* engine_device_test_kind of the running config's device. */
const char *core_device_test_kind(struct wg_core *core, size_t device);
struct wg_engine;
/* Paging carers' phones (alarm/engine.h). A phone's answer to a
 * notification: `action` "received", "accept" or "decline" (with `reason`):
 * 0, or an enum wg_page_refusal with the reason in `why`. */
int core_page_answer(struct wg_core *core, const char *alarm_id, const char *user,
                     const char *action, const char *reason, char *why, size_t why_len);
/* `user` has `phones` WebSockets connected now. */
void core_phones(struct wg_core *core, const char *user, int phones);
/* `user` claims rooms (ids, checked by the caller) for the running shift:
 * journaled ("claim") and audited. 0, or -1 with the reason. */
int core_claim_rooms(struct wg_core *core, const char *user, const char *const *room_ids,
                     size_t room_count, const char *origin, char *why, size_t why_len);
/* A part of the gateway that is not a device failing or working again
 * (engine_site_fault): a technical alarm on the wall while it fails. */
void core_site_fault(struct wg_core *core, const char *kind, const char *where, bool failing,
                     const char *detail);
/* The engine, for the read-only staff views (engine_duty, engine_shift_now
 * ...): valid until the core's next message or reload. */
const struct wg_engine *core_engine_view(struct wg_core *core);
struct wg_alarm;
/* Active alarms in display order (priority, then age). */
size_t core_active_alarms(struct wg_core *core, const struct wg_alarm **out, size_t max);
/* How many alarms are active. */
size_t core_active_alarm_count(struct wg_core *core);
/* An active alarm by id, or NULL. */
const struct wg_alarm *core_find_alarm(struct wg_core *core, const char *alarm_id);
struct wg_clock *core_clock(struct wg_core *core);
/* The IANA zone local time is in: the config's site.timezone at start (a
 * reload that changes it takes effect at the next restart; clock.h). */
const char *core_timezone(const struct wg_core *core);

/* A device as the core sees it, for the consumers' views (the JSON of the
 * web API and the uplink: web/web_bridge_json.h). Valid until the core handles
 * its next message or reload; core thread only. */
struct wg_core_counter {
    char name[64]; /* "timeout", "crc", ... as the driver names it */
    uint64_t count;
};
struct wg_core_device_view {
    const struct wg_device *device;   /* its config: id, label, address, poll_ms, spot, ... */
    const struct wg_profile *profile; /* its points, in the order of `values` */
    const char *bus, *driver;
    const char *zone, *room, *bed; /* NULL when not placed there */
    enum wg_health health;
    const char *health_name; /* "online", "suspect", "offline", "unknown" */
    const char *reason;      /* the driver's words, "" when none */
    const char *reason_code; /* health_reason.h, NULL before any report */
    size_t point_count;
    const double *values; /* the last value of each point ... */
    const bool *seen;     /* ... when one was seen */
    const struct wg_core_counter *counters;
    size_t counter_count;
};
size_t core_device_count(const struct wg_core *core);
/* The device at `index` (< core_device_count), config order. */
void core_device_view(const struct wg_core *core, size_t index, struct wg_core_device_view *view);

/* Device counts by health, and the active alarms. */
struct wg_core_status {
    size_t devices, online, suspect, offline, unknown;
    size_t alarms_active;
};
void core_status(struct wg_core *core, struct wg_core_status *status);

struct wg_core_stats {
    uint64_t events_committed;
    size_t events_pending; /* journal events held in memory, not yet committed */
    bool storage_failing;
    char storage_reason[16]; /* store_status_reason of the failure, "" when ok */
    size_t queue_depth, queue_capacity, queue_high_water;
    bool uplink_enabled;        /* in the running config */
    int64_t loop_max_us;        /* the core loop's longest iteration since start */
    int64_t loop_max_recent_us; /* ... over the last minute */
    struct wg_writer_status storage;
};
void core_stats(struct wg_core *core, struct wg_core_stats *stats);
/* The uplink's side of the outbox (the store writer deletes; attachments
 * hear of it through outbox_deleted with the same tag), and its totals as
 * of the writer's last commit. */
int core_outbox_delete(struct wg_core *core, uint64_t tag, const int64_t *seqs, size_t count);
void core_outbox_totals(struct wg_core *core, struct wg_outbox_totals *totals);

/* Read-only views for tests and status. */
const struct wg_config *core_config(const struct wg_core *core);
/* A read-only connection, for reads on the core thread (writes go through
 * the writer: core_audit, the journal). */
struct wg_store *core_store(struct wg_core *core);
size_t core_pending_events(struct wg_core *core);
/* Who did what, from where: an audit row, written by the writer. */
int core_audit(struct wg_core *core, const char *actor, const char *origin, const char *action,
               const char *target, const char *detail_json);
enum wg_health core_device_health(const struct wg_core *core, const char *device_id);
/* The last value of a point; false when none was seen yet. */
bool core_point_value(const struct wg_core *core, const char *device_id, const char *point_name,
                      double *value);
/* Sum of a device's error counters of that name ("timeout", "crc", ...). */
uint64_t core_device_counter(const struct wg_core *core, const char *device_id,
                             const char *counter);

#endif
