/* The plugin host's public calls: opening every bus of a configuration,
 * starting and stopping them, routing the core's writes, and translating
 * what drivers posted into the core's indexes; see plugin_host.h. The host's
 * other parts are listed in plugin_host_private.h. */
#include "drivers/plugin_host.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "common/log.h"
#include "drivers/plugin_host_private.h"

struct wg_plugin_host *plugin_host_open(const struct wg_config *config, const char *plugin_dir,
                                        struct wg_queue *queue, const struct wg_clock *clock,
                                        struct wg_diag *diag)
{
    struct wg_plugin_host *host = calloc(1, sizeof *host);
    if (host)
        host->buses = calloc(config->bus_count ? config->bus_count : 1, sizeof *host->buses);
    if (!host || !host->buses) {
        diag_at(diag, NULL, "out of memory");
        free(host);
        return NULL;
    }
    host->config = config;
    host->queue = queue;
    host->clock = clock;
    host->core_thread = pthread_self();
    size_t errors_before = diag->count;
    host->bus_count = config->bus_count;
    for (size_t b = 0; b < config->bus_count; b++) {
        char *path = plugin_driver_path(plugin_dir, config->buses[b].driver);
        if (!path) {
            diag_at(diag, config->buses[b].node, "out of memory");
            continue;
        }
        /* Every bus's problem is reported, then the whole start is refused. */
        host->buses[b] = plugin_slot_open(host, config, b, path, config, diag);
        free(path);
    }
    if (diag->count != errors_before || plugin_host_route_writes(host) != 0) {
        if (diag->count == errors_before)
            diag_at(diag, NULL, "out of memory");
        plugin_host_close(host);
        return NULL;
    }
    return host;
}

int plugin_host_start(struct wg_plugin_host *host)
{
    for (size_t b = 0; b < host->bus_count; b++)
        if (plugin_slot_start(host->buses[b]) != 0) {
            plugin_host_stop(host);
            return -1;
        }
    return 0;
}

void plugin_host_stop(struct wg_plugin_host *host)
{
    for (size_t b = 0; b < host->bus_count; b++)
        if (host->buses[b])
            plugin_slot_stop(host->buses[b], WG_STOP_SHUTDOWN);
}

void plugin_host_close(struct wg_plugin_host *host)
{
    if (!host)
        return;
    for (size_t b = 0; b < host->bus_count; b++)
        plugin_slot_retire(host, host->buses[b], WG_STOP_SHUTDOWN);
    /* Whatever they still have queued is never translated now. */
    while (host->retired)
        plugin_slot_reap(host, host->retired);
    while (host->drivers)
        plugin_driver_unload(host, host->drivers);
    free(host->buses);
    free(host->device_bus);
    free(host->device_local);
    free(host);
}

int plugin_host_write(struct wg_plugin_host *host, size_t device, size_t point, double value,
                      uint64_t request_id)
{
    if (device >= host->config->device_count || host->device_bus[device] == SIZE_MAX)
        return -1;
    struct bus_slot *slot = host->buses[host->device_bus[device]];
    uint32_t local = host->device_local[device];
    const struct wg_device_view *view = &slot->view->devices[local];
    uint32_t local_point = NO_CORE_INDEX;
    for (size_t p = 0; p < view->point_count; p++)
        if (slot->core_point[local][p] == point)
            local_point = (uint32_t)p;
    if (local_point == NO_CORE_INDEX || view->points[local_point].direction != WG_POINT_OUTPUT ||
        slot->phase != PHASE_RUNNING)
        return -1;
    struct wg_write_request request = {
        .request_id = request_id, .device = local, .point = local_point, .value = value};
    return plugin_slot_write(slot, &request);
}

bool plugin_host_translate(struct wg_plugin_host *host, struct wg_msg *msg)
{
    struct bus_slot *slot = (struct bus_slot *)msg->origin;
    if (!slot)
        return true;
    msg->origin = NULL;
    bool known = true;
    if (msg->type != WG_MSG_WRITE_RESULT) {
        uint32_t local = msg->device;
        uint32_t device = slot->core_device[local];
        known = device != NO_CORE_INDEX;
        if (known && msg->type == WG_MSG_READING) {
            msg->point = slot->core_point[local][msg->point];
            known = msg->point != NO_CORE_INDEX;
        }
        msg->device = device;
    }
    if (atomic_fetch_sub(&slot->queued, 1) == 1 && slot->phase == PHASE_CLOSED)
        plugin_slot_reap(host, slot);
    return known;
}

size_t plugin_host_bus_count(const struct wg_plugin_host *host)
{
    return host->bus_count;
}
