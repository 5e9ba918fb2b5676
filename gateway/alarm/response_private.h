/* What the response-figure files share, and nothing outside gateway/alarm/
 * may include: one record per alarm folded from the journal
 * (response_journal.c), read by the figures (response.c); the priority names
 * the JSON and the printed table use. The public interface is response.h. */
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

/* One alarm raised in the window. Times are 0 until seen before to_ms. */
struct tracked {
    char *text;
    int64_t raised_ms;
    int64_t ack_ms;    /* the earliest acknowledged_ms seen: the first acknowledge */
    int64_t attend_ms; /* the earliest attended_ms seen */
    int64_t reset_ms;
    int priority; /* the highest level seen */
    size_t shift; /* set after the scan */
};

struct collector {
    int64_t from_ms, to_ms;
    size_t max_alarms;
    struct tracked *alarms;
    size_t count, capacity;
    size_t *slots; /* open addressing on the id: alarm index + 1, 0 = empty */
    size_t slot_count;
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

#endif
