/* The names of call priorities and GB 38600-2019 risk categories (config.h),
 * and whether a minute of the day falls in a daily window. */
#include "config/config_load_internal.h"

#include <string.h>

/* ---- names ---------------------------------------------------------------------------------- */

static const char *const priority_names[] = {
    [WG_PRIO_ADVISORY] = "advisory", [WG_PRIO_TECHNICAL] = "technical", [WG_PRIO_NORMAL] = "normal",
    [WG_PRIO_URGENT] = "urgent",     [WG_PRIO_EMERGENCY] = "emergency", [WG_PRIO_FIRE] = "fire",
};
#define PRIORITY_COUNT (sizeof priority_names / sizeof priority_names[0])

const char *priority_name(enum wg_priority priority)
{
    if ((unsigned)priority >= PRIORITY_COUNT)
        return "unknown";
    return priority_names[priority];
}

int priority_from_name(const char *name)
{
    for (size_t i = 0; name && i < PRIORITY_COUNT; i++)
        if (strcmp(name, priority_names[i]) == 0)
            return (int)i;
    return -1;
}

/* GB 38600-2019 names, in bit order. */
static const char *const risk_names[] = {
    "choking", "wrong_ingestion",   "pressure_sore", "scald", "fall_from_bed", "fall", "wandering",
    "harm",    "activity_accident",
};
#define RISK_COUNT (sizeof risk_names / sizeof risk_names[0])

const char *risk_name(enum wg_risk risk)
{
    for (size_t i = 0; i < RISK_COUNT; i++)
        if ((unsigned)risk == 1u << i)
            return risk_names[i];
    return risk == WG_RISK_NONE ? "none" : "unknown";
}

int risk_from_name(const char *name)
{
    for (size_t i = 0; name && i < RISK_COUNT; i++)
        if (strcmp(name, risk_names[i]) == 0)
            return (int)(1u << i);
    return -1;
}

bool window_contains(const struct wg_window *window, int minute_of_day)
{
    int minute = ((minute_of_day % MINUTES_PER_DAY) + MINUTES_PER_DAY) % MINUTES_PER_DAY;
    if (window->start_min < window->end_min)
        return minute >= window->start_min && minute < window->end_min;
    return minute >= window->start_min || minute < window->end_min;
}
