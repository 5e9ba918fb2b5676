/* The per-device online/suspect/offline state machine; see mb_health.h. */
#include "mb_health.h"

bool mb_health_on_reply(struct mb_device_health *health, const struct mb_supervision *config)
{
    bool changed = health->state != WG_HEALTH_ONLINE;
    health->state = WG_HEALTH_ONLINE;
    health->fails = 0;
    health->backoff_ms = config->backoff_ms;
    return changed;
}

bool mb_health_on_silence(struct mb_device_health *health, const struct mb_supervision *config,
                          int *probe_in_ms)
{
    enum wg_health before = health->state;
    if (health->fails < config->allowed_fails)
        health->fails++;
    *probe_in_ms = 0;
    if (health->fails >= config->allowed_fails) {
        if (health->state == WG_HEALTH_OFFLINE) {
            health->backoff_ms = health->backoff_ms > config->backoff_max_ms / 2
                                     ? config->backoff_max_ms
                                     : health->backoff_ms * 2;
        } else {
            health->backoff_ms = config->backoff_ms;
        }
        health->state = WG_HEALTH_OFFLINE;
        *probe_in_ms = health->backoff_ms;
    } else {
        health->state = WG_HEALTH_SUSPECT;
    }
    return health->state != before;
}
