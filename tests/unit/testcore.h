/* Helpers for unit tests that run a core over the probe test driver
 * (tests/plugins/probe.c): the driver loaded so that a test can reach its
 * buses, and a core made from a site config (test_core, test_telemetry). */
#ifndef WG_TESTCORE_H
#define WG_TESTCORE_H

#include <dlfcn.h>
#include <stdio.h>

#include "../plugins/probe.h"
#include "config/config.h"
#include "core/core.h"
#include "testconfig.h"

/* Loads probe.so from `plugin_dir` with no bus opened yet; `*buses` are its
 * buses as the core opens them. NULL when it cannot be loaded. */
static inline void *test_probe_load(const char *plugin_dir, struct probe_bus **buses)
{
    char path[512];
    snprintf(path, sizeof path, "%s/probe.so", plugin_dir);
    void *handle = dlopen(path, RTLD_NOW);
    if (!handle) {
        fprintf(stderr, "# %s\n", dlerror());
        return NULL;
    }
    *buses = dlsym(handle, "probe_buses");
    *(int *)dlsym(handle, "probe_bus_count") = 0;
    return handle;
}

/* A core (not started) of the site at `config_path` over a 64 MiB store at
 * `db_path` whose writer waits `busy_timeout_ms` for a lock; every loader
 * message is printed. NULL on failure. */
static inline struct wg_core *test_core_new(const char *config_path, const char *plugin_dir,
                                            const char *db_path, int busy_timeout_ms,
                                            struct wg_clock *clock)
{
    struct wg_diag diag;
    diag_init(&diag);
    struct wg_config *config = config_load(config_path, &diag);
    for (size_t i = 0; i < diag.count; i++)
        fprintf(stderr, "# config: %s\n", diag.messages[i]);
    struct wg_store *store =
        config ? test_open_store_with(db_path, 64LL << 20, busy_timeout_ms) : NULL;
    struct wg_core *core = NULL;
    if (store) {
        struct wg_core_options options = {
            .config_path = config_path, .plugin_dir = plugin_dir, .clock = clock};
        core = core_new(&options, config, store, &diag);
        for (size_t i = 0; !core && i < diag.count; i++)
            fprintf(stderr, "# core: %s\n", diag.messages[i]);
    } else if (config) {
        config_free(config);
    }
    diag_free(&diag);
    return core;
}

#endif
