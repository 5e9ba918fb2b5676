/* Driver loading, per-bus instances, the host callbacks and the reload
 * transaction; see plugin_host.h. */
#include "drivers/plugin_host.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "drivers/bus_view.h"
#include "drivers/health_reason.h"
#include "common/log.h"
#include "drivers/plugin_abi1.h"

#define NO_CORE_INDEX UINT32_MAX

/* A loaded .so, shared by every bus it serves. */
struct loaded_driver {
    struct loaded_driver *next;
    char *name;
    char *path;
    void *handle;
    unsigned abi; /* 1 or 2 */
    const struct wg_plugin_descriptor *v2;
    const struct wg_plugin_descriptor_v1 *v1;
    int (*take_over)(void *instance, void *previous); /* NULL: not offered */
    size_t users;                                     /* bus slots using it */
};

enum slot_phase {
    PHASE_OPEN,    /* opened (and maybe took over), not started */
    PHASE_RUNNING, /* started */
    PHASE_STOPPED, /* stopped: never started again */
    PHASE_FAILED,  /* its start failed */
    PHASE_CLOSED,  /* closed; kept only while messages it posted are queued */
};

/* One driver instance. The host table handed to the driver comes first, so a
 * callback's `const struct wg_host *` converts back to its slot. */
struct bus_slot {
    struct wg_host api;
    struct wg_host_abi1 api_v1; /* the table an ABI 1 driver gets */
    struct wg_plugin_host *owner;
    struct loaded_driver *driver;
    struct bus_view *view;
    void *instance;
    enum slot_phase phase; /* core thread only */
    atomic_bool accepting; /* from start until stop returns: posts are taken */
    atomic_bool stopping;  /* stop runs: a post does not wait for room */
    atomic_size_t queued;  /* messages in the queue not yet translated */
    /* The binding to the configuration the core runs: per local device its
     * index there, and per point the point's index in its profile. */
    uint32_t *core_device;
    uint32_t **core_point;
    struct wg_diag *diag; /* where config errors go while opening */
    struct bus_slot *next_retired;
};

struct wg_plugin_host {
    const struct wg_config *config; /* the one the core runs */
    struct wg_queue *queue;
    const struct wg_clock *clock;
    pthread_t core_thread;
    struct loaded_driver *drivers;
    struct bus_slot **buses; /* one per bus of `config`, in its order */
    size_t bus_count;
    /* Routing of the core's writes: per device of `config`, its bus (index
     * into buses, SIZE_MAX when disabled) and its index there. */
    size_t *device_bus;
    uint32_t *device_local;
    struct bus_slot *retired; /* closed, waiting for their queued messages */
};

/* One bus of the next configuration. */
struct next_bus {
    struct bus_slot *kept;  /* the running slot, unchanged */
    struct bus_slot *fresh; /* a new instance (changed or added bus) */
    struct bus_slot *old;   /* the running slot a changed bus replaces */
};

struct wg_host_reload {
    const struct wg_config *next;
    struct next_bus *buses; /* per bus of next */
    size_t bus_count;
    struct bus_slot **removed; /* running slots whose bus is gone */
    size_t removed_count;
};

static struct bus_slot *slot_of(const struct wg_host *api)
{
    return (struct bus_slot *)api; /* api is the first member */
}

static const char *bus_id(const struct bus_slot *slot)
{
    return slot->view->view.id;
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
    wg_log((enum wg_log_level)level, "bus %s: %s", bus_id(slot), text);
}

static bool local_device_ok(const struct bus_slot *slot, uint32_t device, const char *what)
{
    if (device < slot->view->view.device_count)
        return true;
    wg_err("bus %s: driver %s posted %s for device #%u, but the bus has %zu devices (driver bug)",
           bus_id(slot), slot->driver->name, what, device, slot->view->view.device_count);
    return false;
}

/* Queues a message of this bus: waits for room only on a driver thread and
 * only while the bus is not being stopped. */
static enum wg_post_status post(struct bus_slot *slot, struct wg_msg *msg)
{
    if (!atomic_load(&slot->accepting))
        return WG_POST_CLOSED;
    msg->origin = slot;
    atomic_fetch_add(&slot->queued, 1);
    bool may_wait = !pthread_equal(pthread_self(), slot->owner->core_thread);
    enum wg_push_result result = queue_push_ex(slot->owner->queue, msg, may_wait, &slot->stopping);
    if (result == WG_PUSH_OK)
        return WG_POST_QUEUED;
    atomic_fetch_sub(&slot->queued, 1);
    if (result == WG_PUSH_FULL) {
        wg_warn("bus %s: the core's queue is full; a message posted on the core thread is not "
                "queued",
                bus_id(slot));
        return WG_POST_FULL;
    }
    return WG_POST_CLOSED;
}

static enum wg_post_status host_post_reading(const struct wg_host *api, uint32_t device,
                                             uint32_t point, double value, int64_t ts_ms)
{
    struct bus_slot *slot = slot_of(api);
    if (!local_device_ok(slot, device, "a reading"))
        return WG_POST_INVALID;
    const struct wg_device_view *view = &slot->view->devices[device];
    if (point >= view->point_count) {
        wg_err("bus %s: driver posted point #%u of device %s, which has %zu points (driver bug)",
               bus_id(slot), point, view->id, view->point_count);
        return WG_POST_INVALID;
    }
    struct wg_msg msg = {
        .type = WG_MSG_READING, .device = device, .point = point, .value = value, .ts_ms = ts_ms};
    return post(slot, &msg);
}

static enum wg_post_status host_post_health(const struct wg_host *api, uint32_t device,
                                            enum wg_health health, enum wg_health_reason code,
                                            const char *reason)
{
    struct bus_slot *slot = slot_of(api);
    if (!local_device_ok(slot, device, "health"))
        return WG_POST_INVALID;
    if ((unsigned)code >= WG_REASON_COUNT)
        code = WG_REASON_OTHER;
    /* "Other" with a text: the text may be one the core's table knows (a
     * simulator or a relay passing a device's own words on). */
    if (code == WG_REASON_OTHER && reason && *reason)
        code = health_reason_from_name(health_reason_code(reason));
    struct wg_msg msg = {.type = WG_MSG_HEALTH,
                         .device = device,
                         .value = (double)health,
                         .code = (int)code,
                         .ts_ms = host_now_ms(api)};
    snprintf(msg.text, sizeof msg.text, "%s", reason ? reason : "");
    return post(slot, &msg);
}

static enum wg_post_status host_post_write_result(const struct wg_host *api, uint64_t request_id,
                                                  bool ok, const char *reason)
{
    struct wg_msg msg = {
        .type = WG_MSG_WRITE_RESULT, .request_id = request_id, .ok = ok, .ts_ms = host_now_ms(api)};
    snprintf(msg.text, sizeof msg.text, "%s", reason ? reason : "");
    return post(slot_of(api), &msg);
}

static enum wg_post_status host_post_counter(const struct wg_host *api, uint32_t device,
                                             const char *counter, uint64_t increment)
{
    struct bus_slot *slot = slot_of(api);
    if (!local_device_ok(slot, device, "a counter"))
        return WG_POST_INVALID;
    struct wg_msg msg = {.type = WG_MSG_COUNTER,
                         .device = device,
                         .value = (double)increment,
                         .ts_ms = host_now_ms(api)};
    snprintf(msg.text, sizeof msg.text, "%s", counter ? counter : "errors");
    return post(slot, &msg);
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
    struct wg_diag *diag = slot_of(api)->diag;
    if (diag)
        diag_at(diag, node, "%s", text);
    else
        wg_err("bus %s: %s", bus_id(slot_of(api)), text);
}

static const struct wg_host host_api_template = {
    .struct_size = sizeof(struct wg_host),
    .abi_version = WG_PLUGIN_ABI_VERSION,
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

/* ---- the driver's functions, whatever its ABI ---- */

static int driver_open(struct bus_slot *slot)
{
    const struct wg_bus_view *view = &slot->view->view;
    if (slot->driver->abi == WG_PLUGIN_ABI1)
        return slot->driver->v1->open(&slot->api_v1.table, view, &slot->instance);
    return slot->driver->v2->open(&slot->api, view, &slot->instance);
}

static int driver_start(struct bus_slot *slot)
{
    return slot->driver->abi == WG_PLUGIN_ABI1 ? slot->driver->v1->start(slot->instance)
                                               : slot->driver->v2->start(slot->instance);
}

static int driver_write(struct bus_slot *slot, const struct wg_write_request *request)
{
    return slot->driver->abi == WG_PLUGIN_ABI1 ? slot->driver->v1->write(slot->instance, request)
                                               : slot->driver->v2->write(slot->instance, request);
}

static const char *stop_reason_name(enum wg_stop_reason reason)
{
    switch (reason) {
    case WG_STOP_SHUTDOWN:
        return "shutdown";
    case WG_STOP_RELOAD:
        return "reload";
    case WG_STOP_BUS_CHANGED:
        return "bus changed";
    }
    return "?";
}

/* Stops a running slot. Producers waiting for room are released first, so
 * the driver's threads can be joined even while the core does not drain. */
static void slot_stop(struct bus_slot *slot, enum wg_stop_reason reason)
{
    if (!slot || slot->phase != PHASE_RUNNING)
        return;
    atomic_store(&slot->stopping, true);
    queue_wake_producers(slot->owner->queue);
    if (slot->driver->abi == WG_PLUGIN_ABI1)
        slot->driver->v1->stop(slot->instance);
    else
        slot->driver->v2->stop(slot->instance, reason);
    atomic_store(&slot->accepting, false); /* `stopping` stays: it is never started again */
    slot->phase = PHASE_STOPPED;
    wg_info("bus %s: driver %s stopped (%s)", bus_id(slot), slot->driver->name,
            stop_reason_name(reason));
}

static int slot_start(struct bus_slot *slot)
{
    atomic_store(&slot->accepting, true);
    if (driver_start(slot) != 0) {
        atomic_store(&slot->accepting, false);
        slot->phase = PHASE_FAILED;
        wg_err("bus %s: driver %s failed to start", bus_id(slot), slot->driver->name);
        return -1;
    }
    slot->phase = PHASE_RUNNING;
    wg_info("bus %s: driver %s started with %zu devices", bus_id(slot), slot->driver->name,
            slot->view->view.device_count);
    return 0;
}

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

static char *driver_path(const char *plugin_dir, const char *driver)
{
    char *path = NULL;
    return asprintf(&path, "%s/%s.so", plugin_dir, driver) < 0 ? NULL : path;
}

static void unload_driver(struct wg_plugin_host *host, struct loaded_driver *driver)
{
    for (struct loaded_driver **link = &host->drivers; *link; link = &(*link)->next)
        if (*link == driver) {
            *link = driver->next;
            break;
        }
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
    } else if (abi == WG_PLUGIN_ABI_VERSION) {
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
static struct loaded_driver *load_driver(struct wg_plugin_host *host, const char *path,
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
        unload_driver(host, driver);
        return NULL;
    }
    if (!check_descriptor(driver, bus, diag)) {
        unload_driver(host, driver);
        return NULL;
    }
    const char *version = driver->abi == WG_PLUGIN_ABI1 ? driver->v1->version : driver->v2->version;
    wg_info("loaded driver %s %s (plugin ABI %u%s) from %s", driver->name, version ? version : "?",
            driver->abi,
            driver->abi == WG_PLUGIN_ABI1 ? ", through the ABI 1 compatibility layer" : "", path);
    return driver;
}

/* ---- slots ---- */

static void free_binding(struct bus_slot *slot)
{
    for (size_t d = 0; slot->core_point && d < slot->view->view.device_count; d++)
        free(slot->core_point[d]);
    free(slot->core_point);
    free(slot->core_device);
    slot->core_point = NULL;
    slot->core_device = NULL;
}

/* Binds the slot's devices and points to `config` by device id and point
 * name. Returns -1 when out of memory (the old binding stays). */
static int bind_slot(struct bus_slot *slot, const struct wg_config *config)
{
    size_t devices = slot->view->view.device_count;
    uint32_t *core_device = calloc(devices ? devices : 1, sizeof *core_device);
    uint32_t **core_point = calloc(devices ? devices : 1, sizeof *core_point);
    bool ok = core_device && core_point;
    for (size_t d = 0; ok && d < devices; d++) {
        const struct wg_device_view *view = &slot->view->devices[d];
        core_point[d] = calloc(view->point_count ? view->point_count : 1, sizeof **core_point);
        ok = core_point[d] != NULL;
        size_t index = ok ? config_find_device(config, view->id) : WG_NO_INDEX;
        core_device[d] = index == WG_NO_INDEX ? NO_CORE_INDEX : (uint32_t)index;
        for (size_t p = 0; ok && p < view->point_count; p++) {
            core_point[d][p] = NO_CORE_INDEX;
            if (index == WG_NO_INDEX)
                continue;
            const struct wg_profile *profile = &config->profiles[config->devices[index].profile];
            for (size_t q = 0; q < profile->point_count; q++)
                if (strcmp(profile->points[q].name, view->points[p].name) == 0) {
                    core_point[d][p] = (uint32_t)q;
                    break;
                }
        }
    }
    if (!ok) {
        for (size_t d = 0; core_point && d < devices; d++)
            free(core_point[d]);
        free(core_point);
        free(core_device);
        return -1;
    }
    free_binding(slot);
    slot->core_device = core_device;
    slot->core_point = core_point;
    return 0;
}

static void free_slot(struct bus_slot *slot)
{
    if (!slot)
        return;
    free_binding(slot);
    bus_view_free(slot->view);
    free(slot);
}

/* A new slot for config->buses[bus] served from `path`, bound to `binding`
 * (the configuration the core runs), opened. NULL with messages in diag. */
static struct bus_slot *open_slot(struct wg_plugin_host *host, const struct wg_config *config,
                                  size_t bus, const char *path, const struct wg_config *binding,
                                  struct wg_diag *diag)
{
    const struct wg_bus *def = &config->buses[bus];
    struct bus_slot *slot = calloc(1, sizeof *slot);
    if (slot)
        slot->view = bus_view_build(config, bus, path);
    if (!slot || !slot->view || bind_slot(slot, binding) != 0) {
        diag_at(diag, def->node, "out of memory building bus %s", def->id);
        free_slot(slot);
        return NULL;
    }
    slot->api = host_api_template;
    abi1_host_init(&slot->api_v1, &slot->api);
    slot->owner = host;
    slot->phase = PHASE_OPEN;
    atomic_init(&slot->accepting, false);
    atomic_init(&slot->stopping, false);
    atomic_init(&slot->queued, 0);
    slot->driver = load_driver(host, path, def, diag);
    if (!slot->driver) {
        free_slot(slot);
        return NULL;
    }
    slot->driver->users++;
    slot->diag = diag;
    size_t before = diag->count;
    int rc = driver_open(slot);
    slot->diag = NULL;
    if (rc != 0) {
        slot->instance = NULL;
        if (diag->count == before)
            diag_at(diag, def->node, "bus %s: driver %s refused its configuration", def->id,
                    def->driver);
    } else if (diag->count != before) {
        /* The driver reported problems yet claimed success: believe the problems. */
        slot->phase = PHASE_CLOSED;
        if (slot->driver->abi == WG_PLUGIN_ABI1)
            slot->driver->v1->close(slot->instance);
        else
            slot->driver->v2->close(slot->instance);
        slot->instance = NULL;
        rc = -1;
    }
    if (rc != 0) {
        if (--slot->driver->users == 0)
            unload_driver(host, slot->driver);
        free_slot(slot);
        return NULL;
    }
    return slot;
}

static void reap(struct wg_plugin_host *host, struct bus_slot *slot)
{
    for (struct bus_slot **link = &host->retired; *link; link = &(*link)->next_retired)
        if (*link == slot) {
            *link = slot->next_retired;
            break;
        }
    free_slot(slot);
}

/* Closes the instance (stopping it first if it runs) and frees the slot once
 * no message it posted waits in the queue. */
static void retire_slot(struct wg_plugin_host *host, struct bus_slot *slot,
                        enum wg_stop_reason reason)
{
    if (!slot)
        return;
    slot_stop(slot, reason);
    if (slot->instance) {
        if (slot->driver->abi == WG_PLUGIN_ABI1)
            slot->driver->v1->close(slot->instance);
        else
            slot->driver->v2->close(slot->instance);
        slot->instance = NULL;
    }
    slot->phase = PHASE_CLOSED;
    if (--slot->driver->users == 0)
        unload_driver(host, slot->driver);
    slot->driver = NULL;
    if (atomic_load(&slot->queued) == 0) {
        free_slot(slot);
        return;
    }
    slot->next_retired = host->retired;
    host->retired = slot;
}

/* Write routing for host->config from the running buses. */
static int route_writes(struct wg_plugin_host *host)
{
    size_t devices = host->config->device_count ? host->config->device_count : 1;
    size_t *device_bus = malloc(devices * sizeof *device_bus);
    uint32_t *device_local = calloc(devices, sizeof *device_local);
    if (!device_bus || !device_local) {
        free(device_bus);
        free(device_local);
        return -1;
    }
    for (size_t i = 0; i < devices; i++)
        device_bus[i] = SIZE_MAX;
    for (size_t b = 0; b < host->bus_count; b++) {
        const struct bus_slot *slot = host->buses[b];
        for (size_t d = 0; slot && d < slot->view->view.device_count; d++)
            if (slot->core_device[d] != NO_CORE_INDEX) {
                device_bus[slot->core_device[d]] = b;
                device_local[slot->core_device[d]] = (uint32_t)d;
            }
    }
    free(host->device_bus);
    free(host->device_local);
    host->device_bus = device_bus;
    host->device_local = device_local;
    return 0;
}

struct wg_plugin_host *plugin_host_open(const struct wg_config *config, const char *plugin_dir,
                                        struct wg_queue *queue, const struct wg_clock *clock,
                                        struct wg_diag *diag)
{
    struct wg_plugin_host *host = calloc(1, sizeof *host);
    if (host)
        host->buses = calloc(config->bus_count ? config->bus_count : 1, sizeof *host->buses);
    if (!host || !host->buses) {
        diag_at(diag, NULL, "out of memory");
        free(host);
        return NULL;
    }
    host->config = config;
    host->queue = queue;
    host->clock = clock;
    host->core_thread = pthread_self();
    size_t errors_before = diag->count;
    host->bus_count = config->bus_count;
    for (size_t b = 0; b < config->bus_count; b++) {
        char *path = driver_path(plugin_dir, config->buses[b].driver);
        if (!path) {
            diag_at(diag, config->buses[b].node, "out of memory");
            continue;
        }
        /* Every bus's problem is reported, then the whole start is refused. */
        host->buses[b] = open_slot(host, config, b, path, config, diag);
        free(path);
    }
    if (diag->count != errors_before || route_writes(host) != 0) {
        if (diag->count == errors_before)
            diag_at(diag, NULL, "out of memory");
        plugin_host_close(host);
        return NULL;
    }
    return host;
}

int plugin_host_start(struct wg_plugin_host *host)
{
    for (size_t b = 0; b < host->bus_count; b++)
        if (slot_start(host->buses[b]) != 0) {
            plugin_host_stop(host);
            return -1;
        }
    return 0;
}

void plugin_host_stop(struct wg_plugin_host *host)
{
    for (size_t b = 0; b < host->bus_count; b++)
        if (host->buses[b])
            slot_stop(host->buses[b], WG_STOP_SHUTDOWN);
}

void plugin_host_close(struct wg_plugin_host *host)
{
    if (!host)
        return;
    for (size_t b = 0; b < host->bus_count; b++)
        retire_slot(host, host->buses[b], WG_STOP_SHUTDOWN);
    /* Whatever they still have queued is never translated now. */
    while (host->retired)
        reap(host, host->retired);
    while (host->drivers)
        unload_driver(host, host->drivers);
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
    struct bus_slot *slot = host->buses[host->device_bus[device]];
    uint32_t local = host->device_local[device];
    const struct wg_device_view *view = &slot->view->devices[local];
    uint32_t local_point = NO_CORE_INDEX;
    for (size_t p = 0; p < view->point_count; p++)
        if (slot->core_point[local][p] == point)
            local_point = (uint32_t)p;
    if (local_point == NO_CORE_INDEX || view->points[local_point].direction != WG_POINT_OUTPUT ||
        slot->phase != PHASE_RUNNING)
        return -1;
    struct wg_write_request request = {
        .request_id = request_id, .device = local, .point = local_point, .value = value};
    return driver_write(slot, &request);
}

bool plugin_host_translate(struct wg_plugin_host *host, struct wg_msg *msg)
{
    struct bus_slot *slot = (struct bus_slot *)msg->origin;
    if (!slot)
        return true;
    msg->origin = NULL;
    bool known = true;
    if (msg->type != WG_MSG_WRITE_RESULT) {
        uint32_t local = msg->device;
        uint32_t device = slot->core_device[local];
        known = device != NO_CORE_INDEX;
        if (known && msg->type == WG_MSG_READING) {
            msg->point = slot->core_point[local][msg->point];
            known = msg->point != NO_CORE_INDEX;
        }
        msg->device = device;
    }
    if (atomic_fetch_sub(&slot->queued, 1) == 1 && slot->phase == PHASE_CLOSED)
        reap(host, slot);
    return known;
}

size_t plugin_host_bus_count(const struct wg_plugin_host *host)
{
    return host->bus_count;
}

/* ---- reload ---- */

static struct bus_slot *running_bus(const struct wg_plugin_host *host, const char *id)
{
    for (size_t b = 0; b < host->bus_count; b++)
        if (host->buses[b] && strcmp(bus_id(host->buses[b]), id) == 0)
            return host->buses[b];
    return NULL;
}

static void free_reload(struct wg_host_reload *reload)
{
    if (!reload)
        return;
    free(reload->buses);
    free(reload->removed);
    free(reload);
}

void plugin_host_abandon(struct wg_plugin_host *host, struct wg_host_reload *reload)
{
    if (!reload)
        return;
    for (size_t b = 0; b < reload->bus_count; b++)
        retire_slot(host, reload->buses[b].fresh, WG_STOP_RELOAD);
    free_reload(reload);
}

struct wg_host_reload *plugin_host_prepare(struct wg_plugin_host *host,
                                           const struct wg_config *next, const char *plugin_dir,
                                           struct wg_diag *diag)
{
    struct wg_host_reload *reload = calloc(1, sizeof *reload);
    if (reload) {
        reload->next = next;
        reload->bus_count = next->bus_count;
        reload->buses = calloc(next->bus_count ? next->bus_count : 1, sizeof *reload->buses);
        reload->removed = calloc(host->bus_count ? host->bus_count : 1, sizeof *reload->removed);
    }
    if (!reload || !reload->buses || !reload->removed) {
        diag_at(diag, NULL, "out of memory");
        free_reload(reload);
        return NULL;
    }
    size_t errors_before = diag->count;
    for (size_t b = 0; b < next->bus_count; b++) {
        const struct wg_bus *def = &next->buses[b];
        char *path = driver_path(plugin_dir, def->driver);
        struct bus_view *view = path ? bus_view_build(next, b, path) : NULL;
        if (!view) {
            diag_at(diag, def->node, "out of memory building bus %s", def->id);
            free(path);
            continue;
        }
        struct bus_slot *running = running_bus(host, def->id);
        if (running && running->phase == PHASE_RUNNING && bus_view_equal(running->view, view)) {
            reload->buses[b].kept = running;
        } else {
            /* Bound to the running configuration until the commit: what it
             * posts is read in the configuration the core runs then. */
            reload->buses[b].fresh = open_slot(host, next, b, path, host->config, diag);
            reload->buses[b].old = running;
        }
        bus_view_free(view);
        free(path);
    }
    for (size_t b = 0; b < host->bus_count; b++)
        if (host->buses[b] && config_find_bus(next, bus_id(host->buses[b])) == WG_NO_INDEX)
            reload->removed[reload->removed_count++] = host->buses[b];
    if (diag->count != errors_before) {
        plugin_host_abandon(host, reload);
        return NULL;
    }
    return reload;
}

/* Offers `slot` the instances of its driver in `candidates` that are not
 * running and not closed. */
static int offer(struct bus_slot *slot, struct bus_slot *const *candidates, size_t count)
{
    if (!slot->driver->take_over)
        return 0;
    for (size_t i = 0; i < count; i++) {
        struct bus_slot *previous = candidates[i];
        if (!previous || previous == slot || previous->driver != slot->driver ||
            previous->phase == PHASE_RUNNING || previous->phase == PHASE_CLOSED ||
            !previous->instance)
            continue;
        if (slot->driver->take_over(slot->instance, previous->instance) != 0) {
            wg_err("bus %s: driver %s could not take over from the instance of bus %s",
                   bus_id(slot), slot->driver->name, bus_id(previous));
            return -1;
        }
    }
    return 0;
}

/* The instances a reload stopped or opened, for take_over offers. */
struct touched {
    struct bus_slot **slots;
    size_t count;
};

static void touch(struct touched *touched, struct bus_slot *slot)
{
    if (slot)
        touched->slots[touched->count++] = slot;
}

/* Brings every bus the reload touched back to the running configuration. */
static void roll_back(struct wg_plugin_host *host, struct wg_host_reload *reload,
                      struct touched *touched)
{
    /* New instances hand back what they took: stopped, never closed yet. */
    for (size_t b = 0; b < reload->bus_count; b++)
        slot_stop(reload->buses[b].fresh, WG_STOP_RELOAD);
    for (size_t b = 0; b < host->bus_count; b++) {
        struct bus_slot *old = host->buses[b];
        if (!old || old->phase == PHASE_RUNNING)
            continue;
        char why[64] = "";
        struct wg_diag diag;
        diag_init(&diag);
        struct bus_slot *restore =
            open_slot(host, host->config, b, old->view->driver_path, host->config, &diag);
        diag_log(&diag);
        diag_free(&diag);
        if (restore && offer(restore, touched->slots, touched->count) == 0 &&
            slot_start(restore) == 0) {
            host->buses[b] = restore;
            wg_notice("bus %s: brought back as it was", bus_id(restore));
            continue;
        }
        snprintf(why, sizeof why, "%s", restore ? "did not start" : "could not be opened");
        wg_crit("bus %s: the running configuration %s again after the failed reload; its devices "
                "are not served",
                bus_id(old), why);
        if (restore) {
            host->buses[b] = restore; /* not running: writes are refused, supervision alarms */
            continue;
        }
        /* Nothing replaces the stopped instance: it keeps what it holds. */
        for (size_t i = 0; i < touched->count; i++)
            if (touched->slots[i] == old)
                touched->slots[i] = NULL;
    }
    for (size_t i = 0; i < touched->count; i++)
        retire_slot(host, touched->slots[i], WG_STOP_RELOAD);
    if (route_writes(host) != 0)
        wg_crit("out of memory routing writes after a failed reload");
}

int plugin_host_apply(struct wg_plugin_host *host, struct wg_host_reload *reload, char *why,
                      size_t why_len)
{
    struct touched touched = {
        .slots = calloc(2 * reload->bus_count + reload->removed_count + 1, sizeof(void *))};
    if (!touched.slots) {
        snprintf(why, why_len, "out of memory");
        plugin_host_abandon(host, reload);
        return -1;
    }
    /* Stop what changes or goes, keeping its outputs, so that the new
     * instances can take them over; in the running configuration's order. */
    for (size_t b = 0; b < host->bus_count; b++) {
        struct bus_slot *slot = host->buses[b];
        bool removed = false, changed = false;
        for (size_t r = 0; r < reload->removed_count; r++)
            removed |= reload->removed[r] == slot;
        for (size_t n = 0; n < reload->bus_count; n++)
            changed |= reload->buses[n].old == slot;
        if (!removed && !changed)
            continue;
        slot_stop(slot, removed ? WG_STOP_RELOAD : WG_STOP_BUS_CHANGED);
        touch(&touched, slot);
    }
    size_t stopped = touched.count;
    for (size_t b = 0; b < reload->bus_count; b++)
        touch(&touched, reload->buses[b].fresh);
    for (size_t b = 0; b < reload->bus_count; b++) {
        struct bus_slot *fresh = reload->buses[b].fresh;
        if (!fresh)
            continue;
        if (offer(fresh, touched.slots, stopped) != 0 || slot_start(fresh) != 0) {
            snprintf(why, why_len, "bus %s: driver %s did not start with the new configuration",
                     bus_id(fresh), fresh->driver->name);
            roll_back(host, reload, &touched);
            free(touched.slots);
            free_reload(reload);
            return -1;
        }
    }
    free(touched.slots);
    return 0;
}

void plugin_host_commit(struct wg_plugin_host *host, struct wg_host_reload *reload)
{
    const struct wg_config *next = reload->next;
    struct bus_slot **buses = calloc(next->bus_count ? next->bus_count : 1, sizeof *buses);
    if (!buses) {
        /* The old array still lists every running slot; reuse it in place. */
        wg_crit("out of memory committing the reload's buses");
        buses = host->buses;
        host->buses = NULL;
    }
    for (size_t b = 0; b < next->bus_count; b++) {
        struct next_bus *entry = &reload->buses[b];
        buses[b] = entry->kept ? entry->kept : entry->fresh;
        if (entry->kept)
            bus_view_rebind(entry->kept->view, next, b);
    }
    /* What the replaced instances still have queued is read in `next` too. */
    struct bus_slot **old = host->buses;
    size_t old_count = host->bus_count;
    host->config = next;
    host->buses = buses;
    host->bus_count = next->bus_count;
    for (size_t b = 0; b < host->bus_count; b++)
        if (bind_slot(host->buses[b], next) != 0)
            wg_crit("bus %s: out of memory binding it to the new configuration",
                    bus_id(host->buses[b]));
    for (struct bus_slot *slot = host->retired; slot; slot = slot->next_retired)
        bind_slot(slot, next);
    for (size_t b = 0; old && b < old_count; b++) {
        bool still = false;
        for (size_t n = 0; n < host->bus_count; n++)
            still |= host->buses[n] == old[b];
        if (!still && old[b]) {
            bind_slot(old[b], next);
            retire_slot(host, old[b], WG_STOP_RELOAD);
        }
    }
    if (old != buses)
        free(old);
    if (route_writes(host) != 0)
        wg_crit("out of memory routing writes after the reload");
    free_reload(reload);
}

void plugin_host_reload_summary(const struct wg_host_reload *reload,
                                struct wg_host_reload_summary *summary)
{
    *summary = (struct wg_host_reload_summary){0};
    for (size_t b = 0; b < reload->bus_count; b++) {
        const struct next_bus *entry = &reload->buses[b];
        char *list = NULL;
        if (entry->kept) {
            summary->kept++;
        } else if (entry->old) {
            summary->restarted++;
            list = summary->restarted_ids;
        } else {
            summary->added++;
            list = summary->added_ids;
        }
        if (list) {
            size_t used = strlen(list);
            snprintf(list + used, sizeof summary->added_ids - used, "%s%s", used ? ", " : "",
                     reload->next->buses[b].id);
        }
    }
    for (size_t r = 0; r < reload->removed_count; r++) {
        size_t used = strlen(summary->removed_ids);
        snprintf(summary->removed_ids + used, sizeof summary->removed_ids - used, "%s%s",
                 used ? ", " : "", bus_id(reload->removed[r]));
        summary->removed++;
    }
}

bool plugin_host_reload_restarts(const struct wg_host_reload *reload, size_t device)
{
    if (device >= reload->next->device_count)
        return false;
    size_t bus = reload->next->devices[device].bus;
    return bus < reload->bus_count && reload->buses[bus].fresh != NULL;
}
