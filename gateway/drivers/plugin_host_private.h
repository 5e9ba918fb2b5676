/* The plugin host's own parts, shared by its files and by nothing else:
 *
 *   plugin_host.c      the public calls of plugin_host.h: open, start, stop,
 *                      close, write routing, message translation
 *   plugin_host_api.c  the struct wg_host table a driver gets: posts, log,
 *                      config access
 *   plugin_loader.c    loading a driver file, checking its descriptor, the
 *                      driver's context (ABI 3)
 *   plugin_slot.c      one driver instance (a "slot"): open, bind to the
 *                      configuration, start, stop, retire
 *   plugin_reload.c    the reload transaction: prepare, apply, commit, undo
 *
 * Everything here runs on the core thread except the host callbacks. */
#ifndef WG_PLUGIN_HOST_PRIVATE_H
#define WG_PLUGIN_HOST_PRIVATE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "drivers/bus_view.h"
#include "drivers/plugin_abi1.h"
#include "drivers/plugin_host.h"

#define NO_CORE_INDEX UINT32_MAX

/* A loaded .so, shared by every bus it serves. */
struct loaded_driver {
    struct loaded_driver *next;
    char *name;
    char *path;
    void *handle;
    unsigned abi; /* 1, 2 or 3 (2 and 3 share the descriptor layout) */
    const struct wg_plugin_descriptor *v2;
    const struct wg_plugin_descriptor_v1 *v1;
    int (*take_over)(void *instance, void *previous); /* NULL: not offered */
    void (*context_free)(void *context);              /* NULL: no context */
    void *context; /* what the driver's context_new made (ABI 3), for every instance */
    size_t users;  /* bus slots using it */
};

enum slot_phase {
    PHASE_OPEN,    /* opened (and maybe took over), not started */
    PHASE_RUNNING, /* started */
    PHASE_STOPPED, /* stopped: never started again */
    PHASE_FAILED,  /* its start failed */
    PHASE_CLOSED,  /* closed; kept only while messages it posted are queued */
};

/* One driver instance. The host table handed to the driver comes first, so a
 * callback's `const struct wg_host *` converts back to its slot. */
struct bus_slot {
    struct wg_host api;
    struct wg_host_abi1 api_v1; /* the table an ABI 1 driver gets */
    struct wg_plugin_host *owner;
    struct loaded_driver *driver;
    struct bus_view *view;
    void *instance;
    enum slot_phase phase; /* core thread only */
    atomic_bool accepting; /* from start until stop returns: posts are taken */
    atomic_bool stopping;  /* stop runs: a post does not wait for room */
    atomic_size_t queued;  /* messages in the queue not yet translated */
    /* The binding to the configuration the core runs: per local device its
     * index there, and per point the point's index in its profile. */
    uint32_t *core_device;
    uint32_t **core_point;
    struct wg_diag *diag; /* where config errors go while opening */
    struct bus_slot *next_retired;
};

struct wg_plugin_host {
    const struct wg_config *config; /* the one the core runs */
    struct wg_queue *queue;
    const struct wg_clock *clock;
    pthread_t core_thread;
    struct loaded_driver *drivers;
    struct bus_slot **buses; /* one per bus of `config`, in its order */
    size_t bus_count;
    /* Routing of the core's writes: per device of `config`, its bus (index
     * into buses, SIZE_MAX when disabled) and its index there. */
    size_t *device_bus;
    uint32_t *device_local;
    struct bus_slot *retired; /* closed, waiting for their queued messages */
};

/* One bus of the next configuration. */
struct next_bus {
    struct bus_slot *kept;  /* the running slot, unchanged */
    struct bus_slot *fresh; /* a new instance (changed or added bus) */
    struct bus_slot *old;   /* the running slot a changed bus replaces */
};

struct wg_host_reload {
    const struct wg_config *next;
    struct next_bus *buses; /* per bus of next */
    size_t bus_count;
    struct bus_slot **removed; /* running slots whose bus is gone */
    size_t removed_count;
};

static inline struct bus_slot *slot_of(const struct wg_host *api)
{
    return (struct bus_slot *)api; /* api is the first member */
}

static inline const char *bus_id(const struct bus_slot *slot)
{
    return slot->view->view.id;
}

/* ---- plugin_host_api.c ---- */

/* The table every slot's api starts as (driver_context is set per slot). */
extern const struct wg_host plugin_host_api_template;

/* ---- plugin_loader.c ---- */

/* "<plugin_dir>/<driver>.so", malloc'd; NULL when out of memory. */
char *plugin_driver_path(const char *plugin_dir, const char *driver);
/* The driver serving `bus` from `path`, loaded once per path. NULL with messages in diag. */
struct loaded_driver *plugin_driver_load(struct wg_plugin_host *host, const char *path,
                                         const struct wg_bus *bus, struct wg_diag *diag);
void plugin_driver_unload(struct wg_plugin_host *host, struct loaded_driver *driver);

/* ---- plugin_slot.c ---- */

struct bus_slot *plugin_slot_open(struct wg_plugin_host *host, const struct wg_config *config,
                                  size_t bus, const char *path, const struct wg_config *binding,
                                  struct wg_diag *diag);
int plugin_slot_bind(struct bus_slot *slot, const struct wg_config *config);
int plugin_slot_start(struct bus_slot *slot);
void plugin_slot_stop(struct bus_slot *slot, enum wg_stop_reason reason);
int plugin_slot_write(struct bus_slot *slot, const struct wg_write_request *request);
void plugin_slot_retire(struct wg_plugin_host *host, struct bus_slot *slot,
                        enum wg_stop_reason reason);
void plugin_slot_reap(struct wg_plugin_host *host, struct bus_slot *slot);
int plugin_host_route_writes(struct wg_plugin_host *host);

#endif
