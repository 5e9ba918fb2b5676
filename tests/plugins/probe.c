/* A test driver that does nothing by itself: it records the host and bus it
 * was opened with so a unit test can post readings, health and write results
 * from the test thread, exactly when it wants. Writes are recorded too.
 * Settings: refuse: true (open refuses), fail_start: true (start fails). */
#include <stdlib.h>

#include "probe.h"

/* Read by the tests through dlsym. */
__attribute__((visibility("default"))) struct probe_bus probe_buses[PROBE_MAX_BUSES];
__attribute__((visibility("default"))) int probe_bus_count;
__attribute__((visibility("default"))) int probe_contexts_made;

static int probe_open(const struct wg_host *host, const struct wg_bus_view *bus, void **instance)
{
    if (probe_bus_count == PROBE_MAX_BUSES)
        return -1;
    static const char *const keys[] = {"refuse", "fail_start", NULL};
    bool fail_start = false;
    if (bus->settings) {
        bool refuse = false;
        if (!host->cfg_only_keys(host, bus->settings, keys) ||
            !host->cfg_bool(host, bus->settings, "refuse", &refuse) ||
            !host->cfg_bool(host, bus->settings, "fail_start", &fail_start))
            return -1;
        if (refuse) {
            host->cfg_error(host, bus->settings, "refuse: the probe was told to refuse");
            return -1;
        }
    }
    struct probe_bus *probe = &probe_buses[probe_bus_count++];
    *probe = (struct probe_bus){.host = host,
                                .bus = bus,
                                .fail_start = fail_start,
                                .context = WG_HOST_HAS(host, driver_context) ? host->driver_context
                                                                             : NULL};
    *instance = probe;
    return 0;
}

static int probe_start(void *instance)
{
    struct probe_bus *probe = instance;
    if (probe->fail_start)
        return -1;
    probe->started = 1;
    return 0;
}

static int probe_write(void *instance, const struct wg_write_request *request)
{
    struct probe_bus *probe = instance;
    probe->last_write = *request;
    probe->write_count++;
    return 0;
}

static void probe_stop(void *instance, enum wg_stop_reason reason)
{
    struct probe_bus *probe = instance;
    probe->started = 0;
    probe->stopped = 1;
    probe->stop_reason = reason;
}

static void probe_close(void *instance)
{
    struct probe_bus *probe = instance;
    probe->host = NULL;
    probe->bus = NULL;
}

/* The driver's context (ABI 3): one per loaded file, shared by its buses. */
static int probe_context_new(void **context)
{
    *context = calloc(1, sizeof(int));
    probe_contexts_made++;
    return *context ? 0 : -1;
}

static void probe_context_free(void *context)
{
    free(context);
}

WG_PLUGIN_DEFINE(.name = "probe", .version = "test", .open = probe_open, .start = probe_start,
                 .write = probe_write, .stop = probe_stop, .close = probe_close,
                 .context_new = probe_context_new, .context_free = probe_context_free);
