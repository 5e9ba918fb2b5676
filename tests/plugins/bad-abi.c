/* A test driver built for a plugin ABI this daemon does not speak. */
#include "drivers/plugin.h"

static int never_open(const struct wg_host *host, const struct wg_bus_view *bus, void **instance)
{
    (void)host, (void)bus, (void)instance;
    return -1;
}

__attribute__((visibility("default"))) const struct wg_plugin_descriptor wardgate_plugin = {
    .abi_version = WG_PLUGIN_ABI_VERSION + 98,
    .struct_size = sizeof(struct wg_plugin_descriptor),
    .name = "bad-abi",
    .open = never_open,
};
