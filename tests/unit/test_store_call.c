/* Unit tests of calls run on the store writer's connection
 * (gateway/store/store_call.c) with a real writer thread: a waiting call
 * runs on the writer's thread and commits; a lock held by another
 * connection is answered WG_STORE_LOCKED with the store's message; a call
 * the writer cannot take in time is withdrawn; posted work survives a lock
 * in order and is written once it is gone; the writer's stop writes what is
 * queued and then refuses; the inline mode runs on the caller's thread.
 * About 6 s (the withdrawal waits out WG_STORE_CALL_WAIT_MS). */
#include "testutil.h"

#include <pthread.h>
#include <sqlite3.h>
#include <time.h>

#include "common/log.h"
#include "store/store.h"
#include "store/store_call.h"
#include "store/store_writer.h"

struct fixture {
    char *dir, *path;
    struct wg_store_calls *calls;
    struct wg_store_writer *writer;
};

static int setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof *fx);
    fx->dir = test_tmpdir();
    if (!fx->dir || asprintf(&fx->path, "%s/wardgate.db", fx->dir) < 0)
        return -1;
    struct wg_store_options options = {.path = fx->path, .busy_timeout_ms = 200};
    enum wg_store_status status;
    char err[512];
    struct wg_store *store = store_open(&options, &status, err, sizeof err);
    if (!store)
        return -1;
    fx->calls = store_calls_new();
    fx->writer = writer_new(store, &(struct wg_writer_options){.calls = fx->calls});
    if (!fx->writer || writer_start(fx->writer) != 0)
        return -1;
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *fx = *state;
    writer_free(fx->writer);
    store_calls_free(fx->calls);
    test_rmtree(fx->dir);
    free(fx->dir);
    free(fx->path);
    free(fx);
    return 0;
}

/* The work: inserts an audit row whose action is ctx's text, in a
 * transaction of its own; notes the thread it ran on. */
struct insert {
    const char *action;
    pthread_t thread;
    int sleep_ms; /* before it starts: a slow call */
    int started;  /* atomic: the writer has taken it */
};

static int insert_work(struct wg_store *store, void *ctx)
{
    struct insert *insert = ctx;
    insert->thread = pthread_self();
    __atomic_store_n(&insert->started, 1, __ATOMIC_RELEASE);
    if (insert->sleep_ms) {
        struct timespec pause = {insert->sleep_ms / 1000, (insert->sleep_ms % 1000) * 1000000L};
        nanosleep(&pause, NULL);
    }
    sqlite3 *db = store_connection(store);
    char sql[256];
    snprintf(sql, sizeof sql,
             "BEGIN IMMEDIATE; INSERT INTO audit (ts_ms, actor, action) VALUES (1, 'test', '%s'); "
             "COMMIT",
             insert->action);
    if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK) {
        store_sqlite_failed(store, sqlite3_extended_errcode(db), "inserting a test row");
        if (!sqlite3_get_autocommit(db))
            sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
        return -1;
    }
    return 0;
}

static void free_insert(void *ctx)
{
    free(ctx);
}

static void post(struct fixture *fx, const char *action)
{
    struct insert *insert = calloc(1, sizeof *insert);
    insert->action = action; /* a literal */
    assert_int_equal(store_call_post(fx->calls, action, insert_work, insert, free_insert), 0);
}

static char *actions(const char *path)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *stmt = NULL;
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT group_concat(action, ' ') FROM "
                                        "(SELECT action FROM audit ORDER BY seq)",
                                        -1, &stmt, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(stmt), SQLITE_ROW);
    const char *text = (const char *)sqlite3_column_text(stmt, 0);
    char *copy = strdup(text ? text : "");
    sqlite3_finalize(stmt);
    sqlite3_close(db);
    return copy;
}

/* Another connection holding the write lock. */
static sqlite3 *lock_database(const char *path)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "BEGIN EXCLUSIVE", NULL, NULL, NULL), SQLITE_OK);
    return db;
}

static void unlock_database(sqlite3 *db)
{
    assert_int_equal(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
}

/* A waiting call that is refused with `status`, its message holding `needle`. */
static void expect_refused(struct fixture *fx, const char *action, enum wg_store_status status,
                           const char *needle)
{
    struct insert insert = {.action = action};
    char message[768] = "";
    assert_int_equal(store_call(fx->calls, action, insert_work, &insert, message, sizeof message),
                     status);
    if (!strstr(message, needle))
        fail_msg("\"%s\" is not in \"%s\"", needle, message);
}

static void test_call_runs_on_the_writer(void **state)
{
    struct fixture *fx = *state;
    struct insert insert = {.action = "first"};
    char message[768] = "x";
    assert_int_equal(
        store_call(fx->calls, "a test row", insert_work, &insert, message, sizeof message),
        WG_STORE_OK);
    assert_string_equal(message, "");
    assert_false(pthread_equal(insert.thread, pthread_self()));
    char *text = actions(fx->path);
    assert_string_equal(text, "first");
    free(text);
    struct wg_store_calls_stats stats;
    store_calls_stats(fx->calls, &stats);
    assert_int_equal(stats.run, 1);
    assert_int_equal(stats.failed, 0);
}

static void test_locked_then_posted_in_order(void **state)
{
    struct fixture *fx = *state;
    sqlite3 *locker = lock_database(fx->path);
    expect_refused(fx, "a refused row", WG_STORE_LOCKED, "is locked by another process");
    expect_refused(fx, "a refused row", WG_STORE_LOCKED, fx->path);
    post(fx, "one");
    post(fx, "two");
    post(fx, "three");
    assert_int_equal(store_calls_flush(fx->calls, 600), -1); /* still locked */
    struct wg_store_calls_stats stats;
    store_calls_stats(fx->calls, &stats);
    assert_int_equal(stats.posted_waiting, 3);
    assert_true(stats.failed >= 2);
    unlock_database(locker);
    assert_int_equal(store_calls_flush(fx->calls, 30000), 0);
    char *text = actions(fx->path);
    assert_string_equal(text, "one two three"); /* nothing lost, nothing twice, in order */
    free(text);
}

/* A call the writer cannot take within the bound (it is busy with a slow
 * one) is withdrawn and never runs. */
struct slow_caller {
    struct fixture *fx;
    struct insert insert;
    enum wg_store_status status;
};

static void *slow_call(void *arg)
{
    struct slow_caller *caller = arg;
    caller->status =
        store_call(caller->fx->calls, "a slow row", insert_work, &caller->insert, NULL, 0);
    return NULL;
}

static void test_withdrawn_when_not_taken(void **state)
{
    struct fixture *fx = *state;
    struct slow_caller slow = {
        .fx = fx, .insert = {.action = "slow", .sleep_ms = WG_STORE_CALL_WAIT_MS + 1500}};
    pthread_t thread;
    assert_int_equal(pthread_create(&thread, NULL, slow_call, &slow), 0);
    /* Wait until the writer has taken the slow one. */
    while (!__atomic_load_n(&slow.insert.started, __ATOMIC_ACQUIRE)) {
        struct timespec pause = {0, 1000000};
        nanosleep(&pause, NULL);
    }
    expect_refused(fx, "a late row", WG_STORE_LOCKED, "did not take a late row");
    pthread_join(thread, NULL);
    assert_int_equal(slow.status, WG_STORE_OK);
    char *text = actions(fx->path);
    assert_string_equal(text, "slow"); /* the withdrawn one never ran */
    free(text);
    struct wg_store_calls_stats stats;
    store_calls_stats(fx->calls, &stats);
    assert_int_equal(stats.withdrawn, 1);
}

static void test_stop_writes_what_is_queued(void **state)
{
    struct fixture *fx = *state;
    sqlite3 *locker = lock_database(fx->path);
    post(fx, "queued");
    assert_int_equal(store_calls_flush(fx->calls, 300), -1);
    unlock_database(locker);
    writer_stop(fx->writer); /* its last try writes it, whatever the back-off */
    char *text = actions(fx->path);
    assert_string_equal(text, "queued");
    free(text);
    expect_refused(fx, "a row after the stop", WG_STORE_IO, "stopped");
    struct insert *refused = calloc(1, sizeof *refused);
    refused->action = "refused";
    assert_int_equal(store_call_post(fx->calls, "refused", insert_work, refused, free_insert), -1);
}

static void test_inline(void **state)
{
    (void)state;
    char *dir = test_tmpdir(), *path = NULL;
    assert_true(asprintf(&path, "%s/inline.db", dir) > 0);
    struct wg_store_options options = {.path = path};
    enum wg_store_status status;
    struct wg_store *store = store_open(&options, &status, NULL, 0);
    assert_non_null(store);
    struct wg_store_calls *calls = store_calls_new_inline(store);
    struct insert insert = {.action = "inline"};
    assert_int_equal(store_call(calls, "a test row", insert_work, &insert, NULL, 0), WG_STORE_OK);
    assert_true(pthread_equal(insert.thread, pthread_self()));
    store_calls_free(calls);
    store_close(store);
    char *text = actions(path);
    assert_string_equal(text, "inline");
    free(text);
    assert_int_equal(store_call(NULL, "nothing", insert_work, &insert, NULL, 0), WG_STORE_IO);
    test_rmtree(dir);
    free(dir);
    free(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_call_runs_on_the_writer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_locked_then_posted_in_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_withdrawn_when_not_taken, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop_writes_what_is_queued, setup, teardown),
        cmocka_unit_test(test_inline),
    };
    wg_log_set_level(WG_LOG_CRIT); /* the lock's failures are expected */
    return cmocka_run_group_tests(tests, NULL, NULL);
}
