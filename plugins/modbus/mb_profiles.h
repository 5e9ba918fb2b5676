/* Parsed profiles shared across buses: one copy of a profile's points for
 * every bus of the driver that uses it.
 *
 * A site of a thousand meters on a thousand Modbus TCP endpoints has one
 * profile and a thousand buses; each bus parses the profile (its errors are
 * reported where its devices are), then hands the result here, and gets back
 * the copy already held when the parse came out the same, field for field. So
 * sharing follows content, never a name: a reload that changes a profile
 * gets a new copy while buses that still run the old one keep theirs.
 * Thread-safe (a mutex): buses open and close on the host's thread, but the
 * table asks nothing of its callers. */
#ifndef WG_MB_PROFILES_H
#define WG_MB_PROFILES_H

#include <pthread.h>
#include <stddef.h>

#include "mb_point.h"

struct mb_shared_points;

struct mb_profiles {
    pthread_mutex_t lock;
    struct mb_shared_points *first;
};

void mb_profiles_init(struct mb_profiles *profiles);
/* Frees the table; every copy must have been released. */
void mb_profiles_destroy(struct mb_profiles *profiles);

/* Takes `parsed` (count points, from malloc) and
 * returns the shared copy equal to it; `parsed` is then freed, or becomes
 * that copy. NULL when out of memory: `parsed` is then still the caller's. */
const struct mb_point *mb_profiles_share(struct mb_profiles *profiles, struct mb_point *parsed,
                                         size_t count);
/* One user fewer of a copy mb_profiles_share returned; freed with its last. */
void mb_profiles_release(struct mb_profiles *profiles, const struct mb_point *points);
/* How many distinct copies are held (for tests). */
size_t mb_profiles_count(struct mb_profiles *profiles);

#endif
