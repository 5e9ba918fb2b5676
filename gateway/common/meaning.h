/* The fixed vocabulary of point meanings.
 *
 * Profiles say what each point *means* ("in_bed", "gas_lel", "fire_zone_3",
 * "valve_closed"), so rules bind to meanings, never to addresses. This table
 * is the one list of meanings the daemon knows; a profile using any other
 * word is refused at load time. Meanings marked `indexed` take a numeric
 * suffix: "fire_zone_1" .. "fire_zone_999". */
#ifndef WG_MEANING_H
#define WG_MEANING_H

#include <stdbool.h>

#include "drivers/plugin.h"

struct wg_meaning_info {
    const char *name;
    enum wg_point_kind kind;
    enum wg_point_direction direction;
    bool indexed;
    const char *unit; /* the expected unit, "" for bool points or when free */
    const char *description;
};

/* Looks `meaning` up. For an indexed meaning ("fire_zone_3") sets *index (3);
 * otherwise *index = 0. Returns NULL when the word is not in the vocabulary. */
const struct wg_meaning_info *meaning_lookup(const char *meaning, int *index);

/* Heartbeat bits ("gas_heartbeat", ...) toggle while a device lives: they are
 * supervision, not events, and are never journaled per toggle. */
bool meaning_is_heartbeat(const char *meaning);

/* The whole table, for documentation and error messages ("expected one of ..."). */
const struct wg_meaning_info *meaning_table(unsigned *count);

#endif
