/* Unit tests of the store's read side (gateway/store/store_read.c), on the real
 * schema (a database made and migrated by store_open):
 * - every filter combination the history API allows is served by an index:
 *   EXPLAIN QUERY PLAN shows no SCAN of the journal and no sort;
 * - the searches return exactly what a plain filter over the rows returns,
 *   newest first, with journal times out of seq order (events held while
 *   storage failed are committed later with their own time);
 * - paging by seq (as the CSV export reads) gives every row once;
 * - the audit log and the alarm journal by time;
 * - a reader refuses a database it cannot use, with the reason. */
#include "testutil.h"

#include <sqlite3.h>

#include "store/store.h"
#include "store/store_read.h"

#define ROWS 3000

struct kept {
    int64_t seq, ts_ms;
    char kind[16], room[8], device[12], alarm_id[8];
    int priority;
    bool has_room, has_device, has_alarm;
};

struct fixture {
    char *dir;
    char *path;
    struct wg_store *store;
    struct wg_store_reader *reader;
    struct kept rows[ROWS];
};

static const char *const kinds[] = {"point", "write_result", "device_health",
                                    "alarm", "telemetry",    "system"};

static uint32_t next_random(uint32_t *state)
{
    *state = *state * 1103515245u + 12345u;
    return *state >> 8;
}

/* ROWS events: a mix of kinds, rooms, devices and alarms; times mostly
 * rising with seq, but every 50th row is 10 minutes late and every 77th a
 * day early, as rows held in memory during a storage fault are. */
static void fill(struct fixture *f)
{
    uint32_t random = 7;
    int64_t base = 1714521600000LL;
    assert_int_equal(store_begin(f->store), 0);
    for (int i = 0; i < ROWS; i++) {
        struct kept *k = &f->rows[i];
        int r = (int)(next_random(&random) % 100);
        const char *kind = kinds[r < 40   ? 0
                                 : r < 70 ? 1
                                 : r < 80 ? 2
                                 : r < 95 ? 3
                                 : r < 98 ? 4
                                          : 5];
        snprintf(k->kind, sizeof k->kind, "%s", kind);
        k->ts_ms = base + i * 1000LL - (i % 50 == 0 ? 600000 : 0) - (i % 77 == 0 ? 86400000 : 0);
        k->has_device = strcmp(kind, "system") != 0;
        k->has_room = k->has_device && next_random(&random) % 10 != 0;
        k->has_alarm = strcmp(kind, "alarm") == 0;
        snprintf(k->room, sizeof k->room, "%u", 101 + next_random(&random) % 12);
        snprintf(k->device, sizeof k->device, "dev-%u", next_random(&random) % 40);
        snprintf(k->alarm_id, sizeof k->alarm_id, "A%u", next_random(&random) % 60);
        k->priority = k->has_alarm ? (int)(next_random(&random) % 6) : -1;
        struct wg_event event = {.ts_ms = k->ts_ms,
                                 .kind = kind,
                                 .priority = k->priority,
                                 .alarm_id = k->has_alarm ? k->alarm_id : NULL,
                                 .device = k->has_device ? k->device : NULL,
                                 .room = k->has_room ? k->room : NULL,
                                 .body = "{\"x\":1}"};
        event_new_id(&event);
        assert_int_equal(store_append_event(f->store, &event), 0);
        k->seq = event.seq;
    }
    assert_int_equal(store_commit(f->store), 0);
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    f->dir = test_tmpdir();
    assert_true(f->dir && asprintf(&f->path, "%s/wg.db", f->dir) > 0);
    struct wg_store_options options = {.path = f->path};
    char err[512];
    f->store = store_open(&options, NULL, err, sizeof err);
    if (!f->store)
        fail_msg("store_open: %s", err);
    f->reader = store_reader_open(f->path, WG_READER_WAIT_MS, err, sizeof err);
    if (!f->reader)
        fail_msg("store_reader_open: %s", err);
    fill(f);
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

/* ---- every allowed filter combination uses an index ---- */

struct plan_check {
    int bad;
    int lines;
};

static void check_step(const char *sql, const char *step, void *ctx)
{
    struct plan_check *check = ctx;
    check->lines++;
    if (strstr(step, "SCAN") || strstr(step, "TEMP B-TREE")) {
        check->bad++;
        print_message("# not served by an index: %s\n#   for %s\n", step, sql);
    }
}

/* Filter number `bits`: one bit per thing the API lets a user set. */
static struct wg_event_filter filter_of(unsigned bits, const char *kind)
{
    return (struct wg_event_filter){
        .from_ms = bits & 1 ? 1714521600000LL + 500000 : 0,
        .to_ms = bits & 2 ? 1714521600000LL + 2500000 : 0,
        .kind = bits & 4 ? kind : NULL,
        .min_priority = bits & 8 ? 3 : -1,
        .room = bits & 16 ? "105" : NULL,
        .device = bits & 32 ? "dev-7" : NULL,
        .alarm_id = bits & 64 ? "A12" : NULL,
        .before_seq = bits & 128 ? 2000 : 0,
        .write_results = bits & 256,
        .limit = 50,
    };
}

static void test_every_filter_uses_an_index(void **state)
{
    struct fixture *f = *state;
    struct plan_check check = {0};
    int combinations = 0;
    for (size_t k = 0; k < sizeof kinds / sizeof *kinds; k++)
        for (unsigned bits = 0; bits < 512; bits++) {
            if (k > 0 && !(bits & 4))
                continue; /* the kind only matters when it is set */
            struct wg_event_filter filter = filter_of(bits, kinds[k]);
            assert_int_equal(store_read_plan(f->reader, &filter, check_step, &check), 0);
            combinations++;
        }
    print_message("# %d filter combinations, %d plan steps, %d not served by an index\n",
                  combinations, check.lines, check.bad);
    assert_int_equal(check.bad, 0);
    /* The plan shown is the one the search runs: a sparse filter walks its index. */
    struct wg_event_filter room = {.room = "105", .min_priority = -1};
    struct plan_check one = {0};
    assert_int_equal(store_read_plan(f->reader, &room, check_step, &one), 0);
    assert_int_equal(one.lines, 1);
}

/* ---- the searches return what a plain filter does ---- */

static bool matches(const struct kept *k, const struct wg_event_filter *filter)
{
    if (filter->from_ms && k->ts_ms < filter->from_ms)
        return false;
    if (filter->to_ms && k->ts_ms >= filter->to_ms)
        return false;
    if (filter->kind && strcmp(k->kind, filter->kind) != 0)
        return false;
    if (!filter->kind && !filter->write_results && strcmp(k->kind, "write_result") == 0)
        return false;
    if (filter->min_priority >= 0 && k->priority < filter->min_priority)
        return false;
    if (filter->room && (!k->has_room || strcmp(k->room, filter->room) != 0))
        return false;
    if (filter->device && (!k->has_device || strcmp(k->device, filter->device) != 0))
        return false;
    if (filter->alarm_id && (!k->has_alarm || strcmp(k->alarm_id, filter->alarm_id) != 0))
        return false;
    if (filter->before_seq && k->seq >= filter->before_seq)
        return false;
    return true;
}

struct collected {
    int64_t seqs[ROWS];
    int count;
};

static int collect(const struct wg_event_row *row, void *ctx)
{
    struct collected *c = ctx;
    assert_true(c->count < ROWS);
    c->seqs[c->count++] = row->seq;
    return 0;
}

/* Searches as the API does: narrow to the time window, then the page. */
static void search(struct fixture *f, struct wg_event_filter filter, struct collected *out)
{
    out->count = 0;
    bool empty = false;
    assert_int_equal(store_read_narrow(f->reader, &filter, &empty), 0);
    if (!empty)
        assert_int_equal(store_read_events(f->reader, &filter, collect, out), 0);
}

static void expect(struct fixture *f, const struct wg_event_filter *filter,
                   const struct collected *got)
{
    struct collected want = {0};
    for (int i = ROWS - 1; i >= 0 && want.count < filter->limit; i--)
        if (matches(&f->rows[i], filter))
            want.seqs[want.count++] = f->rows[i].seq;
    if (got->count != want.count)
        fail_msg("filter kind=%s room=%s device=%s alarm=%s priority>=%d from=%lld to=%lld "
                 "before=%lld: %d rows, expected %d",
                 filter->kind ? filter->kind : "-", filter->room ? filter->room : "-",
                 filter->device ? filter->device : "-", filter->alarm_id ? filter->alarm_id : "-",
                 filter->min_priority, (long long)filter->from_ms, (long long)filter->to_ms,
                 (long long)filter->before_seq, got->count, want.count);
    for (int i = 0; i < want.count; i++)
        assert_int_equal(got->seqs[i], want.seqs[i]);
}

static void test_results_match_a_plain_filter(void **state)
{
    struct fixture *f = *state;
    int nonempty = 0;
    for (size_t k = 0; k < sizeof kinds / sizeof *kinds; k++)
        for (unsigned bits = 0; bits < 512; bits++) {
            if (k > 0 && !(bits & 4))
                continue;
            struct wg_event_filter filter = filter_of(bits, kinds[k]);
            filter.limit = ROWS;
            struct collected got;
            search(f, filter, &got);
            expect(f, &filter, &got);
            nonempty += got.count > 0;
        }
    print_message("# %d searches found rows\n", nonempty);
    assert_true(nonempty > 300);
    /* A window that holds only rows committed late: found, though their
     * seq lies far from their neighbours in time. */
    struct wg_event_filter late = {.from_ms = 1714521600000LL - 86400000LL,
                                   .to_ms = 1714521600000LL - 86400000LL + 3000000,
                                   .min_priority = -1,
                                   .write_results = true,
                                   .limit = ROWS};
    struct collected got;
    search(f, late, &got);
    expect(f, &late, &got);
    assert_true(got.count >= 2);
}

/* The export reads in pages, each below the last seq it saw. */
static void test_pages_give_every_row_once(void **state)
{
    struct fixture *f = *state;
    struct wg_event_filter filter = {
        .from_ms = 1714521600000LL + 100000, .min_priority = -1, .write_results = true};
    bool empty = false;
    assert_int_equal(store_read_narrow(f->reader, &filter, &empty), 0);
    assert_false(empty);
    struct collected all = {0};
    for (;;) {
        struct collected page = {0};
        filter.limit = 97;
        assert_int_equal(store_read_events(f->reader, &filter, collect, &page), 0);
        for (int i = 0; i < page.count; i++)
            all.seqs[all.count++] = page.seqs[i];
        if (page.count < 97)
            break;
        filter.before_seq = page.seqs[page.count - 1];
    }
    struct wg_event_filter plain = {.from_ms = 1714521600000LL + 100000,
                                    .min_priority = -1,
                                    .write_results = true,
                                    .limit = ROWS};
    expect(f, &plain, &all);
}

/* A window with no row at all: empty at once. */
static void test_empty_window(void **state)
{
    struct fixture *f = *state;
    struct wg_event_filter filter = {.from_ms = 1, .to_ms = 2, .min_priority = -1};
    bool empty = false;
    assert_int_equal(store_read_narrow(f->reader, &filter, &empty), 0);
    assert_true(empty);
}

/* The reader sees what the writer commits, without closing. */
static void test_sees_new_commits(void **state)
{
    struct fixture *f = *state;
    struct wg_event_filter filter = {.kind = "system", .min_priority = -1, .limit = ROWS};
    struct collected before, after;
    search(f, filter, &before);
    struct wg_event event = {.ts_ms = 1, .kind = "system", .priority = -1, .body = "{}"};
    event_new_id(&event);
    assert_int_equal(store_append_event(f->store, &event), 0);
    search(f, filter, &after);
    assert_int_equal(after.count, before.count + 1);
    assert_int_equal(after.seqs[0], event.seq);
}

/* ---- alarms by time, audit ---- */

static int count_alarm(const struct wg_event_row *row, void *ctx)
{
    int64_t *seen = ctx;
    assert_string_equal(row->kind, "alarm");
    assert_true(row->seq > seen[1]);
    seen[1] = row->seq;
    seen[0]++;
    return 0;
}

static void test_alarm_events_by_time(void **state)
{
    struct fixture *f = *state;
    int64_t from = 1714521600000LL + 200000, to = 1714521600000LL + 900000;
    int64_t want = 0;
    for (int i = 0; i < ROWS; i++)
        want += f->rows[i].has_alarm && f->rows[i].ts_ms >= from && f->rows[i].ts_ms < to;
    int64_t seen[2] = {0, 0};
    assert_int_equal(store_read_alarm_events(f->reader, from, to, count_alarm, seen), 0);
    assert_int_equal(seen[0], want);
    seen[0] = seen[1] = 0;
    assert_int_equal(store_read_alarm_events(f->reader, 1, 2, count_alarm, seen), 0);
    assert_int_equal(seen[0], 0);
}

static int audit_row(const struct wg_audit_row *row, void *ctx)
{
    int64_t *last = ctx;
    assert_true(*last == 0 || row->seq < *last);
    *last = row->seq;
    assert_string_equal(row->actor, "nurse1");
    return 0;
}

static void test_audit_newest_first(void **state)
{
    struct fixture *f = *state;
    for (int i = 0; i < 5; i++)
        assert_int_equal(
            store_audit(f->store, 1000 + i, "nurse1", "display", "alarm.ack", "A1", NULL), 0);
    int64_t last = 0;
    assert_int_equal(store_read_audit(f->reader, 0, 3, audit_row, &last), 0);
    assert_true(last > 0);
    int64_t before = last;
    last = 0;
    assert_int_equal(store_read_audit(f->reader, before, 10, audit_row, &last), 0);
    assert_true(last > 0 && last < before);
}

/* ---- a database the reader cannot use ---- */

static void test_refuses_what_it_cannot_use(void **state)
{
    struct fixture *f = *state;
    char err[512], *path = NULL;
    assert_null(store_reader_open("/nonexistent/dir/wg.db", WG_READER_WAIT_MS, err, sizeof err));
    assert_non_null(strstr(err, "/nonexistent/dir/wg.db"));
    /* A SQLite file without the history indexes: not migrated by this version. */
    assert_true(asprintf(&path, "%s/old.db", f->dir) > 0);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(
        sqlite3_exec(db, "CREATE TABLE events (seq INTEGER PRIMARY KEY)", NULL, NULL, NULL),
        SQLITE_OK);
    sqlite3_close(db);
    assert_null(store_reader_open(path, WG_READER_WAIT_MS, err, sizeof err));
    assert_non_null(strstr(err, "has no index"));
    assert_non_null(strstr(err, "start the daemon once"));
    free(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_every_filter_uses_an_index, setup, teardown),
        cmocka_unit_test_setup_teardown(test_results_match_a_plain_filter, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pages_give_every_row_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_empty_window, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sees_new_commits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_alarm_events_by_time, setup, teardown),
        cmocka_unit_test_setup_teardown(test_audit_newest_first, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refuses_what_it_cannot_use, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
