/* The web server: libwebsockets on its own thread, one port for the static
 * pages, /ws, /api/v1, /healthz and /metrics (docs/api.md).
 *
 * It authenticates every request (session cookie, CSRF token, Origin),
 * answers the session and user endpoints itself (password hashing runs on a
 * worker thread), serves files from web.root, and hands everything else to
 * the core through the bridge. It never touches the core's state. If the
 * port cannot be bound the daemon keeps running (lamps, buzzers and the
 * uplink do not need it) and the server retries every 5 s. */
#ifndef WG_WEB_H
#define WG_WEB_H

#include "config/config.h"
struct wg_store_calls; /* store/store_call.h: auth writes through the store writer */
#include "web/web_bridge.h"

struct wg_web_server;

/* Opens auth (auth.h: a read-only connection to db_path, writes through the
 * store writer's `store_calls`, which must outlive the server), prints the
 * one-time setup token when there is no user yet, and starts the thread.
 * NULL (logged) on failure. The settings are copied (a reload does not move
 * the server). */
struct wg_web_server *web_start(const struct wg_web *settings, const char *db_path,
                                struct wg_store_calls *store_calls, struct wg_web_bridge *bridge);
/* Stops the thread, closes every connection, frees; true. A thread that
 * does not stop within 5 s (wedged) is left behind with everything it may
 * touch, the bridge included: false (the caller must not free the bridge). */
bool web_stop(struct wg_web_server *web);
/* The web thread's liveness (kept by the bridge: bridge_web_liveness), for
 * core_supervise. */
struct wg_liveness *web_liveness(struct wg_web_server *web);

#endif
