/* Unit tests of the lean telemetry path: the compact JSON writer (escapes,
 * numbers that read back exactly), and the core's telemetry through the
 * outbox only: per_read mode (a record per poll of a driver that never
 * reports the end of a poll: at the end of the loop turn, each poll once,
 * batched into one readings message), interval mode (one telemetry/3
 * message for every device's aggregates), never a journal event; and the
 * outbox-only row kept across a restart. Driven step by step with the probe
 * driver and a manual clock; the uplink points at a port nobody listens
 * on, so the rows stay in the outbox to be read. */
#include "testutil.h"
#include "../plugins/probe.h"
#include "testcore.h"

#include <dlfcn.h>
#include <jansson.h>
#include <sqlite3.h>

#include "common/clock.h"
#include "common/json_writer.h"
#include "config/config.h"
#include "core/core.h"
#include "store/store.h"

static void test_writer_escapes_and_numbers(void **state)
{
    (void)state;
    struct jw_buffer out;
    jw_init(&out);
    jw_char(&out, '{');
    jw_key(&out, "a\"b\\c\n\x01", true);
    jw_string(&out, "温度 \t");
    jw_key(&out, "n", false);
    jw_char(&out, '[');
    const double numbers[] = {0, -0.0, 1, -42, 23.4, 0.1 + 0.2, 1e300, -1.5e-7, 9007199254740993.0};
    for (size_t i = 0; i < sizeof numbers / sizeof numbers[0]; i++) {
        if (i)
            jw_char(&out, ',');
        jw_double(&out, numbers[i]);
    }
    jw_text(&out, ",");
    jw_int(&out, INT64_MIN);
    jw_text(&out, "]}");
    assert_false(jw_failed(&out));
    json_error_t error;
    json_t *parsed = json_loads(out.text, JSON_DECODE_INT_AS_REAL, &error);
    if (!parsed)
        fail_msg("not JSON (%s): %s", error.text, out.text);
    assert_string_equal(json_string_value(json_object_get(parsed, "a\"b\\c\n\x01")), "温度 \t");
    json_t *n = json_object_get(parsed, "n");
    for (size_t i = 0; i < sizeof numbers / sizeof numbers[0]; i++)
        assert_true(json_number_value(json_array_get(n, i)) == numbers[i]);
    assert_non_null(strstr(out.text, "[0,-0.0,1,-42,23.4,0.30000000000000004,"));
    json_decref(parsed);
    jw_free(&out);
}

struct fixture {
    char *dir, *config_path, *db_path, *plugin_dir;
    void *probe_handle;
    struct probe_bus *probes;
    struct wg_clock clock;
    struct wg_core *core;
};

static void start(struct fixture *f, const char *mode)
{
    char text[1024];
    snprintf(text, sizeof text,
             "buses:\n  - {id: p1, driver: probe}\n"
             "devices:\n"
             "  - {id: call-101A, bus: p1, address: 1, profile: call-point, bed: 101-A}\n"
             "  - {id: gas-k, bus: p1, address: 2, profile: gas-midas, room: \"102\"}\n"
             "  - {id: gas-m, bus: p1, address: 3, profile: gas-midas, room: \"102\"}\n"
             "uplink:\n"
             "  enabled: true\n"
             "  brokers: [tcp://127.0.0.1:1]\n"
             "  heartbeat_s: 3600\n"
             "  telemetry_interval_s: 10\n"
             "  telemetry_mode: %s\n",
             mode);
    f->config_path = test_site_config(f->dir, text);
    f->core = test_core_new(f->config_path, f->plugin_dir, f->db_path, 50, &f->clock);
    assert_non_null(f->core);
    assert_int_equal(core_start(f->core), 0);
    assert_int_equal(core_wait_journal(f->core, 5000), 0);
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    f->dir = test_tmpdir();
    assert_true(asprintf(&f->db_path, "%s/telemetry.db", f->dir) > 0);
    f->plugin_dir = test_plugin_dir();
    f->probe_handle = test_probe_load(f->plugin_dir, &f->probes);
    assert_non_null(f->probe_handle);
    f->clock = clock_manual(1700000000000LL);
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

static uint32_t point_by_meaning(const struct wg_device_view *device, const char *meaning)
{
    for (uint32_t p = 0; p < device->point_count; p++)
        if (strcmp(device->points[p].meaning, meaning) == 0)
            return p;
    fail_msg("no point meaning %s on %s", meaning, device->id);
    return 0;
}

/* The outbox's telemetry rows (kind, payload parsed), oldest first. */
static size_t outbox_messages(struct fixture *f, char kinds[][16], json_t **payloads, size_t max,
                              int64_t *null_event_ids)
{
    sqlite3 *db;
    assert_int_equal(sqlite3_open(f->db_path, &db), SQLITE_OK);
    sqlite3_stmt *stmt;
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "select kind, payload, event_id is null from outbox "
                                        "where class = 3 order by seq",
                                        -1, &stmt, NULL),
                     SQLITE_OK);
    size_t count = 0;
    *null_event_ids = 0;
    while (sqlite3_step(stmt) == SQLITE_ROW && count < max) {
        snprintf(kinds[count], 16, "%s", (const char *)sqlite3_column_text(stmt, 0));
        json_error_t error;
        payloads[count] = json_loads((const char *)sqlite3_column_text(stmt, 1), 0, &error);
        if (!payloads[count])
            fail_msg("outbox payload is not JSON: %s", error.text);
        *null_event_ids += sqlite3_column_int(stmt, 2);
        count++;
    }
    sqlite3_finalize(stmt);
    sqlite3_close(db);
    return count;
}

static int64_t journal_count(struct fixture *f, const char *kind)
{
    sqlite3 *db;
    assert_int_equal(sqlite3_open(f->db_path, &db), SQLITE_OK);
    sqlite3_stmt *stmt;
    assert_int_equal(
        sqlite3_prepare_v2(db, "select count(*) from events where kind = ?", -1, &stmt, NULL),
        SQLITE_OK);
    sqlite3_bind_text(stmt, 1, kind, -1, SQLITE_STATIC);
    assert_int_equal(sqlite3_step(stmt), SQLITE_ROW);
    int64_t count = sqlite3_column_int64(stmt, 0);
    sqlite3_finalize(stmt);
    sqlite3_close(db);
    return count;
}

static void test_per_read_record_per_poll(void **state)
{
    struct fixture *f = *state;
    start(f, "per_read");
    const struct wg_host *host = f->probes[0].host;
    const struct wg_device_view *gas = &f->probes[0].bus->devices[1];
    uint32_t lel = point_by_meaning(gas, "gas_lel");
    int64_t t = clock_wall_ms(&f->clock);
    /* A poll of gas-k, then one of gas-m (index 2), in two loop turns. */
    host->post_reading(host, 1, lel, 3.5, t + 1);
    core_process(f->core);
    host->post_reading(host, 2, lel, 7.25, t + 2);
    core_process(f->core);
    /* The probe never reports the end of a poll: a device's record waits
     * out the batch window for the rest of its poll; nothing has gone yet. */
    core_run_timers(f->core);
    assert_int_equal(core_wait_journal(f->core, 5000), 0);
    char kinds[8][16];
    json_t *payloads[8];
    int64_t null_ids;
    assert_int_equal(outbox_messages(f, kinds, payloads, 8, &null_ids), 0);
    clock_advance(&f->clock, 20);
    core_run_timers(f->core); /* both records are in the open message */
    /* gas-k's next poll, 20 ms on. */
    host->post_reading(host, 1, lel, 4, t + 3);
    core_process(f->core);
    clock_advance(&f->clock, 20);
    core_run_timers(f->core);
    assert_int_equal(core_wait_journal(f->core, 5000), 0);
    size_t count = outbox_messages(f, kinds, payloads, 8, &null_ids);
    assert_int_equal(count, 1);
    assert_int_equal(null_ids, 1); /* an outbox-only row */
    assert_string_equal(kinds[0], "readings");
    json_t *message = payloads[0];
    assert_string_equal(json_string_value(json_object_get(message, "schema")),
                        "wardgate/readings/1");
    assert_string_equal(json_string_value(json_object_get(message, "site")), "unit-home");
    assert_int_equal(strlen(json_string_value(json_object_get(message, "id"))), 36);
    json_t *readings = json_object_get(message, "readings");
    assert_int_equal(json_array_size(readings), 3); /* each poll once, in order */
    const char *devices[] = {"gas-k", "gas-m", "gas-k"};
    const double values[] = {3.5, 7.25, 4};
    const int64_t times[] = {t + 1, t + 2, t + 3};
    for (size_t i = 0; i < 3; i++) {
        json_t *record = json_array_get(readings, i);
        assert_string_equal(json_string_value(json_object_get(record, "device")), devices[i]);
        assert_int_equal(json_integer_value(json_object_get(record, "ts_ms")), times[i]);
        json_t *v = json_object_get(record, "values");
        assert_int_equal(json_object_size(v), 1);
        assert_true(json_number_value(json_object_get(v, gas->points[lel].name)) == values[i]);
    }
    json_decref(message);
    assert_int_equal(journal_count(f, "telemetry"), 0); /* never a journal event */
    assert_int_equal(journal_count(f, "readings"), 0);
}

static void test_interval_one_message_for_all_devices(void **state)
{
    struct fixture *f = *state;
    start(f, "interval");
    const struct wg_host *host = f->probes[0].host;
    const struct wg_device_view *gas = &f->probes[0].bus->devices[1];
    uint32_t lel = point_by_meaning(gas, "gas_lel");
    int64_t t = clock_wall_ms(&f->clock);
    host->post_reading(host, 1, lel, 3, t + 1);
    host->post_reading(host, 1, lel, 5, t + 2);
    host->post_reading(host, 2, lel, 1.5, t + 3);
    core_process(f->core);
    clock_advance(&f->clock, 10000);
    core_run_timers(f->core);
    assert_int_equal(core_wait_journal(f->core, 5000), 0);
    char kinds[8][16];
    json_t *payloads[8];
    int64_t null_ids;
    assert_int_equal(outbox_messages(f, kinds, payloads, 8, &null_ids), 1);
    assert_string_equal(kinds[0], "telemetry");
    json_t *message = payloads[0];
    assert_string_equal(json_string_value(json_object_get(message, "schema")),
                        "wardgate/telemetry/3");
    assert_int_equal(json_integer_value(json_object_get(message, "interval_s")), 10);
    assert_int_equal(json_integer_value(json_object_get(message, "to_ms")), t + 10000);
    json_t *devices = json_object_get(message, "devices");
    assert_int_equal(json_array_size(devices), 2); /* the call point has nothing numeric */
    json_t *k = json_object_get(json_object_get(json_array_get(devices, 0), "points"),
                                gas->points[lel].name);
    assert_string_equal(json_string_value(json_object_get(json_array_get(devices, 0), "device")),
                        "gas-k");
    assert_int_equal(json_integer_value(json_object_get(k, "count")), 2);
    assert_true(json_number_value(json_object_get(k, "min")) == 3);
    assert_true(json_number_value(json_object_get(k, "max")) == 5);
    assert_true(json_number_value(json_object_get(k, "avg")) == 4);
    assert_true(json_number_value(json_object_get(k, "last")) == 5);
    /* Read once in the interval: the bare value, not an aggregate of one. */
    json_t *once = json_object_get(json_object_get(json_array_get(devices, 1), "points"),
                                   gas->points[lel].name);
    assert_true(json_is_number(once));
    assert_true(json_number_value(once) == 1.5);
    json_decref(message);
    assert_int_equal(journal_count(f, "telemetry"), 0);
    /* Kept across a restart: the row is still there for the next uplink. */
    core_free(f->core);
    f->core = NULL;
    free(f->config_path);
    start(f, "interval");
    assert_int_equal(outbox_messages(f, kinds, payloads, 8, &null_ids), 1);
    json_decref(payloads[0]);
}

/* interval: a poll joins the aggregates whole. gas-k's driver reports the
 * end of its polls; one poll is done, the next has been read but not
 * reported done when the interval ends: it is not in that interval's
 * message but in the next (before, a tick could take half a poll). */
static void test_interval_takes_whole_polls(void **state)
{
    struct fixture *f = *state;
    start(f, "interval");
    const struct wg_host *host = f->probes[0].host;
    const struct wg_device_view *gas = &f->probes[0].bus->devices[1];
    uint32_t lel = point_by_meaning(gas, "gas_lel");
    int64_t t = clock_wall_ms(&f->clock);
    host->post_reading(host, 1, lel, 3, t + 1);
    host->post_poll_done(host, 1, t + 1);          /* a whole poll */
    host->post_reading(host, 1, lel, 5, t + 9999); /* the next, not done yet */
    core_process(f->core);
    clock_advance(&f->clock, 10000);
    core_run_timers(f->core); /* the interval ends */
    host->post_poll_done(host, 1, t + 10001);
    core_process(f->core);
    clock_advance(&f->clock, 10000);
    core_run_timers(f->core);
    assert_int_equal(core_wait_journal(f->core, 5000), 0);
    char kinds[8][16];
    json_t *payloads[8];
    int64_t null_ids;
    assert_int_equal(outbox_messages(f, kinds, payloads, 8, &null_ids), 2);
    for (size_t m = 0; m < 2; m++) {
        json_t *points =
            json_object_get(json_array_get(json_object_get(payloads[m], "devices"), 0), "points");
        json_t *k = json_object_get(points, gas->points[lel].name);
        assert_true(json_is_number(k)); /* read once: its value */
        assert_true(json_number_value(k) == (m == 0 ? 3 : 5));
        json_decref(payloads[m]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_writer_escapes_and_numbers),
        cmocka_unit_test_setup_teardown(test_per_read_record_per_poll, setup, teardown),
        cmocka_unit_test_setup_teardown(test_interval_one_message_for_all_devices, setup, teardown),
        cmocka_unit_test_setup_teardown(test_interval_takes_whole_polls, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
