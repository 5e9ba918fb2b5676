/* Unit tests of the alarm engine's device test mode and of the escalation
 * of a technical alarm left open, driven with explicit times: presses in a
 * room or zone in test mode are tests, not calls; a fire panel and gas are
 * never masked; the mode ends by itself and what is still held then is
 * raised; refusals; a restart and a reload; a fault open 2 h goes to the
 * manager. */
#include "testutil.h"
#include "testconfig.h"
#include "testengine.h"

#include <math.h>

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
    char windows[MAX_SEEN][200]; /* "phase target by tests" */
    size_t window_count;
    char tests[MAX_SEEN][200]; /* "device kind masked|raised target" */
    size_t test_count;
    size_t door_writes;
};

static const char *const site =
    "buses:\n"
    "  - {id: p1, driver: probe}\n"
    "devices:\n"
    "  - {id: call-101A, bus: p1, address: 1, profile: call-point, bed: 101-A}\n"
    "  - {id: cord-101, bus: p1, address: 2, profile: pull-cord, room: \"101\"}\n"
    "  - {id: smoke-101, bus: p1, address: 3, profile: smoke-detector, room: \"101\"}\n"
    "  - {id: panel, bus: p1, address: 4, profile: fire-panel-gb26875, room: \"101\"}\n"
    "  - {id: gas-101, bus: p1, address: 5, profile: gas-midas, room: \"101\"}\n"
    "  - {id: call-102A, bus: p1, address: 6, profile: call-point, bed: 102-A}\n"
    "  - {id: firedoor, bus: p1, address: 7, profile: fire-door-relay}\n"
    "  - {id: presence-101, bus: p1, address: 8, profile: presence-reset, room: \"101\"}\n"
    "  - {id: presence-102, bus: p1, address: 9, profile: presence-reset, room: \"102\"}\n"
    "rules:\n"
    "  - {id: call, kind: call}\n"
    "  - {id: presence, kind: presence}\n"
    "  - {id: cord, kind: pull_cord}\n"
    "  - {id: smoke, kind: smoke}\n"
    "  - {id: fire, kind: fire_zone}\n"
    "  - {id: gas, kind: gas, low: 20, high: 40, for_s: 2}\n";

static void on_alarm(void *ctx, const struct wg_alarm *alarm, const char *phase)
{
    struct fixture *f = ctx;
    if (f->alarm_count < MAX_SEEN)
        snprintf(f->alarms[f->alarm_count++], sizeof f->alarms[0], "%s:%s", alarm->kind, phase);
}

static uint64_t on_write(void *ctx, size_t device, size_t point, double value)
{
    struct fixture *f = ctx;
    (void)point;
    if (strcmp(f->config->devices[device].id, "firedoor") == 0 && value == 1)
        f->door_writes++;
    return 1;
}

static void on_window(void *ctx, const struct wg_test_window *window, const char *phase)
{
    struct fixture *f = ctx;
    if (f->window_count < MAX_SEEN)
        snprintf(f->windows[f->window_count++], sizeof f->windows[0], "%s %s %s %d", phase,
                 window->target, window->ended_by[0] ? window->ended_by : window->started_by,
                 window->tests);
}

static void on_tested(void *ctx, const struct wg_device_test *test)
{
    struct fixture *f = ctx;
    if (f->test_count < MAX_SEEN)
        snprintf(f->tests[f->test_count++], sizeof f->tests[0], "%s %s %s %s",
                 f->config->devices[test->device].id, test->kind,
                 test->masked ? "masked" : "raised", test->window->target);
}

static struct wg_engine *new_engine(struct fixture *f)
{
    return engine_new(f->config,
                      (struct wg_engine_host){f, on_alarm, on_write, on_window, on_tested, NULL,
                                              NULL, NULL, NULL},
                      f->now);
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    f->dir = test_tmpdir();
    f->config = test_load_config(test_site_config(f->dir, site));
    assert_non_null(f->config);
    for (size_t d = 0; d < TEST_ENGINE_MAX; d++)
        for (size_t p = 0; p < TEST_ENGINE_MAX; p++)
            f->values[d][p] = NAN;
    f->now = 1795305600000LL;
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

/* Seconds pass; every device answers (no supervision alarm) and the engine ticks. */
static void advance(struct fixture *f, int seconds)
{
    for (int s = 0; s < seconds; s++)
        test_engine_second(f->engine, f->config, f->values, &f->now, NULL);
}

static size_t active_of(struct fixture *f, const char *kind)
{
    const struct wg_alarm *active[32];
    size_t n = alarm_active(engine_alarms(f->engine), active, 32), count = 0;
    for (size_t i = 0; i < n; i++)
        count += strcmp(active[i]->kind, kind) == 0;
    return count;
}

static void start(struct fixture *f, const char *target, int seconds)
{
    char why[256] = "";
    int rc =
        engine_test_mode_start(f->engine, target, seconds, "manager1", f->now, why, sizeof why);
    if (rc != 0)
        fail_msg("test mode of %s refused: %s", target, why);
}

/* Presses in a room in test mode are tests; the next room's are calls. */
static void test_presses_in_test_mode_are_tests(void **state)
{
    struct fixture *f = *state;
    start(f, "101", 600);
    assert_string_equal(f->windows[0], "start 101 manager1 0");
    set(f, "call-101A", "call", 1);
    set(f, "cord-101", "cord", 1);
    set(f, "smoke-101", "smoke", 1);
    assert_int_equal(active_of(f, "call"), 0);
    assert_int_equal(active_of(f, "pull_cord"), 0);
    assert_int_equal(active_of(f, "smoke"), 0);
    assert_int_equal(f->door_writes, 0); /* a detector's test releases no fire door */
    assert_int_equal(f->test_count, 3);
    assert_string_equal(f->tests[0], "call-101A call masked 101");
    assert_string_equal(f->tests[1], "cord-101 pull_cord masked 101");
    assert_string_equal(f->tests[2], "smoke-101 smoke masked 101");
    set(f, "call-102A", "call", 1); /* room 102 is not in test mode */
    assert_int_equal(active_of(f, "call"), 1);
    const struct wg_test_window *windows;
    assert_int_equal(engine_test_windows(f->engine, &windows), 1);
    assert_int_equal(windows[0].tests, 3);
}

/* Never masked: the fire panel (even placed in the room under test) and gas,
 * which alarms, closes the valve, and counts as the detector's test. */
static void test_panel_fire_and_gas_are_never_masked(void **state)
{
    struct fixture *f = *state;
    start(f, "f1", 600);
    set(f, "panel", "zone1_fire", 1);
    assert_int_equal(active_of(f, "fire"), 1);
    assert_true(f->door_writes >= 1);
    set(f, "gas-101", "concentration", 30);
    advance(f, 3);
    assert_int_equal(active_of(f, "gas_low"), 1);
    assert_int_equal(f->test_count, 1);
    assert_string_equal(f->tests[0], "gas-101 gas raised f1");
}

/* The mode ends by itself; a cord still pulled then is a real call at once. */
static void test_mode_ends_by_itself_and_raises_what_is_held(void **state)
{
    struct fixture *f = *state;
    start(f, "f1", 60);
    set(f, "cord-101", "cord", 1);
    set(f, "call-101A", "call", 1);
    set(f, "call-101A", "call", 0); /* a press released: nothing to raise later */
    advance(f, 59);
    assert_int_equal(active_of(f, "pull_cord"), 0);
    advance(f, 1);
    const struct wg_test_window *windows;
    assert_int_equal(engine_test_windows(f->engine, &windows), 0);
    assert_string_equal(f->windows[1], "expire f1 timer 2");
    assert_int_equal(active_of(f, "pull_cord"), 1);
    assert_int_equal(active_of(f, "call"), 0);
    set(f, "call-101A", "call", 1); /* after the test: a call */
    assert_int_equal(active_of(f, "call"), 1);
}

static void test_end_extend_and_refusals(void **state)
{
    struct fixture *f = *state;
    char why[256];
    assert_int_equal(engine_test_mode_start(f->engine, "999", 600, "m", f->now, why, sizeof why),
                     -1);
    assert_non_null(strstr(why, "no room or zone \"999\""));
    assert_int_equal(engine_test_mode_start(f->engine, "101", 59, "m", f->now, why, sizeof why),
                     -1);
    assert_int_equal(
        engine_test_mode_start(f->engine, "101", WG_TEST_MAX_S + 1, "m", f->now, why, sizeof why),
        -1);
    assert_non_null(strstr(why, "1 to 240 minutes"));
    assert_int_equal(engine_test_mode_end(f->engine, "101", "m", f->now, why, sizeof why), -1);
    assert_non_null(strstr(why, "not in test mode"));
    start(f, "101", 600);
    advance(f, 300);
    start(f, "101", 600); /* again: extended from now */
    assert_string_equal(f->windows[1], "extend 101 manager1 0");
    const struct wg_test_window *windows;
    assert_int_equal(engine_test_windows(f->engine, &windows), 1);
    assert_true(windows[0].ends_ms == f->now + 600000);
    set(f, "cord-101", "cord", 1);
    assert_int_equal(engine_test_mode_end(f->engine, "101", "lead2", f->now, why, sizeof why), 0);
    assert_string_equal(f->windows[2], "end 101 lead2 1");
    assert_int_equal(active_of(f, "pull_cord"), 1); /* still pulled when ended by hand */
    assert_int_equal(f->alarm_count, 1);
    assert_string_equal(f->alarms[0], "pull_cord:raise");
}

/* After a restart the journaled windows are replayed; one that ended is
 * taken out; one whose room is gone is refused. */
static void test_restore_after_restart(void **state)
{
    struct fixture *f = *state;
    struct wg_test_window window = {.started_ms = f->now, .ends_ms = f->now + 120000};
    snprintf(window.target, sizeof window.target, "101");
    snprintf(window.started_by, sizeof window.started_by, "manager1");
    assert_int_equal(engine_test_mode_restore(f->engine, &window), 0);
    assert_int_equal(f->window_count, 0); /* nothing reported */
    set(f, "call-101A", "call", 1);
    assert_int_equal(active_of(f, "call"), 0);
    struct wg_test_window ended = window;
    ended.ended_ms = f->now;
    assert_int_equal(engine_test_mode_restore(f->engine, &ended), 0);
    const struct wg_test_window *windows;
    assert_int_equal(engine_test_windows(f->engine, &windows), 0);
    struct wg_test_window gone = window;
    snprintf(gone.target, sizeof gone.target, "305");
    assert_int_equal(engine_test_mode_restore(f->engine, &gone), -1);
    /* overdue at restart: it runs out at the first tick */
    window.ends_ms = f->now - 1;
    assert_int_equal(engine_test_mode_restore(f->engine, &window), 0);
    advance(f, 1);
    assert_string_equal(f->windows[0], "expire 101 timer 0");
}

/* A reload that removes the room ends its test. */
static void test_reload_without_the_room_ends_it(void **state)
{
    struct fixture *f = *state;
    start(f, "102", 600);
    char *path = test_site_config(f->dir, "buses:\n  - {id: p1, driver: probe}\n");
    /* the same site without room 102 */
    FILE *file = fopen(path, "r");
    assert_non_null(file);
    char text[4096];
    size_t len = fread(text, 1, sizeof text - 1, file);
    fclose(file);
    text[len] = '\0';
    char *cut = strstr(text, "      - {id: \"102\"");
    assert_non_null(cut);
    memmove(cut, strchr(cut, '\n') + 1, strlen(strchr(cut, '\n') + 1) + 1);
    cut = strstr(text, "  - {id: R-0002");
    assert_non_null(cut);
    memmove(cut, strchr(cut, '\n') + 1, strlen(strchr(cut, '\n') + 1) + 1);
    file = fopen(path, "w");
    fputs(text, file);
    fclose(file);
    struct wg_config *smaller = test_load_config(path);
    assert_non_null(smaller);
    assert_int_equal(engine_set_config(f->engine, smaller, f->now), 0);
    config_free(f->config);
    f->config = smaller;
    const struct wg_test_window *windows;
    assert_int_equal(engine_test_windows(f->engine, &windows), 0);
    assert_string_equal(f->windows[1], "end 102 reload 0");
}

/* A technical alarm still open after 2 h goes to the manager's level, once. */
static void test_fault_open_two_hours_is_escalated(void **state)
{
    struct fixture *f = *state;
    set(f, "cord-101", "loop_open", 0); /* normally closed: 0 read = open line */
    set(f, "cord-101", "loop_open", 1);
    const struct wg_alarm *active[4];
    size_t n = alarm_active(engine_alarms(f->engine), active, 4);
    assert_int_equal(n, 1);
    assert_int_equal(active[0]->priority, WG_PRIO_TECHNICAL);
    assert_int_equal(active[0]->escalation_level, 0);
    advance(f, 7199);
    assert_int_equal(active[0]->escalation_level, 0);
    advance(f, 1);
    assert_int_equal(active[0]->escalation_level, 2); /* carer, floor_lead, manager */
    assert_string_equal(f->alarms[f->alarm_count - 1], "line_fault:escalate");
    size_t before = f->alarm_count;
    advance(f, 600);
    assert_int_equal(f->alarm_count, before); /* not again */
}

int main(void)
{
    setenv("TZ", "UTC", 1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_presses_in_test_mode_are_tests, setup, teardown),
        cmocka_unit_test_setup_teardown(test_panel_fire_and_gas_are_never_masked, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mode_ends_by_itself_and_raises_what_is_held, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_end_extend_and_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_restore_after_restart, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reload_without_the_room_ends_it, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fault_open_two_hours_is_escalated, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
