/* Loading driver files: dlopen, the descriptor's ABI version, size, name and
 * lifecycle functions (ABI 1 through plugin_abi1.c), and the driver's
 * context (ABI 3), made once per loaded file and shared by its instances. */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "drivers/plugin_host_private.h"

/* ---- loading ---- */

static bool driver_name_ok(const char *name)
{
    if (!name || !*name || strlen(name) > 64)
        return false;
    for (const char *c = name; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '-' || *c == '_'))
            return false;
    return true;
}

char *plugin_driver_path(const char *plugin_dir, const char *driver)
{
    char *path = NULL;
    return asprintf(&path, "%s/%s.so", plugin_dir, driver) < 0 ? NULL : path;
}

void plugin_driver_unload(struct wg_plugin_host *host, struct loaded_driver *driver)
{
    for (struct loaded_driver **link = &host->drivers; *link; link = &(*link)->next)
        if (*link == driver) {
            *link = driver->next;
            break;
        }
    if (driver->context_free)
        driver->context_free(driver->context);
    if (driver->handle)
        dlclose(driver->handle);
    free(driver->name);
    free(driver->path);
    free(driver);
}

/* Checks the descriptor the driver exports; fills abi, v1/v2 and take_over. */
static bool check_descriptor(struct loaded_driver *driver, const struct wg_bus *bus,
                             struct wg_diag *diag)
{
    const uint32_t *head = dlsym(driver->handle, WG_PLUGIN_SYMBOL);
    if (!head) {
        diag_at(diag, bus->node, "bus %s: %s is not a wardgate plugin (no symbol \"%s\")", bus->id,
                driver->path, WG_PLUGIN_SYMBOL);
        return false;
    }
    uint32_t abi = head[0], size = head[1];
    const char *name = NULL;
    bool complete = false;
    if (abi == WG_PLUGIN_ABI1) {
        const struct wg_plugin_descriptor_v1 *v1 = (const void *)head;
        if (size != sizeof *v1) {
            diag_at(diag, bus->node,
                    "bus %s: plugin %s (plugin ABI 1) has a descriptor of %u bytes, expected %zu; "
                    "rebuild the plugin",
                    bus->id, driver->path, size, sizeof *v1);
            return false;
        }
        driver->v1 = v1;
        name = v1->name;
        complete = v1->open && v1->start && v1->write && v1->stop && v1->close;
    } else if (abi == 2 || abi == WG_PLUGIN_ABI_VERSION) {
        const struct wg_plugin_descriptor *v2 = (const void *)head;
        if (size < WG_PLUGIN_DESCRIPTOR_MIN_SIZE) {
            diag_at(diag, bus->node,
                    "bus %s: plugin %s (plugin ABI %u) has a descriptor of %u bytes, at least %zu "
                    "expected; rebuild the plugin",
                    bus->id, driver->path, abi, size, (size_t)WG_PLUGIN_DESCRIPTOR_MIN_SIZE);
            return false;
        }
        driver->v2 = v2;
        name = v2->name;
        complete = v2->open && v2->start && v2->write && v2->stop && v2->close;
        if (size >= offsetof(struct wg_plugin_descriptor, take_over) + sizeof v2->take_over)
            driver->take_over = v2->take_over;
        /* The driver's context (ABI 3): both members or neither. */
        if (size >= offsetof(struct wg_plugin_descriptor, context_free) + sizeof v2->context_free &&
            (v2->context_new != NULL) != (v2->context_free != NULL)) {
            diag_at(diag, bus->node,
                    "bus %s: plugin %s has context_new without context_free or the reverse; "
                    "rebuild the plugin",
                    bus->id, driver->path);
            return false;
        }
    } else {
        diag_at(diag, bus->node,
                "bus %s: plugin %s was built for plugin ABI %u; this wardgated loads ABI %u to %u; "
                "rebuild the plugin",
                bus->id, driver->path, abi, WG_PLUGIN_ABI_OLDEST, WG_PLUGIN_ABI_VERSION);
        return false;
    }
    driver->abi = abi;
    if (!name || strcmp(name, bus->driver) != 0) {
        diag_at(diag, bus->node, "bus %s: plugin %s calls itself \"%s\", expected \"%s\"", bus->id,
                driver->path, name ? name : "(null)", bus->driver);
        return false;
    }
    if (!complete) {
        diag_at(diag, bus->node, "bus %s: plugin %s lacks a lifecycle function", bus->id,
                driver->path);
        return false;
    }
    return true;
}

/* The driver serving `bus` from `path`, loaded once per path. */
struct loaded_driver *plugin_driver_load(struct wg_plugin_host *host, const char *path,
                                         const struct wg_bus *bus, struct wg_diag *diag)
{
    for (struct loaded_driver *driver = host->drivers; driver; driver = driver->next)
        if (strcmp(driver->path, path) == 0) {
            if (strcmp(driver->name, bus->driver) != 0) {
                diag_at(diag, bus->node, "bus %s: plugin %s calls itself \"%s\", expected \"%s\"",
                        bus->id, path, driver->name, bus->driver);
                return NULL;
            }
            return driver;
        }
    if (!driver_name_ok(bus->driver)) {
        diag_at(diag, bus->node,
                "bus %s: driver \"%s\" is not a valid plugin name (letters, digits, '-', '_')",
                bus->id, bus->driver);
        return NULL;
    }
    struct loaded_driver *driver = calloc(1, sizeof *driver);
    if (driver) {
        driver->name = strdup(bus->driver);
        driver->path = strdup(path);
    }
    if (!driver || !driver->name || !driver->path) {
        diag_at(diag, bus->node, "out of memory loading driver");
        if (driver) {
            free(driver->name);
            free(driver->path);
        }
        free(driver);
        return NULL;
    }
    driver->next = host->drivers;
    host->drivers = driver;
    driver->handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!driver->handle) {
        diag_at(diag, bus->node, "bus %s: cannot load driver \"%s\": %s", bus->id, bus->driver,
                dlerror());
        plugin_driver_unload(host, driver);
        return NULL;
    }
    if (!check_descriptor(driver, bus, diag)) {
        plugin_driver_unload(host, driver);
        return NULL;
    }
    const struct wg_plugin_descriptor *v2 = driver->v2;
    if (v2 &&
        v2->struct_size >=
            offsetof(struct wg_plugin_descriptor, context_free) + sizeof v2->context_free &&
        v2->context_new) {
        if (v2->context_new(&driver->context) != 0) {
            diag_at(diag, bus->node, "bus %s: driver %s could not set up its shared context",
                    bus->id, driver->name);
            plugin_driver_unload(host, driver);
            return NULL;
        }
        driver->context_free = v2->context_free;
    }
    const char *version = driver->abi == WG_PLUGIN_ABI1 ? driver->v1->version : driver->v2->version;
    wg_info("loaded driver %s %s (plugin ABI %u%s) from %s", driver->name, version ? version : "?",
            driver->abi,
            driver->abi == WG_PLUGIN_ABI1 ? ", through the ABI 1 compatibility layer" : "", path);
    return driver;
}
