/* Unit tests of the reload's "which buses changed" (bus_view.c): a bus
 * restarts only when what its driver sees changes (its section, its devices'
 * address, poll period, location, settings, enabled state, their profile's
 * points, the driver file); residents, escalation, labels, spots, profile texts
 * and the order of keys in a mapping never restart a driver. Also: the view
 * outlives the configuration it was built from, and rebinding points its
 * settings at the next one. */
#include "testutil.h"
#include "testconfig.h"

#include "drivers/bus_view.h"
#include "config/cfgtree.h"
#include "config/config.h"

struct variant {
    const char *resident_label;
    const char *bus_a_settings;
    const char *bus_b_settings;
    const char *device_a1; /* the extra keys of device a1 */
    const char *profile_source;
    const char *profile_description;
    const char *rules;        /* a section a driver does not see, or "" */
    const char *extra_device; /* one more device line, or "" */
};

static const struct variant base = {
    .resident_label = "Bed A",
    .bus_a_settings = "{scenario: quiet, seed: 1}",
    .bus_b_settings = "{scenario: quiet}",
    .device_a1 = "address: 1, poll_ms: 1000, bed: 101-A, label: Call one, spot: bathroom",
    .profile_source = "{line: 0}",
    .profile_description = "a call button",
    .rules = "",
    .extra_device = "",
};

static char *dir;

static struct wg_config *load(const struct variant *v)
{
    char profile[1024];
    snprintf(profile, sizeof profile,
             "id: unit-call\nvendor: tests\nmodel: unit\ndescription: %s\nsynthetic: true\n"
             "points:\n  - {name: call, meaning: call_button, source: %s}\n",
             v->profile_description, v->profile_source);
    free(test_write_file(dir, "unit-call.yaml", profile));
    char text[4096];
    snprintf(text, sizeof text,
             "site: {id: unit-home, name: Unit Home, district: unit-district}\n"
             "profiles: [\"%s/unit-call.yaml\"]\n"
             "zones:\n"
             "  - id: f1\n"
             "    rooms:\n"
             "      - {id: \"101\", kind: resident, beds: [A, B]}\n"
             "      - {id: \"102\", kind: resident, beds: [A]}\n"
             "residents:\n"
             "  - {id: R-0001, bed: 101-A, care_level: 3, label: \"%s\"}\n"
             "buses:\n"
             "  - id: a\n"
             "    driver: sim\n"
             "    settings: %s\n"
             "  - {id: b, driver: sim, settings: %s}\n"
             "devices:\n"
             "  - {id: a1, bus: a, profile: unit-call, %s}\n"
             "  - {id: b1, bus: b, address: 1, profile: unit-call, room: \"102\"}\n"
             "%s"
             "%s",
             dir, v->resident_label, v->bus_a_settings, v->bus_b_settings, v->device_a1,
             v->extra_device, v->rules);
    struct wg_config *config = test_load_config(test_write_file(dir, "site.yaml", text));
    assert_non_null(config);
    return config;
}

/* Which of buses a and b the variant restarts: "", "a", "b" or "ab". */
static void expect_changed(const struct variant *v, const char *expected, const char *driver_path_b)
{
    struct wg_config *before = load(&base), *after = load(v);
    char changed[3] = "";
    const char *ids[] = {"a", "b"};
    for (size_t i = 0; i < 2; i++) {
        size_t old_bus = config_find_bus(before, ids[i]), new_bus = config_find_bus(after, ids[i]);
        struct bus_view *x = bus_view_build(before, old_bus, "/plugins/sim.so");
        struct bus_view *y = bus_view_build(
            after, new_bus, i == 1 && driver_path_b ? driver_path_b : "/plugins/sim.so");
        assert_non_null(x);
        assert_non_null(y);
        if (!bus_view_equal(x, y))
            strncat(changed, ids[i], 1);
        assert_true(bus_view_equal(x, x));
        bus_view_free(x);
        bus_view_free(y);
    }
    if (strcmp(changed, expected) != 0)
        fail_msg("expected buses \"%s\" to change, got \"%s\"", expected, changed);
    config_free(before);
    config_free(after);
}

static void test_nothing_a_driver_sees(void **state)
{
    (void)state;
    struct variant v = base;
    v.resident_label = "王奶奶";
    expect_changed(&v, "", NULL);
    v = base;
    v.rules = "escalation: {reannunciate_s: 120}\n";
    expect_changed(&v, "", NULL);
    v = base;
    v.device_a1 =
        "address: 1, poll_ms: 1000, bed: 101-A, label: Another label, spot: by the window";
    expect_changed(&v, "", NULL);
    v = base;
    v.profile_description = "a call button, re-described";
    expect_changed(&v, "", NULL);
    v = base;
    v.bus_a_settings = "{seed: 1, scenario: quiet}"; /* the same mapping, keys reordered */
    expect_changed(&v, "", NULL);
    v = base;
    v.bus_a_settings = "\n      scenario: quiet\n      seed: 1"; /* block style */
    expect_changed(&v, "", NULL);
}

static void test_what_a_driver_sees(void **state)
{
    (void)state;
    struct variant v = base;
    v.bus_a_settings = "{scenario: quiet, seed: 2}";
    expect_changed(&v, "a", NULL);
    v = base;
    v.bus_b_settings = "{scenario: quiet, control: /tmp/x}";
    expect_changed(&v, "b", NULL);
    v = base;
    v.bus_a_settings = "{scenario: quiet, seed: \"1\"}"; /* a quoted scalar reads differently */
    expect_changed(&v, "a", NULL);
    v = base;
    v.device_a1 = "address: 2, poll_ms: 1000, bed: 101-A, label: Call one, spot: bathroom";
    expect_changed(&v, "a", NULL);
    v = base;
    v.device_a1 = "address: 1, poll_ms: 500, bed: 101-A, label: Call one, spot: bathroom";
    expect_changed(&v, "a", NULL);
    v = base;
    v.device_a1 = "address: 1, poll_ms: 1000, bed: 101-A, enabled: false";
    expect_changed(&v, "a", NULL);
    v = base;
    v.device_a1 = "address: 1, poll_ms: 1000, bed: 101-A, settings: {silent: true}";
    expect_changed(&v, "a", NULL);
    v = base;
    v.extra_device = "  - {id: b2, bus: b, address: 2, profile: unit-call, room: \"101\"}\n";
    expect_changed(&v, "b", NULL);
    /* A profile both buses use. */
    v = base;
    v.profile_source = "{line: 1}";
    expect_changed(&v, "ab", NULL);
    /* Another driver file for bus b (plugins.dir changed). */
    expect_changed(&base, "b", "/elsewhere/sim.so");
}

/* A device moved to another bed: the location in its driver's messages changes. */
static void test_location_is_part_of_the_view(void **state)
{
    (void)state;
    struct variant v = base;
    v.device_a1 = "address: 1, poll_ms: 1000, bed: 101-B";
    expect_changed(&v, "a", NULL);
    struct wg_config *config = load(&base);
    struct bus_view *view = bus_view_build(config, 0, "/plugins/sim.so");
    assert_string_equal(view->view.devices[0].location, "f1/101/101-A");
    bus_view_free(view);
    config_free(config);
}

/* The view keeps its strings when its configuration goes; rebinding points
 * its settings at the next configuration's nodes. */
static void test_view_outlives_its_config(void **state)
{
    (void)state;
    struct wg_config *first = load(&base);
    struct bus_view *view = bus_view_build(first, 0, "/plugins/sim.so");
    assert_non_null(view);
    struct wg_config *second = load(&base);
    bus_view_rebind(view, second, 0);
    config_free(first);
    assert_string_equal(view->view.id, "a");
    assert_string_equal(view->view.devices[0].id, "a1");
    assert_string_equal(view->view.devices[0].points[0].name, "call");
    assert_ptr_equal(view->view.settings, second->buses[0].settings);
    assert_string_equal(cfg_scalar(cfg_get(view->view.settings, "scenario")), "quiet");
    assert_ptr_equal(view->view.devices[0].points[0].source, second->profiles[0].points[0].source);
    bus_view_free(view);
    config_free(second);
}

static void test_cfg_equal(void **state)
{
    (void)state;
    struct wg_diag diag;
    diag_init(&diag);
    const char *texts[] = {"{a: 1, b: [x, y]}", "{b: [x, y], a: 1}", "{a: 1, b: [y, x]}",
                           "{a: 1, b: [x, y], c: 2}", "{a: \"1\", b: [x, y]}"};
    struct wg_cfg_node *nodes[5];
    for (size_t i = 0; i < 5; i++) {
        nodes[i] = cfgtree_parse("t.yaml", texts[i], strlen(texts[i]), &diag);
        assert_non_null(nodes[i]);
    }
    assert_true(cfg_equal(nodes[0], nodes[1]));
    assert_false(cfg_equal(nodes[0], nodes[2])); /* list order counts */
    assert_false(cfg_equal(nodes[0], nodes[3]));
    assert_false(cfg_equal(nodes[3], nodes[0]));
    assert_false(cfg_equal(nodes[0], nodes[4]));
    assert_true(cfg_equal(NULL, NULL));
    assert_false(cfg_equal(nodes[0], NULL));
    for (size_t i = 0; i < 5; i++)
        cfgtree_free(nodes[i]);
    diag_free(&diag);
}

static int group_setup(void **state)
{
    (void)state;
    dir = test_tmpdir();
    return dir ? 0 : -1;
}

static int group_teardown(void **state)
{
    (void)state;
    test_rmtree(dir);
    free(dir);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nothing_a_driver_sees),
        cmocka_unit_test(test_what_a_driver_sees),
        cmocka_unit_test(test_location_is_part_of_the_view),
        cmocka_unit_test(test_view_outlives_its_config),
        cmocka_unit_test(test_cfg_equal),
    };
    return cmocka_run_group_tests_name("bus_view", tests, group_setup, group_teardown);
}
