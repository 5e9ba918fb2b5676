/* Real and manual clocks; see clock.h. */
#include "clock.h"

#include <stdio.h>
#include <time.h>

static int64_t read_clock_ms(clockid_t id)
{
    struct timespec now;
    clock_gettime(id, &now);
    return (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

static int64_t real_wall_ms(const struct wg_clock *clock)
{
    (void)clock;
    return read_clock_ms(CLOCK_REALTIME);
}

static int64_t real_mono_ms(const struct wg_clock *clock)
{
    (void)clock;
    return read_clock_ms(CLOCK_MONOTONIC);
}

static int64_t manual_wall_ms(const struct wg_clock *clock)
{
    return clock->manual_wall_ms;
}

static int64_t manual_mono_ms(const struct wg_clock *clock)
{
    return clock->manual_mono_ms;
}

struct wg_clock clock_real(void)
{
    return (struct wg_clock){.wall_ms = real_wall_ms, .mono_ms = real_mono_ms};
}

struct wg_clock clock_manual(int64_t start_wall_ms)
{
    return (struct wg_clock){.wall_ms = manual_wall_ms,
                             .mono_ms = manual_mono_ms,
                             .manual_wall_ms = start_wall_ms,
                             .manual_mono_ms = 1000};
}

void clock_advance(struct wg_clock *clock, int64_t ms)
{
    clock->manual_wall_ms += ms;
    clock->manual_mono_ms += ms;
}

int clock_minute_of_day(int64_t wall_ms)
{
    time_t seconds = (time_t)(wall_ms / 1000);
    struct tm local;
    localtime_r(&seconds, &local);
    return local.tm_hour * 60 + local.tm_min;
}

void clock_format_rfc3339(int64_t ts_ms, bool local_offset, char *out, size_t out_len)
{
    int64_t seconds = ts_ms / 1000, millis = ts_ms % 1000;
    if (millis < 0) {
        millis += 1000;
        seconds -= 1;
    }
    time_t t = (time_t)seconds;
    struct tm tm;
    if (!(local_offset ? localtime_r(&t, &tm) : gmtime_r(&t, &tm))) {
        snprintf(out, out_len, "1970-01-01T00:00:00.000%s", local_offset ? "+00:00" : "Z");
        return;
    }
    char date[32];
    strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S", &tm);
    if (!local_offset) {
        snprintf(out, out_len, "%s.%03dZ", date, (int)millis);
        return;
    }
    long offset_min = tm.tm_gmtoff / 60;
    char sign = offset_min < 0 ? '-' : '+';
    if (offset_min < 0)
        offset_min = -offset_min;
    snprintf(out, out_len, "%s.%03d%c%02ld:%02ld", date, (int)millis, sign, offset_min / 60,
             offset_min % 60);
}
