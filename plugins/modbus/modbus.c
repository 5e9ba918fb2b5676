/* The `modbus-rtu` and `modbus-tcp` drivers: config validation and the
 * plugin lifecycle. The same sources build both plugins; the Makefile sets
 * WG_PLUGIN_VARIANT to the name of each (plugins/modbus/plugin.mk).
 *
 * Bus settings, modbus-rtu:
 *   device (required), baud 9600, parity none|even|odd (none), data_bits 7|8 (8),
 *   stop_bits 1|2 (1), rs485 false, frame_pause_ms 5
 * Bus settings, modbus-tcp:
 *   host (required), port 502, frame_pause_ms 0
 * Both:
 *   timeout_ms 300, gap 8, allowed_fails 3, backoff_ms 5000, backoff_max_ms 60000
 * Device settings (override per device):
 *   timeout_ms, gap, max_registers (1..125), max_bits (1..2000),
 *   priority alarm|telemetry (default: alarm when the profile has bool inputs)
 * Device address = unit id: 1..247 on RTU, 0..255 on TCP.
 * Point `source:` keys are checked in mb_point.c; docs/modbus.md has it all. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "drivers/plugin.h"
#include "mb_bus.h"
#include "mb_plan.h"
#include "mb_point.h"
#include "mb_profiles.h"
#include "mb_reactor.h"

#ifndef WG_PLUGIN_VARIANT
#error "build with -DWG_PLUGIN_VARIANT=\"modbus-rtu\" or \"modbus-tcp\""
#endif

#define IS_RTU (strcmp(WG_PLUGIN_VARIANT, "modbus-rtu") == 0)

/* The driver's context (plugin ABI 3), one per driver file: what its buses
 * share. */
struct modbus_context {
    struct mb_reactor *reactor;  /* modbus-tcp: the I/O thread of every endpoint; RTU: NULL */
    struct mb_profiles profiles; /* parsed profiles, one copy for all buses */
};

/* The parsed points of one profile, shared by its devices (and, once valid,
 * by every bus of the driver through the context's table). */
struct parsed_profile {
    const char *profile_id;
    const struct mb_point *points;
    size_t count;
    bool valid; /* valid: points are the context's shared copy; else this bus's own */
};

/* One bus. `bus` holds the parsed settings and devices of both transports;
 * an RTU line runs them on its own thread (mb_bus.c), a TCP endpoint on the
 * driver's shared reactor (mb_reactor.c). */
struct modbus_driver {
    struct mb_bus bus;
    struct mb_endpoint endpoint;        /* TCP */
    struct modbus_context *context;     /* the host's, or own_context */
    struct modbus_context *own_context; /* under a host without driver contexts */
    struct parsed_profile *profiles;
    size_t profile_count;
    char *device_path; /* copies: config strings are only valid inside open */
    char *tcp_host;
};

static struct parsed_profile *parse_profile(struct modbus_driver *driver,
                                            const struct wg_host *host,
                                            const struct wg_device_view *view)
{
    for (size_t i = 0; i < driver->profile_count; i++)
        if (strcmp(driver->profiles[i].profile_id, view->profile_id) == 0)
            return &driver->profiles[i];
    struct parsed_profile *profile = &driver->profiles[driver->profile_count++];
    profile->profile_id = view->profile_id;
    profile->count = view->point_count;
    struct mb_point *points = calloc(view->point_count ? view->point_count : 1, sizeof *points);
    profile->points = points;
    if (!points) {
        host->log(host, WG_PLOG_ERR, "out of memory");
        return profile;
    }
    profile->valid = true;
    for (size_t p = 0; p < view->point_count; p++) {
        char where[160];
        snprintf(where, sizeof where, "profile %s point %s", view->profile_id,
                 view->points[p].name);
        profile->valid &= mb_point_parse(host, &view->points[p], where, &points[p]);
    }
    size_t first, second;
    if (profile->valid && mb_plan_find_overlap(points, profile->count, &first, &second)) {
        const struct mb_point *a = &points[first], *b = &points[second];
        host->cfg_error(host, view->points[second].source,
                        "profile %s: point %s (fc%d %u, %s) overlaps point %s (fc%d %u, %s); "
                        "points may share a register only to read bits of the same value",
                        view->profile_id, view->points[second].name, b->function, b->address,
                        mb_type_name(b->type), view->points[first].name, a->function, a->address,
                        mb_type_name(a->type));
        profile->valid = false;
    }
    if (profile->valid) {
        const struct mb_point *shared =
            mb_profiles_share(&driver->context->profiles, points, profile->count);
        if (shared) {
            profile->points = shared;
        } else {
            host->log(host, WG_PLOG_ERR, "out of memory");
            profile->valid = false;
        }
    }
    return profile;
}

static bool parse_limit(const struct wg_host *host, const wg_cfg_node *map, const char *key,
                        long long min, long long max, int *out)
{
    long long value = *out;
    if (!host->cfg_int(host, map, key, min, max, &value))
        return false;
    *out = (int)value;
    return true;
}

/* A device is polled first when it has bool inputs (calls, contacts, alarm bits). */
static bool has_bool_inputs(const struct wg_device_view *view)
{
    for (size_t p = 0; p < view->point_count; p++)
        if (view->points[p].kind == WG_POINT_BOOL && view->points[p].direction == WG_POINT_INPUT)
            return true;
    return false;
}

static bool parse_device(struct modbus_driver *driver, const struct wg_host *host,
                         const struct wg_device_view *view, uint32_t index, int bus_timeout_ms,
                         int bus_gap, struct mb_device *device)
{
    static const char *const keys[] = {"timeout_ms", "gap",      "max_registers",
                                       "max_bits",   "priority", NULL};
    *device = (struct mb_device){.index = index,
                                 .id = view->id,
                                 .unit = view->address,
                                 .poll_ms = view->poll_ms,
                                 .timeout_ms = bus_timeout_ms,
                                 .alarm_first = has_bool_inputs(view),
                                 .limits = {.gap = (unsigned)bus_gap,
                                            .max_registers = MB_MAX_READ_REGISTERS,
                                            .max_bits = MB_MAX_READ_BITS}};
    bool ok = true;
    int max_unit = IS_RTU ? 247 : 255, min_unit = IS_RTU ? 1 : 0;
    if (view->address < min_unit || view->address > max_unit) {
        host->cfg_error(host, view->settings,
                        "device %s: address %d is not a Modbus unit id (%d..%d on %s)", view->id,
                        view->address, min_unit, max_unit, WG_PLUGIN_VARIANT);
        ok = false;
    }
    const wg_cfg_node *settings = view->settings;
    int gap = bus_gap, max_registers = MB_MAX_READ_REGISTERS, max_bits = MB_MAX_READ_BITS;
    if (settings) {
        ok &= host->cfg_only_keys(host, settings, keys);
        ok &= parse_limit(host, settings, "timeout_ms", 10, 10000, &device->timeout_ms);
        ok &= parse_limit(host, settings, "gap", 0, 124, &gap);
        ok &=
            parse_limit(host, settings, "max_registers", 1, MB_MAX_READ_REGISTERS, &max_registers);
        ok &= parse_limit(host, settings, "max_bits", 1, MB_MAX_READ_BITS, &max_bits);
        const char *priority = NULL;
        ok &= host->cfg_string(host, settings, "priority", &priority);
        if (priority && strcmp(priority, "alarm") == 0) {
            device->alarm_first = true;
        } else if (priority && strcmp(priority, "telemetry") == 0) {
            device->alarm_first = false;
        } else if (priority) {
            host->cfg_error(host, host->cfg_get(settings, "priority"),
                            "device %s: priority: expected alarm or telemetry, got \"%s\"",
                            view->id, priority);
            ok = false;
        }
    }
    device->limits = (struct mb_limits){.gap = (unsigned)gap,
                                        .max_registers = (unsigned)max_registers,
                                        .max_bits = (unsigned)max_bits};
    struct parsed_profile *profile = parse_profile(driver, host, view);
    if (!profile->valid)
        return false;
    for (size_t p = 0; p < profile->count; p++) {
        const struct mb_point *point = &profile->points[p];
        bool bits = point->function <= 2;
        if (!bits && point->count > device->limits.max_registers) {
            host->cfg_error(host, host->cfg_get(settings, "max_registers"),
                            "device %s: max_registers %u is less than the %u registers of point "
                            "%s",
                            view->id, device->limits.max_registers, point->count,
                            view->points[p].name);
            ok = false;
        }
    }
    device->points = profile->points;
    device->point_count = profile->count;
    return ok;
}

static bool parse_rtu(const struct wg_host *host, const wg_cfg_node *settings,
                      struct modbus_driver *driver, struct mb_link_config *link)
{
    static const int bauds[] = {1200,  2400,   4800,   9600,   19200, 38400,
                                57600, 115200, 230400, 460800, 921600};
    const char *device = NULL, *parity = "none";
    long long baud = 9600, data_bits = 8, stop_bits = 1;
    bool ok = host->cfg_string(host, settings, "device", &device) &&
              host->cfg_int(host, settings, "baud", 300, 4000000, &baud) &&
              host->cfg_string(host, settings, "parity", &parity) &&
              host->cfg_int(host, settings, "data_bits", 7, 8, &data_bits) &&
              host->cfg_int(host, settings, "stop_bits", 1, 2, &stop_bits) &&
              host->cfg_bool(host, settings, "rs485", &link->rs485);
    if (!ok)
        return false;
    if (!device || !*device) {
        host->cfg_error(host, settings, "modbus-rtu: settings need device (e.g. /dev/ttyUSB0)");
        return false;
    }
    bool standard = false;
    for (size_t i = 0; i < sizeof bauds / sizeof bauds[0]; i++)
        standard |= bauds[i] == baud;
    if (!standard) {
        host->cfg_error(host, host->cfg_get(settings, "baud"),
                        "baud: %lld is not a standard rate (1200 .. 921600)", baud);
        return false;
    }
    if (strcmp(parity, "none") == 0) {
        link->parity = 'N';
    } else if (strcmp(parity, "even") == 0) {
        link->parity = 'E';
    } else if (strcmp(parity, "odd") == 0) {
        link->parity = 'O';
    } else {
        host->cfg_error(host, host->cfg_get(settings, "parity"),
                        "parity: expected none, even or odd, got \"%s\"", parity);
        return false;
    }
    driver->device_path = strdup(device);
    if (!driver->device_path)
        return false;
    link->rtu = true;
    link->device = driver->device_path;
    link->baud = (int)baud;
    link->data_bits = (int)data_bits;
    link->stop_bits = (int)stop_bits;
    return true;
}

static bool parse_tcp(const struct wg_host *host, const wg_cfg_node *settings,
                      struct modbus_driver *driver, struct mb_link_config *link)
{
    const char *tcp_host = NULL;
    long long port = 502;
    if (!host->cfg_string(host, settings, "host", &tcp_host) ||
        !host->cfg_int(host, settings, "port", 1, 65535, &port))
        return false;
    if (!tcp_host || !*tcp_host) {
        host->cfg_error(host, settings, "modbus-tcp: settings need host (name or address)");
        return false;
    }
    driver->tcp_host = strdup(tcp_host);
    if (!driver->tcp_host)
        return false;
    link->host = driver->tcp_host;
    link->port = (int)port;
    return true;
}

static void context_free(struct modbus_context *context)
{
    if (!context)
        return;
    mb_reactor_free(context->reactor);
    mb_profiles_destroy(&context->profiles);
    free(context);
}

static struct modbus_context *context_new(void)
{
    struct modbus_context *context = calloc(1, sizeof *context);
    if (!context)
        return NULL;
    mb_profiles_init(&context->profiles);
    if (!IS_RTU && !(context->reactor = mb_reactor_new())) {
        context_free(context);
        return NULL;
    }
    return context;
}

static void driver_free(struct modbus_driver *driver)
{
    if (!driver)
        return;
    for (size_t i = 0; i < driver->bus.device_count; i++)
        mb_device_release(&driver->bus.devices[i]);
    free(driver->bus.devices);
    for (size_t i = 0; i < driver->profile_count; i++) {
        if (driver->profiles[i].valid)
            mb_profiles_release(&driver->context->profiles, driver->profiles[i].points);
        else
            free((struct mb_point *)driver->profiles[i].points);
    }
    free(driver->profiles);
    free(driver->device_path);
    free(driver->tcp_host);
    mb_bus_destroy(&driver->bus);
    context_free(driver->own_context);
    free(driver);
}

static int modbus_open(const struct wg_host *host, const struct wg_bus_view *view, void **instance)
{
    static const char *const rtu_keys[] = {
        "device",     "baud",           "parity",     "data_bits", "stop_bits",
        "rs485",      "frame_pause_ms", "timeout_ms", "gap",       "allowed_fails",
        "backoff_ms", "backoff_max_ms", NULL};
    static const char *const tcp_keys[] = {
        "host",          "port",       "frame_pause_ms", "timeout_ms", "gap",
        "allowed_fails", "backoff_ms", "backoff_max_ms", NULL};
    struct modbus_driver *driver = calloc(1, sizeof *driver);
    if (!driver) {
        host->log(host, WG_PLOG_ERR, "out of memory");
        return -1;
    }
    struct mb_bus *bus = &driver->bus;
    bus->host = host;
    bus->id = view->id;
    const wg_cfg_node *settings = view->settings;
    if (!settings) {
        host->cfg_error(host, NULL, "bus %s: %s needs settings: {%s}", view->id, WG_PLUGIN_VARIANT,
                        IS_RTU ? "device: /dev/ttyUSB0, baud: 9600, ..." : "host: ..., port: 502");
        driver_free(driver);
        return -1;
    }
    int timeout_ms = 300, gap = 8, frame_pause_ms = IS_RTU ? 5 : 0;
    bus->supervision =
        (struct mb_supervision){.allowed_fails = 3, .backoff_ms = 5000, .backoff_max_ms = 60000};
    bool ok = host->cfg_only_keys(host, settings, IS_RTU ? rtu_keys : tcp_keys) &&
              (IS_RTU ? parse_rtu(host, settings, driver, &bus->link_config)
                      : parse_tcp(host, settings, driver, &bus->link_config));
    ok = ok && parse_limit(host, settings, "timeout_ms", 10, 10000, &timeout_ms) &&
         parse_limit(host, settings, "gap", 0, 124, &gap) &&
         parse_limit(host, settings, "frame_pause_ms", 0, 1000, &frame_pause_ms) &&
         parse_limit(host, settings, "allowed_fails", 1, 100, &bus->supervision.allowed_fails) &&
         parse_limit(host, settings, "backoff_ms", 100, 3600000, &bus->supervision.backoff_ms) &&
         parse_limit(host, settings, "backoff_max_ms", 100, 3600000,
                     &bus->supervision.backoff_max_ms);
    if (ok && bus->supervision.backoff_max_ms < bus->supervision.backoff_ms) {
        host->cfg_error(host, host->cfg_get(settings, "backoff_max_ms"),
                        "backoff_max_ms (%d) is less than backoff_ms (%d)",
                        bus->supervision.backoff_max_ms, bus->supervision.backoff_ms);
        ok = false;
    }
    bus->link_config.timeout_ms = timeout_ms;
    bus->link_config.reconnect_ms = 1000;
    bus->frame_pause_ms = frame_pause_ms;

    bus->devices = calloc(view->device_count ? view->device_count : 1, sizeof *bus->devices);
    driver->profiles =
        calloc(view->device_count ? view->device_count : 1, sizeof *driver->profiles);
    if (!bus->devices || !driver->profiles || !mb_bus_init(bus)) {
        host->log(host, WG_PLOG_ERR, "out of memory");
        driver_free(driver);
        return -1;
    }
    driver->context = WG_HOST_HAS(host, driver_context) ? host->driver_context : NULL;
    if (!driver->context)
        driver->context = driver->own_context = context_new();
    if (!driver->context) {
        host->log(host, WG_PLOG_ERR, "out of memory, or no epoll set for the I/O thread");
        driver_free(driver);
        return -1;
    }
    for (size_t d = 0; d < view->device_count; d++) {
        bool device_ok = parse_device(driver, host, &view->devices[d], (uint32_t)d, timeout_ms, gap,
                                      &bus->devices[d]);
        bus->device_count = d + 1;
        if (device_ok && !mb_device_prepare(&bus->devices[d])) {
            host->log(host, WG_PLOG_ERR, "out of memory");
            device_ok = false;
        }
        ok &= device_ok;
    }
    if (!ok) {
        driver_free(driver);
        return -1;
    }
    *instance = driver;
    return 0;
}

static int modbus_start(void *instance)
{
    struct modbus_driver *driver = instance;
    size_t requests = 0;
    for (size_t d = 0; d < driver->bus.device_count; d++)
        requests += driver->bus.devices[d].block_count;
    driver->bus.host->log(driver->bus.host, WG_PLOG_INFO,
                          "%zu devices, %zu read requests per poll cycle (merged reads)",
                          driver->bus.device_count, requests);
    if (IS_RTU)
        return mb_bus_start(&driver->bus);
    struct mb_bus *bus = &driver->bus;
    struct mb_endpoint *endpoint = &driver->endpoint;
    *endpoint = (struct mb_endpoint){.host = bus->host,
                                     .bus_id = bus->id,
                                     .address = bus->link_config.host,
                                     .port = bus->link_config.port,
                                     .reconnect_ms = bus->link_config.reconnect_ms,
                                     .frame_pause_ms = bus->frame_pause_ms,
                                     .supervision = bus->supervision,
                                     .devices = bus->devices,
                                     .device_count = bus->device_count,
                                     .writes = &bus->writes};
    char error[128];
    if (mb_reactor_attach(driver->context->reactor, endpoint, error, sizeof error) != 0) {
        bus->host->log(bus->host, WG_PLOG_ERR, "cannot start: %s", error);
        return -1;
    }
    return 0;
}

static int modbus_write(void *instance, const struct wg_write_request *request)
{
    struct modbus_driver *driver = instance;
    struct mb_bus *bus = &driver->bus;
    if (request->device >= bus->device_count ||
        request->point >= bus->devices[request->device].point_count)
        return -1;
    const struct mb_point *point = &bus->devices[request->device].points[request->point];
    if (point->write_function == 0)
        return -1;
    struct mb_write_job job = {.request_id = request->request_id,
                               .device = request->device,
                               .point = request->point,
                               .value = request->value};
    bool queued = IS_RTU
                      ? mb_bus_queue_write(bus, &job)
                      : mb_reactor_queue_write(driver->context->reactor, &driver->endpoint, &job);
    if (!queued) {
        bus->host->log(bus->host, WG_PLOG_ERR,
                       "write queue full (%d writes waiting): device %s refused", MB_WRITE_QUEUE,
                       bus->devices[request->device].id);
        return -1;
    }
    return 0;
}

/* Whatever the reason: the line is closed and the thread joined (TCP: the
 * endpoint leaves the reactor, whose thread ends with its last endpoint). Outputs of
 * Modbus devices live in the devices (coils and registers keep what was last
 * written), so a stop changes none of them, and a restarted bus needs nothing
 * handed over: its new instance connects again (take_over is not offered). */
static void modbus_stop(void *instance, enum wg_stop_reason reason)
{
    (void)reason;
    struct modbus_driver *driver = instance;
    if (IS_RTU)
        mb_bus_stop(&driver->bus);
    else
        mb_reactor_detach(driver->context->reactor, &driver->endpoint);
}

static void modbus_close(void *instance)
{
    driver_free(instance);
}

/* The driver's context (plugin ABI 3): struct modbus_context. */
static int modbus_context_new(void **context)
{
    *context = context_new();
    return *context ? 0 : -1;
}

static void modbus_context_free(void *context)
{
    context_free(context);
}

WG_PLUGIN_DEFINE(.name = WG_PLUGIN_VARIANT, .version = "3.0.0", .open = modbus_open,
                 .start = modbus_start, .write = modbus_write, .stop = modbus_stop,
                 .close = modbus_close, .context_new = modbus_context_new,
                 .context_free = modbus_context_free);
