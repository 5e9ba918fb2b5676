/* The alarm engine's device test mode (engine.h): the running test windows
 * of rooms and zones, the tests recorded in them instead of calls, and their
 * end, by hand or when their time runs out, after which whatever their
 * devices still hold is raised as a real alarm. Which rules a window masks
 * is decided where each rule raises (engine_rules.c, engine_fire.c): call
 * buttons, pull cords and smoke detectors; never a fire panel; gas is
 * recorded and raised. */
#include "alarm/engine_private.h"

/* The window covering the device (by its room, or its room's zone), or NULL. */
static struct wg_test_window *window_of_device(struct wg_engine *engine, size_t device)
{
    const struct wg_config *config = engine->config;
    if (engine->test_window_count == 0 || device >= config->device_count)
        return NULL;
    size_t room = config->devices[device].room;
    if (room == WG_NO_INDEX)
        return NULL; /* a panel or a site-wide device is never in a room's test */
    const char *room_id = config->rooms[room].id;
    const char *zone_id = config->zones[config->rooms[room].zone].id;
    for (size_t i = 0; i < engine->test_window_count; i++) {
        struct wg_test_window *window = &engine->test_windows[i];
        if (strcmp(window->target, window->zone ? zone_id : room_id) == 0)
            return window;
    }
    return NULL;
}

static struct wg_test_window *window_of_target(struct wg_engine *engine, const char *target)
{
    for (size_t i = 0; target && i < engine->test_window_count; i++)
        if (strcmp(engine->test_windows[i].target, target) == 0)
            return &engine->test_windows[i];
    return NULL;
}

const struct wg_test_window *engine_tested(struct wg_engine *engine, size_t device, size_t point,
                                           const char *kind, bool masked, int64_t ts)
{
    struct wg_test_window *window = window_of_device(engine, device);
    if (!window)
        return NULL;
    window->tests++;
    if (engine->host.device_tested)
        engine->host.device_tested(engine->host.ctx, &(struct wg_device_test){.device = device,
                                                                              .point = point,
                                                                              .kind = kind,
                                                                              .masked = masked,
                                                                              .window = window,
                                                                              .ts_ms = ts});
    return window;
}

static void report(struct wg_engine *engine, const struct wg_test_window *window, const char *phase)
{
    if (engine->host.test_mode_changed)
        engine->host.test_mode_changed(engine->host.ctx, window, phase);
}

/* Takes the window out, reports it, then raises what its devices hold
 * (the window is gone by then, so nothing is masked). */
static void end_window(struct wg_engine *engine, size_t index, const char *who, const char *phase,
                       int64_t now)
{
    struct wg_test_window ended = engine->test_windows[index];
    memmove(&engine->test_windows[index], &engine->test_windows[index + 1],
            (engine->test_window_count - index - 1) * sizeof ended);
    engine->test_window_count--;
    ended.ended_ms = now;
    alarm_copy_text(ended.ended_by, sizeof ended.ended_by, who);
    report(engine, &ended, phase);
    const struct wg_config *config = engine->config;
    for (size_t d = 0; d < config->device_count; d++) {
        size_t room = config->devices[d].room;
        if (room == WG_NO_INDEX)
            continue;
        const char *id =
            ended.zone ? config->zones[config->rooms[room].zone].id : config->rooms[room].id;
        if (strcmp(id, ended.target) == 0 && !window_of_device(engine, d))
            engine_raise_held(engine, d, now);
    }
}

int engine_test_mode_start(struct wg_engine *engine, const char *target, int duration_s,
                           const char *who, int64_t now_ms, char *why, size_t why_len)
{
    const struct wg_config *config = engine->config;
    bool zone = target && config_find_zone(config, target) != WG_NO_INDEX;
    if (!target || (!zone && config_find_room(config, target) == WG_NO_INDEX)) {
        snprintf(why, why_len, "no room or zone \"%s\"", target ? target : "");
        return -1;
    }
    if (duration_s < WG_TEST_MIN_S || duration_s > WG_TEST_MAX_S) {
        snprintf(why, why_len, "a test lasts %d to %d minutes; %d s asked", WG_TEST_MIN_S / 60,
                 WG_TEST_MAX_S / 60, duration_s);
        return -1;
    }
    struct wg_test_window *window = window_of_target(engine, target);
    if (window) {
        window->ends_ms = now_ms + duration_s * 1000LL;
        report(engine, window, "extend");
        return 0;
    }
    if (engine->test_window_count == WG_TEST_WINDOWS_MAX) {
        snprintf(why, why_len, "%d rooms and zones are in test mode already; end one first",
                 WG_TEST_WINDOWS_MAX);
        return -1;
    }
    window = &engine->test_windows[engine->test_window_count++];
    *window = (struct wg_test_window){
        .zone = zone, .started_ms = now_ms, .ends_ms = now_ms + duration_s * 1000LL};
    alarm_copy_text(window->target, sizeof window->target, target);
    alarm_copy_text(window->started_by, sizeof window->started_by, who);
    report(engine, window, "start");
    return 0;
}

int engine_test_mode_end(struct wg_engine *engine, const char *target, const char *who,
                         int64_t now_ms, char *why, size_t why_len)
{
    struct wg_test_window *window = window_of_target(engine, target);
    if (!window) {
        snprintf(why, why_len, "\"%s\" is not in test mode", target ? target : "");
        return -1;
    }
    end_window(engine, (size_t)(window - engine->test_windows), who, "end", now_ms);
    engine_update_indicators(engine);
    return 0;
}

int engine_test_mode_restore(struct wg_engine *engine, const struct wg_test_window *window)
{
    const struct wg_config *config = engine->config;
    struct wg_test_window *running = window_of_target(engine, window->target);
    if (window->ended_ms) { /* it ended before the restart */
        if (running)
            memmove(running, running + 1,
                    (size_t)(engine->test_windows + --engine->test_window_count - running) *
                        sizeof *running);
        return 0;
    }
    if (window->zone ? config_find_zone(config, window->target) == WG_NO_INDEX
                     : config_find_room(config, window->target) == WG_NO_INDEX)
        return -1; /* its room or zone is no longer configured */
    if (!running) {
        if (engine->test_window_count == WG_TEST_WINDOWS_MAX)
            return -1;
        running = &engine->test_windows[engine->test_window_count++];
    }
    *running = *window;
    running->ended_ms = 0;
    running->ended_by[0] = '\0';
    return 0;
}

size_t engine_test_windows(const struct wg_engine *engine, const struct wg_test_window **out)
{
    *out = engine->test_windows;
    return engine->test_window_count;
}

void engine_test_mode_tick(struct wg_engine *engine, int64_t now)
{
    for (size_t i = 0; i < engine->test_window_count;) {
        if (now >= engine->test_windows[i].ends_ms)
            end_window(engine, i, "timer", "expire", now);
        else
            i++;
    }
}

void engine_test_mode_reconfigured(struct wg_engine *engine, int64_t now)
{
    const struct wg_config *config = engine->config;
    for (size_t i = 0; i < engine->test_window_count;) {
        const struct wg_test_window *window = &engine->test_windows[i];
        bool exists = window->zone ? config_find_zone(config, window->target) != WG_NO_INDEX
                                   : config_find_room(config, window->target) != WG_NO_INDEX;
        if (!exists)
            end_window(engine, i, "reload", "end", now);
        else
            i++;
    }
}

const char *engine_device_test_kind(const struct wg_engine *engine, size_t device)
{
    const struct wg_config *config = engine->config;
    if (device >= config->device_count || config->devices[device].room == WG_NO_INDEX ||
        !config->devices[device].enabled)
        return NULL;
    const struct device_watch *watch = &engine->devices[device];
    for (size_t p = 0; p < watch->point_count; p++)
        for (size_t i = 0; i < watch->point_rule_count[p]; i++)
            switch (config->rules[watch->point_rules[p][i]].kind) {
            case WG_RULE_CALL:
                return "call";
            case WG_RULE_PULL_CORD:
                return "pull_cord";
            case WG_RULE_SMOKE:
                return "smoke";
            case WG_RULE_GAS:
                return "gas";
            default:
                break;
            }
    return NULL;
}
