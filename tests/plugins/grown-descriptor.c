/* A driver built against a newer revision of plugin ABI 2, whose descriptor
 * grew (struct_size beyond this daemon's): it loads, the host reads only the
 * members it knows. */
#include "drivers/plugin.h"

struct grown_descriptor {
    struct wg_plugin_descriptor known;
    void *added_later[4];
};

static int grown_open(const struct wg_host *host, const struct wg_bus_view *bus, void **instance)
{
    (void)host, (void)bus;
    static int self;
    *instance = &self;
    return 0;
}
static int grown_start(void *instance)
{
    (void)instance;
    return 0;
}
static int grown_write(void *instance, const struct wg_write_request *request)
{
    (void)instance, (void)request;
    return 0;
}
static void grown_stop(void *instance, enum wg_stop_reason reason)
{
    (void)instance, (void)reason;
}
static void grown_close(void *instance)
{
    (void)instance;
}

__attribute__((visibility("default"))) const struct grown_descriptor wardgate_plugin = {
    .known = {.abi_version = WG_PLUGIN_ABI_VERSION,
              .struct_size = sizeof(struct grown_descriptor),
              .name = "grown-descriptor",
              .version = "test",
              .open = grown_open,
              .start = grown_start,
              .write = grown_write,
              .stop = grown_stop,
              .close = grown_close},
};
