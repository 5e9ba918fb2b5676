/* What the alarm engine's files share, and nothing outside gateway/alarm/
 * may include: the engine's state (per device, per rule and device, per
 * combine rule and room), the small lookups every part uses, and the
 * functions one part of the engine calls in another. The public interface is
 * engine.h. */
#ifndef WG_ENGINE_PRIVATE_H
#define WG_ENGINE_PRIVATE_H

#include <stdio.h>
#include <string.h>

#include "alarm/engine.h"
#include "common/clock.h"

#define ENDED_KEPT 64 /* recently reset alarms remembered for the phones' late answers */

/* Per (rule, device): timers and the alarm the rule raised for the device. */
struct rule_state {
    int64_t since_ms;    /* condition started (0 = not pending) */
    int64_t since2_ms;   /* gas: above high since */
    int64_t followup_ms; /* bed exit: "not back in bed" due */
    char alarm[37];      /* active alarm raised by this rule for this device ("" = none) */
    char alarm2[37];     /* gas high */
    double last_value;   /* wellbeing: the counter when it last moved */
    int64_t last_change_ms;
    bool seen;
};

/* Per (combine rule, room). */
struct combine_condition {
    bool now_true;
    int64_t last_true_ms;
};
struct combine_state {
    struct combine_condition *conditions; /* the rule's condition_count, in combine_conditions */
    char alarm[37];
};

struct device_watch {
    int64_t last_seen_ms;
    enum wg_health health; /* supervision's view */
    char offline_alarm[37];
    size_t point_count;
    double *written;   /* last value written per point (NAN = never) */
    double *values;    /* last value read per point (NAN = none yet): a panel's fire_loop */
    char *point_alarm; /* per point, 37 bytes each: the alarm that point raised by itself
                        * (technical fault, fire zone, failed write); "" = none */
    /* Per point, worked out once per config: the rules that read it and its
     * technical-fault entry (-1 = none), so a reading costs no string compares. */
    size_t **point_rules;
    size_t *point_rule_count;
    int *point_technical;
};

struct wg_engine {
    const struct wg_config *config;
    struct wg_engine_host host;
    struct wg_alarm_table *alarms;
    struct device_watch *devices;
    struct rule_state *rule_states;               /* [rule][device] */
    struct combine_state *combine_states;         /* [rule][room] */
    struct combine_condition *combine_conditions; /* what combine_states point into */
    size_t *rooms_by_id; /* room indexes sorted by id: an alarm's room found by bisection */
    bool *room_presence;
    int level_after_s[WG_ALARM_MAX_LEVEL];
    size_t level_count;
    int64_t started_ms;
    bool indicators_dirty;     /* an alarm or a presence changed since lamps were last set */
    char storage_alarm[37];    /* the storage_failing alarm, "" when none */
    int64_t fault_escalate_ms; /* a technical alarm open this long is escalated */
    size_t fault_level;        /* ... to this escalation level (the manager's) */
    struct wg_test_window test_windows[WG_TEST_WINDOWS_MAX]; /* running, in start order */
    size_t test_window_count;
    struct round_state *rounds; /* per config round */
    struct staff_state *staff;  /* per staff.people */
    size_t staff_count;
    int last_shift;             /* the shift seen at the last tick (-2 = none yet) */
    char ended[ENDED_KEPT][37]; /* alarms recently reset: a late accept is refused as such */
    struct {
        char kind[WG_ALARM_TEXT];
        char alarm[37];
    } site_faults[WG_SITE_FAULTS_MAX]; /* engine_site_fault's open alarms, "" = free */
    size_t ended_next;
};

/* Per staff member (config staff.people): their phones and claims. */
struct staff_state {
    int phones;               /* connected WebSockets */
    bool seen;                /* a phone of theirs connected while on duty */
    int64_t offline_since_ms; /* on duty, last phone gone at; 0 = not offline */
    char offline_alarm[37];   /* the phone_offline alarm, "" = none */
    size_t *claims;           /* rooms claimed for the running shift */
    size_t claim_count;
    int64_t claim_shift_ms; /* the start of the shift occurrence they were claimed in */
};

/* Per configured round: the slot that runs, its rooms and the overdue alarm. */
struct round_state {
    int64_t start_ms, end_ms; /* the running slot; start 0 = none */
    struct wg_round_room *rooms;
    size_t room_count;
    char alarm[37]; /* the round_overdue alarm, "" = none */
};

/* ---- small lookups ---- */

/* The minute `now` is in (ms since the epoch, floored to the minute). */
static inline int64_t minute_start_ms(int64_t now)
{
    return now - ((now % 60000) + 60000) % 60000;
}

/* When the occurrence of the daily window that holds `now` began (whole
 * minutes of the site's time: a night window began yesterday evening), or
 * -1 when `now` is outside it. Rounds' slots and shifts both count from it. */
static inline int64_t window_began_ms(const struct wg_window *window, int64_t now)
{
    int minute = clock_minute_of_day(now);
    if (!window_contains(window, minute))
        return -1;
    int into = (minute - window->start_min + 1440) % 1440;
    return minute_start_ms(now) - (int64_t)into * 60000;
}

static inline const struct wg_point_def *point_def(const struct wg_engine *engine, size_t device,
                                                   size_t point)
{
    const struct wg_config *config = engine->config;
    return &config->profiles[config->devices[device].profile].points[point];
}

static inline struct rule_state *rule_state(struct wg_engine *engine, size_t rule, size_t device)
{
    return &engine->rule_states[rule * engine->config->device_count + device];
}

static inline size_t resident_of_device(const struct wg_config *config,
                                        const struct wg_device *device)
{
    if (device->bed != WG_NO_INDEX)
        return config_resident_of_bed(config, device->bed);
    return WG_NO_INDEX;
}

/* The first resident of the room with any of the risk bits, or WG_NO_INDEX. */
static inline size_t room_resident_with(const struct wg_config *config, size_t room, unsigned risks)
{
    for (size_t r = 0; room != WG_NO_INDEX && r < config->resident_count; r++)
        if (config->beds[config->residents[r].bed].room == room &&
            (config->residents[r].risks & risks))
            return r;
    return WG_NO_INDEX;
}

static inline bool meaning_matches(const char *rule_meaning, const char *point_meaning)
{
    if (!rule_meaning || !point_meaning)
        return false;
    if (strcmp(rule_meaning, point_meaning) == 0)
        return true;
    /* "fire_zone" covers "fire_zone_1" .. "fire_zone_999" */
    size_t len = strlen(rule_meaning);
    return strncmp(rule_meaning, point_meaning, len) == 0 && point_meaning[len] == '_' &&
           point_meaning[len + 1] >= '0' && point_meaning[len + 1] <= '9';
}

/* A smoke or gas detector's alarm: its place is the detector's spot in its room. */
static inline void detector_place(const struct wg_engine *engine, size_t device,
                                  struct wg_alarm *proto)
{
    alarm_copy_text(proto->place, sizeof proto->place, engine->config->devices[device].spot);
}

static inline bool rising(double value, double previous, bool first)
{
    return value != 0 && (first || previous == 0);
}

static inline bool falling(double value, double previous, bool first)
{
    return value == 0 && !first && previous != 0;
}

static inline int rule_priority(const struct wg_rule *rule, int fallback)
{
    return rule->priority >= 0 ? rule->priority : fallback;
}

/* ---- alarm lifecycle (engine_alarm_lifecycle.c) ---- */

/* An alarm of `kind` raised by `rule` for the device (and point, or
 * WG_NO_INDEX), placed where the device is. */
struct wg_alarm engine_proto_alarm(const struct wg_engine *engine, size_t device, size_t point,
                                   const char *kind, int priority, int risk, const char *rule,
                                   enum wg_alarm_reset_mode reset_mode);
/* Raises and remembers the id in `slot` (37 bytes). */
struct wg_alarm *engine_raise_into(struct wg_engine *engine, char *slot,
                                   const struct wg_alarm *proto, int64_t now_ms);
/* The active alarm whose id `slot` holds, or NULL (the slot is then emptied). */
struct wg_alarm *engine_alarm_in(struct wg_engine *engine, char *slot);
void engine_reset_slot(struct wg_engine *engine, char *slot, const char *who, const char *where,
                       int64_t now_ms);
/* The cause went away: reset if the rule says so, else remember it for the reset at origin. */
void engine_condition_cleared(struct wg_engine *engine, char *slot, const char *who,
                              int64_t now_ms);

/* ---- outputs (engine_outputs.c) ---- */

/* Sets lamps and buzzers from the active alarms, when anything changed. */
void engine_update_indicators(struct wg_engine *engine);
/* Gas high: close the valve and start the fan, in the room, else site-wide. Never opens. */
void engine_gas_interlock(struct wg_engine *engine, size_t room);
/* Fire: release every fire door. */
void engine_fire_doors(struct wg_engine *engine);

/* ---- rules on point values (engine_rules.c, engine_fire.c) ---- */

/* The technical-fault entry of a point's meaning, -1 when none. */
int engine_technical_entry(const char *meaning);
void engine_on_fire(struct wg_engine *engine, size_t r, size_t device, size_t point, double value,
                    double previous, bool first, int64_t ts, const char *kind);
void engine_on_fire_component(struct wg_engine *engine, size_t device);

/* A test window ended: what the device still holds (a cord still pulled,
 * smoke, a button still pressed) is raised now, as a first reading would. */
void engine_raise_held(struct wg_engine *engine, size_t device, int64_t now);

/* ---- rounds (engine_rounds.c) ---- */

/* Presence or reset pressed in the room: a check-in for its rounds. */
void engine_rounds_room_op(struct wg_engine *engine, size_t room, const char *device, int64_t ts);
void engine_rounds_tick(struct wg_engine *engine, int64_t now);
/* For a new config (old: the one before, or NULL): check-ins carry over by
 * round and room id. -1 when out of memory. */
int engine_rounds_rebuild(struct wg_engine *engine, const struct wg_config *old, int64_t now);
void engine_rounds_free(struct wg_engine *engine);
/* Links a restored round_overdue alarm to its round (or ends it: the round is gone). */
void engine_rounds_relink(struct wg_engine *engine, struct wg_alarm *alarm, int64_t now);

/* ---- device test mode (engine_test_mode.c) ---- */

/* When the device is in a running test window, records its test (`kind`,
 * and whether the alarm is masked) and returns the window; else NULL. */
const struct wg_test_window *engine_tested(struct wg_engine *engine, size_t device, size_t point,
                                           const char *kind, bool masked, int64_t ts);
/* Windows that ran out end (and what their devices hold is raised). */
void engine_test_mode_tick(struct wg_engine *engine, int64_t now);
/* After a reload: a window whose room or zone is gone ends. */
void engine_test_mode_reconfigured(struct wg_engine *engine, int64_t now);

/* ---- paging (engine_paging.c) ---- */

/* A call was raised: its first step is paged before anybody is told. */
void engine_paging_start(struct wg_engine *engine, struct wg_alarm *alarm, int64_t now);
/* Deliveries, acceptance timeouts, the next steps, phones offline, shifts. */
void engine_paging_tick(struct wg_engine *engine, int64_t now);
/* For a new config (old: NULL at start): phones and claims carry over by user. -1 out of memory. */
int engine_paging_rebuild(struct wg_engine *engine, const struct wg_config *old, int64_t now);
void engine_paging_free(struct wg_engine *engine);
/* A restored phone_offline alarm is linked to its person (or ended). */
void engine_paging_relink(struct wg_engine *engine, struct wg_alarm *alarm, int64_t now);
/* An alarm was reset: remembered for late answers. */
void engine_paging_ended(struct wg_engine *engine, const struct wg_alarm *alarm);

/* ---- time (engine_timed_rules.c, engine_supervision.c) ---- */

void engine_rule_timers(struct wg_engine *engine, int64_t now);
void engine_supervise(struct wg_engine *engine, int64_t now);

#endif
