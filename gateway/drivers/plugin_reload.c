/* The reload transaction of the plugin host: prepare (open instances for new
 * and changed buses), apply (stop what changes, offer take_over, start; undo
 * on failure), commit (bind to the new configuration, retire the old
 * instances), abandon; see plugin_host.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "drivers/plugin_host_private.h"

/* ---- reload ---- */

static struct bus_slot *running_bus(const struct wg_plugin_host *host, const char *id)
{
    for (size_t b = 0; b < host->bus_count; b++)
        if (host->buses[b] && strcmp(bus_id(host->buses[b]), id) == 0)
            return host->buses[b];
    return NULL;
}

static void free_reload(struct wg_host_reload *reload)
{
    if (!reload)
        return;
    free(reload->buses);
    free(reload->removed);
    free(reload);
}

void plugin_host_abandon(struct wg_plugin_host *host, struct wg_host_reload *reload)
{
    if (!reload)
        return;
    for (size_t b = 0; b < reload->bus_count; b++)
        plugin_slot_retire(host, reload->buses[b].fresh, WG_STOP_RELOAD);
    free_reload(reload);
}

struct wg_host_reload *plugin_host_prepare(struct wg_plugin_host *host,
                                           const struct wg_config *next, const char *plugin_dir,
                                           struct wg_diag *diag)
{
    struct wg_host_reload *reload = calloc(1, sizeof *reload);
    if (reload) {
        reload->next = next;
        reload->bus_count = next->bus_count;
        reload->buses = calloc(next->bus_count ? next->bus_count : 1, sizeof *reload->buses);
        reload->removed = calloc(host->bus_count ? host->bus_count : 1, sizeof *reload->removed);
    }
    if (!reload || !reload->buses || !reload->removed) {
        diag_at(diag, NULL, "out of memory");
        free_reload(reload);
        return NULL;
    }
    size_t errors_before = diag->count;
    for (size_t b = 0; b < next->bus_count; b++) {
        const struct wg_bus *def = &next->buses[b];
        char *path = plugin_driver_path(plugin_dir, def->driver);
        struct bus_view *view = path ? bus_view_build(next, b, path) : NULL;
        if (!view) {
            diag_at(diag, def->node, "out of memory building bus %s", def->id);
            free(path);
            continue;
        }
        struct bus_slot *running = running_bus(host, def->id);
        if (running && running->phase == PHASE_RUNNING && bus_view_equal(running->view, view)) {
            reload->buses[b].kept = running;
        } else {
            /* Bound to the running configuration until the commit: what it
             * posts is read in the configuration the core runs then. */
            reload->buses[b].fresh = plugin_slot_open(host, next, b, path, host->config, diag);
            reload->buses[b].old = running;
        }
        bus_view_free(view);
        free(path);
    }
    for (size_t b = 0; b < host->bus_count; b++)
        if (host->buses[b] && config_find_bus(next, bus_id(host->buses[b])) == WG_NO_INDEX)
            reload->removed[reload->removed_count++] = host->buses[b];
    if (diag->count != errors_before) {
        plugin_host_abandon(host, reload);
        return NULL;
    }
    return reload;
}

/* Offers `slot` the instances of its driver in `candidates` that are not
 * running and not closed. */
static int offer(struct bus_slot *slot, struct bus_slot *const *candidates, size_t count)
{
    if (!slot->driver->take_over)
        return 0;
    for (size_t i = 0; i < count; i++) {
        struct bus_slot *previous = candidates[i];
        if (!previous || previous == slot || previous->driver != slot->driver ||
            previous->phase == PHASE_RUNNING || previous->phase == PHASE_CLOSED ||
            !previous->instance)
            continue;
        if (slot->driver->take_over(slot->instance, previous->instance) != 0) {
            wg_err("bus %s: driver %s could not take over from the instance of bus %s",
                   bus_id(slot), slot->driver->name, bus_id(previous));
            return -1;
        }
    }
    return 0;
}

/* The instances a reload stopped or opened, for take_over offers. */
struct touched {
    struct bus_slot **slots;
    size_t count;
};

static void touch(struct touched *touched, struct bus_slot *slot)
{
    if (slot)
        touched->slots[touched->count++] = slot;
}

/* Brings every bus the reload touched back to the running configuration. */
static void roll_back(struct wg_plugin_host *host, struct wg_host_reload *reload,
                      struct touched *touched)
{
    /* New instances hand back what they took: stopped, never closed yet. */
    for (size_t b = 0; b < reload->bus_count; b++)
        plugin_slot_stop(reload->buses[b].fresh, WG_STOP_RELOAD);
    for (size_t b = 0; b < host->bus_count; b++) {
        struct bus_slot *old = host->buses[b];
        if (!old || old->phase == PHASE_RUNNING)
            continue;
        char why[64] = "";
        struct wg_diag diag;
        diag_init(&diag);
        struct bus_slot *restore =
            plugin_slot_open(host, host->config, b, old->view->driver_path, host->config, &diag);
        diag_log(&diag);
        diag_free(&diag);
        if (restore && offer(restore, touched->slots, touched->count) == 0 &&
            plugin_slot_start(restore) == 0) {
            host->buses[b] = restore;
            wg_notice("bus %s: brought back as it was", bus_id(restore));
            continue;
        }
        snprintf(why, sizeof why, "%s", restore ? "did not start" : "could not be opened");
        wg_crit("bus %s: the running configuration %s again after the failed reload; its devices "
                "are not served",
                bus_id(old), why);
        if (restore) {
            host->buses[b] = restore; /* not running: writes are refused, supervision alarms */
            continue;
        }
        /* Nothing replaces the stopped instance: it keeps what it holds. */
        for (size_t i = 0; i < touched->count; i++)
            if (touched->slots[i] == old)
                touched->slots[i] = NULL;
    }
    for (size_t i = 0; i < touched->count; i++)
        plugin_slot_retire(host, touched->slots[i], WG_STOP_RELOAD);
    if (plugin_host_route_writes(host) != 0)
        wg_crit("out of memory routing writes after a failed reload");
}

int plugin_host_apply(struct wg_plugin_host *host, struct wg_host_reload *reload, char *why,
                      size_t why_len)
{
    struct touched touched = {
        .slots = calloc(2 * reload->bus_count + reload->removed_count + 1, sizeof(void *))};
    if (!touched.slots) {
        snprintf(why, why_len, "out of memory");
        plugin_host_abandon(host, reload);
        return -1;
    }
    /* Stop what changes or goes, keeping its outputs, so that the new
     * instances can take them over; in the running configuration's order. */
    for (size_t b = 0; b < host->bus_count; b++) {
        struct bus_slot *slot = host->buses[b];
        bool removed = false, changed = false;
        for (size_t r = 0; r < reload->removed_count; r++)
            removed |= reload->removed[r] == slot;
        for (size_t n = 0; n < reload->bus_count; n++)
            changed |= reload->buses[n].old == slot;
        if (!removed && !changed)
            continue;
        plugin_slot_stop(slot, removed ? WG_STOP_RELOAD : WG_STOP_BUS_CHANGED);
        touch(&touched, slot);
    }
    size_t stopped = touched.count;
    for (size_t b = 0; b < reload->bus_count; b++)
        touch(&touched, reload->buses[b].fresh);
    for (size_t b = 0; b < reload->bus_count; b++) {
        struct bus_slot *fresh = reload->buses[b].fresh;
        if (!fresh)
            continue;
        if (offer(fresh, touched.slots, stopped) != 0 || plugin_slot_start(fresh) != 0) {
            snprintf(why, why_len, "bus %s: driver %s did not start with the new configuration",
                     bus_id(fresh), fresh->driver->name);
            roll_back(host, reload, &touched);
            free(touched.slots);
            free_reload(reload);
            return -1;
        }
    }
    free(touched.slots);
    return 0;
}

void plugin_host_commit(struct wg_plugin_host *host, struct wg_host_reload *reload)
{
    const struct wg_config *next = reload->next;
    struct bus_slot **buses = calloc(next->bus_count ? next->bus_count : 1, sizeof *buses);
    if (!buses) {
        /* The old array still lists every running slot; reuse it in place. */
        wg_crit("out of memory committing the reload's buses");
        buses = host->buses;
        host->buses = NULL;
    }
    for (size_t b = 0; b < next->bus_count; b++) {
        struct next_bus *entry = &reload->buses[b];
        buses[b] = entry->kept ? entry->kept : entry->fresh;
        if (entry->kept)
            bus_view_rebind(entry->kept->view, next, b);
    }
    /* What the replaced instances still have queued is read in `next` too. */
    struct bus_slot **old = host->buses;
    size_t old_count = host->bus_count;
    host->config = next;
    host->buses = buses;
    host->bus_count = next->bus_count;
    for (size_t b = 0; b < host->bus_count; b++)
        if (plugin_slot_bind(host->buses[b], next) != 0)
            wg_crit("bus %s: out of memory binding it to the new configuration",
                    bus_id(host->buses[b]));
    for (struct bus_slot *slot = host->retired; slot; slot = slot->next_retired)
        plugin_slot_bind(slot, next);
    for (size_t b = 0; old && b < old_count; b++) {
        bool still = false;
        for (size_t n = 0; n < host->bus_count; n++)
            still |= host->buses[n] == old[b];
        if (!still && old[b]) {
            plugin_slot_bind(old[b], next);
            plugin_slot_retire(host, old[b], WG_STOP_RELOAD);
        }
    }
    if (old != buses)
        free(old);
    if (plugin_host_route_writes(host) != 0)
        wg_crit("out of memory routing writes after the reload");
    free_reload(reload);
}

void plugin_host_reload_summary(const struct wg_host_reload *reload,
                                struct wg_host_reload_summary *summary)
{
    *summary = (struct wg_host_reload_summary){0};
    for (size_t b = 0; b < reload->bus_count; b++) {
        const struct next_bus *entry = &reload->buses[b];
        char *list = NULL;
        if (entry->kept) {
            summary->kept++;
        } else if (entry->old) {
            summary->restarted++;
            list = summary->restarted_ids;
        } else {
            summary->added++;
            list = summary->added_ids;
        }
        if (list) {
            size_t used = strlen(list);
            snprintf(list + used, sizeof summary->added_ids - used, "%s%s", used ? ", " : "",
                     reload->next->buses[b].id);
        }
    }
    for (size_t r = 0; r < reload->removed_count; r++) {
        size_t used = strlen(summary->removed_ids);
        snprintf(summary->removed_ids + used, sizeof summary->removed_ids - used, "%s%s",
                 used ? ", " : "", bus_id(reload->removed[r]));
        summary->removed++;
    }
}

bool plugin_host_reload_restarts(const struct wg_host_reload *reload, size_t device)
{
    if (device >= reload->next->device_count)
        return false;
    size_t bus = reload->next->devices[device].bus;
    return bus < reload->bus_count && reload->buses[bus].fresh != NULL;
}
