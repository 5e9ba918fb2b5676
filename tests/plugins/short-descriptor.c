/* A test driver whose descriptor is smaller than this daemon's: an older layout. */
#include "plugin.h"

__attribute__((visibility("default"))) const struct wg_plugin_descriptor wardgate_plugin = {
    .abi_version = WG_PLUGIN_ABI_VERSION,
    .struct_size = sizeof(struct wg_plugin_descriptor) - sizeof(void *),
    .name = "short-descriptor",
};
