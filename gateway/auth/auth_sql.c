/* The auth module's SQL: statements on one connection (auth's read-only
 * reader, or the store writer's inside work run by store_call.h), their
 * failures in words for people, and the two ways auth writes: waiting for
 * the writer (auth_write: user changes, a login) or posting work nobody
 * waits for (auth_post: audit rows of refused logins, logouts, a session's
 * idle extension), which the writer keeps and retries while storage fails. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/auth_internal.h"
#include "store/audit_chain.h"
#include "common/log.h"

struct auth_sql auth_sql_of(struct wg_store *store)
{
    return (struct auth_sql){store, store_connection(store)};
}

struct auth_sql auth_reader(struct wg_auth *auth)
{
    return auth_sql_of(auth->reader);
}

int auth_sql_failed(struct auth_sql *sql, const char *doing)
{
    store_sqlite_failed(sql->store, sqlite3_extended_errcode(sql->db), doing);
    wg_err("auth: %s", store_last_error(sql->store));
    return -1;
}

sqlite3_stmt *auth_sql_query(struct auth_sql *sql, const char *doing, const char *text,
                             const char *types, ...)
{
    sqlite3_stmt *stmt = NULL;
    if (sqlite3_prepare_v2(sql->db, text, -1, &stmt, NULL) != SQLITE_OK) {
        auth_sql_failed(sql, doing);
        return NULL;
    }
    va_list ap;
    va_start(ap, types);
    int rc = SQLITE_OK;
    for (int i = 0; types && types[i] && rc == SQLITE_OK; i++) {
        switch (types[i]) {
        case 't': {
            const char *value = va_arg(ap, const char *);
            rc = value ? sqlite3_bind_text(stmt, i + 1, value, -1, SQLITE_TRANSIENT)
                       : sqlite3_bind_null(stmt, i + 1);
            break;
        }
        case 'i':
            rc = sqlite3_bind_int64(stmt, i + 1, va_arg(ap, int64_t));
            break;
        case 'k':
            rc = sqlite3_bind_blob(stmt, i + 1, va_arg(ap, const uint8_t *), KEY_LEN,
                                   SQLITE_TRANSIENT);
            break;
        default:
            rc = SQLITE_MISUSE;
        }
    }
    va_end(ap);
    if (rc != SQLITE_OK) {
        auth_sql_failed(sql, doing);
        sqlite3_finalize(stmt);
        return NULL;
    }
    return stmt;
}

int auth_sql_run(struct auth_sql *sql, const char *doing, sqlite3_stmt *stmt, bool *constraint)
{
    if (!stmt)
        return -1;
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW)
        ;
    if (rc != SQLITE_DONE) {
        if (constraint)
            *constraint = (rc & 0xff) == SQLITE_CONSTRAINT;
        auth_sql_failed(sql, doing);
        sqlite3_finalize(stmt);
        return -1;
    }
    sqlite3_finalize(stmt);
    return sqlite3_changes(sql->db);
}

static int exec_plain(struct auth_sql *sql, const char *doing, const char *text)
{
    if (sqlite3_exec(sql->db, text, NULL, NULL, NULL) != SQLITE_OK)
        return auth_sql_failed(sql, doing);
    return 0;
}

int auth_sql_begin(struct auth_sql *sql)
{
    return exec_plain(sql, "starting a transaction", "BEGIN IMMEDIATE");
}

void auth_sql_rollback(struct auth_sql *sql)
{
    if (!sqlite3_get_autocommit(sql->db))
        sqlite3_exec(sql->db, "ROLLBACK", NULL, NULL, NULL);
}

int auth_sql_commit(struct auth_sql *sql)
{
    if (exec_plain(sql, "committing", "COMMIT") == 0)
        return 0;
    /* The store's error is kept: the rollback must not replace it. */
    auth_sql_rollback(sql);
    return -1;
}

static int insert_audit(struct auth_sql *sql, int64_t ts_ms, const char *actor, const char *origin,
                        const char *action, const char *target, const char *detail_text)
{
    /* Chained to the row before it, on the store's connection (audit_chain.h). */
    struct wg_audit_row row = {.ts_ms = ts_ms,
                               .actor = actor ? actor : "-",
                               .origin = origin,
                               .action = action,
                               .target = target,
                               .detail = detail_text};
    if (audit_chain_append(sql->db, &row) != SQLITE_OK)
        return auth_sql_failed(sql, "writing an audit row");
    return 0;
}

int auth_sql_audit(struct auth_sql *sql, int64_t ts_ms, const char *actor, const char *origin,
                   const char *action, const char *target, json_t *detail)
{
    char *text = detail ? json_dumps(detail, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(detail);
    int rc = insert_audit(sql, ts_ms, actor, origin, action, target, text);
    free(text);
    return rc;
}

int auth_sql_user_role(struct auth_sql *sql, const char *username,
                       char hash_out[crypto_pwhash_STRBYTES])
{
    sqlite3_stmt *stmt =
        auth_sql_query(sql, "reading a user",
                       "SELECT role, password_hash FROM users WHERE username = ?", "t", username);
    if (!stmt)
        return -1;
    int rc = sqlite3_step(stmt), role = 0;
    if (rc == SQLITE_ROW) {
        role = role_from_name((const char *)sqlite3_column_text(stmt, 0));
        const char *hash = (const char *)sqlite3_column_text(stmt, 1);
        if (role < 0)
            role = WG_ROLE_NONE; /* the schema's CHECK makes this impossible */
        if (hash_out)
            snprintf(hash_out, crypto_pwhash_STRBYTES, "%s", hash ? hash : "");
    } else if (rc != SQLITE_DONE) {
        auth_sql_failed(sql, "reading a user");
        role = -1;
    }
    sqlite3_finalize(stmt);
    return role;
}

int64_t auth_sql_count(struct auth_sql *sql, const char *doing, const char *text,
                       const char *text_arg)
{
    sqlite3_stmt *stmt = auth_sql_query(sql, doing, text, text_arg ? "t" : "", text_arg);
    if (!stmt)
        return -1;
    int64_t n = -1;
    if (sqlite3_step(stmt) == SQLITE_ROW)
        n = sqlite3_column_int64(stmt, 0);
    else
        auth_sql_failed(sql, doing);
    sqlite3_finalize(stmt);
    return n;
}

int64_t auth_sql_user_count(struct auth_sql *sql)
{
    return auth_sql_count(sql, "counting users", "SELECT count(*) FROM users", NULL);
}

/* ---- failures, in words ---- */

/* What a storage failure is called in the API (the heartbeat's reasons)
 * and said to people; auth_storage_words and auth_storage_reason share it. */
static const struct {
    enum wg_store_status status;
    const char *reason;
    const char *words;
} storage_causes[] = {
    {WG_STORE_LOCKED, "locked",
     "storage is busy (the database is locked by another program); try again in a moment"},
    {WG_STORE_DISK_FULL, "disk_full",
     "storage is full (the disk holding the database is full); tell the technician"},
    {WG_STORE_FULL, "size_limit",
     "storage is full (the database reached its size limit); tell the technician"},
    {WG_STORE_READ_ONLY, "read_only", "storage is read-only; tell the technician"},
    {WG_STORE_IO, "io_error", "storage failed (a disk read/write error); tell the technician"},
};
#define CAUSES (sizeof storage_causes / sizeof storage_causes[0])

void auth_storage_words(enum wg_store_status status, const char *doing, char *why, size_t why_len)
{
    size_t i = 0;
    while (i + 1 < CAUSES && storage_causes[i].status != status)
        i++; /* anything else (corrupt, ...) is worded as the last: a read/write error */
    auth_say(why, why_len, "cannot %s now: %s. Nothing was changed; calls and alarms go on", doing,
             storage_causes[i].words);
}

const char *auth_storage_reason(const char *why)
{
    for (size_t i = 0; why && i < CAUSES; i++)
        if (strstr(why, storage_causes[i].words))
            return storage_causes[i].reason;
    return NULL;
}

void auth_read_failed(struct wg_auth *auth, const char *doing, char *why, size_t why_len)
{
    auth_storage_words(store_last_status(auth->reader), doing, why, why_len);
}

int auth_write(struct wg_auth *auth, const char *doing, wg_store_work work, void *ctx, char *why,
               size_t why_len)
{
    char message[768];
    enum wg_store_status status =
        store_call(auth->calls, doing, work, ctx, message, sizeof message);
    if (status == WG_STORE_OK)
        return 0;
    wg_err("auth: cannot %s: %s", doing, message);
    auth_storage_words(status, doing, why, why_len);
    return -1;
}

/* ---- posted writes ---- */

#define POSTED_AUDIT_MAX 3

struct posted_audit {
    int64_t ts_ms;
    char *actor, *origin, *action, *target, *detail;
    bool only_if_changed;
};

struct auth_posted {
    const char *what;
    enum auth_session_op op;
    uint8_t key[KEY_LEN];
    int64_t last_seen_ms, expires_ms;
    size_t audit_count;
    struct posted_audit audit[POSTED_AUDIT_MAX];
    bool broken; /* out of memory while building it: logged, not written */
};

struct auth_posted *auth_posted_new(const char *what)
{
    struct auth_posted *posted = calloc(1, sizeof *posted);
    if (!posted)
        wg_err("auth: out of memory: %s is not written", what);
    else
        posted->what = what;
    return posted;
}

static char *copy_or_null(const char *text, bool *broken)
{
    char *copy = text ? strdup(text) : NULL;
    if (text && !copy)
        *broken = true;
    return copy;
}

void auth_posted_audit(struct auth_posted *posted, int64_t ts_ms, const char *actor,
                       const char *origin, const char *action, const char *target, json_t *detail,
                       bool only_if_changed)
{
    char *text = detail ? json_dumps(detail, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(detail);
    if (!posted || posted->audit_count >= POSTED_AUDIT_MAX) {
        free(text);
        return;
    }
    struct posted_audit *row = &posted->audit[posted->audit_count++];
    row->ts_ms = ts_ms;
    row->actor = copy_or_null(actor ? actor : "-", &posted->broken);
    row->origin = copy_or_null(origin, &posted->broken);
    row->action = copy_or_null(action, &posted->broken);
    row->target = copy_or_null(target, &posted->broken);
    row->detail = text;
    row->only_if_changed = only_if_changed;
}

void auth_posted_session(struct auth_posted *posted, enum auth_session_op op,
                         const uint8_t key[KEY_LEN], int64_t last_seen_ms, int64_t expires_ms)
{
    if (!posted)
        return;
    posted->op = op;
    memcpy(posted->key, key, KEY_LEN);
    posted->last_seen_ms = last_seen_ms;
    posted->expires_ms = expires_ms;
}

static void posted_free(void *ctx)
{
    struct auth_posted *posted = ctx;
    for (size_t i = 0; i < posted->audit_count; i++) {
        struct posted_audit *row = &posted->audit[i];
        free(row->actor);
        free(row->origin);
        free(row->action);
        free(row->target);
        free(row->detail);
    }
    sodium_memzero(posted->key, sizeof posted->key);
    free(posted);
}

/* On the writer's thread. */
static int posted_work(struct wg_store *store, void *ctx)
{
    struct auth_posted *posted = ctx;
    struct auth_sql sql = auth_sql_of(store);
    if (auth_sql_begin(&sql) < 0)
        return -1;
    int changed = 0;
    if (posted->op == AUTH_SESSION_END)
        changed = auth_sql_run(&sql, "ending a session",
                               auth_sql_query(&sql, "ending a session",
                                              "DELETE FROM sessions WHERE token_hash = ?", "k",
                                              posted->key),
                               NULL);
    else if (posted->op == AUTH_SESSION_TOUCH)
        changed = auth_sql_run(&sql, "extending a session",
                               auth_sql_query(&sql, "extending a session",
                                              "UPDATE sessions SET last_seen_ms = ?, "
                                              "expires_ms = ? WHERE token_hash = ?",
                                              "iik", posted->last_seen_ms, posted->expires_ms,
                                              posted->key),
                               NULL);
    for (size_t i = 0; changed >= 0 && i < posted->audit_count; i++) {
        const struct posted_audit *row = &posted->audit[i];
        if (row->only_if_changed && changed == 0)
            continue;
        if (insert_audit(&sql, row->ts_ms, row->actor, row->origin, row->action, row->target,
                         row->detail) < 0)
            changed = -1;
    }
    if (changed < 0) {
        auth_sql_rollback(&sql);
        return -1;
    }
    return auth_sql_commit(&sql);
}

void auth_post(struct wg_auth *auth, struct auth_posted *posted)
{
    if (!posted)
        return;
    if (posted->broken) {
        wg_err("auth: out of memory: %s is not written", posted->what);
        posted_free(posted);
        return;
    }
    store_call_post(auth->calls, posted->what, posted_work, posted, posted_free);
}
