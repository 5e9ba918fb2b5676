/* One entry of the event journal, as the core builds it and the store keeps it.
 *
 * Every event is committed to SQLite before it is sent; an alarm event that
 * waits for its commit too long is shown first (journal.h). `id` is a
 * random UUID so the district platform can drop duplicates; `seq` is the
 * journal's own order, assigned on commit. `body` is a JSON object text with
 * the kind-specific details. */
#ifndef WG_EVENT_H
#define WG_EVENT_H

#include <stdbool.h>
#include <stdint.h>

enum wg_uplink_class {
    WG_UPLINK_NONE = 0,      /* journal only */
    WG_UPLINK_ALARM = 1,     /* calls and alarms: never evicted from the outbox */
    WG_UPLINK_HEALTH = 2,    /* device health, system status */
    WG_UPLINK_TELEMETRY = 3, /* meter readings: evicted first when the outbox is full */
};

struct wg_event {
    int64_t seq;          /* set by store_append_event */
    char id[37];          /* UUID v4 text, set by event_new_id */
    int64_t ts_ms;        /* when it happened, core clock */
    const char *kind;     /* "point", "device_health", "system", "alarm", ... */
    int priority;         /* enum wg_priority, or -1 when not an alarm */
    const char *alarm_id; /* NULL unless it belongs to an alarm */
    const char *device;   /* NULL when none; likewise the location fields */
    const char *zone;
    const char *room;
    const char *bed;
    const char *resident;
    const char *body; /* JSON object text, never NULL ("{}" at least) */
    enum wg_uplink_class uplink;
    bool announced; /* shown before it was journaled (core.h: unjournaled listeners) */
};

/* Fills event->id with a fresh random UUID v4 (getrandom). */
void event_new_id(struct wg_event *event);

#endif
