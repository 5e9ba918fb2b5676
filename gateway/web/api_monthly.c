/* The monthly report in the API (docs/api.md): the month asked for checked
 * and turned into its first and last moment in the site's time (the
 * daemon's TZ is the site's zone), the devices a test covers copied on the
 * core thread, and the report worked out by a query worker from the
 * journal (alarm/monthly.h, through the bridge). */
#include "web/api_private.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct monthly_job {
    struct wg_query_job job; /* first: the service hands this back */
    struct wg_web_bridge *bridge;
    uint64_t request_id;
    char month[8];
    int64_t from_ms, to_ms;
    json_t *testable; /* owned */
};

static enum wg_query_step monthly_run(struct wg_query_job *base, struct wg_store_reader *reader)
{
    struct monthly_job *job = (struct monthly_job *)base;
    json_t *report = NULL;
    char err[256];
    if (bridge_monthly_report_json(reader, job->month, job->from_ms, job->to_ms, job->testable,
                                   &report, err, sizeof err) != 0)
        bridge_reply_error(job->bridge, job->request_id, 503, NULL, "monthly report: %s", err);
    else
        bridge_reply_json(job->bridge, job->request_id, 200, report);
    return WG_QUERY_DONE;
}

static void monthly_free(struct wg_query_job *base)
{
    struct monthly_job *job = (struct monthly_job *)base;
    json_decref(job->testable);
    free(job);
}

void api_monthly_report(struct wg_api *api, const struct wg_web_request *request)
{
    struct query_param params[] = {{"month", NULL}};
    char buffer[64];
    if (!api_request_query(api, request, buffer, sizeof buffer, params, 1))
        return;
    int year = 0, month = 0, used = 0;
    if (params[0].value && params[0].value[0]) {
        if (sscanf(params[0].value, "%4d-%2d%n", &year, &month, &used) != 2 || used != 7 ||
            year < 2000 || year > 2100 || month < 1 || month > 12) {
            api_reply_error(api, request->id, 400, "month",
                            "month: expected YYYY-MM, e.g. 2026-11");
            return;
        }
    } else {
        bridge_previous_month(bridge_core_now_ms(api->core), &year, &month);
    }
    struct monthly_job *job = calloc(1, sizeof *job);
    json_t *testable = bridge_core_testable_devices_json(api->core);
    if (!job || !testable) {
        free(job);
        json_decref(testable);
        api_reply_error(api, request->id, 503, NULL, "the gateway is out of memory");
        return;
    }
    *job = (struct monthly_job){.job = {.run = monthly_run, .free = monthly_free},
                                .bridge = api->bridge,
                                .request_id = request->id,
                                .from_ms = bridge_month_start_ms(year, month),
                                .to_ms = bridge_month_start_ms(year, month + 1),
                                .testable = testable};
    snprintf(job->month, sizeof job->month, "%04d-%02d", year, month);
    if (query_submit(api->queries, &job->job) != 0) /* it frees the job */
        api_reply_error(api, request->id, 503, NULL, "the gateway is stopping or busy");
}
