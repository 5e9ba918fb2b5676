/* Failed logins counted in memory, per user name and per client address
 * (auth_login): the fifth failure within 15 minutes locks the name or the
 * address out for 30 s, and each failure after that, until a quiet window,
 * for twice as long, up to 15 min. Attempts being checked count as failures
 * until they end, so parallel requests cannot exceed the limit. A restart
 * clears the table. Every function here runs under auth->lock. */
#include <stdio.h>
#include <string.h>

#include "auth/auth_internal.h"

static int throttle_recent(const struct throttle *t, int64_t now_ms)
{
    int n = 0;
    for (int i = 0; i < t->fail_count; i++)
        if (now_ms - t->fail_ms[i] < THROTTLE_WINDOW_MS)
            n++;
    return n;
}

static int64_t throttle_newest(const struct throttle *t)
{
    if (!t->fail_count)
        return INT64_MIN;
    return t->fail_ms[(t->fail_next + THROTTLE_FAILURES - 1) % THROTTLE_FAILURES];
}

/* Nothing left that could refuse or lengthen a lock-out. */
static bool throttle_idle(const struct throttle *t, int64_t now_ms)
{
    int64_t quiet_since = throttle_newest(t);
    if (t->locked_until_ms > quiet_since)
        quiet_since = t->locked_until_ms;
    return !t->pending && t->locked_until_ms <= now_ms &&
           ((!t->fail_count && !t->locks) || now_ms - quiet_since >= THROTTLE_WINDOW_MS);
}

/* The slot of a key, made if needed: -1 when the table is full of attempts
 * in progress. Beyond THROTTLE_SLOTS keys, quiet ones go first, then the
 * one whose latest failure is oldest; slot `keep` (or -1) is left alone. */
int auth_throttle_slot(struct wg_auth *auth, const char *key, int64_t now_ms, int keep)
{
    int free_slot = -1, stale = -1, oldest = -1;
    for (int i = 0; i < THROTTLE_SLOTS; i++) {
        struct throttle *t = &auth->throttle[i];
        if (i == keep)
            continue;
        if (!t->used) {
            if (free_slot < 0)
                free_slot = i;
            continue;
        }
        if (strcmp(t->key, key) == 0)
            return i;
        if (stale < 0 && throttle_idle(t, now_ms))
            stale = i;
        if (!t->pending &&
            (oldest < 0 || throttle_newest(t) < throttle_newest(&auth->throttle[oldest])))
            oldest = i;
    }
    int slot = free_slot >= 0 ? free_slot : stale >= 0 ? stale : oldest;
    if (slot < 0)
        return -1;
    struct throttle *t = &auth->throttle[slot];
    memset(t, 0, sizeof *t);
    t->used = true;
    snprintf(t->key, sizeof t->key, "%s", key);
    return slot;
}

/* Seconds to wait before the key may try again; 0 when it may now. */
int auth_throttle_wait_s(const struct throttle *t, int64_t now_ms)
{
    if (t->locked_until_ms > now_ms)
        return (int)((t->locked_until_ms - now_ms + 999) / 1000);
    /* Attempts checked at the same time count as failures until they end,
     * so parallel requests cannot exceed the limit. */
    if (t->pending && throttle_recent(t, now_ms) + t->pending >= THROTTLE_FAILURES)
        return 1;
    return 0;
}

/* Records a failure; returns the lock-out it started in ms, or 0. The
 * fifth failure within the window locks the key for 30 s; after that, while
 * the key has not been quiet for a whole window since its last failure or
 * lock-out, every failure locks it again for twice as long, up to 15 min. */
int64_t auth_throttle_fail(struct throttle *t, int64_t now_ms)
{
    int64_t quiet_since = throttle_newest(t);
    if (t->locked_until_ms > quiet_since)
        quiet_since = t->locked_until_ms;
    if ((t->fail_count || t->locks) && now_ms - quiet_since >= THROTTLE_WINDOW_MS) {
        t->fail_count = 0; /* forgiven */
        t->fail_next = 0;
        t->locks = 0;
    }
    t->fail_ms[t->fail_next] = now_ms;
    t->fail_next = (t->fail_next + 1) % THROTTLE_FAILURES;
    if (t->fail_count < THROTTLE_FAILURES)
        t->fail_count++;
    if (t->locked_until_ms > now_ms) /* an attempt that began before the lock-out */
        return 0;
    if (!t->locks && throttle_recent(t, now_ms) < THROTTLE_FAILURES)
        return 0;
    int64_t lock_ms = THROTTLE_FIRST_MS << (t->locks < 10 ? t->locks : 10);
    if (lock_ms > THROTTLE_MAX_MS)
        lock_ms = THROTTLE_MAX_MS;
    t->locked_until_ms = now_ms + lock_ms;
    if (t->locks < 16)
        t->locks++;
    t->refusal_audited = false;
    return lock_ms;
}

/* Frees the slot when it holds nothing worth keeping. */
void auth_throttle_tidy(struct throttle *t, int64_t now_ms)
{
    if (t->used && !t->pending && !t->fail_count && !t->locks && t->locked_until_ms <= now_ms)
        memset(t, 0, sizeof *t);
}

/* The end of an attempt counted in `pending`; a success forgets the failures. */
void auth_throttle_release(struct throttle *t, bool success, int64_t now_ms)
{
    if (t->pending > 0)
        t->pending--;
    if (success) {
        t->fail_count = 0;
        t->fail_next = 0;
        t->locks = 0;
        t->locked_until_ms = 0;
    }
    auth_throttle_tidy(t, now_ms);
}
