/* Unit tests of the core, driven step by step with the probe driver and a
 * manual clock: events are committed before the listeners see them; a
 * locked database holds events in memory, in order, shows the alarms at
 * once (unjournaled), drives the lamps without waiting, raises the storage
 * alarm and commits everything in order when the lock goes; an alarm whose
 * commit takes longer than 250 ms is shown first; heartbeats are not
 * journaled; analog values go to readings; health changes go to the outbox;
 * writes and their results; more than 8 counter kinds per device; reload
 * keeps the running config when the new one is bad. */
#include "testutil.h"
#include "../plugins/probe.h"
#include "testcore.h"

#include <dlfcn.h>
#include <math.h>
#include <sqlite3.h>

#include "alarm/alarm.h"
#include "common/clock.h"
#include "config/config.h"
#include "core/core.h"
#include "drivers/health_reason.h"
#include "store/store.h"
#include "web/web_bridge_json.h"

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
    /* what the unjournaled listener saw */
    char early_alarm[64][37];
    int64_t early_seq[64];
    size_t early;
};

static const char *const site_devices =
    "buses:\n"
    "  - {id: p1, driver: probe}\n"
    "devices:\n"
    "  - {id: call-101A, bus: p1, address: 1, profile: call-point, bed: 101-A}\n"
    "  - {id: gas-k, bus: p1, address: 2, profile: gas-midas, room: \"102\"}\n"
    "  - {id: lamp-101, bus: p1, address: 3, profile: door-lamp, room: \"101\"}\n"
    "  - {id: reset-101, bus: p1, address: 5, profile: presence-reset, room: \"101\"}\n"
    "rules:\n"
    "  - {id: call, kind: call}\n";

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

static void early_listener(const struct wg_event *event, void *ctx)
{
    struct fixture *f = ctx;
    if (f->early >= 64)
        return;
    snprintf(f->early_alarm[f->early], sizeof f->early_alarm[0], "%s",
             event->alarm_id ? event->alarm_id : "");
    f->early_seq[f->early] = event->seq;
    f->early++;
}

static int setup_with(void **state, int busy_timeout_ms)
{
    struct fixture *f = calloc(1, sizeof *f);
    f->dir = test_tmpdir();
    f->config_path = test_site_config(f->dir, site_devices);
    assert_true(asprintf(&f->db_path, "%s/core.db", f->dir) > 0);
    f->plugin_dir = test_plugin_dir();
    f->probe_handle = test_probe_load(f->plugin_dir, &f->probes);
    assert_non_null(f->probe_handle);
    f->clock = clock_manual(1700000000000LL);
    f->core = test_core_new(f->config_path, f->plugin_dir, f->db_path, busy_timeout_ms, &f->clock);
    assert_non_null(f->core);
    assert_int_equal(core_add_listener(f->core, listener, f), 0);
    assert_int_equal(core_add_unjournaled_listener(f->core, early_listener, f), 0);
    assert_int_equal(core_start(f->core), 0);
    assert_int_equal(core_wait_journal(f->core, 5000), 0);
    *state = f;
    return 0;
}

static int setup(void **state)
{
    return setup_with(state, 50);
}

/* A writer that waits long for a lock: slow, but not failing. */
static int setup_patient(void **state)
{
    return setup_with(state, 3000);
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
    assert_int_equal(core_wait_journal(f->core, 5000), 0);
    size_t points = 0;
    for (size_t i = before; i < f->seen; i++) {
        points += strcmp(f->seen_kind[i], "point") == 0; /* and the call's alarm */
        assert_true(f->seen_seq[i] > 0);
        assert_true(f->count_at_notify[i] >= f->seen_seq[i]);
    }
    assert_int_equal(points, 2);
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
    assert_int_equal(core_wait_journal(f->core, 5000), 0);
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
    host->post_health(host, 1, WG_HEALTH_ONLINE, WG_REASON_ANSWERING, "answering");
    host->post_health(host, 1, WG_HEALTH_ONLINE, WG_REASON_ANSWERING, "answering"); /* no change */
    host->post_health(host, 1, WG_HEALTH_OFFLINE, WG_REASON_TIMEOUT, "timeout");
    host->post_counter(host, 1, "timeout", 2);
    host->post_counter(host, 1, "timeout", 1);
    core_process(f->core);
    assert_int_equal(core_wait_journal(f->core, 5000), 0);
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

/* Another process's connection holding the write lock (BEGIN EXCLUSIVE). */
static sqlite3 *lock_database(const char *path)
{
    sqlite3 *other = NULL;
    assert_int_equal(sqlite3_open(path, &other), SQLITE_OK);
    assert_int_equal(sqlite3_exec(other, "BEGIN EXCLUSIVE", NULL, NULL, NULL), SQLITE_OK);
    return other;
}

/* The door lamp output of lamp-101 (the probe's device 2). */
static int lamp_writes(struct fixture *f)
{
    return f->probes[0].last_write.device == 2 ? f->probes[0].write_count : 0;
}

static bool alarm_active_of_kind(struct fixture *f, const char *kind, const char **id)
{
    const struct wg_alarm *alarms[32];
    size_t count = core_active_alarms(f->core, alarms, 32);
    for (size_t i = 0; i < count; i++)
        if (strcmp(alarms[i]->kind, kind) == 0) {
            if (id)
                *id = alarms[i]->id;
            return true;
        }
    return false;
}

/* The journaled flag of an active alarm as the displays get it. */
static int journaled_flag(struct fixture *f, const char *alarm_id)
{
    json_t *records = core_active_alarms_json(f->core);
    int flag = -1;
    size_t index;
    json_t *record;
    json_array_foreach(records, index, record)
    {
        if (strcmp(json_string_value(json_object_get(record, "id")), alarm_id) == 0)
            flag = json_is_true(json_object_get(record, "journaled"));
    }
    json_decref(records);
    return flag;
}

/* A writer outside the daemon holds the database: events wait in memory, in
 * order, and are not handed to the committed listeners; the call is shown at
 * once (unjournaled) and its lamp driven without waiting; storage failing is
 * a technical alarm; once the lock goes everything is committed in order. */
static void test_locked_database_holds_events_then_commits(void **state)
{
    struct fixture *f = *state;
    const struct wg_host *host = f->probes[0].host;
    uint32_t call = point_index(&f->probes[0].bus->devices[0], "call");
    sqlite3 *other = lock_database(f->db_path);

    size_t seen_before = f->seen, early_before = f->early;
    int lamp_before = f->probes[0].write_count;
    host->post_reading(host, 0, call, 1, now_ms(f) + 3000); /* a call: point + alarm raise */
    core_process(f->core);
    /* The engine drove the door lamp before anything was stored. */
    assert_true(f->probes[0].write_count > lamp_before);
    assert_true(lamp_writes(f) > 0);
    const char *call_id = NULL;
    assert_true(alarm_active_of_kind(f, "call", &call_id));
    char call_alarm[37];
    snprintf(call_alarm, sizeof call_alarm, "%s", call_id);
    assert_int_equal(journaled_flag(f, call_alarm), 0);

    for (int i = 1; i < 5; i++)
        host->post_reading(host, 0, call, (i + 1) % 2, now_ms(f) + 3000 + i);
    core_process(f->core);
    assert_int_equal(core_wait_journal(f->core, 5000), -1); /* the writer reports the lock */
    assert_true(core_pending_events(f->core) >= 6);         /* 5 toggles and the raise */
    assert_int_equal(f->seen, seen_before); /* nothing handed on before it is stored */
    /* ... but the call is on the displays, not yet journaled (seq 0) */
    bool shown = false;
    for (size_t i = early_before; i < f->early; i++)
        if (strcmp(f->early_alarm[i], call_alarm) == 0 && f->early_seq[i] == 0)
            shown = true;
    assert_true(shown);
    struct wg_core_stats stats;
    core_stats(f->core, &stats);
    assert_true(stats.storage_failing);
    assert_string_equal(stats.storage_reason, "locked");
    const char *storage_id = NULL;
    assert_true(alarm_active_of_kind(f, "storage_failing", &storage_id));
    json_t *records = core_active_alarms_json(f->core);
    size_t index;
    json_t *record;
    bool detail_ok = false;
    json_array_foreach(records, index, record)
    {
        if (strcmp(json_string_value(json_object_get(record, "kind")), "storage_failing") != 0)
            continue;
        json_t *args = json_object_get(record, "detail_args");
        detail_ok = json_is_string(json_object_get(record, "detail_code")) &&
                    strcmp(json_string_value(json_object_get(args, "reason")), "locked") == 0 &&
                    json_integer_value(json_object_get(args, "waiting")) >= 6;
    }
    json_decref(records);
    assert_true(detail_ok);

    assert_int_equal(sqlite3_exec(other, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(other);
    assert_int_equal(core_wait_journal(f->core, 10000), 0);
    core_run_timers(f->core);
    assert_int_equal(core_wait_journal(f->core, 5000), 0);
    assert_int_equal(core_pending_events(f->core), 0);
    assert_true(f->seen - seen_before >= 6);
    for (size_t i = seen_before + 1; i < f->seen; i++)
        assert_int_equal(f->seen_seq[i], f->seen_seq[i - 1] + 1); /* in order, no gap */
    assert_int_equal(journaled_flag(f, call_alarm), 1);
    assert_false(alarm_active_of_kind(f, "storage_failing", NULL)); /* ended by itself */
    core_stats(f->core, &stats);
    assert_false(stats.storage_failing);
}

/* A commit that takes longer than 250 ms (a lock the writer patiently waits
 * for, no failure yet): the call is shown when the 250 ms are up. */
static void test_slow_commit_shows_the_alarm_after_250_ms(void **state)
{
    struct fixture *f = *state;
    const struct wg_host *host = f->probes[0].host;
    uint32_t call = point_index(&f->probes[0].bus->devices[0], "call");
    sqlite3 *other = lock_database(f->db_path);
    size_t early_before = f->early, seen_before = f->seen;
    host->post_reading(host, 0, call, 1, now_ms(f) + 4000);
    core_process(f->core);
    clock_advance(&f->clock, 200);
    core_run_timers(f->core);
    assert_int_equal(f->early, early_before); /* not yet: it may still commit in time */
    clock_advance(&f->clock, 60);
    core_run_timers(f->core);
    assert_int_equal(f->early, early_before + 1);
    assert_int_equal(f->early_seq[early_before], 0);
    assert_int_equal(f->seen, seen_before);
    assert_int_equal(sqlite3_exec(other, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(other);
    assert_int_equal(core_wait_journal(f->core, 10000), 0);
    bool committed = false;
    for (size_t i = seen_before; i < f->seen; i++)
        if (strcmp(f->seen_kind[i], "alarm") == 0 && f->seen_seq[i] > 0)
            committed = true;
    assert_true(committed); /* then again, journaled, with its seq */
}

/* More than 8 kinds of error counter on one device: every one kept. */
static void test_counters_without_a_cap(void **state)
{
    struct fixture *f = *state;
    const struct wg_host *host = f->probes[0].host;
    char name[32];
    for (int i = 0; i < 20; i++) {
        snprintf(name, sizeof name, "kind_%d", i);
        host->post_counter(host, 1, name, (double)(i + 1));
    }
    core_process(f->core);
    for (int i = 0; i < 20; i++) {
        snprintf(name, sizeof name, "kind_%d", i);
        assert_int_equal(core_device_counter(f->core, "gas-k", name), i + 1);
    }
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
    assert_int_equal(core_wait_journal(f->core, 5000), 0);
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
    assert_int_equal(core_config(f->core)->device_count, 4);

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

/* The kind, device and body of the latest event of `kind`, from the journal. */
static bool last_event(struct fixture *f, const char *kind, char *device, size_t device_len,
                       char *body, size_t body_len)
{
    sqlite3 *db;
    sqlite3_stmt *stmt;
    bool found = false;
    if (sqlite3_open(f->db_path, &db) == SQLITE_OK &&
        sqlite3_prepare_v2(db,
                           "select coalesce(device, ''), body from events where kind = ? "
                           "order by seq desc limit 1",
                           -1, &stmt, NULL) == SQLITE_OK) {
        sqlite3_bind_text(stmt, 1, kind, -1, SQLITE_STATIC);
        if (sqlite3_step(stmt) == SQLITE_ROW) {
            snprintf(device, device_len, "%s", (const char *)sqlite3_column_text(stmt, 0));
            snprintf(body, body_len, "%s", (const char *)sqlite3_column_text(stmt, 1));
            found = true;
        }
        sqlite3_finalize(stmt);
    }
    sqlite3_close(db);
    return found;
}

static uint32_t output_point(const struct wg_device_view *device)
{
    for (uint32_t p = 0; p < device->point_count; p++)
        if (device->points[p].direction == WG_POINT_OUTPUT)
            return p;
    fail_msg("no output on %s", device->id);
    return 0;
}

/* A reload that does not touch bus p1 (a new bus and a rule appear, every
 * device of p1 moves to another index) leaves p1's driver running; what it
 * posted before the switch, and the result of a write it had under way,
 * land on the right devices afterwards. */
static void test_reload_keeps_unchanged_bus(void **state)
{
    struct fixture *f = *state;
    const struct wg_host *host = f->probes[0].host;
    const struct wg_bus_view *bus = f->probes[0].bus;
    uint32_t call = point_index(&bus->devices[0], "call");
    const char *lamp_point = bus->devices[2].points[output_point(&bus->devices[2])].name;
    uint64_t request = core_write_output(f->core, "lamp-101", lamp_point, 1);
    assert_true(request != 0);
    assert_int_equal(host->post_reading(host, 0, call, 1, now_ms(f) + 100), WG_POST_QUEUED);
    host->post_health(host, 1, WG_HEALTH_OFFLINE, WG_REASON_CONNECTION, "connect: refused");

    rewrite_config(f, "buses:\n"
                      "  - {id: p2, driver: probe}\n"
                      "  - {id: p1, driver: probe}\n"
                      "devices:\n"
                      "  - {id: call-102A, bus: p2, address: 1, profile: call-point, bed: 102-A}\n"
                      "  - {id: reset-102, bus: p2, address: 2, profile: presence-reset, room: "
                      "\"102\"}\n"
                      "  - {id: call-101A, bus: p1, address: 1, profile: call-point, bed: 101-A}\n"
                      "  - {id: gas-k, bus: p1, address: 2, profile: gas-midas, room: \"102\"}\n"
                      "  - {id: lamp-101, bus: p1, address: 3, profile: door-lamp, room: "
                      "\"101\"}\n"
                      "  - {id: reset-101, bus: p1, address: 5, profile: presence-reset, room: "
                      "\"101\"}\n"
                      "rules:\n"
                      "  - {id: call, kind: call}\n"
                      "escalation: {reannunciate_s: 120}\n");
    assert_int_equal(core_reload(f->core), 0);
    assert_int_equal(f->probes[0].started, 1);
    assert_int_equal(f->probes[0].stopped, 0); /* never stopped */
    assert_ptr_equal(f->probes[0].host, host);
    assert_int_equal(f->probes[1].started, 1); /* p2, new */
    assert_int_equal(core_config(f->core)->device_count, 6);

    assert_int_equal(host->post_write_result(host, request, true, ""), WG_POST_QUEUED);
    core_process(f->core);
    double value = 0;
    assert_true(core_point_value(f->core, "call-101A", "call", &value));
    assert_true(value == 1);
    assert_int_equal(core_device_health(f->core, "gas-k"), WG_HEALTH_OFFLINE);
    char device[64], body[512];
    assert_int_equal(core_wait_journal(f->core, 5000), 0); /* the store writer has it */
    assert_true(last_event(f, "write_result", device, sizeof device, body, sizeof body));
    assert_string_equal(device, "lamp-101");
    assert_true(last_event(f, "device_health", device, sizeof device, body, sizeof body));
    assert_string_equal(device, "gas-k");
    assert_non_null(strstr(body, "\"reason_code\":\"connection\""));
    json_t *json = core_device_json(f->core, "gas-k");
    assert_string_equal(json_string_value(json_object_get(json, "reason_code")), "connection");
    assert_string_equal(json_string_value(json_object_get(json, "reason")), "connect: refused");
    json_decref(json);

    /* Writes still reach p1's driver, by the new indexes. */
    int writes = f->probes[0].write_count;
    assert_true(core_write_output(f->core, "lamp-101", lamp_point, 0) != 0);
    assert_int_equal(f->probes[0].write_count, writes + 1);
    assert_int_equal(f->probes[0].last_write.device, 2);
}

/* A reload that fails at any stage leaves the running configuration and
 * every driver instance as they were: a config error, a driver refusing its
 * section, a changed bus's new instance failing to start (its bus is then
 * served by a fresh instance of the running configuration). */
static void test_reload_failures_change_nothing(void **state)
{
    struct fixture *f = *state;
    const struct wg_config *running = core_config(f->core);
    const struct wg_device_view *lamp = &f->probes[0].bus->devices[2];
    char lamp_point[64]; /* the view goes with its instance */
    snprintf(lamp_point, sizeof lamp_point, "%s", lamp->points[output_point(lamp)].name);
    const char *const variants[] = {
        "buses: [unclosed\n",
        "buses:\n  - {id: p1, driver: probe, settings: {refuse: true}}\ndevices:\n"
        "  - {id: call-101A, bus: p1, address: 1, profile: call-point, bed: 101-A}\n",
        "buses:\n  - {id: p1, driver: probe}\n  - {id: p9, driver: no-such-driver}\n",
    };
    for (size_t i = 0; i < sizeof variants / sizeof variants[0]; i++) {
        rewrite_config(f, variants[i]);
        assert_int_equal(core_reload(f->core), -1);
        assert_ptr_equal(core_config(f->core), running);
        assert_int_equal(f->probes[0].started, 1);
        assert_int_equal(f->probes[0].stopped, 0);
    }
    /* The start of the changed bus fails: p1 is stopped for the change, then
     * served again by a fresh instance with the running configuration. */
    int opened = *(int *)dlsym(f->probe_handle, "probe_bus_count");
    rewrite_config(f, "buses:\n  - {id: p1, driver: probe, settings: {fail_start: true}}\n"
                      "devices:\n"
                      "  - {id: call-101A, bus: p1, address: 1, profile: call-point, bed: 101-A}\n"
                      "  - {id: gas-k, bus: p1, address: 2, profile: gas-midas, room: \"102\"}\n"
                      "  - {id: lamp-101, bus: p1, address: 3, profile: door-lamp, room: "
                      "\"101\"}\n");
    struct wg_diag report;
    diag_init(&report);
    assert_int_equal(core_reload_report(f->core, &report), -1);
    assert_true(report.count > 0);
    assert_non_null(strstr(report.messages[report.count - 1], "bus p1"));
    diag_free(&report);
    assert_ptr_equal(core_config(f->core), running);
    assert_int_equal(f->probes[0].stop_reason, WG_STOP_BUS_CHANGED);
    assert_int_equal(*(int *)dlsym(f->probe_handle, "probe_bus_count"), opened + 2);
    assert_int_equal(f->probes[opened].started, 0);     /* the new one failed */
    assert_int_equal(f->probes[opened + 1].started, 1); /* the running config, fresh */
    assert_null(f->probes[opened + 1].bus->settings);   /* ... with the running section */
    assert_true(core_write_output(f->core, "lamp-101", lamp_point, 1) != 0);
    assert_int_equal(f->probes[opened + 1].write_count, 1);
    /* And a good reload still works afterwards. */
    rewrite_config(f, site_devices);
    assert_int_equal(core_reload(f->core), 0);
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
        cmocka_unit_test_setup_teardown(test_slow_commit_shows_the_alarm_after_250_ms,
                                        setup_patient, teardown),
        cmocka_unit_test_setup_teardown(test_counters_without_a_cap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_and_result, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reload_bad_keeps_running_good_applies, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_reload_keeps_unchanged_bus, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reload_failures_change_nothing, setup, teardown),
    };
    return cmocka_run_group_tests_name("core", tests, NULL, NULL);
}
