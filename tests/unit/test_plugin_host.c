/* Unit tests of the plugin host: drivers refused for a wrong ABI, a short
 * descriptor, a missing symbol, a wrong name or a missing file, each with a
 * message naming the bus and file:line; driver config errors reported with
 * file:line; device views and index translation; writes routed to outputs. */
#include "testutil.h"
#include "../plugins/probe.h"
#include "testconfig.h"

#include <dlfcn.h>

#include "clock.h"
#include "config.h"
#include "plugin_host.h"
#include "queue.h"

struct fixture {
    char *dir;
    char *plugin_dir;
    struct wg_config *config;
    struct wg_queue *queue;
    struct wg_clock clock;
    struct wg_diag diag;
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
    test_rmtree(f->dir);
    free(f->dir);
    free(f->plugin_dir);
    free(f);
    return 0;
}

static void load(struct fixture *f, const char *buses_and_devices)
{
    char *path = test_site_config(f->dir, buses_and_devices);
    struct wg_diag diag;
    diag_init(&diag);
    f->config = config_load(path, &diag);
    for (size_t i = 0; i < diag.count; i++)
        print_message("# config: %s\n", diag.messages[i]);
    assert_non_null(f->config);
    diag_free(&diag);
    free(path);
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
    expect_refused(state, "bad-abi", "was built for plugin ABI 99, this wardgated speaks ABI 1");
}

static void test_short_descriptor_refused(void **state)
{
    expect_refused(state, "short-descriptor", "has a descriptor of");
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
    char path[512];
    snprintf(path, sizeof path, "%s/probe.so", f->plugin_dir);
    void *handle = dlopen(path, RTLD_NOW | RTLD_NOLOAD);
    assert_non_null(handle);
    struct probe_bus *buses = dlsym(handle, "probe_buses");
    int *count = dlsym(handle, "probe_bus_count");
    assert_non_null(buses);
    *count = 0;
    dlclose(handle);
    return buses;
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
    /* Keep the probe loaded across plugin_host_open so its globals can be reset. */
    char path[512];
    snprintf(path, sizeof path, "%s/probe.so", f->plugin_dir);
    void *keep = dlopen(path, RTLD_NOW);
    assert_non_null(keep);
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

    assert_int_equal(plugin_host_start(host), 0);
    assert_int_equal(probes[0].started, 1);

    /* A reading on p2's local device 1 arrives as the core's device 3. */
    const struct wg_host *api = probes[1].host;
    api->post_reading(api, 1, 0, 1.0, 42);
    api->post_health(api, 0, WG_HEALTH_OFFLINE, "timeout");
    api->post_counter(api, 0, "timeout", 3);
    api->post_reading(api, 7, 0, 1.0, 43);  /* no such device: dropped, logged */
    api->post_reading(api, 1, 99, 1.0, 44); /* no such point: dropped, logged */
    struct wg_msg out[8];
    size_t n = queue_pop_batch(f->queue, out, 8);
    assert_int_equal(n, 3);
    assert_int_equal(out[0].type, WG_MSG_READING);
    assert_int_equal(out[0].device, 3);
    assert_int_equal(out[0].ts_ms, 42);
    assert_int_equal(out[1].type, WG_MSG_HEALTH);
    assert_int_equal(out[1].device, 1);
    assert_string_equal(out[1].text, "timeout");
    assert_int_equal(out[2].type, WG_MSG_COUNTER);
    assert_int_equal((int)out[2].value, 3);
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
    plugin_host_close(host);
    dlclose(keep);
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
    };
    return cmocka_run_group_tests_name("plugin_host", tests, NULL, NULL);
}
