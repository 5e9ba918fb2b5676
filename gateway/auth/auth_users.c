/* Users (auth.h): listing and reading them on auth's read-only connection,
 * and adding, changing and deleting them as work run on the store writer's
 * connection (auth_write), each in one transaction with its audit row.
 * Names, roles and passwords are checked, and the password hashed, before
 * the writer is asked; what depends on the database (the user exists, the
 * last admin) is checked again inside the transaction. */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "auth/auth_internal.h"
#include "common/log.h"

/* ---- reads ---- */

static json_t *user_json(sqlite3_stmt *stmt)
{
    json_t *user = json_object();
    if (!user)
        return NULL;
    int bad = json_object_set_new(user, "username",
                                  json_string((const char *)sqlite3_column_text(stmt, 0)));
    bad |=
        json_object_set_new(user, "role", json_string((const char *)sqlite3_column_text(stmt, 1)));
    bad |= json_object_set_new(user, "created_ms", json_integer(sqlite3_column_int64(stmt, 2)));
    bad |= json_object_set_new(user, "last_login_ms",
                               sqlite3_column_type(stmt, 3) == SQLITE_NULL
                                   ? json_null()
                                   : json_integer(sqlite3_column_int64(stmt, 3)));
    if (bad) {
        json_decref(user);
        return NULL;
    }
    return user;
}

#define USER_COLUMNS "SELECT username, role, created_ms, last_login_ms FROM users "

json_t *auth_list_users(struct wg_auth *auth)
{
    json_t *list = json_array(), *result = NULL;
    if (!auth || !list) {
        json_decref(list);
        return NULL;
    }
    pthread_mutex_lock(&auth->lock);
    struct auth_sql sql = auth_reader(auth);
    sqlite3_stmt *stmt =
        auth_sql_query(&sql, "listing users", USER_COLUMNS "ORDER BY username", NULL);
    int rc = SQLITE_ERROR;
    while (stmt && (rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        json_t *user = user_json(stmt);
        if (!user || json_array_append_new(list, user) != 0) {
            rc = SQLITE_NOMEM;
            break;
        }
    }
    if (stmt && rc != SQLITE_DONE)
        auth_sql_failed(&sql, "listing users");
    sqlite3_finalize(stmt);
    pthread_mutex_unlock(&auth->lock);
    if (rc == SQLITE_DONE)
        result = json_pack("{s:o}", "users", list);
    else
        json_decref(list);
    return result;
}

json_t *auth_get_user(struct wg_auth *auth, const char *username)
{
    if (!auth || !auth_name_ok(username))
        return NULL;
    json_t *user = NULL;
    pthread_mutex_lock(&auth->lock);
    struct auth_sql sql = auth_reader(auth);
    sqlite3_stmt *stmt =
        auth_sql_query(&sql, "reading a user", USER_COLUMNS "WHERE username = ?", "t", username);
    int rc = stmt ? sqlite3_step(stmt) : SQLITE_ERROR;
    if (rc == SQLITE_ROW)
        user = user_json(stmt);
    else if (stmt && rc != SQLITE_DONE)
        auth_sql_failed(&sql, "reading a user");
    sqlite3_finalize(stmt);
    pthread_mutex_unlock(&auth->lock);
    return user;
}

int auth_user_count(struct wg_auth *auth)
{
    if (!auth)
        return -1;
    pthread_mutex_lock(&auth->lock);
    struct auth_sql sql = auth_reader(auth);
    int64_t n = auth_sql_user_count(&sql);
    pthread_mutex_unlock(&auth->lock);
    return n < 0 || n > INT_MAX ? -1 : (int)n;
}

/* Refuses (WG_AUTH_CONFLICT) to take the last admin away; -1 on error. */
static int keep_an_admin(struct auth_sql *sql, const char *username, int current, enum wg_role next,
                         char *why, size_t why_len)
{
    if (current != WG_ROLE_ADMIN || next == WG_ROLE_ADMIN)
        return 0;
    int64_t admins = auth_sql_count(sql, "counting admins",
                                    "SELECT count(*) FROM users WHERE role = 'admin'", NULL);
    if (admins < 0)
        return -1;
    if (admins > 1)
        return 0;
    auth_say(why, why_len, "%s is the last admin: make another user admin first", username);
    return WG_AUTH_CONFLICT;
}

/* Before hashing, on the reader: the user's role (0: none), or
 * WG_AUTH_FAILED with words in why. */
static int role_before_hashing(struct wg_auth *auth, const char *username, const char *doing,
                               struct hash_cost *cost, char *why, size_t why_len)
{
    pthread_mutex_lock(&auth->lock);
    struct auth_sql sql = auth_reader(auth);
    int role = auth_sql_user_role(&sql, username, NULL);
    *cost = auth_cost_locked(auth);
    if (role < 0)
        auth_read_failed(auth, doing, why, why_len);
    pthread_mutex_unlock(&auth->lock);
    return role < 0 ? WG_AUTH_FAILED : role;
}

/* ---- changes, run on the writer ---- */

struct user_change {
    const char *username;
    enum wg_role role; /* WG_ROLE_NONE: kept (update) */
    const char *hash;  /* NULL: kept (update) */
    const char *actor, *origin;
    int64_t now_ms;
    /* The answer: */
    int rc; /* 0 or an enum wg_auth_error */
    char why[256];
    int current, ended, setup_tokens;
    bool role_changes;
};

static int add_work(struct wg_store *store, void *ctx)
{
    struct user_change *change = ctx;
    struct auth_sql sql = auth_sql_of(store);
    bool constraint = false;
    if (auth_sql_begin(&sql) < 0)
        return -1;
    if (auth_sql_run(&sql, "adding a user",
                     auth_sql_query(&sql, "adding a user",
                                    "INSERT INTO users (username, role, password_hash, "
                                    "created_ms, updated_ms) VALUES (?, ?, ?, ?, ?)",
                                    "tttii", change->username, role_name(change->role),
                                    change->hash, change->now_ms, change->now_ms),
                     &constraint) < 0) {
        auth_sql_rollback(&sql);
        if (!constraint)
            return -1;
        auth_say(change->why, sizeof change->why, "user %s exists", change->username);
        change->rc = WG_AUTH_CONFLICT;
        return 0;
    }
    if ((change->setup_tokens = auth_sql_run(
             &sql, "dropping the setup token",
             auth_sql_query(&sql, "dropping the setup token", "DELETE FROM setup_token", NULL),
             NULL)) < 0 ||
        auth_sql_audit(&sql, change->now_ms, change->actor, change->origin, "user.add",
                       change->username, json_pack("{s:s}", "role", role_name(change->role))) < 0) {
        auth_sql_rollback(&sql);
        return -1;
    }
    return auth_sql_commit(&sql);
}

static void log_change(const char *username, const char *what, const char *actor,
                       const char *origin, int ended)
{
    char from[CLIENT_TEXT_MAX];
    auth_clean_text(origin, from, sizeof from);
    wg_info("auth: user %s %s by %s from %s; %d session(s) ended", username, what,
            actor ? actor : "-", from, ended);
}

int auth_add_user(struct wg_auth *auth, const char *username, enum wg_role role,
                  const char *password, const char *actor, const char *origin, char *why,
                  size_t why_len)
{
    if (!auth) {
        auth_say(why, why_len, "auth: not open");
        return WG_AUTH_FAILED;
    }
    int rc = auth_check_name(username, why, why_len);
    if (!rc)
        rc = auth_check_role(role, why, why_len);
    if (!rc)
        rc = auth_check_password(password, why, why_len);
    if (rc)
        return rc;
    struct hash_cost cost;
    int existing = role_before_hashing(auth, username, "add the user", &cost, why, why_len);
    if (existing < 0)
        return existing;
    if (existing > 0) {
        auth_say(why, why_len, "user %s exists", username);
        return WG_AUTH_CONFLICT;
    }
    char hash[crypto_pwhash_STRBYTES];
    if (auth_hash_password(&cost, password, hash) != 0) {
        auth_say(why, why_len, "cannot hash the password (out of memory)");
        return WG_AUTH_FAILED;
    }
    struct user_change change = {.username = username,
                                 .role = role,
                                 .hash = hash,
                                 .actor = actor,
                                 .origin = origin,
                                 .now_ms = auth_wall_ms()};
    rc = auth_write(auth, "add the user", add_work, &change, why, why_len) < 0 ? WG_AUTH_STORAGE
                                                                               : change.rc;
    sodium_memzero(hash, sizeof hash);
    if (rc) {
        if (change.why[0])
            auth_say(why, why_len, "%s", change.why);
        return rc;
    }
    if (change.setup_tokens > 0)
        auth_remove_setup_file(auth);
    char from[CLIENT_TEXT_MAX];
    auth_clean_text(origin, from, sizeof from);
    wg_info("auth: user %s (%s) added by %s from %s", username, role_name(role),
            actor ? actor : "-", from);
    return 0;
}

/* Opens the change's transaction and reads the user's role in it: sets
 * change->rc for no user; -1 (rolled back) on error. */
static int begin_change(struct auth_sql *sql, struct user_change *change)
{
    if (auth_sql_begin(sql) < 0)
        return -1;
    change->current = auth_sql_user_role(sql, change->username, NULL);
    if (change->current < 0) {
        auth_sql_rollback(sql);
        return -1;
    }
    if (change->current == 0) {
        auth_say(change->why, sizeof change->why, "no user %s", change->username);
        change->rc = WG_AUTH_NOT_FOUND;
    }
    return 0;
}

/* In the change's transaction: ends the user's sessions (change->ended). */
static int end_sessions(struct auth_sql *sql, struct user_change *change)
{
    change->ended = auth_sql_run(sql, "ending sessions",
                                 auth_sql_query(sql, "ending sessions",
                                                "DELETE FROM sessions WHERE username = ?", "t",
                                                change->username),
                                 NULL);
    return change->ended < 0 ? -1 : 0;
}

/* The answer to a change the writer was asked for (write_rc: auth_write's);
 * on success the user's cached sessions are forgotten. */
static int change_answer(struct wg_auth *auth, const struct user_change *change, int write_rc,
                         char *why, size_t why_len)
{
    int rc = write_rc < 0 ? WG_AUTH_STORAGE : change->rc;
    if (rc) {
        if (change->why[0] && rc != WG_AUTH_STORAGE)
            auth_say(why, why_len, "%s", change->why);
        return rc;
    }
    pthread_mutex_lock(&auth->lock);
    auth_cache_drop_user(auth, change->username);
    pthread_mutex_unlock(&auth->lock);
    return 0;
}

/* A change of an existing user: auth open, a name that may exist. */
static int check_target(const struct wg_auth *auth, const char *username, char *why, size_t why_len)
{
    if (!auth) {
        auth_say(why, why_len, "auth: not open");
        return WG_AUTH_FAILED;
    }
    if (!auth_name_ok(username)) {
        auth_say(why, why_len, "no such user");
        return WG_AUTH_NOT_FOUND;
    }
    return 0;
}

static int update_work(struct wg_store *store, void *ctx)
{
    struct user_change *change = ctx;
    struct auth_sql sql = auth_sql_of(store);
    if (begin_change(&sql, change) < 0)
        return -1;
    change->role_changes = change->role != WG_ROLE_NONE && (int)change->role != change->current;
    if (change->rc || (!change->role_changes && !change->hash)) { /* nothing to change */
        auth_sql_rollback(&sql);
        return 0;
    }
    if (change->role_changes) {
        change->rc = keep_an_admin(&sql, change->username, change->current, change->role,
                                   change->why, sizeof change->why);
        if (change->rc < 0 && change->rc != WG_AUTH_CONFLICT)
            goto failed;
        if (change->rc) {
            auth_sql_rollback(&sql);
            return 0;
        }
    }
    json_t *detail = json_object();
    if (detail && change->role_changes) {
        json_object_set_new(detail, "role", json_string(role_name(change->role)));
        json_object_set_new(detail, "previous_role", json_string(role_name(change->current)));
    }
    if (detail)
        json_object_set_new(detail, "password_changed", json_boolean(change->hash != NULL));
    if (auth_sql_run(&sql, "updating a user",
                     auth_sql_query(&sql, "updating a user",
                                    "UPDATE users SET role = coalesce(?, role), "
                                    "password_hash = coalesce(?, password_hash), updated_ms = ? "
                                    "WHERE username = ?",
                                    "ttit", change->role_changes ? role_name(change->role) : NULL,
                                    change->hash, change->now_ms, change->username),
                     NULL) < 0 ||
        end_sessions(&sql, change) < 0) {
        json_decref(detail);
        goto failed;
    }
    if (detail)
        json_object_set_new(detail, "sessions_ended", json_integer(change->ended));
    if (auth_sql_audit(&sql, change->now_ms, change->actor, change->origin, "user.update",
                       change->username, detail) < 0)
        goto failed;
    return auth_sql_commit(&sql);
failed:
    auth_sql_rollback(&sql);
    return -1;
}

int auth_update_user(struct wg_auth *auth, const char *username, enum wg_role role,
                     const char *password, const char *actor, const char *origin, char *why,
                     size_t why_len)
{
    int rc = check_target(auth, username, why, why_len);
    if (rc)
        return rc;
    rc = role == WG_ROLE_NONE ? 0 : auth_check_role(role, why, why_len);
    if (!rc && password)
        rc = auth_check_password(password, why, why_len);
    if (rc)
        return rc;
    /* Checked before hashing, and again in the transaction. */
    struct hash_cost cost;
    int current = role_before_hashing(auth, username, "change the user", &cost, why, why_len);
    if (current < 0)
        return current;
    if (current == 0) {
        auth_say(why, why_len, "no user %s", username);
        return WG_AUTH_NOT_FOUND;
    }
    if (role != WG_ROLE_NONE) {
        pthread_mutex_lock(&auth->lock);
        struct auth_sql sql = auth_reader(auth);
        rc = keep_an_admin(&sql, username, current, role, why, why_len);
        if (rc < 0 && rc != WG_AUTH_CONFLICT)
            auth_read_failed(auth, "change the user", why, why_len);
        pthread_mutex_unlock(&auth->lock);
        if (rc)
            return rc == WG_AUTH_CONFLICT ? rc : WG_AUTH_STORAGE;
    }
    char hash[crypto_pwhash_STRBYTES] = "";
    if (password && auth_hash_password(&cost, password, hash) != 0) {
        auth_say(why, why_len, "cannot hash the password (out of memory)");
        return WG_AUTH_FAILED;
    }
    struct user_change change = {.username = username,
                                 .role = role,
                                 .hash = password ? hash : NULL,
                                 .actor = actor,
                                 .origin = origin,
                                 .now_ms = auth_wall_ms()};
    int written = auth_write(auth, password ? "change the password" : "change the user",
                             update_work, &change, why, why_len);
    sodium_memzero(hash, sizeof hash);
    rc = change_answer(auth, &change, written, why, why_len);
    if (rc || (!change.role_changes && !password))
        return rc;
    char what[64];
    snprintf(what, sizeof what, "changed (%s%s%s)", change.role_changes ? "role " : "",
             change.role_changes ? role_name(role) : "",
             password ? (change.role_changes ? ", password" : "password") : "");
    log_change(username, what, actor, origin, change.ended);
    return 0;
}

static int delete_work(struct wg_store *store, void *ctx)
{
    struct user_change *change = ctx;
    struct auth_sql sql = auth_sql_of(store);
    if (begin_change(&sql, change) < 0)
        return -1;
    if (!change->rc)
        change->rc = keep_an_admin(&sql, change->username, change->current, WG_ROLE_NONE,
                                   change->why, sizeof change->why);
    if (change->rc < 0 && change->rc != WG_AUTH_CONFLICT && change->rc != WG_AUTH_NOT_FOUND)
        goto failed;
    if (change->rc) {
        auth_sql_rollback(&sql);
        return 0;
    }
    if (end_sessions(&sql, change) < 0 ||
        auth_sql_run(&sql, "deleting a user",
                     auth_sql_query(&sql, "deleting a user", "DELETE FROM users WHERE username = ?",
                                    "t", change->username),
                     NULL) < 0 ||
        auth_sql_audit(&sql, change->now_ms, change->actor, change->origin, "user.delete",
                       change->username,
                       json_pack("{s:s,s:i}", "role", role_name(change->current), "sessions_ended",
                                 change->ended)) < 0)
        goto failed;
    return auth_sql_commit(&sql);
failed:
    auth_sql_rollback(&sql);
    return -1;
}

int auth_delete_user(struct wg_auth *auth, const char *username, const char *actor,
                     const char *origin, char *why, size_t why_len)
{
    int rc = check_target(auth, username, why, why_len);
    if (rc)
        return rc;
    struct user_change change = {
        .username = username, .actor = actor, .origin = origin, .now_ms = auth_wall_ms()};
    rc = change_answer(auth, &change,
                       auth_write(auth, "delete the user", delete_work, &change, why, why_len), why,
                       why_len);
    if (rc)
        return rc;
    log_change(username, "deleted", actor, origin, change.ended);
    return 0;
}
