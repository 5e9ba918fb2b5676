/* The plugin ABI: the only header a wardgate device driver includes.
 *
 * A driver is a shared object that exports one symbol, WG_PLUGIN_SYMBOL, of
 * type `const struct wg_plugin_descriptor`. The daemon dlopen()s it, checks
 * abi_version and struct_size, and refuses it with a clear message if either
 * does not match. One driver instance serves one bus (an RS-485 line, a Modbus
 * TCP endpoint, a GPIO chip, a simulated facility).
 *
 * Lifecycle, always in this order, all called from the core thread:
 *   open(host, bus) -> start(inst) -> [write(inst, req)]* -> stop(inst) -> close(inst)
 * open validates the driver's own config (bus settings, device settings and
 * profile point `source` sections) and reports every problem through
 * host->cfg_error, which names file:line. Only after open succeeded for every
 * bus does the daemon call start.
 *
 * Everything a driver learns from the field goes to the core through the
 * host callbacks. They are safe to call from any of the driver's own threads.
 * post_reading blocks while the core's queue is full: readings wait rather
 * than vanish. A driver never touches SQLite, MQTT or the web server. */
#ifndef WG_PLUGIN_H
#define WG_PLUGIN_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Bump on any incompatible change of the structs or callbacks below. */
#define WG_PLUGIN_ABI_VERSION 1u
#define WG_PLUGIN_SYMBOL      "wardgate_plugin"

/* A node of the parsed configuration (YAML). Opaque: read it through the host. */
typedef struct wg_cfg_node wg_cfg_node;

enum wg_point_kind {
    WG_POINT_BOOL = 0,   /* 0 / 1: a contact, a flag, a coil */
    WG_POINT_ANALOG = 1, /* a measured value with a unit */
    WG_POINT_COUNTER = 2 /* a monotonic total (kWh, m3) */
};

enum wg_point_direction {
    WG_POINT_INPUT = 0, /* read from the field */
    WG_POINT_OUTPUT = 1 /* written by the core (valve, fan, lamp, buzzer, door release) */
};

enum wg_health {
    WG_HEALTH_UNKNOWN = 0, /* not heard from since start */
    WG_HEALTH_ONLINE = 1,
    WG_HEALTH_SUSPECT = 2, /* missed replies, still being retried */
    WG_HEALTH_OFFLINE = 3, /* given up until the back-off expires */
};

/* What the core writes to door_lamp and corridor_lamp outputs: the driver
 * renders the pattern (DIN VDE 0834 door-lamp patterns). */
enum wg_lamp_code {
    WG_LAMP_OFF = 0,
    WG_LAMP_CALL = 1,      /* red, steady */
    WG_LAMP_EMERGENCY = 2, /* red, flashing 1 s on / 1 s off */
    WG_LAMP_ALARM = 3,     /* red, flashing 0.3 s on / 0.3 s off (fire, gas) */
    WG_LAMP_PRESENCE = 4,  /* green, steady: staff in the room */
};

/* What the core writes to buzzer outputs: IEC 60601-1-8 burst priorities. */
enum wg_buzzer_code {
    WG_BUZZER_OFF = 0,
    WG_BUZZER_LOW = 1,    /* 1-2 pulses, repeated */
    WG_BUZZER_MEDIUM = 2, /* 3 pulses */
    WG_BUZZER_HIGH = 3,   /* 10 pulses (3+2, twice) */
};

/* One point of a device, from its profile. */
struct wg_point_view {
    const char *name;    /* unique within the profile, e.g. "gas_concentration" */
    const char *meaning; /* what it is, from a fixed vocabulary, e.g. "gas_lel", "fire_zone_3" */
    enum wg_point_kind kind;
    enum wg_point_direction direction;
    const char *unit;          /* "" when none */
    const wg_cfg_node *source; /* driver-specific (register, line ...); NULL when absent */
};

struct wg_device_view {
    const char *id;
    int address; /* Modbus unit id, GPIO line offset, sim slot: the driver decides */
    int poll_ms;
    const char *profile_id;
    const struct wg_point_view *points;
    size_t point_count;
    const wg_cfg_node *settings; /* the device's own driver settings; NULL when absent */
    const char *location;        /* "zone/room/bed" for messages, never empty */
};

struct wg_bus_view {
    const char *id;
    const char *driver;
    const wg_cfg_node *settings; /* the bus's `settings:` section; NULL when absent */
    const struct wg_device_view *devices;
    size_t device_count;
};

/* A request from the core to drive an output point. */
struct wg_write_request {
    uint64_t request_id; /* echoed in post_write_result */
    uint32_t device;     /* index into bus->devices */
    uint32_t point;      /* index into devices[device].points */
    double value;
};

enum wg_log_level_plugin {
    WG_PLOG_ERR = 3,
    WG_PLOG_WARNING = 4,
    WG_PLOG_INFO = 6,
    WG_PLOG_DEBUG = 7
};

/* What the core offers a driver. Valid from open until close returns. */
struct wg_host {
    uint32_t struct_size; /* sizeof(struct wg_host) of the daemon */
    void *core;           /* opaque; pass the host pointer back, never this */

    /* Time on the core's clock, in ms since the Unix epoch. */
    int64_t (*now_ms)(const struct wg_host *host);

    /* Logging, prefixed with the bus id. */
    void (*log)(const struct wg_host *host, int level, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

    /* Field data. `device` and `point` index bus->devices[] and its points[].
     * ts_ms is when the value was observed (an edge's kernel time stamp, a
     * reply's arrival). Thread-safe; blocks while the core's queue is full. */
    void (*post_reading)(const struct wg_host *host, uint32_t device, uint32_t point, double value,
                         int64_t ts_ms);
    /* Device health, with a short reason ("timeout", "crc error", "exception 2"). */
    void (*post_health)(const struct wg_host *host, uint32_t device, enum wg_health health,
                        const char *reason);
    /* Outcome of a write, after read-back. ok=false carries a reason. */
    void (*post_write_result)(const struct wg_host *host, uint64_t request_id, bool ok,
                              const char *reason);
    /* Error counters (timeouts, CRC errors, exceptions, bad lengths), added to the device. */
    void (*post_counter)(const struct wg_host *host, uint32_t device, const char *counter,
                         uint64_t increment);

    /* Reading the driver's config sections, valid only inside open(). A missing key gives NULL. */
    const wg_cfg_node *(*cfg_get)(const wg_cfg_node *map, const char *key);
    /* The scalar text, or NULL if the node is not a scalar. */
    const char *(*cfg_scalar)(const wg_cfg_node *node);
    size_t (*cfg_seq_len)(const wg_cfg_node *seq); /* 0 for a non-sequence */
    const wg_cfg_node *(*cfg_seq_at)(const wg_cfg_node *seq, size_t index);
    /* Typed reads: return false and report "file:line: <key>: expected ..." on a wrong value.
     * When the key is absent they leave *out unchanged and return true. */
    bool (*cfg_int)(const struct wg_host *host, const wg_cfg_node *map, const char *key,
                    long long min, long long max, long long *out);
    bool (*cfg_double)(const struct wg_host *host, const wg_cfg_node *map, const char *key,
                       double *out);
    bool (*cfg_bool)(const struct wg_host *host, const wg_cfg_node *map, const char *key,
                     bool *out);
    bool (*cfg_string)(const struct wg_host *host, const wg_cfg_node *map, const char *key,
                       const char **out);
    /* Fails (returns false, reports) if `map` has a key outside the NULL-terminated list. */
    bool (*cfg_only_keys)(const struct wg_host *host, const wg_cfg_node *map,
                          const char *const *allowed);
    /* Reports "file:line:col: <message>" for the node and marks the config invalid. */
    void (*cfg_error)(const struct wg_host *host, const wg_cfg_node *node, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
};

struct wg_plugin_descriptor {
    uint32_t abi_version; /* WG_PLUGIN_ABI_VERSION */
    uint32_t struct_size; /* sizeof(struct wg_plugin_descriptor) */
    const char *name;     /* must equal the bus's `driver:` */
    const char *version;

    /* Validate config and allocate. Returns 0 and sets *instance, or -1 after
     * reporting what is wrong through host->cfg_error or host->log. No threads yet. */
    int (*open)(const struct wg_host *host, const struct wg_bus_view *bus, void **instance);
    /* Start the driver's threads and I/O. Returns 0, or -1 after logging why. */
    int (*start)(void *instance);
    /* Queue a write; the outcome arrives through post_write_result. Returns 0 when
     * queued, -1 when refused (unknown point, not an output). Never blocks on I/O. */
    int (*write)(void *instance, const struct wg_write_request *request);
    /* Stop and join the driver's threads. After it returns no callback is made. */
    void (*stop)(void *instance);
    void (*close)(void *instance);
};

#define WG_PLUGIN_DEFINE(...)                                                                      \
    __attribute__((visibility("default"))) const struct wg_plugin_descriptor wardgate_plugin = {   \
        .abi_version = WG_PLUGIN_ABI_VERSION,                                                      \
        .struct_size = sizeof(struct wg_plugin_descriptor),                                        \
        __VA_ARGS__}

#endif
