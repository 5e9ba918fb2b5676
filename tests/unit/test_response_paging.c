/* Unit tests for the paging split of the response report (response.c,
 * response_journal.c, response_breakdown.c): journal rows whose alarm
 * records carry "paging" as alarm_paging.c writes it, and the exact figures
 * overall, per shift, per carer and per room, the bounds, and the JSON and
 * printed table. TZ=UTC so shifts are deterministic. */
#include "testutil.h"

#include <jansson.h>
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
    struct wg_store_reader *reader;
};

/* One page: times relative to the raise (0 = never). */
struct page {
    const char *user, *name;
    int64_t notified, accepted, declined;
    const char *outcome;
};

/* One record of an alarm: its time, what is known by then (relative to
 * the raise; 0 = not yet), and its pages (page_count 0 and paged false:
 * "paging": null). */
struct row {
    int64_t at;
    int64_t ack, attend, reset;
    bool paged;
    const char *accepted_by, *accepted_name;
    int64_t accepted;
    struct page pages[4];
    size_t page_count;
};

static json_t *ms_or_null(int64_t raised, int64_t rel)
{
    return rel ? json_integer(raised + rel) : json_null();
}

static json_t *ms_or_zero(int64_t raised, int64_t rel)
{
    return json_integer(rel ? raised + rel : 0);
}

static json_t *paging_json(const struct row *r, int64_t raised)
{
    if (!r->paged)
        return json_null();
    json_t *pages = json_array();
    for (size_t i = 0; i < r->page_count; i++) {
        const struct page *p = &r->pages[i];
        json_array_append_new(
            pages, json_pack("{s:s, s:s, s:s, s:i, s:o, s:o, s:o, s:o, s:s, s:s}", "user", p->user,
                             "name", p->name, "care_role", "carer", "step", 0, "notified_ms",
                             ms_or_zero(raised, p->notified), "received_ms",
                             ms_or_zero(raised, p->notified ? p->notified + SEC : 0), "accepted_ms",
                             ms_or_zero(raised, p->accepted), "declined_ms",
                             ms_or_zero(raised, p->declined), "reason", "", "outcome", p->outcome));
    }
    return json_pack("{s:i, s:s, s:I, s:b, s:s, s:s, s:o, s:o}", "step", 0, "step_kind", "room",
                     "step_ms", (json_int_t)raised, "no_cover", 0, "accepted_by",
                     r->accepted_by ? r->accepted_by : "", "accepted_name",
                     r->accepted_name ? r->accepted_name : "", "accepted_ms",
                     ms_or_zero(raised, r->accepted), "pages", pages);
}

/* Journals the rows of one alarm. */
static void journal(struct fixture *f, const char *id, int priority, const char *room,
                    int64_t raised, const struct row *rows, size_t count)
{
    assert_int_equal(store_begin(f->store), 0);
    for (size_t i = 0; i < count; i++) {
        const struct row *r = &rows[i];
        json_t *record = json_pack(
            "{s:s, s:I, s:i, s:s, s:s, s:s, s:s, s:s, s:I, s:o, s:o, s:o, s:o}", "id", id, "update",
            (json_int_t)(i + 1), "priority_level", priority, "kind", "call", "zone", "east", "room",
            room, "bed", "A", "resident", "R-1", "raised_ms", (json_int_t)raised, "acknowledged_ms",
            ms_or_null(raised, r->ack), "attended_ms", ms_or_null(raised, r->attend), "reset_ms",
            ms_or_null(raised, r->reset), "paging", paging_json(r, raised));
        assert_non_null(record);
        char *body = json_dumps(record, JSON_COMPACT);
        json_decref(record);
        struct wg_event event = {.ts_ms = raised + r->at,
                                 .kind = "alarm",
                                 .priority = priority,
                                 .alarm_id = id,
                                 .room = room,
                                 .body = body,
                                 .uplink = WG_UPLINK_NONE};
        event_new_id(&event);
        assert_int_equal(store_append_event(f->store, &event), 0);
        free(body);
    }
    assert_int_equal(store_commit(f->store), 0);
}

#define LI(n, a, d, o)                                                                             \
    {                                                                                              \
        "li", "Li Na", (n), (a), (d), (o)                                                          \
    }
#define WANG(n, a, d, o)                                                                           \
    {                                                                                              \
        "wang", "Wang Fang", (n), (a), (d), (o)                                                    \
    }
#define ROWS(...)                                                                                  \
    (const struct row[]){__VA_ARGS__},                                                             \
        sizeof((const struct row[]){__VA_ARGS__}) / sizeof(struct row)

/* Five alarms (see docs/response.md, "Paging"):
 * A 101 day:     li and wang paged at +5 s; li accepts at +35 s; ack +20 s,
 *                attend +2 min, reset +3 min.
 * B 101 day:     li paged +5 s, declines +20 s; wang paged +25 s, accepts
 *                +65 s; ack +15 s, attend +4 min, reset +5 min.
 * C 102 evening: li not reached, wang paged +3 s accepts +13 s; attend
 *                +1 min, reset +90 s.
 * D 102 evening: no paging; ack +30 s, attend +100 s, reset +200 s.
 * E 103 night:   li and wang time out; reset at +20 min unattended. */
static void journal_five(struct fixture *f)
{
    int64_t a = DAY0 + 8 * HOUR, b = DAY0 + 9 * HOUR, c = DAY0 + 16 * HOUR, d = DAY0 + 17 * HOUR,
            e = DAY0 + 23 * HOUR + 30 * MIN;
    journal(
        f, "A", 2, "101", a,
        ROWS({.at = 0, .paged = true},
             {.at = 5 * SEC,
              .paged = true,
              .pages = {LI(5 * SEC, 0, 0, "waiting"), WANG(5 * SEC, 0, 0, "waiting")},
              .page_count = 2},
             {.at = 20 * SEC,
              .ack = 20 * SEC,
              .paged = true,
              .pages = {LI(5 * SEC, 0, 0, "received"), WANG(5 * SEC, 0, 0, "received")},
              .page_count = 2},
             {.at = 35 * SEC,
              .ack = 20 * SEC,
              .paged = true,
              .accepted_by = "li",
              .accepted_name = "Li Na",
              .accepted = 35 * SEC,
              .pages = {LI(5 * SEC, 35 * SEC, 0, "accepted"), WANG(5 * SEC, 0, 0, "stood_down")},
              .page_count = 2},
             {.at = 2 * MIN,
              .ack = 20 * SEC,
              .attend = 2 * MIN,
              .paged = true,
              .accepted_by = "li",
              .accepted_name = "Li Na",
              .accepted = 35 * SEC,
              .pages = {LI(5 * SEC, 35 * SEC, 0, "accepted"), WANG(5 * SEC, 0, 0, "stood_down")},
              .page_count = 2},
             {.at = 3 * MIN,
              .ack = 20 * SEC,
              .attend = 2 * MIN,
              .reset = 3 * MIN,
              .paged = true,
              .accepted_by = "li",
              .accepted_name = "Li Na",
              .accepted = 35 * SEC,
              .pages = {LI(5 * SEC, 35 * SEC, 0, "accepted"), WANG(5 * SEC, 0, 0, "stood_down")},
              .page_count = 2}));
    journal(f, "B", 2, "101", b,
            ROWS({.at = 5 * SEC,
                  .paged = true,
                  .pages = {LI(5 * SEC, 0, 0, "waiting")},
                  .page_count = 1},
                 {.at = 15 * SEC,
                  .ack = 15 * SEC,
                  .paged = true,
                  .pages = {LI(5 * SEC, 0, 0, "received")},
                  .page_count = 1},
                 {.at = 20 * SEC,
                  .ack = 15 * SEC,
                  .paged = true,
                  .pages = {LI(5 * SEC, 0, 20 * SEC, "declined")},
                  .page_count = 1},
                 {.at = 25 * SEC,
                  .ack = 15 * SEC,
                  .paged = true,
                  .pages = {LI(5 * SEC, 0, 20 * SEC, "declined"), WANG(25 * SEC, 0, 0, "waiting")},
                  .page_count = 2},
                 {.at = 65 * SEC,
                  .ack = 15 * SEC,
                  .paged = true,
                  .accepted_by = "wang",
                  .accepted_name = "Wang Fang",
                  .accepted = 65 * SEC,
                  .pages = {LI(5 * SEC, 0, 20 * SEC, "declined"),
                            WANG(25 * SEC, 65 * SEC, 0, "accepted")},
                  .page_count = 2},
                 {.at = 5 * MIN,
                  .ack = 15 * SEC,
                  .attend = 4 * MIN,
                  .reset = 5 * MIN,
                  .paged = true,
                  .accepted_by = "wang",
                  .accepted_name = "Wang Fang",
                  .accepted = 65 * SEC,
                  .pages = {LI(5 * SEC, 0, 20 * SEC, "declined"),
                            WANG(25 * SEC, 65 * SEC, 0, "accepted")},
                  .page_count = 2}));
    journal(
        f, "C", 3, "102", c,
        ROWS({.at = 3 * SEC,
              .paged = true,
              .pages = {LI(3 * SEC, 0, 0, "waiting"), WANG(3 * SEC, 0, 0, "waiting")},
              .page_count = 2},
             {.at = 13 * SEC,
              .paged = true,
              .accepted_by = "wang",
              .accepted_name = "Wang Fang",
              .accepted = 13 * SEC,
              .pages = {LI(3 * SEC, 0, 0, "not_reached"), WANG(3 * SEC, 13 * SEC, 0, "accepted")},
              .page_count = 2},
             {.at = 90 * SEC,
              .attend = MIN,
              .reset = 90 * SEC,
              .paged = true,
              .accepted_by = "wang",
              .accepted_name = "Wang Fang",
              .accepted = 13 * SEC,
              .pages = {LI(3 * SEC, 0, 0, "not_reached"), WANG(3 * SEC, 13 * SEC, 0, "accepted")},
              .page_count = 2}));
    journal(f, "D", 2, "102", d,
            ROWS({.at = 0}, {.at = 30 * SEC, .ack = 30 * SEC},
                 {.at = 200 * SEC, .ack = 30 * SEC, .attend = 100 * SEC, .reset = 200 * SEC}));
    journal(f, "E", 4, "103", e,
            ROWS({.at = 2 * SEC,
                  .paged = true,
                  .pages = {LI(2 * SEC, 0, 0, "waiting"), WANG(2 * SEC, 0, 0, "waiting")},
                  .page_count = 2},
                 {.at = 20 * MIN,
                  .reset = 20 * MIN,
                  .paged = true,
                  .pages = {LI(2 * SEC, 0, 0, "timed_out"), WANG(2 * SEC, 0, 0, "timed_out")},
                  .page_count = 2}));
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
    journal_five(f);
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

#define assert_seconds(actual, expected) assert_true((actual) == (double)(expected))

static void test_overall_and_shifts(void **state)
{
    struct fixture *f = *state;
    struct wg_response_report r;
    compute(f, DAY0, DAY0 + DAY, NULL, &r);
    const struct wg_response_figures *all = &r.overall;
    assert_int_equal(all->raised, 5);
    assert_int_equal(all->paged, 4);
    assert_int_equal(all->accepted, 3);
    assert_int_equal(all->reset, 5);
    /* first page -> accept: A 30, B 60 (li's page at +5 s), C 10 */
    assert_seconds(all->accept_p50_s, 30);
    assert_seconds(all->accept_p90_s, 60);
    /* accept -> attend: A 85, B 175, C 47 */
    assert_seconds(all->accept_attend_p50_s, 85);
    assert_seconds(all->accept_attend_p90_s, 175);
    /* raise -> reset: 90, 180, 200, 300, 1200 */
    assert_seconds(all->reset_p50_s, 200);
    assert_seconds(all->reset_p90_s, 1200);
    /* the existing figures are unchanged by paging */
    assert_int_equal(all->acknowledged, 3);
    assert_seconds(all->ack_p50_s, 20);
    assert_int_equal(all->attended, 4);

    const struct wg_response_figures *day = &r.shifts[0].figures;
    assert_int_equal(day->paged, 2);
    assert_int_equal(day->accepted, 2);
    assert_seconds(day->accept_p50_s, 30);
    assert_seconds(day->accept_p90_s, 60);
    assert_seconds(day->accept_attend_p50_s, 85);
    assert_seconds(day->accept_attend_p90_s, 175);
    assert_seconds(day->reset_p50_s, 180);
    assert_seconds(day->reset_p90_s, 300);
    const struct wg_response_figures *evening = &r.shifts[1].figures;
    assert_int_equal(evening->raised, 2);
    assert_int_equal(evening->paged, 1);
    assert_int_equal(evening->accepted, 1);
    assert_seconds(evening->accept_p50_s, 10);
    assert_seconds(evening->accept_attend_p90_s, 47);
    assert_seconds(evening->reset_p50_s, 90);
    assert_seconds(evening->reset_p90_s, 200);
    const struct wg_response_figures *night = &r.shifts[2].figures;
    assert_int_equal(night->paged, 1);
    assert_int_equal(night->accepted, 0);
    assert_true(night->accept_p50_s < 0);
    assert_true(night->accept_attend_p50_s < 0);
    assert_seconds(night->reset_p50_s, 1200);
    response_report_free(&r);
}

static void test_per_carer(void **state)
{
    struct fixture *f = *state;
    struct wg_response_report r;
    compute(f, DAY0, DAY0 + DAY, NULL, &r);
    assert_int_equal(r.carer_count, 2);
    assert_false(r.carers_truncated);
    const struct wg_response_carer *wang = &r.carers[0], *li = &r.carers[1];
    assert_string_equal(wang->user, "wang"); /* the most accepted first */
    assert_string_equal(wang->name, "Wang Fang");
    assert_int_equal(wang->accepted, 2);
    /* their own page -> accept: B 40 (paged +25 s), C 10 */
    assert_seconds(wang->accept_p50_s, 10);
    assert_seconds(wang->accept_p90_s, 40);
    assert_seconds(wang->accept_attend_p50_s, 47);
    assert_seconds(wang->accept_attend_p90_s, 175);
    assert_int_equal(wang->paged, 4);
    assert_int_equal(wang->declined, 0);
    assert_int_equal(wang->not_reached, 0);
    assert_int_equal(wang->timed_out, 1);
    assert_string_equal(li->user, "li");
    assert_int_equal(li->accepted, 1);
    assert_seconds(li->accept_p50_s, 30);
    assert_seconds(li->accept_p90_s, 30);
    assert_seconds(li->accept_attend_p50_s, 85);
    assert_int_equal(li->paged, 4);
    assert_int_equal(li->declined, 1);
    assert_int_equal(li->not_reached, 1);
    assert_int_equal(li->timed_out, 1);
    response_report_free(&r);
}

static void test_per_room(void **state)
{
    struct fixture *f = *state;
    struct wg_response_report r;
    compute(f, DAY0, DAY0 + DAY, NULL, &r);
    assert_int_equal(r.room_count, 3);
    assert_false(r.rooms_truncated);
    const struct wg_response_room *r101 = &r.rooms[0], *r102 = &r.rooms[1], *r103 = &r.rooms[2];
    assert_string_equal(r101->room, "101");
    assert_int_equal(r101->raised, 2);
    assert_seconds(r101->ack_p50_s, 15);
    assert_seconds(r101->attend_p50_s, 120);
    assert_seconds(r101->accept_p50_s, 30);
    assert_seconds(r101->reset_p50_s, 180);
    assert_int_equal(r101->long_waits, 0);
    assert_string_equal(r102->room, "102");
    assert_int_equal(r102->raised, 2);
    assert_seconds(r102->ack_p50_s, 30);
    assert_seconds(r102->attend_p50_s, 60);
    assert_seconds(r102->accept_p50_s, 10);
    assert_seconds(r102->reset_p50_s, 90);
    assert_string_equal(r103->room, "103");
    assert_int_equal(r103->raised, 1);
    assert_true(r103->ack_p50_s < 0 && r103->attend_p50_s < 0 && r103->accept_p50_s < 0);
    assert_seconds(r103->reset_p50_s, 1200);
    assert_int_equal(r103->long_waits, 1);
    response_report_free(&r);
}

/* Rows after to_ms are not read: B's acceptance at +65 s is outside a
 * window ending at +30 s, so B is paged, not accepted; li's decline at
 * +20 s is inside it. */
static void test_window_cuts_acceptance(void **state)
{
    struct fixture *f = *state;
    struct wg_response_report r;
    compute(f, DAY0, DAY0 + 9 * HOUR + 30 * SEC, NULL, &r);
    assert_int_equal(r.overall.raised, 2);
    assert_int_equal(r.overall.paged, 2);
    assert_int_equal(r.overall.accepted, 1);
    assert_seconds(r.overall.accept_p90_s, 30);
    assert_int_equal(r.carer_count, 2);
    assert_string_equal(r.carers[0].user, "li");
    assert_int_equal(r.carers[0].declined, 1);
    assert_int_equal(r.carers[1].accepted, 0);
    response_report_free(&r);
}

static void test_bounds(void **state)
{
    struct fixture *f = *state;
    struct wg_response_options options = {.max_carers = 1, .max_rooms = 2};
    struct wg_response_report r;
    compute(f, DAY0, DAY0 + DAY, &options, &r);
    assert_int_equal(r.carer_count, 1);
    assert_true(r.carers_truncated);
    assert_string_equal(r.carers[0].user, "wang");
    assert_int_equal(r.room_count, 2); /* the two rooms with the most alarms, by room */
    assert_true(r.rooms_truncated);
    assert_string_equal(r.rooms[0].room, "101");
    assert_string_equal(r.rooms[1].room, "102");
    response_report_free(&r);
    /* Technical alarms only: nothing counted, no carers, no rooms. */
    options = (struct wg_response_options){.priorities = WG_RESPONSE_PRIORITY(1)};
    compute(f, DAY0, DAY0 + DAY, &options, &r);
    assert_int_equal(r.carer_count, 0);
    assert_int_equal(r.room_count, 0);
    assert_true(r.overall.accept_p50_s < 0);
    response_report_free(&r);
}

static void test_json_and_print(void **state)
{
    struct fixture *f = *state;
    struct wg_response_report r;
    compute(f, DAY0, DAY0 + DAY, NULL, &r);
    json_t *json = response_report_to_json(&r);
    assert_non_null(json);
    json_t *overall = json_object_get(json, "overall");
    assert_int_equal(json_integer_value(json_object_get(overall, "paged")), 4);
    assert_int_equal(json_integer_value(json_object_get(overall, "accepted")), 3);
    assert_true(json_real_value(json_object_get(overall, "accept_p50_s")) == 30.0);
    assert_true(json_real_value(json_object_get(overall, "accept_attend_p90_s")) == 175.0);
    assert_true(json_real_value(json_object_get(overall, "reset_p90_s")) == 1200.0);
    json_t *night = json_array_get(json_object_get(json, "shifts"), 2);
    assert_true(json_is_null(json_object_get(night, "accept_p50_s")));
    json_t *wang = json_array_get(json_object_get(json, "carers"), 0);
    assert_string_equal(json_string_value(json_object_get(wang, "user")), "wang");
    assert_string_equal(json_string_value(json_object_get(wang, "name")), "Wang Fang");
    assert_int_equal(json_integer_value(json_object_get(wang, "timed_out")), 1);
    assert_true(json_real_value(json_object_get(wang, "accept_p90_s")) == 40.0);
    assert_false(json_is_true(json_object_get(json, "carers_truncated")));
    json_t *room = json_array_get(json_object_get(json, "rooms"), 2);
    assert_string_equal(json_string_value(json_object_get(room, "room")), "103");
    assert_true(json_is_null(json_object_get(room, "accept_p50_s")));
    assert_int_equal(json_integer_value(json_object_get(room, "long_waits")), 1);
    assert_false(json_is_true(json_object_get(json, "rooms_truncated")));
    json_decref(json);

    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    assert_non_null(out);
    assert_int_equal(response_report_print(&r, out), 0);
    fclose(out);
    if (getenv("WG_SHOW_TABLE"))
        fputs(text, stderr);
    assert_non_null(strstr(text, "Paged to phones: 4, accepted 3; page to accept p50 0:30, p90 "
                                 "1:00; accept to attend p50 1:25, p90 2:55.\n"));
    assert_non_null(strstr(text, "Reset: 5; raise to reset p50 3:20, p90 20:00.\n"));
    assert_non_null(strstr(text,
                           "wang             Wang Fang                   2       0:10       "
                           "0:40       0:47       2:55      4        0           0         1\n"));
    free(text);
    response_report_free(&r);
}

int main(void)
{
    setenv("TZ", "UTC", 1);
    tzset();
    wg_log_set_level(WG_LOG_WARNING);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_overall_and_shifts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_per_carer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_per_room, setup, teardown),
        cmocka_unit_test_setup_teardown(test_window_cuts_acceptance, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bounds, setup, teardown),
        cmocka_unit_test_setup_teardown(test_json_and_print, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
