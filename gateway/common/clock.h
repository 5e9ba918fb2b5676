/* The core's clock, injectable so timers are tested without sleeping, and
 * the site's time zone.
 *
 * wall_ms is civil time (journal stamps, night windows); mono_ms only moves
 * forward (timers). The real clock reads CLOCK_REALTIME / CLOCK_MONOTONIC;
 * a manual clock is advanced by the test.
 *
 * Local time is the site's (site.timezone), whatever the host's zone: main()
 * calls clock_use_timezone() once, right after loading the config and before
 * any thread exists, which sets TZ for the whole process. From then on every
 * localtime_r() (night windows, shifts, RFC 3339 offsets, log stamps, the sim
 * driver's day) is in the site's zone. It is never changed while threads
 * run: glibc's setenv()/tzset() race with getenv() in other threads, so a
 * reload that names another zone keeps the running one until a restart (the
 * reload says so in the log). */
#ifndef WG_CLOCK_H
#define WG_CLOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct wg_clock {
    int64_t (*wall_ms)(const struct wg_clock *clock);
    int64_t (*mono_ms)(const struct wg_clock *clock);
    /* Manual clock state; unused by the real clock. */
    int64_t manual_wall_ms;
    int64_t manual_mono_ms;
};

/* The system clock. */
struct wg_clock clock_real(void);
/* A clock that stands still until clock_advance; starts at the given wall time. */
struct wg_clock clock_manual(int64_t start_wall_ms);
void clock_advance(struct wg_clock *clock, int64_t ms);

static inline int64_t clock_wall_ms(const struct wg_clock *clock)
{
    return clock->wall_ms(clock);
}
static inline int64_t clock_mono_ms(const struct wg_clock *clock)
{
    return clock->mono_ms(clock);
}

/* RFC 3339 with milliseconds: in UTC ("2024-05-01T12:00:00.250Z"), or in the
 * box's local time with its offset ("2024-05-01T20:00:00.250+08:00"). */
void clock_format_rfc3339(int64_t ts_ms, bool local_offset, char *out, size_t out_len);

/* Minutes since local midnight for a wall time, for time windows. */
int clock_minute_of_day(int64_t wall_ms);

/* True when `name` is an IANA time zone installed in the zoneinfo directory
 * ($TZDIR, else /usr/share/zoneinfo), e.g. "Asia/Shanghai"; otherwise false
 * with the reason in `why` (for the config loader's message). */
bool clock_timezone_known(const char *name, char *why, size_t why_len);
/* Makes `name` the process's local time zone (TZ, then tzset()). Only before
 * any thread starts. Returns 0, or -1 when the name is not known. */
int clock_use_timezone(const char *name);
/* The local zone's offset from UTC at that instant, in minutes (+480 in Shanghai). */
int clock_utc_offset_min(int64_t wall_ms);

#endif
