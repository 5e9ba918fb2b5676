/* Unit tests of the plugin host: drivers refused for an ABI this daemon does
 * not load, a short descriptor, a missing symbol, a wrong name or a missing
 * file, each with a message naming the bus, the file and file:line; ABI 1
 * drivers loaded through the compatibility layer, ABI 2 descriptors of the
 * minimum size and grown ones; post statuses; device views, index translation
 * and write routing; and the reload transaction with the conformance driver:
 * only changed buses restarted, take_over, stop reasons, and a failure at
 * each stage undone with every bus running and every output as it was. */
#include "testutil.h"
#include "../plugins/conform.h"
#include "../plugins/probe.h"
#include "testconfig.h"

#include <dlfcn.h>
#include <math.h>
#include <pthread.h>

#include "common/clock.h"
#include "config/config.h"
#include "drivers/plugin_abi1.h"
#include "drivers/plugin_host.h"
#include "core/queue.h"

struct fixture {
    char *dir;
    char *plugin_dir;
    struct wg_config *config;
    struct wg_queue *queue;
    struct wg_clock clock;
    struct wg_diag diag;
    void *keep[4]; /* test drivers kept loaded so their globals can be read */
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    f->dir = test_tmpdir();
    f->plugin_dir = test_plugin_dir();
    f->queue = queue_new(64);
    f->clock = clock_manual(1700000000000LL);
    diag_init(&f->diag);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    config_free(f->config);
    queue_free(f->queue);
    diag_free(&f->diag);
    for (size_t i = 0; i < 4; i++)
        if (f->keep[i])
            dlclose(f->keep[i]);
    test_rmtree(f->dir);
    free(f->dir);
    free(f->plugin_dir);
    free(f);
    return 0;
}

static struct wg_config *load_text(struct fixture *f, const char *buses_and_devices)
{
    struct wg_config *config = test_load_config(test_site_config(f->dir, buses_and_devices));
    assert_non_null(config);
    return config;
}

static void load(struct fixture *f, const char *buses_and_devices)
{
    f->config = load_text(f, buses_and_devices);
}

static bool diag_has(const struct wg_diag *diag, const char *needle)
{
    for (size_t i = 0; i < diag->count; i++)
        if (strstr(diag->messages[i], needle))
            return true;
    for (size_t i = 0; i < diag->count; i++)
        print_message("# got: %s\n", diag->messages[i]);
    return false;
}

/* Loads a test driver and keeps it loaded; returns a symbol of it. */
static void *driver_symbol(struct fixture *f, const char *driver, const char *symbol)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s.so", f->plugin_dir, driver);
    void *handle = dlopen(path, RTLD_NOW);
    assert_non_null(handle);
    size_t i = 0;
    while (f->keep[i])
        i++;
    f->keep[i] = handle;
    void *found = dlsym(handle, symbol);
    assert_non_null(found);
    return found;
}

static void expect_refused(void **state, const char *driver, const char *needle)
{
    struct fixture *f = *state;
    char text[512];
    snprintf(text, sizeof text,
             "buses:\n  - {id: bus-x, driver: %s}\n"
             "devices:\n  - {id: call-101A, bus: bus-x, address: 1, profile: call-point, bed: "
             "101-A}\n",
             driver);
    load(f, text);
    struct wg_plugin_host *host =
        plugin_host_open(f->config, f->plugin_dir, f->queue, &f->clock, &f->diag);
    assert_null(host);
    assert_true(diag_has(&f->diag, needle));
    assert_true(diag_has(&f->diag, "site.yaml:14:")); /* the bus's line */
    assert_true(diag_has(&f->diag, "bus bus-x"));
}

static void test_wrong_abi_refused(void **state)
{
    expect_refused(state, "bad-abi",
                   "/bad-abi.so was built for plugin ABI 101; "
                   "this wardgated loads ABI 1 to 3");
}

static void test_short_descriptor_refused(void **state)
{
    expect_refused(state, "short-descriptor",
                   "short-descriptor.so (plugin ABI 3) has a descriptor of");
}

static void test_no_symbol_refused(void **state)
{
    expect_refused(state, "no-symbol", "is not a wardgate plugin (no symbol \"wardgate_plugin\")");
}

static void test_wrong_name_refused(void **state)
{
    expect_refused(state, "wrong-name", "calls itself \"somebody_else\", expected \"wrong-name\"");
}

static void test_missing_plugin_refused(void **state)
{
    expect_refused(state, "modbus-tcp", "cannot load driver \"modbus-tcp\"");
}

static void test_driver_config_error_has_position(void **state)
{
    struct fixture *f = *state;
    load(f, "buses:\n"
            "  - id: p1\n"
            "    driver: probe\n"
            "    settings: {refuse: true}\n"
            "devices:\n"
            "  - {id: call-101A, bus: p1, address: 1, profile: call-point, bed: 101-A}\n");
    assert_null(plugin_host_open(f->config, f->plugin_dir, f->queue, &f->clock, &f->diag));
    assert_true(diag_has(&f->diag, "site.yaml:16:15: refuse: the probe was told to refuse"));
}

static struct probe_bus *probe_buses(struct fixture *f)
{
    struct probe_bus *buses = driver_symbol(f, "probe", "probe_buses");
    *(int *)driver_symbol(f, "probe", "probe_bus_count") = 0;
    *(int *)driver_symbol(f, "probe", "probe_contexts_made") = 0;
    return buses;
}

/* Pops one message and translates it; false when the queue is empty. */
static bool pop(struct wg_plugin_host *host, struct wg_queue *queue, struct wg_msg *msg,
                bool *known)
{
    if (queue_pop_batch(queue, msg, 1) != 1)
        return false;
    *known = plugin_host_translate(host, msg);
    return true;
}

static void test_views_indexes_and_writes(void **state)
{
    struct fixture *f = *state;
    load(f, "buses:\n"
            "  - {id: p1, driver: probe}\n"
            "  - {id: p2, driver: probe}\n"
            "devices:\n"
            "  - {id: call-101A, bus: p1, address: 1, profile: call-point, bed: 101-A}\n"
            "  - {id: lamp-101, bus: p2, address: 1, profile: door-lamp, room: \"101\"}\n"
            "  - {id: off-101, bus: p2, address: 2, profile: door-lamp, room: \"101\", "
            "enabled: false}\n"
            "  - {id: call-102A, bus: p2, address: 3, profile: call-point, bed: 102-A}\n");
    struct probe_bus *probes = probe_buses(f);
    struct wg_plugin_host *host =
        plugin_host_open(f->config, f->plugin_dir, f->queue, &f->clock, &f->diag);
    assert_non_null(host);
    assert_int_equal(plugin_host_bus_count(host), 2);

    /* Bus p2 sees only its enabled devices, with locations. */
    const struct wg_bus_view *p2 = probes[1].bus;
    assert_string_equal(p2->id, "p2");
    assert_int_equal(p2->device_count, 2);
    assert_string_equal(p2->devices[0].id, "lamp-101");
    assert_string_equal(p2->devices[1].id, "call-102A");
    assert_string_equal(p2->devices[1].location, "f1/102/102-A");
    assert_true(p2->devices[0].point_count > 0);

    const struct wg_host *api = probes[1].host;
    assert_int_equal(api->struct_size, sizeof(struct wg_host));
    assert_int_equal(api->abi_version, WG_PLUGIN_ABI_VERSION);
    /* ABI 3: one context for the driver's file, the same for both buses. */
    assert_int_equal(*(int *)driver_symbol(f, "probe", "probe_contexts_made"), 1);
    assert_non_null(probes[0].context);
    assert_ptr_equal(probes[0].context, probes[1].context);
    /* Before start nothing is taken. */
    assert_int_equal(api->post_reading(api, 1, 0, 1.0, 41), WG_POST_CLOSED);
    assert_int_equal(plugin_host_start(host), 0);
    assert_int_equal(probes[0].started, 1);

    /* A reading on p2's local device 1 arrives as the core's device 3. */
    assert_int_equal(api->post_reading(api, 1, 0, 1.0, 42), WG_POST_QUEUED);
    assert_int_equal(
        api->post_health(api, 0, WG_HEALTH_OFFLINE, WG_REASON_TIMEOUT, "timeout (no reply)"),
        WG_POST_QUEUED);
    assert_int_equal(api->post_counter(api, 0, "timeout", 3), WG_POST_QUEUED);
    assert_int_equal(api->post_poll_done(api, 1, 46), WG_POST_QUEUED);
    assert_int_equal(api->post_poll_done(api, 5, 47), WG_POST_INVALID);
    assert_int_equal(api->post_reading(api, 7, 0, 1.0, 43), WG_POST_INVALID);  /* no such device */
    assert_int_equal(api->post_reading(api, 1, 99, 1.0, 44), WG_POST_INVALID); /* no such point */
    assert_int_equal(api->post_health(api, 9, WG_HEALTH_ONLINE, WG_REASON_ANSWERING, ""),
                     WG_POST_INVALID);
    struct wg_msg out;
    bool known;
    assert_true(pop(host, f->queue, &out, &known) && known);
    assert_int_equal(out.type, WG_MSG_READING);
    assert_int_equal(out.device, 3);
    assert_null(out.origin);
    assert_int_equal(out.ts_ms, 42);
    assert_true(pop(host, f->queue, &out, &known) && known);
    assert_int_equal(out.type, WG_MSG_HEALTH);
    assert_int_equal(out.device, 1);
    assert_int_equal(out.code, WG_REASON_TIMEOUT);
    assert_string_equal(out.text, "timeout (no reply)");
    assert_true(pop(host, f->queue, &out, &known) && known);
    assert_int_equal(out.type, WG_MSG_COUNTER);
    assert_int_equal((int)out.value, 3);
    /* The poll boundary follows the readings, in the core's indexes. */
    assert_true(pop(host, f->queue, &out, &known) && known);
    assert_int_equal(out.type, WG_MSG_POLL_DONE);
    assert_int_equal(out.device, 3);
    assert_int_equal(out.ts_ms, 46);
    assert_false(pop(host, f->queue, &out, &known));
    assert_int_equal(api->now_ms(api), 1700000000000LL);

    /* Writes: only to output points of enabled devices, routed with the local index. */
    size_t output = SIZE_MAX;
    for (size_t p = 0; p < p2->devices[0].point_count; p++)
        if (p2->devices[0].points[p].direction == WG_POINT_OUTPUT)
            output = p;
    assert_true(output != SIZE_MAX);
    assert_int_equal(plugin_host_write(host, 1, output, 2.0, 77), 0);
    assert_int_equal(probes[1].write_count, 1);
    assert_int_equal(probes[1].last_write.device, 0);
    assert_int_equal(probes[1].last_write.request_id, 77);
    assert_int_equal(plugin_host_write(host, 0, 0, 1.0, 78), -1);      /* an input */
    assert_int_equal(plugin_host_write(host, 2, output, 1.0, 79), -1); /* disabled */

    plugin_host_stop(host);
    assert_int_equal(probes[1].started, 0);
    assert_int_equal(probes[1].stop_reason, WG_STOP_SHUTDOWN);
    /* After stop nothing is taken, and writes are refused. */
    assert_int_equal(api->post_reading(api, 1, 0, 1.0, 45), WG_POST_CLOSED);
    assert_int_equal(plugin_host_write(host, 1, output, 2.0, 80), -1);
    plugin_host_close(host);
}

struct blocked_poster {
    const struct wg_host *api;
    enum wg_post_status status;
};

static void *post_into_full_queue(void *arg)
{
    struct blocked_poster *poster = arg;
    poster->status = poster->api->post_reading(poster->api, 0, 0, 1.0, 1);
    return NULL;
}

/* The core thread never waits for room (FULL); a driver thread waits until
 * the bus is stopped (CLOSED), so stop can always join it. */
static void test_full_queue(void **state)
{
    struct fixture *f = *state;
    queue_free(f->queue);
    f->queue = queue_new(2);
    load(f, "buses:\n  - {id: p1, driver: probe}\n"
            "devices:\n  - {id: call-101A, bus: p1, address: 1, profile: call-point, bed: "
            "101-A}\n");
    struct probe_bus *probes = probe_buses(f);
    struct wg_plugin_host *host =
        plugin_host_open(f->config, f->plugin_dir, f->queue, &f->clock, &f->diag);
    assert_non_null(host);
    assert_int_equal(plugin_host_start(host), 0);
    const struct wg_host *api = probes[0].host;
    assert_int_equal(api->post_reading(api, 0, 0, 1.0, 1), WG_POST_QUEUED);
    assert_int_equal(api->post_reading(api, 0, 0, 0.0, 2), WG_POST_QUEUED);
    assert_int_equal(api->post_reading(api, 0, 0, 1.0, 3), WG_POST_FULL); /* core thread */

    struct blocked_poster poster = {.api = api, .status = WG_POST_QUEUED};
    pthread_t thread;
    assert_int_equal(pthread_create(&thread, NULL, post_into_full_queue, &poster), 0);
    struct wg_queue_stats stats;
    do { /* until the thread waits for room */
        usleep(1000);
        queue_stats(f->queue, &stats);
    } while (stats.producer_waits == 0);
    plugin_host_stop(host); /* releases the waiting post */
    pthread_join(thread, NULL);
    assert_int_equal(poster.status, WG_POST_CLOSED);
    struct wg_msg out[4];
    size_t count = queue_pop_batch(f->queue, out, 4);
    assert_int_equal(count, 2);
    for (size_t i = 0; i < count; i++)
        plugin_host_translate(host, &out[i]);
    plugin_host_close(host);
}

/* A driver built for plugin ABI 1 loads, runs and reports through the
 * compatibility layer; its health texts get reason codes. */
static void test_abi1_driver(void **state)
{
    struct fixture *f = *state;
    load(f, "buses:\n  - {id: old, driver: legacy-v1}\n"
            "devices:\n"
            "  - {id: call-101A, bus: old, address: 1, profile: call-point, bed: 101-A}\n"
            "  - {id: lamp-101, bus: old, address: 2, profile: door-lamp, room: \"101\"}\n");
    struct {
        const struct wg_host_v1 *host;
        const struct wg_bus_view *bus;
        int started, stopped, closed, writes;
    } *legacy = driver_symbol(f, "legacy-v1", "legacy_instance");
    struct wg_plugin_host *host =
        plugin_host_open(f->config, f->plugin_dir, f->queue, &f->clock, &f->diag);
    assert_non_null(host);
    assert_int_equal(legacy->host->struct_size, sizeof(struct wg_host_v1));
    assert_null(legacy->host->core);
    assert_int_equal(plugin_host_start(host), 0);
    assert_int_equal(legacy->started, 1);
    const struct wg_host_v1 *v1 = legacy->host;
    v1->post_health(v1, 0, WG_HEALTH_OFFLINE, "timeout after 300 ms");
    v1->post_health(v1, 1, WG_HEALTH_OFFLINE, "crc error");
    v1->post_health(v1, 1, WG_HEALTH_ONLINE, "");
    v1->post_health(v1, 0, WG_HEALTH_OFFLINE, "something else");
    v1->post_reading(v1, 0, 0, 1.0, 5);
    assert_int_equal(v1->now_ms(v1), 1700000000000LL);
    const int codes[] = {WG_REASON_TIMEOUT, WG_REASON_CRC, WG_REASON_ANSWERING, WG_REASON_OTHER};
    struct wg_msg out;
    bool known;
    for (size_t i = 0; i < 4; i++) {
        assert_true(pop(host, f->queue, &out, &known) && known);
        assert_int_equal(out.type, WG_MSG_HEALTH);
        assert_int_equal(out.code, codes[i]);
    }
    assert_true(pop(host, f->queue, &out, &known) && known);
    assert_int_equal(out.type, WG_MSG_READING);
    /* Writes reach it; its write result comes back. */
    const struct wg_profile *lamp = &f->config->profiles[f->config->devices[1].profile];
    size_t output = 0;
    while (lamp->points[output].direction != WG_POINT_OUTPUT)
        output++;
    assert_int_equal(plugin_host_write(host, 1, output, 1, 9), 0);
    assert_int_equal(legacy->writes, 1);
    assert_true(pop(host, f->queue, &out, &known) && known);
    assert_int_equal(out.type, WG_MSG_WRITE_RESULT);
    assert_int_equal(out.request_id, 9);
    plugin_host_stop(host);
    assert_int_equal(legacy->stopped, 1);
    plugin_host_close(host);
    assert_int_equal(legacy->closed, 1);
}

/* A version 2 descriptor of only the mandatory size loads (its take_over,
 * beyond that size, is never called) and so does one that grew. */
static void test_minimal_and_grown_descriptors(void **state)
{
    struct fixture *f = *state;
    int *take_overs = driver_symbol(f, "minimal-v2", "minimal_take_overs");
    load(f, "buses:\n"
            "  - {id: m1, driver: minimal-v2, settings: {a: 1}}\n"
            "  - {id: g1, driver: grown-descriptor}\n"
            "devices:\n"
            "  - {id: call-101A, bus: m1, address: 1, profile: call-point, bed: 101-A}\n");
    struct wg_plugin_host *host =
        plugin_host_open(f->config, f->plugin_dir, f->queue, &f->clock, &f->diag);
    assert_non_null(host);
    assert_int_equal(plugin_host_start(host), 0);
    /* A reload changing m1's section restarts it without a take_over. */
    struct wg_config *next =
        load_text(f, "buses:\n"
                     "  - {id: m1, driver: minimal-v2, settings: {a: 2}}\n"
                     "  - {id: g1, driver: grown-descriptor}\n"
                     "devices:\n"
                     "  - {id: call-101A, bus: m1, address: 1, profile: call-point, bed: 101-A}\n");
    struct wg_host_reload *reload = plugin_host_prepare(host, next, f->plugin_dir, &f->diag);
    assert_non_null(reload);
    char why[128];
    assert_int_equal(plugin_host_apply(host, reload, why, sizeof why), 0);
    plugin_host_commit(host, reload);
    assert_int_equal(*take_overs, 0);
    plugin_host_stop(host);
    plugin_host_close(host);
    config_free(f->config);
    f->config = next;
}

/* ---- reload with the conformance driver ---- */

struct conform {
    struct conform_instance *instances;
    int *count;
    char *log;
};

static struct conform conform_driver(struct fixture *f)
{
    struct conform c = {driver_symbol(f, "conform", "conform_instances"),
                        driver_symbol(f, "conform", "conform_count"),
                        driver_symbol(f, "conform", "conform_log")};
    *c.count = 0;
    c.log[0] = '\0';
    return c;
}

/* The live (started) instance of a bus. */
static struct conform_instance *live(struct conform *c, const char *bus)
{
    struct conform_instance *found = NULL;
    for (int i = 0; i < *c->count; i++)
        if (strcmp(c->instances[i].bus, bus) == 0 && c->instances[i].phase == CONFORM_STARTED) {
            assert_null(found); /* one live instance per bus */
            found = &c->instances[i];
        }
    return found;
}

static void no_violations(struct conform *c)
{
    for (int i = 0; i < *c->count; i++)
        if (c->instances[i].violations) {
            print_message("# log:\n%s", c->log);
            fail_msg("instance %s#%d: %d lifecycle violations", c->instances[i].bus,
                     c->instances[i].serial, c->instances[i].violations);
        }
}

static const char *const three_buses =
    "buses:\n"
    "  - {id: a, driver: conform}\n"
    "  - {id: b, driver: conform, settings: {tag: one}}\n"
    "  - {id: c, driver: conform}\n"
    "devices:\n"
    "  - {id: lamp-101, bus: a, address: 1, profile: door-lamp, room: \"101\"}\n"
    "  - {id: lamp-102, bus: b, address: 1, profile: door-lamp, room: \"102\"}\n"
    "  - {id: call-101A, bus: b, address: 2, profile: call-point, bed: 101-A}\n"
    "  - {id: call-102A, bus: c, address: 1, profile: call-point, bed: 102-A}\n";

/* Writes value to every output point of every device; returns how many. */
static size_t write_all(struct wg_plugin_host *host, const struct wg_config *config, double value)
{
    size_t written = 0;
    for (size_t d = 0; d < config->device_count; d++) {
        const struct wg_profile *profile = &config->profiles[config->devices[d].profile];
        for (size_t p = 0; p < profile->point_count; p++)
            if (profile->points[p].direction == WG_POINT_OUTPUT) {
                assert_int_equal(plugin_host_write(host, d, p, value, 100 + written), 0);
                written++;
            }
    }
    return written;
}

static double output_of(struct conform_instance *instance, const char *device, const char *point)
{
    for (size_t d = 0; d < instance->view->device_count; d++)
        if (strcmp(instance->view->devices[d].id, device) == 0)
            for (size_t p = 0; p < instance->view->devices[d].point_count; p++)
                if (strcmp(instance->view->devices[d].points[p].name, point) == 0)
                    return instance->outputs[d][p];
    return -1;
}

static void drain(struct wg_plugin_host *host, struct wg_queue *queue)
{
    struct wg_msg out[64];
    size_t count;
    while ((count = queue_pop_batch(queue, out, 64)) > 0)
        for (size_t i = 0; i < count; i++)
            plugin_host_translate(host, &out[i]);
}

struct running {
    struct wg_plugin_host *host;
    struct conform c;
};

static struct running start_three(struct fixture *f)
{
    struct running r = {.c = conform_driver(f)};
    load(f, three_buses);
    r.host = plugin_host_open(f->config, f->plugin_dir, f->queue, &f->clock, &f->diag);
    assert_non_null(r.host);
    assert_int_equal(plugin_host_start(r.host), 0);
    assert_int_equal(write_all(r.host, f->config, 2), 6); /* lamp, corridor, buzzer of 2 lamps */
    drain(r.host, f->queue);
    return r;
}

static void finish(struct fixture *f, struct running *r)
{
    drain(r->host, f->queue);
    plugin_host_stop(r->host);
    plugin_host_close(r->host);
    no_violations(&r->c);
    for (int i = 0; i < *r->c.count; i++)
        assert_int_equal(r->c.instances[i].phase, CONFORM_CLOSED);
}

static void test_reload_restarts_only_the_changed_bus(void **state)
{
    struct fixture *f = *state;
    struct running r = start_three(f);
    struct conform_instance *a = live(&r.c, "a"), *b = live(&r.c, "b"), *c = live(&r.c, "c");
    /* b's section changes; a device moves off c; a new bus d appears. */
    struct wg_config *next =
        load_text(f, "buses:\n"
                     "  - {id: a, driver: conform}\n"
                     "  - {id: b, driver: conform, settings: {tag: two}}\n"
                     "  - {id: c, driver: conform}\n"
                     "  - {id: d, driver: conform}\n"
                     "devices:\n"
                     "  - {id: call-101B, bus: d, address: 1, profile: call-point, bed: 101-B}\n"
                     "  - {id: lamp-102, bus: b, address: 1, profile: door-lamp, room: \"102\"}\n"
                     "  - {id: call-101A, bus: b, address: 2, profile: call-point, bed: 101-A}\n"
                     "  - {id: lamp-101, bus: a, address: 1, profile: door-lamp, room: \"101\"}\n"
                     "  - {id: call-102A, bus: c, address: 1, profile: call-point, bed: 102-A}\n");
    struct wg_host_reload *reload = plugin_host_prepare(r.host, next, f->plugin_dir, &f->diag);
    assert_non_null(reload);
    struct wg_host_reload_summary summary;
    plugin_host_reload_summary(reload, &summary);
    assert_int_equal(summary.kept, 2);
    assert_int_equal(summary.restarted, 1);
    assert_string_equal(summary.restarted_ids, "b");
    assert_int_equal(summary.added, 1);
    assert_string_equal(summary.added_ids, "d");
    assert_int_equal(summary.removed, 0);
    assert_true(plugin_host_reload_restarts(reload, 1));  /* lamp-102 on b */
    assert_false(plugin_host_reload_restarts(reload, 3)); /* lamp-101 on a */
    assert_true(plugin_host_reload_restarts(reload, 0));  /* call-101B on d */

    /* A message of the unchanged bus a, posted before the switch, is read in
     * the configuration that runs when it is popped. */
    assert_int_equal(a->host->post_reading(a->host, 0, 0, 1.0, 7), WG_POST_QUEUED);
    char why[128];
    assert_int_equal(plugin_host_apply(r.host, reload, why, sizeof why), 0);
    /* a and c were never touched; b was stopped for a bus change and its
     * successor took its outputs over. */
    assert_ptr_equal(live(&r.c, "a"), a);
    assert_ptr_equal(live(&r.c, "c"), c);
    assert_int_equal(b->phase, CONFORM_STOPPED);
    assert_int_equal(b->stop_reason, WG_STOP_BUS_CHANGED);
    struct conform_instance *b2 = live(&r.c, "b");
    assert_non_null(b2);
    assert_int_equal(b2->taken_count, 1);
    assert_int_equal(b2->taken_from[0], b->serial);
    assert_true(output_of(b2, "lamp-102", "lamp") == 2);
    /* The new bus d was offered b too (same driver): nothing of b was d's. */
    struct conform_instance *d = live(&r.c, "d");
    assert_non_null(d);
    assert_int_equal(d->taken_count, 1);
    assert_true(isnan(d->outputs[0][0]));
    plugin_host_commit(r.host, reload);
    assert_int_equal(b->phase, CONFORM_CLOSED);
    assert_true(output_of(a, "lamp-101", "lamp") == 2);

    config_free(f->config);
    f->config = next;
    struct wg_msg out;
    bool known;
    assert_true(pop(r.host, f->queue, &out, &known) && known);
    assert_int_equal(out.device, 3); /* lamp-101 was device 0 when it was posted */
    /* Writes go by the new configuration's indexes. */
    size_t lamp102 = config_find_device(next, "lamp-102");
    assert_int_equal(plugin_host_write(r.host, lamp102, 0, 3, 200), 0);
    assert_true(output_of(b2, "lamp-102", "lamp") == 3);
    finish(f, &r);
}

static void test_reload_removed_bus(void **state)
{
    struct fixture *f = *state;
    struct running r = start_three(f);
    struct conform_instance *c = live(&r.c, "c");
    struct wg_config *next =
        load_text(f, "buses:\n"
                     "  - {id: a, driver: conform}\n"
                     "  - {id: b, driver: conform, settings: {tag: one}}\n"
                     "devices:\n"
                     "  - {id: lamp-101, bus: a, address: 1, profile: door-lamp, room: \"101\"}\n"
                     "  - {id: lamp-102, bus: b, address: 1, profile: door-lamp, room: \"102\"}\n"
                     "  - {id: call-101A, bus: b, address: 2, profile: call-point, bed: 101-A}\n");
    struct wg_host_reload *reload = plugin_host_prepare(r.host, next, f->plugin_dir, &f->diag);
    assert_non_null(reload);
    char why[128];
    assert_int_equal(plugin_host_apply(r.host, reload, why, sizeof why), 0);
    assert_int_equal(c->phase, CONFORM_STOPPED);
    assert_int_equal(c->stop_reason, WG_STOP_RELOAD);
    plugin_host_commit(r.host, reload);
    assert_int_equal(c->phase, CONFORM_CLOSED);
    assert_int_equal(plugin_host_bus_count(r.host), 2);
    config_free(f->config);
    f->config = next;
    finish(f, &r);
}

/* Every instance that runs now, with its serial: the same after a failed reload. */
static void snapshot(struct conform *c, int *serials, double *lamps)
{
    const char *buses[] = {"a", "b", "c"};
    for (size_t i = 0; i < 3; i++) {
        struct conform_instance *instance = live(c, buses[i]);
        assert_non_null(instance);
        serials[i] = instance->serial;
        lamps[i] = i == 2 ? 0 : output_of(instance, i == 0 ? "lamp-101" : "lamp-102", "buzzer");
    }
}

/* A reload refused when a driver refuses its new section: nothing is stopped. */
static void test_reload_refused_at_open(void **state)
{
    struct fixture *f = *state;
    struct running r = start_three(f);
    int before[3];
    double lamps[3];
    snapshot(&r.c, before, lamps);
    struct wg_config *next =
        load_text(f, "buses:\n"
                     "  - {id: a, driver: conform, settings: {tag: x}}\n"
                     "  - {id: b, driver: conform, settings: {refuse: true}}\n"
                     "  - {id: c, driver: conform}\n"
                     "devices:\n"
                     "  - {id: lamp-101, bus: a, address: 1, profile: door-lamp, room: \"101\"}\n"
                     "  - {id: lamp-102, bus: b, address: 1, profile: door-lamp, room: \"102\"}\n");
    assert_null(plugin_host_prepare(r.host, next, f->plugin_dir, &f->diag));
    assert_true(diag_has(&f->diag, "refuse: the conformance driver was told to refuse"));
    int after[3];
    double lamps_after[3];
    snapshot(&r.c, after, lamps_after);
    assert_memory_equal(before, after, sizeof before);
    assert_memory_equal(lamps, lamps_after, sizeof lamps);
    assert_null(strstr(r.c.log, "stop")); /* no running instance was stopped */
    config_free(next);
    finish(f, &r);
}

/* A reload whose changed bus fails to start: every bus touched is brought
 * back by a fresh instance of the running configuration that takes over,
 * outputs as they were; nothing is started twice. */
static void expect_undone(struct fixture *f, struct running *r, const char *next_text,
                          const char *failing)
{
    int before[3];
    double lamps[3];
    snapshot(&r->c, before, lamps);
    assert_true(lamps[0] == 2 && lamps[1] == 2);
    struct wg_config *next = load_text(f, next_text);
    struct wg_host_reload *reload = plugin_host_prepare(r->host, next, f->plugin_dir, &f->diag);
    assert_non_null(reload);
    char why[128];
    assert_int_equal(plugin_host_apply(r->host, reload, why, sizeof why), -1);
    assert_non_null(strstr(why, failing));
    int after[3];
    double lamps_after[3];
    snapshot(&r->c, after, lamps_after);
    assert_memory_equal(lamps, lamps_after, sizeof lamps);
    assert_int_equal(after[2], before[2]); /* c, unchanged, was never touched */
    /* Writes reach the restored instances under the running configuration. */
    assert_int_equal(write_all(r->host, f->config, 1), 6);
    snapshot(&r->c, after, lamps_after);
    assert_true(lamps_after[0] == 1 && lamps_after[1] == 1);
    config_free(next);
    finish(f, r);
}

static void test_reload_undone_when_a_changed_bus_fails_to_start(void **state)
{
    struct fixture *f = *state;
    struct running r = start_three(f);
    expect_undone(f, &r,
                  "buses:\n"
                  "  - {id: a, driver: conform, settings: {tag: new}}\n"
                  "  - {id: b, driver: conform, settings: {fail_start: true}}\n"
                  "  - {id: c, driver: conform}\n"
                  "devices:\n"
                  "  - {id: lamp-101, bus: a, address: 1, profile: door-lamp, room: \"101\"}\n"
                  "  - {id: lamp-102, bus: b, address: 1, profile: door-lamp, room: \"102\"}\n"
                  "  - {id: call-101A, bus: b, address: 2, profile: call-point, bed: 101-A}\n"
                  "  - {id: call-102A, bus: c, address: 1, profile: call-point, bed: 102-A}\n",
                  "bus b");
    /* a had been switched already: it was undone too, by a third instance. */
    assert_non_null(strstr(r.c.log, "a#1 stop bus changed"));
    assert_non_null(strstr(r.c.log, "b#2 stop bus changed"));
    assert_non_null(strstr(r.c.log, "b#5 start failed"));
}

static void test_reload_undone_when_a_new_bus_fails_to_start(void **state)
{
    struct fixture *f = *state;
    struct running r = start_three(f);
    expect_undone(f, &r,
                  "buses:\n"
                  "  - {id: a, driver: conform}\n"
                  "  - {id: b, driver: conform, settings: {tag: two}}\n"
                  "  - {id: c, driver: conform}\n"
                  "  - {id: d, driver: conform, settings: {fail_start: true}}\n"
                  "devices:\n"
                  "  - {id: lamp-101, bus: a, address: 1, profile: door-lamp, room: \"101\"}\n"
                  "  - {id: lamp-102, bus: b, address: 1, profile: door-lamp, room: \"102\"}\n"
                  "  - {id: call-101A, bus: b, address: 2, profile: call-point, bed: 101-A}\n"
                  "  - {id: call-102A, bus: c, address: 1, profile: call-point, bed: 102-A}\n",
                  "bus d");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_wrong_abi_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_short_descriptor_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_symbol_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wrong_name_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_plugin_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_driver_config_error_has_position, setup, teardown),
        cmocka_unit_test_setup_teardown(test_views_indexes_and_writes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_full_queue, setup, teardown),
        cmocka_unit_test_setup_teardown(test_abi1_driver, setup, teardown),
        cmocka_unit_test_setup_teardown(test_minimal_and_grown_descriptors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reload_restarts_only_the_changed_bus, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reload_removed_bus, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reload_refused_at_open, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reload_undone_when_a_changed_bus_fails_to_start, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_reload_undone_when_a_new_bus_fails_to_start, setup,
                                        teardown),
    };
    return cmocka_run_group_tests_name("plugin_host", tests, NULL, NULL);
}
