/* The alarm engine: rules, device supervision and actions.
 *
 * The core hands it every reading (engine_on_point), every health report and
 * write result, and calls engine_tick() every second. The engine decides when
 * to raise, attend and reset alarms (alarm.c keeps the records), supervises
 * devices (online -> suspect -> offline, a technical alarm within 100 s of
 * silence), and drives outputs: door and corridor lamps by priority, buzzers,
 * the gas shut-off valve and exhaust fan, fire-door release.
 *
 * Safety rules enforced here, not left to configuration:
 *   - a call is reset only at its origin (presence/reset in its room, or its
 *     device returning to normal where the rule says so); engine_reset_remote()
 *     always refuses;
 *   - the gas valve is only ever closed (the core also refuses opening it);
 *   - fire is annunciated whatever the health of the reporting device;
 *   - acknowledging silences the buzzer, never the lamp or the display.
 * All time comes from the caller (ms on the core's clock). */
#ifndef WG_ENGINE_H
#define WG_ENGINE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "alarm/alarm.h"
#include "config/config.h"
#include "drivers/plugin.h"

/* ---- device test mode (engine_test_mode.c) ----
 *
 * A manager puts a room or a zone into test mode for a set time (JGJ/T 484:
 * call points checked weekly). Meanwhile its call buttons, pull cords and
 * smoke detectors are recorded as tests, not raised as calls. Never masked:
 * a fire panel's zones, whatever room they are placed in, and gas: a gas
 * detector raises its alarm and closes the valve as always (shutting off is
 * part of its test), and the alarm also counts as its test. The mode ends by
 * itself; what is still held at its end (a cord still pulled, smoke still
 * detected, a button still pressed) is raised then as a real alarm. */
#define WG_TEST_WINDOWS_MAX 32
#define WG_TEST_MIN_S       60
#define WG_TEST_MAX_S       (4 * 3600)

struct wg_test_window {
    char target[WG_ALARM_TEXT]; /* a room's id, or a zone's */
    bool zone;                  /* target is a zone */
    int64_t started_ms;
    int64_t ends_ms;
    char started_by[WG_ALARM_TEXT];
    int64_t ended_ms;             /* 0 while it runs */
    char ended_by[WG_ALARM_TEXT]; /* who ended it; "timer" when it ran out */
    int tests;                    /* devices tested in it */
};

struct wg_device_test {
    size_t device, point;
    const char *kind; /* "call", "pull_cord", "smoke", "gas" */
    bool masked;      /* false: raised as an alarm as well (gas) */
    const struct wg_test_window *window;
    int64_t ts_ms;
};

/* ---- rounds (engine_rounds.c) ----
 *
 * A round (config rounds:, 巡查) is due in every slot of every_min minutes
 * of its daily window: each resident room of its zone checked in once in the
 * slot, by the room's presence or reset button or by its QR code (the API).
 * A slot not done grace_min after its start raises an advisory alarm
 * (round_overdue, at the zone) that ends when the last room is checked or
 * the slot ends. Each check-in and each slot's result are reported to the
 * core, which journals them. */
struct wg_round_room {
    size_t room;            /* index into the config's rooms */
    int64_t checked_ms;     /* 0 = not checked in this slot */
    char by[WG_ALARM_TEXT]; /* the device whose button, or the user whose QR scan */
};

struct wg_round_slot {
    const struct wg_round *round;
    int64_t start_ms, end_ms, due_ms; /* due: start + grace */
    const struct wg_round_room *rooms;
    size_t room_count, done, late; /* late: checked after due */
    const char *status;            /* at the end: "complete", "late" or "missed" */
};

/* What the engine needs from the core. */
struct wg_engine_host {
    void *ctx;
    /* An alarm changed: journal it (before it is shown or sent). */
    void (*alarm_changed)(void *ctx, const struct wg_alarm *alarm, const char *phase);
    /* Drive an output point. Returns a request id, or 0 when refused. */
    uint64_t (*write_output)(void *ctx, size_t device, size_t point, double value);
    /* A test window started, was extended, was ended or ran out: phase
     * "start", "extend", "end" or "expire". May be NULL. */
    void (*test_mode_changed)(void *ctx, const struct wg_test_window *window, const char *phase);
    /* A device was tested in a test window. May be NULL. */
    void (*device_tested)(void *ctx, const struct wg_device_test *test);
    /* A room was checked in for a round's slot. May be NULL. */
    void (*round_checked)(void *ctx, const struct wg_round_slot *slot,
                          const struct wg_round_room *room);
    /* A round's slot ended, with its result. May be NULL. */
    void (*round_closed)(void *ctx, const struct wg_round_slot *slot);
    /* Paging: `user` was notified of the alarm now (their phones get a
     * notify message at once, before the journal). May be NULL. */
    void (*paged)(void *ctx, const struct wg_alarm *alarm, const char *user);
    /* Who is on duty, what they cover, or a phone's connection changed. May be NULL. */
    void (*staff_changed)(void *ctx);
};

struct wg_engine;

struct wg_engine *engine_new(const struct wg_config *config, struct wg_engine_host host,
                             int64_t now_ms);
void engine_free(struct wg_engine *engine);
/* After a reload: rule timers restart, alarms and device supervision carry over by id,
 * and what each output was last set to by device id and point name. */
int engine_set_config(struct wg_engine *engine, const struct wg_config *config, int64_t now_ms);
/* The device's outputs are in an unknown state (its bus was restarted): every
 * one is written again at the next update, whatever it was set to before. */
void engine_forget_outputs(struct wg_engine *engine, size_t device);

/* Every reading of every point (not only changes). `first` when the point had no value yet. */
void engine_on_point(struct wg_engine *engine, size_t device, size_t point, double value,
                     double previous, bool first, int64_t ts_ms);
/* `reason_code` is the driver's code for `reason` (health_reason.h); NULL: from the text. */
void engine_on_health(struct wg_engine *engine, size_t device, enum wg_health health,
                      const char *reason_code, const char *reason, int64_t ts_ms);
void engine_on_write_result(struct wg_engine *engine, size_t device, size_t point, bool ok,
                            const char *reason, int64_t ts_ms);
/* Rule timers, supervision, re-annunciation, escalation, wellbeing. */
void engine_tick(struct wg_engine *engine, int64_t now_ms);

/* At the station. 0, or -1 with the reason in `why`. */
int engine_acknowledge(struct wg_engine *engine, const char *alarm_id, const char *who,
                       const char *where, int64_t now_ms, char *why, size_t why_len);
/* A reset asked for from anywhere but the origin: always refused, with the reason. */
int engine_reset_remote(struct wg_engine *engine, const char *alarm_id, const char *who,
                        const char *where, char *why, size_t why_len);

/* The technical alarm raised while storage fails (contract 3, docs/api.md). */
#define WG_STORAGE_ALARM_KIND "storage_failing"
/* Raises it (or updates its detail) while `failing`, ends it when storage
 * works again: it resets by itself, like a device returning to normal.
 * `reason` (store_status_reason) and `waiting` (events not yet journaled)
 * become detail_code storage_failing and its detail_args (contract 3). */
void engine_storage_alarm(struct wg_engine *engine, bool failing, const char *detail,
                          const char *reason, size_t waiting, int64_t now_ms);

/* A part of the gateway that is not a device failing (the ESPA line to
 * the pagers): a technical alarm of `kind` (also its detail code, with
 * `where` as its argument and its device) raised while `failing`, ended
 * by itself once it works again, like storage_failing. At most
 * WG_SITE_FAULTS_MAX kinds are open at once (more are logged). */
#define WG_SITE_FAULTS_MAX 8
void engine_site_fault(struct wg_engine *engine, const char *kind, const char *where, bool failing,
                       const char *detail, int64_t now_ms);

/* A check-in by QR code at room_id by `who`: 0, or -1 with the reason (no
 * round is due there now, or the room is checked already in this slot). */
int engine_round_checkin(struct wg_engine *engine, const char *room_id, const char *who,
                         int64_t now_ms, char *why, size_t why_len);
/* A check-in journaled before a restart: counted if its slot still runs. */
void engine_round_restore(struct wg_engine *engine, const char *round_id, const char *room_id,
                          const char *by, int64_t slot_start_ms, int64_t checked_ms);
/* The current slot of round `index` (config order): false when none runs now. */
bool engine_round_slot(struct wg_engine *engine, size_t index, struct wg_round_slot *out);

/* Restores an active alarm saved before a restart; lamps follow at the next tick. */
int engine_restore(struct wg_engine *engine, const json_t *record);
struct wg_alarm_table *engine_alarms(struct wg_engine *engine);
/* The device's health as supervision sees it. */
enum wg_health engine_device_health(const struct wg_engine *engine, size_t device);

/* Starts test mode for a room or zone id for duration_s (WG_TEST_MIN_S to
 * WG_TEST_MAX_S), or extends it to now + duration_s when it runs already.
 * 0, or -1 with the reason in `why`. */
int engine_test_mode_start(struct wg_engine *engine, const char *target, int duration_s,
                           const char *who, int64_t now_ms, char *why, size_t why_len);
/* Ends it before its time. 0, or -1 with the reason (not in test mode). */
int engine_test_mode_end(struct wg_engine *engine, const char *target, const char *who,
                         int64_t now_ms, char *why, size_t why_len);
/* Replays a window's journaled state after a restart (nothing is
 * reported): running (ended_ms 0) it is put back, and runs out at the next
 * tick if overdue; ended, it is taken out. -1 when the table is full or its
 * room or zone is no longer configured. */
int engine_test_mode_restore(struct wg_engine *engine, const struct wg_test_window *window);
/* What a test of the device checks ("call", "pull_cord", "smoke", "gas"),
 * or NULL when it is not a device test mode covers (no room, disabled, or
 * none of those rules reads it): the devices a weekly test report lists. */
const char *engine_device_test_kind(const struct wg_engine *engine, size_t device);
/* The running windows, in start order. */
size_t engine_test_windows(const struct wg_engine *engine, const struct wg_test_window **out);

/* ---- paging carers' phones (engine_paging.c) ----
 *
 * With a staff: section, every call and safety alarm (not technical or
 * advisory) is paged along a chain: the carers on duty who cover its room
 * (by room, zone or a claim made on the phone), or everyone on duty when
 * nobody does (no_cover); then, one at a time, the other carers covering
 * its zone; then the floor leads; then the managers; then the district.
 * A step ends when everyone paged in it declined, was not reached (no phone
 * connected, or no receipt within delivery_s) or let accept_s pass; an
 * acceptance ends the chain (the time-based escalation levels still run
 * until the call is attended). Reaching the floor lead, manager or district
 * step escalates the alarm to that level, and a level reached by time
 * brings the chain to it. Attendance or reset stands every page down. */

/* Refusals of a phone's action (the HTTP status is in the name). */
enum wg_page_refusal {
    WG_PAGE_REFUSED_BAD = -400,       /* a bad reason */
    WG_PAGE_REFUSED_NOT_YOURS = -403, /* the call was not sent to this person */
    WG_PAGE_REFUSED_UNKNOWN = -404,   /* no such call */
    WG_PAGE_REFUSED_CONFLICT = -409,  /* reset or attended already, or accepted by another */
};
/* `user`'s phone confirms it received the notification: 0 or a refusal. */
int engine_page_received(struct wg_engine *engine, const char *alarm_id, const char *user,
                         int64_t now_ms, char *why, size_t why_len);
/* "On my way": ends the chain; acknowledges the call if it was not. */
int engine_page_accept(struct wg_engine *engine, const char *alarm_id, const char *user,
                       int64_t now_ms, char *why, size_t why_len);
/* Declines with a reason (1..60 characters). */
int engine_page_decline(struct wg_engine *engine, const char *alarm_id, const char *user,
                        const char *reason, int64_t now_ms, char *why, size_t why_len);
/* `user` has `phones` WebSockets connected now (the web thread counts them). */
void engine_phones(struct wg_engine *engine, const char *user, int phones, int64_t now_ms);
/* `user` claims these rooms (indexes) for the running shift, replacing any
 * claim of theirs; none releases. 0, or -1 with the reason (not staff, no
 * shift runs). `restoring`: replayed from the journal (nothing reported). */
int engine_claim_rooms(struct wg_engine *engine, const char *user, const size_t *rooms,
                       size_t room_count, int64_t now_ms, bool restoring, char *why,
                       size_t why_len);

/* The running shift (index into staff.shifts and when this occurrence
 * began), or -1 when none runs; and the next one to begin. */
int engine_shift_now(const struct wg_engine *engine, int64_t now_ms, int64_t *start_ms);
int engine_shift_next(const struct wg_engine *engine, int64_t now_ms, int64_t *start_ms);
/* A staff member's state (index into staff.people). */
struct wg_duty {
    bool on_duty;
    int phones; /* connected WebSockets */
    const size_t *claims;
    size_t claim_count;
    bool phone_alarm; /* a phone_offline alarm is open for them */
};
void engine_duty(const struct wg_engine *engine, size_t member, int64_t now_ms,
                 struct wg_duty *out);
/* Does `member` cover `room` in `shift` (its config cover, or a claim when
 * it is the running shift)? */
bool engine_covers(const struct wg_engine *engine, size_t member, size_t shift, size_t room,
                   int64_t now_ms);
/* Zones nobody on duty covers now (any room of theirs, the zone, a claim). */
size_t engine_uncovered_zones(const struct wg_engine *engine, int64_t now_ms, size_t *out,
                              size_t max);

#endif
