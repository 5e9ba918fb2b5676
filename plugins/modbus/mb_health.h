/* Per-device supervision: online -> suspect -> offline, with back-off.
 *
 * A poll that gets any reply (values or an exception) proves the slave is
 * alive. A poll that gets none makes the device suspect; after
 * `allowed_fails` silent polls in a row it is offline and is probed only once
 * per back-off period, which doubles up to a maximum. So a dead slave costs
 * its line at most one timeout per back-off period. Pure logic: no I/O, no
 * clock; the bus thread feeds it outcomes and schedules the returned delay. */
#ifndef WG_MB_HEALTH_H
#define WG_MB_HEALTH_H

#include <stdbool.h>

#include "drivers/plugin.h"

struct mb_supervision {
    int allowed_fails;  /* silent polls before offline */
    int backoff_ms;     /* first probe interval while offline */
    int backoff_max_ms; /* the interval doubles up to this */
};

struct mb_device_health {
    enum wg_health state;
    int fails;      /* silent polls in a row */
    int backoff_ms; /* the current probe interval while offline */
};

/* A reply arrived. Returns true when the state changed (to online). */
bool mb_health_on_reply(struct mb_device_health *health, const struct mb_supervision *config);

/* No reply. Returns true when the state changed. *probe_in_ms is the delay
 * before the next attempt when offline, 0 to keep the normal poll period. */
bool mb_health_on_silence(struct mb_device_health *health, const struct mb_supervision *config,
                          int *probe_in_ms);

#endif
