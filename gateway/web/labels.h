/* The names people read for the ids the journal keeps: a room's name, a
 * zone's, a resident's label, a device's label.
 *
 * The configuration belongs to the core thread and is replaced at every
 * reload, so a query worker cannot read it. labels_of() copies the names,
 * on the core thread, into an object the worker then owns; history rows and
 * CSV lines get today's names beside their ids (an id no longer in the
 * configuration has no name). */
#ifndef WG_LABELS_H
#define WG_LABELS_H

#include "config/config.h"

struct wg_labels;

/* NULL when out of memory. */
struct wg_labels *labels_of(const struct wg_config *config);
void labels_free(struct wg_labels *labels);

/* The name for an id, or NULL when the id is NULL, unknown or has none. */
const char *labels_room(const struct wg_labels *labels, const char *room_id);
const char *labels_zone(const struct wg_labels *labels, const char *zone_id);
const char *labels_resident(const struct wg_labels *labels, const char *resident_id);
const char *labels_device(const struct wg_labels *labels, const char *device_id);

#endif
