/* Driver loading, per-bus instances and the host callbacks; see plugin_host.h. */
#include "plugin_host.h"

#include <dlfcn.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

struct loaded_driver {
    char *name;
    char *path;
    void *handle;
    const struct wg_plugin_descriptor *descriptor;
};

/* One bus: the host API handed to its driver comes first, so a callback's
 * `const struct wg_host *` converts back to its slot. */
struct bus_slot {
    struct wg_host api;
    struct wg_plugin_host *owner;
    size_t bus_index;
    const struct loaded_driver *driver;
    void *instance;
    bool started;
    struct wg_bus_view view;
    struct wg_device_view *devices;
    struct wg_point_view **points; /* per device */
    char **locations;
    uint32_t *core_device; /* local device index -> core device index */
    struct wg_diag *diag;  /* where config errors go while opening */
};

struct wg_plugin_host {
    const struct wg_config *config;
    struct wg_queue *queue;
    const struct wg_clock *clock;
    struct loaded_driver *drivers;
    size_t driver_count;
    struct bus_slot *buses;
    size_t bus_count;
    /* core device index -> (bus, local index); bus = SIZE_MAX for disabled devices */
    size_t *device_bus;
    uint32_t *device_local;
};

static struct bus_slot *slot_of(const struct wg_host *api)
{
    return (struct bus_slot *)api; /* api is the first member */
}

/* ---- host callbacks (driver threads) ---- */

static int64_t host_now_ms(const struct wg_host *api)
{
    return clock_wall_ms(slot_of(api)->owner->clock);
}

static void host_log(const struct wg_host *api, int level, const char *fmt, ...)
{
    const struct bus_slot *slot = slot_of(api);
    char text[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    wg_log((enum wg_log_level)level, "bus %s: %s", slot->view.id, text);
}

static bool local_device_ok(const struct bus_slot *slot, uint32_t device, const char *what)
{
    if (device < slot->view.device_count)
        return true;
    wg_err("bus %s: driver %s posted %s for device #%u, but the bus has %zu devices (driver bug)",
           slot->view.id, slot->driver->name, what, device, slot->view.device_count);
    return false;
}

static void push_or_warn(const struct bus_slot *slot, const struct wg_msg *msg)
{
    if (queue_push(slot->owner->queue, msg) != 0)
        wg_debug("bus %s: message after shutdown began, not queued", slot->view.id);
}

static void host_post_reading(const struct wg_host *api, uint32_t device, uint32_t point,
                              double value, int64_t ts_ms)
{
    const struct bus_slot *slot = slot_of(api);
    if (!local_device_ok(slot, device, "a reading"))
        return;
    if (point >= slot->devices[device].point_count) {
        wg_err("bus %s: driver posted point #%u of device %s, which has %zu points (driver bug)",
               slot->view.id, point, slot->devices[device].id, slot->devices[device].point_count);
        return;
    }
    struct wg_msg msg = {.type = WG_MSG_READING,
                         .device = slot->core_device[device],
                         .point = point,
                         .value = value,
                         .ts_ms = ts_ms};
    push_or_warn(slot, &msg);
}

static void host_post_health(const struct wg_host *api, uint32_t device, enum wg_health health,
                             const char *reason)
{
    const struct bus_slot *slot = slot_of(api);
    if (!local_device_ok(slot, device, "health"))
        return;
    struct wg_msg msg = {.type = WG_MSG_HEALTH,
                         .device = slot->core_device[device],
                         .value = (double)health,
                         .ts_ms = host_now_ms(api)};
    snprintf(msg.text, sizeof msg.text, "%s", reason ? reason : "");
    push_or_warn(slot, &msg);
}

static void host_post_write_result(const struct wg_host *api, uint64_t request_id, bool ok,
                                   const char *reason)
{
    const struct bus_slot *slot = slot_of(api);
    struct wg_msg msg = {
        .type = WG_MSG_WRITE_RESULT, .request_id = request_id, .ok = ok, .ts_ms = host_now_ms(api)};
    snprintf(msg.text, sizeof msg.text, "%s", reason ? reason : "");
    push_or_warn(slot, &msg);
}

static void host_post_counter(const struct wg_host *api, uint32_t device, const char *counter,
                              uint64_t increment)
{
    const struct bus_slot *slot = slot_of(api);
    if (!local_device_ok(slot, device, "a counter"))
        return;
    struct wg_msg msg = {.type = WG_MSG_COUNTER,
                         .device = slot->core_device[device],
                         .value = (double)increment,
                         .ts_ms = host_now_ms(api)};
    snprintf(msg.text, sizeof msg.text, "%s", counter ? counter : "errors");
    push_or_warn(slot, &msg);
}

/* ---- config access for drivers (core thread, during open) ---- */

static const wg_cfg_node *host_cfg_get(const wg_cfg_node *map, const char *key)
{
    return cfg_get(map, key);
}

static const char *host_cfg_scalar(const wg_cfg_node *node)
{
    return cfg_scalar(node);
}

static size_t host_cfg_seq_len(const wg_cfg_node *seq)
{
    return cfg_seq_len(seq);
}

static const wg_cfg_node *host_cfg_seq_at(const wg_cfg_node *seq, size_t index)
{
    return cfg_seq_at(seq, index);
}

static bool host_cfg_int(const struct wg_host *api, const wg_cfg_node *map, const char *key,
                         long long min, long long max, long long *out)
{
    return cfg_read_int(slot_of(api)->diag, map, key, min, max, out);
}

static bool host_cfg_double(const struct wg_host *api, const wg_cfg_node *map, const char *key,
                            double *out)
{
    return cfg_read_double(slot_of(api)->diag, map, key, out);
}

static bool host_cfg_bool(const struct wg_host *api, const wg_cfg_node *map, const char *key,
                          bool *out)
{
    return cfg_read_bool(slot_of(api)->diag, map, key, out);
}

static bool host_cfg_string(const struct wg_host *api, const wg_cfg_node *map, const char *key,
                            const char **out)
{
    return cfg_read_string(slot_of(api)->diag, map, key, out);
}

static bool host_cfg_only_keys(const struct wg_host *api, const wg_cfg_node *map,
                               const char *const *allowed)
{
    return cfg_only_keys(slot_of(api)->diag, map, allowed);
}

static void host_cfg_error(const struct wg_host *api, const wg_cfg_node *node, const char *fmt, ...)
{
    char text[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    diag_at(slot_of(api)->diag, node, "%s", text);
}

static const struct wg_host host_api_template = {
    .struct_size = sizeof(struct wg_host),
    .now_ms = host_now_ms,
    .log = host_log,
    .post_reading = host_post_reading,
    .post_health = host_post_health,
    .post_write_result = host_post_write_result,
    .post_counter = host_post_counter,
    .cfg_get = host_cfg_get,
    .cfg_scalar = host_cfg_scalar,
    .cfg_seq_len = host_cfg_seq_len,
    .cfg_seq_at = host_cfg_seq_at,
    .cfg_int = host_cfg_int,
    .cfg_double = host_cfg_double,
    .cfg_bool = host_cfg_bool,
    .cfg_string = host_cfg_string,
    .cfg_only_keys = host_cfg_only_keys,
    .cfg_error = host_cfg_error,
};

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

static const struct loaded_driver *load_driver(struct wg_plugin_host *host, const char *plugin_dir,
                                               const struct wg_bus *bus, struct wg_diag *diag)
{
    for (size_t i = 0; i < host->driver_count; i++)
        if (strcmp(host->drivers[i].name, bus->driver) == 0)
            return host->drivers[i].descriptor ? &host->drivers[i] : NULL;

    struct loaded_driver *driver = &host->drivers[host->driver_count++];
    driver->name = strdup(bus->driver);
    if (!driver->name) {
        diag_at(diag, bus->node, "out of memory loading driver");
        return NULL;
    }
    if (!driver_name_ok(bus->driver)) {
        diag_at(diag, bus->node,
                "bus %s: driver \"%s\" is not a valid plugin name (letters, digits, '-', '_')",
                bus->id, bus->driver);
        return NULL;
    }
    if (asprintf(&driver->path, "%s/%s.so", plugin_dir, bus->driver) < 0) {
        driver->path = NULL;
        diag_at(diag, bus->node, "out of memory loading driver");
        return NULL;
    }
    driver->handle = dlopen(driver->path, RTLD_NOW | RTLD_LOCAL);
    if (!driver->handle) {
        diag_at(diag, bus->node, "bus %s: cannot load driver \"%s\": %s", bus->id, bus->driver,
                dlerror());
        return NULL;
    }
    const struct wg_plugin_descriptor *descriptor = dlsym(driver->handle, WG_PLUGIN_SYMBOL);
    if (!descriptor) {
        diag_at(diag, bus->node, "bus %s: %s is not a wardgate plugin (no symbol \"%s\")", bus->id,
                driver->path, WG_PLUGIN_SYMBOL);
        return NULL;
    }
    if (descriptor->abi_version != WG_PLUGIN_ABI_VERSION) {
        diag_at(diag, bus->node,
                "bus %s: plugin %s was built for plugin ABI %u, this wardgated speaks ABI %u; "
                "rebuild the plugin",
                bus->id, driver->path, descriptor->abi_version, WG_PLUGIN_ABI_VERSION);
        return NULL;
    }
    if (descriptor->struct_size != sizeof(struct wg_plugin_descriptor)) {
        diag_at(diag, bus->node,
                "bus %s: plugin %s has a descriptor of %u bytes, expected %zu; rebuild the plugin",
                bus->id, driver->path, descriptor->struct_size,
                sizeof(struct wg_plugin_descriptor));
        return NULL;
    }
    if (!descriptor->name || strcmp(descriptor->name, bus->driver) != 0) {
        diag_at(diag, bus->node, "bus %s: plugin %s calls itself \"%s\", expected \"%s\"", bus->id,
                driver->path, descriptor->name ? descriptor->name : "(null)", bus->driver);
        return NULL;
    }
    if (!descriptor->open || !descriptor->start || !descriptor->write || !descriptor->stop ||
        !descriptor->close) {
        diag_at(diag, bus->node, "bus %s: plugin %s lacks a lifecycle function", bus->id,
                driver->path);
        return NULL;
    }
    driver->descriptor = descriptor;
    wg_info("loaded driver %s %s from %s", descriptor->name,
            descriptor->version ? descriptor->version : "?", driver->path);
    return driver;
}

static void free_slot_views(struct bus_slot *slot)
{
    for (size_t d = 0; d < slot->view.device_count; d++) {
        free(slot->points ? slot->points[d] : NULL);
        free(slot->locations ? slot->locations[d] : NULL);
    }
    free(slot->points);
    free(slot->locations);
    free(slot->devices);
    free(slot->core_device);
}

static int build_slot_views(struct wg_plugin_host *host, struct bus_slot *slot)
{
    const struct wg_config *config = host->config;
    size_t count = 0;
    for (size_t i = 0; i < config->device_count; i++)
        if (config->devices[i].bus == slot->bus_index && config->devices[i].enabled)
            count++;
    slot->devices = calloc(count ? count : 1, sizeof *slot->devices);
    slot->points = calloc(count ? count : 1, sizeof *slot->points);
    slot->locations = calloc(count ? count : 1, sizeof *slot->locations);
    slot->core_device = calloc(count ? count : 1, sizeof *slot->core_device);
    if (!slot->devices || !slot->points || !slot->locations || !slot->core_device)
        return -1;
    size_t local = 0;
    for (size_t i = 0; i < config->device_count; i++) {
        const struct wg_device *device = &config->devices[i];
        if (device->bus != slot->bus_index || !device->enabled)
            continue;
        const struct wg_profile *profile = &config->profiles[device->profile];
        struct wg_point_view *points =
            calloc(profile->point_count ? profile->point_count : 1, sizeof *points);
        char location[256];
        config_device_location(config, device, location, sizeof location);
        slot->points[local] = points;
        slot->locations[local] = strdup(location);
        slot->view.device_count = local + 1; /* so a failure below frees what exists */
        if (!points || !slot->locations[local])
            return -1;
        for (size_t p = 0; p < profile->point_count; p++) {
            const struct wg_point_def *def = &profile->points[p];
            points[p] = (struct wg_point_view){.name = def->name,
                                               .meaning = def->meaning,
                                               .kind = def->kind,
                                               .direction = def->direction,
                                               .unit = def->unit ? def->unit : "",
                                               .source = def->source};
        }
        slot->devices[local] = (struct wg_device_view){.id = device->id,
                                                       .address = device->address,
                                                       .poll_ms = device->poll_ms,
                                                       .profile_id = profile->id,
                                                       .points = points,
                                                       .point_count = profile->point_count,
                                                       .settings = device->settings,
                                                       .location = slot->locations[local]};
        slot->core_device[local] = (uint32_t)i;
        host->device_bus[i] = slot->bus_index;
        host->device_local[i] = (uint32_t)local;
        local++;
    }
    slot->view.devices = slot->devices;
    slot->view.device_count = count;
    return 0;
}

struct wg_plugin_host *plugin_host_open(const struct wg_config *config, const char *plugin_dir,
                                        struct wg_queue *queue, const struct wg_clock *clock,
                                        struct wg_diag *diag)
{
    struct wg_plugin_host *host = calloc(1, sizeof *host);
    if (!host) {
        diag_at(diag, NULL, "out of memory");
        return NULL;
    }
    host->config = config;
    host->queue = queue;
    host->clock = clock;
    size_t buses = config->bus_count;
    host->drivers = calloc(buses ? buses : 1, sizeof *host->drivers);
    host->buses = calloc(buses ? buses : 1, sizeof *host->buses);
    size_t devices = config->device_count ? config->device_count : 1;
    host->device_bus = malloc(devices * sizeof *host->device_bus);
    host->device_local = calloc(devices, sizeof *host->device_local);
    if (!host->drivers || !host->buses || !host->device_bus || !host->device_local) {
        diag_at(diag, NULL, "out of memory");
        plugin_host_close(host);
        return NULL;
    }
    for (size_t i = 0; i < config->device_count; i++)
        host->device_bus[i] = SIZE_MAX;

    size_t errors_before = diag->count;
    for (size_t b = 0; b < buses; b++) {
        const struct wg_bus *bus = &config->buses[b];
        struct bus_slot *slot = &host->buses[host->bus_count++];
        slot->api = host_api_template;
        slot->api.core = host;
        slot->owner = host;
        slot->bus_index = b;
        slot->diag = diag;
        slot->view.id = bus->id;
        slot->view.driver = bus->driver;
        slot->view.settings = bus->settings;
        slot->driver = load_driver(host, plugin_dir, bus, diag);
        if (!slot->driver)
            continue; /* report every bus's problem, then give up */
        if (build_slot_views(host, slot) != 0) {
            diag_at(diag, bus->node, "out of memory building bus %s", bus->id);
            continue;
        }
        size_t before_open = diag->count;
        if (slot->driver->descriptor->open(&slot->api, &slot->view, &slot->instance) != 0) {
            slot->instance = NULL;
            if (diag->count == before_open)
                diag_at(diag, bus->node, "bus %s: driver %s refused its configuration", bus->id,
                        bus->driver);
        } else if (diag->count != before_open) {
            /* The driver reported problems yet claimed success: believe the problems. */
            slot->driver->descriptor->close(slot->instance);
            slot->instance = NULL;
        }
    }
    if (diag->count != errors_before) {
        plugin_host_close(host);
        return NULL;
    }
    return host;
}

int plugin_host_start(struct wg_plugin_host *host)
{
    for (size_t b = 0; b < host->bus_count; b++) {
        struct bus_slot *slot = &host->buses[b];
        if (slot->driver->descriptor->start(slot->instance) != 0) {
            wg_err("bus %s: driver %s failed to start", slot->view.id, slot->driver->name);
            plugin_host_stop(host);
            return -1;
        }
        slot->started = true;
        wg_info("bus %s: driver %s started with %zu devices", slot->view.id, slot->driver->name,
                slot->view.device_count);
    }
    return 0;
}

void plugin_host_stop(struct wg_plugin_host *host)
{
    /* Producers blocked on a full queue must not hold up the join. */
    queue_close(host->queue);
    for (size_t b = 0; b < host->bus_count; b++) {
        struct bus_slot *slot = &host->buses[b];
        if (slot->started) {
            slot->driver->descriptor->stop(slot->instance);
            slot->started = false;
        }
    }
    queue_reopen(host->queue);
}

void plugin_host_close(struct wg_plugin_host *host)
{
    if (!host)
        return;
    for (size_t b = 0; b < host->bus_count; b++) {
        struct bus_slot *slot = &host->buses[b];
        if (slot->started)
            slot->driver->descriptor->stop(slot->instance);
        if (slot->instance)
            slot->driver->descriptor->close(slot->instance);
        free_slot_views(slot);
    }
    for (size_t i = 0; i < host->driver_count; i++) {
        if (host->drivers[i].handle)
            dlclose(host->drivers[i].handle);
        free(host->drivers[i].name);
        free(host->drivers[i].path);
    }
    free(host->drivers);
    free(host->buses);
    free(host->device_bus);
    free(host->device_local);
    free(host);
}

int plugin_host_write(struct wg_plugin_host *host, size_t device, size_t point, double value,
                      uint64_t request_id)
{
    if (device >= host->config->device_count || host->device_bus[device] == SIZE_MAX)
        return -1;
    struct bus_slot *slot = &host->buses[host->device_bus[device]];
    uint32_t local = host->device_local[device];
    if (point >= slot->devices[local].point_count ||
        slot->devices[local].points[point].direction != WG_POINT_OUTPUT || !slot->started)
        return -1;
    struct wg_write_request request = {
        .request_id = request_id, .device = local, .point = (uint32_t)point, .value = value};
    return slot->driver->descriptor->write(slot->instance, &request);
}

size_t plugin_host_bus_count(const struct wg_plugin_host *host)
{
    return host->bus_count;
}
