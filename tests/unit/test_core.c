/* Unit tests of the core, driven step by step with the probe driver and a
 * manual clock: events are committed before listeners see them; a locked
 * database holds events in memory, in order, and the retry timer commits
 * them; heartbeats are not journaled; analog values go to readings; health
 * changes go to the outbox; writes and their results; reload keeps the
 * running config when the new one is bad. */
#include "testutil.h"
#include "../plugins/probe.h"
#include "testconfig.h"

#include <dlfcn.h>
#include <math.h>
#include <sqlite3.h>

#include "clock.h"
#include "config.h"
#include "core.h"
#include "health_reason.h"
#include "store.h"

struct fixture {
    char *dir;
    char *config_path;
    char *db_path;
    char *plugin_dir;
    void *probe_handle;
    struct probe_bus *probes;
    struct wg_clock clock;
    struct wg_core *core;
    /* what the listener saw */
    int64_t seen_seq[64];
    int64_t count_at_notify[64];
    char seen_kind[64][32];
    size_t seen;
};

static const char *const site_devices =
    "buses:\n"
    "  - {id: p1, driver: probe}\n"
    "devices:\n"
    "  - {id: call-101A, bus: p1, address: 1, profile: call-point, bed: 101-A}\n"
    "  - {id: gas-k, bus: p1, address: 2, profile: gas-midas, room: \"102\"}\n"
    "  - {id: lamp-101, bus: p1, address: 3, profile: door-lamp, room: \"101\"}\n";

static void listener(const struct wg_event *event, void *ctx)
{
    struct fixture *f = ctx;
    if (f->seen >= 64)
        return;
    f->seen_seq[f->seen] = event->seq;
    /* At notification time the event must already be in the database. */
    f->count_at_notify[f->seen] = store_last_event_seq(core_store(f->core));
    snprintf(f->seen_kind[f->seen], sizeof f->seen_kind[0], "%s", event->kind);
    f->seen++;
}

static struct wg_store *open_test_store(const char *path)
{
    struct wg_store_options options = {.path = path,
                                       .max_bytes = 64LL << 20,
                                       .readings_bucket_s = 60,
                                       .readings_retention_days = 30,
                                       .events_retention_days = 365,
                                       .busy_timeout_ms = 50};
    enum wg_store_status status;
    char err[256];
    struct wg_store *store = store_open(&options, &status, err, sizeof err);
    if (!store)
        print_message("# store: %s\n", err);
    return store;
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    f->dir = test_tmpdir();
    f->config_path = test_site_config(f->dir, site_devices);
    assert_true(asprintf(&f->db_path, "%s/core.db", f->dir) > 0);
    f->plugin_dir = test_plugin_dir();
    char probe_path[512];
    snprintf(probe_path, sizeof probe_path, "%s/probe.so", f->plugin_dir);
    f->probe_handle = dlopen(probe_path, RTLD_NOW);
    assert_non_null(f->probe_handle);
    f->probes = dlsym(f->probe_handle, "probe_buses");
    *(int *)dlsym(f->probe_handle, "probe_bus_count") = 0;
    f->clock = clock_manual(1700000000000LL);

    struct wg_diag diag;
    diag_init(&diag);
    struct wg_config *config = config_load(f->config_path, &diag);
    for (size_t i = 0; i < diag.count; i++)
        print_message("# config: %s\n", diag.messages[i]);
    assert_non_null(config);
    struct wg_store *store = open_test_store(f->db_path);
    assert_non_null(store);
    struct wg_core_options options = {
        .config_path = f->config_path, .plugin_dir = f->plugin_dir, .clock = &f->clock};
    f->core = core_new(&options, config, store, &diag);
    assert_non_null(f->core);
    diag_free(&diag);
    assert_int_equal(core_add_listener(f->core, listener, f), 0);
    assert_int_equal(core_start(f->core), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    core_free(f->core);
    dlclose(f->probe_handle);
    test_rmtree(f->dir);
    free(f->dir);
    free(f->config_path);
    free(f->db_path);
    free(f->plugin_dir);
    free(f);
    return 0;
}

/* Readings carry the time they were observed: "now" on the test's clock, plus an offset. */
static int64_t now_ms(struct fixture *f)
{
    return clock_wall_ms(&f->clock) - 10000;
}

/* Index of a point by name in a device's view. */
static uint32_t point_index(const struct wg_device_view *device, const char *name)
{
    for (uint32_t p = 0; p < device->point_count; p++)
        if (strcmp(device->points[p].name, name) == 0)
            return p;
    fail_msg("no point %s on %s", name, device->id);
    return 0;
}

static uint32_t point_by_meaning(const struct wg_device_view *device, const char *meaning)
{
    for (uint32_t p = 0; p < device->point_count; p++)
        if (strcmp(device->points[p].meaning, meaning) == 0)
            return p;
    fail_msg("no point meaning %s on %s", meaning, device->id);
    return 0;
}

static void test_commit_before_listeners(void **state)
{
    struct fixture *f = *state;
    const struct wg_host *host = f->probes[0].host;
    const struct wg_bus_view *bus = f->probes[0].bus;
    uint32_t call = point_index(&bus->devices[0], "call");
    size_t before = f->seen;
    host->post_reading(host, 0, call, 1, now_ms(f) + 1000);
    host->post_reading(host, 0, call, 1, now_ms(f) + 1001); /* no change: no event */
    host->post_reading(host, 0, call, 0, now_ms(f) + 1002);
    assert_int_equal(core_process(f->core), 3);
    assert_int_equal(f->seen - before, 2);
    for (size_t i = before; i < f->seen; i++) {
        assert_string_equal(f->seen_kind[i], "point");
        assert_true(f->seen_seq[i] > 0);
        assert_true(f->count_at_notify[i] >= f->seen_seq[i]);
    }
    double value = -1;
    assert_true(core_point_value(f->core, "call-101A", "call", &value));
    assert_true(value == 0);
}

/* Alarm events (supervision notices silent devices as time passes) are not what these
 * tests count. */
static int64_t alarm_events(struct fixture *f)
{
    sqlite3 *db;
    sqlite3_stmt *stmt;
    int64_t count = -1;
    if (sqlite3_open(f->db_path, &db) == SQLITE_OK &&
        sqlite3_prepare_v2(db, "select count(*) from events where kind = 'alarm'", -1, &stmt,
                           NULL) == SQLITE_OK) {
        if (sqlite3_step(stmt) == SQLITE_ROW)
            count = sqlite3_column_int64(stmt, 0);
        sqlite3_finalize(stmt);
    }
    sqlite3_close(db);
    return count;
}

static void test_heartbeat_not_journaled_and_analog_to_readings(void **state)
{
    struct fixture *f = *state;
    const struct wg_host *host = f->probes[0].host;
    const struct wg_device_view *gas = &f->probes[0].bus->devices[1];
    uint32_t heartbeat = point_by_meaning(gas, "gas_heartbeat");
    uint32_t lel = point_by_meaning(gas, "gas_lel");
    int64_t events_before = store_event_count(core_store(f->core));
    for (int i = 0; i < 10; i++)
        host->post_reading(host, 1, heartbeat, i % 2, now_ms(f) + 2000 + i);
    host->post_reading(host, 1, lel, 3.5, now_ms(f) + 2100);
    host->post_reading(host, 1, lel, 4.5, now_ms(f) + 2200);
    host->post_reading(host, 1, lel, NAN, now_ms(f) + 2300);      /* an unwired float input */
    host->post_reading(host, 1, lel, INFINITY, now_ms(f) + 2400); /* counted, never stored */
    core_process(f->core);
    assert_int_equal(core_device_counter(f->core, "gas-k", "bad_value"), 2);
    /* The open bucket lives in memory until its interval (60 s) has passed. */
    clock_advance(&f->clock, 60000);
    core_run_timers(f->core);
    assert_int_equal(store_event_count(core_store(f->core)) - alarm_events(f), events_before);
    sqlite3 *db;
    assert_int_equal(sqlite3_open(f->db_path, &db), SQLITE_OK);
    sqlite3_stmt *stmt;
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "select sum(n), max(max), min(min) from readings "
                                        "where device='gas-k'",
                                        -1, &stmt, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(stmt), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(stmt, 0), 2); /* one bucket row with n = 2 */
    assert_true(sqlite3_column_double(stmt, 1) == 4.5);
    assert_true(sqlite3_column_double(stmt, 2) == 3.5);
    sqlite3_finalize(stmt);
    sqlite3_close(db);
}

static void test_health_change_goes_to_outbox(void **state)
{
    struct fixture *f = *state;
    const struct wg_host *host = f->probes[0].host;
    int64_t outbox_before = store_outbox_count(core_store(f->core));
    host->post_health(host, 1, WG_HEALTH_ONLINE, "answering");
    host->post_health(host, 1, WG_HEALTH_ONLINE, "answering"); /* no change */
    host->post_health(host, 1, WG_HEALTH_OFFLINE, "timeout");
    host->post_counter(host, 1, "timeout", 2);
    host->post_counter(host, 1, "timeout", 1);
    core_process(f->core);
    /* two health changes, and the offline health raises a technical alarm */
    assert_int_equal(store_outbox_count(core_store(f->core)), outbox_before + 3);
    assert_int_equal(core_device_health(f->core, "gas-k"), WG_HEALTH_OFFLINE);
    assert_int_equal(core_device_counter(f->core, "gas-k", "timeout"), 3);
    /* The reason as a code beside its text: in the device JSON and the health event. */
    json_t *device = core_device_json(f->core, "gas-k");
    assert_string_equal(json_string_value(json_object_get(device, "reason")), "timeout");
    assert_string_equal(json_string_value(json_object_get(device, "reason_code")), "timeout");
    json_decref(device);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(f->db_path, &db), SQLITE_OK);
    sqlite3_stmt *stmt = NULL;
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT json_extract(body, '$.reason_code') FROM events "
                                        "WHERE kind = 'device_health' ORDER BY seq DESC LIMIT 1",
                                        -1, &stmt, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(stmt), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(stmt, 0), "timeout");
    sqlite3_finalize(stmt);
    sqlite3_close(db);
}

/* Today's drivers' health texts map to the codes the pages translate. */
static void test_health_reason_codes(void **state)
{
    (void)state;
    static const char *const cases[][2] = {
        {"answering", "answering"},
        {"lines requested", "answering"},
        {"chip back", "answering"},
        {"timeout", "timeout"},
        {"crc error", "crc"},
        {"exception 2 (illegal data address)", "exception"},
        {"exception 6 (slave device busy)", "exception"},
        {"bad reply: Invalid data", "bad_reply"},
        {"connection: Connection refused", "connection"},
        {"chip gpiochip0 lost: No such device", "chip_missing"},
        {"scripted", "scripted"},
        {"control", "scripted"},
        {"cable cut in the riser", "cable_cut"},
        {"loop shorted at the door", "short_circuit"},
        {"short circuit", "short_circuit"},
        {"line busy", "line_busy"},
        {"the cat sat on it", "other"},
        {"write: crc error", "crc"},
        {"", "other"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *code = health_reason_code(cases[i][0]);
        if (strcmp(code, cases[i][1]) != 0)
            fail_msg("\"%s\": expected %s, got %s", cases[i][0], cases[i][1], code);
        assert_true(health_reason_code_known(code));
    }
    assert_string_equal(health_reason_code(NULL), "other");
    assert_false(health_reason_code_known("offline"));
    assert_false(health_reason_code_known(NULL));
}

/* A writer outside the daemon holds the database: events wait in memory, in
 * order, are not shown, and are committed by the retry timer afterwards. */
static void test_locked_database_holds_events_then_commits(void **state)
{
    struct fixture *f = *state;
    const struct wg_host *host = f->probes[0].host;
    uint32_t call = point_index(&f->probes[0].bus->devices[0], "call");
    sqlite3 *other;
    assert_int_equal(sqlite3_open(f->db_path, &other), SQLITE_OK);
    assert_int_equal(sqlite3_exec(other, "BEGIN EXCLUSIVE", NULL, NULL, NULL), SQLITE_OK);

    size_t seen_before = f->seen;
    for (int i = 0; i < 5; i++)
        host->post_reading(host, 0, call, (i + 1) % 2, now_ms(f) + 3000 + i);
    core_process(f->core);
    assert_int_equal(core_pending_events(f->core), 5);
    assert_int_equal(f->seen, seen_before); /* nothing shown before it is stored */

    clock_advance(&f->clock, 1000);
    core_run_timers(f->core); /* still locked: still held */
    assert_int_equal(core_pending_events(f->core), 5);

    assert_int_equal(sqlite3_exec(other, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(other);
    core_run_timers(f->core); /* not due yet: the retry waits its second */
    assert_int_equal(core_pending_events(f->core), 5);
    clock_advance(&f->clock, 1000);
    core_run_timers(f->core);
    assert_int_equal(core_pending_events(f->core), 0);
    assert_int_equal(f->seen - seen_before, 5);
    for (size_t i = seen_before + 1; i < f->seen; i++)
        assert_int_equal(f->seen_seq[i], f->seen_seq[i - 1] + 1); /* in order, no gap */
}

static void test_write_and_result(void **state)
{
    struct fixture *f = *state;
    const struct wg_device_view *lamp = &f->probes[0].bus->devices[2];
    uint32_t output = UINT32_MAX;
    for (uint32_t p = 0; p < lamp->point_count; p++)
        if (lamp->points[p].direction == WG_POINT_OUTPUT)
            output = p;
    assert_true(output != UINT32_MAX);
    uint64_t request = core_write_output(f->core, "lamp-101", lamp->points[output].name, 1);
    assert_true(request != 0);
    assert_int_equal(f->probes[0].write_count, 1);
    assert_int_equal(f->probes[0].last_write.device, 2);
    assert_int_equal(core_write_output(f->core, "call-101A", "call", 1), 0); /* an input */
    assert_int_equal(core_write_output(f->core, "nope", "call", 1), 0);

    const struct wg_host *host = f->probes[0].host;
    size_t before = f->seen;
    host->post_write_result(host, request, true, "");
    core_process(f->core);
    assert_int_equal(f->seen - before, 1);
    assert_string_equal(f->seen_kind[before], "write_result");
}

static void rewrite_config(struct fixture *f, const char *devices)
{
    free(test_site_config(f->dir, devices));
}

static void test_reload_bad_keeps_running_good_applies(void **state)
{
    struct fixture *f = *state;
    const struct wg_config *running = core_config(f->core);
    rewrite_config(f, "buses:\n  - {id: p1, driver: probe}\ndevices:\n"
                      "  - {id: call-101A, bus: p1, address: 1, profile: no-such-profile}\n");
    assert_int_equal(core_reload(f->core), -1);
    assert_ptr_equal(core_config(f->core), running);
    assert_int_equal(core_config(f->core)->device_count, 3);

    /* The running drivers still deliver. */
    const struct wg_host *host = f->probes[0].host;
    uint32_t call = point_index(&f->probes[0].bus->devices[0], "call");
    host->post_reading(host, 0, call, 1, now_ms(f) + 5000);
    assert_int_equal(core_process(f->core), 1);

    rewrite_config(f,
                   "buses:\n  - {id: p1, driver: probe}\ndevices:\n"
                   "  - {id: call-101A, bus: p1, address: 1, profile: call-point, bed: 101-A}\n"
                   "  - {id: call-101B, bus: p1, address: 4, profile: call-point, bed: 101-B}\n");
    assert_int_equal(core_reload(f->core), 0);
    assert_int_equal(core_config(f->core)->device_count, 2);
    /* State carried over by id: call-101A is still 1. */
    double value = 0;
    assert_true(core_point_value(f->core, "call-101A", "call", &value));
    assert_true(value == 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_commit_before_listeners, setup, teardown),
        cmocka_unit_test_setup_teardown(test_heartbeat_not_journaled_and_analog_to_readings, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_health_change_goes_to_outbox, setup, teardown),
        cmocka_unit_test(test_health_reason_codes),
        cmocka_unit_test_setup_teardown(test_locked_database_holds_events_then_commits, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_write_and_result, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reload_bad_keeps_running_good_applies, setup,
                                        teardown),
    };
    return cmocka_run_group_tests_name("core", tests, NULL, NULL);
}
