/* The core's clock, injectable so timers are tested without sleeping.
 *
 * wall_ms is civil time (journal stamps, night windows); mono_ms only moves
 * forward (timers). The real clock reads CLOCK_REALTIME / CLOCK_MONOTONIC;
 * a manual clock is advanced by the test. */
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

#endif
