/* The JSON API and the WebSocket feed, answered on the core thread: the
 * route table (method, path, the role each call needs), the requests taken
 * from the bridge in bounded batches, and attaching the API to the core.
 *
 * The web thread hands every /api/v1 call (already authenticated: it carries
 * the user and role), every WebSocket snapshot and action to the core through
 * the bridge; the handlers answer them with the core's state, and turn each
 * committed event into a WebSocket delta (api_alarms.c). Because requests and
 * deltas are answered on the one thread that commits events, a snapshot and
 * the deltas after it can never disagree. Roles are checked here, in one
 * route table, for every call; acknowledgements, refused resets and
 * configuration changes are written to the audit log. Reads of the journal
 * (history, CSV export, report, audit log) are checked here and answered by
 * a query worker (api_history.c, api_read.c), so the core thread never waits
 * for them. The handlers by area: api_alarms.c, api_config.c,
 * api_config_edit.c, api_history.c, api_tests.c, api_records.c,
 * api_rounds.c, api_monthly.c, api_paging.c, api_metrics.c. See
 * docs/api.md. */
#include "web/api_private.h"

#include <errno.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "common/log.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- routing ---- */

enum route_id {
    R_SNAPSHOT,
    R_ALARMS,
    R_ACK,
    R_RESET,
    R_DEVICES,
    R_DEVICE,
    R_DEVICE_ADD,
    R_DEVICE_UPDATE,
    R_DEVICE_DELETE,
    R_META,
    R_RESIDENTS,
    R_RESIDENT_ADD,
    R_RESIDENT_UPDATE,
    R_RESIDENT_DELETE,
    R_ROOM_BEDS,
    R_HISTORY,
    R_REPORT,
    R_AUDIT,
    R_TEST_MODES,
    R_TEST_MODE_START,
    R_TEST_MODE_END,
    R_TEST_REPORT,
    R_HANDOVER_ADD,
    R_DRILL_ADD,
    R_ROUNDS,
    R_ROUND_CHECKIN,
    R_ROUND_ROOMS,
    R_ROUND_QR,
    R_MONTHLY,
    R_PAGE_RECEIVED,
    R_PAGE_ACCEPT,
    R_PAGE_DECLINE,
    R_STAFF,
    R_STAFF_CLAIM,
    R_METRICS,
};

struct route {
    const char *method;
    const char *pattern; /* segments; "*" takes any one (the id) */
    enum wg_role role;
    enum route_id id;
    bool query; /* takes query parameters */
};

static const struct route routes[] = {
    {"GET", "/api/v1/snapshot", WG_ROLE_STATION, R_SNAPSHOT, false},
    {"GET", "/api/v1/alarms", WG_ROLE_STATION, R_ALARMS, false},
    {"POST", "/api/v1/alarms/*/ack", WG_ROLE_NURSE, R_ACK, false},
    {"POST", "/api/v1/alarms/*/reset", WG_ROLE_NURSE, R_RESET, false},
    {"GET", "/api/v1/devices", WG_ROLE_NURSE, R_DEVICES, false},
    {"GET", "/api/v1/devices/*", WG_ROLE_NURSE, R_DEVICE, false},
    {"POST", "/api/v1/devices", WG_ROLE_MANAGER, R_DEVICE_ADD, false},
    {"PUT", "/api/v1/devices/*", WG_ROLE_MANAGER, R_DEVICE_UPDATE, false},
    {"DELETE", "/api/v1/devices/*", WG_ROLE_MANAGER, R_DEVICE_DELETE, false},
    {"GET", "/api/v1/meta", WG_ROLE_NURSE, R_META, false},
    {"GET", "/api/v1/residents", WG_ROLE_MANAGER, R_RESIDENTS, false},
    {"POST", "/api/v1/residents", WG_ROLE_MANAGER, R_RESIDENT_ADD, false},
    {"PUT", "/api/v1/residents/*", WG_ROLE_MANAGER, R_RESIDENT_UPDATE, false},
    {"DELETE", "/api/v1/residents/*", WG_ROLE_MANAGER, R_RESIDENT_DELETE, false},
    {"PUT", "/api/v1/rooms/*/beds", WG_ROLE_MANAGER, R_ROOM_BEDS, false},
    {"GET", "/api/v1/history", WG_ROLE_NURSE, R_HISTORY, true},
    {"GET", "/api/v1/report/response", WG_ROLE_MANAGER, R_REPORT, true},
    {"GET", "/api/v1/audit", WG_ROLE_MANAGER, R_AUDIT, true},
    {"GET", "/api/v1/test-mode", WG_ROLE_STATION, R_TEST_MODES, false},
    {"POST", "/api/v1/test-mode", WG_ROLE_MANAGER, R_TEST_MODE_START, false},
    {"DELETE", "/api/v1/test-mode/*", WG_ROLE_MANAGER, R_TEST_MODE_END, false},
    {"GET", "/api/v1/report/tests", WG_ROLE_MANAGER, R_TEST_REPORT, true},
    {"POST", "/api/v1/handovers", WG_ROLE_NURSE, R_HANDOVER_ADD, false},
    {"POST", "/api/v1/drills", WG_ROLE_MANAGER, R_DRILL_ADD, false},
    {"GET", "/api/v1/rounds", WG_ROLE_NURSE, R_ROUNDS, false},
    {"POST", "/api/v1/rounds/checkin", WG_ROLE_NURSE, R_ROUND_CHECKIN, false},
    {"GET", "/api/v1/rounds/rooms", WG_ROLE_MANAGER, R_ROUND_ROOMS, false},
    {"GET", "/api/v1/rounds/qr/*", WG_ROLE_MANAGER, R_ROUND_QR, true},
    {"GET", "/api/v1/report/monthly", WG_ROLE_MANAGER, R_MONTHLY, true},
    {"POST", "/api/v1/alarms/*/received", WG_ROLE_NURSE, R_PAGE_RECEIVED, false},
    {"POST", "/api/v1/alarms/*/accept", WG_ROLE_NURSE, R_PAGE_ACCEPT, false},
    {"POST", "/api/v1/alarms/*/decline", WG_ROLE_NURSE, R_PAGE_DECLINE, false},
    {"GET", "/api/v1/staff", WG_ROLE_STATION, R_STAFF, false},
    {"POST", "/api/v1/staff/claim", WG_ROLE_NURSE, R_STAFF_CLAIM, false},
    {"GET", "/metrics", WG_ROLE_NONE, R_METRICS, false},
};

/* Matches path against pattern; the "*" segment is copied to id. */
static bool path_matches(const char *pattern, const char *path, char *id, size_t id_len)
{
    while (*pattern && *path) {
        if (*pattern == '*') {
            size_t n = strcspn(path, "/");
            if (n == 0 || n >= id_len)
                return false;
            memcpy(id, path, n);
            id[n] = '\0';
            path += n;
            pattern++;
            continue;
        }
        if (*pattern != *path)
            return false;
        pattern++;
        path++;
    }
    return !*pattern && !*path;
}

static void handle_http(struct wg_api *api, const struct wg_web_request *request)
{
    char id[256] = "";
    const struct route *route = NULL;
    bool path_known = false;
    for (size_t i = 0; i < sizeof routes / sizeof *routes && !route; i++) {
        if (!path_matches(routes[i].pattern, request->path, id, sizeof id))
            continue;
        path_known = true;
        if (strcmp(routes[i].method, request->method) == 0)
            route = &routes[i];
    }
    if (!route) {
        api_reply_error(api, request->id, path_known ? 405 : 404, NULL, "%s %s: %s",
                        request->method, request->path,
                        path_known ? "method not allowed" : "no such endpoint");
        return;
    }
    if (request->role < (int)route->role) {
        api_reply_error(api, request->id, 403, NULL, "%s %s needs the %s role; %s is %s",
                        request->method, request->path, role_name(route->role), request->username,
                        role_name((enum wg_role)request->role));
        return;
    }
    if (!route->query && request->query && request->query[0]) {
        api_reply_error(api, request->id, 400, NULL, "%s takes no query parameters", request->path);
        return;
    }
    switch (route->id) {
    case R_SNAPSHOT:
        api_reply_json(api, request->id, 200, api_snapshot_json(api, request));
        return;
    case R_ALARMS:
        api_reply_json(api, request->id, 200,
                       json_pack("{s:o*}", "alarms", api_active_alarms_json(api)));
        return;
    case R_ACK: {
        static const char *const none[] = {NULL};
        json_t *body = api_request_body_only(api, request, none);
        if (!body)
            return;
        json_decref(body);
        api_acknowledge(api, request, id, false);
        return;
    }
    case R_RESET:
        api_reset_remote(api, request, id);
        return;
    case R_DEVICES:
        api_reply_json(api, request->id, 200,
                       json_pack("{s:o*}", "devices", core_devices_json(api->core, true)));
        return;
    case R_DEVICE: {
        json_t *device = core_device_json(api->core, id);
        if (!device)
            api_reply_error(api, request->id, 404, NULL, "no device \"%s\"", id);
        else
            api_reply_json(api, request->id, 200, json_pack("{s:o}", "device", device));
        return;
    }
    case R_DEVICE_ADD:
        api_edit_config(api, request, WG_EDIT_DEVICE_ADD, NULL);
        return;
    case R_DEVICE_UPDATE:
        api_edit_config(api, request, WG_EDIT_DEVICE_UPDATE, id);
        return;
    case R_DEVICE_DELETE:
        api_edit_config(api, request, WG_EDIT_DEVICE_DELETE, id);
        return;
    case R_META:
        api_meta(api, request);
        return;
    case R_RESIDENTS:
        api_list_residents(api, request);
        return;
    case R_RESIDENT_ADD:
        api_edit_config(api, request, WG_EDIT_RESIDENT_ADD, NULL);
        return;
    case R_RESIDENT_UPDATE:
        api_edit_config(api, request, WG_EDIT_RESIDENT_UPDATE, id);
        return;
    case R_RESIDENT_DELETE:
        api_edit_config(api, request, WG_EDIT_RESIDENT_DELETE, id);
        return;
    case R_ROOM_BEDS:
        api_edit_config(api, request, WG_EDIT_ROOM_BEDS, id);
        return;
    case R_HISTORY:
        api_history(api, request);
        return;
    case R_REPORT:
        api_report(api, request);
        return;
    case R_AUDIT:
        api_audit_log(api, request);
        return;
    case R_TEST_MODES:
        api_reply_json(api, request->id, 200,
                       json_pack("{s:o}", "test_modes", api_test_modes_json(api)));
        return;
    case R_TEST_MODE_START:
        api_test_mode_start(api, request);
        return;
    case R_TEST_MODE_END:
        api_test_mode_end(api, request, id);
        return;
    case R_TEST_REPORT:
        api_test_report(api, request);
        return;
    case R_HANDOVER_ADD:
        api_handover_add(api, request);
        return;
    case R_DRILL_ADD:
        api_drill_add(api, request);
        return;
    case R_ROUNDS:
        api_rounds(api, request);
        return;
    case R_ROUND_CHECKIN:
        api_round_checkin(api, request);
        return;
    case R_ROUND_ROOMS:
        api_round_rooms(api, request);
        return;
    case R_ROUND_QR:
        api_round_qr(api, request, id);
        return;
    case R_MONTHLY:
        api_monthly_report(api, request);
        return;
    case R_PAGE_RECEIVED:
        api_page_answer(api, request, id, "received");
        return;
    case R_PAGE_ACCEPT:
        api_page_answer(api, request, id, "accept");
        return;
    case R_PAGE_DECLINE:
        api_page_answer(api, request, id, "decline");
        return;
    case R_STAFF:
        api_staff(api, request);
        return;
    case R_STAFF_CLAIM:
        api_staff_claim(api, request);
        return;
    case R_METRICS:
        api_metrics(api, request);
        return;
    }
}

static void handle(struct wg_api *api, const struct wg_web_request *request)
{
    switch (request->kind) {
    case WG_WEB_HTTP:
        handle_http(api, request);
        return;
    case WG_WEB_WS_SNAPSHOT:
        api_reply_json(api, request->id, 200, api_snapshot_json(api, request));
        return;
    case WG_WEB_WS_ACK:
        if (request->role < WG_ROLE_NURSE) {
            api_reply_json(api, request->id, 403,
                           json_pack("{s:s, s:I, s:b, s:s}", "type", "result", "ref",
                                     (json_int_t)request->ref, "ok", 0, "error",
                                     "acknowledging needs the nurse role"));
            return;
        }
        api_acknowledge(api, request, request->alarm_id, true);
        return;
    case WG_WEB_WS_PHONES:
        bridge_core_phones(api->core, request->username, (int)request->ref);
        return;
    }
}

static void requests_ready(void *ctx)
{
    struct wg_api *api = ctx;
    /* A bounded batch, so a flood of requests never starves the drivers' queue. */
    for (int i = 0; i < 64; i++) {
        struct wg_web_request *request = bridge_next_request(api->bridge);
        if (!request)
            return;
        handle(api, request);
        bridge_request_free(request);
    }
}

/* ---- life cycle ---- */

static size_t watched_fds(void *ctx, int *fds, size_t max)
{
    struct wg_api *api = ctx;
    size_t count = 0;
    if (count < max)
        fds[count++] = bridge_request_fd(api->bridge);
    if (count < max)
        fds[count++] = api->heartbeat_fd;
    return count;
}

static void fd_ready(void *ctx, int fd)
{
    struct wg_api *api = ctx;
    if (fd == api->heartbeat_fd)
        api_heartbeat(api);
    else
        requests_ready(api);
}

struct wg_api *api_new(struct wg_core *core, struct wg_web_bridge *bridge,
                       struct wg_query_service *queries)
{
    struct wg_api *api = calloc(1, sizeof *api);
    if (!api)
        return NULL;
    api->core = core;
    api->bridge = bridge;
    api->queries = queries;
    api->last_seq = bridge_core_last_seq(core);
    api->heartbeat_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    struct itimerspec period = {.it_interval = {HEARTBEAT_MS / 1000, 0},
                                .it_value = {HEARTBEAT_MS / 1000, 0}};
    if (api->heartbeat_fd < 0 || timerfd_settime(api->heartbeat_fd, 0, &period, NULL) != 0 ||
        bridge_core_attach(core,
                           &(struct wg_core_attachment){.name = "web",
                                                        .ctx = api,
                                                        .committed = api_on_event,
                                                        .unjournaled = api_on_event,
                                                        .fds = watched_fds,
                                                        .ready = fd_ready,
                                                        .paged = api_paged,
                                                        .staff_changed = api_staff_changed}) != 0) {
        wg_crit("web: cannot attach the API to the core: %s", strerror(errno));
        if (api->heartbeat_fd >= 0)
            close(api->heartbeat_fd);
        free(api);
        return NULL;
    }
    return api;
}

void api_free(struct wg_api *api)
{
    if (!api)
        return;
    api_edits_free(api);
    close(api->heartbeat_fd);
    free(api);
}
