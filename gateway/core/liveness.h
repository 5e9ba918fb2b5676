/* A thread's proof of life, checked by the core's watchdog job.
 *
 * A thread with a loop of its own (the web server's) stamps its liveness at
 * every turn of the loop, and its loop turns at least once a second even
 * when idle, so a stamp older than a few seconds means wedged, not idle. The
 * core's watchdog job (core_supervise in core.h) reads the stamp; while any
 * supervised thread is stale it stops sending WATCHDOG=1 to systemd, which
 * then restarts the daemon, and it logs once why. A wedged thread cannot say
 * so itself; the core can. Stamps are CLOCK_MONOTONIC milliseconds (both
 * sides pass clock_mono_ms of a real clock).
 *
 * The test-only freeze (WARDGATE_TEST_HOOKS=1, SIGUSR1 for the web thread,
 * see docs/architecture.md) is asked for here: the owning thread blocks at
 * its next turn until the process ends, as a real wedge would. */
#ifndef WG_LIVENESS_H
#define WG_LIVENESS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

/* A supervised thread that has not turned for this long is wedged. */
#define WG_LIVENESS_STALE_MS 5000

struct wg_liveness {
    const char *name;          /* "web": names the thread in the log */
    _Atomic int64_t turned_ms; /* the owning thread's last turn */
    atomic_bool freeze;        /* test hook: block at the next turn */
    bool stale;                /* the checking thread's own note: reported as wedged */
};

void liveness_init(struct wg_liveness *liveness, const char *name, int64_t now_ms);
/* The owning thread, once per turn of its loop. Does not return when a
 * freeze was asked for. */
void liveness_turn(struct wg_liveness *liveness, int64_t now_ms);
/* How long ago the thread last turned. */
int64_t liveness_age_ms(const struct wg_liveness *liveness, int64_t now_ms);
/* Any thread: asks the owning thread to freeze at its next turn (test hook). */
void liveness_request_freeze(struct wg_liveness *liveness);

#endif
