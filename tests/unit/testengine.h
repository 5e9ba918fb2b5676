/* Helpers for the alarm engine's unit tests: a point found by its name or
 * meaning, and a reading handed to the engine as the core hands it over,
 * with the previous value each test keeps per device and point. */
#ifndef WG_TESTENGINE_H
#define WG_TESTENGINE_H

#include <math.h>
#include <string.h>

#include "alarm/engine.h"
#include "config/config.h"

#define TEST_ENGINE_MAX 64 /* devices, and points per device, a test keeps values of */

/* The device's index and its point's, by the point's name or meaning. */
static inline void test_engine_point(const struct wg_config *config, const char *device,
                                     const char *point, size_t *d, size_t *p)
{
    *d = config_find_device(config, device);
    assert_true(*d != WG_NO_INDEX);
    const struct wg_profile *profile = &config->profiles[config->devices[*d].profile];
    for (*p = 0; *p < profile->point_count; (*p)++)
        if (strcmp(profile->points[*p].name, point) == 0 ||
            strcmp(profile->points[*p].meaning, point) == 0)
            return;
    fail_msg("no point %s on %s", point, device);
}

/* A reading at `now`; values[d][p] holds the last one (NAN: none yet). */
static inline void test_engine_reading(struct wg_engine *engine, const struct wg_config *config,
                                       double (*values)[TEST_ENGINE_MAX], const char *device,
                                       const char *point, double value, int64_t now)
{
    size_t d, p;
    test_engine_point(config, device, point, &d, &p);
    double previous = values[d][p];
    bool first = isnan(previous);
    engine_on_point(engine, d, p, value, first ? 0 : previous, first, now);
    values[d][p] = value;
}

/* One second passes: every device but `silent` (NULL: none) whose poll is
 * due answers (its first point, unchanged: supervision stays quiet), then
 * the engine ticks. */
static inline void test_engine_second(struct wg_engine *engine, const struct wg_config *config,
                                      double (*values)[TEST_ENGINE_MAX], int64_t *now,
                                      const char *silent)
{
    *now += 1000;
    for (size_t d = 0; d < config->device_count; d++) {
        const struct wg_device *device = &config->devices[d];
        if ((silent && strcmp(device->id, silent) == 0) ||
            (*now / 1000) % (device->poll_ms / 1000 ? device->poll_ms / 1000 : 1) != 0)
            continue;
        double v = isnan(values[d][0]) ? 0 : values[d][0];
        engine_on_point(engine, d, 0, v, v, false, *now);
        values[d][0] = v;
    }
    engine_tick(engine, *now);
}

#endif
