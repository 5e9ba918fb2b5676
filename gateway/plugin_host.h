/* The plugin host: loads driver .so files and runs one instance per bus.
 *
 * plugin_host_open() dlopen()s `<plugin_dir>/<driver>.so` for every driver
 * the config names, checks its descriptor (ABI version, struct size, name),
 * builds the read-only bus and device views and calls each driver's open,
 * which validates the driver's own config sections. Any failure closes
 * everything opened so far and returns NULL with messages in `diag`: a bad
 * plugin or driver config never half-starts. Readings, health, write results
 * and counters from driver threads go into the core's queue, translated to the
 * core's device indexes. */
#ifndef WG_PLUGIN_HOST_H
#define WG_PLUGIN_HOST_H

#include <stddef.h>
#include <stdint.h>

#include "cfgtree.h"
#include "clock.h"
#include "config.h"
#include "queue.h"

struct wg_plugin_host;

struct wg_plugin_host *plugin_host_open(const struct wg_config *config, const char *plugin_dir,
                                        struct wg_queue *queue, const struct wg_clock *clock,
                                        struct wg_diag *diag);
/* Starts every bus. On a failure stops those already started and returns -1. */
int plugin_host_start(struct wg_plugin_host *host);
/* Stops every bus and joins its threads; no callback arrives afterwards. */
void plugin_host_stop(struct wg_plugin_host *host);
void plugin_host_close(struct wg_plugin_host *host);

/* Asks the device's driver to write an output point. Returns 0 when queued,
 * -1 when the device is disabled, the point is not an output, or the driver refused. */
int plugin_host_write(struct wg_plugin_host *host, size_t device, size_t point, double value,
                      uint64_t request_id);

/* Number of loaded drivers and running buses, for status lines. */
size_t plugin_host_bus_count(const struct wg_plugin_host *host);

#endif
