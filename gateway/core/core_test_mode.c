/* The core's side of device test mode (alarm/engine.h): a manager's start
 * and end handed to the engine, every window change and every device test
 * journaled as an event for the history, the displays and the district
 * ("test_mode", "device_test"), with an audit row (hash-chained evidence)
 * for what no person did (a window running out, a test recorded), and the
 * running windows restored from the journal after a restart. */
#include "core/core_private.h"

static json_t *window_body(const struct wg_test_window *window, const char *phase)
{
    json_t *body = json_pack("{s:s, s:s, s:s, s:I, s:I, s:s, s:i}", "phase", phase, "target",
                             window->target, "scope", window->zone ? "zone" : "room", "started_ms",
                             (json_int_t)window->started_ms, "ends_ms", (json_int_t)window->ends_ms,
                             "started_by", window->started_by, "tests", window->tests);
    if (body && window->ended_ms) {
        json_object_set_new(body, "ended_ms", json_integer(window->ended_ms));
        json_object_set_new(body, "ended_by", json_string(window->ended_by));
    }
    return body;
}

void core_test_mode_changed(void *ctx, const struct wg_test_window *window, const char *phase)
{
    struct wg_core *core = ctx;
    const struct wg_config *config = core->config;
    int64_t now = clock_wall_ms(core->clock);
    json_t *body = window_body(window, phase);
    if (!body) {
        wg_crit("out of memory journaling test mode %s of %s", phase, window->target);
        return;
    }
    struct wg_event proto = {
        .ts_ms = now, .kind = "test_mode", .priority = -1, .uplink = WG_UPLINK_HEALTH};
    size_t room = window->zone ? WG_NO_INDEX : config_find_room(config, window->target);
    if (room != WG_NO_INDEX) {
        proto.room = config->rooms[room].id;
        proto.zone = config->zones[config->rooms[room].zone].id;
    } else if (window->zone) {
        proto.zone = window->target;
    }
    wg_notice("test mode %s: %s %s (started by %s, %d tests)%s%s", phase,
              window->zone ? "zone" : "room", window->target, window->started_by, window->tests,
              window->ended_by[0] ? ", ended by " : "", window->ended_by);
    journal_event(core->journal, &proto, body, WG_CLASS_HEALTH, NULL);
    /* A person's start and end are audited where they asked (the API); what
     * the gateway ends by itself is audited here. */
    if (strcmp(phase, "expire") == 0 || strcmp(window->ended_by, "reload") == 0) {
        json_t *detail =
            json_pack("{s:i, s:s}", "tests", window->tests, "started_by", window->started_by);
        char *text = detail ? json_dumps(detail, JSON_COMPACT) : NULL;
        journal_audit(core->journal, now, "wardgated", NULL,
                      strcmp(phase, "expire") == 0 ? "test_mode.expire" : "test_mode.end",
                      window->target, text);
        free(text);
        json_decref(detail);
    }
}

void core_device_tested(void *ctx, const struct wg_device_test *test)
{
    struct wg_core *core = ctx;
    const struct wg_config *config = core->config;
    const struct wg_device *device = &config->devices[test->device];
    const char *point = config->profiles[device->profile].points[test->point].name;
    json_t *body =
        json_pack("{s:s, s:s, s:b, s:s, s:s, s:I, s:s}", "kind", test->kind, "point", point,
                  "masked", test->masked, "test_target", test->window->target, "test_scope",
                  test->window->zone ? "zone" : "room", "test_started_ms",
                  (json_int_t)test->window->started_ms, "started_by", test->window->started_by);
    if (!body) {
        wg_crit("out of memory journaling the test of %s", device->id);
        return;
    }
    core_emit(core, "device_test", -1, test->device, body, WG_UPLINK_HEALTH, test->ts_ms);
    json_t *detail =
        json_pack("{s:s, s:s, s:b}", "kind", test->kind, "point", point, "masked", test->masked);
    char *text = detail ? json_dumps(detail, JSON_COMPACT) : NULL;
    journal_audit(core->journal, test->ts_ms, test->window->started_by, "device", "device.test",
                  device->id, text);
    free(text);
    json_decref(detail);
}

int core_test_mode_start(struct wg_core *core, const char *target, int duration_s, const char *who,
                         char *why, size_t why_len)
{
    int rc = engine_test_mode_start(core->engine, target, duration_s, who,
                                    clock_wall_ms(core->clock), why, why_len);
    core_flush(core);
    return rc;
}

int core_test_mode_end(struct wg_core *core, const char *target, const char *who, char *why,
                       size_t why_len)
{
    int rc =
        engine_test_mode_end(core->engine, target, who, clock_wall_ms(core->clock), why, why_len);
    core_flush(core);
    return rc;
}

size_t core_test_windows(struct wg_core *core, const struct wg_test_window **out)
{
    return engine_test_windows(core->engine, out);
}

const char *core_device_test_kind(struct wg_core *core, size_t device)
{
    return engine_device_test_kind(core->engine, device);
}

/* ---- after a restart ---- */

static int replay_one(const char *body_text, void *ctx)
{
    struct wg_core *core = ctx;
    json_t *body = json_loads(body_text, 0, NULL);
    const char *phase = json_string_value(json_object_get(body, "phase"));
    const char *target = json_string_value(json_object_get(body, "target"));
    const char *scope = json_string_value(json_object_get(body, "scope"));
    const char *by = json_string_value(json_object_get(body, "started_by"));
    json_t *started = json_object_get(body, "started_ms"), *ends = json_object_get(body, "ends_ms");
    if (!phase || !target || !scope || !json_is_integer(started) || !json_is_integer(ends)) {
        wg_warn("storage: a test_mode event is not readable; it is left out");
    } else {
        /* start and extend put the window back; end and expire take it out */
        struct wg_test_window window = {
            .zone = strcmp(scope, "zone") == 0,
            .started_ms = json_integer_value(started),
            .ends_ms = json_integer_value(ends),
            .tests = (int)json_integer_value(json_object_get(body, "tests"))};
        if (strcmp(phase, "start") != 0 && strcmp(phase, "extend") != 0)
            window.ended_ms = json_integer_value(json_object_get(body, "ended_ms"));
        snprintf(window.target, sizeof window.target, "%s", target);
        snprintf(window.started_by, sizeof window.started_by, "%s", by ? by : "");
        if (engine_test_mode_restore(core->engine, &window) != 0)
            wg_warn("test mode of %s %s was not restored: it is no longer configured, or %d "
                    "windows run already",
                    scope, target, WG_TEST_WINDOWS_MAX);
    }
    json_decref(body);
    return 0;
}

/* Counts the device tests of one window (its target and start). */
struct window_tests {
    const struct wg_test_window *window;
    int tests;
};

static int count_test(const char *body_text, void *ctx)
{
    struct window_tests *count = ctx;
    json_t *body = json_loads(body_text, 0, NULL);
    const char *target = json_string_value(json_object_get(body, "test_target"));
    json_t *started = json_object_get(body, "test_started_ms");
    if (target && strcmp(target, count->window->target) == 0 && json_is_integer(started) &&
        json_integer_value(started) == count->window->started_ms)
        count->tests++;
    json_decref(body);
    return 0;
}

int core_restore_test_modes(struct wg_core *core, struct wg_store *store)
{
    int64_t since = clock_wall_ms(core->clock) - WG_TEST_MAX_S * 1000LL;
    if (store_events_of_kind(store, "test_mode", since, replay_one, core) != 0)
        return -1;
    const struct wg_test_window *running;
    size_t count = engine_test_windows(core->engine, &running);
    /* A window's tests since its start, counted again from the journal. */
    for (size_t i = 0; i < count; i++) {
        struct wg_test_window window = running[i];
        struct window_tests tests = {&window, 0};
        if (store_events_of_kind(store, "device_test", window.started_ms, count_test, &tests) != 0)
            return -1;
        window.tests = tests.tests;
        engine_test_mode_restore(core->engine, &window); /* replaces it: it runs */
        count = engine_test_windows(core->engine, &running);
    }
    for (size_t i = 0; i < count; i++) {
        char until[40];
        clock_format_rfc3339(running[i].ends_ms, true, until, sizeof until);
        wg_notice("restored test mode of %s %s until %s (started by %s)",
                  running[i].zone ? "zone" : "room", running[i].target, until,
                  running[i].started_by);
    }
    return 0;
}
