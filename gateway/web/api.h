/* The JSON API and the WebSocket feed, answered on the core thread (see
 * api.c and docs/api.md); reads of the journal go on to the query workers
 * (api_read.h). api_new attaches to the core: a listener that turns
 * committed events into display deltas, the bridge's request fd and a 1 s
 * heartbeat timer. Free it only after core_free (the core's listeners run
 * until then). */
#ifndef WG_API_H
#define WG_API_H

#include <stdio.h>

#include "web/web_bridge.h"

struct wg_api;
struct wg_core;

struct wg_api *api_new(struct wg_core *core, struct wg_web_bridge *bridge,
                       struct wg_query_service *queries);
void api_free(struct wg_api *api);
/* More figures for /metrics, written on the core thread after the API's own
 * (the ESPA line's: espa/espa_attach.h). `ctx` must outlive the API. */
void api_set_extra_metrics(struct wg_api *api, void (*write)(FILE *out, void *ctx), void *ctx);

#endif
