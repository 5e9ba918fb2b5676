/* The plugin ABI, version 3: the only header a wardgate device driver includes.
 *
 * A driver is a shared object exporting one symbol, WG_PLUGIN_SYMBOL, of type
 * `const struct wg_plugin_descriptor` (write it with WG_PLUGIN_DEFINE). One
 * driver instance serves one bus: an RS-485 line, a Modbus TCP endpoint, a
 * GPIO chip, a simulated facility. Build it with
 *
 *     cc -std=gnu11 -fPIC -shared -I<wardgate>/gateway -o mydriver.so mydriver.c
 *
 * and name the file after the driver: a bus `driver: mydriver` loads
 * `<plugins.dir>/mydriver.so`.
 *
 * ==========================================================================
 * Section: versions and growth
 * ==========================================================================
 *
 * The host reads `abi_version` and `struct_size` of the descriptor first.
 *
 *  - abi_version 3 (this header) and 2: the same layout; version 3 added
 *    optional members only (host: post_poll_done, driver_context;
 *    descriptor: context_new, context_free), so a version 2 driver is a
 *    version 3 driver that has none of them. Accepted when struct_size is
 *    at least WG_PLUGIN_DESCRIPTOR_MIN_SIZE, the size of the mandatory part (up to
 *    and including `close`). Optional members that lie beyond struct_size
 *    count as NULL. So a driver built against an older revision of this
 *    header (before an optional member was added) still loads, and one built
 *    against a newer revision loads too: the host ignores what it does not
 *    know. New optional members take the place of `reserved` slots; drivers
 *    leave those zero (WG_PLUGIN_DEFINE does).
 *  - abi_version 1 (wardgate 0.1): still loaded, through a compatibility
 *    layer in the host: such a driver gets the version 1 host table and its
 *    stop() is called without a reason, so it cannot keep its outputs across
 *    a restart of its own bus, and it reports health without reason codes
 *    (the host derives them from the text). Its descriptor must have exactly
 *    the version 1 size.
 *  - any other abi_version, or a size below the minimum, is refused: the
 *    bus's config line, the file and both versions are named, e.g.
 *    "bus f1: plugin /usr/lib/wardgate/plugins/x.so was built for plugin ABI
 *    4; this wardgated loads ABI 1 to 3".
 *
 * The host table grows the same way: a driver that wants a host member added
 * after version 2.0 checks `host->struct_size` first (WG_HOST_HAS).
 * abi_version changes only for a change that cannot be made by growing, or
 * when drivers must be able to rely on new members: version 3 was declared
 * for the driver context, so that a version 3 driver (which may need its
 * context) is refused by a version 2 host instead of running without it.
 *
 * ==========================================================================
 * Section: lifecycle
 * ==========================================================================
 *
 * Every lifecycle function is called on the core thread, one at a time, never
 * concurrently with another lifecycle function of the same instance:
 *
 *     open -> [take_over]* -> start -> [write]* -> stop(reason) -> close
 *
 * with two shortened forms: open -> close (the configuration was refused, or
 * the reload that opened it was given up, or it was a --check), and
 * open -> [take_over]* -> start failing -> close. start is called at most
 * once per instance: an instance that was stopped is never started again (a
 * reload that must bring a bus back opens a fresh instance instead, which may
 * take over from the stopped one).
 *
 * A reload (SIGHUP, or a change made in the manager UI) restarts only the
 * buses whose own section, devices, or the profiles of those devices
 * changed: it opens an instance with the new configuration, stops the
 * running one with WG_STOP_BUS_CHANGED, offers it to the new instance's
 * take_over, and starts the new instance. Buses that did not change keep
 * running and never see the reload. If anything in a reload fails, every
 * bus it touched is brought back, with the same mechanism, to what it was.
 *
 * ==========================================================================
 * Section: threads and the host callbacks
 * ==========================================================================
 *
 * A driver runs its own threads between start and the return of stop.
 * Everything it learns from the field goes to the core through the post_*
 * callbacks of struct wg_host, which are thread-safe and return a
 * wg_post_status:
 *
 *  - from a driver thread, a post waits while the core's queue is full
 *    (readings wait rather than vanish) until there is room (QUEUED) or the
 *    bus is being stopped (CLOSED). So a driver thread must never hold a lock
 *    that stop() needs while it posts;
 *  - on the core thread (inside start, write, take_over or stop) a post never
 *    waits: it returns WG_POST_FULL when the queue has no room. Prefer posting
 *    from your own thread;
 *  - before start and after stop has returned, posts return WG_POST_CLOSED
 *    and nothing is queued; while stop runs, a post that finds room is still
 *    queued (a last reading is not lost) and one that would wait returns
 *    WG_POST_CLOSED at once.
 *
 * A driver never touches SQLite, MQTT or the web server.
 *
 * ==========================================================================
 * Section: one context per driver (ABI 3)
 * ==========================================================================
 *
 * Some drivers serve many buses best from one place: the modbus-tcp driver
 * runs every Modbus TCP endpoint on one I/O thread with epoll. Such a driver
 * offers context_new and context_free in its descriptor. The host calls
 * context_new once when it loads the driver's file (before the first open,
 * also for --check: start no thread there) and context_free when it unloads
 * it (after the last instance closed); every instance of the driver finds
 * the context in host->driver_context. The context is the driver's, not the
 * host's: so a driver keeps no mutable globals. Threads the context starts
 * follow the instances' lifecycle rules: none runs for an instance before
 * its start or after its stop returned. A host older than ABI 3 offers no
 * context (WG_HOST_HAS(host, driver_context) is false): the driver then
 * keeps one of its own per instance.
 *
 * ==========================================================================
 * Section: poll boundaries (ABI 3)
 * ==========================================================================
 *
 * A driver that reads a device in polls (all of its points at once) calls
 * host->post_poll_done after it has posted every reading of one poll of the
 * device, on the same thread, so the core's queue keeps the order. The core
 * then knows the poll is whole (per-read telemetry publishes it as one).
 * Drivers that never call it (edges, simulated devices, ABI 1/2 drivers)
 * still work: the core then takes what one turn of its loop received.
 */
#ifndef WG_PLUGIN_H
#define WG_PLUGIN_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The ABI this header describes, and the oldest one the host still loads. */
#define WG_PLUGIN_ABI_VERSION 3u
#define WG_PLUGIN_ABI_OLDEST  1u
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

/* Why a device has the health it has: a stable code beside the free text.
 * The core keeps it with the device (`reason_code` in the device JSON and in
 * the health event) and the pages put it into words. */
enum wg_health_reason {
    WG_REASON_OTHER = 0,         /* none of the below */
    WG_REASON_ANSWERING = 1,     /* online: it replies */
    WG_REASON_TIMEOUT = 2,       /* no (complete) reply in time */
    WG_REASON_CRC = 3,           /* replies with a bad checksum */
    WG_REASON_EXCEPTION = 4,     /* a protocol exception reply */
    WG_REASON_BAD_REPLY = 5,     /* garbage: wrong length, unit or function */
    WG_REASON_CONNECTION = 6,    /* port or connection cannot be opened, or was lost */
    WG_REASON_CABLE_CUT = 7,     /* a supervised loop is open */
    WG_REASON_SHORT_CIRCUIT = 8, /* a supervised loop is shorted */
    WG_REASON_CHIP_MISSING = 9,  /* the GPIO chip (or the adapter) went away */
    WG_REASON_LINE_BUSY = 10,    /* the line is held by another consumer */
    WG_REASON_SCRIPTED = 11,     /* set by a test script or the sim driver's control */
};
#define WG_REASON_COUNT 12

/* Why stop() is called. What the driver does with its outputs depends on it. */
enum wg_stop_reason {
    /* The daemon is shutting down. Put every output into its stop state (lamps
     * and buzzers off, fire-door magnets de-energised: released) and let go. */
    WG_STOP_SHUTDOWN = 0,
    /* A reload removed this bus, or takes back a bus that a failed reload had
     * started. Keep outputs as they are: a fresh instance may take them over
     * (take_over); what nobody took over is put into its stop state at close. */
    WG_STOP_RELOAD = 1,
    /* This bus's own section, devices or their profiles changed: an instance
     * opened with the new configuration follows at once and is offered this
     * one in take_over. Keep outputs as they are (a held fire door stays
     * held, a lamp keeps its pattern) and keep inputs requested if you can,
     * so that nothing happening during the switch is missed. */
    WG_STOP_BUS_CHANGED = 2,
};

/* What a post_* callback did with the data. */
enum wg_post_status {
    WG_POST_QUEUED = 0, /* handed to the core */
    WG_POST_CLOSED = 1, /* not taken: the bus is not started, or is being stopped */
    WG_POST_FULL = 2,   /* not taken: the queue is full and the caller may not wait (core thread) */
    WG_POST_INVALID = 3, /* not taken: a device or point index outside the bus view (logged) */
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

/* ==========================================================================
 * Section: the bus view
 *
 * What open() is given: the bus and its enabled devices, in config order.
 * The memory of the view and of every string in it belongs to the host and
 * stays valid and unchanged from open until close returns, also across
 * reloads that do not restart the bus; keep pointers into it freely. The
 * wg_cfg_node pointers (settings, source) may only be read inside open().
 * The layout is the same in ABI 1, 2 and 3.
 * ========================================================================== */

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

/* ==========================================================================
 * Section: what the host offers a driver (struct wg_host)
 *
 * One table per bus instance, valid from open until close returns. Pass the
 * table itself back as the first argument. Device and point indexes are the
 * driver's own: positions in bus->devices[] and in its points[]; the host
 * translates them to the core's.
 * ========================================================================== */

struct wg_host {
    /* sizeof(struct wg_host) of the running daemon: members beyond it are absent. */
    uint32_t struct_size;
    /* WG_PLUGIN_ABI_VERSION of the running daemon. */
    uint32_t abi_version;

    /*
     * Function: now_ms
     * Thread:   any.
     * Returns:  the time on the core's clock, in ms since the Unix epoch (tests
     *           run the core on a manual clock: use this, not time()).
     */
    int64_t (*now_ms)(const struct wg_host *host);

    /*
     * Function: log
     * Thread:   any. Writes one line to the daemon's log, prefixed with the bus id.
     * Parameters:
     *   level - a wg_log_level_plugin.
     */
    void (*log)(const struct wg_host *host, int level, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

    /*
     * Function: post_reading
     * Thread:   any; see "threads" above for when it waits.
     * When:     every value read from the field, changed or not (the core's
     *           supervision needs to hear from a device at least every few
     *           poll periods), and an output's value after a write.
     * Parameters:
     *   device, point - indexes into the bus view.
     *   value         - bool points 0/1; analog and counter in the profile's unit.
     *   ts_ms         - when the value was observed (an edge's kernel time stamp,
     *                   a reply's arrival), on the core's clock.
     * Returns:  a wg_post_status.
     */
    enum wg_post_status (*post_reading)(const struct wg_host *host, uint32_t device, uint32_t point,
                                        double value, int64_t ts_ms);

    /*
     * Function: post_health
     * Thread:   any; waits like post_reading.
     * When:     a device's health changes (posting the same health again is
     *           harmless: the core keeps only changes).
     * Parameters:
     *   device - index into the bus view.
     *   health - the new state.
     *   code   - why, as a code the pages can put into words. WG_REASON_OTHER
     *            with a text has the text looked up in the core's table of
     *            drivers' wordings (gateway/drivers/health_reason.c): use it when you
     *            pass a device's own words on and have no code of your own.
     *   reason - why, in English for the log and the journal, e.g.
     *            "timeout (no reply in 300 ms)"; at most 63 bytes are kept.
     * Returns:  a wg_post_status.
     */
    enum wg_post_status (*post_health)(const struct wg_host *host, uint32_t device,
                                       enum wg_health health, enum wg_health_reason code,
                                       const char *reason);

    /*
     * Function: post_write_result
     * Thread:   any; waits like post_reading.
     * When:     once per request accepted by write(), after the output was set
     *           and read back (or after that failed).
     * Parameters:
     *   request_id - the one write() was given.
     *   ok         - the output has the value.
     *   reason     - when !ok, why ("read-back 0 after writing 1"); "" otherwise.
     * Returns:  a wg_post_status.
     */
    enum wg_post_status (*post_write_result)(const struct wg_host *host, uint64_t request_id,
                                             bool ok, const char *reason);

    /*
     * Function: post_counter
     * Thread:   any; waits like post_reading.
     * When:     an error or event worth counting per device ("timeout", "crc",
     *           "bounces"); the core adds `increment` to the device's counter.
     * Returns:  a wg_post_status.
     */
    enum wg_post_status (*post_counter)(const struct wg_host *host, uint32_t device,
                                        const char *counter, uint64_t increment);

    /*
     * Functions: cfg_get, cfg_scalar, cfg_seq_len, cfg_seq_at
     * Thread:    core thread, inside open() only.
     * Reading the driver's own config sections (bus settings, device settings,
     * point sources). cfg_get returns NULL for a missing key or a non-map;
     * cfg_scalar the text, or NULL for a non-scalar; cfg_seq_len 0 for a
     * non-sequence.
     */
    const wg_cfg_node *(*cfg_get)(const wg_cfg_node *map, const char *key);
    const char *(*cfg_scalar)(const wg_cfg_node *node);
    size_t (*cfg_seq_len)(const wg_cfg_node *seq);
    const wg_cfg_node *(*cfg_seq_at)(const wg_cfg_node *seq, size_t index);

    /*
     * Functions: cfg_int, cfg_double, cfg_bool, cfg_string
     * Thread:    core thread, inside open() only.
     * Typed reads of `key` in `map`. A wrong value is reported as
     * "file:line:col: <key>: expected ..." and they return false. An absent
     * key leaves *out unchanged and returns true. Strings stay valid only
     * until open() returns: copy what you keep.
     */
    bool (*cfg_int)(const struct wg_host *host, const wg_cfg_node *map, const char *key,
                    long long min, long long max, long long *out);
    bool (*cfg_double)(const struct wg_host *host, const wg_cfg_node *map, const char *key,
                       double *out);
    bool (*cfg_bool)(const struct wg_host *host, const wg_cfg_node *map, const char *key,
                     bool *out);
    bool (*cfg_string)(const struct wg_host *host, const wg_cfg_node *map, const char *key,
                       const char **out);

    /*
     * Function: cfg_only_keys
     * Thread:   core thread, inside open() only.
     * Returns:  false (after reporting each) when `map` has a key outside the
     *           NULL-terminated `allowed` list, or is not a map.
     */
    bool (*cfg_only_keys)(const struct wg_host *host, const wg_cfg_node *map,
                          const char *const *allowed);

    /*
     * Function: cfg_error
     * Thread:   core thread, inside open() only.
     * Reports "file:line:col: <message>" for `node` (NULL: no position) and
     * marks the configuration invalid: open's success is then not believed.
     */
    void (*cfg_error)(const struct wg_host *host, const wg_cfg_node *node, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

    /* ---- added in ABI 3: check with WG_HOST_HAS before use ---- */

    /*
     * Function: post_poll_done
     * Thread:   any; waits like post_reading.
     * When:     after the driver has posted every reading of one poll of
     *           `device` (see "poll boundaries"), from the thread that posted
     *           them. A write's read-back counts as a poll of one point.
     * Parameters:
     *   device - index into the bus view.
     *   ts_ms  - when the poll completed, on the core's clock.
     * Returns:  a wg_post_status. Queued as a WG_MSG_POLL_DONE message.
     */
    enum wg_post_status (*post_poll_done)(const struct wg_host *host, uint32_t device,
                                          int64_t ts_ms);

    /* The driver's context (see "one context per driver"): what its
     * context_new made, the same for every instance of the driver; NULL when
     * the driver has no context_new. */
    void *driver_context;

    void *reserved[6]; /* NULL; future members */
};

/* Whether the running host has `member` (a member added after ABI 2.0). */
#define WG_HOST_HAS(host, member)                                                                  \
    ((host)->struct_size >= offsetof(struct wg_host, member) + sizeof((host)->member) &&           \
     (host)->member != NULL)

/* ==========================================================================
 * Section: what a driver offers the host (struct wg_plugin_descriptor)
 * ========================================================================== */

struct wg_plugin_descriptor {
    uint32_t abi_version; /* WG_PLUGIN_ABI_VERSION */
    uint32_t struct_size; /* sizeof(struct wg_plugin_descriptor) */
    const char *name;     /* must equal the bus's `driver:` and the file name */
    const char *version;  /* the driver's own version, for the log */

    /*
     * Function: open
     * Thread:   core thread. No threads of the driver exist yet.
     * When:     at start, at every reload for a bus that is new or changed,
     *           for --check, and to bring a bus back after a failed reload.
     *           Several instances of the driver may be open at once (one per
     *           bus, and during a reload an old and a new one for the same bus).
     * What:     validate the bus's settings, the devices' settings and the
     *           profiles' point `source:` sections, reporting every problem
     *           through host->cfg_error (or host->log); allocate the instance.
     *           Open no device, port or line yet: a reload that is refused
     *           later must leave the running instance undisturbed.
     * May call: host->cfg_*, host->log, host->now_ms. Posting is refused.
     * Parameters:
     *   host     - this instance's host table; keep it.
     *   bus      - the bus view; keep it (see "the bus view").
     *   instance - set it to the new instance on success.
     * Returns:  0, or -1 after reporting why.
     */
    int (*open)(const struct wg_host *host, const struct wg_bus_view *bus, void **instance);

    /*
     * Function: start
     * Thread:   core thread.
     * When:     once, after open (and take_over, if any). Only after every
     *           bus of a configuration opened without error.
     * What:     open the lines, ports and chips, start the driver's threads.
     *           Do not wait for the field here (connect from your thread): the
     *           core thread serves the displays meanwhile. Inputs and outputs
     *           taken over keep their state; others start in their defined
     *           start state.
     * May call: everything in the host table; posts do not wait here.
     * Returns:  0, or -1 after logging why. After -1 the instance holds no
     *           thread and nothing it opened itself in start, but still holds
     *           what it took over (it may be offered to a take_over of a
     *           fresh instance); close follows.
     */
    int (*start)(void *instance);

    /*
     * Function: write
     * Thread:   core thread.
     * When:     between start and stop, to drive an output point.
     * What:     queue the write and return; never wait for I/O. The outcome
     *           arrives through post_write_result. Writing the value an
     *           output already has must not disturb it (a flashing lamp keeps
     *           its rhythm): the core writes every output again after a
     *           reload restarted its bus.
     * Parameters:
     *   request - device and point index the bus view; value; request_id.
     * Returns:  0 when queued, -1 when refused (not an output, a value the
     *           output cannot show, the queue full).
     */
    int (*write)(void *instance, const struct wg_write_request *request);

    /*
     * Function: stop
     * Thread:   core thread.
     * When:     once, after a successful start.
     * What:     stop and join the driver's threads; see enum wg_stop_reason for
     *           what becomes of outputs and inputs. A post the threads make
     *           meanwhile is not allowed to wait (see "threads").
     * After:    no callback of any kind is made by the instance.
     * Parameters:
     *   reason - why, see enum wg_stop_reason.
     */
    void (*stop)(void *instance, enum wg_stop_reason reason);

    /*
     * Function: close
     * Thread:   core thread.
     * When:     last: after stop, after a failed start, or after open alone.
     * What:     put outputs still held (after a stop other than SHUTDOWN, and
     *           not taken over) into their stop state, let go of everything,
     *           free the instance.
     */
    void (*close)(void *instance);

    /* ---- optional: NULL, or beyond struct_size, when not supported ---- */

    /*
     * Function: take_over
     * Thread:   core thread.
     * When:     after open and before start of `instance`, once for each
     *           instance of the same driver, loaded from the same file, that a
     *           reload stopped with WG_STOP_BUS_CHANGED or WG_STOP_RELOAD and
     *           that is not closed yet: the running configuration's instances
     *           of the buses that change or go, in their order. When a reload
     *           is undone, the fresh instances that bring the buses back are
     *           offered those and also the reload's new instances (stopped,
     *           failed to start, or opened and never started: they may hold
     *           what they took over). `previous` is closed later, never
     *           started again.
     * What:     move into `instance` whatever of `previous` it can use as it
     *           is: line requests with the outputs' levels and patterns,
     *           open ports, latched contact states, a control FIFO. What is
     *           moved is no longer `previous`'s to release. Drivers without
     *           such state leave take_over NULL.
     * May call: host->log, host->now_ms (of either instance).
     * Parameters:
     *   instance - the new instance, opened, not started.
     *   previous - an instance of this very driver (same .so).
     * Returns:  0, or -1 after logging why (the reload then fails and is
     *           undone).
     */
    int (*take_over)(void *instance, void *previous);

    /* ---- optional, added in ABI 3 ---- */

    /*
     * Functions: context_new, context_free
     * Thread:    core thread.
     * When:      context_new when the host loads the driver's file, before
     *            the first open; context_free when it unloads it, after the
     *            last close. See "one context per driver".
     * What:      allocate (free) what every instance of the driver shares.
     *            context_new starts no thread and opens no line.
     * Returns:   context_new: 0 with *context set, or -1 (the driver is then
     *            refused, the buses using it named).
     */
    int (*context_new)(void **context);
    void (*context_free)(void *context);

    void *reserved[6]; /* zero; future optional members */
};

/* The size a version 2 or 3 descriptor has at least: up to and including close. */
#define WG_PLUGIN_DESCRIPTOR_MIN_SIZE                                                              \
    (offsetof(struct wg_plugin_descriptor, close) + sizeof(void (*)(void *)))

#define WG_PLUGIN_DEFINE(...)                                                                      \
    __attribute__((visibility("default"))) const struct wg_plugin_descriptor wardgate_plugin = {   \
        .abi_version = WG_PLUGIN_ABI_VERSION,                                                      \
        .struct_size = sizeof(struct wg_plugin_descriptor),                                        \
        __VA_ARGS__}

#endif
