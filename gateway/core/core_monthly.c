/* The monthly report to the district (alarm/monthly.h): once a month has
 * ended, in the site's time, its report is worked out by a query worker
 * from the journal and recorded (core_record: a "monthly_report" event the
 * uplink sends as an event message, with an audit row in the hash chain).
 * The month last sent is read back from the journal at start, so a restart
 * neither repeats it nor skips it; a month whose report failed is tried
 * again an hour later. */
#include "core/core_private.h"

#include "alarm/monthly.h"
#include "store/query.h"

#define MONTHLY_RETRY_MS (3600LL * 1000)

struct monthly_job {
    struct wg_query_job job; /* first: the service hands this back */
    struct wg_core *core;
    char month[16];
    int64_t from_ms, to_ms;
    json_t *testable; /* owned */
    json_t *report;   /* the result (owned), NULL on failure */
    char err[256];
};

/* "YYYY-MM" of the month before the one holding now, and its bounds. */
static void previous_month(int64_t now_ms, char month[16], int64_t *from_ms, int64_t *to_ms)
{
    int year, mon;
    monthly_previous(now_ms, &year, &mon);
    *from_ms = monthly_start_ms(year, mon);
    *to_ms = monthly_start_ms(year, mon + 1);
    snprintf(month, 16, "%04d-%02d", year % 10000, mon % 100);
}

static enum wg_query_step monthly_run(struct wg_query_job *base, struct wg_store_reader *reader)
{
    struct monthly_job *job = (struct monthly_job *)base;
    if (monthly_compute(reader, job->month, job->from_ms, job->to_ms, job->testable, &job->report,
                        job->err, sizeof job->err) != 0)
        job->report = NULL;
    return WG_QUERY_DONE;
}

static bool monthly_done(struct wg_query_job *base)
{
    struct monthly_job *job = (struct monthly_job *)base;
    struct wg_core *core = job->core;
    core->monthly_running = false;
    if (!job->report) {
        wg_err("monthly report of %s: %s; tried again in an hour", job->month, job->err);
        return false;
    }
    json_t *report = job->report;
    job->report = NULL;
    if (core_record(core, "monthly_report", report, "wardgated", NULL, NULL) == 0) {
        snprintf(core->monthly_sent, sizeof core->monthly_sent, "%s", job->month);
        wg_notice("monthly report of %s recorded for the district", job->month);
    }
    return false;
}

static void monthly_free(struct wg_query_job *base)
{
    struct monthly_job *job = (struct monthly_job *)base;
    json_decref(job->testable);
    json_decref(job->report);
    free(job);
}

/* The devices a test covers, as monthly_compute wants them. */
static json_t *testable_devices(struct wg_core *core)
{
    json_t *list = json_array();
    for (size_t d = 0; list && d < core->config->device_count; d++)
        if (engine_device_test_kind(core->engine, d))
            json_array_append_new(list, json_pack("{s:s}", "id", core->config->devices[d].id));
    return list;
}

void core_monthly_tick(struct wg_core *core)
{
    int64_t now = clock_wall_ms(core->clock), mono = clock_mono_ms(core->clock);
    char month[16];
    int64_t from, to;
    previous_month(now, month, &from, &to);
    if (!core->queries || core->monthly_running || strcmp(month, core->monthly_sent) <= 0 ||
        (core->monthly_tried_ms && mono - core->monthly_tried_ms < MONTHLY_RETRY_MS))
        return;
    struct monthly_job *job = calloc(1, sizeof *job);
    json_t *testable = testable_devices(core);
    if (!job || !testable) {
        free(job);
        json_decref(testable);
        return;
    }
    *job = (struct monthly_job){
        .job = {.run = monthly_run, .done = monthly_done, .free = monthly_free},
        .core = core,
        .from_ms = from,
        .to_ms = to,
        .testable = testable};
    snprintf(job->month, sizeof job->month, "%s", month);
    core->monthly_tried_ms = mono;
    if (query_submit(core->queries, &job->job) == 0)
        core->monthly_running = true;
}

static int newest_month(const char *body_text, void *ctx)
{
    struct wg_core *core = ctx;
    json_t *body = json_loads(body_text, 0, NULL);
    const char *month = json_string_value(json_object_get(body, "month"));
    if (month && strlen(month) == 7 && strcmp(month, core->monthly_sent) > 0)
        snprintf(core->monthly_sent, sizeof core->monthly_sent, "%s", month);
    json_decref(body);
    return 0;
}

int core_restore_monthly(struct wg_core *core, struct wg_store *store)
{
    core->monthly_sent[0] = '\0';
    return store_events_of_kind(store, "monthly_report",
                                clock_wall_ms(core->clock) - 70LL * 86400000, newest_month, core);
}
