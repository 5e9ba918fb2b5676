/* Unit tests of the web interface's auth module (gateway/auth/auth.c): users and
 * their validation, login with argon2id, throttling per user name and per
 * address, sessions (expiry, idle extension, persistence, ending), the last
 * admin, the one-time setup token, and the audit rows. Hashes are made at
 * libsodium's minimum cost unless a test is about the real cost. */
#include "testutil.h"

#include <pthread.h>
#include <sys/stat.h>
#include <time.h>

#include <jansson.h>
#include <sodium.h>
#include <sqlite3.h>

#include "auth/auth.h"
#include "common/log.h"
#include "store/store.h"
#include "store/store_call.h"
#include "store/store_writer.h"

#define T0      1700000000000LL /* a fixed "now" */
#define S       1000LL
#define MIN     (60 * S)
#define HOUR    (60 * MIN)
#define DAY     (24 * HOUR)
#define PW      "correct horse battery"
#define PW2     "another good passphrase"
#define WRONG   "wrong password!"
#define CLIENT  "192.0.2.10"
#define CLIENT2 "192.0.2.20"

struct fixture {
    char *dir;
    char *path;
    struct wg_store_calls *calls;
    struct wg_store_writer *writer; /* auth writes through it, as in the daemon */
    struct wg_auth *auth;
};

/* The fixture's calls: what the readers below wait for first, since
 * logouts, session extensions and refused logins' audit rows are written
 * by the writer after the call that posted them has returned. */
static struct wg_store_calls *posted_writes;

static void settle(void)
{
    if (posted_writes)
        assert_int_equal(store_calls_flush(posted_writes, 30000), 0);
}

static struct wg_auth *open_auth(const char *path)
{
    char err[512] = "";
    struct wg_auth *auth = auth_open(path, posted_writes, err, sizeof err);
    if (!auth)
        fail_msg("auth_open(%s): %s", path, err);
    auth_set_hash_cost(auth, crypto_pwhash_OPSLIMIT_MIN, crypto_pwhash_MEMLIMIT_MIN);
    return auth;
}

static int setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof *fx);
    if (!fx)
        return -1;
    fx->dir = test_tmpdir();
    if (!fx->dir || asprintf(&fx->path, "%s/wardgate.db", fx->dir) < 0)
        return -1;
    struct wg_store_options options = {.path = fx->path};
    enum wg_store_status status;
    char err[512];
    struct wg_store *store = store_open(&options, &status, err, sizeof err);
    if (!store) {
        fprintf(stderr, "# store_open: %s\n", err);
        return -1;
    }
    fx->calls = posted_writes = store_calls_new();
    fx->writer =
        fx->calls ? writer_new(store, &(struct wg_writer_options){.calls = fx->calls}) : NULL;
    if (!fx->writer || writer_start(fx->writer) != 0)
        return -1;
    fx->auth = open_auth(fx->path);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *fx = *state;
    auth_close(fx->auth);
    writer_free(fx->writer);
    store_calls_free(fx->calls);
    posted_writes = NULL;
    test_rmtree(fx->dir);
    free(fx->dir);
    free(fx->path);
    free(fx);
    return 0;
}

static void add(struct wg_auth *auth, const char *name, enum wg_role role, const char *password)
{
    char why[256] = "";
    int rc = auth_add_user(auth, name, role, password, "tester", "unit test", why, sizeof why);
    if (rc != 0)
        fail_msg("auth_add_user(%s): %d %s", name, rc, why);
}

static enum wg_login_result login(struct wg_auth *auth, const char *name, const char *password,
                                  const char *client, int64_t now, char *token,
                                  struct wg_session *session, int *retry)
{
    char why[256] = "";
    int ignored;
    return auth_login(auth, name, password, client, now, token, session, retry ? retry : &ignored,
                      why, sizeof why);
}

/* Logs in and expects success; the token goes to token. */
static void login_ok(struct wg_auth *auth, const char *name, const char *password, int64_t now,
                     char token[WG_AUTH_TOKEN_LEN + 1], struct wg_session *session)
{
    char why[256] = "";
    int retry = -1;
    enum wg_login_result rc =
        auth_login(auth, name, password, CLIENT, now, token, session, &retry, why, sizeof why);
    if (rc != WG_LOGIN_OK)
        fail_msg("login %s: %d %s", name, rc, why);
    assert_int_equal(retry, 0);
}

/* Every audit row, columns joined, one per line; the caller frees it. */
static char *audit_text(const char *path)
{
    settle();
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *stmt = NULL;
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT ts_ms || ' ' || actor || ' ' || "
                                        "coalesce(origin, '') || ' ' || action || ' ' || "
                                        "coalesce(target, '') || ' ' || coalesce(detail, '') "
                                        "FROM audit ORDER BY seq",
                                        -1, &stmt, NULL),
                     SQLITE_OK);
    char *text = strdup("");
    while (sqlite3_step(stmt) == SQLITE_ROW) {
        char *more = NULL;
        assert_true(asprintf(&more, "%s%s\n", text, sqlite3_column_text(stmt, 0)) > 0);
        free(text);
        text = more;
    }
    sqlite3_finalize(stmt);
    sqlite3_close(db);
    return text;
}

static int count_lines(const char *text, const char *needle)
{
    int n = 0;
    for (const char *p = text; (p = strstr(p, needle)); p++)
        n++;
    return n;
}

static int64_t sql_int(const char *path, const char *sql)
{
    settle();
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *stmt = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &stmt, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(stmt), SQLITE_ROW);
    int64_t value = sqlite3_column_int64(stmt, 0);
    sqlite3_finalize(stmt);
    sqlite3_close(db);
    return value;
}

static char *sql_text(const char *path, const char *sql)
{
    settle();
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *stmt = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &stmt, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(stmt), SQLITE_ROW);
    char *value = strdup((const char *)sqlite3_column_text(stmt, 0));
    sqlite3_finalize(stmt);
    sqlite3_close(db);
    return value;
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- users ---- */

static void test_roles(void **state)
{
    (void)state;
    for (int r = WG_ROLE_STATION; r <= WG_ROLE_ADMIN; r++)
        assert_int_equal(role_from_name(role_name((enum wg_role)r)), r);
    assert_string_equal(role_name(WG_ROLE_STATION), "station");
    assert_string_equal(role_name(WG_ROLE_ADMIN), "admin");
    assert_string_equal(role_name(WG_ROLE_NONE), "none");
    assert_string_equal(role_name((enum wg_role)9), "none");
    assert_int_equal(role_from_name("none"), -1);
    assert_int_equal(role_from_name("Admin"), -1);
    assert_int_equal(role_from_name(""), -1);
    assert_int_equal(role_from_name(NULL), -1);
}

static void test_validation(void **state)
{
    struct fixture *fx = *state;
    char why[256];
    static const char *const bad_names[] = {
        "",    "Alice",   "a b", "al/ice",
        "äbc", "alice\n", "a@b", "abcdefghijklmnopqrstuvwxyz0123456", /* 33 */
    };
    for (size_t i = 0; i < sizeof bad_names / sizeof bad_names[0]; i++) {
        why[0] = '\0';
        assert_int_equal(
            auth_add_user(fx->auth, bad_names[i], WG_ROLE_NURSE, PW, "t", NULL, why, sizeof why),
            WG_AUTH_INVALID);
        assert_non_null(strstr(why, "user name: 1 to 32 characters of a-z 0-9 . _ -"));
    }
    assert_int_equal(auth_add_user(fx->auth, NULL, WG_ROLE_NURSE, PW, "t", NULL, why, sizeof why),
                     WG_AUTH_INVALID);
    assert_int_equal(
        auth_add_user(fx->auth, "bob", WG_ROLE_NURSE, "nine char", "t", NULL, why, sizeof why),
        WG_AUTH_INVALID);
    assert_string_equal(why, "password: at least 10 characters");
    char long_pw[130];
    memset(long_pw, 'x', 129);
    long_pw[129] = '\0';
    assert_int_equal(
        auth_add_user(fx->auth, "bob", WG_ROLE_NURSE, long_pw, "t", NULL, why, sizeof why),
        WG_AUTH_INVALID);
    assert_string_equal(why, "password: at most 128 characters");
    assert_int_equal(
        auth_add_user(fx->auth, "bob", WG_ROLE_NURSE, NULL, "t", NULL, why, sizeof why),
        WG_AUTH_INVALID);
    assert_int_equal(auth_add_user(fx->auth, "bob", WG_ROLE_NONE, PW, "t", NULL, why, sizeof why),
                     WG_AUTH_INVALID);
    assert_string_equal(why, "role: station, nurse, manager or admin");
    assert_int_equal(
        auth_add_user(fx->auth, "bob", (enum wg_role)5, PW, "t", NULL, why, sizeof why),
        WG_AUTH_INVALID);
    assert_int_equal(auth_user_count(fx->auth), 0);

    /* The edges that pass: 1 and 32 characters, every allowed sign, 10 and 128 bytes. */
    add(fx->auth, "a", WG_ROLE_STATION, "0123456789");
    long_pw[128] = '\0';
    add(fx->auth, "abcdefghijklmnopqrstuvwxyz.-_019", WG_ROLE_ADMIN, long_pw);
    assert_int_equal(auth_user_count(fx->auth), 2);
    assert_int_equal(auth_add_user(fx->auth, "a", WG_ROLE_NURSE, PW, "t", NULL, why, sizeof why),
                     WG_AUTH_CONFLICT);
    assert_string_equal(why, "user a exists");
    char token[WG_AUTH_TOKEN_LEN + 1];
    struct wg_session session;
    login_ok(fx->auth, "abcdefghijklmnopqrstuvwxyz.-_019", long_pw, T0, token, &session);
    assert_int_equal(session.role, WG_ROLE_ADMIN);
}

static void test_list_and_get(void **state)
{
    struct fixture *fx = *state;
    add(fx->auth, "nurse1", WG_ROLE_NURSE, PW);
    add(fx->auth, "admin", WG_ROLE_ADMIN, PW);
    char token[WG_AUTH_TOKEN_LEN + 1];
    struct wg_session session;
    login_ok(fx->auth, "nurse1", PW, T0, token, &session);

    json_t *list = auth_list_users(fx->auth);
    assert_non_null(list);
    json_t *users = json_object_get(list, "users");
    assert_int_equal(json_array_size(users), 2);
    json_t *first = json_array_get(users, 0), *second = json_array_get(users, 1);
    assert_string_equal(json_string_value(json_object_get(first, "username")), "admin");
    assert_string_equal(json_string_value(json_object_get(first, "role")), "admin");
    assert_true(json_is_null(json_object_get(first, "last_login_ms")));
    assert_true(json_integer_value(json_object_get(first, "created_ms")) > T0);
    assert_string_equal(json_string_value(json_object_get(second, "username")), "nurse1");
    assert_int_equal(json_integer_value(json_object_get(second, "last_login_ms")), T0);
    assert_int_equal(json_object_size(first), 4); /* no hash, nothing else */
    json_decref(list);

    json_t *user = auth_get_user(fx->auth, "nurse1");
    assert_non_null(user);
    assert_string_equal(json_string_value(json_object_get(user, "role")), "nurse");
    json_decref(user);
    assert_null(auth_get_user(fx->auth, "nobody"));
    assert_null(auth_get_user(fx->auth, "Bad Name"));
}

/* ---- login ---- */

static void test_login(void **state)
{
    struct fixture *fx = *state;
    add(fx->auth, "alice", WG_ROLE_NURSE, PW);
    char *hash = sql_text(fx->path, "SELECT password_hash FROM users WHERE username = 'alice'");
    assert_true(strncmp(hash, "$argon2id$v=19$", 15) == 0);
    free(hash);

    char token[WG_AUTH_TOKEN_LEN + 1] = "", why[256];
    struct wg_session session;
    login_ok(fx->auth, "alice", PW, T0, token, &session);
    assert_int_equal(strlen(token), WG_AUTH_TOKEN_LEN);
    assert_int_equal(
        strspn(token, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
        WG_AUTH_TOKEN_LEN);
    assert_string_equal(session.username, "alice");
    assert_int_equal(session.role, WG_ROLE_NURSE);
    assert_int_equal(strlen(session.csrf), WG_AUTH_CSRF_LEN);
    assert_string_not_equal(session.csrf, token);
    assert_int_equal(session.expires_ms, T0 + 12 * HOUR);

    struct wg_session again;
    assert_true(auth_session(fx->auth, token, T0 + S, &again));
    assert_string_equal(again.username, "alice");
    assert_string_equal(again.csrf, session.csrf);

    /* Wrong password, unknown user and a malformed name: the same answer. */
    int retry = -1;
    assert_int_equal(
        auth_login(fx->auth, "alice", WRONG, CLIENT, T0, token, &session, &retry, why, sizeof why),
        WG_LOGIN_BAD);
    assert_string_equal(why, "wrong user name or password");
    assert_int_equal(retry, 0);
    assert_int_equal(
        auth_login(fx->auth, "mallory", PW, CLIENT, T0, token, &session, &retry, why, sizeof why),
        WG_LOGIN_BAD);
    assert_string_equal(why, "wrong user name or password");
    assert_int_equal(auth_login(fx->auth, "Not A Name", PW, CLIENT, T0, token, &session, &retry,
                                why, sizeof why),
                     WG_LOGIN_BAD);
    assert_string_equal(why, "wrong user name or password");
    /* A request without a name or password is refused without any check. */
    assert_int_equal(
        auth_login(fx->auth, "alice", NULL, CLIENT, T0, token, &session, &retry, why, sizeof why),
        WG_LOGIN_BAD);
    assert_int_equal(
        auth_login(fx->auth, NULL, PW, CLIENT, T0, token, &session, &retry, why, sizeof why),
        WG_LOGIN_BAD);
    assert_int_equal(
        auth_login(NULL, "alice", PW, CLIENT, T0, token, &session, &retry, why, sizeof why),
        WG_LOGIN_ERROR);
    assert_int_equal(auth_failed_logins(fx->auth), 3);
    /* Each attempt verified one hash, the unknown users a stand-in's. */
    assert_int_equal(auth_password_checks(fx->auth), 4);
    /* A second session for the same user is a different token and CSRF. */
    char token2[WG_AUTH_TOKEN_LEN + 1];
    struct wg_session session2;
    login_ok(fx->auth, "alice", PW, T0 + 2 * S, token2, &session2);
    assert_string_not_equal(token, token2);
    assert_string_not_equal(again.csrf, session2.csrf);
    assert_int_equal(sql_int(fx->path, "SELECT count(*) FROM sessions"), 2);
}

/* A stored hash made with other parameters is replaced at the next login
 * (here: the minimum cost, then libsodium's interactive cost). */
static void test_rehash_at_login(void **state)
{
    struct fixture *fx = *state;
    add(fx->auth, "bob", WG_ROLE_NURSE, PW);
    char *before = sql_text(fx->path, "SELECT password_hash FROM users WHERE username = 'bob'");
    assert_non_null(strstr(before, "$m=8,t=1,p=1$"));
    auth_set_hash_cost(fx->auth, crypto_pwhash_OPSLIMIT_INTERACTIVE,
                       crypto_pwhash_MEMLIMIT_INTERACTIVE);
    char token[WG_AUTH_TOKEN_LEN + 1];
    struct wg_session session;
    login_ok(fx->auth, "bob", PW, T0, token, &session);
    char *after = sql_text(fx->path, "SELECT password_hash FROM users WHERE username = 'bob'");
    assert_true(strncmp(after, "$argon2id$v=19$m=65536,t=2,p=1$", 31) == 0);
    login_ok(fx->auth, "bob", PW, T0 + S, token, &session);
    char *still = sql_text(fx->path, "SELECT password_hash FROM users WHERE username = 'bob'");
    assert_string_equal(still, after);
    char *audit = audit_text(fx->path);
    assert_int_equal(count_lines(audit, "\"rehashed\":true"), 1);
    assert_int_equal(count_lines(audit, "\"rehashed\":false"), 1);
    free(audit);
    free(before);
    free(after);
    free(still);
}

/* ---- throttling ---- */

static void test_throttle_per_user(void **state)
{
    struct fixture *fx = *state;
    add(fx->auth, "carol", WG_ROLE_NURSE, PW);
    char token[WG_AUTH_TOKEN_LEN + 1], address[32];
    struct wg_session session;
    int retry = -1;
    /* Five failures, each from another address: the user name locks. */
    for (int i = 0; i < 5; i++) {
        snprintf(address, sizeof address, "198.51.100.%d", i);
        assert_int_equal(
            login(fx->auth, "carol", WRONG, address, T0 + i * S, token, &session, &retry),
            WG_LOGIN_BAD);
    }
    int64_t locked_at = T0 + 4 * S;
    uint64_t checks = auth_password_checks(fx->auth);
    /* Now even the right password, from a fresh address, is refused unchecked. */
    assert_int_equal(
        login(fx->auth, "carol", PW, "203.0.113.1", locked_at + S, token, &session, &retry),
        WG_LOGIN_THROTTLED);
    assert_int_equal(retry, 29);
    assert_int_equal(login(fx->auth, "carol", PW, "203.0.113.2", locked_at + 29 * S + 1, token,
                           &session, &retry),
                     WG_LOGIN_THROTTLED);
    assert_int_equal(retry, 1);
    assert_int_equal(auth_password_checks(fx->auth), checks);
    /* Another user is not affected. */
    add(fx->auth, "dave", WG_ROLE_NURSE, PW);
    assert_int_equal(
        login(fx->auth, "dave", PW, "203.0.113.1", locked_at + S, token, &session, NULL),
        WG_LOGIN_OK);

    /* After 30 s one attempt; a failure locks again, for twice as long, up to 15 min. */
    int64_t now = locked_at;
    const int64_t expected[] = {30, 60, 120, 240, 480, 900, 900};
    for (size_t i = 1; i < sizeof expected / sizeof expected[0]; i++) {
        now += expected[i - 1] * S;
        assert_int_equal(
            login(fx->auth, "carol", WRONG, "203.0.113.3", now, token, &session, &retry),
            WG_LOGIN_BAD);
        assert_int_equal(login(fx->auth, "carol", PW, "203.0.113.4", now, token, &session, &retry),
                         WG_LOGIN_THROTTLED);
        assert_int_equal(retry, expected[i]);
    }
    /* Once the lock is over, the right password gets in and clears the count. */
    now += 900 * S;
    assert_int_equal(login(fx->auth, "carol", PW, "203.0.113.5", now, token, &session, &retry),
                     WG_LOGIN_OK);
    for (int i = 0; i < 4; i++)
        assert_int_equal(
            login(fx->auth, "carol", WRONG, "203.0.113.6", now + i, token, &session, &retry),
            WG_LOGIN_BAD);
    assert_int_equal(login(fx->auth, "carol", PW, "203.0.113.7", now + 10, token, &session, &retry),
                     WG_LOGIN_OK);

    char *audit = audit_text(fx->path);
    assert_int_equal(count_lines(audit, " login.locked carol {\"by\":\"user\",\"lock_s\":30}"), 1);
    assert_int_equal(count_lines(audit, " login.locked carol {\"by\":\"user\",\"lock_s\":900}"), 2);
    /* One throttled row per lock-out, however many attempts it refused. */
    assert_int_equal(count_lines(audit, " login.throttled carol "), 7);
    assert_int_equal(count_lines(audit, " login.failed carol {\"reason\":\"wrong password\"}"),
                     5 + 6 + 4);
    free(audit);
}

static void test_throttle_per_address(void **state)
{
    struct fixture *fx = *state;
    add(fx->auth, "erin", WG_ROLE_NURSE, PW);
    char token[WG_AUTH_TOKEN_LEN + 1], name[32];
    struct wg_session session;
    int retry = -1;
    /* Five user names (existing or not) tried from one address. */
    for (int i = 0; i < 5; i++) {
        snprintf(name, sizeof name, "guess%d", i);
        assert_int_equal(login(fx->auth, i == 2 ? "erin" : name, WRONG, CLIENT, T0 + i * S, token,
                               &session, &retry),
                         WG_LOGIN_BAD);
    }
    uint64_t checks = auth_password_checks(fx->auth);
    assert_int_equal(login(fx->auth, "erin", PW, CLIENT, T0 + 5 * S, token, &session, &retry),
                     WG_LOGIN_THROTTLED);
    assert_int_equal(retry, 29);
    assert_int_equal(login(fx->auth, "nobody", PW, CLIENT, T0 + 5 * S, token, &session, &retry),
                     WG_LOGIN_THROTTLED);
    assert_int_equal(auth_password_checks(fx->auth), checks);
    /* The same user from elsewhere is fine: erin's name had one failure only. */
    assert_int_equal(login(fx->auth, "erin", PW, CLIENT2, T0 + 5 * S, token, &session, &retry),
                     WG_LOGIN_OK);
    /* After the lock-out, the address may try again. */
    assert_int_equal(login(fx->auth, "erin", PW, CLIENT, T0 + 34 * S, token, &session, &retry),
                     WG_LOGIN_OK);
    char *audit = audit_text(fx->path);
    assert_int_equal(count_lines(audit, "login.locked guess4 {\"by\":\"address\",\"lock_s\":30}"),
                     1);
    assert_int_equal(count_lines(audit, "login.failed guess0 {\"reason\":\"unknown user\"}"), 1);
    assert_int_equal(count_lines(audit, "login.throttled erin {\"by\":\"address\""), 1);
    free(audit);
}

/* Failures older than 15 minutes no longer count. */
static void test_throttle_window(void **state)
{
    struct fixture *fx = *state;
    add(fx->auth, "frank", WG_ROLE_NURSE, PW);
    char token[WG_AUTH_TOKEN_LEN + 1];
    struct wg_session session;
    int retry = -1;
    for (int i = 0; i < 4; i++)
        assert_int_equal(
            login(fx->auth, "frank", WRONG, CLIENT, T0 + i * MIN, token, &session, &retry),
            WG_LOGIN_BAD);
    /* 15 min after the first, it has left the window: 4 in the window, no lock. */
    int64_t now = T0 + 15 * MIN;
    assert_int_equal(login(fx->auth, "frank", WRONG, CLIENT, now, token, &session, &retry),
                     WG_LOGIN_BAD);
    assert_int_equal(login(fx->auth, "frank", PW, CLIENT, now + S, token, &session, &retry),
                     WG_LOGIN_OK);
    /* Success cleared the name; the address still has its 5 (4 in the window). */
    assert_int_equal(login(fx->auth, "frank", WRONG, CLIENT, now + 2 * S, token, &session, &retry),
                     WG_LOGIN_BAD);
    assert_int_equal(login(fx->auth, "frank", PW, CLIENT, now + 3 * S, token, &session, &retry),
                     WG_LOGIN_THROTTLED);
    assert_int_equal(retry, 29);
}

/* ---- sessions ---- */

static void test_session_expiry(void **state)
{
    struct fixture *fx = *state;
    add(fx->auth, "nurse", WG_ROLE_NURSE, PW);
    add(fx->auth, "wall", WG_ROLE_STATION, PW);
    char token[WG_AUTH_TOKEN_LEN + 1], kiosk[WG_AUTH_TOKEN_LEN + 1];
    struct wg_session session;
    login_ok(fx->auth, "nurse", PW, T0, token, &session);

    /* Idle 12 h: every use moves the end. */
    assert_true(auth_session(fx->auth, token, T0 + 12 * HOUR - 1, &session));
    assert_int_equal(session.expires_ms, T0 + 24 * HOUR - 1);
    assert_true(auth_session(fx->auth, token, T0 + 24 * HOUR - 2, &session));
    assert_false(auth_session(fx->auth, token, T0 + 36 * HOUR - 2, &session));
    /* Gone for good, also at an earlier time. */
    assert_false(auth_session(fx->auth, token, T0, &session));
    assert_int_equal(sql_int(fx->path, "SELECT count(*) FROM sessions WHERE username = 'nurse'"),
                     0);

    /* Used every 11 h, a nurse's session still ends 7 days after login. */
    int64_t start = T0 + 2 * DAY;
    login_ok(fx->auth, "nurse", PW, start, token, &session);
    int64_t now = start;
    while (now + 11 * HOUR < start + 7 * DAY) {
        now += 11 * HOUR;
        assert_true(auth_session(fx->auth, token, now, &session));
    }
    assert_int_equal(session.expires_ms, start + 7 * DAY);
    assert_false(auth_session(fx->auth, token, start + 7 * DAY, &session));

    /* The wall display: 365 days idle, no absolute end. */
    login_ok(fx->auth, "wall", PW, T0, kiosk, &session);
    assert_int_equal(session.role, WG_ROLE_STATION);
    assert_int_equal(session.expires_ms, T0 + 365 * DAY);
    assert_true(auth_session(fx->auth, kiosk, T0 + 300 * DAY, &session));
    assert_true(auth_session(fx->auth, kiosk, T0 + 600 * DAY, &session));
    assert_int_equal(session.expires_ms, T0 + 965 * DAY);
    assert_false(auth_session(fx->auth, kiosk, T0 + 965 * DAY, &session));

    /* Nothing that is not a live token opens a session. */
    char forged[WG_AUTH_TOKEN_LEN + 1];
    memset(forged, 'A', WG_AUTH_TOKEN_LEN);
    forged[WG_AUTH_TOKEN_LEN] = '\0';
    assert_false(auth_session(fx->auth, forged, T0, &session));
    assert_false(auth_session(fx->auth, "", T0, &session));
    assert_false(auth_session(fx->auth, NULL, T0, &session));
    char shorter[WG_AUTH_TOKEN_LEN + 1];
    login_ok(fx->auth, "nurse", PW, T0, token, &session);
    snprintf(shorter, sizeof shorter, "%.*s", WG_AUTH_TOKEN_LEN - 1, token);
    assert_false(auth_session(fx->auth, shorter, T0, &session));
}

static void test_logout(void **state)
{
    struct fixture *fx = *state;
    add(fx->auth, "gina", WG_ROLE_MANAGER, PW);
    char token[WG_AUTH_TOKEN_LEN + 1], other[WG_AUTH_TOKEN_LEN + 1];
    struct wg_session session;
    login_ok(fx->auth, "gina", PW, T0, token, &session);
    login_ok(fx->auth, "gina", PW, T0, other, &session);
    assert_true(auth_session(fx->auth, token, T0 + S, &session));
    auth_logout(fx->auth, token);
    assert_false(auth_session(fx->auth, token, T0 + 2 * S, &session));
    assert_true(auth_session(fx->auth, other, T0 + 2 * S, &session)); /* the other one stays */
    auth_logout(fx->auth, token);                                     /* twice: harmless */
    auth_logout(fx->auth, NULL);
    auth_logout(fx->auth, "short");
    char *audit = audit_text(fx->path);
    assert_int_equal(count_lines(audit, " gina  logout gina"), 1);
    free(audit);
}

/* Sessions are in the database: a restart keeps the wall display logged in. */
static void test_sessions_survive_reopen(void **state)
{
    struct fixture *fx = *state;
    add(fx->auth, "wall", WG_ROLE_STATION, PW);
    add(fx->auth, "nurse", WG_ROLE_NURSE, PW);
    char kiosk[WG_AUTH_TOKEN_LEN + 1], token[WG_AUTH_TOKEN_LEN + 1];
    struct wg_session session, nurse;
    login_ok(fx->auth, "wall", PW, T0, kiosk, &session);
    login_ok(fx->auth, "nurse", PW, T0, token, &nurse);
    /* Used after 2 h: the extension is written (at most once a minute). */
    assert_true(auth_session(fx->auth, token, T0 + 2 * HOUR, &nurse));
    assert_int_equal(
        sql_int(fx->path, "SELECT last_seen_ms FROM sessions s WHERE username = 'nurse'"),
        T0 + 2 * HOUR);
    assert_true(auth_session(fx->auth, token, T0 + 2 * HOUR + 30 * S, &nurse));
    assert_int_equal(
        sql_int(fx->path, "SELECT last_seen_ms FROM sessions s WHERE username = 'nurse'"),
        T0 + 2 * HOUR);
    auth_close(fx->auth);

    fx->auth = open_auth(fx->path);
    struct wg_session after;
    assert_true(auth_session(fx->auth, kiosk, T0 + 100 * DAY, &after));
    assert_string_equal(after.username, "wall");
    assert_int_equal(after.role, WG_ROLE_STATION);
    assert_string_equal(after.csrf, session.csrf);
    /* 13 h after login but 11 h after its last written use. */
    assert_true(auth_session(fx->auth, token, T0 + 13 * HOUR, &after));
    assert_string_equal(after.csrf, nurse.csrf);
    assert_int_equal(after.expires_ms, T0 + 25 * HOUR);
}

static void test_user_changes_end_sessions(void **state)
{
    struct fixture *fx = *state;
    add(fx->auth, "root", WG_ROLE_ADMIN, PW);
    add(fx->auth, "hank", WG_ROLE_NURSE, PW);
    char t1[WG_AUTH_TOKEN_LEN + 1], t2[WG_AUTH_TOKEN_LEN + 1], admin[WG_AUTH_TOKEN_LEN + 1];
    char why[256];
    struct wg_session session;
    login_ok(fx->auth, "root", PW, T0, admin, &session);
    login_ok(fx->auth, "hank", PW, T0, t1, &session);
    login_ok(fx->auth, "hank", PW, T0, t2, &session);

    /* The same role again, and no password: nothing changes. */
    assert_int_equal(
        auth_update_user(fx->auth, "hank", WG_ROLE_NURSE, NULL, "root", CLIENT, why, sizeof why),
        0);
    assert_int_equal(
        auth_update_user(fx->auth, "hank", WG_ROLE_NONE, NULL, "root", CLIENT, why, sizeof why), 0);
    assert_true(auth_session(fx->auth, t1, T0 + S, &session));

    /* A new password ends both sessions; the old password no longer works. */
    assert_int_equal(
        auth_update_user(fx->auth, "hank", WG_ROLE_NONE, PW2, "root", CLIENT, why, sizeof why), 0);
    assert_false(auth_session(fx->auth, t1, T0 + 2 * S, &session));
    assert_false(auth_session(fx->auth, t2, T0 + 2 * S, &session));
    assert_true(auth_session(fx->auth, admin, T0 + 2 * S, &session));
    assert_int_equal(login(fx->auth, "hank", PW, CLIENT, T0 + 3 * S, t1, &session, NULL),
                     WG_LOGIN_BAD);
    login_ok(fx->auth, "hank", PW2, T0 + 4 * S, t1, &session);
    assert_int_equal(session.role, WG_ROLE_NURSE);

    /* A new role ends the session too; the next login has the new role. */
    assert_int_equal(
        auth_update_user(fx->auth, "hank", WG_ROLE_MANAGER, NULL, "root", CLIENT, why, sizeof why),
        0);
    assert_false(auth_session(fx->auth, t1, T0 + 5 * S, &session));
    login_ok(fx->auth, "hank", PW2, T0 + 6 * S, t1, &session);
    assert_int_equal(session.role, WG_ROLE_MANAGER);

    /* Deleting ends the sessions and the user. */
    assert_int_equal(auth_delete_user(fx->auth, "hank", "root", CLIENT, why, sizeof why), 0);
    assert_false(auth_session(fx->auth, t1, T0 + 7 * S, &session));
    assert_null(auth_get_user(fx->auth, "hank"));
    assert_int_equal(sql_int(fx->path, "SELECT count(*) FROM sessions WHERE username = 'hank'"), 0);
    assert_int_equal(login(fx->auth, "hank", PW2, CLIENT, T0 + 8 * S, t1, &session, NULL),
                     WG_LOGIN_BAD);

    /* Unknown users and bad input. */
    assert_int_equal(auth_delete_user(fx->auth, "hank", "root", CLIENT, why, sizeof why),
                     WG_AUTH_NOT_FOUND);
    assert_string_equal(why, "no user hank");
    assert_int_equal(
        auth_update_user(fx->auth, "hank", WG_ROLE_NURSE, NULL, "root", CLIENT, why, sizeof why),
        WG_AUTH_NOT_FOUND);
    assert_int_equal(
        auth_update_user(fx->auth, "root", WG_ROLE_NONE, "short", "root", CLIENT, why, sizeof why),
        WG_AUTH_INVALID);
    assert_int_equal(
        auth_update_user(fx->auth, "root", (enum wg_role)7, NULL, "root", CLIENT, why, sizeof why),
        WG_AUTH_INVALID);

    char *audit = audit_text(fx->path);
    assert_int_equal(
        count_lines(audit, "user.update hank {\"password_changed\":true,\"sessions_ended\":2}"), 1);
    assert_int_equal(count_lines(audit, "user.update hank {\"password_changed\":false,"
                                        "\"previous_role\":\"nurse\",\"role\":\"manager\","
                                        "\"sessions_ended\":1}"),
                     1);
    assert_int_equal(
        count_lines(audit,
                    "root 192.0.2.10 user.delete hank {\"role\":\"manager\",\"sessions_ended\":1}"),
        1);
    assert_int_equal(count_lines(audit, "user.update"), 2); /* the no-op changes are not audited */
    free(audit);
}

static void test_last_admin(void **state)
{
    struct fixture *fx = *state;
    char why[256];
    add(fx->auth, "boss", WG_ROLE_ADMIN, PW);
    add(fx->auth, "ivy", WG_ROLE_NURSE, PW);
    assert_int_equal(auth_delete_user(fx->auth, "boss", "boss", CLIENT, why, sizeof why),
                     WG_AUTH_CONFLICT);
    assert_string_equal(why, "boss is the last admin: make another user admin first");
    assert_int_equal(
        auth_update_user(fx->auth, "boss", WG_ROLE_MANAGER, NULL, "boss", CLIENT, why, sizeof why),
        WG_AUTH_CONFLICT);
    assert_string_equal(why, "boss is the last admin: make another user admin first");
    /* A password change is fine. */
    assert_int_equal(
        auth_update_user(fx->auth, "boss", WG_ROLE_ADMIN, PW2, "boss", CLIENT, why, sizeof why), 0);

    assert_int_equal(
        auth_update_user(fx->auth, "ivy", WG_ROLE_ADMIN, NULL, "boss", CLIENT, why, sizeof why), 0);
    assert_int_equal(
        auth_update_user(fx->auth, "boss", WG_ROLE_NURSE, NULL, "ivy", CLIENT, why, sizeof why), 0);
    assert_int_equal(auth_delete_user(fx->auth, "ivy", "ivy", CLIENT, why, sizeof why),
                     WG_AUTH_CONFLICT);
    assert_int_equal(auth_delete_user(fx->auth, "boss", "ivy", CLIENT, why, sizeof why), 0);
    json_t *ivy = auth_get_user(fx->auth, "ivy");
    assert_string_equal(json_string_value(json_object_get(ivy, "role")), "admin");
    json_decref(ivy);
}

/* Beyond 32 sessions a user's oldest end; beyond 64 the cache forgets the
 * least recently used, which are then read back from the database. */
static void test_many_sessions(void **state)
{
    struct fixture *fx = *state;
    add(fx->auth, "kiosk", WG_ROLE_STATION, PW);
    add(fx->auth, "other", WG_ROLE_NURSE, PW);
    char tokens[40][WG_AUTH_TOKEN_LEN + 1], others[30][WG_AUTH_TOKEN_LEN + 1];
    struct wg_session session;
    for (int i = 0; i < 40; i++)
        login_ok(fx->auth, "kiosk", PW, T0 + i * S, tokens[i], &session);
    for (int i = 0; i < 30; i++)
        login_ok(fx->auth, "other", PW, T0 + i * S, others[i], &session);
    int64_t now = T0 + MIN;
    for (int i = 0; i < 40; i++)
        assert_int_equal(auth_session(fx->auth, tokens[i], now, &session), i >= 8);
    for (int i = 0; i < 30; i++) {
        assert_true(auth_session(fx->auth, others[i], now, &session));
        assert_string_equal(session.username, "other");
    }
    assert_int_equal(sql_int(fx->path, "SELECT count(*) FROM sessions"), 62);
}

/* ---- first admin ---- */

static void test_setup_token(void **state)
{
    struct fixture *fx = *state;
    char first[WG_AUTH_TOKEN_LEN + 1], token[WG_AUTH_TOKEN_LEN + 1];
    char cookie[WG_AUTH_TOKEN_LEN + 1], why[256], path[4096], err[256];
    struct wg_session session;
    assert_int_equal(auth_make_setup_token(fx->auth, T0, first, sizeof first), 1);
    assert_int_equal(strlen(first), WG_AUTH_TOKEN_LEN);
    /* Another call replaces it. */
    assert_int_equal(auth_make_setup_token(fx->auth, T0, token, sizeof token), 1);
    assert_string_not_equal(first, token);
    assert_int_equal(auth_make_setup_token(fx->auth, T0, token, 10), -1); /* too small */
    assert_int_equal(auth_setup_admin(fx->auth, first, "root", PW, CLIENT, T0, cookie, &session,
                                      why, sizeof why),
                     WG_LOGIN_BAD);
    assert_string_equal(why, "the setup token is wrong or expired, or a user exists");
    assert_int_equal(auth_make_setup_token(fx->auth, T0, token, sizeof token), 1);

    /* Written for the person at the box: mode 0600, one line. */
    assert_int_equal(
        auth_write_setup_token_file(fx->auth, token, path, sizeof path, err, sizeof err), 0);
    char *expected_path = NULL;
    assert_true(asprintf(&expected_path, "%s/setup-token", fx->dir) > 0);
    assert_string_equal(path, expected_path);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char line[128] = "";
    assert_non_null(fgets(line, sizeof line, f));
    fclose(f);
    line[strcspn(line, "\n")] = '\0';
    assert_string_equal(line, token);

    /* Expired after 24 h; a bad password does not use it up. */
    assert_int_equal(auth_setup_admin(fx->auth, token, "root", PW, CLIENT, T0 + DAY, cookie,
                                      &session, why, sizeof why),
                     WG_LOGIN_BAD);
    assert_int_equal(auth_setup_admin(fx->auth, token, "root", "short", CLIENT, T0 + HOUR, cookie,
                                      &session, why, sizeof why),
                     WG_LOGIN_INVALID);
    assert_string_equal(why, "password: at least 10 characters");
    assert_int_equal(auth_setup_admin(fx->auth, token, "Root!", PW, CLIENT, T0 + HOUR, cookie,
                                      &session, why, sizeof why),
                     WG_LOGIN_INVALID);
    assert_int_equal(auth_setup_admin(fx->auth, token, NULL, NULL, CLIENT, T0 + HOUR, cookie,
                                      &session, why, sizeof why),
                     WG_LOGIN_INVALID);
    assert_int_equal(auth_setup_admin(fx->auth, NULL, "root", PW, CLIENT, T0 + HOUR, cookie,
                                      &session, why, sizeof why),
                     WG_LOGIN_BAD);
    assert_int_equal(auth_user_count(fx->auth), 0);

    assert_int_equal(auth_setup_admin(fx->auth, token, "root", PW, CLIENT, T0 + HOUR, cookie,
                                      &session, why, sizeof why),
                     WG_LOGIN_OK);
    assert_string_equal(session.username, "root");
    assert_int_equal(session.role, WG_ROLE_ADMIN);
    assert_true(auth_session(fx->auth, cookie, T0 + HOUR + S, &session));
    assert_int_equal(access(path, F_OK), -1); /* the file went with the token */
    assert_int_equal(sql_int(fx->path, "SELECT count(*) FROM setup_token"), 0);

    /* One time only; and with a user there is no new token. */
    assert_int_equal(auth_setup_admin(fx->auth, token, "root2", PW, CLIENT, T0 + HOUR, cookie,
                                      &session, why, sizeof why),
                     WG_LOGIN_BAD);
    assert_int_equal(auth_make_setup_token(fx->auth, T0, token, sizeof token), 0);
    assert_int_equal(auth_user_count(fx->auth), 1);
    assert_int_equal(auth_write_setup_token_file(fx->auth, NULL, NULL, 0, err, sizeof err), 0);
    free(expected_path);
    /* Wrong and expired tokens are audited, tries after the setup are not. */
    char *audit = audit_text(fx->path);
    assert_int_equal(count_lines(audit, " - 192.0.2.10 setup.failed "), 2);
    assert_int_equal(count_lines(audit, " setup.token "), 3);
    assert_int_equal(count_lines(audit, " setup.admin root "), 1);
    free(audit);
}

/* A user added another way (the command line) makes the token useless. */
static void test_setup_token_dropped_by_add(void **state)
{
    struct fixture *fx = *state;
    char token[WG_AUTH_TOKEN_LEN + 1], cookie[WG_AUTH_TOKEN_LEN + 1], why[256], err[256];
    struct wg_session session;
    assert_int_equal(auth_make_setup_token(fx->auth, T0, token, sizeof token), 1);
    assert_int_equal(auth_write_setup_token_file(fx->auth, token, NULL, 0, err, sizeof err), 0);
    add(fx->auth, "root", WG_ROLE_ADMIN, PW);
    assert_int_equal(sql_int(fx->path, "SELECT count(*) FROM setup_token"), 0);
    char *path = NULL;
    assert_true(asprintf(&path, "%s/setup-token", fx->dir) > 0);
    assert_int_equal(access(path, F_OK), -1);
    free(path);
    assert_int_equal(auth_setup_admin(fx->auth, token, "root2", PW, CLIENT, T0, cookie, &session,
                                      why, sizeof why),
                     WG_LOGIN_BAD);
}

/* ---- audit ---- */

static void test_audit_has_no_secrets(void **state)
{
    struct fixture *fx = *state;
    char setup[WG_AUTH_TOKEN_LEN + 1], t1[WG_AUTH_TOKEN_LEN + 1], t2[WG_AUTH_TOKEN_LEN + 1];
    char why[256];
    struct wg_session s1, s2;
    assert_int_equal(auth_make_setup_token(fx->auth, T0, setup, sizeof setup), 1);
    assert_int_equal(
        auth_setup_admin(fx->auth, setup, "root", PW, CLIENT, T0, t1, &s1, why, sizeof why),
        WG_LOGIN_OK);
    add(fx->auth, "jill", WG_ROLE_NURSE, PW2);
    login_ok(fx->auth, "jill", PW2, T0 + S, t2, &s2);
    assert_int_equal(login(fx->auth, "jill", WRONG, CLIENT, T0 + 2 * S, t2, &s2, NULL),
                     WG_LOGIN_BAD);
    /* a password typed into the name field is not recorded */
    assert_int_equal(login(fx->auth, "My Secret Pass", PW2, CLIENT, T0 + 2 * S, t2, &s2, NULL),
                     WG_LOGIN_BAD);
    assert_int_equal(auth_update_user(fx->auth, "jill", WG_ROLE_NONE, "a new password 1", "root",
                                      CLIENT, why, sizeof why),
                     0);
    auth_logout(fx->auth, t1);

    char *audit = audit_text(fx->path);
    const char *secrets[] = {PW, PW2, WRONG,   "My Secret Pass", "a new password 1", setup,
                             t1, t2,  s1.csrf, s2.csrf,          "$argon2"};
    for (size_t i = 0; i < sizeof secrets / sizeof secrets[0]; i++)
        if (strstr(audit, secrets[i]))
            fail_msg("the audit holds a secret (#%zu):\n%s", i, audit);
    const char *actions[] = {
        " wardgated  setup.token  {\"expires_ms\":1700086400000}",
        "root 192.0.2.10 setup.admin root {\"role\":\"admin\"}",
        "tester unit test user.add jill {\"role\":\"nurse\"}",
        "jill 192.0.2.10 login.ok jill {\"rehashed\":false,\"role\":\"nurse\"}",
        "jill 192.0.2.10 login.failed jill {\"reason\":\"wrong password\"}",
        "- 192.0.2.10 login.failed  {\"reason\":\"unknown user\"}",
        "root 192.0.2.10 user.update jill {\"password_changed\":true,\"sessions_ended\":1}",
        "root  logout root",
    };
    for (size_t i = 0; i < sizeof actions / sizeof actions[0]; i++)
        if (!strstr(audit, actions[i]))
            fail_msg("no audit row \"%s\" in:\n%s", actions[i], audit);
    free(audit);
    /* Nor does the database file hold a password in clear. */
    auth_close(fx->auth);
    fx->auth = NULL;
    FILE *f = fopen(fx->path, "rb");
    assert_non_null(f);
    char *bytes = calloc(1, 8 << 20);
    size_t n = fread(bytes, 1, (8 << 20) - 1, f);
    fclose(f);
    assert_true(n > 0);
    for (size_t i = 0; i < 5; i++)
        assert_null(memmem(bytes, n, secrets[i], strlen(secrets[i])));
    free(bytes);
}

/* ---- threads ---- */

struct slow_login {
    struct wg_auth *auth;
    enum wg_login_result result;
    int64_t took_ms;
    volatile int done;
};

static void *slow_login_thread(void *arg)
{
    struct slow_login *job = arg;
    char token[WG_AUTH_TOKEN_LEN + 1];
    struct wg_session session;
    int64_t start = mono_ms();
    job->result = login(job->auth, "kate", PW, CLIENT2, T0 + S, token, &session, NULL);
    job->took_ms = mono_ms() - start;
    __atomic_store_n(&job->done, 1, __ATOMIC_RELEASE);
    return NULL;
}

/* A login at the real cost (the stand-in hash for unknown users is made
 * first, then the password is rehashed: two argon2id runs at 64 MiB) never
 * makes a session check wait for it. */
static void test_hashing_does_not_block_sessions(void **state)
{
    struct fixture *fx = *state;
    add(fx->auth, "kate", WG_ROLE_NURSE, PW);
    add(fx->auth, "wall", WG_ROLE_STATION, PW);
    char kiosk[WG_AUTH_TOKEN_LEN + 1];
    struct wg_session session;
    login_ok(fx->auth, "wall", PW, T0, kiosk, &session);
    auth_set_hash_cost(fx->auth, crypto_pwhash_OPSLIMIT_INTERACTIVE,
                       crypto_pwhash_MEMLIMIT_INTERACTIVE);
    struct slow_login job = {.auth = fx->auth};
    pthread_t thread;
    assert_int_equal(pthread_create(&thread, NULL, slow_login_thread, &job), 0);
    int64_t worst = 0;
    int checks = 0;
    while (!__atomic_load_n(&job.done, __ATOMIC_ACQUIRE)) {
        int64_t start = mono_ms();
        assert_true(auth_session(fx->auth, kiosk, T0 + S, &session));
        int64_t took = mono_ms() - start;
        if (took > worst)
            worst = took;
        checks++;
        struct timespec pause = {0, 1000000};
        nanosleep(&pause, NULL);
    }
    pthread_join(thread, NULL);
    assert_int_equal(job.result, WG_LOGIN_OK);
    printf("# a real-cost login took %lld ms; %d session checks meanwhile, the slowest %lld ms\n",
           (long long)job.took_ms, checks, (long long)worst);
    assert_true(job.took_ms >= 3 * 20);
    assert_true(checks >= 10);
    assert_true(worst * 3 < job.took_ms);
}

/* ---- opening ---- */

static void test_open_errors(void **state)
{
    struct fixture *fx = *state;
    char err[512] = "", *path = NULL;
    assert_true(asprintf(&path, "%s/missing.db", fx->dir) > 0);
    assert_null(auth_open(path, fx->calls, err, sizeof err));
    assert_non_null(strstr(err, "missing.db: No such file or directory"));
    free(path);

    assert_true(asprintf(&path, "%s/other.db", fx->dir) > 0);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(
        sqlite3_exec(db, "CREATE TABLE t (x); PRAGMA application_id = 7;", NULL, NULL, NULL),
        SQLITE_OK);
    sqlite3_close(db);
    assert_null(auth_open(path, fx->calls, err, sizeof err));
    assert_non_null(strstr(err, "is not a wardgate database"));
    db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db,
                                  "PRAGMA application_id = 1464287572; CREATE TABLE migrations "
                                  "(version INTEGER); INSERT INTO migrations VALUES (3);",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);
    assert_null(auth_open(path, fx->calls, err, sizeof err));
    assert_non_null(strstr(err, "has schema version 3; users need 4"));
    free(path);

    assert_true(asprintf(&path, "%s/garbage.db", fx->dir) > 0);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    for (int i = 0; i < 200; i++)
        fputs("this is not a database file at all ", f);
    fclose(f);
    assert_null(auth_open(path, fx->calls, err, sizeof err));
    assert_non_null(strstr(err, "garbage.db"));
    free(path);
    assert_null(auth_open(NULL, fx->calls, err, sizeof err));
    assert_null(auth_open(fx->path, NULL, err, sizeof err));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roles),
        cmocka_unit_test_setup_teardown(test_validation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list_and_get, setup, teardown),
        cmocka_unit_test_setup_teardown(test_login, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rehash_at_login, setup, teardown),
        cmocka_unit_test_setup_teardown(test_throttle_per_user, setup, teardown),
        cmocka_unit_test_setup_teardown(test_throttle_per_address, setup, teardown),
        cmocka_unit_test_setup_teardown(test_throttle_window, setup, teardown),
        cmocka_unit_test_setup_teardown(test_session_expiry, setup, teardown),
        cmocka_unit_test_setup_teardown(test_logout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sessions_survive_reopen, setup, teardown),
        cmocka_unit_test_setup_teardown(test_user_changes_end_sessions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_last_admin, setup, teardown),
        cmocka_unit_test_setup_teardown(test_many_sessions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_setup_token, setup, teardown),
        cmocka_unit_test_setup_teardown(test_setup_token_dropped_by_add, setup, teardown),
        cmocka_unit_test_setup_teardown(test_audit_has_no_secrets, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hashing_does_not_block_sessions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_errors, setup, teardown),
    };
    wg_log_set_level(WG_LOG_WARNING); /* keep "applied migration" out of the TAP stream */
    return cmocka_run_group_tests(tests, NULL, NULL);
}
