/* What the response-figure files share, and nothing outside gateway/alarm/
 * may include: one record per alarm folded from the journal
 * (response_journal.c), read by the figures (response.c) and the per-carer
 * and per-room breakdowns (response_breakdown.c); the priority names the
 * JSON and the printed table use. The public interface is response.h. */
#ifndef WG_RESPONSE_PRIVATE_H
#define WG_RESPONSE_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "alarm/response.h"

struct wg_event_row;

#define PRIORITY_LEVELS 6

/* A priority level's name ("normal" ... "fire"), "unknown" outside them. */
const char *response_priority_name(int priority);

/* The text fields kept per alarm, NUL-separated in one allocation. */
enum text_field { TEXT_ID, TEXT_KIND, TEXT_ZONE, TEXT_ROOM, TEXT_BED, TEXT_RESIDENT, TEXT_FIELDS };

#define NO_CARER UINT16_MAX

/* What became of a page, as far as the figures care. */
enum mark_outcome { MARK_OTHER, MARK_ACCEPTED, MARK_DECLINED, MARK_NOT_REACHED, MARK_TIMED_OUT };

/* One page of an alarm's latest record: to whom (a carer index), and how it ended. */
struct page_mark {
    uint16_t carer;  /* NO_CARER: past WG_RESPONSE_MAX_CARER_IDS */
    uint8_t outcome; /* enum mark_outcome */
};

/* One alarm raised in the window. Times are 0 until seen before to_ms. */
struct tracked {
    char *text;
    struct page_mark *pages; /* the latest record's pages; NULL when none */
    int64_t raised_ms;
    int64_t ack_ms;    /* the earliest acknowledged_ms seen: the first acknowledge */
    int64_t attend_ms; /* the earliest attended_ms seen */
    int64_t reset_ms;
    int64_t notified_ms;          /* the earliest page notified_ms seen */
    int64_t accepted_ms;          /* the acceptance (paging.accepted_ms) */
    int64_t accepter_notified_ms; /* when the page to the one who accepted went out */
    int priority;                 /* the highest level seen */
    size_t shift;                 /* set after the scan */
    uint16_t accepted_by;         /* carer index, NO_CARER when none */
    uint8_t page_count;
    bool paged; /* a record carried paging */
};

/* A carer seen in a page: login name and the latest display name. */
struct carer_id {
    char user[WG_RESPONSE_USER];
    char name[WG_RESPONSE_TEXT];
};

struct collector {
    int64_t from_ms, to_ms;
    size_t max_alarms;
    struct tracked *alarms;
    size_t count, capacity;
    size_t *slots; /* open addressing on the id: alarm index + 1, 0 = empty */
    size_t slot_count;
    struct carer_id *carers; /* index = the carer index in marks and accepted_by */
    size_t carer_count, carer_capacity;
    uint16_t *carer_slots; /* open addressing on the login: index + 1, 0 = empty */
    bool carers_overflow;  /* more than WG_RESPONSE_MAX_CARER_IDS */
    int64_t skipped_rows;
    bool too_many;
    bool out_of_memory;
};

/* The text field of a tracked alarm. */
const char *response_text_of(const struct tracked *alarm, enum text_field field);
/* store_read_alarm_events' callback: folds one journal row into the
 * collector (ctx); 1 (stop) when too many alarms or out of memory. */
int response_collect_row(const struct wg_event_row *row, void *ctx);
void response_collector_free(struct collector *c);

/* The durations the figures rank, in ms from an alarm's record. */
enum measure {
    MEASURE_ACK,           /* raise -> first acknowledge */
    MEASURE_ATTEND,        /* raise -> first attend */
    MEASURE_ACCEPT,        /* first page notified -> accepted */
    MEASURE_ACCEPT_ATTEND, /* accepted -> first attend */
    MEASURE_RESET,         /* raise -> reset */
    MEASURE_OWN_ACCEPT,    /* the accepter's own page notified -> accepted */
};
/* The duration (>= 0), or -1 when the alarm has none. */
int64_t response_measure(const struct tracked *alarm, enum measure measure);
/* Sorts n values ascending. */
void response_sort_ms(int64_t *values, size_t n);
/* Nearest rank p of n sorted values, in seconds; -1 when n is 0. */
double response_percentile_s(const int64_t *sorted, size_t n, unsigned p);
/* Whether the alarm is of a counted priority; whether it is a long wait. */
bool response_counted(const struct wg_response_report *report, const struct tracked *alarm);
bool response_is_long_wait(const struct wg_response_report *report, const struct tracked *alarm);
/* Fills report->carers and report->rooms from the folded alarms (shift set);
 * `buffer` holds c->count values. 0, or -1 when out of memory. */
int response_breakdowns(struct wg_response_report *report, const struct collector *c,
                        size_t max_carers, size_t max_rooms, int64_t *buffer);

#endif
