/* Threads' proof of life for the core's watchdog job; see liveness.h. */
#include "core/liveness.h"

#include <unistd.h>

#include "common/log.h"

void liveness_init(struct wg_liveness *liveness, const char *name, int64_t now_ms)
{
    liveness->name = name;
    atomic_store(&liveness->turned_ms, now_ms);
    atomic_store(&liveness->freeze, false);
    liveness->stale = false;
}

void liveness_turn(struct wg_liveness *liveness, int64_t now_ms)
{
    atomic_store(&liveness->turned_ms, now_ms);
    if (!atomic_load(&liveness->freeze))
        return;
    wg_warn("test hook: the %s thread stops here until the process ends", liveness->name);
    for (;;)
        pause(); /* every signal is blocked or fatal: only the end of the process ends this */
}

int64_t liveness_age_ms(const struct wg_liveness *liveness, int64_t now_ms)
{
    return now_ms - atomic_load(&liveness->turned_ms);
}

void liveness_request_freeze(struct wg_liveness *liveness)
{
    atomic_store(&liveness->freeze, true);
}
