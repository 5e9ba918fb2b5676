/* A bus as its driver sees it (struct wg_bus_view), in memory the plugin
 * host owns, and what a reload compares.
 *
 * bus_view_build() copies from a configuration everything the view holds:
 * the bus id and driver, the enabled devices on the bus in config order with
 * their address, poll period, location and profile points. Strings are
 * copies, so the view outlives the configuration it was built from: a bus
 * that a reload does not restart keeps its driver instance, and that
 * instance keeps its view. The wg_cfg_node pointers (bus and device settings,
 * point sources) point into a configuration; bus_view_rebind() points them
 * into the next one when the old one is freed.
 *
 * bus_view_equal() is the reload's test of "did this bus change": it compares
 * exactly what the driver can see (and the driver file), settings subtrees
 * by content. Whatever else a configuration holds (residents, rules, labels,
 * sections added later) cannot restart a driver. */
#ifndef WG_BUS_VIEW_H
#define WG_BUS_VIEW_H

#include <stdbool.h>
#include <stddef.h>

#include "config/config.h"
#include "drivers/plugin.h"

struct bus_view {
    struct wg_bus_view view; /* what the driver gets; points into this struct's memory */
    char *driver_path;       /* the .so that serves it */
    struct wg_device_view *devices;
    struct wg_point_view **points; /* per device */
    char **strings;                /* every string the view points to */
    size_t string_count, string_capacity;
};

/* The view of config->buses[bus]; NULL when out of memory. */
struct bus_view *bus_view_build(const struct wg_config *config, size_t bus,
                                const char *driver_path);
void bus_view_free(struct bus_view *view);

/* Same driver file, bus id, driver, settings, and the same devices in the same
 * order with the same addresses, poll periods, locations, settings and points. */
bool bus_view_equal(const struct bus_view *a, const struct bus_view *b);

/* Points the view's settings and sources at those of config->buses[bus] and
 * its devices. Only for a configuration whose view of the bus is equal. */
void bus_view_rebind(struct bus_view *view, const struct wg_config *config, size_t bus);

#endif
