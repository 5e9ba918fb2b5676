/* Sessions (auth.h): made at login (in the login's transaction), cached in
 * memory, looked up on every request by auth_session, extended while used
 * and ended at logout.
 *
 * auth_session runs on the web server's service thread, so it never waits
 * for a write: a cache miss is one read on auth's read-only connection, and
 * the idle extension (at most once a minute per session), the removal of
 * an expired session and a logout are posted to the store writer
 * (auth_post), which retries them while storage fails. An ended token
 * (logged out, expired) is remembered (the last REVOKED_SLOTS of them), so
 * that it cannot come back from its row before the writer has deleted it. */
#include <stdio.h>
#include <string.h>

#include "auth/auth_internal.h"
#include "common/log.h"

int64_t auth_session_expires(enum wg_role role, int64_t created_ms, int64_t last_seen_ms)
{
    if (role == WG_ROLE_STATION)
        return last_seen_ms + STATION_IDLE_MS;
    int64_t idle = last_seen_ms + IDLE_MS, cap = created_ms + ABSOLUTE_MS;
    return idle < cap ? idle : cap;
}

/* ---- the cache (under auth->lock) ---- */

static struct cached_session *cache_find(struct wg_auth *auth, const uint8_t key[KEY_LEN])
{
    for (size_t i = 0; i < CACHE_SLOTS; i++)
        if (auth->cache[i].used && sodium_memcmp(auth->cache[i].key, key, KEY_LEN) == 0)
            return &auth->cache[i];
    return NULL;
}

static struct cached_session *cache_slot(struct wg_auth *auth)
{
    struct cached_session *victim = &auth->cache[0];
    for (size_t i = 0; i < CACHE_SLOTS; i++) {
        if (!auth->cache[i].used)
            return &auth->cache[i];
        if (auth->cache[i].used_tick < victim->used_tick)
            victim = &auth->cache[i];
    }
    return victim; /* still in the database: only the cache forgets it */
}

static void cache_drop(struct cached_session *entry)
{
    if (entry)
        sodium_memzero(entry, sizeof *entry);
}

void auth_cache_drop_user(struct wg_auth *auth, const char *username)
{
    for (size_t i = 0; i < CACHE_SLOTS; i++)
        if (auth->cache[i].used && strcmp(auth->cache[i].username, username) == 0)
            cache_drop(&auth->cache[i]);
}

static struct cached_session *cache_put(struct wg_auth *auth, const uint8_t key[KEY_LEN],
                                        const char *token, const char *username, enum wg_role role,
                                        int64_t created_ms, int64_t last_seen_ms)
{
    struct cached_session *entry = cache_slot(auth);
    cache_drop(entry);
    entry->used = true;
    memcpy(entry->key, key, KEY_LEN);
    snprintf(entry->username, sizeof entry->username, "%s", username);
    entry->role = role;
    auth_csrf_of(token, entry->csrf);
    entry->created_ms = created_ms;
    entry->last_seen_ms = entry->stored_seen_ms = last_seen_ms;
    entry->used_tick = ++auth->tick;
    return entry;
}

static void fill_session(const struct cached_session *entry, struct wg_session *session)
{
    memset(session, 0, sizeof *session);
    snprintf(session->username, sizeof session->username, "%s", entry->username);
    session->role = entry->role;
    snprintf(session->csrf, sizeof session->csrf, "%s", entry->csrf);
    session->expires_ms = auth_session_expires(entry->role, entry->created_ms, entry->last_seen_ms);
}

static bool revoked(const struct wg_auth *auth, const uint8_t key[KEY_LEN])
{
    for (size_t i = 0; i < REVOKED_SLOTS; i++)
        if (sodium_memcmp(auth->revoked[i], key, KEY_LEN) == 0)
            return true;
    return false;
}

/* An ended session whose row the writer has yet to delete. */
static void revoke(struct wg_auth *auth, const uint8_t key[KEY_LEN])
{
    if (revoked(auth, key))
        return;
    memcpy(auth->revoked[auth->revoked_next], key, KEY_LEN);
    auth->revoked_next = (auth->revoked_next + 1) % REVOKED_SLOTS;
}

/* ---- made at login (writer thread, in the login's transaction) ---- */

int auth_session_insert(struct auth_sql *sql, const char *username, enum wg_role role,
                        int64_t now_ms, char token[WG_AUTH_TOKEN_LEN + 1], uint8_t key[KEY_LEN],
                        bool *trimmed)
{
    auth_new_token(token);
    auth_token_key(token, key);
    if (auth_sql_run(sql, "storing a session",
                     auth_sql_query(sql, "storing a session",
                                    "INSERT INTO sessions (token_hash, username, created_ms, "
                                    "last_seen_ms, expires_ms) VALUES (?, ?, ?, ?, ?)",
                                    "ktiii", key, username, now_ms, now_ms,
                                    auth_session_expires(role, now_ms, now_ms)),
                     NULL) < 0)
        return -1;
    /* A user's oldest sessions beyond SESSIONS_PER_USER end, so a kiosk
     * that logs in again and again does not pile them up. */
    int ended = auth_sql_run(sql, "ending old sessions",
                             auth_sql_query(sql, "ending old sessions",
                                            "DELETE FROM sessions WHERE username = ?1 AND "
                                            "token_hash NOT IN (SELECT token_hash FROM sessions "
                                            "WHERE username = ?1 ORDER BY last_seen_ms DESC, "
                                            "created_ms DESC LIMIT ?2)",
                                            "ti", username, (int64_t)SESSIONS_PER_USER),
                             NULL);
    if (ended < 0)
        return -1;
    *trimmed = ended > 0;
    return 0;
}

void auth_session_cache(struct wg_auth *auth, const uint8_t key[KEY_LEN], const char *token,
                        const char *username, enum wg_role role, int64_t now_ms,
                        struct wg_session *session)
{
    struct cached_session *entry = cache_put(auth, key, token, username, role, now_ms, now_ms);
    fill_session(entry, session);
}

/* ---- used on every request (the web thread) ---- */

/* The session of key from the database, cached; NULL when there is none
 * (or it cannot be read: the request is then refused, and logged). */
static struct cached_session *load(struct wg_auth *auth, const uint8_t key[KEY_LEN],
                                   const char *token)
{
    struct auth_sql sql = auth_reader(auth);
    sqlite3_stmt *stmt = auth_sql_query(&sql, "reading a session",
                                        "SELECT s.username, u.role, s.created_ms, s.last_seen_ms "
                                        "FROM sessions AS s JOIN users AS u USING (username) "
                                        "WHERE s.token_hash = ?",
                                        "k", key);
    struct cached_session *entry = NULL;
    int rc = stmt ? sqlite3_step(stmt) : SQLITE_ERROR;
    if (rc == SQLITE_ROW) {
        int role = role_from_name((const char *)sqlite3_column_text(stmt, 1));
        if (role > 0)
            entry = cache_put(auth, key, token, (const char *)sqlite3_column_text(stmt, 0),
                              (enum wg_role)role, sqlite3_column_int64(stmt, 2),
                              sqlite3_column_int64(stmt, 3));
    } else if (stmt && rc != SQLITE_DONE) {
        auth_sql_failed(&sql, "reading a session");
    }
    sqlite3_finalize(stmt);
    return entry;
}

/* Whether the session's row is still there (another process may have ended
 * it): checked when the extension is written. Unknown counts as there. */
static bool still_stored(struct wg_auth *auth, const uint8_t key[KEY_LEN])
{
    struct auth_sql sql = auth_reader(auth);
    int64_t n = -1;
    sqlite3_stmt *stmt = auth_sql_query(
        &sql, "reading a session", "SELECT count(*) FROM sessions WHERE token_hash = ?", "k", key);
    if (stmt && sqlite3_step(stmt) == SQLITE_ROW)
        n = sqlite3_column_int64(stmt, 0);
    sqlite3_finalize(stmt);
    return n != 0;
}

bool auth_session(struct wg_auth *auth, const char *token, int64_t now_ms,
                  struct wg_session *session)
{
    if (!auth || !auth_token_shape_ok(token) || !session)
        return false;
    uint8_t key[KEY_LEN];
    auth_token_key(token, key);
    bool ok = false;
    struct auth_posted *posted = NULL;
    pthread_mutex_lock(&auth->lock);
    struct cached_session *entry = cache_find(auth, key);
    if (!entry && !revoked(auth, key))
        entry = load(auth, key, token);
    if (!entry)
        goto out;
    entry->used_tick = ++auth->tick;
    if (now_ms >= auth_session_expires(entry->role, entry->created_ms, entry->last_seen_ms)) {
        posted = auth_posted_new("the removal of an expired session");
        auth_posted_session(posted, AUTH_SESSION_END, key, 0, 0);
        cache_drop(entry);
        revoke(auth, key);
        goto out;
    }
    if (now_ms > entry->last_seen_ms)
        entry->last_seen_ms = now_ms;
    if (entry->last_seen_ms - entry->stored_seen_ms >= TOUCH_MS) {
        if (!still_stored(auth, key)) { /* ended by another process */
            cache_drop(entry);
            goto out;
        }
        posted = auth_posted_new("a session's idle extension");
        auth_posted_session(
            posted, AUTH_SESSION_TOUCH, key, entry->last_seen_ms,
            auth_session_expires(entry->role, entry->created_ms, entry->last_seen_ms));
        /* Counted as stored once posted: the writer keeps it until it is. */
        entry->stored_seen_ms = entry->last_seen_ms;
    }
    fill_session(entry, session);
    ok = true;
out:
    pthread_mutex_unlock(&auth->lock);
    auth_post(auth, posted);
    sodium_memzero(key, sizeof key);
    return ok;
}

void auth_logout(struct wg_auth *auth, const char *token)
{
    if (!auth || !auth_token_shape_ok(token))
        return;
    uint8_t key[KEY_LEN];
    auth_token_key(token, key);
    char username[WG_AUTH_NAME_MAX + 1] = "";
    pthread_mutex_lock(&auth->lock);
    struct auth_sql sql = auth_reader(auth);
    sqlite3_stmt *stmt = auth_sql_query(
        &sql, "reading a session", "SELECT username FROM sessions WHERE token_hash = ?", "k", key);
    if (stmt && sqlite3_step(stmt) == SQLITE_ROW)
        snprintf(username, sizeof username, "%s", (const char *)sqlite3_column_text(stmt, 0));
    sqlite3_finalize(stmt);
    struct cached_session *entry = cache_find(auth, key);
    if (!username[0] && entry) /* not readable now, but known */
        snprintf(username, sizeof username, "%s", entry->username);
    cache_drop(entry);
    bool known = username[0] && !revoked(auth, key);
    if (known)
        revoke(auth, key);
    pthread_mutex_unlock(&auth->lock);
    if (known) {
        struct auth_posted *posted = auth_posted_new("a logout");
        auth_posted_session(posted, AUTH_SESSION_END, key, 0, 0);
        auth_posted_audit(posted, auth_wall_ms(), username, NULL, "logout", username, NULL, true);
        auth_post(auth, posted);
        wg_info("auth: %s logged out", username);
    }
    sodium_memzero(key, sizeof key);
}
