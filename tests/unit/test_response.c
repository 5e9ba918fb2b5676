/* Unit tests for gateway/alarm/response.c: response-time figures from a journal
 * written through the store, as the alarm engine writes it (one row per
 * phase, the full record in the body). TZ=UTC so shifts are deterministic. */
#include "testutil.h"

#include <jansson.h>
#include <sqlite3.h>
#include <time.h>

#include "common/event.h"
#include "common/log.h"
#include "alarm/response.h"
#include "store/store.h"
#include "store/store_read.h"

#define SEC  1000LL
#define MIN  (60 * SEC)
#define HOUR (60 * MIN)
#define DAY  (24 * HOUR)
/* 2024-05-01T00:00:00Z */
#define DAY0 1714521600000LL

struct fixture {
    char *dir;
    char *path;
    struct wg_store *store;
    struct wg_store_reader *reader; /* the daemon reads on a connection of its own */
};

/* One alarm's life. Times are absolute ms; 0 = that phase never happens. */
struct life {
    const char *id;
    int priority;
    const char *kind;
    const char *room;
    const char *bed;
    int64_t raised;
    int64_t ack;    /* first acknowledge */
    int64_t reack;  /* re-annunciated at reack - 60 s, acknowledged again at reack */
    int64_t attend; /* presence logged */
    int64_t reset;
};

static const char *const priority_names[] = {"advisory", "technical", "normal",
                                             "urgent",   "emergency", "fire"};

static json_t *ms_or_null(int64_t ms)
{
    return ms ? json_integer(ms) : json_null();
}

/* The full alarm record as of `phase`, with the times known by then. */
static char *record(const struct life *a, const char *phase, const char *state, int64_t update,
                    int64_t ack_ms, int64_t attend_ms, int64_t reset_ms, int reannunciations)
{
    json_t *r = json_object();
    json_object_set_new(r, "id", json_string(a->id));
    json_object_set_new(r, "update", json_integer(update));
    json_object_set_new(r, "phase", json_string(phase));
    json_object_set_new(r, "state", json_string(state));
    json_object_set_new(r, "priority", json_string(priority_names[a->priority]));
    json_object_set_new(r, "priority_level", json_integer(a->priority));
    json_object_set_new(r, "kind", json_string(a->kind));
    json_object_set_new(r, "risk", json_null());
    json_object_set_new(r, "rule", json_string("r1"));
    json_object_set_new(r, "device", json_string("dev-1"));
    json_object_set_new(r, "point", json_string("p"));
    json_object_set_new(r, "zone", json_string("east"));
    json_object_set_new(r, "room", json_string(a->room));
    json_object_set_new(r, "bed", json_string(a->bed));
    json_object_set_new(r, "resident", json_string("R-1"));
    json_object_set_new(r, "detail", json_string(""));
    json_object_set_new(r, "reset_mode", json_string("origin"));
    json_object_set_new(r, "condition_active", json_boolean(reset_ms == 0));
    json_object_set_new(r, "raised_ms", json_integer(a->raised));
    json_object_set_new(r, "acknowledged_ms", ms_or_null(ack_ms));
    json_object_set_new(r, "acknowledged_by", ack_ms ? json_string("nurse") : json_null());
    json_object_set_new(r, "acknowledged_from", ack_ms ? json_string("station") : json_null());
    json_object_set_new(r, "attended_ms", ms_or_null(attend_ms));
    json_object_set_new(r, "reset_ms", ms_or_null(reset_ms));
    json_object_set_new(r, "reset_by", reset_ms ? json_string("presence") : json_null());
    json_object_set_new(r, "reset_from", reset_ms ? json_string("room") : json_null());
    json_object_set_new(r, "escalation_level", json_integer(0));
    json_object_set_new(r, "escalations", json_array());
    json_object_set_new(r, "reannunciations", json_integer(reannunciations));
    char *text = json_dumps(r, JSON_COMPACT);
    json_decref(r);
    assert_non_null(text);
    return text;
}

static void append(struct wg_store *store, const struct life *a, int64_t ts, char *body)
{
    struct wg_event event = {
        .ts_ms = ts,
        .kind = "alarm",
        .priority = a->priority,
        .alarm_id = a->id,
        .device = "dev-1",
        .zone = "east",
        .room = a->room,
        .bed = a->bed,
        .resident = "R-1",
        .body = body,
        .uplink = WG_UPLINK_NONE,
    };
    event_new_id(&event);
    assert_int_equal(store_append_event(store, &event), 0);
    free(body);
}

/* Journals the rows the alarm engine would write for this life. */
static void journal(struct wg_store *store, const struct life *a)
{
    int64_t update = 1, ack = 0, attend = 0;
    int reann = 0;
    assert_int_equal(store_begin(store), 0);
    append(store, a, a->raised, record(a, "raise", "raised", update++, 0, 0, 0, 0));
    if (a->ack) {
        ack = a->ack;
        append(store, a, ack, record(a, "ack", "acknowledged", update++, ack, 0, 0, reann));
    }
    if (a->reack) {
        reann++;
        append(store, a, a->reack - MIN,
               record(a, "reannunciate", "acknowledged", update++, ack, 0, 0, reann));
        ack = a->reack; /* the engine overwrites acknowledged_ms */
        append(store, a, a->reack, record(a, "ack", "acknowledged", update++, ack, 0, 0, reann));
    }
    if (a->attend) {
        attend = a->attend;
        append(store, a, attend, record(a, "attend", "attended", update++, ack, attend, 0, reann));
    }
    if (a->reset)
        append(store, a, a->reset,
               record(a, "reset", "reset", update++, ack, attend, a->reset, reann));
    assert_int_equal(store_commit(store), 0);
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    f->dir = test_tmpdir();
    assert_non_null(f->dir);
    assert_true(asprintf(&f->path, "%s/wg.db", f->dir) > 0);
    struct wg_store_options options = {.path = f->path};
    char err[256];
    f->store = store_open(&options, NULL, err, sizeof err);
    if (!f->store)
        fail_msg("store_open: %s", err);
    f->reader = store_reader_open(f->path, WG_READER_WAIT_MS, err, sizeof err);
    if (!f->reader)
        fail_msg("store_reader_open: %s", err);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    store_reader_close(f->reader);
    store_close(f->store);
    test_rmtree(f->dir);
    free(f->dir);
    free(f->path);
    free(f);
    return 0;
}

static void compute(struct fixture *f, int64_t from, int64_t to,
                    const struct wg_response_options *options, struct wg_response_report *report)
{
    char err[256];
    if (response_compute(f->reader, from, to, options, report, err, sizeof err) != 0)
        fail_msg("response_compute: %s", err);
}

static const struct wg_response_shift *shift_named(const struct wg_response_report *report,
                                                   const char *name)
{
    for (size_t i = 0; i < report->shift_count; i++)
        if (strcmp(report->shifts[i].name, name) == 0)
            return &report->shifts[i];
    fail_msg("no shift %s", name);
    return NULL;
}

/* ---- tests ------------------------------------------------------------- */

static void no_scan(const char *sql, const char *step, void *ctx)
{
    (void)sql;
    int *scans = ctx;
    if (strstr(step, "SCAN") || strstr(step, "TEMP B-TREE"))
        (*scans)++;
    print_message("# plan: %s\n", step);
}

/* The alarm journal by time is read through indexes, without sorting. */
static void test_alarm_journal_indexed(void **state)
{
    struct fixture *f = *state;
    int scans = 0;
    assert_int_equal(store_read_alarm_plan(f->reader, no_scan, &scans), 0);
    assert_int_equal(scans, 0);
}

static int count_row(const struct wg_event_row *row, void *ctx)
{
    assert_string_equal(row->kind, "alarm");
    int64_t *seen = ctx;
    assert_true(row->seq > seen[1]); /* seq order */
    seen[1] = row->seq;
    seen[0]++;
    return 0;
}

static void test_alarm_events_window(void **state)
{
    struct fixture *f = *state;
    struct life a = {"A",
                     2,
                     "call",
                     "101",
                     "A",
                     DAY0 + 8 * HOUR,
                     DAY0 + 8 * HOUR + 30 * SEC,
                     0,
                     DAY0 + 8 * HOUR + 2 * MIN,
                     DAY0 + 8 * HOUR + 3 * MIN};
    journal(f->store, &a);
    struct wg_event other = {
        .ts_ms = DAY0 + 8 * HOUR + SEC, .kind = "point", .priority = -1, .body = "{}"};
    event_new_id(&other);
    assert_int_equal(store_append_event(f->store, &other), 0);
    int64_t seen[2] = {0, 0};
    /* [raise, attend): raise and ack, not attend (ts == to) nor the point event. */
    assert_int_equal(store_read_alarm_events(f->reader, a.raised, a.attend, count_row, seen), 0);
    assert_int_equal(seen[0], 2);
    seen[0] = seen[1] = 0;
    assert_int_equal(store_read_alarm_events(f->reader, 0, INT64_MAX, count_row, seen), 0);
    assert_int_equal(seen[0], 4);
    assert_int_equal(store_read_alarm_events(f->reader, 0, 1, NULL, NULL), -1);
}

/* Ten day-shift calls with acks at 10..100 s and attends at 1..10 min, three
 * evening calls; nearest rank: p50 of 10 values is the 5th, p90 the 9th. */
static void test_percentiles_per_shift(void **state)
{
    struct fixture *f = *state;
    char ids[13][8];
    for (int i = 0; i < 10; i++) {
        snprintf(ids[i], sizeof ids[i], "D%d", i);
        int64_t raised = DAY0 + 8 * HOUR + i * 10 * MIN;
        struct life a = {ids[i],
                         2,
                         "call",
                         "101",
                         "A",
                         raised,
                         raised + (i + 1) * 10 * SEC,
                         0,
                         raised + (i + 1) * MIN,
                         raised + (i + 1) * MIN + 5 * SEC};
        journal(f->store, &a);
    }
    const int64_t ack_s[3] = {5, 7, 30}, attend_s[3] = {100, 200, 1000};
    for (int i = 0; i < 3; i++) {
        snprintf(ids[10 + i], sizeof ids[10 + i], "E%d", i);
        int64_t raised = DAY0 + 16 * HOUR + i * HOUR;
        struct life a = {ids[10 + i],
                         3,
                         "bed_exit",
                         "102",
                         "B",
                         raised,
                         raised + ack_s[i] * SEC,
                         0,
                         raised + attend_s[i] * SEC,
                         raised + attend_s[i] * SEC + SEC};
        journal(f->store, &a);
    }
    struct wg_response_report r;
    compute(f, DAY0, DAY0 + DAY, NULL, &r);
    assert_int_equal(r.shift_count, 3);

    const struct wg_response_figures *day = &shift_named(&r, "day")->figures;
    assert_int_equal(day->raised, 10);
    assert_int_equal(day->acknowledged, 10);
    assert_int_equal(day->attended, 10);
    assert_int_equal(day->long_waits, 0);
    assert_true(day->ack_p50_s == 50.0);
    assert_true(day->ack_p90_s == 90.0);
    assert_true(day->attend_p50_s == 300.0);
    assert_true(day->attend_p90_s == 540.0);

    const struct wg_response_figures *evening = &shift_named(&r, "evening")->figures;
    assert_int_equal(evening->raised, 3);
    assert_true(evening->ack_p50_s == 7.0);  /* rank ceil(1.5) = 2 */
    assert_true(evening->ack_p90_s == 30.0); /* rank ceil(2.7) = 3 */
    assert_true(evening->attend_p50_s == 200.0);
    assert_true(evening->attend_p90_s == 1000.0);
    assert_int_equal(evening->long_waits, 1); /* 1000 s > 900 s */

    const struct wg_response_figures *night = &shift_named(&r, "night")->figures;
    assert_int_equal(night->raised, 0);
    assert_true(night->ack_p50_s < 0 && night->attend_p90_s < 0);

    /* Overall: acks 5,7,10,20,30,30,40,...,100 s (13 values): p50 rank 7 = 40 s, p90 rank 12 = 90
     * s. */
    assert_int_equal(r.overall.raised, 13);
    assert_true(r.overall.ack_p50_s == 40.0);
    assert_true(r.overall.ack_p90_s == 90.0);
    assert_int_equal(r.overall.long_waits, 1);
    assert_int_equal(r.long_wait_count, 1);
    assert_string_equal(r.long_waits[0].alarm_id, "E2");
    assert_int_equal(r.long_waits[0].outcome, WG_WAIT_ATTENDED_LATE);
    assert_int_equal(r.long_waits[0].wait_ms, 1000 * SEC);
    assert_string_equal(r.shifts[r.long_waits[0].shift].name, "evening");
    assert_string_equal(r.long_waits[0].room, "102");
    assert_string_equal(r.long_waits[0].bed, "B");
    assert_string_equal(r.long_waits[0].kind, "bed_exit");
    assert_int_equal(r.skipped_rows, 0);
    response_report_free(&r);
}

/* Night is 23:00-07:00: by the raise, across midnight; boundaries belong to the later shift. */
static void test_shift_boundaries_across_midnight(void **state)
{
    struct fixture *f = *state;
    const struct {
        const char *id;
        int64_t raised;
        const char *shift;
    } cases[] = {
        {"n1", DAY0 + 23 * HOUR + 30 * MIN, "night"},
        {"n2", DAY0 + DAY + 2 * HOUR, "night"},
        {"n3", DAY0 + DAY + 6 * HOUR + 59 * MIN, "night"},
        {"n4", DAY0 + 23 * HOUR, "night"},
        {"d1", DAY0 + DAY + 7 * HOUR, "day"},
        {"e1", DAY0 + 22 * HOUR + 59 * MIN, "evening"},
        {"e2", DAY0 + 15 * HOUR, "evening"},
    };
    size_t n = sizeof cases / sizeof cases[0];
    for (size_t i = 0; i < n; i++) {
        /* Attended after the shift changed: still the raise's shift. */
        struct life a = {cases[i].id,
                         2,
                         "call",
                         "201",
                         "A",
                         cases[i].raised,
                         0,
                         0,
                         cases[i].raised + 2 * MIN,
                         cases[i].raised + 3 * MIN};
        journal(f->store, &a);
    }
    struct wg_response_report r;
    compute(f, DAY0, DAY0 + 2 * DAY, NULL, &r);
    assert_int_equal(shift_named(&r, "night")->figures.raised, 4);
    assert_int_equal(shift_named(&r, "day")->figures.raised, 1);
    assert_int_equal(shift_named(&r, "evening")->figures.raised, 2);
    assert_int_equal(r.overall.raised, 7);
    assert_int_equal(r.unassigned, 0);
    /* Attended without a station acknowledge: counts for attend only. */
    assert_int_equal(r.overall.acknowledged, 0);
    assert_int_equal(r.overall.attended, 7);
    assert_true(r.overall.ack_p50_s < 0);
    assert_true(r.overall.attend_p50_s == 120.0);
    response_report_free(&r);
}

/* Acknowledged, re-annunciated, acknowledged again: the first acknowledge counts. */
static void test_repeated_ack_counts_first(void **state)
{
    struct fixture *f = *state;
    int64_t t = DAY0 + 9 * HOUR;
    struct life a = {"R", 2, "call", "301", "A", t, t + MIN, t + 5 * MIN, t + 7 * MIN, t + 8 * MIN};
    journal(f->store, &a);
    struct wg_response_report r;
    compute(f, DAY0, DAY0 + DAY, NULL, &r);
    assert_int_equal(r.overall.acknowledged, 1);
    assert_true(r.overall.ack_p50_s == 60.0);
    assert_true(r.overall.ack_p90_s == 60.0);
    assert_true(r.overall.attend_p50_s == 420.0);
    response_report_free(&r);
}

/* Never attended: long when open more than 15 min at its reset or at to_ms;
 * exactly 15 min is not "over 15 min". */
static void test_never_attended_long_waits(void **state)
{
    struct fixture *f = *state;
    int64_t t = DAY0 + 10 * HOUR;
    int64_t to = DAY0 + 12 * HOUR;
    struct life lives[] = {
        /* acked, reset without attend after 20 min: long, "reset" */
        {"reset20", 3, "bed_exit", "401", "A", t, t + MIN, 0, 0, t + 20 * MIN},
        /* reset by itself after 2 min (back in bed): not long */
        {"reset2", 3, "bed_exit", "402", "B", t + HOUR, 0, 0, 0, t + HOUR + 2 * MIN},
        /* open for 30 min at to_ms: long, "open" */
        {"open30", 2, "call", "403", "A", to - 30 * MIN, to - 29 * MIN, 0, 0, 0},
        /* open for 5 min at to_ms: not long */
        {"open5", 2, "call", "404", "A", to - 5 * MIN, 0, 0, 0, 0},
        /* attended at exactly 15 min: not long; at 15 min 1 s: long */
        {"at15", 4, "pull_cord", "405", "W", t + 2 * MIN, 0, 0, t + 17 * MIN, t + 18 * MIN},
        {"at15s", 4, "pull_cord", "406", "W", t + 3 * MIN, 0, 0, t + 18 * MIN + SEC, t + 19 * MIN},
    };
    for (size_t i = 0; i < sizeof lives / sizeof lives[0]; i++)
        journal(f->store, &lives[i]);
    struct wg_response_report r;
    compute(f, DAY0, to, NULL, &r);
    assert_int_equal(r.overall.raised, 6);
    assert_int_equal(r.overall.acknowledged, 2);
    assert_int_equal(r.overall.attended, 2);
    assert_int_equal(r.overall.reset_unattended, 2);
    assert_int_equal(r.overall.open_unattended, 2);
    assert_int_equal(r.overall.long_waits, 3);
    assert_int_equal(r.long_wait_count, 3);
    /* chronological by raise */
    assert_string_equal(r.long_waits[0].alarm_id, "reset20");
    assert_int_equal(r.long_waits[0].outcome, WG_WAIT_RESET_UNATTENDED);
    assert_int_equal(r.long_waits[0].wait_ms, 20 * MIN);
    assert_int_equal(r.long_waits[0].attended_ms, 0);
    assert_int_equal(r.long_waits[0].acknowledged_ms, t + MIN);
    assert_string_equal(r.long_waits[1].alarm_id, "at15s");
    assert_int_equal(r.long_waits[1].outcome, WG_WAIT_ATTENDED_LATE);
    assert_int_equal(r.long_waits[1].wait_ms, 15 * MIN + SEC);
    assert_string_equal(r.long_waits[2].alarm_id, "open30");
    assert_int_equal(r.long_waits[2].outcome, WG_WAIT_OPEN);
    assert_int_equal(r.long_waits[2].wait_ms, 30 * MIN);
    response_report_free(&r);

    /* The threshold is a parameter. */
    struct wg_response_options options = {.long_wait_ms = 10 * MIN};
    compute(f, DAY0, to, &options, &r);
    assert_int_equal(r.overall.long_waits, 4);
    response_report_free(&r);
}

/* Technical and advisory alarms are left out unless asked for. */
static void test_technical_excluded(void **state)
{
    struct fixture *f = *state;
    int64_t t = DAY0 + 9 * HOUR;
    struct life tech = {"T", 1, "device_offline", "501", "", t, 0, 0, 0, 0};
    struct life advisory = {"V", 0, "low_battery", "502", "", t + MIN, t + 2 * MIN, 0, 0, 0};
    struct life call = {"C",         2,           "call", "503",       "A",
                        t + 2 * MIN, t + 3 * MIN, 0,      t + 4 * MIN, t + 5 * MIN};
    journal(f->store, &tech);
    journal(f->store, &advisory);
    journal(f->store, &call);
    struct wg_response_report r;
    compute(f, DAY0, DAY0 + DAY, NULL, &r);
    assert_int_equal(r.overall.raised, 1);
    assert_int_equal(r.overall.long_waits, 0);
    assert_int_equal(r.long_wait_count, 0);
    assert_true(r.overall.ack_p50_s == 60.0);
    response_report_free(&r);

    struct wg_response_options options = {.priorities = WG_RESPONSE_DEFAULT_PRIORITIES |
                                                        WG_RESPONSE_PRIORITY(1)};
    compute(f, DAY0, DAY0 + DAY, &options, &r);
    assert_int_equal(r.overall.raised, 2);
    assert_int_equal(r.overall.long_waits, 1);
    assert_string_equal(r.long_waits[0].alarm_id, "T");
    response_report_free(&r);
}

static void test_empty_window(void **state)
{
    struct fixture *f = *state;
    struct wg_response_report r;
    compute(f, DAY0, DAY0 + DAY, NULL, &r);
    assert_int_equal(r.overall.raised, 0);
    assert_true(r.overall.ack_p50_s < 0 && r.overall.ack_p90_s < 0);
    assert_true(r.overall.attend_p50_s < 0 && r.overall.attend_p90_s < 0);
    assert_int_equal(r.long_wait_count, 0);
    assert_null(r.long_waits);
    json_t *json = response_report_to_json(&r);
    assert_non_null(json);
    assert_true(json_is_null(json_object_get(json_object_get(json, "overall"), "ack_p50_s")));
    assert_int_equal(json_array_size(json_object_get(json, "long_waits")), 0);
    assert_int_equal(json_array_size(json_object_get(json, "shifts")), 3);
    json_decref(json);
    response_report_free(&r);
    /* an empty window of zero length is fine too */
    compute(f, DAY0, DAY0, NULL, &r);
    assert_int_equal(r.overall.raised, 0);
    response_report_free(&r);
}

/* Only alarms raised in [from, to) count; their phases are looked up by the raise. */
static void test_events_outside_window(void **state)
{
    struct fixture *f = *state;
    int64_t from = DAY0 + 8 * HOUR, to = DAY0 + 10 * HOUR;
    struct life lives[] = {
        /* raised before from, acked and attended inside: not counted */
        {"before", 2, "call", "601", "A", from - MIN, from + MIN, 0, from + 2 * MIN, 0},
        /* raised exactly at from: counted */
        {"atfrom", 2, "call", "602", "A", from, from + 30 * SEC, 0, from + MIN, from + 2 * MIN},
        /* raised inside, attended after to: open at to_ms, 20 min */
        {"late", 2, "call", "603", "A", to - 20 * MIN, to - 19 * MIN, 0, to + 5 * MIN,
         to + 6 * MIN},
        /* raised exactly at to: not counted */
        {"atto", 2, "call", "604", "A", to, to + MIN, 0, to + 2 * MIN, 0},
    };
    for (size_t i = 0; i < sizeof lives / sizeof lives[0]; i++)
        journal(f->store, &lives[i]);
    struct wg_response_report r;
    compute(f, from, to, NULL, &r);
    assert_int_equal(r.overall.raised, 2);
    assert_int_equal(r.overall.acknowledged, 2);
    assert_int_equal(r.overall.attended, 1);
    assert_int_equal(r.overall.open_unattended, 1);
    assert_true(r.overall.ack_p50_s == 30.0);
    assert_true(r.overall.ack_p90_s == 60.0);
    assert_true(r.overall.attend_p50_s == 60.0);
    assert_int_equal(r.long_wait_count, 1);
    assert_string_equal(r.long_waits[0].alarm_id, "late");
    assert_int_equal(r.long_waits[0].outcome, WG_WAIT_OPEN);
    assert_int_equal(r.long_waits[0].wait_ms, 20 * MIN);
    response_report_free(&r);
}

static void test_json_shape(void **state)
{
    struct fixture *f = *state;
    int64_t t = DAY0 + 23 * HOUR + 50 * MIN;
    struct life a = {"J",          4, "pull_cord",  "701",       "A", t,
                     t + 90 * SEC, 0, t + 16 * MIN, t + 17 * MIN};
    journal(f->store, &a);
    struct wg_response_report r;
    compute(f, DAY0, DAY0 + 2 * DAY, NULL, &r);
    json_t *json = response_report_to_json(&r);
    assert_non_null(json);
    assert_string_equal(json_string_value(json_object_get(json, "percentile")), "nearest-rank");
    assert_true(json_real_value(json_object_get(json, "long_wait_s")) == 900.0);
    assert_string_equal(json_string_value(json_object_get(json, "from")),
                        "2024-05-01T00:00:00.000+00:00");
    json_t *priorities = json_object_get(json, "priorities");
    assert_int_equal(json_array_size(priorities), 4);
    assert_string_equal(json_string_value(json_array_get(priorities, 0)), "normal");
    json_t *overall = json_object_get(json, "overall");
    assert_int_equal(json_integer_value(json_object_get(overall, "raised")), 1);
    assert_true(json_real_value(json_object_get(overall, "ack_p50_s")) == 90.0);
    json_t *night = json_array_get(json_object_get(json, "shifts"), 2);
    assert_string_equal(json_string_value(json_object_get(night, "name")), "night");
    assert_string_equal(json_string_value(json_object_get(night, "start")), "23:00");
    assert_string_equal(json_string_value(json_object_get(night, "end")), "07:00");
    assert_true(json_real_value(json_object_get(night, "attend_p90_s")) == 960.0);
    json_t *wait = json_array_get(json_object_get(json, "long_waits"), 0);
    assert_non_null(wait);
    assert_string_equal(json_string_value(json_object_get(wait, "alarm_id")), "J");
    assert_string_equal(json_string_value(json_object_get(wait, "shift")), "night");
    assert_string_equal(json_string_value(json_object_get(wait, "priority")), "emergency");
    assert_string_equal(json_string_value(json_object_get(wait, "room")), "701");
    assert_string_equal(json_string_value(json_object_get(wait, "outcome")), "attended");
    assert_string_equal(json_string_value(json_object_get(wait, "raised")),
                        "2024-05-01T23:50:00.000+00:00");
    assert_true(json_real_value(json_object_get(wait, "wait_s")) == 960.0);
    assert_int_equal(json_integer_value(json_object_get(wait, "acknowledged_ms")), t + 90 * SEC);
    assert_true(json_is_integer(json_object_get(wait, "reset_ms")));
    assert_false(json_is_true(json_object_get(json, "long_waits_truncated")));
    json_decref(json);
    response_report_free(&r);
}

static void test_print_table(void **state)
{
    struct fixture *f = *state;
    int64_t t = DAY0 + 23 * HOUR + 50 * MIN;
    struct life a = {"P", 2, "call", "801", "B", t, t + 75 * SEC, 0, t + 20 * MIN, t + 21 * MIN};
    journal(f->store, &a);
    struct wg_response_report r;
    compute(f, DAY0, DAY0 + 2 * DAY, NULL, &r);
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    assert_non_null(out);
    assert_int_equal(response_report_print(&r, out), 0);
    fclose(out);
    assert_non_null(strstr(text, "night      23:00-07:00      1      1        1     1:15     1:15"
                                 "      20:00      20:00      1\n"));
    assert_non_null(
        strstr(text, "day        07:00-15:00      0      0        0        -        -"));
    assert_non_null(strstr(text, "2024-05-01 23:50 night    801      B        call         normal"
                                 "       20:00  attended\n"));
    free(text);
    response_report_free(&r);
}

/* A shift table from config: the first match wins; gaps are "unassigned". */
static void test_custom_shifts_and_bad_options(void **state)
{
    struct fixture *f = *state;
    int64_t t = DAY0 + 12 * HOUR;
    struct life a = {"S1", 2, "call", "901", "A", t, t + MIN, 0, t + 2 * MIN, t + 3 * MIN};
    struct life b = {"S2", 2, "call", "902", "A", DAY0 + 21 * HOUR, 0, 0, 0, 0};
    journal(f->store, &a);
    journal(f->store, &b);
    const struct wg_shift shifts[] = {{"early", 6 * 60, 18 * 60}, {"late", 18 * 60, 20 * 60}};
    struct wg_response_options options = {.shifts = shifts, .shift_count = 2};
    struct wg_response_report r;
    compute(f, DAY0, DAY0 + DAY, &options, &r);
    assert_int_equal(r.shift_count, 2);
    assert_int_equal(r.shifts[0].figures.raised, 1);
    assert_int_equal(r.shifts[1].figures.raised, 0);
    assert_int_equal(r.unassigned, 1);
    assert_int_equal(r.overall.raised, 2);
    assert_int_equal(r.long_wait_count, 1);
    assert_int_equal(r.long_waits[0].shift, WG_RESPONSE_NO_SHIFT);
    json_t *json = response_report_to_json(&r);
    assert_true(json_is_null(
        json_object_get(json_array_get(json_object_get(json, "long_waits"), 0), "shift")));
    json_decref(json);
    response_report_free(&r);

    char err[256];
    const struct wg_shift bad[] = {{"x", 0, 1440}};
    options = (struct wg_response_options){.shifts = bad, .shift_count = 1};
    assert_int_equal(response_compute(f->reader, DAY0, DAY0 + DAY, &options, &r, err, sizeof err),
                     -1);
    assert_non_null(strstr(err, "0..1439"));
    assert_null(r.long_waits);
    assert_int_equal(response_compute(f->reader, DAY0 + DAY, DAY0, NULL, &r, err, sizeof err), -1);
    assert_non_null(strstr(err, "ends before it starts"));
}

/* Bounded: too many alarms is refused; the list keeps the longest waits. */
static void test_limits(void **state)
{
    struct fixture *f = *state;
    for (int i = 0; i < 5; i++) {
        char id[8];
        snprintf(id, sizeof id, "L%d", i);
        int64_t raised = DAY0 + 8 * HOUR + i * HOUR;
        struct life a = {id, 2, "call", "111", "A", raised, 0, 0, raised + (20 + i) * MIN, 0};
        journal(f->store, &a);
    }
    struct wg_response_options options = {.max_long_waits = 2};
    struct wg_response_report r;
    compute(f, DAY0, DAY0 + DAY, &options, &r);
    assert_int_equal(r.overall.long_waits, 5);
    assert_int_equal(r.long_wait_count, 2);
    assert_true(r.long_waits_truncated);
    assert_string_equal(r.long_waits[0].alarm_id, "L3"); /* 23 and 24 min, by raise */
    assert_string_equal(r.long_waits[1].alarm_id, "L4");
    response_report_free(&r);

    char err[256];
    options = (struct wg_response_options){.max_alarms = 4};
    assert_int_equal(response_compute(f->reader, DAY0, DAY0 + DAY, &options, &r, err, sizeof err),
                     -1);
    assert_non_null(strstr(err, "more than 4 alarms"));
}

/* A row that is not an alarm record is skipped and counted, not fatal. */
static void test_bad_rows_skipped(void **state)
{
    struct fixture *f = *state;
    struct wg_event bad = {.ts_ms = DAY0 + 8 * HOUR, .kind = "alarm", .priority = 2, .body = "{}"};
    event_new_id(&bad);
    assert_int_equal(store_append_event(f->store, &bad), 0);
    int64_t t = DAY0 + 9 * HOUR;
    struct life a = {"G", 2, "call", "121", "A", t, t + MIN, 0, t + 2 * MIN, t + 3 * MIN};
    journal(f->store, &a);
    struct wg_response_report r;
    compute(f, DAY0, DAY0 + DAY, NULL, &r);
    assert_int_equal(r.skipped_rows, 1);
    assert_int_equal(r.overall.raised, 1);
    response_report_free(&r);
}

/* About a month of a 60-bed home: 20,000 alarms, 4 rows each. */
static void test_month_of_alarms(void **state)
{
    struct fixture *f = *state;
    const int n = 20000;
    assert_int_equal(store_begin(f->store), 0);
    for (int i = 0; i < n; i++) {
        char id[16];
        snprintf(id, sizeof id, "M%05d", i);
        int64_t raised = DAY0 + (int64_t)i * 2 * MIN;
        struct life a = {id,
                         2 + i % 3,
                         "call",
                         "131",
                         "A",
                         raised,
                         raised + (i % 120) * SEC,
                         0,
                         raised + (i % 600) * SEC + SEC,
                         raised + 11 * MIN};
        append(f->store, &a, a.raised, record(&a, "raise", "raised", 1, 0, 0, 0, 0));
        append(f->store, &a, a.ack ? a.ack : a.raised,
               record(&a, "ack", "acknowledged", 2, a.ack, 0, 0, 0));
        append(f->store, &a, a.attend, record(&a, "attend", "attended", 3, a.ack, a.attend, 0, 0));
        append(f->store, &a, a.reset, record(&a, "reset", "reset", 4, a.ack, a.attend, a.reset, 0));
    }
    assert_int_equal(store_commit(f->store), 0);
    struct timespec start, end;
    clock_gettime(CLOCK_MONOTONIC, &start);
    struct wg_response_report r;
    compute(f, DAY0, DAY0 + 31 * DAY, NULL, &r);
    clock_gettime(CLOCK_MONOTONIC, &end);
    assert_int_equal(r.overall.raised, n);
    assert_int_equal(r.overall.attended, n);
    assert_int_equal(r.overall.long_waits, 0);
    assert_int_equal(r.overall.acknowledged, n);
    /* ack waits i % 120 s: 0..119 s, each 166 or 167 times; nearest rank lands on 59 and 107 s */
    assert_true(r.overall.ack_p50_s == 59.0);
    assert_true(r.overall.ack_p90_s == 107.0);
    printf("# response: %d alarms (%d rows) in %.0f ms\n", n, 4 * n,
           (double)(end.tv_sec - start.tv_sec) * 1e3 + (double)(end.tv_nsec - start.tv_nsec) / 1e6);
    response_report_free(&r);
}

int main(void)
{
    setenv("TZ", "UTC", 1);
    tzset();
    wg_log_set_level(WG_LOG_WARNING); /* keep "applied migration" out of the TAP stream */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_alarm_journal_indexed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_alarm_events_window, setup, teardown),
        cmocka_unit_test_setup_teardown(test_percentiles_per_shift, setup, teardown),
        cmocka_unit_test_setup_teardown(test_shift_boundaries_across_midnight, setup, teardown),
        cmocka_unit_test_setup_teardown(test_repeated_ack_counts_first, setup, teardown),
        cmocka_unit_test_setup_teardown(test_never_attended_long_waits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_technical_excluded, setup, teardown),
        cmocka_unit_test_setup_teardown(test_empty_window, setup, teardown),
        cmocka_unit_test_setup_teardown(test_events_outside_window, setup, teardown),
        cmocka_unit_test_setup_teardown(test_json_shape, setup, teardown),
        cmocka_unit_test_setup_teardown(test_print_table, setup, teardown),
        cmocka_unit_test_setup_teardown(test_custom_shifts_and_bad_options, setup, teardown),
        cmocka_unit_test_setup_teardown(test_limits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_rows_skipped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_month_of_alarms, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
