/* Unit tests of the gpio driver's logic (plugins/gpio/gpio_logic.c) and its
 * simulated line backend (plugins/gpio/simulated_lines.c): debounce with
 * made-up edge times, what NC / latching / toggling contacts report, the lamp
 * and buzzer patterns, and the backend's edges, errors and event fd. The same
 * code on the kernel's gpio-sim: tests/integration/gpio_sim_qemu.sh. */
#include "testutil.h"

#include <poll.h>
#include <unistd.h>

#include "../../plugins/gpio/gpio_backend.h"
#include "../../plugins/gpio/gpio_logic.h"
#include "drivers/plugin.h"

#define MS 1000000LL

static void test_bounce_shorter_than_debounce_is_ignored(void **state)
{
    (void)state;
    struct gpio_debounce d;
    gpio_debounce_init(&d, 20 * MS, false);
    /* A contact bouncing: 3 pulses of 4 ms, 4 ms apart. */
    for (int i = 0; i < 3; i++) {
        gpio_debounce_edge(&d, true, (1000 + 8 * i) * MS);
        assert_int_equal(gpio_debounce_deadline(&d), (1000 + 8 * i + 20) * MS);
        assert_false(gpio_debounce_settle(&d, (1000 + 8 * i + 3) * MS, NULL));
        gpio_debounce_edge(&d, false, (1004 + 8 * i) * MS);
        assert_int_equal(gpio_debounce_deadline(&d), GPIO_NEVER);
    }
    assert_false(gpio_debounce_settle(&d, 2000 * MS, NULL));
    assert_false(d.stable);
    assert_int_equal(d.bounces, 3);
}

static void test_level_that_holds_counts_from_its_first_edge(void **state)
{
    (void)state;
    struct gpio_debounce d;
    gpio_debounce_init(&d, 20 * MS, false);
    gpio_debounce_edge(&d, true, 100 * MS);
    gpio_debounce_edge(&d, false, 101 * MS); /* bounce at the onset */
    gpio_debounce_edge(&d, true, 102 * MS);
    gpio_debounce_edge(&d, true, 103 * MS); /* a repeated level (merged edge) keeps the time */
    int64_t at = 0;
    assert_false(gpio_debounce_settle(&d, 121 * MS, &at));
    assert_true(gpio_debounce_settle(&d, 122 * MS, &at));
    assert_int_equal(at, 102 * MS); /* dated at the edge that started it */
    assert_true(d.stable);
    assert_false(gpio_debounce_settle(&d, 500 * MS, &at));
}

static void test_zero_debounce_settles_at_once(void **state)
{
    (void)state;
    struct gpio_debounce d;
    gpio_debounce_init(&d, 0, true);
    gpio_debounce_edge(&d, false, 7 * MS);
    int64_t at = 0;
    assert_true(gpio_debounce_settle(&d, 7 * MS, &at));
    assert_int_equal(at, 7 * MS);
    assert_false(d.stable);
}

static void test_normally_closed_contact_reads_open_as_one(void **state)
{
    (void)state;
    struct gpio_contact nc = {.normally_closed = true};
    assert_true(gpio_contact_level(&nc, false)); /* loop open (cut wire): 1 */
    assert_true(nc.value);
    assert_true(gpio_contact_level(&nc, true)); /* closed: normal */
    assert_false(nc.value);
    struct gpio_contact no = {0};
    assert_false(gpio_contact_level(&no, false));
    assert_true(gpio_contact_level(&no, true));
}

static void test_latching_cord_waits_for_the_reset_button(void **state)
{
    (void)state;
    struct gpio_contact cord = {.mode = GPIO_CONTACT_LATCH};
    assert_true(gpio_contact_level(&cord, true));   /* pulled */
    assert_false(gpio_contact_level(&cord, false)); /* momentary switch lets go: still 1 */
    assert_true(cord.value);
    struct gpio_contact held = cord;
    assert_false(gpio_contact_reset(&held, true)); /* reset while still pulled: stays */
    assert_true(held.value);
    assert_true(gpio_contact_reset(&cord, false)); /* reset at the origin */
    assert_false(cord.value);
    struct gpio_contact plain = {0};
    assert_false(gpio_contact_reset(&plain, false)); /* only latches care */
}

static void test_toggling_presence_button(void **state)
{
    (void)state;
    struct gpio_contact presence = {.mode = GPIO_CONTACT_TOGGLE};
    assert_true(gpio_contact_level(&presence, true)); /* press: present */
    assert_false(gpio_contact_level(&presence, false));
    assert_true(presence.value);
    assert_true(gpio_contact_level(&presence, true)); /* press again: gone */
    assert_false(presence.value);
}

static void test_lamp_patterns(void **state)
{
    (void)state;
    const struct gpio_pattern *call = gpio_lamp_pattern(WG_LAMP_CALL);
    int64_t next = 0;
    assert_true(gpio_pattern_level(call, 123456 * MS, &next));
    assert_int_equal(next, GPIO_NEVER);
    assert_false(gpio_pattern_level(gpio_lamp_pattern(WG_LAMP_OFF), 5 * MS, &next));
    /* Emergency: 1 s on, 1 s off, starting on. */
    const struct gpio_pattern *emergency = gpio_lamp_pattern(WG_LAMP_EMERGENCY);
    assert_int_equal(gpio_pattern_period_ns(emergency), 2000 * MS);
    assert_true(gpio_pattern_level(emergency, 0, &next));
    assert_int_equal(next, 1000 * MS);
    assert_false(gpio_pattern_level(emergency, 1000 * MS, &next));
    assert_int_equal(next, 2000 * MS);
    assert_true(gpio_pattern_level(emergency, 4999 * MS, &next));
    assert_int_equal(next, 5000 * MS);
    /* Alarm: 0.3 s / 0.3 s. */
    const struct gpio_pattern *alarm = gpio_lamp_pattern(WG_LAMP_ALARM);
    assert_true(gpio_pattern_level(alarm, 299 * MS, NULL));
    assert_false(gpio_pattern_level(alarm, 300 * MS, NULL));
    assert_true(gpio_pattern_level(alarm, 600 * MS, NULL));
    /* Presence: the red line off, the green line steady. */
    assert_false(gpio_pattern_level(gpio_lamp_pattern(WG_LAMP_PRESENCE), 0, NULL));
    assert_true(gpio_pattern_level(gpio_lamp_green_pattern(WG_LAMP_PRESENCE), 0, NULL));
    assert_false(gpio_pattern_level(gpio_lamp_green_pattern(WG_LAMP_EMERGENCY), 0, NULL));
    assert_null(gpio_lamp_pattern(9));
    assert_null(gpio_lamp_green_pattern(-1));
}

static int pulses_in_cycle(const struct gpio_pattern *pattern)
{
    int pulses = 0;
    bool was = false;
    for (int64_t t = 0; t < gpio_pattern_period_ns(pattern); t += MS) {
        bool on = gpio_pattern_level(pattern, t, NULL);
        pulses += on && !was;
        was = on;
    }
    return pulses;
}

static void test_buzzer_bursts(void **state)
{
    (void)state;
    assert_int_equal(pulses_in_cycle(gpio_buzzer_pattern(WG_BUZZER_HIGH)), 10);
    assert_int_equal(pulses_in_cycle(gpio_buzzer_pattern(WG_BUZZER_MEDIUM)), 3);
    assert_int_equal(pulses_in_cycle(gpio_buzzer_pattern(WG_BUZZER_LOW)), 2);
    /* Sound recurs well within 10 s (UL 1069), every pattern. */
    for (int code = WG_BUZZER_LOW; code <= WG_BUZZER_HIGH; code++)
        assert_true(gpio_pattern_period_ns(gpio_buzzer_pattern(code)) <= 10000 * MS);
    assert_false(gpio_pattern_level(gpio_buzzer_pattern(WG_BUZZER_OFF), 0, NULL));
    assert_null(gpio_buzzer_pattern(4));
}

/* ---- the simulated backend ---- */

static const struct gpio_backend *sim = &gpio_simulated_backend;

static void test_simulated_edges_active_low_and_event_fd(void **state)
{
    (void)state;
    char why[256];
    struct gpio_sim_settings settings = {.lines = 4};
    struct gpio_chip_handle *chip = sim->open_chip("t", &settings, why, sizeof why);
    assert_non_null(chip);
    assert_int_equal(sim->line_count(chip), 4);
    struct gpio_line_request in = {.offset = 1, .active_low = true, .bias = GPIO_BIAS_PULL_UP};
    struct gpio_line_handle *line = sim->request(chip, &in, "test", why, sizeof why);
    assert_non_null(line);
    assert_int_equal(sim->get(line), 0); /* pulled up, active-low: inactive */
    struct pollfd pfd = {.fd = sim->event_fd(line), .events = POLLIN};
    assert_int_equal(poll(&pfd, 1, 0), 0);
    assert_int_equal(gpio_simulated_drive(chip, 1, false, 5 * MS), 0); /* contact to ground */
    assert_int_equal(gpio_simulated_drive(chip, 1, false, 6 * MS), 0); /* no change, no edge */
    assert_int_equal(gpio_simulated_drive(chip, 1, true, 9 * MS), 0);
    assert_int_equal(poll(&pfd, 1, 0), 1);
    struct gpio_edge edges[4];
    assert_int_equal(sim->read_edges(line, edges, 4), 2);
    assert_true(edges[0].level); /* physical low on an active-low line: active */
    assert_int_equal(edges[0].ts_ns, 5 * MS);
    assert_false(edges[1].level);
    assert_int_equal(poll(&pfd, 1, 0), 0);
    assert_int_equal(sim->read_edges(line, edges, 4), 0);
    assert_int_equal(gpio_simulated_drive(chip, 9, true, 0), -1);
    sim->release(line);
    sim->close_chip(chip);
}

static void test_simulated_errors_name_chip_and_line(void **state)
{
    (void)state;
    char why[256];
    struct gpio_sim_settings settings = {.lines = 4};
    struct gpio_chip_handle *chip = sim->open_chip("t", &settings, why, sizeof why);
    struct gpio_line_request out = {.offset = 2, .output = true, .initial = true};
    assert_null(sim->request(chip, &(struct gpio_line_request){.offset = 4}, "x", why, sizeof why));
    assert_string_equal(why,
                        "chip t [simulated] line 4: out of range (the chip has 4 lines, 0..3)");
    struct gpio_line_handle *line = sim->request(chip, &out, "first", why, sizeof why);
    assert_non_null(line);
    assert_int_equal(gpio_simulated_level(chip, 2), 1);
    assert_null(sim->request(chip, &out, "second", why, sizeof why));
    assert_string_equal(why, "chip t [simulated] line 2: already in use by \"first\"");
    assert_int_equal(sim->set(line, false), 0);
    assert_int_equal(sim->get(line), 0);
    assert_int_equal(gpio_simulated_drive(chip, 2, true, 0), 0); /* a wire cannot move an output */
    assert_int_equal(gpio_simulated_level(chip, 2), 0);
    sim->release(line);
    sim->close_chip(chip);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bounce_shorter_than_debounce_is_ignored),
        cmocka_unit_test(test_level_that_holds_counts_from_its_first_edge),
        cmocka_unit_test(test_zero_debounce_settles_at_once),
        cmocka_unit_test(test_normally_closed_contact_reads_open_as_one),
        cmocka_unit_test(test_latching_cord_waits_for_the_reset_button),
        cmocka_unit_test(test_toggling_presence_button),
        cmocka_unit_test(test_lamp_patterns),
        cmocka_unit_test(test_buzzer_bursts),
        cmocka_unit_test(test_simulated_edges_active_low_and_event_fd),
        cmocka_unit_test(test_simulated_errors_name_chip_and_line),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
