/* Owned bus views and their comparison; see bus_view.h. */
#include "drivers/bus_view.h"

#include <stdlib.h>
#include <string.h>

#include "config/cfgtree.h"

static const char *keep(struct bus_view *owned, const char *text)
{
    if (owned->string_count == owned->string_capacity) {
        size_t capacity = owned->string_capacity ? owned->string_capacity * 2 : 32;
        char **grown = realloc(owned->strings, capacity * sizeof *grown);
        if (!grown)
            return NULL;
        owned->strings = grown;
        owned->string_capacity = capacity;
    }
    char *copy = strdup(text ? text : "");
    if (copy)
        owned->strings[owned->string_count++] = copy;
    return copy;
}

void bus_view_free(struct bus_view *owned)
{
    if (!owned)
        return;
    for (size_t d = 0; owned->points && d < owned->view.device_count; d++)
        free(owned->points[d]);
    for (size_t i = 0; i < owned->string_count; i++)
        free(owned->strings[i]);
    free(owned->strings);
    free(owned->points);
    free(owned->devices);
    free(owned->driver_path);
    free(owned);
}

static bool on_bus(const struct wg_device *device, size_t bus)
{
    return device->bus == bus && device->enabled;
}

static bool build_points(struct bus_view *owned, const struct wg_profile *profile,
                         struct wg_point_view *points)
{
    for (size_t p = 0; p < profile->point_count; p++) {
        const struct wg_point_def *def = &profile->points[p];
        points[p] = (struct wg_point_view){.name = keep(owned, def->name),
                                           .meaning = keep(owned, def->meaning),
                                           .kind = def->kind,
                                           .direction = def->direction,
                                           .unit = keep(owned, def->unit),
                                           .source = def->source};
        if (!points[p].name || !points[p].meaning || !points[p].unit)
            return false;
    }
    return true;
}

struct bus_view *bus_view_build(const struct wg_config *config, size_t bus, const char *driver_path)
{
    struct bus_view *owned = calloc(1, sizeof *owned);
    if (!owned)
        return NULL;
    size_t count = 0;
    for (size_t i = 0; i < config->device_count; i++)
        count += on_bus(&config->devices[i], bus);
    owned->driver_path = strdup(driver_path ? driver_path : "");
    owned->devices = calloc(count ? count : 1, sizeof *owned->devices);
    owned->points = calloc(count ? count : 1, sizeof *owned->points);
    owned->view.id = keep(owned, config->buses[bus].id);
    owned->view.driver = keep(owned, config->buses[bus].driver);
    owned->view.settings = config->buses[bus].settings;
    owned->view.devices = owned->devices;
    if (!owned->driver_path || !owned->devices || !owned->points || !owned->view.id ||
        !owned->view.driver) {
        bus_view_free(owned);
        return NULL;
    }
    for (size_t i = 0; i < config->device_count; i++) {
        const struct wg_device *device = &config->devices[i];
        if (!on_bus(device, bus))
            continue;
        const struct wg_profile *profile = &config->profiles[device->profile];
        size_t local = owned->view.device_count++; /* counted first: freed on failure */
        owned->points[local] =
            calloc(profile->point_count ? profile->point_count : 1, sizeof **owned->points);
        char location[256];
        config_device_location(config, device, location, sizeof location);
        owned->devices[local] = (struct wg_device_view){.id = keep(owned, device->id),
                                                        .address = device->address,
                                                        .poll_ms = device->poll_ms,
                                                        .profile_id = keep(owned, profile->id),
                                                        .points = owned->points[local],
                                                        .point_count = profile->point_count,
                                                        .settings = device->settings,
                                                        .location = keep(owned, location)};
        const struct wg_device_view *view = &owned->devices[local];
        if (!owned->points[local] || !view->id || !view->profile_id || !view->location ||
            !build_points(owned, profile, owned->points[local])) {
            bus_view_free(owned);
            return NULL;
        }
    }
    return owned;
}

static bool same_point(const struct wg_point_view *a, const struct wg_point_view *b)
{
    return strcmp(a->name, b->name) == 0 && strcmp(a->meaning, b->meaning) == 0 &&
           a->kind == b->kind && a->direction == b->direction && strcmp(a->unit, b->unit) == 0 &&
           cfg_equal(a->source, b->source);
}

static bool same_device(const struct wg_device_view *a, const struct wg_device_view *b)
{
    if (strcmp(a->id, b->id) != 0 || a->address != b->address || a->poll_ms != b->poll_ms ||
        strcmp(a->profile_id, b->profile_id) != 0 || strcmp(a->location, b->location) != 0 ||
        a->point_count != b->point_count || !cfg_equal(a->settings, b->settings))
        return false;
    for (size_t p = 0; p < a->point_count; p++)
        if (!same_point(&a->points[p], &b->points[p]))
            return false;
    return true;
}

bool bus_view_equal(const struct bus_view *a, const struct bus_view *b)
{
    if (strcmp(a->driver_path, b->driver_path) != 0 || strcmp(a->view.id, b->view.id) != 0 ||
        strcmp(a->view.driver, b->view.driver) != 0 ||
        a->view.device_count != b->view.device_count ||
        !cfg_equal(a->view.settings, b->view.settings))
        return false;
    for (size_t d = 0; d < a->view.device_count; d++)
        if (!same_device(&a->devices[d], &b->devices[d]))
            return false;
    return true;
}

void bus_view_rebind(struct bus_view *owned, const struct wg_config *config, size_t bus)
{
    owned->view.settings = config->buses[bus].settings;
    size_t local = 0;
    for (size_t i = 0; i < config->device_count && local < owned->view.device_count; i++) {
        const struct wg_device *device = &config->devices[i];
        if (!on_bus(device, bus))
            continue;
        const struct wg_profile *profile = &config->profiles[device->profile];
        owned->devices[local].settings = device->settings;
        for (size_t p = 0; p < profile->point_count && p < owned->devices[local].point_count; p++)
            owned->points[local][p].source = profile->points[p].source;
        local++;
    }
}
