/* Calls and alarms: the records and their lifecycle.
 *
 * An alarm is raised by a rule (or by supervision), then acknowledged at the
 * station, attended when staff presence is logged in its room, and reset at
 * its origin only (the room's presence/reset button, or its device returning
 * to normal where the rule says so). The table here keeps the active alarms,
 * orders them for display (priority, then age), and hands every change to a
 * sink, which journals it (and its row in the `alarms` table) before anybody
 * is told. Every change increments the alarm's update counter.
 *
 * This file knows nothing of rules or devices' values: engine.c decides when
 * to raise, attend and reset; alarm.c keeps the records right. */
#ifndef WG_ALARM_H
#define WG_ALARM_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WG_ALARM_TEXT      64
#define WG_ALARM_MAX_LEVEL 8

enum wg_alarm_state {
    WG_ALARM_RAISED = 0,
    WG_ALARM_ACKNOWLEDGED = 1,
    WG_ALARM_ATTENDED = 2,
    WG_ALARM_RESET = 3,
};
const char *alarm_state_name(enum wg_alarm_state state);

/* How an alarm may end. */
enum wg_alarm_reset_mode {
    WG_RESET_AT_ORIGIN = 0, /* presence/reset button in its room, once its condition is normal */
    WG_RESET_ON_NORMAL = 1, /* by itself when its device returns to normal */
};

/* Paging to carers' phones (issue 16; engine_paging.c decides, this file
 * keeps the record): each person notified about the alarm, in order, and
 * what became of it. Journaled with the alarm, so a restart keeps it. */
#define WG_ALARM_MAX_PAGES 16
#define WG_PAGE_USER       33  /* a login name, with the NUL */
#define WG_PAGE_NAME       64  /* the name the wall shows */
#define WG_PAGE_REASON     244 /* a decline's reason: 60 characters of UTF-8 */

enum wg_page_outcome {
    WG_PAGE_WAITING = 0,     /* sent; receipt not yet confirmed */
    WG_PAGE_RECEIVED = 1,    /* the phone confirmed receipt */
    WG_PAGE_ACCEPTED = 2,    /* "on my way" */
    WG_PAGE_DECLINED = 3,    /* with a reason */
    WG_PAGE_NOT_REACHED = 4, /* no phone connected, or no receipt within delivery_s */
    WG_PAGE_TIMED_OUT = 5,   /* received, not accepted within accept_s */
    WG_PAGE_STOOD_DOWN = 6,  /* someone else accepted, or the call was attended or reset */
};
const char *page_outcome_name(int outcome);

/* The kind of a step in the chain. */
enum wg_page_step {
    WG_STEP_ROOM = 0,       /* the carers who cover the room */
    WG_STEP_ZONE = 1,       /* the next carer who covers something in the zone */
    WG_STEP_EVERYONE = 2,   /* nobody covers the room: everyone on duty */
    WG_STEP_FLOOR_LEAD = 3, /* the escalation levels' people */
    WG_STEP_MANAGER = 4,
    WG_STEP_DISTRICT = 5, /* no phone: the district's escalation event */
    WG_STEP_DONE = 6,     /* nothing further: attended, reset, or the chain has run out */
};
const char *page_step_name(int step_kind);

struct wg_page {
    char user[WG_PAGE_USER];
    char name[WG_PAGE_NAME];
    int care_role; /* enum wg_care_role (config.h) */
    int step;      /* the step (0-based) that notified them */
    int64_t notified_ms, received_ms, accepted_ms, declined_ms; /* 0 = not (yet) */
    char reason[WG_PAGE_REASON];
    int outcome; /* enum wg_page_outcome */
};

struct wg_paging {
    bool active;     /* paging was configured when the alarm was raised */
    int step;        /* the current step, 0-based */
    int step_kind;   /* enum wg_page_step */
    int64_t step_ms; /* when the current step began */
    bool no_cover;   /* nobody covers the room: everyone on duty was notified */
    int accepted;    /* index into pages of who accepted, -1 = nobody */
    size_t page_count;
    struct wg_page pages[WG_ALARM_MAX_PAGES];
};

/* Pages still waiting or received are stood down (accepted, attended, reset). */
void paging_stand_down(struct wg_paging *paging);
/* The "paging" member of an alarm record: null when inactive. */
json_t *paging_to_json(const struct wg_paging *paging);
/* From an alarm record's "paging" (absent or null: inactive). */
void paging_from_json(struct wg_paging *paging, const json_t *json);

struct wg_alarm {
    char id[37];
    int64_t update; /* 1 at raise, +1 on every change */
    enum wg_alarm_state state;
    int priority; /* enum wg_priority */
    char
        kind[WG_ALARM_TEXT]; /* "call", "pull_cord", "bed_exit", "gas_high", "device_offline" ... */
    int risk;                /* one wg_risk bit, 0 when none */
    char rule[WG_ALARM_TEXT];   /* rule id, "supervision" or "technical" */
    char device[WG_ALARM_TEXT]; /* the originating device */
    char point[WG_ALARM_TEXT];  /* the originating point, "" when none */
    char zone[WG_ALARM_TEXT];
    char room[WG_ALARM_TEXT];
    char bed[WG_ALARM_TEXT];
    char resident[WG_ALARM_TEXT];
    char place[128]; /* the mapped place of a fire zone or detector, or a detector's spot,
                        e.g. "三楼东侧走廊"; "" = the room is the place */
    int fire_zone;   /* the fire panel's zone, 0 = none or unknown */
    int fire_loop;   /* the loop and address of the detector in fire, 0 = unknown */
    int fire_address;
    char detail[128];      /* one line in English, for logs and the district, e.g. "gas 52 %LEL" */
    char detail_code[32];  /* what detail says, as a code the pages put into words ("gas_low") */
    char detail_args[320]; /* ... and its arguments: a JSON object text ({"lel":52,"low":20}) */
    enum wg_alarm_reset_mode reset_mode;
    char reset_at[WG_ALARM_TEXT]; /* origin reset: also at this room or device (the rule's
                                     reset_at), "" = only its own room */
    bool condition_active;        /* the cause is still present (cord pulled, gas high, offline) */

    int64_t raised_ms;
    int64_t acknowledged_ms; /* 0 = not yet; likewise below */
    char acknowledged_by[WG_ALARM_TEXT];
    char acknowledged_from[WG_ALARM_TEXT];
    int64_t attended_ms;
    int64_t reset_ms;
    char reset_by[WG_ALARM_TEXT];
    char reset_from[WG_ALARM_TEXT];
    int escalation_level; /* index into the escalation levels; 0 = the first recipients */
    int64_t escalated_ms[WG_ALARM_MAX_LEVEL];
    int reannunciations;
    int64_t reannunciate_due_ms; /* 0 = none pending */
    int64_t journaled_update;    /* kept by the core: the last update committed to the journal */
    struct wg_paging paging;
};

/* Where changes go: the core journals them (event + alarm row in one
 * transaction) before showing or sending. `phase` is one of "raise", "ack",
 * "attend", "reset", "escalate", "reannunciate", "update", and for paging
 * "notify", "received", "accept", "decline". */
struct wg_alarm_sink {
    void *ctx;
    void (*changed)(void *ctx, const struct wg_alarm *alarm, const char *phase);
};

struct wg_alarm_table;

struct wg_alarm_table *alarm_table_new(struct wg_alarm_sink sink);
void alarm_table_free(struct wg_alarm_table *table);

/* Raises a new alarm from `proto` (kind, priority, location, ... filled in);
 * sets id, update, state and raised_ms. Returns the stored alarm. */
struct wg_alarm *alarm_raise(struct wg_alarm_table *table, const struct wg_alarm *proto,
                             int64_t now_ms);
/* Acknowledge at the station. Refused (returns -1, reason in why) when the
 * alarm is unknown or already attended or reset. Re-acknowledging after a
 * re-annunciation is allowed. */
int alarm_acknowledge(struct wg_alarm_table *table, const char *id, const char *who,
                      const char *where, int64_t now_ms, int64_t reannunciate_after_ms, char *why,
                      size_t why_len);
/* Staff presence logged in the alarm's room. */
void alarm_attend(struct wg_alarm_table *table, struct wg_alarm *alarm, int64_t now_ms);
/* Reset at the origin; `who`/`where` say what reset it ("presence-101", "device"). */
void alarm_reset(struct wg_alarm_table *table, struct wg_alarm *alarm, const char *who,
                 const char *where, int64_t now_ms);
/* Any other change (priority up, detail, condition) bumps the update counter. */
void alarm_update(struct wg_alarm_table *table, struct wg_alarm *alarm, const char *phase);

/* Timers: re-annunciation of acknowledged-but-unattended alarms and the
 * escalation levels (after_s since the raise, while not attended). */
void alarm_run_timers(struct wg_alarm_table *table, int64_t now_ms, const int *level_after_s,
                      size_t level_count);

struct wg_alarm *alarm_find(struct wg_alarm_table *table, const char *id);
/* Active alarms in display order: priority (high first), then age (oldest first). */
size_t alarm_active(struct wg_alarm_table *table, const struct wg_alarm **out, size_t max);
size_t alarm_count(const struct wg_alarm_table *table);
/* Calls `each` for every active alarm (any order); stop by returning false. */
void alarm_foreach(struct wg_alarm_table *table, bool (*each)(struct wg_alarm *alarm, void *ctx),
                   void *ctx);

/* Sets detail_code and detail_args (json_pack format and values; NULL fmt =
 * no arguments). The list of codes and their arguments is docs/alarms.md. */
void alarm_set_code(struct wg_alarm *alarm, const char *code, const char *fmt, ...);

/* Copies `text` into out[len], cut at a UTF-8 character boundary when it is
 * too long (a name cut inside a character would not be valid JSON text). */
void alarm_copy_text(char *out, size_t len, const char *text);

/* The full record as JSON (for the journal, the alarms table, the uplink). */
json_t *alarm_to_json(const struct wg_alarm *alarm);
/* Restores an active alarm saved with alarm_to_json (after a restart); no
 * change is reported. Returns -1 if the JSON is not an alarm record. */
int alarm_restore(struct wg_alarm_table *table, const json_t *record);

#endif
