/* One driver instance, a "slot": opened for a bus of a configuration, bound
 * to the configuration the core runs (device and point indexes), started,
 * stopped, and retired once nothing it posted is still queued. The driver's
 * functions are called here whatever its ABI. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "drivers/plugin_host_private.h"

/* ---- the driver's functions, whatever its ABI ---- */

static int driver_open(struct bus_slot *slot)
{
    const struct wg_bus_view *view = &slot->view->view;
    if (slot->driver->abi == WG_PLUGIN_ABI1)
        return slot->driver->v1->open(&slot->api_v1.table, view, &slot->instance);
    return slot->driver->v2->open(&slot->api, view, &slot->instance);
}

static int driver_start(struct bus_slot *slot)
{
    return slot->driver->abi == WG_PLUGIN_ABI1 ? slot->driver->v1->start(slot->instance)
                                               : slot->driver->v2->start(slot->instance);
}

int plugin_slot_write(struct bus_slot *slot, const struct wg_write_request *request)
{
    return slot->driver->abi == WG_PLUGIN_ABI1 ? slot->driver->v1->write(slot->instance, request)
                                               : slot->driver->v2->write(slot->instance, request);
}

static const char *stop_reason_name(enum wg_stop_reason reason)
{
    switch (reason) {
    case WG_STOP_SHUTDOWN:
        return "shutdown";
    case WG_STOP_RELOAD:
        return "reload";
    case WG_STOP_BUS_CHANGED:
        return "bus changed";
    }
    return "?";
}

/* Stops a running slot. Producers waiting for room are released first, so
 * the driver's threads can be joined even while the core does not drain. */
void plugin_slot_stop(struct bus_slot *slot, enum wg_stop_reason reason)
{
    if (!slot || slot->phase != PHASE_RUNNING)
        return;
    atomic_store(&slot->stopping, true);
    queue_wake_producers(slot->owner->queue);
    if (slot->driver->abi == WG_PLUGIN_ABI1)
        slot->driver->v1->stop(slot->instance);
    else
        slot->driver->v2->stop(slot->instance, reason);
    atomic_store(&slot->accepting, false); /* `stopping` stays: it is never started again */
    slot->phase = PHASE_STOPPED;
    wg_info("bus %s: driver %s stopped (%s)", bus_id(slot), slot->driver->name,
            stop_reason_name(reason));
}

int plugin_slot_start(struct bus_slot *slot)
{
    atomic_store(&slot->accepting, true);
    if (driver_start(slot) != 0) {
        atomic_store(&slot->accepting, false);
        slot->phase = PHASE_FAILED;
        wg_err("bus %s: driver %s failed to start", bus_id(slot), slot->driver->name);
        return -1;
    }
    slot->phase = PHASE_RUNNING;
    wg_info("bus %s: driver %s started with %zu devices", bus_id(slot), slot->driver->name,
            slot->view->view.device_count);
    return 0;
}

/* ---- slots ---- */

static void free_binding(struct bus_slot *slot)
{
    for (size_t d = 0; slot->core_point && d < slot->view->view.device_count; d++)
        free(slot->core_point[d]);
    free(slot->core_point);
    free(slot->core_device);
    slot->core_point = NULL;
    slot->core_device = NULL;
}

/* Binds the slot's devices and points to `config` by device id and point
 * name. Returns -1 when out of memory (the old binding stays). */
int plugin_slot_bind(struct bus_slot *slot, const struct wg_config *config)
{
    size_t devices = slot->view->view.device_count;
    uint32_t *core_device = calloc(devices ? devices : 1, sizeof *core_device);
    uint32_t **core_point = calloc(devices ? devices : 1, sizeof *core_point);
    bool ok = core_device && core_point;
    for (size_t d = 0; ok && d < devices; d++) {
        const struct wg_device_view *view = &slot->view->devices[d];
        core_point[d] = calloc(view->point_count ? view->point_count : 1, sizeof **core_point);
        ok = core_point[d] != NULL;
        size_t index = ok ? config_find_device(config, view->id) : WG_NO_INDEX;
        core_device[d] = index == WG_NO_INDEX ? NO_CORE_INDEX : (uint32_t)index;
        for (size_t p = 0; ok && p < view->point_count; p++) {
            core_point[d][p] = NO_CORE_INDEX;
            if (index == WG_NO_INDEX)
                continue;
            const struct wg_profile *profile = &config->profiles[config->devices[index].profile];
            for (size_t q = 0; q < profile->point_count; q++)
                if (strcmp(profile->points[q].name, view->points[p].name) == 0) {
                    core_point[d][p] = (uint32_t)q;
                    break;
                }
        }
    }
    if (!ok) {
        for (size_t d = 0; core_point && d < devices; d++)
            free(core_point[d]);
        free(core_point);
        free(core_device);
        return -1;
    }
    free_binding(slot);
    slot->core_device = core_device;
    slot->core_point = core_point;
    return 0;
}

static void free_slot(struct bus_slot *slot)
{
    if (!slot)
        return;
    free_binding(slot);
    bus_view_free(slot->view);
    free(slot);
}

/* A new slot for config->buses[bus] served from `path`, bound to `binding`
 * (the configuration the core runs), opened. NULL with messages in diag. */
struct bus_slot *plugin_slot_open(struct wg_plugin_host *host, const struct wg_config *config,
                                  size_t bus, const char *path, const struct wg_config *binding,
                                  struct wg_diag *diag)
{
    const struct wg_bus *def = &config->buses[bus];
    struct bus_slot *slot = calloc(1, sizeof *slot);
    if (slot)
        slot->view = bus_view_build(config, bus, path);
    if (!slot || !slot->view || plugin_slot_bind(slot, binding) != 0) {
        diag_at(diag, def->node, "out of memory building bus %s", def->id);
        free_slot(slot);
        return NULL;
    }
    slot->api = plugin_host_api_template;
    abi1_host_init(&slot->api_v1, &slot->api);
    slot->owner = host;
    slot->phase = PHASE_OPEN;
    atomic_init(&slot->accepting, false);
    atomic_init(&slot->stopping, false);
    atomic_init(&slot->queued, 0);
    slot->driver = plugin_driver_load(host, path, def, diag);
    if (!slot->driver) {
        free_slot(slot);
        return NULL;
    }
    slot->driver->users++;
    slot->api.driver_context = slot->driver->context;
    slot->diag = diag;
    size_t before = diag->count;
    int rc = driver_open(slot);
    slot->diag = NULL;
    if (rc != 0) {
        slot->instance = NULL;
        if (diag->count == before)
            diag_at(diag, def->node, "bus %s: driver %s refused its configuration", def->id,
                    def->driver);
    } else if (diag->count != before) {
        /* The driver reported problems yet claimed success: believe the problems. */
        slot->phase = PHASE_CLOSED;
        if (slot->driver->abi == WG_PLUGIN_ABI1)
            slot->driver->v1->close(slot->instance);
        else
            slot->driver->v2->close(slot->instance);
        slot->instance = NULL;
        rc = -1;
    }
    if (rc != 0) {
        if (--slot->driver->users == 0)
            plugin_driver_unload(host, slot->driver);
        free_slot(slot);
        return NULL;
    }
    return slot;
}

void plugin_slot_reap(struct wg_plugin_host *host, struct bus_slot *slot)
{
    for (struct bus_slot **link = &host->retired; *link; link = &(*link)->next_retired)
        if (*link == slot) {
            *link = slot->next_retired;
            break;
        }
    free_slot(slot);
}

/* Closes the instance (stopping it first if it runs) and frees the slot once
 * no message it posted waits in the queue. */
void plugin_slot_retire(struct wg_plugin_host *host, struct bus_slot *slot,
                        enum wg_stop_reason reason)
{
    if (!slot)
        return;
    plugin_slot_stop(slot, reason);
    if (slot->instance) {
        if (slot->driver->abi == WG_PLUGIN_ABI1)
            slot->driver->v1->close(slot->instance);
        else
            slot->driver->v2->close(slot->instance);
        slot->instance = NULL;
    }
    slot->phase = PHASE_CLOSED;
    if (--slot->driver->users == 0)
        plugin_driver_unload(host, slot->driver);
    slot->driver = NULL;
    if (atomic_load(&slot->queued) == 0) {
        free_slot(slot);
        return;
    }
    slot->next_retired = host->retired;
    host->retired = slot;
}

/* Write routing for host->config from the running buses. */
int plugin_host_route_writes(struct wg_plugin_host *host)
{
    size_t devices = host->config->device_count ? host->config->device_count : 1;
    size_t *device_bus = malloc(devices * sizeof *device_bus);
    uint32_t *device_local = calloc(devices, sizeof *device_local);
    if (!device_bus || !device_local) {
        free(device_bus);
        free(device_local);
        return -1;
    }
    for (size_t i = 0; i < devices; i++)
        device_bus[i] = SIZE_MAX;
    for (size_t b = 0; b < host->bus_count; b++) {
        const struct bus_slot *slot = host->buses[b];
        for (size_t d = 0; slot && d < slot->view->view.device_count; d++)
            if (slot->core_device[d] != NO_CORE_INDEX) {
                device_bus[slot->core_device[d]] = b;
                device_local[slot->core_device[d]] = (uint32_t)d;
            }
    }
    free(host->device_bus);
    free(host->device_local);
    host->device_bus = device_bus;
    host->device_local = device_local;
    return 0;
}
