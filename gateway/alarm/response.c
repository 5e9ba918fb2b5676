/* Response-time figures from the alarm journal: raise -> first acknowledge
 * and raise -> first attend per shift, p50/p90 by nearest rank, long waits;
 * as a struct, as JSON and as a printed table. See response.h and
 * docs/response.md. */
#include "alarm/response.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "common/clock.h"
#include "store/store.h"
#include "store/store_read.h"

#define PRIORITY_LEVELS 6
#define MS_PER_DAY      (24LL * 3600 * 1000)
#define MINUTES_PER_DAY (24 * 60)
#define MIN_SLOTS       64

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

static const char *priority_name_of(int priority)
{
    return priority >= 0 && priority < PRIORITY_LEVELS ? priority_names[priority] : "unknown";
}

/* ---- folding the journal into one record per alarm ------------------- */

/* The text fields kept per alarm, NUL-separated in one allocation. */
enum text_field { TEXT_ID, TEXT_KIND, TEXT_ZONE, TEXT_ROOM, TEXT_BED, TEXT_RESIDENT, TEXT_FIELDS };
static const char *const text_keys[TEXT_FIELDS] = {"id", "kind", "zone", "room", "bed", "resident"};

/* One alarm raised in the window. Times are 0 until seen before to_ms. */
struct tracked {
    char *text;
    int64_t raised_ms;
    int64_t ack_ms;    /* the earliest acknowledged_ms seen: the first acknowledge */
    int64_t attend_ms; /* the earliest attended_ms seen */
    int64_t reset_ms;
    int priority; /* the highest level seen */
    size_t shift; /* set after the scan */
};

struct collector {
    int64_t from_ms, to_ms;
    size_t max_alarms;
    struct tracked *alarms;
    size_t count, capacity;
    size_t *slots; /* open addressing on the id: alarm index + 1, 0 = empty */
    size_t slot_count;
    int64_t skipped_rows;
    bool too_many;
    bool out_of_memory;
};

static const char *text_of(const struct tracked *alarm, enum text_field field)
{
    const char *text = alarm->text;
    for (int i = 0; i < (int)field; i++)
        text += strlen(text) + 1;
    return text;
}

static uint64_t hash_id(const char *id)
{
    uint64_t hash = 14695981039346656037ULL; /* FNV-1a */
    for (const unsigned char *c = (const unsigned char *)id; *c; c++)
        hash = (hash ^ *c) * 1099511628211ULL;
    return hash;
}

/* The slot holding `id`, or the empty slot where it would go. */
static size_t *slot_for(size_t *slots, size_t slot_count, const struct tracked *alarms,
                        const char *id)
{
    size_t mask = slot_count - 1;
    for (size_t i = (size_t)hash_id(id) & mask;; i = (i + 1) & mask) {
        if (slots[i] == 0 || strcmp(text_of(&alarms[slots[i] - 1], TEXT_ID), id) == 0)
            return &slots[i];
    }
}

/* Keeps the table at most half full. */
static int grow_slots(struct collector *c)
{
    if ((c->count + 1) * 2 <= c->slot_count)
        return 0;
    size_t slot_count = c->slot_count ? c->slot_count * 2 : MIN_SLOTS;
    size_t *slots = calloc(slot_count, sizeof *slots);
    if (!slots)
        return -1;
    for (size_t i = 0; i < c->count; i++)
        *slot_for(slots, slot_count, c->alarms, text_of(&c->alarms[i], TEXT_ID)) = i + 1;
    free(c->slots);
    c->slots = slots;
    c->slot_count = slot_count;
    return 0;
}

static const char *string_member(const json_t *body, const char *key)
{
    const char *value = json_string_value(json_object_get(body, key));
    return value ? value : "";
}

/* Text block of a new alarm: its id and the fields a long wait shows. */
static char *text_block(const json_t *body)
{
    size_t size = 0;
    for (int i = 0; i < TEXT_FIELDS; i++)
        size += strlen(string_member(body, text_keys[i])) + 1;
    char *text = malloc(size);
    if (!text)
        return NULL;
    char *at = text;
    for (int i = 0; i < TEXT_FIELDS; i++) {
        const char *value = string_member(body, text_keys[i]);
        size_t len = strlen(value) + 1;
        memcpy(at, value, len);
        at += len;
    }
    return text;
}

static struct tracked *find_or_add(struct collector *c, const char *id, const json_t *body,
                                   int64_t raised_ms)
{
    if (c->slot_count) {
        size_t *slot = slot_for(c->slots, c->slot_count, c->alarms, id);
        if (*slot)
            return &c->alarms[*slot - 1];
    }
    if (c->count >= c->max_alarms) {
        c->too_many = true;
        return NULL;
    }
    if (grow_slots(c) < 0)
        goto oom;
    if (c->count == c->capacity) {
        size_t capacity = c->capacity ? c->capacity * 2 : MIN_SLOTS;
        struct tracked *alarms = realloc(c->alarms, capacity * sizeof *alarms);
        if (!alarms)
            goto oom;
        c->alarms = alarms;
        c->capacity = capacity;
    }
    char *text = text_block(body);
    if (!text)
        goto oom;
    struct tracked *alarm = &c->alarms[c->count];
    *alarm = (struct tracked){.text = text, .raised_ms = raised_ms, .priority = -1};
    c->count++;
    *slot_for(c->slots, c->slot_count, c->alarms, id) = c->count;
    return alarm;
oom:
    c->out_of_memory = true;
    return NULL;
}

/* Keeps the earliest time of `key` seen before to_ms. */
static void fold_first(int64_t *kept, const json_t *body, const char *key, int64_t to_ms)
{
    const json_t *value = json_object_get(body, key);
    if (!json_is_integer(value))
        return;
    int64_t ms = json_integer_value(value);
    if (ms > 0 && ms < to_ms && (*kept == 0 || ms < *kept))
        *kept = ms;
}

static int collect_row(const struct wg_event_row *row, void *ctx)
{
    struct collector *c = ctx;
    json_t *body = row->body ? json_loads(row->body, 0, NULL) : NULL;
    const char *id = json_string_value(json_object_get(body, "id"));
    const json_t *raised = json_object_get(body, "raised_ms");
    if (!json_is_object(body) || !id || !id[0] || !json_is_integer(raised)) {
        c->skipped_rows++;
        json_decref(body);
        return 0;
    }
    int64_t raised_ms = json_integer_value(raised);
    if (raised_ms < c->from_ms || raised_ms >= c->to_ms) {
        json_decref(body); /* raised before the window: not counted */
        return 0;
    }
    struct tracked *alarm = find_or_add(c, id, body, raised_ms);
    if (!alarm) {
        json_decref(body);
        return 1; /* too many or out of memory: stop */
    }
    const json_t *level = json_object_get(body, "priority_level");
    int priority = json_is_integer(level) ? (int)json_integer_value(level) : row->priority;
    if (priority > alarm->priority)
        alarm->priority = priority;
    fold_first(&alarm->ack_ms, body, "acknowledged_ms", c->to_ms);
    fold_first(&alarm->attend_ms, body, "attended_ms", c->to_ms);
    fold_first(&alarm->reset_ms, body, "reset_ms", c->to_ms);
    json_decref(body);
    return 0;
}

static void collector_free(struct collector *c)
{
    for (size_t i = 0; i < c->count; i++)
        free(c->alarms[i].text);
    free(c->alarms);
    free(c->slots);
}

/* ---- figures ----------------------------------------------------------- */

static bool counted(const struct wg_response_report *report, const struct tracked *alarm)
{
    return alarm->priority >= 0 && alarm->priority < PRIORITY_LEVELS &&
           (report->priorities & WG_RESPONSE_PRIORITY(alarm->priority));
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
        bool inside = shift->start_min == shift->end_min ||
                      (shift->start_min < shift->end_min
                           ? minute >= shift->start_min && minute < shift->end_min
                           : minute >= shift->start_min || minute < shift->end_min);
        if (inside)
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

static bool is_long_wait(const struct wg_response_report *report, const struct tracked *alarm)
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
    if (is_long_wait(report, alarm))
        figures->long_waits++;
}

static int compare_int64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Nearest rank: the value at rank ceil(p/100 * n) of the sorted values. */
static double percentile_s(const int64_t *sorted, size_t n, unsigned p)
{
    if (n == 0)
        return -1;
    size_t rank = (p * n + 99) / 100;
    if (rank < 1)
        rank = 1;
    return (double)sorted[rank - 1] / 1000.0;
}

/* p50 and p90 of raise -> ack (or attend) for the alarms of one shift
 * (`shift`), or of all of them (WG_RESPONSE_NO_SHIFT with all = true). */
static void rank_group(const struct wg_response_report *report, const struct collector *c,
                       size_t shift, bool all, int64_t *buffer, struct wg_response_figures *figures)
{
    size_t acks = 0, attends = 0;
    for (size_t i = 0; i < c->count; i++) {
        const struct tracked *alarm = &c->alarms[i];
        if (!counted(report, alarm) || (!all && alarm->shift != shift) || !alarm->ack_ms)
            continue;
        buffer[acks++] = alarm->ack_ms > alarm->raised_ms ? alarm->ack_ms - alarm->raised_ms : 0;
    }
    qsort(buffer, acks, sizeof *buffer, compare_int64);
    figures->ack_p50_s = percentile_s(buffer, acks, 50);
    figures->ack_p90_s = percentile_s(buffer, acks, 90);
    for (size_t i = 0; i < c->count; i++) {
        const struct tracked *alarm = &c->alarms[i];
        if (!counted(report, alarm) || (!all && alarm->shift != shift) || !alarm->attend_ms)
            continue;
        buffer[attends++] =
            alarm->attend_ms > alarm->raised_ms ? alarm->attend_ms - alarm->raised_ms : 0;
    }
    qsort(buffer, attends, sizeof *buffer, compare_int64);
    figures->attend_p50_s = percentile_s(buffer, attends, 50);
    figures->attend_p90_s = percentile_s(buffer, attends, 90);
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
        if (counted(report, alarm) && wait > report->long_wait_ms)
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
        copy_text(wait->alarm_id, text_of(alarm, TEXT_ID));
        copy_text(wait->kind, text_of(alarm, TEXT_KIND));
        copy_text(wait->zone, text_of(alarm, TEXT_ZONE));
        copy_text(wait->room, text_of(alarm, TEXT_ROOM));
        copy_text(wait->bed, text_of(alarm, TEXT_BED));
        copy_text(wait->resident, text_of(alarm, TEXT_RESIDENT));
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
    struct collector c = {
        .from_ms = from_ms,
        .to_ms = to_ms,
        .max_alarms =
            options && options->max_alarms ? options->max_alarms : WG_RESPONSE_DEFAULT_LIMIT,
    };
    int rc = store_read_alarm_events(reader, from_ms, to_ms, collect_row, &c);
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
        collector_free(&c);
        return -1;
    }
    report->skipped_rows = c.skipped_rows;

    for (size_t i = 0; i < c.count; i++) {
        struct tracked *alarm = &c.alarms[i];
        alarm->shift = shift_of(report, alarm->raised_ms);
        if (!counted(report, alarm))
            continue;
        count_alarm(report, alarm, &report->overall);
        if (alarm->shift == WG_RESPONSE_NO_SHIFT)
            report->unassigned++;
        else
            count_alarm(report, alarm, &report->shifts[alarm->shift].figures);
    }
    int64_t *buffer = malloc((c.count ? c.count : 1) * sizeof *buffer);
    if (!buffer || list_long_waits(report, &c, max_list) < 0) {
        snprintf(err, err_len, "response figures: out of memory");
        free(buffer);
        collector_free(&c);
        response_report_free(report);
        return -1;
    }
    rank_group(report, &c, WG_RESPONSE_NO_SHIFT, true, buffer, &report->overall);
    for (size_t s = 0; s < report->shift_count; s++)
        rank_group(report, &c, s, false, buffer, &report->shifts[s].figures);
    free(buffer);
    collector_free(&c);
    return 0;
}

void response_report_free(struct wg_response_report *report)
{
    if (!report)
        return;
    free(report->long_waits);
    report->long_waits = NULL;
    report->long_wait_count = 0;
}

/* ---- JSON ---------------------------------------------------------------- */

/* Adds key: value (stealing value); remembers a failure in *ok. */
static void put(json_t *object, const char *key, json_t *value, bool *ok)
{
    if (!value || json_object_set_new(object, key, value) != 0)
        *ok = false;
}

static json_t *seconds_or_null(double seconds)
{
    return seconds < 0 ? json_null() : json_real(seconds);
}

static json_t *ms_or_null(int64_t ms)
{
    return ms ? json_integer(ms) : json_null();
}

static json_t *text_or_null(const char *text)
{
    return text[0] ? json_string(text) : json_null();
}

static json_t *local_time(int64_t ms)
{
    char text[64];
    clock_format_rfc3339(ms, true, text, sizeof text); /* the site's time, with its offset */
    return json_string(text);
}

static json_t *figures_json(const struct wg_response_figures *f, json_t *object)
{
    if (!object)
        return NULL;
    bool ok = true;
    put(object, "raised", json_integer(f->raised), &ok);
    put(object, "acknowledged", json_integer(f->acknowledged), &ok);
    put(object, "attended", json_integer(f->attended), &ok);
    put(object, "reset_unattended", json_integer(f->reset_unattended), &ok);
    put(object, "open_unattended", json_integer(f->open_unattended), &ok);
    put(object, "long_waits", json_integer(f->long_waits), &ok);
    put(object, "ack_p50_s", seconds_or_null(f->ack_p50_s), &ok);
    put(object, "ack_p90_s", seconds_or_null(f->ack_p90_s), &ok);
    put(object, "attend_p50_s", seconds_or_null(f->attend_p50_s), &ok);
    put(object, "attend_p90_s", seconds_or_null(f->attend_p90_s), &ok);
    if (!ok) {
        json_decref(object);
        return NULL;
    }
    return object;
}

static json_t *clock_text(int minute)
{
    char text[16];
    snprintf(text, sizeof text, "%02d:%02d", minute / 60, minute % 60);
    return json_string(text);
}

static json_t *shift_json(const struct wg_response_shift *shift)
{
    json_t *object = json_object();
    bool ok = object != NULL;
    if (ok) {
        put(object, "name", json_string(shift->name), &ok);
        put(object, "start", clock_text(shift->start_min), &ok);
        put(object, "end", clock_text(shift->end_min), &ok);
    }
    if (!ok) {
        json_decref(object);
        return NULL;
    }
    return figures_json(&shift->figures, object);
}

static json_t *long_wait_json(const struct wg_response_report *report,
                              const struct wg_long_wait *wait)
{
    json_t *object = json_object();
    if (!object)
        return NULL;
    bool ok = true;
    put(object, "alarm_id", json_string(wait->alarm_id), &ok);
    put(object, "raised_ms", json_integer(wait->raised_ms), &ok);
    put(object, "raised", local_time(wait->raised_ms), &ok);
    put(object, "shift",
        wait->shift == WG_RESPONSE_NO_SHIFT ? json_null()
                                            : json_string(report->shifts[wait->shift].name),
        &ok);
    put(object, "priority", json_string(priority_name_of(wait->priority)), &ok);
    put(object, "priority_level", json_integer(wait->priority), &ok);
    put(object, "kind", text_or_null(wait->kind), &ok);
    put(object, "zone", text_or_null(wait->zone), &ok);
    put(object, "room", text_or_null(wait->room), &ok);
    put(object, "bed", text_or_null(wait->bed), &ok);
    put(object, "resident", text_or_null(wait->resident), &ok);
    put(object, "acknowledged_ms", ms_or_null(wait->acknowledged_ms), &ok);
    put(object, "attended_ms", ms_or_null(wait->attended_ms), &ok);
    put(object, "reset_ms", ms_or_null(wait->reset_ms), &ok);
    put(object, "wait_s", json_real((double)wait->wait_ms / 1000.0), &ok);
    put(object, "outcome", json_string(response_outcome_name(wait->outcome)), &ok);
    if (!ok) {
        json_decref(object);
        return NULL;
    }
    return object;
}

static json_t *priorities_json(unsigned priorities)
{
    json_t *array = json_array();
    for (int p = 0; array && p < PRIORITY_LEVELS; p++)
        if ((priorities & WG_RESPONSE_PRIORITY(p)) &&
            json_array_append_new(array, json_string(priority_names[p])) != 0) {
            json_decref(array);
            return NULL;
        }
    return array;
}

json_t *response_report_to_json(const struct wg_response_report *report)
{
    json_t *root = json_object();
    json_t *shifts = json_array();
    json_t *waits = json_array();
    bool ok = root && shifts && waits;
    for (size_t i = 0; ok && i < report->shift_count; i++) {
        json_t *shift = shift_json(&report->shifts[i]);
        ok = shift && json_array_append_new(shifts, shift) == 0;
    }
    for (size_t i = 0; ok && i < report->long_wait_count; i++) {
        json_t *wait = long_wait_json(report, &report->long_waits[i]);
        ok = wait && json_array_append_new(waits, wait) == 0;
    }
    if (!ok) {
        json_decref(root);
        json_decref(shifts);
        json_decref(waits);
        return NULL;
    }
    put(root, "from_ms", json_integer(report->from_ms), &ok);
    put(root, "to_ms", json_integer(report->to_ms), &ok);
    put(root, "from", local_time(report->from_ms), &ok);
    put(root, "to", local_time(report->to_ms), &ok);
    put(root, "percentile", json_string("nearest-rank"), &ok);
    put(root, "long_wait_s", json_real((double)report->long_wait_ms / 1000.0), &ok);
    put(root, "priorities", priorities_json(report->priorities), &ok);
    put(root, "overall", figures_json(&report->overall, json_object()), &ok);
    put(root, "unassigned", json_integer(report->unassigned), &ok);
    put(root, "skipped_rows", json_integer(report->skipped_rows), &ok);
    put(root, "shifts", shifts, &ok);
    put(root, "long_waits", waits, &ok);
    put(root, "long_waits_truncated", json_boolean(report->long_waits_truncated), &ok);
    if (!ok) {
        json_decref(root);
        return NULL;
    }
    return root;
}

/* ---- printed table --------------------------------------------------------- */

/* m:ss, or h:mm:ss from an hour on; "-" when there is no value. */
static const char *duration_text(double seconds, char *out, size_t len)
{
    if (seconds < 0) {
        snprintf(out, len, "-");
        return out;
    }
    long long total = (long long)(seconds + 0.5);
    if (total >= 3600)
        snprintf(out, len, "%lld:%02lld:%02lld", total / 3600, total / 60 % 60, total % 60);
    else
        snprintf(out, len, "%lld:%02lld", total / 60, total % 60);
    return out;
}

static const char *minute_text(int64_t ms, char *out, size_t len)
{
    time_t seconds = (time_t)(ms / 1000);
    struct tm local;
    if (!localtime_r(&seconds, &local) || strftime(out, len, "%Y-%m-%d %H:%M", &local) == 0)
        snprintf(out, len, "?");
    return out;
}

static void print_figures(FILE *out, const char *name, const char *hours,
                          const struct wg_response_figures *f)
{
    char a50[32], a90[32], t50[32], t90[32];
    fprintf(
        out, "%-10s %-11s %6" PRId64 " %6" PRId64 " %8" PRId64 " %8s %8s %10s %10s %6" PRId64 "\n",
        name, hours, f->raised, f->acknowledged, f->attended,
        duration_text(f->ack_p50_s, a50, sizeof a50), duration_text(f->ack_p90_s, a90, sizeof a90),
        duration_text(f->attend_p50_s, t50, sizeof t50),
        duration_text(f->attend_p90_s, t90, sizeof t90), f->long_waits);
}

int response_report_print(const struct wg_response_report *report, FILE *out)
{
    char from[32], to[32], wait[32];
    fprintf(out, "Response times for calls and alarms raised %s to %s (local time)\n",
            minute_text(report->from_ms, from, sizeof from),
            minute_text(report->to_ms, to, sizeof to));
    fprintf(out, "Priorities counted:");
    for (int p = PRIORITY_LEVELS - 1; p >= 0; p--)
        if (report->priorities & WG_RESPONSE_PRIORITY(p))
            fprintf(out, " %s", priority_names[p]);
    fprintf(out, ". Percentiles by nearest rank; times in m:ss.\n\n");
    fprintf(out, "%-10s %-11s %6s %6s %8s %8s %8s %10s %10s %6s\n", "shift", "hours", "raised",
            "acked", "attended", "ack p50", "ack p90", "attend p50", "attend p90", "long");
    for (size_t i = 0; i < report->shift_count; i++) {
        const struct wg_response_shift *shift = &report->shifts[i];
        char hours[32];
        snprintf(hours, sizeof hours, "%02d:%02d-%02d:%02d", shift->start_min / 60,
                 shift->start_min % 60, shift->end_min / 60, shift->end_min % 60);
        print_figures(out, shift->name, hours, &shift->figures);
    }
    print_figures(out, "all", "", &report->overall);
    fprintf(out, "\nNot attended: %" PRId64 " reset without attendance, %" PRId64 " still open.\n",
            report->overall.reset_unattended, report->overall.open_unattended);
    if (report->unassigned)
        fprintf(out, "%" PRId64 " alarm(s) raised outside every shift (counted under all).\n",
                report->unassigned);
    if (report->skipped_rows)
        fprintf(out, "%" PRId64 " journal row(s) skipped: body is not an alarm record.\n",
                report->skipped_rows);

    fprintf(out,
            "\nLong waits (raise to attend over %s, or never attended and open that long): %" PRId64
            "%s\n",
            duration_text((double)report->long_wait_ms / 1000.0, wait, sizeof wait),
            report->overall.long_waits,
            report->long_waits_truncated ? " (the longest are listed)" : "");
    if (report->long_wait_count)
        fprintf(out, "%-16s %-8s %-8s %-8s %-12s %-9s %8s  %s\n", "raised", "shift", "room", "bed",
                "kind", "priority", "wait", "outcome");
    for (size_t i = 0; i < report->long_wait_count; i++) {
        const struct wg_long_wait *w = &report->long_waits[i];
        char raised[32], waited[32];
        fprintf(out, "%-16s %-8s %-8s %-8s %-12s %-9s %8s  %s\n",
                minute_text(w->raised_ms, raised, sizeof raised),
                w->shift == WG_RESPONSE_NO_SHIFT ? "-" : report->shifts[w->shift].name,
                w->room[0] ? w->room : "-", w->bed[0] ? w->bed : "-", w->kind[0] ? w->kind : "-",
                priority_name_of(w->priority),
                duration_text((double)w->wait_ms / 1000.0, waited, sizeof waited),
                response_outcome_name(w->outcome));
    }
    return ferror(out) ? -1 : 0;
}

/* ---- the command line ------------------------------------------------------ */

int response_report_main(const char *db_path, int days, FILE *out)
{
    struct stat st;
    if (!db_path || stat(db_path, &st) < 0) {
        fprintf(stderr, "wardgated: database %s: %s\n", db_path ? db_path : "(none)",
                db_path ? strerror(errno) : "no path given");
        return 1;
    }
    if (days < 1) {
        fprintf(stderr, "wardgated: --days must be at least 1\n");
        return 1;
    }
    struct wg_store_options options = {.path = db_path};
    enum wg_store_status status;
    char err[512];
    /* Opening the store migrates an older database; the report reads it
     * on a read-only connection, as the daemon does. */
    struct wg_store *store = store_open(&options, &status, err, sizeof err);
    if (!store) {
        fprintf(stderr, "wardgated: %s\n", err);
        return 1;
    }
    struct wg_store_reader *reader = store_reader_open(db_path, WG_READER_WAIT_MS, err, sizeof err);
    if (!reader) {
        store_close(store);
        fprintf(stderr, "wardgated: %s\n", err);
        return 1;
    }
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    int64_t to_ms = (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
    struct wg_response_report report;
    int rc =
        response_compute(reader, to_ms - days * MS_PER_DAY, to_ms, NULL, &report, err, sizeof err);
    store_reader_close(reader);
    store_close(store);
    if (rc < 0) {
        fprintf(stderr, "wardgated: %s\n", err);
        return 1;
    }
    rc = response_report_print(&report, out);
    response_report_free(&report);
    if (rc < 0 || fflush(out) != 0) {
        fprintf(stderr, "wardgated: cannot print the report: %s\n", strerror(errno));
        return 1;
    }
    return 0;
}
