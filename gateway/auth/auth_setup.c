/* The first start (auth.h): while no user exists, a one-time setup token
 * (valid 24 h; only its hash is stored, the token itself goes to the log
 * and to the setup-token file beside the database, mode 0600), with which
 * the first admin is made in the browser. Reads on auth's read-only
 * connection; the token's and the first admin's writes are work on the
 * store writer's connection. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth/auth_internal.h"
#include "common/log.h"

/* ---- the setup-token file ---- */

static int setup_file_path(const struct wg_auth *auth, char *out, size_t len)
{
    const char *slash = strrchr(auth->path, '/');
    int n = slash ? snprintf(out, len, "%.*s/%s", (int)(slash - auth->path), auth->path, SETUP_FILE)
                  : snprintf(out, len, "%s", SETUP_FILE);
    return n < 0 || (size_t)n >= len ? -1 : 0;
}

int auth_write_setup_token_file(struct wg_auth *auth, const char *token, char *path_out,
                                size_t path_len, char *err, size_t err_len)
{
    char path[PATH_MAX], tmp[PATH_MAX + 8];
    if (!auth || setup_file_path(auth, path, sizeof path) < 0) {
        auth_say(err, err_len, "setup token file: path too long");
        return -1;
    }
    if (path_out)
        auth_say(path_out, path_len, "%s", path);
    if (!token) {
        if (unlink(path) < 0 && errno != ENOENT) {
            auth_say(err, err_len, "cannot remove %s: %s", path, strerror(errno));
            return -1;
        }
        return 0;
    }
    snprintf(tmp, sizeof tmp, "%s.new", path);
    if (unlink(tmp) < 0 && errno != ENOENT) {
        auth_say(err, err_len, "cannot remove %s: %s", tmp, strerror(errno));
        return -1;
    }
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        auth_say(err, err_len, "cannot create %s: %s", tmp, strerror(errno));
        return -1;
    }
    size_t len = strlen(token);
    bool ok = fchmod(fd, 0600) == 0 && write(fd, token, len) == (ssize_t)len &&
              write(fd, "\n", 1) == 1 && fsync(fd) == 0;
    int saved = errno;
    if (close(fd) != 0 && ok) {
        ok = false;
        saved = errno;
    }
    if (ok && rename(tmp, path) != 0) {
        ok = false;
        saved = errno;
    }
    if (!ok) {
        unlink(tmp);
        auth_say(err, err_len, "cannot write %s: %s", path, strerror(saved));
        return -1;
    }
    return 0;
}

void auth_remove_setup_file(struct wg_auth *auth)
{
    char err[PATH_MAX + 100];
    if (auth_write_setup_token_file(auth, NULL, NULL, 0, err, sizeof err) < 0)
        wg_warn("auth: %s", err);
}

/* ---- the token ---- */

/* 1 when the token is the valid setup token and no user exists; 0 for a
 * wrong or expired token; 2 when users exist; -1 on a database error. */
static int setup_token_valid(struct auth_sql *sql, const uint8_t key[KEY_LEN], int64_t now_ms)
{
    int64_t users = auth_sql_user_count(sql);
    if (users < 0)
        return -1;
    if (users > 0)
        return 2;
    sqlite3_stmt *stmt =
        auth_sql_query(sql, "reading the setup token",
                       "SELECT token_hash, expires_ms FROM setup_token WHERE id = 1", NULL);
    if (!stmt)
        return -1;
    int rc = sqlite3_step(stmt), valid = 0;
    if (rc == SQLITE_ROW) {
        const void *stored = sqlite3_column_blob(stmt, 0);
        valid = stored && sqlite3_column_bytes(stmt, 0) == KEY_LEN &&
                sodium_memcmp(stored, key, KEY_LEN) == 0 && now_ms < sqlite3_column_int64(stmt, 1);
    } else if (rc != SQLITE_DONE) {
        auth_sql_failed(sql, "reading the setup token");
        valid = -1;
    }
    sqlite3_finalize(stmt);
    return valid;
}

int auth_setup_pending(struct wg_auth *auth, int64_t now_ms)
{
    if (!auth)
        return -1;
    pthread_mutex_lock(&auth->lock);
    struct auth_sql sql = auth_reader(auth);
    sqlite3_stmt *stmt =
        auth_sql_query(&sql, "reading whether setup is pending",
                       "SELECT NOT EXISTS (SELECT 1 FROM users) AND "
                       "EXISTS (SELECT 1 FROM setup_token WHERE id = 1 AND expires_ms > ?)",
                       "i", now_ms);
    int pending = -1;
    if (stmt && sqlite3_step(stmt) == SQLITE_ROW)
        pending = sqlite3_column_int(stmt, 0) != 0;
    else if (stmt)
        auth_sql_failed(&sql, "reading whether setup is pending");
    sqlite3_finalize(stmt);
    pthread_mutex_unlock(&auth->lock);
    return pending;
}

struct token_write {
    int64_t now_ms;
    uint8_t key[KEY_LEN];
    int made; /* 1 stored, 0 users exist (and any old token is gone) */
};

static int token_work(struct wg_store *store, void *ctx)
{
    struct token_write *write = ctx;
    struct auth_sql sql = auth_sql_of(store);
    if (auth_sql_begin(&sql) < 0)
        return -1;
    int64_t users = auth_sql_user_count(&sql);
    int rc = -1;
    if (users > 0)
        rc = auth_sql_run(
            &sql, "dropping the setup token",
            auth_sql_query(&sql, "dropping the setup token", "DELETE FROM setup_token", NULL),
            NULL);
    else if (users == 0 &&
             auth_sql_run(&sql, "storing the setup token",
                          auth_sql_query(&sql, "storing the setup token",
                                         "INSERT OR REPLACE INTO setup_token (id, token_hash, "
                                         "created_ms, expires_ms) VALUES (1, ?, ?, ?)",
                                         "kii", write->key, write->now_ms,
                                         write->now_ms + SETUP_TOKEN_MS),
                          NULL) >= 0)
        rc = auth_sql_audit(
            &sql, write->now_ms, "wardgated", NULL, "setup.token", NULL,
            json_pack("{s:I}", "expires_ms", (json_int_t)(write->now_ms + SETUP_TOKEN_MS)));
    if (rc < 0) {
        auth_sql_rollback(&sql);
        return -1;
    }
    write->made = users == 0;
    return auth_sql_commit(&sql);
}

int auth_make_setup_token(struct wg_auth *auth, int64_t now_ms, char *token_out, size_t token_len)
{
    if (!auth || !token_out || token_len < WG_AUTH_TOKEN_LEN + 1)
        return -1;
    char token[WG_AUTH_TOKEN_LEN + 1], why[256];
    struct token_write write = {.now_ms = now_ms};
    auth_new_token(token);
    auth_token_key(token, write.key);
    int result = -1;
    if (auth_write(auth, "make the setup token", token_work, &write, why, sizeof why) == 0) {
        result = write.made;
        if (write.made)
            snprintf(token_out, token_len, "%s", token);
    }
    sodium_memzero(token, sizeof token);
    sodium_memzero(write.key, sizeof write.key);
    return result;
}

/* ---- the first admin ---- */

struct admin_write {
    const uint8_t *setup_key;
    const char *username, *hash, *from;
    int64_t now_ms;
    /* The answer: */
    int valid; /* setup_token_valid's, in the transaction */
    char *token;
    uint8_t key[KEY_LEN];
    bool trimmed;
};

static int admin_work(struct wg_store *store, void *ctx)
{
    struct admin_write *write = ctx;
    struct auth_sql sql = auth_sql_of(store);
    if (auth_sql_begin(&sql) < 0)
        return -1;
    write->valid = setup_token_valid(&sql, write->setup_key, write->now_ms);
    if (write->valid < 0)
        goto failed;
    if (write->valid != 1) { /* used by another request meanwhile */
        auth_sql_rollback(&sql);
        return 0;
    }
    if (auth_sql_run(&sql, "adding the first admin",
                     auth_sql_query(&sql, "adding the first admin",
                                    "INSERT INTO users (username, role, password_hash, "
                                    "created_ms, updated_ms, last_login_ms) "
                                    "VALUES (?, 'admin', ?, ?, ?, ?)",
                                    "ttiii", write->username, write->hash, write->now_ms,
                                    write->now_ms, write->now_ms),
                     NULL) < 0 ||
        auth_sql_run(
            &sql, "using up the setup token",
            auth_sql_query(&sql, "using up the setup token", "DELETE FROM setup_token", NULL),
            NULL) < 0 ||
        auth_session_insert(&sql, write->username, WG_ROLE_ADMIN, write->now_ms, write->token,
                            write->key, &write->trimmed) < 0 ||
        auth_sql_audit(&sql, write->now_ms, write->username, write->from, "setup.admin",
                       write->username, json_pack("{s:s}", "role", "admin")) < 0)
        goto failed;
    return auth_sql_commit(&sql);
failed:
    auth_sql_rollback(&sql);
    return -1;
}

#define SETUP_REFUSED "the setup token is wrong or expired, or a user exists"

enum wg_login_result auth_setup_admin(struct wg_auth *auth, const char *setup_token,
                                      const char *username, const char *password,
                                      const char *client, int64_t now_ms, char *token_out,
                                      struct wg_session *session, char *why, size_t why_len)
{
    if (!auth || !token_out || !session) {
        auth_say(why, why_len, "auth_setup_admin: missing argument");
        return WG_LOGIN_ERROR;
    }
    if (!setup_token) {
        auth_say(why, why_len, SETUP_REFUSED);
        return WG_LOGIN_BAD;
    }
    char from[CLIENT_TEXT_MAX];
    auth_clean_text(client, from, sizeof from);
    uint8_t key[KEY_LEN];
    auth_token_key(setup_token, key);
    pthread_mutex_lock(&auth->lock);
    struct auth_sql sql = auth_reader(auth);
    int valid = setup_token_valid(&sql, key, now_ms);
    struct hash_cost cost = auth_cost_locked(auth);
    if (valid < 0)
        auth_read_failed(auth, "create the admin", why, why_len);
    else if (valid != 1)
        auth_say(why, why_len, SETUP_REFUSED);
    pthread_mutex_unlock(&auth->lock);
    if (valid != 1) {
        /* Audited only while setup is possible: once users exist, requests
         * to the setup endpoint could otherwise fill the audit table. */
        if (valid == 0) {
            struct auth_posted *posted = auth_posted_new("the audit row of a refused setup");
            auth_posted_audit(posted, now_ms, "-", from, "setup.failed", NULL, NULL, false);
            auth_post(auth, posted);
            wg_notice("auth: setup from %s refused: wrong or expired token", from);
        } else if (valid == 2) {
            wg_debug("auth: setup from %s refused: users exist", from);
        }
        return valid < 0 ? WG_LOGIN_ERROR : WG_LOGIN_BAD;
    }
    if (auth_check_name(username, why, why_len) || auth_check_password(password, why, why_len))
        return WG_LOGIN_INVALID;
    char hash[crypto_pwhash_STRBYTES];
    if (auth_hash_password(&cost, password, hash) != 0) {
        auth_say(why, why_len, "cannot hash the password (out of memory)");
        return WG_LOGIN_ERROR;
    }
    struct admin_write write = {.setup_key = key,
                                .username = username,
                                .hash = hash,
                                .from = from,
                                .now_ms = now_ms,
                                .token = token_out};
    enum wg_login_result result = WG_LOGIN_OK;
    if (auth_write(auth, "create the admin", admin_work, &write, why, why_len) < 0) {
        result = WG_LOGIN_ERROR;
    } else if (write.valid != 1) {
        auth_say(why, why_len, SETUP_REFUSED);
        result = WG_LOGIN_BAD;
    } else {
        pthread_mutex_lock(&auth->lock);
        auth_session_cache(auth, write.key, token_out, username, WG_ROLE_ADMIN, now_ms, session);
        pthread_mutex_unlock(&auth->lock);
    }
    if (result != WG_LOGIN_OK)
        sodium_memzero(token_out, WG_AUTH_TOKEN_LEN + 1);
    sodium_memzero(hash, sizeof hash);
    sodium_memzero(write.key, sizeof write.key);
    if (result == WG_LOGIN_OK) {
        auth_remove_setup_file(auth);
        wg_notice("auth: first admin %s made with the setup token from %s", username, from);
    }
    return result;
}
