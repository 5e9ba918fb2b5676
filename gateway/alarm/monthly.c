/* The monthly report (monthly.h): one pass over the month's alarm journal
 * (each alarm raised in the month, followed through its changes), the
 * month's round results and device tests, and the figures in one JSON
 * object (docs/schemas/monthly_report.json). */
#include "alarm/monthly.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/clock.h"
#include "config/config.h"

#define MAX_ALARMS 200000 /* in a month; more is refused, not cut */
#define MAX_FAULTS 200    /* listed (all are counted) */
#define WEEK_MS    (7LL * 86400000)

/* Upper limits, in seconds, of the response-time bands; the last band is open. */
static const int band_limits_s[] = {60, 180, 300, 600, 900, 1800};
#define BANDS (sizeof band_limits_s / sizeof band_limits_s[0] + 1)

struct tracked {
    int64_t raised_ms, acknowledged_ms, attended_ms, reset_ms;
    int priority;
    char kind[32];
    char risk[24];
    char bed[64];
    char device[64];
};

struct month {
    int64_t from_ms, to_ms;
    json_t *index; /* alarm id -> position in alarms */
    struct tracked *alarms;
    size_t count, capacity;
    bool too_many;
    /* rounds */
    int slots, complete, late, missed, rooms_planned, rooms_checked;
    /* tests: "device\x1fweek" -> true */
    json_t *tested;
    const json_t *testable;
};

int64_t monthly_start_ms(int year, int month)
{
    struct tm local = {.tm_year = year - 1900 + (month - 1) / 12,
                       .tm_mon = (month - 1) % 12,
                       .tm_mday = 1,
                       .tm_isdst = -1};
    return (int64_t)mktime(&local) * 1000;
}

void monthly_previous(int64_t now_ms, int *year, int *month)
{
    time_t now = (time_t)(now_ms / 1000);
    struct tm local = {0};
    localtime_r(&now, &local);
    *year = local.tm_year + 1900 - (local.tm_mon == 0);
    *month = local.tm_mon == 0 ? 12 : local.tm_mon;
}

static void copy(char *out, size_t len, const json_t *value)
{
    snprintf(out, len, "%s", json_is_string(value) ? json_string_value(value) : "");
}

static int64_t ms_of(const json_t *record, const char *key)
{
    const json_t *value = json_object_get(record, key);
    return json_is_integer(value) ? (int64_t)json_integer_value(value) : 0;
}

static int alarm_row(const struct wg_event_row *row, void *ctx)
{
    struct month *month = ctx;
    json_t *record = json_loads(row->body, 0, NULL);
    const char *id = json_string_value(json_object_get(record, "id"));
    const char *phase = json_string_value(json_object_get(record, "phase"));
    if (!id || !phase) {
        json_decref(record);
        return 0;
    }
    json_t *known = json_object_get(month->index, id);
    struct tracked *alarm = NULL;
    if (known) {
        alarm = &month->alarms[json_integer_value(known)];
    } else if (strcmp(phase, "raise") == 0 && ms_of(record, "raised_ms") >= month->from_ms &&
               ms_of(record, "raised_ms") < month->to_ms) {
        if (month->count == MAX_ALARMS) {
            month->too_many = true;
            json_decref(record);
            return 1;
        }
        if (month->count == month->capacity) {
            size_t capacity = month->capacity ? month->capacity * 2 : 1024;
            struct tracked *grown = realloc(month->alarms, capacity * sizeof *grown);
            if (!grown) {
                json_decref(record);
                return 1;
            }
            month->alarms = grown;
            month->capacity = capacity;
        }
        alarm = &month->alarms[month->count];
        *alarm = (struct tracked){.raised_ms = ms_of(record, "raised_ms"),
                                  .priority = (int)ms_of(record, "priority_level")};
        copy(alarm->kind, sizeof alarm->kind, json_object_get(record, "kind"));
        copy(alarm->risk, sizeof alarm->risk, json_object_get(record, "risk"));
        copy(alarm->bed, sizeof alarm->bed, json_object_get(record, "bed"));
        copy(alarm->device, sizeof alarm->device, json_object_get(record, "device"));
        json_object_set_new(month->index, id, json_integer((json_int_t)month->count++));
    }
    if (alarm) {
        /* The record carries every time so far; the first of each counts. */
        if (!alarm->acknowledged_ms)
            alarm->acknowledged_ms = ms_of(record, "acknowledged_ms");
        if (!alarm->attended_ms)
            alarm->attended_ms = ms_of(record, "attended_ms");
        if (!alarm->reset_ms)
            alarm->reset_ms = ms_of(record, "reset_ms");
    }
    json_decref(record);
    return 0;
}

static int round_row(const struct wg_event_row *row, void *ctx)
{
    struct month *month = ctx;
    json_t *body = json_loads(row->body, 0, NULL);
    const char *status = json_string_value(json_object_get(body, "status"));
    if (status) {
        month->slots++;
        month->complete += strcmp(status, "complete") == 0;
        month->late += strcmp(status, "late") == 0;
        month->missed += strcmp(status, "missed") == 0;
        month->rooms_planned += (int)ms_of(body, "planned");
        month->rooms_checked += (int)ms_of(body, "done");
    }
    json_decref(body);
    return 0;
}

static int test_row(const struct wg_event_row *row, void *ctx)
{
    struct month *month = ctx;
    if (!row->device)
        return 0;
    char key[160];
    snprintf(key, sizeof key, "%s\x1f%lld", row->device,
             (long long)((row->ts_ms - month->from_ms) / WEEK_MS));
    json_object_set_new(month->tested, key, json_true());
    return 0;
}

static int by_value(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* {count, p50_s, p90_s, bands: [...]} of the waits (ms), which it sorts. */
static json_t *distribution(int64_t *waits, size_t count)
{
    json_t *bands = json_array();
    size_t in_band[BANDS] = {0};
    for (size_t i = 0; i < count; i++) {
        size_t b = 0;
        while (b < BANDS - 1 && waits[i] > band_limits_s[b] * 1000LL)
            b++;
        in_band[b]++;
    }
    for (size_t b = 0; bands && b < BANDS; b++)
        json_array_append_new(bands, json_integer((json_int_t)in_band[b]));
    qsort(waits, count, sizeof *waits, by_value);
    json_t *p50 = count ? json_real((double)waits[(count - 1) / 2] / 1000.0) : json_null();
    json_t *p90 = count ? json_real((double)waits[(count * 9 - 1) / 10] / 1000.0) : json_null();
    return json_pack("{s:I, s:o, s:o, s:o}", "count", (json_int_t)count, "p50_s", p50, "p90_s", p90,
                     "bands", bands);
}

static bool is_call(const struct tracked *alarm)
{
    return alarm->priority >= WG_PRIO_NORMAL && alarm->priority <= WG_PRIO_EMERGENCY;
}

static json_t *response_json(const struct month *month)
{
    int64_t *waits = malloc((month->count ? month->count : 1) * sizeof *waits);
    if (!waits)
        return NULL;
    json_t *limits = json_array();
    for (size_t b = 0; limits && b < BANDS - 1; b++)
        json_array_append_new(limits, json_integer(band_limits_s[b]));
    json_t *response = json_pack("{s:o*}", "band_limits_s", limits);
    static const char *const steps[] = {"acknowledge", "attend", "reset"};
    size_t calls = 0;
    for (size_t s = 0; response && s < 3; s++) {
        size_t n = 0;
        for (size_t i = 0; i < month->count; i++) {
            const struct tracked *alarm = &month->alarms[i];
            if (!is_call(alarm))
                continue;
            calls += s == 0;
            int64_t at = s == 0   ? alarm->acknowledged_ms
                         : s == 1 ? alarm->attended_ms
                                  : alarm->reset_ms;
            if (at >= alarm->raised_ms && at)
                waits[n++] = at - alarm->raised_ms;
        }
        json_object_set_new(response, steps[s], distribution(waits, n));
    }
    free(waits);
    if (response)
        json_object_set_new(response, "calls", json_integer((json_int_t)calls));
    return response;
}

static json_t *hours_json(const struct month *month)
{
    int hours[24] = {0};
    for (size_t i = 0; i < month->count; i++)
        if (is_call(&month->alarms[i]))
            hours[clock_minute_of_day(month->alarms[i].raised_ms) / 60 % 24]++;
    json_t *list = json_array();
    for (int h = 0; list && h < 24; h++)
        json_array_append_new(list, json_integer(hours[h]));
    return list;
}

static json_t *risks_json(const struct month *month)
{
    json_t *risks = json_object();
    for (size_t i = 0; risks && i < month->count; i++) {
        const char *risk = month->alarms[i].risk;
        if (!risk[0])
            continue;
        json_object_set_new(risks, risk,
                            json_integer(json_integer_value(json_object_get(risks, risk)) + 1));
    }
    return risks;
}

/* Per bed: bed exits, and those the resident ended before anyone came. */
static json_t *bed_exits_json(const struct month *month)
{
    json_t *beds = json_object();
    for (size_t i = 0; beds && i < month->count; i++) {
        const struct tracked *alarm = &month->alarms[i];
        if (strcmp(alarm->kind, "bed_exit") != 0)
            continue;
        const char *bed = alarm->bed[0] ? alarm->bed : alarm->device;
        json_t *entry = json_object_get(beds, bed);
        if (!entry) {
            entry = json_pack("{s:s, s:i, s:i}", "bed", bed, "total", 0, "nuisance", 0);
            json_object_set_new(beds, bed, entry);
        }
        json_object_set_new(entry, "total",
                            json_integer(json_integer_value(json_object_get(entry, "total")) + 1));
        if (alarm->reset_ms && !alarm->attended_ms)
            json_object_set_new(
                entry, "nuisance",
                json_integer(json_integer_value(json_object_get(entry, "nuisance")) + 1));
    }
    json_t *list = json_array();
    const char *key;
    json_t *entry;
    json_object_foreach(beds, key, entry) json_array_append(list, entry);
    json_decref(beds);
    return list;
}

static int by_open_time(const void *a, const void *b)
{
    const json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
    json_int_t dx = json_integer_value(json_object_get(x, "open_s"));
    json_int_t dy = json_integer_value(json_object_get(y, "open_s"));
    return (dy > dx) - (dy < dx);
}

/* {count, open_hours, longest: [{device, kind, raised_ms, reset_ms, open_s}]}. */
static json_t *faults_json(const struct month *month)
{
    size_t count = 0;
    for (size_t i = 0; i < month->count; i++)
        count += month->alarms[i].priority == WG_PRIO_TECHNICAL;
    json_t **faults = calloc(count ? count : 1, sizeof *faults);
    if (!faults)
        return NULL;
    double hours = 0;
    size_t n = 0;
    for (size_t i = 0; i < month->count; i++) {
        const struct tracked *alarm = &month->alarms[i];
        if (alarm->priority != WG_PRIO_TECHNICAL)
            continue;
        int64_t end = alarm->reset_ms ? alarm->reset_ms : month->to_ms;
        hours += (double)(end - alarm->raised_ms) / 3600000.0;
        faults[n++] = json_pack("{s:s, s:s, s:I, s:o, s:I}", "device", alarm->device, "kind",
                                alarm->kind, "raised_ms", (json_int_t)alarm->raised_ms, "reset_ms",
                                alarm->reset_ms ? json_integer(alarm->reset_ms) : json_null(),
                                "open_s", (json_int_t)((end - alarm->raised_ms) / 1000));
    }
    qsort(faults, n, sizeof *faults, by_open_time);
    json_t *list = json_array();
    for (size_t i = 0; i < n; i++) {
        if (list && i < MAX_FAULTS && faults[i])
            json_array_append_new(list, faults[i]);
        else
            json_decref(faults[i]);
    }
    free(faults);
    return json_pack("{s:I, s:f, s:o*}", "count", (json_int_t)count, "open_hours", hours, "longest",
                     list);
}

static json_t *tests_json(const struct month *month)
{
    int64_t weeks = (month->to_ms - month->from_ms + WEEK_MS - 1) / WEEK_MS;
    size_t devices = json_array_size(month->testable), done = 0;
    for (size_t d = 0; d < devices; d++) {
        const char *id =
            json_string_value(json_object_get(json_array_get(month->testable, d), "id"));
        for (int64_t w = 0; id && w < weeks; w++) {
            char key[160];
            snprintf(key, sizeof key, "%s\x1f%lld", id, (long long)w);
            done += json_object_get(month->tested, key) != NULL;
        }
    }
    return json_pack("{s:I, s:I, s:I, s:I}", "devices", (json_int_t)devices, "weeks",
                     (json_int_t)weeks, "due", (json_int_t)(devices * (size_t)weeks), "done",
                     (json_int_t)done);
}

int monthly_compute(struct wg_store_reader *reader, const char *month_name, int64_t from_ms,
                    int64_t to_ms, const json_t *testable, json_t **report, char *err,
                    size_t err_len)
{
    struct month month = {.from_ms = from_ms,
                          .to_ms = to_ms,
                          .index = json_object(),
                          .tested = json_object(),
                          .testable = testable};
    *report = NULL;
    int rc = -1;
    if (!month.index || !month.tested) {
        snprintf(err, err_len, "out of memory");
    } else if (store_read_alarm_events(reader, from_ms, to_ms, alarm_row, &month) != 0 ||
               store_read_kind(reader, "round", from_ms, to_ms, round_row, &month) != 0 ||
               store_read_kind(reader, "device_test", from_ms, to_ms, test_row, &month) != 0) {
        snprintf(err, err_len, "%s", store_reader_error(reader));
    } else if (month.too_many) {
        snprintf(err, err_len, "more than %d alarms were raised in %s: too many to report",
                 MAX_ALARMS, month_name);
    } else {
        *report = json_pack(
            "{s:s, s:s, s:I, s:I, s:I, s:o*, s:o*, s:o*, s:o*, s:o*, "
            "s:{s:i, s:i, s:i, s:i, s:i, s:i}, s:o*}",
            "schema", WG_MONTHLY_SCHEMA, "month", month_name, "from_ms", (json_int_t)from_ms,
            "to_ms", (json_int_t)to_ms, "alarms", (json_int_t)month.count, "calls_by_hour",
            hours_json(&month), "response", response_json(&month), "alarms_by_risk",
            risks_json(&month), "bed_exits", bed_exits_json(&month), "device_faults",
            faults_json(&month), "rounds", "slots", month.slots, "complete", month.complete, "late",
            month.late, "missed", month.missed, "rooms_planned", month.rooms_planned,
            "rooms_checked", month.rooms_checked, "tests", tests_json(&month));
        if (*report)
            rc = 0;
        else
            snprintf(err, err_len, "out of memory");
    }
    json_decref(month.index);
    json_decref(month.tested);
    free(month.alarms);
    return rc;
}
