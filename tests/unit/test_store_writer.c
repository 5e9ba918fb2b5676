/* Unit tests of the store writer thread (gateway/store/store_writer.c, writer_*.c) against a
 * real SQLite file: writes come back in order with consecutive seqs; a
 * locked database makes it report the failure and keep everything, in
 * order, until the lock goes; a write the store refuses never blocks the
 * ones after it; at the memory bound the least valuable writes go first and
 * alarms last; at stop it tries once more and hands back what it could not
 * write; outbox deletes; an idle WAL is truncated; the WAL keeps its share
 * of the bound while another connection reads an old snapshot. */
#include "testutil.h"
#include "testconfig.h"

#include <poll.h>
#include <sys/stat.h>
#include <time.h>

#include <sqlite3.h>

#include "common/log.h"
#include "store/store.h"
#include "store/store_read.h"
#include "store/store_writer.h"

struct fixture {
    char *dir;
    char *path;
    struct wg_store_writer *writer;
};

static int64_t mono_ms(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

static int64_t wall_ms(void)
{
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    return (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

static struct wg_store_writer *open_writer(struct fixture *fx,
                                           const struct wg_writer_options *options,
                                           int busy_timeout_ms, bool start)
{
    struct wg_store *store = test_open_store_with(fx->path, 64LL << 20, busy_timeout_ms);
    assert_non_null(store);
    struct wg_store_writer *writer = writer_new(store, options);
    assert_non_null(writer);
    writer_set_now(writer, wall_ms());
    if (start)
        assert_int_equal(writer_start(writer), 0);
    return writer;
}

static int setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof *fx);
    fx->dir = test_tmpdir();
    if (!fx->dir || asprintf(&fx->path, "%s/writer.db", fx->dir) < 0)
        return -1;
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *fx = *state;
    writer_free(fx->writer);
    test_rmtree(fx->dir);
    free(fx->dir);
    free(fx->path);
    free(fx);
    return 0;
}

static struct wg_write *event_write(const char *kind, enum wg_write_class write_class,
                                    const char *body)
{
    struct wg_event proto = {.ts_ms = wall_ms(),
                             .kind = kind,
                             .priority = -1,
                             .uplink =
                                 write_class == WG_CLASS_ALARM ? WG_UPLINK_ALARM : WG_UPLINK_NONE};
    struct wg_write *write = wg_write_event(&proto, body, write_class);
    assert_non_null(write);
    return write;
}

/* Links writes into a list in the order given. */
static struct wg_write *chain(struct wg_write **writes, size_t count)
{
    for (size_t i = 0; i + 1 < count; i++)
        writes[i]->next = writes[i + 1];
    writes[count - 1]->next = NULL;
    return writes[0];
}

/* Collects what the writer hands back until `want` writes came (or 10 s). */
static size_t collect(struct wg_store_writer *writer, struct wg_write **out, size_t want)
{
    size_t got = 0;
    int64_t deadline = mono_ms() + 10000;
    while (got < want && mono_ms() < deadline) {
        struct pollfd ready = {.fd = writer_fd(writer), .events = POLLIN};
        poll(&ready, 1, 100);
        for (struct wg_write *w = writer_take(writer); w;) {
            struct wg_write *next = w->next;
            w->next = NULL;
            if (got < want)
                out[got++] = w;
            else
                wg_write_free(w);
            w = next;
        }
    }
    return got;
}

/* Another process's connection holding the write lock (BEGIN EXCLUSIVE). */
static sqlite3 *lock_database(const char *path)
{
    sqlite3 *other = NULL;
    assert_int_equal(sqlite3_open(path, &other), SQLITE_OK);
    assert_int_equal(sqlite3_exec(other, "BEGIN EXCLUSIVE", NULL, NULL, NULL), SQLITE_OK);
    return other;
}

static bool wait_for_status(struct wg_store_writer *writer, bool failing)
{
    int64_t deadline = mono_ms() + 10000;
    struct wg_writer_status status;
    do {
        writer_status(writer, &status);
        if (status.failing == failing)
            return true;
        struct pollfd ready = {.fd = writer_fd(writer), .events = POLLIN};
        poll(&ready, 1, 50);
    } while (mono_ms() < deadline);
    return false;
}

static void test_writes_come_back_in_order(void **state)
{
    struct fixture *fx = *state;
    fx->writer = open_writer(fx, NULL, 200, true);
    enum { N = 3000 };
    struct wg_write **writes = calloc(N, sizeof *writes);
    for (size_t i = 0; i < N; i++) {
        char body[64];
        snprintf(body, sizeof body, "{\"n\":%zu}", i);
        writes[i] = event_write("point", WG_CLASS_POINT, body);
    }
    /* In several hands, as the core flushes. */
    for (size_t first = 0; first < N; first += 500)
        assert_null(writer_submit(fx->writer, chain(writes + first, 500)));
    struct wg_write **back = calloc(N, sizeof *back);
    assert_int_equal(collect(fx->writer, back, N), N);
    for (size_t i = 0; i < N; i++) {
        assert_ptr_equal(back[i], writes[i]);
        assert_true(back[i]->committed);
        if (i > 0)
            assert_int_equal(back[i]->seq, back[i - 1]->seq + 1);
    }
    for (size_t i = 0; i < N; i++)
        wg_write_free(back[i]);
    struct wg_writer_status status;
    writer_status(fx->writer, &status);
    assert_int_equal(status.held_writes, 0);
    assert_int_equal(status.waiting_events, 0);
    assert_int_equal(status.committed_events, N);
    free(writes);
    free(back);
}

/* Another process holds the write lock: reported, nothing lost, retried in
 * order once it goes. */
static void test_locked_is_reported_and_retried_in_order(void **state)
{
    struct fixture *fx = *state;
    fx->writer = open_writer(fx, NULL, 50, true);
    sqlite3 *other = lock_database(fx->path);
    enum { N = 40 };
    struct wg_write *writes[N];
    for (size_t i = 0; i < N; i++)
        writes[i] =
            event_write(i % 4 ? "point" : "alarm", i % 4 ? WG_CLASS_POINT : WG_CLASS_ALARM, "{}");
    assert_null(writer_submit(fx->writer, chain(writes, N / 2)));
    assert_true(wait_for_status(fx->writer, true));
    assert_null(writer_submit(fx->writer, chain(writes + N / 2, N / 2)));
    struct wg_writer_status status;
    writer_status(fx->writer, &status);
    assert_int_equal(status.status, WG_STORE_LOCKED);
    assert_string_equal(store_status_reason(status.status), "locked");
    assert_non_null(strstr(status.message, "locked by another process"));
    assert_int_equal(status.waiting_events, N);
    assert_null(writer_take(fx->writer));
    usleep(300 * 1000); /* a few retries, all refused */
    writer_status(fx->writer, &status);
    assert_true(status.failures >= 2);

    assert_int_equal(sqlite3_exec(other, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(other);
    struct wg_write *back[N];
    assert_int_equal(collect(fx->writer, back, N), N);
    for (size_t i = 0; i < N; i++) {
        assert_ptr_equal(back[i], writes[i]);
        assert_true(back[i]->committed);
        if (i > 0)
            assert_int_equal(back[i]->seq, back[i - 1]->seq + 1);
    }
    for (size_t i = 0; i < N; i++)
        wg_write_free(back[i]);
    assert_true(wait_for_status(fx->writer, false));
}

/* An event id already in the journal is a bug: refused, handed back, never
 * in the way of the writes after it. */
static void test_refused_write_does_not_block(void **state)
{
    struct fixture *fx = *state;
    fx->writer = open_writer(fx, NULL, 200, true);
    struct wg_write *writes[3] = {event_write("point", WG_CLASS_POINT, "{\"a\":1}"), NULL,
                                  event_write("point", WG_CLASS_POINT, "{\"a\":2}")};
    struct wg_event again = writes[0]->u.event.event; /* the same id */
    writes[1] = wg_write_event(&again, "{\"a\":3}", WG_CLASS_POINT);
    assert_null(writer_submit(fx->writer, chain(writes, 3)));
    struct wg_write *back[3];
    assert_int_equal(collect(fx->writer, back, 3), 3);
    assert_true(back[0]->committed && !back[0]->refused);
    assert_true(back[1]->refused && !back[1]->committed);
    assert_true(back[2]->committed);
    assert_int_equal(back[2]->seq, back[0]->seq + 1);
    struct wg_writer_status status;
    writer_status(fx->writer, &status);
    assert_false(status.failing);
    for (int i = 0; i < 3; i++)
        wg_write_free(back[i]);
}

static size_t count_class(const struct wg_write *list, enum wg_write_class write_class)
{
    size_t n = 0;
    for (; list; list = list->next)
        n += list->write_class == write_class;
    return n;
}

/* The memory bound: readings go first, then telemetry, point changes, ...,
 * alarms last; oldest first within a class; outbox deletes never. */
static void test_memory_bound_drops_alarms_last(void **state)
{
    struct fixture *fx = *state;
    struct wg_writer_options options = {.max_held_writes = 100};
    fx->writer = open_writer(fx, &options, 200, false); /* not started: nothing is written */
    struct wg_write *writes[80];
    const enum wg_write_class classes[] = {WG_CLASS_ALARM, WG_CLASS_POINT, WG_CLASS_TELEMETRY,
                                           WG_CLASS_HEALTH};
    const char *kinds[] = {"alarm", "point", "telemetry", "device_health"};
    for (size_t i = 0; i < 80; i++)
        writes[i] = event_write(kinds[i % 4], classes[i % 4], "{}");
    assert_null(writer_submit(fx->writer, chain(writes, 80)));
    struct wg_write *readings[30];
    const char *point = "p";
    for (size_t i = 0; i < 30; i++) {
        struct wg_reading_aggregate aggregate = {0, 1, 1, 1, 1, 1, 0};
        readings[i] = wg_write_readings("m", 1, &point, &aggregate);
    }
    /* 110 held: down to 90 = 20 dropped, all of them readings, the oldest. */
    struct wg_write *dropped = writer_submit(fx->writer, chain(readings, 30));
    assert_int_equal(count_class(dropped, WG_CLASS_READING), 20);
    size_t n = 0;
    for (struct wg_write *w = dropped; w; w = w->next)
        assert_ptr_equal(w, readings[n++]);
    wg_write_free_list(dropped);

    /* 40 more alarms and a delete: 131 held, down to 90: 10 readings, 20
     * telemetry, then 11 of the 20 point changes; no alarm, no delete. */
    struct wg_write *more[41];
    for (size_t i = 0; i < 40; i++)
        more[i] = event_write("alarm", WG_CLASS_ALARM, "{}");
    int64_t seq = 1;
    more[40] = wg_write_outbox_deletes(&seq, 1);
    dropped = writer_submit(fx->writer, chain(more, 41));
    assert_int_equal(count_class(dropped, WG_CLASS_READING), 10);
    assert_int_equal(count_class(dropped, WG_CLASS_TELEMETRY), 20);
    assert_int_equal(count_class(dropped, WG_CLASS_POINT), 11);
    assert_int_equal(count_class(dropped, WG_CLASS_ALARM), 0);
    assert_int_equal(count_class(dropped, WG_CLASS_KEEP), 0);
    wg_write_free_list(dropped);

    /* Only alarms and health beyond: health goes, then the oldest alarms. */
    struct wg_write *flood[60];
    for (size_t i = 0; i < 60; i++)
        flood[i] = event_write("alarm", WG_CLASS_ALARM, "{}");
    dropped = writer_submit(fx->writer, chain(flood, 60));
    assert_int_equal(count_class(dropped, WG_CLASS_POINT), 9);
    assert_int_equal(count_class(dropped, WG_CLASS_HEALTH), 20);
    assert_int_equal(count_class(dropped, WG_CLASS_ALARM), 31);
    struct wg_write *first_alarm = NULL;
    for (struct wg_write *w = dropped; w && !first_alarm; w = w->next)
        if (w->write_class == WG_CLASS_ALARM)
            first_alarm = w;
    assert_ptr_equal(first_alarm, writes[0]); /* the oldest alarm went first */
    wg_write_free_list(dropped);
    struct wg_writer_status status;
    writer_status(fx->writer, &status);
    assert_int_equal(status.held_writes, 90);
    assert_int_equal(status.dropped[WG_CLASS_ALARM], 31);
    assert_int_equal(status.dropped[WG_CLASS_KEEP], 0);
    struct wg_write *held = writer_take_unwritten(fx->writer);
    size_t left = 0;
    for (struct wg_write *w = held; w; w = w->next)
        left++;
    assert_int_equal(left, 90);
    assert_int_equal(count_class(held, WG_CLASS_KEEP), 1);
    wg_write_free_list(held);
}

/* The bytes bound counts as well. */
static void test_memory_bound_by_bytes(void **state)
{
    struct fixture *fx = *state;
    struct wg_writer_options options = {.max_held_bytes = 64 * 1024};
    fx->writer = open_writer(fx, &options, 200, false);
    char body[2100];
    snprintf(body, sizeof body, "{\"pad\":\"%02000d\"}", 1);
    size_t dropped_total = 0;
    for (int i = 0; i < 100; i++) {
        struct wg_write *write = event_write(i % 10 ? "telemetry" : "alarm",
                                             i % 10 ? WG_CLASS_TELEMETRY : WG_CLASS_ALARM, body);
        struct wg_write *dropped = writer_submit(fx->writer, write);
        assert_int_equal(count_class(dropped, WG_CLASS_ALARM), 0);
        for (struct wg_write *w = dropped; w; w = w->next)
            dropped_total++;
        wg_write_free_list(dropped);
    }
    struct wg_writer_status status;
    writer_status(fx->writer, &status);
    assert_true(status.held_bytes <= 64 * 1024);
    assert_true(dropped_total > 0);
    struct wg_write *held = writer_take_unwritten(fx->writer);
    assert_int_equal(count_class(held, WG_CLASS_ALARM), 10);
    wg_write_free_list(held);
}

/* At stop with the database locked: one more try, then everything is handed
 * back unwritten, in order. */
static void test_stop_hands_back_what_could_not_be_written(void **state)
{
    struct fixture *fx = *state;
    fx->writer = open_writer(fx, NULL, 50, true);
    sqlite3 *other = lock_database(fx->path);
    struct wg_write *writes[5];
    for (size_t i = 0; i < 5; i++)
        writes[i] = event_write("alarm", WG_CLASS_ALARM, "{}");
    assert_null(writer_submit(fx->writer, chain(writes, 5)));
    assert_true(wait_for_status(fx->writer, true));
    writer_stop(fx->writer);
    struct wg_writer_status status;
    writer_status(fx->writer, &status);
    assert_true(status.failures >= 2); /* the first try and the last one */
    assert_null(writer_take(fx->writer));
    struct wg_write *lost = writer_take_unwritten(fx->writer);
    size_t n = 0;
    for (struct wg_write *w = lost; w; w = w->next)
        assert_ptr_equal(w, writes[n++]);
    assert_int_equal(n, 5);
    wg_write_free_list(lost);
    sqlite3_exec(other, "COMMIT", NULL, NULL, NULL);
    sqlite3_close(other);
}

/* Outbox deletes go through the writer too. */
static void test_outbox_deletes(void **state)
{
    struct fixture *fx = *state;
    fx->writer = open_writer(fx, NULL, 200, true);
    struct wg_write *writes[4];
    for (size_t i = 0; i < 4; i++)
        writes[i] = event_write("alarm", WG_CLASS_ALARM, "{}");
    assert_null(writer_submit(fx->writer, chain(writes, 4)));
    struct wg_write *back[4];
    assert_int_equal(collect(fx->writer, back, 4), 4);
    for (int i = 0; i < 4; i++)
        wg_write_free(back[i]);
    char err[256];
    struct wg_store_reader *query_reader =
        store_reader_open(fx->path, WG_READER_NO_WAIT_MS, err, sizeof err);
    assert_non_null(query_reader);
    struct wg_store *reader = store_reader_store(query_reader);
    assert_int_equal(store_outbox_count(reader), 4);
    int64_t seqs[2] = {1, 2};
    struct wg_write *deletes = wg_write_outbox_deletes(seqs, 2);
    deletes->tag = 7;
    assert_null(writer_submit(fx->writer, deletes));
    struct wg_write *done;
    assert_int_equal(collect(fx->writer, &done, 1), 1);
    assert_true(done->committed);
    assert_int_equal(done->tag, 7);
    wg_write_free(done);
    assert_int_equal(store_outbox_count(reader), 2);
    /* The reader never writes. */
    struct wg_event event = {.kind = "point", .priority = -1, .body = "{}"};
    assert_int_equal(store_append_event(reader, &event), -1);
    assert_int_equal(store_last_status(reader), WG_STORE_REFUSED);
    store_reader_close(query_reader);
    /* The writer's usage figures follow its housekeeping, a moment after
     * it hands the writes back. */
    struct wg_writer_status status;
    int64_t deadline = mono_ms() + 5000;
    do {
        writer_status(fx->writer, &status);
        if (status.usage.outbox.total_rows == 2)
            break;
        usleep(20 * 1000);
    } while (mono_ms() < deadline);
    assert_int_equal(status.usage.outbox.total_rows, 2);
}

/* When writing pauses, the WAL is checkpointed and truncated: an idle
 * database is one file. */
static void test_idle_wal_is_truncated(void **state)
{
    struct fixture *fx = *state;
    fx->writer = open_writer(fx, NULL, 200, true);
    enum { N = 2000 };
    struct wg_write **writes = calloc(N, sizeof *writes);
    for (size_t i = 0; i < N; i++)
        writes[i] = event_write("point", WG_CLASS_POINT, "{\"pad\":\"0123456789012345678901\"}");
    assert_null(writer_submit(fx->writer, chain(writes, N)));
    struct wg_write **back = calloc(N, sizeof *back);
    assert_int_equal(collect(fx->writer, back, N), N);
    for (size_t i = 0; i < N; i++)
        wg_write_free(back[i]);
    char wal[600];
    snprintf(wal, sizeof wal, "%s-wal", fx->path);
    int64_t deadline = mono_ms() + 10000;
    struct stat st;
    while (mono_ms() < deadline && (stat(wal, &st) != 0 || st.st_size > 0))
        usleep(100 * 1000);
    assert_int_equal(stat(wal, &st), 0);
    assert_int_equal(st.st_size, 0);
    free(writes);
    free(back);
}

/* The WAL is part of the bound even while another connection reads an old
 * snapshot (which keeps a checkpoint from truncating it): the writer holds
 * its writes back instead of growing the WAL past its share, reports that
 * as a storage failure ("locked") after 2 s, and goes on, everything in
 * order, once the reader is done. */
static void test_wal_bound_kept_against_an_old_reader(void **state)
{
    struct fixture *fx = *state;
    struct wg_store *store = test_open_store_with(fx->path, 4LL << 20, 50);
    assert_non_null(store);
    fx->writer = writer_new(store, NULL);
    assert_non_null(fx->writer);
    writer_set_now(fx->writer, wall_ms());
    assert_int_equal(writer_start(fx->writer), 0);
    struct wg_write *first = event_write("point", WG_CLASS_POINT, "{\"n\":0}");
    assert_null(writer_submit(fx->writer, first));
    struct wg_write *back_first = NULL;
    assert_int_equal(collect(fx->writer, &back_first, 1), 1);
    wg_write_free(back_first);

    /* The old reader: a read transaction left open on the snapshot of now. */
    sqlite3 *reader = NULL;
    sqlite3_stmt *stmt = NULL;
    assert_int_equal(sqlite3_open_v2(fx->path, &reader, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_exec(reader, "BEGIN", NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(reader, "SELECT count(*) FROM events", -1, &stmt, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(stmt), SQLITE_ROW);
    sqlite3_finalize(stmt);

    enum { N = 3000 };
    struct wg_write **writes = calloc(N, sizeof *writes);
    for (size_t i = 0; i < N; i++)
        writes[i] = event_write("point", WG_CLASS_POINT,
                                "{\"pad\":\"0123456789012345678901234567890123456789012345678901"
                                "23456789012345678901234567890123456789012345678901234567890123"
                                "456789012345678901234567890123456789\"}");
    assert_null(writer_submit(fx->writer, chain(writes, N)));
    char wal[600];
    snprintf(wal, sizeof wal, "%s-wal", fx->path);
    struct wg_writer_status status;
    writer_status(fx->writer, &status);
    int64_t budget = status.usage.wal_budget_bytes, largest = 0;
    assert_true(budget > 0);
    bool reported = false;
    for (int64_t until = mono_ms() + 6000; mono_ms() < until;) {
        struct stat st;
        if (stat(wal, &st) == 0 && st.st_size > largest)
            largest = st.st_size;
        writer_status(fx->writer, &status);
        if (status.failing && status.status == WG_STORE_LOCKED)
            reported = true;
        usleep(20 * 1000);
    }
    print_message("# WAL share %lld bytes, largest WAL while the reader held on: %lld bytes, "
                  "%zu events waiting\n",
                  (long long)budget, (long long)largest, status.waiting_events);
    assert_true(largest <= 2 * budget);
    assert_true(reported);
    assert_true(status.waiting_events > 0);

    assert_int_equal(sqlite3_exec(reader, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(reader);
    struct wg_write **back = calloc(N, sizeof *back);
    assert_int_equal(collect(fx->writer, back, N), N);
    int64_t previous = 0;
    for (size_t i = 0; i < N; i++) {
        assert_true(i == 0 || back[i]->seq == previous + 1);
        previous = back[i]->seq;
        wg_write_free(back[i]);
    }
    assert_true(wait_for_status(fx->writer, false));
    free(writes);
    free(back);
}

int main(void)
{
    wg_log_set_level(WG_LOG_WARNING);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_writes_come_back_in_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_locked_is_reported_and_retried_in_order, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_refused_write_does_not_block, setup, teardown),
        cmocka_unit_test_setup_teardown(test_memory_bound_drops_alarms_last, setup, teardown),
        cmocka_unit_test_setup_teardown(test_memory_bound_by_bytes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop_hands_back_what_could_not_be_written, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_outbox_deletes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_idle_wal_is_truncated, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wal_bound_kept_against_an_old_reader, setup, teardown),
    };
    return cmocka_run_group_tests_name("store_writer", tests, NULL, NULL);
}
