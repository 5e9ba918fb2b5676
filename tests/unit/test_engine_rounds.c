/* Unit tests of the alarm engine's rounds, driven with explicit times in
 * UTC: a night of four rounds of zone f1 (rooms 101 and 102) checked in by
 * the rooms' presence buttons and by QR code, one complete, one missed, one
 * late, one complete, with the advisory round_overdue alarm raised after
 * the grace and ended by the last check-in or by the slot's end; check-ins
 * refused outside a round; a restart within a slot keeps its check-ins; a
 * reload keeps them and ends the alarm of a round no longer configured. */
#include "testutil.h"
#include "testconfig.h"
#include "testengine.h"

#include <math.h>
#include <time.h>

#include "alarm/alarm.h"
#include "alarm/engine.h"
#include "config/config.h"

#define MAX_SEEN 64

struct fixture {
    char *dir;
    struct wg_config *config;
    struct wg_engine *engine;
    int64_t now;
    double values[TEST_ENGINE_MAX][TEST_ENGINE_MAX];
    char alarms[MAX_SEEN][80]; /* "kind:phase" */
    size_t alarm_count;
    char results[MAX_SEEN][80]; /* "HH:MM status done/planned late" */
    size_t result_count;
    size_t checkins;
};

static const char *const rounds_text =
    "buses:\n"
    "  - {id: p1, driver: probe}\n"
    "devices:\n"
    "  - {id: presence-101, bus: p1, address: 1, profile: presence-reset, room: \"101\"}\n"
    "  - {id: presence-102, bus: p1, address: 2, profile: presence-reset, room: \"102\"}\n"
    "rules:\n"
    "  - {id: presence, kind: presence}\n"
    "rounds:\n"
    "  - {id: night-f1, zone: f1, window: \"22:00-06:00\", every_min: 120, grace_min: 30}\n";

/* 2026-11-22 in UTC. */
static int64_t utc(int hour, int minute)
{
    return 1795305600000LL + (hour * 60 + minute) * 60000LL;
}

static void on_alarm(void *ctx, const struct wg_alarm *alarm, const char *phase)
{
    struct fixture *f = ctx;
    if (f->alarm_count < MAX_SEEN)
        snprintf(f->alarms[f->alarm_count++], sizeof f->alarms[0], "%s:%s", alarm->kind, phase);
}

static uint64_t on_write(void *ctx, size_t device, size_t point, double value)
{
    (void)ctx, (void)device, (void)point, (void)value;
    return 1;
}

static void on_checked(void *ctx, const struct wg_round_slot *slot,
                       const struct wg_round_room *room)
{
    struct fixture *f = ctx;
    (void)slot, (void)room;
    f->checkins++;
}

static void on_closed(void *ctx, const struct wg_round_slot *slot)
{
    struct fixture *f = ctx;
    int minute = (int)((slot->start_ms - utc(0, 0)) / 60000 % 1440);
    if (f->result_count < MAX_SEEN)
        snprintf(f->results[f->result_count++], sizeof f->results[0], "%02d:%02d %s %zu/%zu %zu",
                 minute / 60, minute % 60, slot->status, slot->done, slot->room_count, slot->late);
}

static struct wg_engine *new_engine(struct fixture *f)
{
    return engine_new(f->config,
                      (struct wg_engine_host){f, on_alarm, on_write, NULL, NULL, on_checked,
                                              on_closed, NULL, NULL},
                      f->now);
}

static int setup(void **state)
{
    setenv("TZ", "UTC", 1);
    tzset();
    struct fixture *f = calloc(1, sizeof *f);
    f->dir = test_tmpdir();
    f->config = test_load_config(test_site_config(f->dir, rounds_text));
    assert_non_null(f->config);
    for (size_t d = 0; d < TEST_ENGINE_MAX; d++)
        for (size_t p = 0; p < TEST_ENGINE_MAX; p++)
            f->values[d][p] = NAN;
    f->now = utc(21, 0);
    f->engine = new_engine(f);
    assert_non_null(f->engine);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    engine_free(f->engine);
    config_free(f->config);
    test_rmtree(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

static void set(struct fixture *f, const char *device, const char *point, double value)
{
    test_engine_reading(f->engine, f->config, f->values, device, point, value, f->now);
}

/* Time passes to hh:mm (the next day when earlier), a second at a time:
 * every device answers and the engine ticks. */
static void until(struct fixture *f, int hour, int minute)
{
    int64_t target = utc(hour, minute);
    while (target <= f->now - 12 * 3600000LL)
        target += 86400000LL;
    while (f->now < target)
        test_engine_second(f->engine, f->config, f->values, &f->now, NULL);
}

/* Staff presence logged in the room and ended: a check-in. */
static void visit(struct fixture *f, const char *room)
{
    char device[32];
    snprintf(device, sizeof device, "presence-%s", room);
    set(f, device, "presence", 1);
    set(f, device, "presence", 0);
}

/* An argument of the alarm's detail (its detail_args JSON), as text. */
static const char *arg(const struct wg_alarm *alarm, const char *key)
{
    static char text[128];
    json_t *args = json_loads(alarm->detail_args, 0, NULL);
    json_t *value = json_object_get(args, key);
    if (json_is_integer(value))
        snprintf(text, sizeof text, "%lld", (long long)json_integer_value(value));
    else
        snprintf(text, sizeof text, "%s", json_is_string(value) ? json_string_value(value) : "?");
    json_decref(args);
    return text;
}

static size_t active_overdue(struct fixture *f)
{
    const struct wg_alarm *active[8];
    size_t n = alarm_active(engine_alarms(f->engine), active, 8), count = 0;
    for (size_t i = 0; i < n; i++)
        count += strcmp(active[i]->kind, "round_overdue") == 0;
    return count;
}

static void test_a_night_of_rounds_with_one_missed(void **state)
{
    struct fixture *f = *state;
    struct wg_round_slot slot;
    char why[256];
    until(f, 21, 59);
    assert_false(engine_round_slot(f->engine, 0, &slot));
    assert_int_equal(engine_round_checkin(f->engine, "101", "carer1", f->now, why, sizeof why), -1);
    assert_non_null(strstr(why, "no round is due"));
    /* 22:00-00:00: both rooms visited in time */
    until(f, 22, 10);
    visit(f, "101");
    until(f, 22, 20);
    visit(f, "102");
    visit(f, "102"); /* again: still one check-in */
    assert_true(engine_round_slot(f->engine, 0, &slot));
    assert_int_equal(slot.done, 2);
    assert_int_equal(f->checkins, 2);
    /* 00:00-02:00: nobody until after the grace; 101 only */
    until(f, 0, 29);
    assert_int_equal(active_overdue(f), 0);
    until(f, 0, 31);
    assert_int_equal(active_overdue(f), 1);
    const struct wg_alarm *active[4];
    assert_int_equal(alarm_active(engine_alarms(f->engine), active, 4), 1);
    assert_int_equal(active[0]->priority, WG_PRIO_ADVISORY);
    assert_string_equal(active[0]->zone, "f1");
    assert_string_equal(arg(active[0], "missing"), "2");
    assert_string_equal(arg(active[0], "rooms"), "101, 102");
    until(f, 0, 40);
    visit(f, "101");
    assert_string_equal(arg(active[0], "missing"), "1");
    assert_string_equal(arg(active[0], "rooms"), "102");
    /* 02:00-04:00: both rooms, after the grace: late */
    until(f, 2, 0);
    assert_int_equal(active_overdue(f), 0); /* the slot's end ended it */
    until(f, 2, 45);
    assert_int_equal(active_overdue(f), 1);
    visit(f, "101");
    until(f, 2, 50);
    visit(f, "102");
    assert_int_equal(active_overdue(f), 0); /* the last check-in ended it */
    /* 04:00-06:00: both by QR code */
    until(f, 4, 5);
    assert_int_equal(engine_round_checkin(f->engine, "101", "carer1", f->now, why, sizeof why), 0);
    assert_int_equal(engine_round_checkin(f->engine, "101", "carer1", f->now, why, sizeof why), -1);
    assert_non_null(strstr(why, "checked in already"));
    assert_int_equal(engine_round_checkin(f->engine, "102", "carer2", f->now, why, sizeof why), 0);
    assert_int_equal(engine_round_checkin(f->engine, "305", "carer2", f->now, why, sizeof why), -1);
    assert_non_null(strstr(why, "no room \"305\""));
    until(f, 6, 1);
    assert_false(engine_round_slot(f->engine, 0, &slot));
    assert_int_equal(f->result_count, 4);
    assert_string_equal(f->results[0], "22:00 complete 2/2 0");
    assert_string_equal(f->results[1], "00:00 missed 1/2 1"); /* 101 after the grace */
    assert_string_equal(f->results[2], "02:00 late 2/2 2");
    assert_string_equal(f->results[3], "04:00 complete 2/2 0");
    /* raise, update (101 checked), reset (slot end); raise, update, reset (done) */
    size_t raises = 0, resets = 0;
    for (size_t i = 0; i < f->alarm_count; i++) {
        raises += strcmp(f->alarms[i], "round_overdue:raise") == 0;
        resets += strcmp(f->alarms[i], "round_overdue:reset") == 0;
    }
    assert_int_equal(raises, 2);
    assert_int_equal(resets, 2);
}

/* A restart within a slot: its check-ins are restored and the overdue alarm
 * of the slot before (restored with the active alarms) ends. */
static void test_restart_keeps_the_slot(void **state)
{
    struct fixture *f = *state;
    until(f, 22, 45);
    assert_int_equal(active_overdue(f), 1);
    const struct wg_alarm *active[4];
    assert_int_equal(alarm_active(engine_alarms(f->engine), active, 4), 1);
    json_t *overdue = alarm_to_json(active[0]);
    engine_free(f->engine);
    /* restarted at 00:10: the alarm was 22:00's; 101 checked in at 00:05 before */
    f->now = utc(0, 10) + 86400000LL;
    f->engine = new_engine(f);
    assert_int_equal(engine_restore(f->engine, overdue), 0);
    json_decref(overdue);
    engine_round_restore(f->engine, "night-f1", "101", "presence-101", utc(0, 0) + 86400000LL,
                         utc(0, 5) + 86400000LL);
    engine_round_restore(f->engine, "night-f1", "102", "presence-102", utc(22, 0),
                         utc(22, 30)); /* a slot that is over: left out */
    struct wg_round_slot slot;
    assert_true(engine_round_slot(f->engine, 0, &slot));
    assert_int_equal(slot.done, 1);
    assert_int_equal(active_overdue(f), 0); /* 22:00's alarm ended */
    until(f, 0, 31);
    assert_int_equal(active_overdue(f), 1); /* 102 still missing after the grace */
}

/* A reload keeps the slot's check-ins; a reload without the round ends its alarm. */
static void test_reload_keeps_check_ins_and_ends_a_removed_round(void **state)
{
    struct fixture *f = *state;
    until(f, 22, 10);
    visit(f, "101");
    until(f, 22, 31);
    assert_int_equal(active_overdue(f), 1);
    struct wg_config *same = test_load_config(test_site_config(f->dir, rounds_text));
    assert_non_null(same);
    assert_int_equal(engine_set_config(f->engine, same, f->now), 0);
    config_free(f->config);
    f->config = same;
    struct wg_round_slot slot;
    assert_true(engine_round_slot(f->engine, 0, &slot));
    assert_int_equal(slot.done, 1);
    assert_int_equal(active_overdue(f), 1);
    char *text = strdup(rounds_text);
    *strstr(text, "rounds:\n") = '\0';
    struct wg_config *without = test_load_config(test_site_config(f->dir, text));
    free(text);
    assert_non_null(without);
    assert_int_equal(engine_set_config(f->engine, without, f->now), 0);
    config_free(f->config);
    f->config = without;
    assert_int_equal(active_overdue(f), 0);
    assert_false(engine_round_slot(f->engine, 0, &slot));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_a_night_of_rounds_with_one_missed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_restart_keeps_the_slot, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reload_keeps_check_ins_and_ends_a_removed_round, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
