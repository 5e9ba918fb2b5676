/* History, the response report and the audit log: the parameters checked on
 * the core thread, the reading handed to the query workers (api_read.h). */
#include "web/api_private.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- history, report, audit: answered on the query workers ---- */

static bool known_kind(const char *kind)
{
    for (size_t i = 0; wg_event_kinds[i]; i++)
        if (strcmp(wg_event_kinds[i], kind) == 0)
            return true;
    return false;
}

static void refused_by_workers(struct wg_api *api, const struct wg_web_request *request, bool csv)
{
    if (csv)
        api_reply_error(api, request->id, 503, NULL,
                        "%d CSV exports are running already; try again when one has finished",
                        WG_EXPORTS_AT_ONCE);
    else
        api_reply_error(api, request->id, 503, NULL, "the gateway is stopping or out of memory");
}

void api_history(struct wg_api *api, const struct wg_web_request *request)
{
    struct query_param params[] = {{"from", NULL},     {"to", NULL},           {"kind", NULL},
                                   {"priority", NULL}, {"room", NULL},         {"device", NULL},
                                   {"alarm", NULL},    {"before", NULL},       {"limit", NULL},
                                   {"format", NULL},   {"write_results", NULL}};
    enum {
        P_FROM,
        P_TO,
        P_KIND,
        P_PRIORITY,
        P_ROOM,
        P_DEVICE,
        P_ALARM,
        P_BEFORE,
        P_LIMIT,
        P_FORMAT,
        P_WRITE_RESULTS
    };
    char buffer[2048];
    if (!api_request_query(api, request, buffer, sizeof buffer, params,
                           sizeof params / sizeof *params))
        return;
    long long from = 0, to = 0, before = 0, limit = 200, write_results = 0;
    if (!api_request_int(api, request->id, &params[P_FROM], 0, INT64_MAX, &from) ||
        !api_request_int(api, request->id, &params[P_TO], 0, INT64_MAX, &to) ||
        !api_request_int(api, request->id, &params[P_BEFORE], 0, INT64_MAX, &before) ||
        !api_request_int(api, request->id, &params[P_LIMIT], 1, HISTORY_MAX_LIMIT, &limit) ||
        !api_request_int(api, request->id, &params[P_WRITE_RESULTS], 0, 1, &write_results))
        return;
    if (from && to && from >= to) {
        api_reply_error(api, request->id, 400, "from", "from must be before to");
        return;
    }
    int min_priority = -1;
    if (params[P_PRIORITY].value && params[P_PRIORITY].value[0]) {
        min_priority = priority_from_name(params[P_PRIORITY].value);
        if (min_priority < 0) {
            api_reply_error(api, request->id, 400, "priority",
                            "priority: expected fire, emergency, urgent, normal, technical or "
                            "advisory");
            return;
        }
    }
    const char *kind = params[P_KIND].value;
    if (kind && kind[0] && !known_kind(kind)) {
        api_reply_error(api, request->id, 400, "kind",
                        "kind: expected alarm, point, device_health, write_result, telemetry, "
                        "system, test_mode, device_test, handover, drill, round, round_checkin or "
                        "monthly_report");
        return;
    }
    bool csv = false;
    if (params[P_FORMAT].value) {
        csv = strcmp(params[P_FORMAT].value, "csv") == 0;
        if (!csv && strcmp(params[P_FORMAT].value, "json") != 0) {
            api_reply_error(api, request->id, 400, "format", "format: expected json or csv");
            return;
        }
    }
#define EMPTY_NULL(i) (params[i].value && params[i].value[0] ? params[i].value : NULL)
    /* A CSV export is every matching row: limit and paging do not apply. */
    struct wg_event_filter filter = {.from_ms = from,
                                     .to_ms = to,
                                     .kind = EMPTY_NULL(P_KIND),
                                     .room = EMPTY_NULL(P_ROOM),
                                     .device = EMPTY_NULL(P_DEVICE),
                                     .alarm_id = EMPTY_NULL(P_ALARM),
                                     .min_priority = min_priority,
                                     .write_results = write_results == 1,
                                     .before_seq = csv ? 0 : before,
                                     .limit = csv ? 0 : (int)limit};
#undef EMPTY_NULL
    if (api_read_history(api->queries, api->bridge, request->id, &filter, csv,
                         labels_of(bridge_core_config(api->core))) != 0)
        refused_by_workers(api, request, csv);
}

void api_report(struct wg_api *api, const struct wg_web_request *request)
{
    int64_t from, to;
    if (api_request_period(api, request, &from, &to) &&
        api_read_report(api->queries, api->bridge, request->id, from, to) != 0)
        refused_by_workers(api, request, false);
}

void api_audit_log(struct wg_api *api, const struct wg_web_request *request)
{
    struct query_param params[] = {{"before", NULL}, {"limit", NULL}};
    char buffer[256];
    if (!api_request_query(api, request, buffer, sizeof buffer, params, 2))
        return;
    long long before = 0, limit = 200;
    if (!api_request_int(api, request->id, &params[0], 0, INT64_MAX, &before) ||
        !api_request_int(api, request->id, &params[1], 1, HISTORY_MAX_LIMIT, &limit))
        return;
    if (api_read_audit(api->queries, api->bridge, request->id, before, (int)limit) != 0)
        refused_by_workers(api, request, false);
}
