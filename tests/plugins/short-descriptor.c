/* A test driver whose descriptor is shorter than the mandatory part of
 * plugin ABI 2 (it ends before `close`): refused. */
#include "drivers/plugin.h"

__attribute__((visibility("default"))) const struct wg_plugin_descriptor wardgate_plugin = {
    .abi_version = WG_PLUGIN_ABI_VERSION,
    .struct_size = WG_PLUGIN_DESCRIPTOR_MIN_SIZE - sizeof(void *),
    .name = "short-descriptor",
};
