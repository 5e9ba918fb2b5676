/* Response-time figures from the alarm journal: raise -> first acknowledge,
 * raise -> first attend, page -> accept, accept -> attend and raise -> reset
 * per shift, p50/p90 by nearest rank, long waits (see response.h and
 * docs/response.md). The journal is folded into one record per alarm by
 * response_journal.c; the per-carer and per-room tables are
 * response_breakdown.c's; the report goes out as JSON (response_json.c) and
 * as a printed table (response_print.c). */
#include "alarm/response_private.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/clock.h"
#include "store/store_read.h"

#define MINUTES_PER_DAY (24 * 60)

/* enum wg_priority (config.h), by level. */
static const char *const priority_names[PRIORITY_LEVELS] = {
    "advisory", "technical", "normal", "urgent", "emergency", "fire",
};

static const struct wg_shift default_shifts[] = {
    {"day", 7 * 60, 15 * 60},
    {"evening", 15 * 60, 23 * 60},
    {"night", 23 * 60, 7 * 60},
};

const struct wg_shift *response_default_shifts(size_t *count)
{
    *count = sizeof default_shifts / sizeof default_shifts[0];
    return default_shifts;
}

const char *response_outcome_name(enum wg_wait_outcome outcome)
{
    switch (outcome) {
    case WG_WAIT_ATTENDED_LATE:
        return "attended";
    case WG_WAIT_RESET_UNATTENDED:
        return "reset";
    case WG_WAIT_OPEN:
        return "open";
    }
    return "?";
}

const char *response_priority_name(int priority)
{
    return priority >= 0 && priority < PRIORITY_LEVELS ? priority_names[priority] : "unknown";
}

bool response_counted(const struct wg_response_report *report, const struct tracked *alarm)
{
    return alarm->priority >= 0 && alarm->priority < PRIORITY_LEVELS &&
           (report->priorities & WG_RESPONSE_PRIORITY(alarm->priority));
}

bool response_window_holds(int start_min, int end_min, int minute)
{
    return start_min == end_min || (start_min < end_min ? minute >= start_min && minute < end_min
                                                        : minute >= start_min || minute < end_min);
}

const char *response_shift_at(int64_t wall_ms)
{
    int minute = clock_minute_of_day(wall_ms);
    for (size_t i = 0; i < sizeof default_shifts / sizeof default_shifts[0]; i++)
        if (response_window_holds(default_shifts[i].start_min, default_shifts[i].end_min, minute))
            return default_shifts[i].name;
    return default_shifts[0].name;
}

static size_t shift_of(const struct wg_response_report *report, int64_t ms)
{
    time_t seconds = (time_t)(ms / 1000);
    struct tm local;
    if (!localtime_r(&seconds, &local))
        return WG_RESPONSE_NO_SHIFT;
    int minute = local.tm_hour * 60 + local.tm_min;
    for (size_t i = 0; i < report->shift_count; i++) {
        const struct wg_response_shift *shift = &report->shifts[i];
        if (response_window_holds(shift->start_min, shift->end_min, minute))
            return i;
    }
    return WG_RESPONSE_NO_SHIFT;
}

/* How long it waited, and whether that wait is a long one. */
static int64_t wait_of(const struct wg_response_report *report, const struct tracked *alarm,
                       enum wg_wait_outcome *outcome)
{
    int64_t end = report->to_ms;
    *outcome = WG_WAIT_OPEN;
    if (alarm->attend_ms) {
        end = alarm->attend_ms;
        *outcome = WG_WAIT_ATTENDED_LATE;
    } else if (alarm->reset_ms) {
        end = alarm->reset_ms;
        *outcome = WG_WAIT_RESET_UNATTENDED;
    }
    return end > alarm->raised_ms ? end - alarm->raised_ms : 0;
}

bool response_is_long_wait(const struct wg_response_report *report, const struct tracked *alarm)
{
    enum wg_wait_outcome outcome;
    return wait_of(report, alarm, &outcome) > report->long_wait_ms;
}

static void count_alarm(const struct wg_response_report *report, const struct tracked *alarm,
                        struct wg_response_figures *figures)
{
    figures->raised++;
    if (alarm->ack_ms)
        figures->acknowledged++;
    if (alarm->attend_ms)
        figures->attended++;
    else if (alarm->reset_ms)
        figures->reset_unattended++;
    else
        figures->open_unattended++;
    if (response_is_long_wait(report, alarm))
        figures->long_waits++;
    if (alarm->paged)
        figures->paged++;
    if (alarm->accepted_ms)
        figures->accepted++;
    if (alarm->reset_ms)
        figures->reset++;
}

/* to - from (0 if to came first); -1 when `to` never happened. */
static int64_t span(int64_t from, int64_t to)
{
    if (!to)
        return -1;
    return to > from ? to - from : 0;
}

int64_t response_measure(const struct tracked *alarm, enum measure measure)
{
    switch (measure) {
    case MEASURE_ACK:
        return span(alarm->raised_ms, alarm->ack_ms);
    case MEASURE_ATTEND:
        return span(alarm->raised_ms, alarm->attend_ms);
    case MEASURE_ACCEPT:
        return alarm->notified_ms ? span(alarm->notified_ms, alarm->accepted_ms) : -1;
    case MEASURE_ACCEPT_ATTEND:
        return alarm->accepted_ms ? span(alarm->accepted_ms, alarm->attend_ms) : -1;
    case MEASURE_RESET:
        return span(alarm->raised_ms, alarm->reset_ms);
    case MEASURE_OWN_ACCEPT:
        return alarm->accepter_notified_ms ? span(alarm->accepter_notified_ms, alarm->accepted_ms)
                                           : -1;
    }
    return -1;
}

static int compare_int64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

void response_sort_ms(int64_t *values, size_t n)
{
    qsort(values, n, sizeof *values, compare_int64);
}

/* Nearest rank: the value at rank ceil(p/100 * n) of the sorted values. */
double response_percentile_s(const int64_t *sorted, size_t n, unsigned p)
{
    if (n == 0)
        return -1;
    size_t rank = (p * n + 99) / 100;
    if (rank < 1)
        rank = 1;
    return (double)sorted[rank - 1] / 1000.0;
}

/* p50 and p90 of one measure over the alarms of one shift (`shift`), or of
 * all of them (all = true). */
static void rank_measure(const struct wg_response_report *report, const struct collector *c,
                         size_t shift, bool all, enum measure measure, int64_t *buffer, double *p50,
                         double *p90)
{
    size_t n = 0;
    for (size_t i = 0; i < c->count; i++) {
        const struct tracked *alarm = &c->alarms[i];
        if (!response_counted(report, alarm) || (!all && alarm->shift != shift))
            continue;
        int64_t ms = response_measure(alarm, measure);
        if (ms >= 0)
            buffer[n++] = ms;
    }
    response_sort_ms(buffer, n);
    *p50 = response_percentile_s(buffer, n, 50);
    *p90 = response_percentile_s(buffer, n, 90);
}

static void rank_group(const struct wg_response_report *report, const struct collector *c,
                       size_t shift, bool all, int64_t *buffer, struct wg_response_figures *f)
{
    rank_measure(report, c, shift, all, MEASURE_ACK, buffer, &f->ack_p50_s, &f->ack_p90_s);
    rank_measure(report, c, shift, all, MEASURE_ATTEND, buffer, &f->attend_p50_s, &f->attend_p90_s);
    rank_measure(report, c, shift, all, MEASURE_ACCEPT, buffer, &f->accept_p50_s, &f->accept_p90_s);
    rank_measure(report, c, shift, all, MEASURE_ACCEPT_ATTEND, buffer, &f->accept_attend_p50_s,
                 &f->accept_attend_p90_s);
    rank_measure(report, c, shift, all, MEASURE_RESET, buffer, &f->reset_p50_s, &f->reset_p90_s);
}

/* qsort context is not portable; long-wait candidates carry what they sort by. */
struct candidate {
    size_t index;
    int64_t raised_ms;
    int64_t wait_ms;
};

static int longest_first(const void *a, const void *b)
{
    const struct candidate *x = a, *y = b;
    if (x->wait_ms != y->wait_ms)
        return x->wait_ms < y->wait_ms ? 1 : -1;
    return (x->raised_ms > y->raised_ms) - (x->raised_ms < y->raised_ms);
}

static int earliest_first(const void *a, const void *b)
{
    const struct candidate *x = a, *y = b;
    if (x->raised_ms != y->raised_ms)
        return (x->raised_ms > y->raised_ms) - (x->raised_ms < y->raised_ms);
    return (x->index > y->index) - (x->index < y->index);
}

static void copy_text(char *out, const char *text)
{
    snprintf(out, WG_RESPONSE_TEXT, "%s", text);
}

static int list_long_waits(struct wg_response_report *report, const struct collector *c,
                           size_t max_list)
{
    struct candidate *candidates = malloc((c->count ? c->count : 1) * sizeof *candidates);
    if (!candidates)
        return -1;
    size_t n = 0;
    for (size_t i = 0; i < c->count; i++) {
        const struct tracked *alarm = &c->alarms[i];
        enum wg_wait_outcome outcome;
        int64_t wait = wait_of(report, alarm, &outcome);
        if (response_counted(report, alarm) && wait > report->long_wait_ms)
            candidates[n++] = (struct candidate){i, alarm->raised_ms, wait};
    }
    if (n > max_list) {
        qsort(candidates, n, sizeof *candidates, longest_first);
        n = max_list;
        report->long_waits_truncated = true;
    }
    qsort(candidates, n, sizeof *candidates, earliest_first);
    report->long_waits = n ? calloc(n, sizeof *report->long_waits) : NULL;
    if (n && !report->long_waits) {
        free(candidates);
        return -1;
    }
    for (size_t k = 0; k < n; k++) {
        const struct tracked *alarm = &c->alarms[candidates[k].index];
        struct wg_long_wait *wait = &report->long_waits[k];
        copy_text(wait->alarm_id, response_text_of(alarm, TEXT_ID));
        copy_text(wait->kind, response_text_of(alarm, TEXT_KIND));
        copy_text(wait->zone, response_text_of(alarm, TEXT_ZONE));
        copy_text(wait->room, response_text_of(alarm, TEXT_ROOM));
        copy_text(wait->bed, response_text_of(alarm, TEXT_BED));
        copy_text(wait->resident, response_text_of(alarm, TEXT_RESIDENT));
        wait->priority = alarm->priority;
        wait->shift = alarm->shift;
        wait->raised_ms = alarm->raised_ms;
        wait->acknowledged_ms = alarm->ack_ms;
        wait->attended_ms = alarm->attend_ms;
        wait->reset_ms = alarm->reset_ms;
        wait->wait_ms = wait_of(report, alarm, &wait->outcome);
    }
    report->long_wait_count = n;
    free(candidates);
    return 0;
}

static int set_options(struct wg_response_report *report, const struct wg_response_options *options,
                       char *err, size_t err_len)
{
    const struct wg_shift *shifts = options && options->shifts ? options->shifts : NULL;
    size_t shift_count = shifts ? options->shift_count : 0;
    if (!shifts)
        shifts = response_default_shifts(&shift_count);
    if (shift_count == 0 || shift_count > WG_RESPONSE_MAX_SHIFTS) {
        snprintf(err, err_len, "response figures: %zu shifts given (1 to %d allowed)", shift_count,
                 WG_RESPONSE_MAX_SHIFTS);
        return -1;
    }
    for (size_t i = 0; i < shift_count; i++) {
        const struct wg_shift *shift = &shifts[i];
        if (!shift->name || !shift->name[0] || strlen(shift->name) >= WG_RESPONSE_NAME ||
            shift->start_min < 0 || shift->start_min >= MINUTES_PER_DAY || shift->end_min < 0 ||
            shift->end_min >= MINUTES_PER_DAY) {
            snprintf(err, err_len,
                     "response figures: shift %zu needs a name of 1 to %d bytes and start and "
                     "end minutes in 0..1439",
                     i + 1, WG_RESPONSE_NAME - 1);
            return -1;
        }
        snprintf(report->shifts[i].name, WG_RESPONSE_NAME, "%s", shift->name);
        report->shifts[i].start_min = shift->start_min;
        report->shifts[i].end_min = shift->end_min;
    }
    report->shift_count = shift_count;
    report->priorities =
        options && options->priorities ? options->priorities : WG_RESPONSE_DEFAULT_PRIORITIES;
    report->long_wait_ms =
        options && options->long_wait_ms > 0 ? options->long_wait_ms : WG_RESPONSE_DEFAULT_WAIT;
    if (options && options->long_wait_ms < 0) {
        snprintf(err, err_len, "response figures: a negative long-wait threshold");
        return -1;
    }
    return 0;
}

int response_compute(struct wg_store_reader *reader, int64_t from_ms, int64_t to_ms,
                     const struct wg_response_options *options, struct wg_response_report *report,
                     char *err, size_t err_len)
{
    char ignored[8];
    if (!err || !err_len) {
        err = ignored;
        err_len = sizeof ignored;
    }
    err[0] = '\0';
    if (!report)
        return -1;
    *report = (struct wg_response_report){.from_ms = from_ms, .to_ms = to_ms};
    if (!reader || from_ms > to_ms) {
        snprintf(err, err_len, "response figures: %s",
                 reader ? "the window ends before it starts" : "no database");
        return -1;
    }
    if (set_options(report, options, err, err_len) < 0)
        return -1;
    size_t max_list =
        options && options->max_long_waits ? options->max_long_waits : WG_RESPONSE_DEFAULT_LIST;
    size_t max_carers =
        options && options->max_carers ? options->max_carers : WG_RESPONSE_DEFAULT_CARERS;
    size_t max_rooms =
        options && options->max_rooms ? options->max_rooms : WG_RESPONSE_DEFAULT_ROOMS;
    struct collector c = {
        .from_ms = from_ms,
        .to_ms = to_ms,
        .max_alarms =
            options && options->max_alarms ? options->max_alarms : WG_RESPONSE_DEFAULT_LIMIT,
    };
    int rc = store_read_alarm_events(reader, from_ms, to_ms, response_collect_row, &c);
    if (rc < 0)
        snprintf(err, err_len, "%s", store_reader_error(reader));
    else if (c.too_many)
        snprintf(err, err_len,
                 "response figures: more than %zu alarms raised in the window; choose a shorter "
                 "one",
                 c.max_alarms);
    else if (c.out_of_memory)
        snprintf(err, err_len, "response figures: out of memory after %zu alarms", c.count);
    if (rc < 0 || c.too_many || c.out_of_memory) {
        response_collector_free(&c);
        return -1;
    }
    report->skipped_rows = c.skipped_rows;

    for (size_t i = 0; i < c.count; i++) {
        struct tracked *alarm = &c.alarms[i];
        alarm->shift = shift_of(report, alarm->raised_ms);
        if (!response_counted(report, alarm))
            continue;
        count_alarm(report, alarm, &report->overall);
        if (alarm->shift == WG_RESPONSE_NO_SHIFT)
            report->unassigned++;
        else
            count_alarm(report, alarm, &report->shifts[alarm->shift].figures);
    }
    int64_t *buffer = malloc((c.count ? c.count : 1) * sizeof *buffer);
    if (!buffer || list_long_waits(report, &c, max_list) < 0 ||
        response_breakdowns(report, &c, max_carers, max_rooms, buffer) < 0) {
        snprintf(err, err_len, "response figures: out of memory");
        free(buffer);
        response_collector_free(&c);
        response_report_free(report);
        return -1;
    }
    rank_group(report, &c, WG_RESPONSE_NO_SHIFT, true, buffer, &report->overall);
    for (size_t s = 0; s < report->shift_count; s++)
        rank_group(report, &c, s, false, buffer, &report->shifts[s].figures);
    free(buffer);
    response_collector_free(&c);
    return 0;
}

void response_report_free(struct wg_response_report *report)
{
    if (!report)
        return;
    free(report->long_waits);
    report->long_waits = NULL;
    report->long_wait_count = 0;
    free(report->carers);
    report->carers = NULL;
    report->carer_count = 0;
    free(report->rooms);
    report->rooms = NULL;
    report->room_count = 0;
}
