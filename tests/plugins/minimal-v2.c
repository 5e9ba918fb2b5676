/* A plugin ABI 2 driver whose descriptor has only the mandatory part
 * (struct_size = WG_PLUGIN_DESCRIPTOR_MIN_SIZE), as a driver built before an
 * optional member existed would. Its take_over lies beyond that size: the
 * host must not call it. */
#include "drivers/plugin.h"

__attribute__((visibility("default"))) int minimal_take_overs;
__attribute__((visibility("default"))) int minimal_opens;

static int minimal_open(const struct wg_host *host, const struct wg_bus_view *bus, void **instance)
{
    (void)host, (void)bus;
    *instance = &minimal_opens;
    minimal_opens++;
    return 0;
}
static int minimal_start(void *instance)
{
    (void)instance;
    return 0;
}
static int minimal_write(void *instance, const struct wg_write_request *request)
{
    (void)instance, (void)request;
    return 0;
}
static void minimal_stop(void *instance, enum wg_stop_reason reason)
{
    (void)instance, (void)reason;
}
static void minimal_close(void *instance)
{
    (void)instance;
}
static int minimal_take_over(void *instance, void *previous)
{
    (void)instance, (void)previous;
    minimal_take_overs++;
    return 0;
}

__attribute__((visibility("default"))) const struct wg_plugin_descriptor wardgate_plugin = {
    .abi_version = 2, /* built before ABI 3: same layout, no context */
    .struct_size = WG_PLUGIN_DESCRIPTOR_MIN_SIZE,
    .name = "minimal-v2",
    .version = "test",
    .open = minimal_open,
    .start = minimal_start,
    .write = minimal_write,
    .stop = minimal_stop,
    .close = minimal_close,
    .take_over = minimal_take_over,
};
