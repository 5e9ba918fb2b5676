/* The test report as a query job (api_read.h): the journal's device_test
 * events of a period, counted per device, laid over the devices a test
 * covers (what the core listed, with names), so that the report shows the
 * devices never tested as plainly as the ones that were. */
#include "web/api_read.h"

#include <stdlib.h>
#include <string.h>

struct test_report_job {
    struct wg_query_job job; /* first: the service hands this back */
    struct wg_web_bridge *bridge;
    uint64_t request_id;
    int64_t from_ms, to_ms;
    json_t *devices;   /* [{id, label, room, ...}], owned */
    json_t *by_device; /* device id -> {tests, last_ms, kinds seen} */
    int64_t last_seq;  /* paging: the oldest seq of the page read */
    size_t page_rows;
    int64_t tests;
};

static int count_test(const struct wg_event_row *row, void *ctx)
{
    struct test_report_job *job = ctx;
    if (!row->device)
        return 0;
    json_t *seen = json_object_get(job->by_device, row->device);
    if (!seen) {
        /* newest first: the first row of a device is its last test */
        seen = json_pack("{s:i, s:I}", "tests", 0, "last_ms", (json_int_t)row->ts_ms);
        if (!seen || json_object_set_new(job->by_device, row->device, seen) != 0)
            return 0;
    }
    json_object_set_new(seen, "tests",
                        json_integer(json_integer_value(json_object_get(seen, "tests")) + 1));
    job->tests++;
    return 0;
}

/* Untested first, then by room and device: what needs doing on top. */
static int report_order(const void *a, const void *b)
{
    json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
    int tx = json_is_true(json_object_get(x, "tested")),
        ty = json_is_true(json_object_get(y, "tested"));
    if (tx != ty)
        return tx - ty;
    int room = strcmp(json_string_value(json_object_get(x, "room")),
                      json_string_value(json_object_get(y, "room")));
    return room ? room
                : strcmp(json_string_value(json_object_get(x, "id")),
                         json_string_value(json_object_get(y, "id")));
}

static json_t *finish(struct test_report_job *job)
{
    size_t count = json_array_size(job->devices), tested = 0;
    json_t **sorted = calloc(count ? count : 1, sizeof *sorted);
    if (!sorted)
        return NULL;
    for (size_t i = 0; i < count; i++) {
        json_t *device = json_array_get(job->devices, i);
        json_t *seen =
            json_object_get(job->by_device, json_string_value(json_object_get(device, "id")));
        json_object_set_new(device, "tests",
                            json_integer(json_integer_value(json_object_get(seen, "tests"))));
        json_object_set_new(device, "last_ms",
                            seen ? json_incref(json_object_get(seen, "last_ms")) : json_null());
        json_object_set_new(device, "tested", json_boolean(seen != NULL));
        tested += seen != NULL;
        sorted[i] = device;
    }
    qsort(sorted, count, sizeof *sorted, report_order);
    json_t *list = json_array();
    for (size_t i = 0; list && i < count; i++)
        json_array_append(list, sorted[i]);
    free(sorted);
    return json_pack("{s:I, s:I, s:I, s:I, s:I, s:o*}", "from_ms", (json_int_t)job->from_ms,
                     "to_ms", (json_int_t)job->to_ms, "devices_due", (json_int_t)count,
                     "devices_tested", (json_int_t)tested, "tests", (json_int_t)job->tests,
                     "devices", list);
}

static enum wg_query_step test_report_run(struct wg_query_job *base, struct wg_store_reader *reader)
{
    struct test_report_job *job = (struct test_report_job *)base;
    if (store_read_kind(reader, "device_test", job->from_ms, job->to_ms, count_test, job) != 0) {
        bridge_reply_error(job->bridge, job->request_id, 503, NULL, "test report: %s",
                           store_reader_error(reader));
        return WG_QUERY_DONE;
    }
    json_t *report = finish(job);
    if (!report)
        bridge_reply_error(job->bridge, job->request_id, 500, NULL, "out of memory");
    else
        bridge_reply_json(job->bridge, job->request_id, 200, report);
    return WG_QUERY_DONE;
}

static void test_report_free(struct wg_query_job *base)
{
    struct test_report_job *job = (struct test_report_job *)base;
    json_decref(job->devices);
    json_decref(job->by_device);
    free(job);
}

int api_read_test_report(struct wg_query_service *queries, struct wg_web_bridge *bridge,
                         uint64_t request_id, int64_t from_ms, int64_t to_ms, json_t *devices)
{
    struct test_report_job *job = calloc(1, sizeof *job);
    json_t *by_device = json_object();
    if (!job || !by_device) {
        free(job);
        json_decref(by_device);
        json_decref(devices);
        return -1;
    }
    *job = (struct test_report_job){.job = {.run = test_report_run, .free = test_report_free},
                                    .bridge = bridge,
                                    .request_id = request_id,
                                    .from_ms = from_ms,
                                    .to_ms = to_ms,
                                    .devices = devices,
                                    .by_device = by_device};
    return query_submit(queries, &job->job); /* on refusal it frees the job */
}
