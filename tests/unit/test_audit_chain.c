/* Unit tests of the audit log's hash chain (gateway/store/audit_chain.c with
 * store_audit.c and the size bound's eviction): an intact chain verifies; a
 * changed row, a removed row, a changed newest row, a deleted anchor are each
 * named; eviction moves the anchor and the chain still verifies; migration 8
 * chains the rows a database already held; the verifier refuses what it
 * cannot check and never writes. */
#include "testutil.h"

#include <sys/stat.h>
#include <time.h>

#include <sqlite3.h>

#include "common/log.h"
#include "store/audit_chain.h"
#include "store/migrations.h"
#include "store/store.h"

static struct wg_store *open_store(const char *path, long long max_bytes)
{
    struct wg_store_options options = {
        .path = path, .max_bytes = max_bytes, .busy_timeout_ms = 200};
    enum wg_store_status status = WG_STORE_IO;
    char err[512] = "unset";
    struct wg_store *store = store_open(&options, &status, err, sizeof err);
    if (!store)
        fail_msg("store_open(%s): %s", path, err);
    return store;
}

static void raw_exec(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    char *msg = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK)
        fail_msg("%s: %s", sql, msg ? msg : sqlite3_errstr(rc));
    sqlite3_free(msg);
    sqlite3_close(db);
}

static int64_t raw_int(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *stmt = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &stmt, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(stmt), SQLITE_ROW);
    int64_t value = sqlite3_column_int64(stmt, 0);
    sqlite3_finalize(stmt);
    sqlite3_close(db);
    return value;
}

/* Five rows: NULL and empty fields, a JSON detail, two actors. */
static void write_five(struct wg_store *store)
{
    int64_t t = 1764900000000LL;
    assert_int_equal(
        store_audit(store, t, "admin", "command line", "user.add", "alice", "{\"role\":\"admin\"}"),
        0);
    assert_int_equal(store_audit(store, t + 1000, "alice", "10.0.0.5", "login", NULL, NULL), 0);
    assert_int_equal(store_audit(store, t + 2000, "alice", "10.0.0.5", "config.save", "site.yaml",
                                 "{\"devices\":12}"),
                     0);
    assert_int_equal(store_audit(store, t + 3000, "nurse1", "", "alarm.ack", "A-7", "{}"), 0);
    assert_int_equal(store_audit(store, t + 4000, "alice", "10.0.0.5", "logout", NULL, NULL), 0);
}

static struct wg_audit_verdict verify_ok(const char *path)
{
    struct wg_audit_verdict verdict;
    char err[512] = "";
    if (audit_chain_verify(path, &verdict, err, sizeof err) != 0)
        fail_msg("verify %s: %s", path, err);
    return verdict;
}

/* Five rows written by the store, then `tamper` run on another connection,
 * as someone with the sqlite3 tool would: what the walk finds. */
static struct wg_audit_verdict five_rows_then(const char *path, const char *tamper)
{
    struct wg_store *store = open_store(path, 0);
    write_five(store);
    store_close(store);
    raw_exec(path, tamper);
    return verify_ok(path);
}

static void test_intact_chain_verifies(void **state)
{
    struct test_db_dir *fx = *state;
    struct wg_store *store = open_store(fx->path, 0);
    write_five(store);
    store_close(store);
    struct wg_audit_verdict verdict = verify_ok(fx->path);
    assert_int_equal(verdict.broken_seq, 0);
    assert_int_equal(verdict.rows, 5);
    assert_int_equal(verdict.first_seq, 1);
    assert_int_equal(verdict.last_seq, 5);
    assert_int_equal(verdict.anchor_seq, 0);
    /* Every row has its 32-byte hash, all different. */
    assert_int_equal(raw_int(fx->path, "SELECT count(DISTINCT hash) FROM audit WHERE "
                                       "length(hash) = 32"),
                     5);
    /* Reopening continues the chain. */
    store = open_store(fx->path, 0);
    assert_int_equal(
        store_audit(store, 1764900009000LL, "admin", "web", "user.remove", "bob", NULL), 0);
    store_close(store);
    verdict = verify_ok(fx->path);
    assert_int_equal(verdict.broken_seq, 0);
    assert_int_equal(verdict.rows, 6);
}

static void test_changed_row_is_named(void **state)
{
    struct test_db_dir *fx = *state;
    struct wg_audit_verdict verdict =
        five_rows_then(fx->path, "UPDATE audit SET detail = '{\"devices\":13}' WHERE seq = 3");
    assert_int_equal(verdict.broken_seq, 3);
    assert_int_equal(verdict.rows, 2); /* the rows before it */
    assert_non_null(strstr(verdict.why, "audit row 3 "));
    assert_non_null(strstr(verdict.why, "config.save site.yaml by alice"));
    assert_non_null(strstr(verdict.why, "its content was changed after it was written"));

    /* Put back, it verifies; a target from NULL to "" is a change too. */
    raw_exec(fx->path, "UPDATE audit SET detail = '{\"devices\":12}' WHERE seq = 3");
    assert_int_equal(verify_ok(fx->path).broken_seq, 0);
    raw_exec(fx->path, "UPDATE audit SET target = '' WHERE seq = 2");
    assert_int_equal(verify_ok(fx->path).broken_seq, 2);
}

static void test_removed_row_is_named(void **state)
{
    struct test_db_dir *fx = *state;
    struct wg_audit_verdict verdict = five_rows_then(fx->path, "DELETE FROM audit WHERE seq = 3");
    assert_int_equal(verdict.broken_seq, 4);
    assert_non_null(strstr(verdict.why, "rows before it are missing"));
}

static void test_changed_newest_row_and_rehashed_row(void **state)
{
    struct test_db_dir *fx = *state;
    /* A changed newest row with a hash that is not the chain's (here a
     * random one) is named. One recomputed from the row before would not
     * be: the chain is not keyed (docs/storage.md, what it proves). */
    struct wg_audit_verdict verdict = five_rows_then(
        fx->path, "UPDATE audit SET actor = 'bob', hash = randomblob(32) WHERE seq = 5");
    assert_int_equal(verdict.broken_seq, 5);
    assert_int_equal(verdict.rows, 4);
    assert_non_null(strstr(verdict.why, "logout by bob"));
}

static void test_deleted_anchor_is_named(void **state)
{
    struct test_db_dir *fx = *state;
    struct wg_audit_verdict verdict = five_rows_then(fx->path, "DELETE FROM audit_anchor");
    assert_int_not_equal(verdict.broken_seq, 0);
    assert_non_null(strstr(verdict.why, "anchor"));
}

/* The size bound evicts the oldest audit rows once nothing else is left:
 * the anchor moves with them, the chain still verifies, and the next row
 * never takes a seq used before. */
static void test_eviction_moves_the_anchor(void **state)
{
    struct test_db_dir *fx = *state;
    struct wg_store *store = open_store(fx->path, 1024 * 1024);
    char detail[1200];
    snprintf(detail, sizeof detail, "{\"pad\":\"%01000d\"}", 7);
    int written = 0;
    for (int batch = 0; batch < 300; batch++) {
        assert_int_equal(store_begin(store), 0);
        for (int i = 0; i < 10; i++, written++)
            if (store_audit(store, 1764900000000LL + written, "admin", "web", "config.save",
                            "site.yaml", detail) != 0)
                fail_msg("audit row %d: %s", written, store_last_error(store));
        assert_int_equal(store_commit(store), 0);
        struct wg_store_eviction evicted = {0};
        assert_int_equal(store_evict(store, 0, &evicted), 0);
    }
    store_close(store);
    struct wg_audit_verdict verdict = verify_ok(fx->path);
    print_message(
        "# audit chain: %d rows written into 1 MiB, the newest %lld kept (seq %lld-%lld), "
        "anchor at %lld\n",
        written, (long long)verdict.rows, (long long)verdict.first_seq, (long long)verdict.last_seq,
        (long long)verdict.anchor_seq);
    assert_int_equal(verdict.broken_seq, 0);
    assert_true(verdict.anchor_seq > 0);
    assert_int_equal(verdict.first_seq, verdict.anchor_seq + 1);
    assert_int_equal(verdict.last_seq, written);
    assert_true(verdict.rows < written);

    /* Every row evicted: the next one continues after the anchor. */
    raw_exec(fx->path, "UPDATE audit_anchor SET (seq, hash) = (SELECT seq, hash FROM audit "
                       "ORDER BY seq DESC LIMIT 1); DELETE FROM audit");
    store = open_store(fx->path, 0);
    assert_int_equal(store_audit(store, 1764990000000LL, "admin", "web", "login", NULL, NULL), 0);
    store_close(store);
    verdict = verify_ok(fx->path);
    assert_int_equal(verdict.broken_seq, 0);
    assert_int_equal(verdict.first_seq, written + 1);
}

/* A database of schema 7 with audit rows (the oldest already evicted):
 * migration 8 chains them from a zero anchor just below the first. */
static void test_migration_chains_existing_rows(void **state)
{
    struct test_db_dir *fx = *state;
    size_t known = 0;
    const struct wg_migration *migrations = migrations_list(&known);
    assert_true(known >= 8);
    char sql[256];
    snprintf(sql, sizeof sql, "PRAGMA application_id = %d", WG_STORE_APPLICATION_ID);
    raw_exec(fx->path, sql);
    for (size_t i = 0; i < 7; i++) {
        raw_exec(fx->path, migrations[i].sql);
        snprintf(sql, sizeof sql,
                 "INSERT INTO migrations (version, name, applied_ms) VALUES (%d, 'v', 1)",
                 migrations[i].version);
        raw_exec(fx->path, sql);
    }
    raw_exec(fx->path, "INSERT INTO audit (seq, ts_ms, actor, origin, action, target, detail) "
                       "VALUES (10, 1, 'admin', 'web', 'login', NULL, NULL), "
                       "(11, 2, 'admin', 'web', 'user.add', 'bob', '{\"role\":\"nurse\"}'), "
                       "(12, 3, 'admin', 'web', 'logout', NULL, NULL)");
    struct wg_audit_verdict verdict;
    char err[512] = "";
    assert_int_equal(audit_chain_verify(fx->path, &verdict, err, sizeof err), -1);
    assert_non_null(strstr(err, "schema 7"));
    assert_non_null(strstr(err, "start this wardgated on it once"));

    struct wg_store *store = open_store(fx->path, 0);
    assert_int_equal(store_schema_version(store), (int)known);
    assert_int_equal(store_audit(store, 4, "admin", "web", "login", NULL, NULL), 0);
    store_close(store);
    verdict = verify_ok(fx->path);
    assert_int_equal(verdict.broken_seq, 0);
    assert_int_equal(verdict.anchor_seq, 9);
    assert_int_equal(verdict.first_seq, 10);
    assert_int_equal(verdict.last_seq, 13);
    assert_int_equal(verdict.rows, 4);
}

/* The verifier refuses what it cannot check, in words, and never writes. */
static void test_verify_refuses_and_never_writes(void **state)
{
    struct test_db_dir *fx = *state;
    struct wg_audit_verdict verdict;
    char err[512] = "";
    assert_int_equal(audit_chain_verify(fx->path, &verdict, err, sizeof err), -1);
    assert_non_null(strstr(err, "No such file"));
    raw_exec(fx->path, "CREATE TABLE t (x)");
    assert_int_equal(audit_chain_verify(fx->path, &verdict, err, sizeof err), -1);
    assert_non_null(strstr(err, "is not a wardgate database"));
    test_rmtree(fx->dir);
    assert_int_equal(mkdir(fx->dir, 0700), 0);

    struct wg_store *store = open_store(fx->path, 0);
    write_five(store);
    store_close(store);
    struct stat before, after;
    assert_int_equal(stat(fx->path, &before), 0);
    assert_int_equal(chmod(fx->path, 0400), 0);
    verify_ok(fx->path);
    assert_int_equal(stat(fx->path, &after), 0);
    assert_int_equal(before.st_size, after.st_size);
    assert_int_equal(before.st_mtim.tv_sec, after.st_mtim.tv_sec);
    assert_int_equal(before.st_mtim.tv_nsec, after.st_mtim.tv_nsec);
}

int main(void)
{
    wg_log_set_level(WG_LOG_WARNING);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_intact_chain_verifies, test_db_dir_setup,
                                        test_db_dir_teardown),
        cmocka_unit_test_setup_teardown(test_changed_row_is_named, test_db_dir_setup,
                                        test_db_dir_teardown),
        cmocka_unit_test_setup_teardown(test_removed_row_is_named, test_db_dir_setup,
                                        test_db_dir_teardown),
        cmocka_unit_test_setup_teardown(test_changed_newest_row_and_rehashed_row, test_db_dir_setup,
                                        test_db_dir_teardown),
        cmocka_unit_test_setup_teardown(test_deleted_anchor_is_named, test_db_dir_setup,
                                        test_db_dir_teardown),
        cmocka_unit_test_setup_teardown(test_eviction_moves_the_anchor, test_db_dir_setup,
                                        test_db_dir_teardown),
        cmocka_unit_test_setup_teardown(test_migration_chains_existing_rows, test_db_dir_setup,
                                        test_db_dir_teardown),
        cmocka_unit_test_setup_teardown(test_verify_refuses_and_never_writes, test_db_dir_setup,
                                        test_db_dir_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
