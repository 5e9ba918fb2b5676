/* The uplink attached to the core (core/attach.h), the way the web API is:
 * it runs the MQTT client (uplink.h) while the config enables it, publishes
 * the outbox after each commit, watches the client's descriptor, runs its
 * one-second timer, replaces the client when a reload changes its settings
 * (the old one says goodbye in the background; the new one connects once it
 * has: same client id), and closes it at the stop, after the last commits.
 *
 * The outbox bound, telemetry and everything journaled are the core's; the
 * uplink only reads the outbox (on the core's read-only connection) and asks
 * the core to delete what the broker acknowledged. */
#ifndef WG_UPLINK_ATTACH_H
#define WG_UPLINK_ATTACH_H

#include <jansson.h>

#include "core/core.h"
#include "store/query.h"

/* What the district is shown of the core, as JSON (web/web_bridge_json.h has them;
 * main wires them in). Each returns a new reference, or NULL. */
struct wg_uplink_views {
    json_t *(*status)(struct wg_core *core);
    json_t *(*active_alarms)(struct wg_core *core);
    json_t *(*devices)(struct wg_core *core);
};

struct wg_uplink_attachment;

/* Attaches to the core; the client starts connecting at once when the
 * config enables it. `queries` (may be NULL) runs the district's journal
 * reads. NULL when out of memory or the core has no room (logged). Free it
 * after core_free. */
struct wg_uplink_attachment *uplink_attach(struct wg_core *core, struct wg_query_service *queries,
                                           const struct wg_uplink_views *views);
void uplink_attachment_free(struct wg_uplink_attachment *attachment);
/* The running client's descriptor (-1 when none): for tests. */
int uplink_attachment_fd(const struct wg_uplink_attachment *attachment);

#endif
