/* The API's read endpoints, answered on the query workers (query.h):
 * history pages, the CSV export, the response report and the audit log.
 *
 * The core thread (api_history.c) checks the route, the role and the parameters and
 * hands the request over here; the work and the reply happen on a worker,
 * which posts the reply to the web thread through the bridge. The core
 * thread never waits for the journal. A CSV export is streamed: rows go out
 * as they are read, a page at a time, and its memory is bounded by the
 * bridge's flow control whatever the number of rows (docs/api.md). */
#ifndef WG_API_READ_H
#define WG_API_READ_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "web/labels.h"
#include "web/web_bridge.h"

/* Exports that may run at once; one more is refused with 503. */
#define WG_EXPORTS_AT_ONCE 4

/* The event kinds of the journal, NULL-terminated, for checking a filter. */
extern const char *const wg_event_kinds[];

/* Each returns 0 when the request was queued (its reply comes from a
 * worker), or -1 when the service refused it (too many exports at once, or
 * stopping; nothing was replied). They copy what they need from `filter`
 * and take `labels` (freed even on failure). */
int api_read_history(struct wg_query_service *queries, struct wg_web_bridge *bridge,
                     uint64_t request_id, const struct wg_event_filter *filter, bool csv,
                     struct wg_labels *labels);
int api_read_report(struct wg_query_service *queries, struct wg_web_bridge *bridge,
                    uint64_t request_id, int64_t from_ms, int64_t to_ms);
/* Which of `devices` (bridge_core_testable_devices_json, with names;
 * taken) were tested from_ms <= ts < to_ms, and how often and when last,
 * from the journal's device_test events (docs/api.md). */
int api_read_test_report(struct wg_query_service *queries, struct wg_web_bridge *bridge,
                         uint64_t request_id, int64_t from_ms, int64_t to_ms, json_t *devices);
int api_read_audit(struct wg_query_service *queries, struct wg_web_bridge *bridge,
                   uint64_t request_id, int64_t before_seq, int limit);

#endif
