/* The plugin host: loads driver .so files and runs one instance per bus.
 *
 * plugin_host_open() dlopen()s `<plugin_dir>/<driver>.so` for every driver
 * the config names, checks its descriptor (ABI version and size, name,
 * lifecycle functions; ABI 1 drivers go through plugin_abi1.c), gives each
 * bus a view it owns (bus_view.h) and calls each driver's open, which
 * validates the driver's own config sections. Any failure closes everything
 * opened so far and returns NULL with messages in `diag`: a bad plugin or
 * driver config never half-starts.
 *
 * Messages from driver threads go into the core's queue tagged with the bus
 * that posted them and the driver's own indexes; plugin_host_translate()
 * turns them into the core's indexes when the core pops them, through the
 * bus's binding to the configuration the core runs at that moment. So a
 * reload never has to stop a bus, or empty the queue, to swap the
 * configuration under it.
 *
 * A reload is a transaction in three calls (all on the core thread):
 *
 *   plugin_host_prepare  compares each bus of the next configuration with the
 *                        running one (bus_view_equal) and opens an instance
 *                        for every bus that is new or changed. Nothing
 *                        running is touched; on any error nothing is left.
 *   plugin_host_apply    stops the changed buses (WG_STOP_BUS_CHANGED) and the
 *                        removed ones (WG_STOP_RELOAD), offers them to the new
 *                        instances' take_over, and starts the new instances.
 *                        If one fails, every bus touched is brought back:
 *                        the new instances are stopped, fresh instances of the
 *                        running configuration take over from them and from
 *                        the stopped ones, and start. Buses that did not
 *                        change are never stopped.
 *   plugin_host_commit   after the core switched to the next configuration:
 *                        binds every bus to it, closes the stopped instances
 *                        (what nobody took over goes to its stop state).
 *
 * plugin_host_abandon gives up a prepared reload before apply. */
#ifndef WG_PLUGIN_HOST_H
#define WG_PLUGIN_HOST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/cfgtree.h"
#include "common/clock.h"
#include "config/config.h"
#include "core/queue.h"

struct wg_plugin_host;
struct wg_host_reload;

/* The calling thread is taken to be the core thread: posts made on it never
 * wait for room in the queue. */
struct wg_plugin_host *plugin_host_open(const struct wg_config *config, const char *plugin_dir,
                                        struct wg_queue *queue, const struct wg_clock *clock,
                                        struct wg_diag *diag);
/* Starts every bus. On a failure stops (WG_STOP_SHUTDOWN) those already
 * started and returns -1. */
int plugin_host_start(struct wg_plugin_host *host);
/* Stops every running bus with WG_STOP_SHUTDOWN and joins its threads; no
 * callback arrives afterwards. */
void plugin_host_stop(struct wg_plugin_host *host);
/* Closes every instance and unloads the drivers. Messages still queued from
 * its buses must have been popped and translated (or be dropped unread). */
void plugin_host_close(struct wg_plugin_host *host);

/* Asks the device's driver to write an output point (core indexes). Returns 0
 * when queued, -1 when the device is disabled, the point is not an output,
 * the bus is not running, or the driver refused. */
int plugin_host_write(struct wg_plugin_host *host, size_t device, size_t point, double value,
                      uint64_t request_id);

/* Turns a popped message's indexes into the core's. Returns false when the
 * message is about a device or point the running configuration does not have
 * (it is to be dropped). Must see every popped message once: it also counts
 * what is still queued from each bus. */
bool plugin_host_translate(struct wg_plugin_host *host, struct wg_msg *msg);

/* Number of running buses, for status lines. */
size_t plugin_host_bus_count(const struct wg_plugin_host *host);

/* ---- reload ---- */

/* NULL (with messages in diag) when a driver cannot be loaded, refuses its
 * section, or memory runs out; the running buses are untouched. */
struct wg_host_reload *plugin_host_prepare(struct wg_plugin_host *host,
                                           const struct wg_config *next, const char *plugin_dir,
                                           struct wg_diag *diag);
/* 0 when every changed and new bus runs. -1 with the reason in `why` when
 * one failed: then every bus runs as before (the reload object is freed; do
 * not commit). */
int plugin_host_apply(struct wg_plugin_host *host, struct wg_host_reload *reload, char *why,
                      size_t why_len);
/* `next` must be the configuration given to prepare; frees the reload. */
void plugin_host_commit(struct wg_plugin_host *host, struct wg_host_reload *reload);
void plugin_host_abandon(struct wg_plugin_host *host, struct wg_host_reload *reload);

/* What a prepared reload does to the buses, by bus id. */
struct wg_host_reload_summary {
    size_t kept, restarted, added, removed;
    char restarted_ids[256], added_ids[256], removed_ids[256]; /* "a, b", cut with "..." */
};
void plugin_host_reload_summary(const struct wg_host_reload *reload,
                                struct wg_host_reload_summary *summary);
/* Whether the reload (re)starts the bus of `next`'s device `device`: its
 * outputs are to be written again. */
bool plugin_host_reload_restarts(const struct wg_host_reload *reload, size_t device);

#endif
