/* Response-time figures: how fast calls and alarms were acknowledged at the
 * station, accepted on a carer's phone and attended in the room, per shift,
 * per carer and per room, from the alarm journal.
 *
 * Every change of an alarm is a journal row (kind "alarm") whose body is the
 * full alarm record. For each alarm RAISED in [from_ms, to_ms) this counts
 * raise -> first acknowledge and raise -> first attend, takes p50 and p90 by
 * nearest rank (the smallest value with at least p % of the values at or
 * below it), and lists the long waits: attended after more than the
 * threshold (default 15 min, the wait inspectors cite), or never attended
 * and open for more than the threshold at its reset or at to_ms. A shift is
 * chosen by the local time of the raise. Alarms raised before from_ms are not
 * counted, even if their later phases fall in the window.
 *
 * Paged alarms (the record's "paging") add first page notified -> accepted,
 * accepted -> attend, and per carer what became of their pages.
 *
 * Memory is about 190 bytes per alarm raised in the window, plus 4 bytes a
 * page and an allocation for a paged alarm (a month of a 60-bed home,
 * ~20,000 alarms, is ~5 MB), and is capped by max_alarms.
 * The web UI and the uplink take the JSON (computed on a query worker's
 * read-only connection, query.h); `wardgated --response-report` prints the
 * table. See docs/response.md. */
#ifndef WG_RESPONSE_H
#define WG_RESPONSE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct wg_store_reader;

#define WG_RESPONSE_MAX_SHIFTS     8
#define WG_RESPONSE_NAME           32 /* shift names, bytes with the NUL */
#define WG_RESPONSE_TEXT           64 /* alarm fields in a long wait; as WG_ALARM_TEXT */
#define WG_RESPONSE_NO_SHIFT       SIZE_MAX
#define WG_RESPONSE_DEFAULT_WAIT   (15LL * 60 * 1000)
#define WG_RESPONSE_DEFAULT_LIST   500
#define WG_RESPONSE_DEFAULT_LIMIT  500000
#define WG_RESPONSE_USER           33   /* a carer's login name, with the NUL; as WG_PAGE_USER */
#define WG_RESPONSE_DEFAULT_CARERS 256  /* carers listed */
#define WG_RESPONSE_DEFAULT_ROOMS  2000 /* rooms listed */
#define WG_RESPONSE_MAX_CARER_IDS  1024 /* distinct carers followed through the journal */
/* Bit of a priority (enum wg_priority) in wg_response_options.priorities. */
#define WG_RESPONSE_PRIORITY(p) (1u << (p))
/* normal, urgent, emergency, fire: calls and safety alarms, not technical or advisory. */
#define WG_RESPONSE_DEFAULT_PRIORITIES 0x3cu

/* A daily window in minutes from local midnight: [start_min, end_min),
 * wrapping past midnight when end_min < start_min; equal means all day. */
struct wg_shift {
    const char *name;
    int start_min; /* 0..1439 */
    int end_min;   /* 0..1439 */
};

/* day 07:00-15:00, evening 15:00-23:00, night 23:00-07:00. */
const struct wg_shift *response_default_shifts(size_t *count);
/* Whether the daily window [start_min, end_min) holds `minute` of the day. */
bool response_window_holds(int start_min, int end_min, int minute);
/* The default shift at wall_ms (local time), by name ("day", "evening", "night"). */
const char *response_shift_at(int64_t wall_ms);

struct wg_response_options {
    const struct wg_shift *shifts; /* NULL = the default three; the first match wins */
    size_t shift_count;
    unsigned priorities;   /* WG_RESPONSE_PRIORITY bits of what counts; 0 = the default */
    int64_t long_wait_ms;  /* a wait longer than this is listed; 0 = 15 min */
    size_t max_long_waits; /* longest kept in the list (all are counted); 0 = 500 */
    size_t max_alarms;     /* alarms raised in the window before refusing; 0 = 500,000 */
    size_t max_carers;     /* carers listed (the most accepted first); 0 = 256 */
    size_t max_rooms;      /* rooms listed (the most raised); 0 = 2,000 */
};

/* The figures for one shift, or for the whole window. Seconds are exact to
 * the millisecond; a percentile is -1 when there is nothing to rank. */
struct wg_response_figures {
    int64_t raised;                    /* alarms of a counted priority raised in the window */
    int64_t acknowledged;              /* ... acknowledged before to_ms */
    int64_t attended;                  /* ... attended before to_ms */
    int64_t reset_unattended;          /* ... reset without ever being attended */
    int64_t open_unattended;           /* ... neither attended nor reset at to_ms */
    int64_t long_waits;                /* ... listed as long waits (before any truncation) */
    double ack_p50_s, ack_p90_s;       /* raise -> first acknowledge */
    double attend_p50_s, attend_p90_s; /* raise -> first attend */
    /* Paging to carers' phones (the alarm record's "paging"). */
    int64_t paged;                                   /* ... with a paging record */
    int64_t accepted;                                /* ... accepted on a phone before to_ms */
    int64_t reset;                                   /* ... reset before to_ms */
    double accept_p50_s, accept_p90_s;               /* first page notified -> accepted */
    double accept_attend_p50_s, accept_attend_p90_s; /* accepted -> first attend */
    double reset_p50_s, reset_p90_s;                 /* raise -> reset */
};

/* One carer: the alarms they accepted, and what became of the pages sent
 * to them (the outcome in the last record of each alarm before to_ms). */
struct wg_response_carer {
    char user[WG_RESPONSE_USER];                     /* login name */
    char name[WG_RESPONSE_TEXT];                     /* the name the wall shows, the latest seen */
    int64_t accepted;                                /* alarms they accepted */
    double accept_p50_s, accept_p90_s;               /* their page notified -> they accepted */
    double accept_attend_p50_s, accept_attend_p90_s; /* they accepted -> first attend */
    int64_t paged;                                   /* pages sent to them */
    int64_t declined;                                /* ... that they declined */
    int64_t not_reached;                             /* ... that never reached their phone */
    int64_t timed_out;                               /* ... received, not accepted in time */
};

/* One room (the alarm record's "room"; "" for alarms with no room). */
struct wg_response_room {
    char room[WG_RESPONSE_TEXT];
    int64_t raised, long_waits;
    double ack_p50_s, attend_p50_s, accept_p50_s, reset_p50_s;
};

struct wg_response_shift {
    char name[WG_RESPONSE_NAME];
    int start_min, end_min;
    struct wg_response_figures figures;
};

enum wg_wait_outcome {
    WG_WAIT_ATTENDED_LATE = 0,    /* attended, after more than the threshold */
    WG_WAIT_RESET_UNATTENDED = 1, /* reset without attendance, open more than the threshold */
    WG_WAIT_OPEN = 2,             /* neither attended nor reset at to_ms */
};
const char *response_outcome_name(enum wg_wait_outcome outcome); /* "attended", "reset", "open" */

struct wg_long_wait {
    char alarm_id[WG_RESPONSE_TEXT];
    int priority; /* the highest it reached */
    char kind[WG_RESPONSE_TEXT];
    char zone[WG_RESPONSE_TEXT];
    char room[WG_RESPONSE_TEXT];
    char bed[WG_RESPONSE_TEXT];
    char resident[WG_RESPONSE_TEXT];
    size_t shift; /* index into the report's shifts, or WG_RESPONSE_NO_SHIFT */
    int64_t raised_ms;
    int64_t acknowledged_ms; /* first; 0 = never (before to_ms); likewise below */
    int64_t attended_ms;
    int64_t reset_ms;
    int64_t wait_ms; /* to the attend; else to the reset; else to to_ms */
    enum wg_wait_outcome outcome;
};

struct wg_response_report {
    int64_t from_ms, to_ms;
    int64_t long_wait_ms;
    unsigned priorities;
    struct wg_response_shift shifts[WG_RESPONSE_MAX_SHIFTS];
    size_t shift_count;
    struct wg_response_figures overall;
    int64_t unassigned;              /* counted alarms raised outside every shift (overall only) */
    int64_t skipped_rows;            /* journal rows whose body was not an alarm record */
    struct wg_long_wait *long_waits; /* chronological by raise; owned by the report */
    size_t long_wait_count;
    bool long_waits_truncated;        /* more than max_long_waits: the longest were kept */
    struct wg_response_carer *carers; /* the most accepted first; owned by the report */
    size_t carer_count;
    bool carers_truncated;          /* more than max_carers (or too many to follow) */
    struct wg_response_room *rooms; /* by room; owned by the report */
    size_t room_count;
    bool rooms_truncated; /* more than max_rooms: those with the most alarms were kept */
};

/* Computes the figures for alarms raised in [from_ms, to_ms). Returns 0, or
 * -1 with a message in err (bad options, a store error, too many alarms);
 * on -1 the report holds nothing to free. */
int response_compute(struct wg_store_reader *reader, int64_t from_ms, int64_t to_ms,
                     const struct wg_response_options *options, struct wg_response_report *report,
                     char *err, size_t err_len);
void response_report_free(struct wg_response_report *report);

/* The report as a new JSON object (shape in docs/response.md); NULL if out of memory. */
json_t *response_report_to_json(const struct wg_response_report *report);

/* A readable table per shift and the list of long waits, local time. */
int response_report_print(const struct wg_response_report *report, FILE *out);

/* `wardgated --response-report`: opens the database (which must exist),
 * prints the last `days` days up to now, returns the exit status (0 or 1). */
int response_report_main(const char *db_path, int days, FILE *out);

#endif
