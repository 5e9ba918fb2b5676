/* Users, passwords, sessions and login throttling for the web interface
 * (auth.h): argon2id hashes through libsodium, sessions kept in the database
 * and cached in memory, failed logins counted in memory, and the
 * `wardgated --add-user` command. See docs/api.md and docs/storage.md. */
#include "auth/auth.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <sodium.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "store/migrations.h"
#include "store/store.h"

#define MINUTE_MS          (60 * 1000LL)
#define HOUR_MS            (60 * MINUTE_MS)
#define DAY_MS             (24 * HOUR_MS)
#define IDLE_MS            (12 * HOUR_MS) /* a session unused this long ends */
#define STATION_IDLE_MS    (365 * DAY_MS) /* ... for the wall display's kiosk account */
#define ABSOLUTE_MS        (7 * DAY_MS)   /* any other session ends this long after login */
#define TOUCH_MS           MINUTE_MS      /* idle extensions reach the database this often */
#define SETUP_TOKEN_MS     DAY_MS
#define SESSIONS_PER_USER  32 /* the oldest beyond this end at login */
#define PASSWORD_MIN       10
#define PASSWORD_MAX       128
#define THROTTLE_FAILURES  5
#define THROTTLE_WINDOW_MS (15 * MINUTE_MS)
#define THROTTLE_FIRST_MS  (30 * 1000LL)
#define THROTTLE_MAX_MS    (15 * MINUTE_MS)
#define THROTTLE_SLOTS     1024 /* user names and addresses tracked at once */
#define THROTTLE_KEY_MAX   72
#define CACHE_SLOTS        64
#define KEY_LEN            crypto_generichash_BYTES /* BLAKE2b-256 of a token */
#define SCHEMA_NEEDED      4
#define BUSY_TIMEOUT_MS    2000
#define SETUP_FILE         "setup-token"

_Static_assert(KEY_LEN == 32, "token hashes are 32 bytes (migration 4 checks it)");

struct cached_session {
    bool used;
    uint8_t key[KEY_LEN];
    char username[WG_AUTH_NAME_MAX + 1];
    enum wg_role role;
    char csrf[WG_AUTH_CSRF_LEN + 1];
    int64_t created_ms;
    int64_t last_seen_ms;   /* in memory */
    int64_t stored_seen_ms; /* in the database */
    uint64_t used_tick;     /* least recently used goes first */
};

/* Failed logins of one user name ("u:...") or client address ("a:..."). */
struct throttle {
    bool used;
    char key[THROTTLE_KEY_MAX];
    int64_t fail_ms[THROTTLE_FAILURES]; /* ring of the latest failures */
    int fail_count;
    int fail_next;
    int64_t locked_until_ms;
    int locks;   /* lock-outs in a row: each doubles the next */
    int pending; /* attempts being checked right now */
    bool refusal_audited;
};

struct wg_auth {
    pthread_mutex_t lock;
    sqlite3 *db;
    char *path;
    char error[512]; /* the last database failure, under lock */
    unsigned long long opslimit;
    size_t memlimit;
    char dummy_hash[crypto_pwhash_STRBYTES]; /* verified for unknown users; "" until made */
    unsigned long long dummy_opslimit;
    size_t dummy_memlimit;
    struct cached_session cache[CACHE_SLOTS];
    uint64_t tick;
    struct throttle *throttle; /* THROTTLE_SLOTS */
    uint64_t failed_logins;
    uint64_t password_checks;
};

struct hash_cost {
    unsigned long long opslimit;
    size_t memlimit;
};

static const char *const role_names[] = {"none", "station", "nurse", "manager", "admin"};

const char *role_name(enum wg_role role)
{
    return (role >= WG_ROLE_STATION && role <= WG_ROLE_ADMIN) ? role_names[role] : "none";
}

int role_from_name(const char *name)
{
    for (int i = WG_ROLE_STATION; name && i <= WG_ROLE_ADMIN; i++)
        if (strcmp(name, role_names[i]) == 0)
            return i;
    return -1;
}

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

__attribute__((format(printf, 3, 4))) static void say(char *out, size_t len, const char *fmt, ...)
{
    if (!out || !len)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out, len, fmt, ap);
    va_end(ap);
}

static bool name_ok(const char *name)
{
    size_t len = name ? strlen(name) : 0;
    if (len < 1 || len > WG_AUTH_NAME_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
            return false;
    }
    return true;
}

static int check_name(const char *name, char *why, size_t why_len)
{
    if (name_ok(name))
        return 0;
    say(why, why_len, "user name: 1 to %d characters of a-z 0-9 . _ -", WG_AUTH_NAME_MAX);
    return WG_AUTH_INVALID;
}

static int check_password(const char *password, char *why, size_t why_len)
{
    size_t len = password ? strlen(password) : 0;
    if (len < PASSWORD_MIN) {
        say(why, why_len, "password: at least %d characters", PASSWORD_MIN);
        return WG_AUTH_INVALID;
    }
    if (len > PASSWORD_MAX) {
        say(why, why_len, "password: at most %d characters", PASSWORD_MAX);
        return WG_AUTH_INVALID;
    }
    return 0;
}

static int check_role(enum wg_role role, char *why, size_t why_len)
{
    if (role >= WG_ROLE_STATION && role <= WG_ROLE_ADMIN)
        return 0;
    say(why, why_len, "role: station, nurse, manager or admin");
    return WG_AUTH_INVALID;
}

/* A client address as it may appear in the log and the throttle table:
 * printable ASCII only, at most 64 characters. */
static void clean_text(const char *in, char *out, size_t out_len)
{
    size_t n = 0;
    for (; in && *in && n + 1 < out_len && n < 64; in++)
        out[n++] = (*in >= 0x20 && *in < 0x7f) ? *in : '?';
    out[n] = '\0';
    if (!n && out_len > 1)
        snprintf(out, out_len, "-");
}

static void token_key(const char *token, uint8_t key[KEY_LEN])
{
    crypto_generichash(key, KEY_LEN, (const unsigned char *)token, strlen(token), NULL, 0);
}

/* The CSRF token of a session: BLAKE2b keyed with the session token, so it
 * is never stored and cannot be made from what the database holds. */
static void csrf_of(const char *token, char csrf[WG_AUTH_CSRF_LEN + 1])
{
    static const char context[] = "wardgate csrf v1";
    uint8_t mac[32];
    crypto_generichash(mac, sizeof mac, (const unsigned char *)context, sizeof context - 1,
                       (const unsigned char *)token, strlen(token));
    sodium_bin2base64(csrf, WG_AUTH_CSRF_LEN + 1, mac, sizeof mac,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero(mac, sizeof mac);
}

static void new_token(char token[WG_AUTH_TOKEN_LEN + 1])
{
    uint8_t raw[32];
    randombytes_buf(raw, sizeof raw);
    sodium_bin2base64(token, WG_AUTH_TOKEN_LEN + 1, raw, sizeof raw,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero(raw, sizeof raw);
}

static bool token_shape_ok(const char *token)
{
    return token && strlen(token) == WG_AUTH_TOKEN_LEN;
}

static int64_t session_expires(enum wg_role role, int64_t created_ms, int64_t last_seen_ms)
{
    if (role == WG_ROLE_STATION)
        return last_seen_ms + STATION_IDLE_MS;
    int64_t idle = last_seen_ms + IDLE_MS, cap = created_ms + ABSOLUTE_MS;
    return idle < cap ? idle : cap;
}

static int hash_password(const struct hash_cost *cost, const char *password,
                         char out[crypto_pwhash_STRBYTES])
{
    return crypto_pwhash_str_alg(out, password, strlen(password), cost->opslimit, cost->memlimit,
                                 crypto_pwhash_ALG_ARGON2ID13);
}

static bool needs_rehash(const char *stored, const struct hash_cost *cost)
{
    return strncmp(stored, "$argon2id$", 10) != 0 ||
           crypto_pwhash_str_needs_rehash(stored, cost->opslimit, cost->memlimit) != 0;
}

/* ---- database helpers; all run under auth->lock ---- */

static int db_failed(struct wg_auth *auth, const char *doing)
{
    snprintf(auth->error, sizeof auth->error, "database %s: %s: %s", auth->path, doing,
             sqlite3_errmsg(auth->db));
    wg_err("auth: %s", auth->error);
    return -1;
}

/* Prepares sql and binds the arguments `types` describes: 't' text (NULL
 * binds NULL), 'i' int64_t, 'k' a KEY_LEN-byte token hash. */
static sqlite3_stmt *query(struct wg_auth *auth, const char *doing, const char *sql,
                           const char *types, ...)
{
    sqlite3_stmt *stmt = NULL;
    if (sqlite3_prepare_v2(auth->db, sql, -1, &stmt, NULL) != SQLITE_OK) {
        db_failed(auth, doing);
        return NULL;
    }
    va_list ap;
    va_start(ap, types);
    int rc = SQLITE_OK;
    for (int i = 0; types && types[i] && rc == SQLITE_OK; i++) {
        switch (types[i]) {
        case 't': {
            const char *text = va_arg(ap, const char *);
            rc = text ? sqlite3_bind_text(stmt, i + 1, text, -1, SQLITE_TRANSIENT)
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
        db_failed(auth, doing);
        sqlite3_finalize(stmt);
        return NULL;
    }
    return stmt;
}

/* Runs a prepared statement to completion; rows changed, or -1. The
 * statement is finalized either way. *constraint is set for a refused row. */
static int run(struct wg_auth *auth, const char *doing, sqlite3_stmt *stmt, bool *constraint)
{
    if (!stmt)
        return -1;
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW)
        ;
    if (rc != SQLITE_DONE) {
        if (constraint)
            *constraint = (rc & 0xff) == SQLITE_CONSTRAINT;
        db_failed(auth, doing);
        sqlite3_finalize(stmt);
        return -1;
    }
    sqlite3_finalize(stmt);
    return sqlite3_changes(auth->db);
}

static int exec_plain(struct wg_auth *auth, const char *doing, const char *sql)
{
    if (sqlite3_exec(auth->db, sql, NULL, NULL, NULL) != SQLITE_OK)
        return db_failed(auth, doing);
    return 0;
}

static int begin(struct wg_auth *auth)
{
    return exec_plain(auth, "starting a transaction", "BEGIN IMMEDIATE");
}

static void rollback(struct wg_auth *auth)
{
    if (!sqlite3_get_autocommit(auth->db))
        sqlite3_exec(auth->db, "ROLLBACK", NULL, NULL, NULL);
}

static int commit(struct wg_auth *auth)
{
    if (exec_plain(auth, "committing", "COMMIT") == 0)
        return 0;
    rollback(auth);
    return -1;
}

/* One audit row; takes ownership of detail (may be NULL). */
static int audit(struct wg_auth *auth, int64_t ts_ms, const char *actor, const char *origin,
                 const char *action, const char *target, json_t *detail)
{
    char *text = detail ? json_dumps(detail, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(detail);
    int rc = run(auth, "writing an audit row",
                 query(auth, "writing an audit row",
                       "INSERT INTO audit (ts_ms, actor, origin, action, target, detail) "
                       "VALUES (?, ?, ?, ?, ?, ?)",
                       "ittttt", ts_ms, actor ? actor : "-", origin, action, target, text),
                 NULL);
    free(text);
    return rc < 0 ? -1 : 0;
}

/* The role of a user: 1..4; 0 when there is no such user; -1 on error. With
 * hash_out the stored hash is copied too. */
static int user_role(struct wg_auth *auth, const char *username,
                     char hash_out[crypto_pwhash_STRBYTES])
{
    sqlite3_stmt *stmt =
        query(auth, "reading a user", "SELECT role, password_hash FROM users WHERE username = ?",
              "t", username);
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
        db_failed(auth, "reading a user");
        role = -1;
    }
    sqlite3_finalize(stmt);
    return role;
}

static int64_t count_of(struct wg_auth *auth, const char *doing, const char *sql,
                        const char *text_arg)
{
    sqlite3_stmt *stmt = query(auth, doing, sql, text_arg ? "t" : "", text_arg);
    if (!stmt)
        return -1;
    int64_t n = -1;
    if (sqlite3_step(stmt) == SQLITE_ROW)
        n = sqlite3_column_int64(stmt, 0);
    else
        db_failed(auth, doing);
    sqlite3_finalize(stmt);
    return n;
}

static int64_t admin_count(struct wg_auth *auth)
{
    return count_of(auth, "counting admins", "SELECT count(*) FROM users WHERE role = 'admin'",
                    NULL);
}

static int64_t user_count_locked(struct wg_auth *auth)
{
    return count_of(auth, "counting users", "SELECT count(*) FROM users", NULL);
}

/* ---- session cache ---- */

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

static void cache_drop_user(struct wg_auth *auth, const char *username)
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
    csrf_of(token, entry->csrf);
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
    session->expires_ms = session_expires(entry->role, entry->created_ms, entry->last_seen_ms);
}

/* ---- throttling ---- */

static int throttle_recent(const struct throttle *t, int64_t now_ms)
{
    int n = 0;
    for (int i = 0; i < t->fail_count; i++)
        if (now_ms - t->fail_ms[i] < THROTTLE_WINDOW_MS)
            n++;
    return n;
}

static int64_t throttle_newest(const struct throttle *t)
{
    if (!t->fail_count)
        return INT64_MIN;
    return t->fail_ms[(t->fail_next + THROTTLE_FAILURES - 1) % THROTTLE_FAILURES];
}

/* Nothing left that could refuse or lengthen a lock-out. */
static bool throttle_idle(const struct throttle *t, int64_t now_ms)
{
    int64_t quiet_since = throttle_newest(t);
    if (t->locked_until_ms > quiet_since)
        quiet_since = t->locked_until_ms;
    return !t->pending && t->locked_until_ms <= now_ms &&
           ((!t->fail_count && !t->locks) || now_ms - quiet_since >= THROTTLE_WINDOW_MS);
}

/* The slot of a key, made if needed: -1 when the table is full of attempts
 * in progress. Beyond THROTTLE_SLOTS keys, quiet ones go first, then the
 * one whose latest failure is oldest; slot `keep` (or -1) is left alone. */
static int throttle_slot(struct wg_auth *auth, const char *key, int64_t now_ms, int keep)
{
    int free_slot = -1, stale = -1, oldest = -1;
    for (int i = 0; i < THROTTLE_SLOTS; i++) {
        struct throttle *t = &auth->throttle[i];
        if (i == keep)
            continue;
        if (!t->used) {
            if (free_slot < 0)
                free_slot = i;
            continue;
        }
        if (strcmp(t->key, key) == 0)
            return i;
        if (stale < 0 && throttle_idle(t, now_ms))
            stale = i;
        if (!t->pending &&
            (oldest < 0 || throttle_newest(t) < throttle_newest(&auth->throttle[oldest])))
            oldest = i;
    }
    int slot = free_slot >= 0 ? free_slot : stale >= 0 ? stale : oldest;
    if (slot < 0)
        return -1;
    struct throttle *t = &auth->throttle[slot];
    memset(t, 0, sizeof *t);
    t->used = true;
    snprintf(t->key, sizeof t->key, "%s", key);
    return slot;
}

/* Seconds to wait before the key may try again; 0 when it may now. */
static int throttle_wait_s(const struct throttle *t, int64_t now_ms)
{
    if (t->locked_until_ms > now_ms)
        return (int)((t->locked_until_ms - now_ms + 999) / 1000);
    /* Attempts checked at the same time count as failures until they end,
     * so parallel requests cannot exceed the limit. */
    if (t->pending && throttle_recent(t, now_ms) + t->pending >= THROTTLE_FAILURES)
        return 1;
    return 0;
}

/* Records a failure; returns the lock-out it started in ms, or 0. The
 * fifth failure within the window locks the key for 30 s; after that, while
 * the key has not been quiet for a whole window since its last failure or
 * lock-out, every failure locks it again for twice as long, up to 15 min. */
static int64_t throttle_fail(struct throttle *t, int64_t now_ms)
{
    int64_t quiet_since = throttle_newest(t);
    if (t->locked_until_ms > quiet_since)
        quiet_since = t->locked_until_ms;
    if ((t->fail_count || t->locks) && now_ms - quiet_since >= THROTTLE_WINDOW_MS) {
        t->fail_count = 0; /* forgiven */
        t->fail_next = 0;
        t->locks = 0;
    }
    t->fail_ms[t->fail_next] = now_ms;
    t->fail_next = (t->fail_next + 1) % THROTTLE_FAILURES;
    if (t->fail_count < THROTTLE_FAILURES)
        t->fail_count++;
    if (t->locked_until_ms > now_ms) /* an attempt that began before the lock-out */
        return 0;
    if (!t->locks && throttle_recent(t, now_ms) < THROTTLE_FAILURES)
        return 0;
    int64_t lock_ms = THROTTLE_FIRST_MS << (t->locks < 10 ? t->locks : 10);
    if (lock_ms > THROTTLE_MAX_MS)
        lock_ms = THROTTLE_MAX_MS;
    t->locked_until_ms = now_ms + lock_ms;
    if (t->locks < 16)
        t->locks++;
    t->refusal_audited = false;
    return lock_ms;
}

/* Frees the slot when it holds nothing worth keeping. */
static void throttle_tidy(struct throttle *t, int64_t now_ms)
{
    if (t->used && !t->pending && !t->fail_count && !t->locks && t->locked_until_ms <= now_ms)
        memset(t, 0, sizeof *t);
}

/* The end of an attempt counted in `pending`; a success forgets the failures. */
static void throttle_release(struct throttle *t, bool success, int64_t now_ms)
{
    if (t->pending > 0)
        t->pending--;
    if (success) {
        t->fail_count = 0;
        t->fail_next = 0;
        t->locks = 0;
        t->locked_until_ms = 0;
    }
    throttle_tidy(t, now_ms);
}

/* ---- open, close ---- */

struct wg_auth *auth_open(const char *db_path, char *err, size_t err_len)
{
    if (sodium_init() < 0) {
        say(err, err_len, "auth: libsodium could not be initialised");
        return NULL;
    }
    if (!db_path || !*db_path) {
        say(err, err_len, "auth: no database path");
        return NULL;
    }
    struct stat st;
    if (stat(db_path, &st) < 0) {
        say(err, err_len, "database %s: %s (the store creates it)", db_path, strerror(errno));
        return NULL;
    }
    struct wg_auth *auth = calloc(1, sizeof *auth);
    if (auth)
        auth->throttle = calloc(THROTTLE_SLOTS, sizeof *auth->throttle);
    if (auth && auth->throttle)
        auth->path = strdup(db_path);
    if (!auth || !auth->throttle || !auth->path) {
        say(err, err_len, "auth: out of memory");
        if (auth)
            free(auth->throttle);
        free(auth);
        return NULL;
    }
    auth->opslimit = crypto_pwhash_OPSLIMIT_INTERACTIVE;
    auth->memlimit = crypto_pwhash_MEMLIMIT_INTERACTIVE;
    if (pthread_mutex_init(&auth->lock, NULL) != 0) {
        say(err, err_len, "auth: cannot make a mutex");
        free(auth->path);
        free(auth->throttle);
        free(auth);
        return NULL;
    }
    int rc =
        sqlite3_open_v2(db_path, &auth->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX, NULL);
    if (rc != SQLITE_OK) {
        say(err, err_len, "database %s: %s", db_path,
            auth->db ? sqlite3_errmsg(auth->db) : sqlite3_errstr(rc));
        auth_close(auth);
        return NULL;
    }
    sqlite3_extended_result_codes(auth->db, 1);
    sqlite3_busy_timeout(auth->db, BUSY_TIMEOUT_MS);
    int64_t app_id = -1, version = -1;
    if (exec_plain(auth, "enabling foreign keys", "PRAGMA foreign_keys = ON") == 0)
        app_id = count_of(auth, "reading the application id", "PRAGMA application_id", NULL);
    if (app_id == WG_STORE_APPLICATION_ID)
        version = count_of(auth, "reading the schema version",
                           "SELECT coalesce(max(version), 0) FROM migrations", NULL);
    if (app_id < 0 || (app_id == WG_STORE_APPLICATION_ID && version < 0)) {
        say(err, err_len, "%s", auth->error);
    } else if (app_id != WG_STORE_APPLICATION_ID) {
        say(err, err_len, "database %s is not a wardgate database", db_path);
    } else if (version < SCHEMA_NEEDED) {
        say(err, err_len,
            "database %s has schema version %lld; users need %d (the store migrates it)", db_path,
            (long long)version, SCHEMA_NEEDED);
    } else {
        return auth;
    }
    auth_close(auth);
    return NULL;
}

void auth_close(struct wg_auth *auth)
{
    if (!auth)
        return;
    if (auth->db)
        sqlite3_close_v2(auth->db);
    pthread_mutex_destroy(&auth->lock);
    sodium_memzero(auth->cache, sizeof auth->cache);
    free(auth->throttle);
    free(auth->path);
    free(auth);
}

void auth_set_hash_cost(struct wg_auth *auth, unsigned long long opslimit, size_t memlimit)
{
    pthread_mutex_lock(&auth->lock);
    auth->opslimit = opslimit;
    auth->memlimit = memlimit;
    pthread_mutex_unlock(&auth->lock);
}

static struct hash_cost cost_locked(const struct wg_auth *auth)
{
    return (struct hash_cost){auth->opslimit, auth->memlimit};
}

uint64_t auth_failed_logins(struct wg_auth *auth)
{
    pthread_mutex_lock(&auth->lock);
    uint64_t n = auth->failed_logins;
    pthread_mutex_unlock(&auth->lock);
    return n;
}

uint64_t auth_password_checks(struct wg_auth *auth)
{
    pthread_mutex_lock(&auth->lock);
    uint64_t n = auth->password_checks;
    pthread_mutex_unlock(&auth->lock);
    return n;
}

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
        say(err, err_len, "setup token file: path too long");
        return -1;
    }
    if (path_out)
        say(path_out, path_len, "%s", path);
    if (!token) {
        if (unlink(path) < 0 && errno != ENOENT) {
            say(err, err_len, "cannot remove %s: %s", path, strerror(errno));
            return -1;
        }
        return 0;
    }
    snprintf(tmp, sizeof tmp, "%s.new", path);
    if (unlink(tmp) < 0 && errno != ENOENT) {
        say(err, err_len, "cannot remove %s: %s", tmp, strerror(errno));
        return -1;
    }
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        say(err, err_len, "cannot create %s: %s", tmp, strerror(errno));
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
        say(err, err_len, "cannot write %s: %s", path, strerror(saved));
        return -1;
    }
    return 0;
}

static void remove_setup_file(struct wg_auth *auth)
{
    char err[PATH_MAX + 100];
    if (auth_write_setup_token_file(auth, NULL, NULL, 0, err, sizeof err) < 0)
        wg_warn("auth: %s", err);
}

/* ---- users ---- */

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
    sqlite3_stmt *stmt = query(auth, "listing users", USER_COLUMNS "ORDER BY username", NULL);
    int rc = SQLITE_ERROR;
    while (stmt && (rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        json_t *user = user_json(stmt);
        if (!user || json_array_append_new(list, user) != 0) {
            rc = SQLITE_NOMEM;
            break;
        }
    }
    if (stmt && rc != SQLITE_DONE)
        db_failed(auth, "listing users");
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
    if (!auth || !name_ok(username))
        return NULL;
    json_t *user = NULL;
    pthread_mutex_lock(&auth->lock);
    sqlite3_stmt *stmt =
        query(auth, "reading a user", USER_COLUMNS "WHERE username = ?", "t", username);
    int rc = stmt ? sqlite3_step(stmt) : SQLITE_ERROR;
    if (rc == SQLITE_ROW)
        user = user_json(stmt);
    else if (stmt && rc != SQLITE_DONE)
        db_failed(auth, "reading a user");
    sqlite3_finalize(stmt);
    pthread_mutex_unlock(&auth->lock);
    return user;
}

int auth_user_count(struct wg_auth *auth)
{
    if (!auth)
        return -1;
    pthread_mutex_lock(&auth->lock);
    int64_t n = user_count_locked(auth);
    pthread_mutex_unlock(&auth->lock);
    return n < 0 || n > INT_MAX ? -1 : (int)n;
}

static int fail_db(struct wg_auth *auth, char *why, size_t why_len)
{
    say(why, why_len, "%s", auth->error);
    rollback(auth);
    return WG_AUTH_FAILED;
}

int auth_add_user(struct wg_auth *auth, const char *username, enum wg_role role,
                  const char *password, const char *actor, const char *origin, char *why,
                  size_t why_len)
{
    if (!auth) {
        say(why, why_len, "auth: not open");
        return WG_AUTH_FAILED;
    }
    int rc = check_name(username, why, why_len);
    if (!rc)
        rc = check_role(role, why, why_len);
    if (!rc)
        rc = check_password(password, why, why_len);
    if (rc)
        return rc;
    pthread_mutex_lock(&auth->lock);
    int existing = user_role(auth, username, NULL);
    struct hash_cost cost = cost_locked(auth);
    if (existing < 0)
        rc = fail_db(auth, why, why_len);
    pthread_mutex_unlock(&auth->lock);
    if (rc)
        return rc;
    if (existing > 0) {
        say(why, why_len, "user %s exists", username);
        return WG_AUTH_CONFLICT;
    }
    char hash[crypto_pwhash_STRBYTES];
    if (hash_password(&cost, password, hash) != 0) {
        say(why, why_len, "cannot hash the password (out of memory)");
        return WG_AUTH_FAILED;
    }
    int64_t now = wall_ms();
    bool constraint = false;
    int setup_tokens = 0;
    pthread_mutex_lock(&auth->lock);
    if (begin(auth) < 0 ||
        run(auth, "adding a user",
            query(auth, "adding a user",
                  "INSERT INTO users (username, role, password_hash, created_ms, updated_ms) "
                  "VALUES (?, ?, ?, ?, ?)",
                  "tttii", username, role_name(role), hash, now, now),
            &constraint) < 0 ||
        (setup_tokens = run(
             auth, "dropping the setup token",
             query(auth, "dropping the setup token", "DELETE FROM setup_token", NULL), NULL)) < 0 ||
        audit(auth, now, actor, origin, "user.add", username,
              json_pack("{s:s}", "role", role_name(role))) < 0 ||
        commit(auth) < 0) {
        if (constraint) {
            say(why, why_len, "user %s exists", username);
            rollback(auth);
            rc = WG_AUTH_CONFLICT;
        } else {
            rc = fail_db(auth, why, why_len);
        }
    }
    pthread_mutex_unlock(&auth->lock);
    sodium_memzero(hash, sizeof hash);
    if (rc)
        return rc;
    if (setup_tokens > 0)
        remove_setup_file(auth);
    char from[72];
    clean_text(origin, from, sizeof from);
    wg_info("auth: user %s (%s) added by %s from %s", username, role_name(role),
            actor ? actor : "-", from);
    return 0;
}

/* Refuses (WG_AUTH_CONFLICT) to take the last admin away. */
static int keep_an_admin(struct wg_auth *auth, const char *username, int current, enum wg_role next,
                         char *why, size_t why_len)
{
    if (current != WG_ROLE_ADMIN || next == WG_ROLE_ADMIN)
        return 0;
    int64_t admins = admin_count(auth);
    if (admins < 0)
        return fail_db(auth, why, why_len);
    if (admins > 1)
        return 0;
    say(why, why_len, "%s is the last admin: make another user admin first", username);
    return WG_AUTH_CONFLICT;
}

int auth_update_user(struct wg_auth *auth, const char *username, enum wg_role role,
                     const char *password, const char *actor, const char *origin, char *why,
                     size_t why_len)
{
    if (!auth) {
        say(why, why_len, "auth: not open");
        return WG_AUTH_FAILED;
    }
    if (!name_ok(username)) {
        say(why, why_len, "no such user");
        return WG_AUTH_NOT_FOUND;
    }
    int rc = role == WG_ROLE_NONE ? 0 : check_role(role, why, why_len);
    if (!rc && password)
        rc = check_password(password, why, why_len);
    if (rc)
        return rc;
    /* Checked before hashing, and again in the transaction. */
    pthread_mutex_lock(&auth->lock);
    int current = user_role(auth, username, NULL);
    struct hash_cost cost = cost_locked(auth);
    if (current < 0)
        rc = fail_db(auth, why, why_len);
    else if (current == 0)
        rc = WG_AUTH_NOT_FOUND;
    else if (role != WG_ROLE_NONE)
        rc = keep_an_admin(auth, username, current, role, why, why_len);
    pthread_mutex_unlock(&auth->lock);
    if (rc == WG_AUTH_NOT_FOUND)
        say(why, why_len, "no user %s", username);
    if (rc)
        return rc;
    char hash[crypto_pwhash_STRBYTES] = "";
    if (password && hash_password(&cost, password, hash) != 0) {
        say(why, why_len, "cannot hash the password (out of memory)");
        return WG_AUTH_FAILED;
    }
    int64_t now = wall_ms();
    int ended = 0;
    bool role_changes = false;
    pthread_mutex_lock(&auth->lock);
    if (begin(auth) < 0) {
        rc = fail_db(auth, why, why_len);
        goto out;
    }
    current = user_role(auth, username, NULL);
    if (current < 0) {
        rc = fail_db(auth, why, why_len);
        goto out;
    }
    if (current == 0) {
        say(why, why_len, "no user %s", username);
        rollback(auth);
        rc = WG_AUTH_NOT_FOUND;
        goto out;
    }
    role_changes = role != WG_ROLE_NONE && (int)role != current;
    if (!role_changes && !password) { /* nothing to change */
        rollback(auth);
        goto out;
    }
    if (role_changes && (rc = keep_an_admin(auth, username, current, role, why, why_len)) != 0) {
        rollback(auth);
        goto out;
    }
    json_t *detail = json_object();
    if (detail && role_changes) {
        json_object_set_new(detail, "role", json_string(role_name(role)));
        json_object_set_new(detail, "previous_role", json_string(role_name(current)));
    }
    if (detail)
        json_object_set_new(detail, "password_changed", json_boolean(password != NULL));
    if (run(auth, "updating a user",
            query(auth, "updating a user",
                  "UPDATE users SET role = coalesce(?, role), "
                  "password_hash = coalesce(?, password_hash), updated_ms = ? WHERE username = ?",
                  "ttit", role_changes ? role_name(role) : NULL, password ? hash : NULL, now,
                  username),
            NULL) < 0 ||
        (ended = run(auth, "ending sessions",
                     query(auth, "ending sessions", "DELETE FROM sessions WHERE username = ?", "t",
                           username),
                     NULL)) < 0) {
        json_decref(detail);
        rc = fail_db(auth, why, why_len);
        goto out;
    }
    if (detail)
        json_object_set_new(detail, "sessions_ended", json_integer(ended));
    if (audit(auth, now, actor, origin, "user.update", username, detail) < 0 || commit(auth) < 0) {
        rc = fail_db(auth, why, why_len);
        goto out;
    }
    cache_drop_user(auth, username);
out:
    pthread_mutex_unlock(&auth->lock);
    sodium_memzero(hash, sizeof hash);
    if (!rc && (role_changes || password)) {
        char from[72];
        clean_text(origin, from, sizeof from);
        wg_info("auth: user %s changed (%s%s%s) by %s from %s; %d session(s) ended", username,
                role_changes ? "role " : "", role_changes ? role_name(role) : "",
                password ? (role_changes ? ", password" : "password") : "", actor ? actor : "-",
                from, ended);
    }
    return rc;
}

int auth_delete_user(struct wg_auth *auth, const char *username, const char *actor,
                     const char *origin, char *why, size_t why_len)
{
    if (!auth) {
        say(why, why_len, "auth: not open");
        return WG_AUTH_FAILED;
    }
    if (!name_ok(username)) {
        say(why, why_len, "no such user");
        return WG_AUTH_NOT_FOUND;
    }
    int64_t now = wall_ms();
    int rc = 0, ended = 0, current = 0;
    pthread_mutex_lock(&auth->lock);
    if (begin(auth) < 0 || (current = user_role(auth, username, NULL)) < 0) {
        rc = fail_db(auth, why, why_len);
        goto out;
    }
    if (current == 0) {
        say(why, why_len, "no user %s", username);
        rollback(auth);
        rc = WG_AUTH_NOT_FOUND;
        goto out;
    }
    if ((rc = keep_an_admin(auth, username, current, WG_ROLE_NONE, why, why_len)) != 0) {
        rollback(auth);
        goto out;
    }
    if ((ended = run(auth, "ending sessions",
                     query(auth, "ending sessions", "DELETE FROM sessions WHERE username = ?", "t",
                           username),
                     NULL)) < 0 ||
        run(auth, "deleting a user",
            query(auth, "deleting a user", "DELETE FROM users WHERE username = ?", "t", username),
            NULL) < 0 ||
        audit(auth, now, actor, origin, "user.delete", username,
              json_pack("{s:s,s:i}", "role", role_name(current), "sessions_ended", ended)) < 0 ||
        commit(auth) < 0) {
        rc = fail_db(auth, why, why_len);
        goto out;
    }
    cache_drop_user(auth, username);
out:
    pthread_mutex_unlock(&auth->lock);
    if (!rc) {
        char from[72];
        clean_text(origin, from, sizeof from);
        wg_info("auth: user %s deleted by %s from %s; %d session(s) ended", username,
                actor ? actor : "-", from, ended);
    }
    return rc;
}

/* ---- sessions ---- */

/* Makes a session for a user in the open transaction; the cache gets it
 * after the commit (session_cache). */
static int session_insert(struct wg_auth *auth, const char *username, enum wg_role role,
                          int64_t now_ms, char token[WG_AUTH_TOKEN_LEN + 1], uint8_t key[KEY_LEN])
{
    new_token(token);
    token_key(token, key);
    if (run(auth, "storing a session",
            query(auth, "storing a session",
                  "INSERT INTO sessions (token_hash, username, created_ms, last_seen_ms, "
                  "expires_ms) VALUES (?, ?, ?, ?, ?)",
                  "ktiii", key, username, now_ms, now_ms, session_expires(role, now_ms, now_ms)),
            NULL) < 0)
        return -1;
    /* A user's oldest sessions beyond SESSIONS_PER_USER end, so a kiosk
     * that logs in again and again does not pile them up. */
    int trimmed = run(auth, "ending old sessions",
                      query(auth, "ending old sessions",
                            "DELETE FROM sessions WHERE username = ?1 AND token_hash NOT IN "
                            "(SELECT token_hash FROM sessions WHERE username = ?1 "
                            "ORDER BY last_seen_ms DESC, created_ms DESC LIMIT ?2)",
                            "ti", username, (int64_t)SESSIONS_PER_USER),
                      NULL);
    if (trimmed < 0)
        return -1;
    if (trimmed > 0)
        cache_drop_user(auth, username); /* reloaded from the database when used */
    return 0;
}

static void session_cache(struct wg_auth *auth, const uint8_t key[KEY_LEN], const char *token,
                          const char *username, enum wg_role role, int64_t now_ms,
                          struct wg_session *session)
{
    struct cached_session *entry = cache_put(auth, key, token, username, role, now_ms, now_ms);
    fill_session(entry, session);
}

bool auth_session(struct wg_auth *auth, const char *token, int64_t now_ms,
                  struct wg_session *session)
{
    if (!auth || !token_shape_ok(token) || !session)
        return false;
    uint8_t key[KEY_LEN];
    token_key(token, key);
    bool ok = false;
    pthread_mutex_lock(&auth->lock);
    struct cached_session *entry = cache_find(auth, key);
    if (!entry) {
        sqlite3_stmt *stmt = query(auth, "reading a session",
                                   "SELECT s.username, u.role, s.created_ms, s.last_seen_ms "
                                   "FROM sessions AS s JOIN users AS u USING (username) "
                                   "WHERE s.token_hash = ?",
                                   "k", key);
        int rc = stmt ? sqlite3_step(stmt) : SQLITE_ERROR;
        if (rc == SQLITE_ROW) {
            int role = role_from_name((const char *)sqlite3_column_text(stmt, 1));
            if (role > 0)
                entry = cache_put(auth, key, token, (const char *)sqlite3_column_text(stmt, 0),
                                  (enum wg_role)role, sqlite3_column_int64(stmt, 2),
                                  sqlite3_column_int64(stmt, 3));
        } else if (stmt && rc != SQLITE_DONE) {
            db_failed(auth, "reading a session");
        }
        sqlite3_finalize(stmt);
        if (!entry)
            goto out;
    }
    entry->used_tick = ++auth->tick;
    if (now_ms >= session_expires(entry->role, entry->created_ms, entry->last_seen_ms)) {
        run(auth, "ending an expired session",
            query(auth, "ending an expired session", "DELETE FROM sessions WHERE token_hash = ?",
                  "k", key),
            NULL);
        cache_drop(entry);
        goto out;
    }
    if (now_ms > entry->last_seen_ms)
        entry->last_seen_ms = now_ms;
    if (entry->last_seen_ms - entry->stored_seen_ms >= TOUCH_MS) {
        int changed =
            run(auth, "extending a session",
                query(auth, "extending a session",
                      "UPDATE sessions SET last_seen_ms = ?, expires_ms = ? WHERE token_hash = ?",
                      "iik", entry->last_seen_ms,
                      session_expires(entry->role, entry->created_ms, entry->last_seen_ms), key),
                NULL);
        if (changed == 0) { /* ended by another connection */
            cache_drop(entry);
            goto out;
        }
        if (changed > 0)
            entry->stored_seen_ms = entry->last_seen_ms;
        /* on a database error the session goes on from the cache; retried next time */
    }
    fill_session(entry, session);
    ok = true;
out:
    pthread_mutex_unlock(&auth->lock);
    sodium_memzero(key, sizeof key);
    return ok;
}

void auth_logout(struct wg_auth *auth, const char *token)
{
    if (!auth || !token_shape_ok(token))
        return;
    uint8_t key[KEY_LEN];
    token_key(token, key);
    char username[WG_AUTH_NAME_MAX + 1] = "";
    pthread_mutex_lock(&auth->lock);
    sqlite3_stmt *stmt = query(auth, "reading a session",
                               "SELECT username FROM sessions WHERE token_hash = ?", "k", key);
    if (stmt && sqlite3_step(stmt) == SQLITE_ROW)
        snprintf(username, sizeof username, "%s", (const char *)sqlite3_column_text(stmt, 0));
    sqlite3_finalize(stmt);
    cache_drop(cache_find(auth, key));
    int ended =
        run(auth, "ending a session",
            query(auth, "ending a session", "DELETE FROM sessions WHERE token_hash = ?", "k", key),
            NULL);
    if (ended > 0 && username[0])
        audit(auth, wall_ms(), username, NULL, "logout", username, NULL);
    pthread_mutex_unlock(&auth->lock);
    if (ended > 0 && username[0])
        wg_info("auth: %s logged out", username);
}

/* ---- login ---- */

static json_t *throttle_detail(const char *which, int64_t value_s, const char *what)
{
    return json_pack("{s:s,s:I}", "by", which, what, (json_int_t)value_s);
}

enum wg_login_result auth_login(struct wg_auth *auth, const char *username, const char *password,
                                const char *client, int64_t now_ms, char *token_out,
                                struct wg_session *session, int *retry_after_s, char *why,
                                size_t why_len)
{
    if (retry_after_s)
        *retry_after_s = 0;
    if (!auth || !token_out || !session) {
        say(why, why_len, "auth_login: missing argument");
        return WG_LOGIN_ERROR;
    }
    if (!username || !password) { /* a request without them: nothing to check or count */
        say(why, why_len, "user name and password are required");
        return WG_LOGIN_BAD;
    }
    bool valid_name = name_ok(username);
    /* An invalid name is never logged: it may be a password typed in the wrong field. */
    const char *who = valid_name ? username : "-", *target = valid_name ? username : NULL;
    char from[72], user_key[THROTTLE_KEY_MAX], addr_key[THROTTLE_KEY_MAX];
    clean_text(client, from, sizeof from);
    snprintf(user_key, sizeof user_key, "u:%.64s", username);
    snprintf(addr_key, sizeof addr_key, "a:%.64s", from);

    pthread_mutex_lock(&auth->lock);
    int iu = throttle_slot(auth, user_key, now_ms, -1);
    int ia = iu < 0 ? -1 : throttle_slot(auth, addr_key, now_ms, iu);
    if (iu < 0 || ia < 0) {
        pthread_mutex_unlock(&auth->lock);
        say(why, why_len, "too many logins at once; try again in a second");
        if (retry_after_s)
            *retry_after_s = 1;
        return WG_LOGIN_THROTTLED;
    }
    struct throttle *tu = &auth->throttle[iu], *ta = &auth->throttle[ia];
    int wait_u = throttle_wait_s(tu, now_ms), wait_a = throttle_wait_s(ta, now_ms);
    if (wait_u || wait_a) {
        int wait = wait_u > wait_a ? wait_u : wait_a;
        struct throttle *t = wait_u >= wait_a ? tu : ta;
        if (!t->refusal_audited && t->locked_until_ms > now_ms) {
            t->refusal_audited = true; /* once per lock-out, so a flood cannot fill the table */
            audit(auth, now_ms, who, from, "login.throttled", target,
                  throttle_detail(t == tu ? "user" : "address", wait, "retry_after_s"));
            wg_notice("auth: login for %s from %s refused: locked out for %d s more", who, from,
                      wait);
        }
        throttle_tidy(tu, now_ms);
        throttle_tidy(ta, now_ms);
        pthread_mutex_unlock(&auth->lock);
        if (retry_after_s)
            *retry_after_s = wait;
        say(why, why_len, "too many failed logins; try again in %d s", wait);
        return WG_LOGIN_THROTTLED;
    }
    tu->pending++;
    ta->pending++;
    char stored[crypto_pwhash_STRBYTES] = "";
    int role = valid_name ? user_role(auth, username, stored) : 0;
    struct hash_cost cost = cost_locked(auth);
    char dummy[crypto_pwhash_STRBYTES];
    bool need_dummy = !auth->dummy_hash[0] || auth->dummy_opslimit != cost.opslimit ||
                      auth->dummy_memlimit != cost.memlimit;
    memcpy(dummy, auth->dummy_hash, sizeof dummy);
    if (role < 0) {
        say(why, why_len, "%s", auth->error);
        throttle_release(tu, false, now_ms);
        throttle_release(ta, false, now_ms);
        pthread_mutex_unlock(&auth->lock);
        return WG_LOGIN_ERROR;
    }
    pthread_mutex_unlock(&auth->lock);

    /* The slow part, without the lock. An unknown user costs the same: a
     * hash made on the first login is verified instead. */
    bool dummy_made = false;
    if (need_dummy) {
        char random_password[WG_AUTH_TOKEN_LEN + 1];
        new_token(random_password);
        dummy_made = hash_password(&cost, random_password, dummy) == 0;
        sodium_memzero(random_password, sizeof random_password);
    }
    bool ok = false;
    if (role > 0)
        ok = crypto_pwhash_str_verify(stored, password, strlen(password)) == 0;
    else if (dummy[0] && (!need_dummy || dummy_made))
        (void)(crypto_pwhash_str_verify(dummy, password, strlen(password)) == 0);
    char rehashed[crypto_pwhash_STRBYTES] = "";
    if (ok && needs_rehash(stored, &cost) && hash_password(&cost, password, rehashed) != 0)
        rehashed[0] = '\0'; /* keep the old hash; try again next login */

    enum wg_login_result result = WG_LOGIN_OK;
    pthread_mutex_lock(&auth->lock);
    auth->password_checks++;
    if (dummy_made && auth->opslimit == cost.opslimit && auth->memlimit == cost.memlimit) {
        memcpy(auth->dummy_hash, dummy, sizeof dummy);
        auth->dummy_opslimit = cost.opslimit;
        auth->dummy_memlimit = cost.memlimit;
    }
    if (!ok) {
        auth->failed_logins++;
        int64_t lock_u = throttle_fail(tu, now_ms), lock_a = throttle_fail(ta, now_ms);
        throttle_release(tu, false, now_ms);
        throttle_release(ta, false, now_ms);
        audit(auth, now_ms, who, from, "login.failed", target,
              json_pack("{s:s}", "reason", role > 0 ? "wrong password" : "unknown user"));
        if (lock_u)
            audit(auth, now_ms, who, from, "login.locked", target,
                  throttle_detail("user", lock_u / 1000, "lock_s"));
        if (lock_a)
            audit(auth, now_ms, who, from, "login.locked", target,
                  throttle_detail("address", lock_a / 1000, "lock_s"));
        pthread_mutex_unlock(&auth->lock);
        wg_notice("auth: failed login for %s from %s", who, from);
        if (lock_u)
            wg_warn("auth: user name %s locked out for %lld s after %d failed logins", who,
                    (long long)(lock_u / 1000), THROTTLE_FAILURES);
        if (lock_a)
            wg_warn("auth: address %s locked out for %lld s after %d failed logins", from,
                    (long long)(lock_a / 1000), THROTTLE_FAILURES);
        say(why, why_len, "wrong user name or password");
        return WG_LOGIN_BAD;
    }
    throttle_release(tu, true, now_ms);
    throttle_release(ta, false, now_ms);
    uint8_t key[KEY_LEN];
    int current = 0;
    if (begin(auth) < 0) {
        result = WG_LOGIN_ERROR;
        goto out;
    }
    /* The password or role may have changed while the lock was released:
     * the session is made only for the hash that was verified. */
    char now_stored[crypto_pwhash_STRBYTES] = "";
    current = user_role(auth, username, now_stored);
    if (current < 0) {
        result = WG_LOGIN_ERROR;
        goto out;
    }
    if (current == 0 || strcmp(now_stored, stored) != 0) {
        rollback(auth);
        result = WG_LOGIN_BAD;
        say(why, why_len, "wrong user name or password");
        goto out;
    }
    if ((rehashed[0] && run(auth, "storing a new hash",
                            query(auth, "storing a new hash",
                                  "UPDATE users SET password_hash = ? WHERE username = ?", "tt",
                                  rehashed, username),
                            NULL) < 0) ||
        run(auth, "noting the login",
            query(auth, "noting the login", "UPDATE users SET last_login_ms = ? WHERE username = ?",
                  "it", now_ms, username),
            NULL) < 0 ||
        run(auth, "ending expired sessions",
            query(auth, "ending expired sessions", "DELETE FROM sessions WHERE expires_ms <= ?",
                  "i", now_ms),
            NULL) < 0 ||
        session_insert(auth, username, (enum wg_role)current, now_ms, token_out, key) < 0 ||
        audit(auth, now_ms, username, from, "login.ok", username,
              json_pack("{s:s,s:b}", "role", role_name(current), "rehashed", rehashed[0] != 0)) <
            0 ||
        commit(auth) < 0) {
        result = WG_LOGIN_ERROR;
        goto out;
    }
    session_cache(auth, key, token_out, username, (enum wg_role)current, now_ms, session);
out:
    if (result == WG_LOGIN_ERROR) {
        say(why, why_len, "%s", auth->error);
        rollback(auth);
    }
    if (result != WG_LOGIN_OK)
        sodium_memzero(token_out, WG_AUTH_TOKEN_LEN + 1);
    pthread_mutex_unlock(&auth->lock);
    sodium_memzero(stored, sizeof stored);
    sodium_memzero(rehashed, sizeof rehashed);
    if (result == WG_LOGIN_OK)
        wg_info("auth: %s (%s) logged in from %s", username, role_name(current), from);
    return result;
}

/* ---- first admin ---- */

/* 1 when the token is the valid setup token and no user exists; 0 for a
 * wrong or expired token; 2 when users exist; -1 on a database error. */
static int setup_token_valid(struct wg_auth *auth, const uint8_t key[KEY_LEN], int64_t now_ms)
{
    int64_t users = user_count_locked(auth);
    if (users < 0)
        return -1;
    if (users > 0)
        return 2;
    sqlite3_stmt *stmt = query(auth, "reading the setup token",
                               "SELECT token_hash, expires_ms FROM setup_token WHERE id = 1", NULL);
    if (!stmt)
        return -1;
    int rc = sqlite3_step(stmt), valid = 0;
    if (rc == SQLITE_ROW) {
        const void *stored = sqlite3_column_blob(stmt, 0);
        valid = stored && sqlite3_column_bytes(stmt, 0) == KEY_LEN &&
                sodium_memcmp(stored, key, KEY_LEN) == 0 && now_ms < sqlite3_column_int64(stmt, 1);
    } else if (rc != SQLITE_DONE) {
        db_failed(auth, "reading the setup token");
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
    sqlite3_stmt *stmt = query(auth, "reading whether setup is pending",
                               "SELECT NOT EXISTS (SELECT 1 FROM users) AND "
                               "EXISTS (SELECT 1 FROM setup_token WHERE id = 1 AND expires_ms > ?)",
                               "i", now_ms);
    int pending = -1;
    if (stmt && sqlite3_step(stmt) == SQLITE_ROW)
        pending = sqlite3_column_int(stmt, 0) != 0;
    else if (stmt)
        db_failed(auth, "reading whether setup is pending");
    sqlite3_finalize(stmt);
    pthread_mutex_unlock(&auth->lock);
    return pending;
}

int auth_make_setup_token(struct wg_auth *auth, int64_t now_ms, char *token_out, size_t token_len)
{
    if (!auth || !token_out || token_len < WG_AUTH_TOKEN_LEN + 1)
        return -1;
    char token[WG_AUTH_TOKEN_LEN + 1];
    uint8_t key[KEY_LEN];
    int result = -1;
    pthread_mutex_lock(&auth->lock);
    int64_t users = -1;
    if (begin(auth) < 0 || (users = user_count_locked(auth)) < 0)
        goto out;
    if (users > 0) {
        if (run(auth, "dropping the setup token",
                query(auth, "dropping the setup token", "DELETE FROM setup_token", NULL),
                NULL) >= 0 &&
            commit(auth) == 0)
            result = 0;
        goto out;
    }
    new_token(token);
    token_key(token, key);
    if (run(auth, "storing the setup token",
            query(auth, "storing the setup token",
                  "INSERT OR REPLACE INTO setup_token (id, token_hash, created_ms, expires_ms) "
                  "VALUES (1, ?, ?, ?)",
                  "kii", key, now_ms, now_ms + SETUP_TOKEN_MS),
            NULL) < 0 ||
        audit(auth, now_ms, "wardgated", NULL, "setup.token", NULL,
              json_pack("{s:I}", "expires_ms", (json_int_t)(now_ms + SETUP_TOKEN_MS))) < 0 ||
        commit(auth) < 0)
        goto out;
    snprintf(token_out, token_len, "%s", token);
    result = 1;
out:
    rollback(auth);
    pthread_mutex_unlock(&auth->lock);
    sodium_memzero(token, sizeof token);
    return result;
}

enum wg_login_result auth_setup_admin(struct wg_auth *auth, const char *setup_token,
                                      const char *username, const char *password,
                                      const char *client, int64_t now_ms, char *token_out,
                                      struct wg_session *session, char *why, size_t why_len)
{
    if (!auth || !token_out || !session) {
        say(why, why_len, "auth_setup_admin: missing argument");
        return WG_LOGIN_ERROR;
    }
    if (!setup_token) {
        say(why, why_len, "the setup token is wrong or expired, or a user exists");
        return WG_LOGIN_BAD;
    }
    char from[72];
    clean_text(client, from, sizeof from);
    uint8_t key[KEY_LEN], session_key[KEY_LEN];
    token_key(setup_token, key);
    pthread_mutex_lock(&auth->lock);
    int valid = setup_token_valid(auth, key, now_ms);
    struct hash_cost cost = cost_locked(auth);
    if (valid != 1) {
        say(why, why_len, "%s",
            valid < 0 ? auth->error : "the setup token is wrong or expired, or a user exists");
        /* Audited only while setup is possible: once users exist, requests
         * to the setup endpoint could otherwise fill the audit table. */
        if (valid == 0)
            audit(auth, now_ms, "-", from, "setup.failed", NULL, NULL);
    }
    pthread_mutex_unlock(&auth->lock);
    if (valid != 1) {
        if (valid == 0)
            wg_notice("auth: setup from %s refused: wrong or expired token", from);
        else if (valid == 2)
            wg_debug("auth: setup from %s refused: users exist", from);
        return valid < 0 ? WG_LOGIN_ERROR : WG_LOGIN_BAD;
    }
    if (check_name(username, why, why_len) || check_password(password, why, why_len))
        return WG_LOGIN_INVALID;
    char hash[crypto_pwhash_STRBYTES];
    if (hash_password(&cost, password, hash) != 0) {
        say(why, why_len, "cannot hash the password (out of memory)");
        return WG_LOGIN_ERROR;
    }
    enum wg_login_result result = WG_LOGIN_OK;
    pthread_mutex_lock(&auth->lock);
    if (begin(auth) < 0 || (valid = setup_token_valid(auth, key, now_ms)) < 0) {
        result = WG_LOGIN_ERROR;
        goto out;
    }
    if (valid != 1) { /* used by another request meanwhile */
        say(why, why_len, "the setup token is wrong or expired, or a user exists");
        result = WG_LOGIN_BAD;
        goto out;
    }
    if (run(auth, "adding the first admin",
            query(auth, "adding the first admin",
                  "INSERT INTO users (username, role, password_hash, created_ms, updated_ms, "
                  "last_login_ms) VALUES (?, 'admin', ?, ?, ?, ?)",
                  "ttiii", username, hash, now_ms, now_ms, now_ms),
            NULL) < 0 ||
        run(auth, "using up the setup token",
            query(auth, "using up the setup token", "DELETE FROM setup_token", NULL), NULL) < 0 ||
        session_insert(auth, username, WG_ROLE_ADMIN, now_ms, token_out, session_key) < 0 ||
        audit(auth, now_ms, username, from, "setup.admin", username,
              json_pack("{s:s}", "role", "admin")) < 0 ||
        commit(auth) < 0) {
        result = WG_LOGIN_ERROR;
        goto out;
    }
    session_cache(auth, session_key, token_out, username, WG_ROLE_ADMIN, now_ms, session);
out:
    if (result == WG_LOGIN_ERROR)
        say(why, why_len, "%s", auth->error);
    if (result != WG_LOGIN_OK) {
        rollback(auth);
        sodium_memzero(token_out, WG_AUTH_TOKEN_LEN + 1);
    }
    pthread_mutex_unlock(&auth->lock);
    sodium_memzero(hash, sizeof hash);
    if (result == WG_LOGIN_OK) {
        remove_setup_file(auth);
        wg_notice("auth: first admin %s made with the setup token from %s", username, from);
    }
    return result;
}

/* ---- wardgated --add-user ---- */

/* Reads one line from fd into buf (at most cap - 1 bytes kept). Returns its
 * length, -2 when it was longer than that, -3 at end of input before any
 * byte, -1 on error (errno). */
static ssize_t read_line(int fd, char *buf, size_t cap)
{
    size_t n = 0;
    bool too_long = false, any = false;
    for (;;) {
        char c;
        ssize_t got = read(fd, &c, 1);
        if (got < 0)
            return -1;
        if (got == 0)
            break;
        any = true;
        if (c == '\n')
            break;
        if (n + 1 < cap)
            buf[n++] = c;
        else
            too_long = true;
    }
    buf[n] = '\0';
    if (n && buf[n - 1] == '\r')
        buf[--n] = '\0';
    if (!any)
        return -3;
    return too_long ? -2 : (ssize_t)n;
}

/* Asks on the terminal (stdin) with echo off. 0, or -1 with a message.
 * Ctrl-C (and the other terminal signals) are blocked and watched through
 * a signalfd while echo is off, so the terminal is always restored and an
 * interrupt, even one typed together with Enter, adds no user. */
static int ask_password(const char *prompt, char *buf, size_t cap, char *err, size_t err_len)
{
    struct termios saved, quiet;
    if (tcgetattr(STDIN_FILENO, &saved) != 0) {
        say(err, err_len, "cannot read the terminal's settings: %s", strerror(errno));
        return -1;
    }
    quiet = saved;
    quiet.c_lflag &= ~(tcflag_t)ECHO;
    quiet.c_lflag |= ECHONL;
    sigset_t watched, old_mask;
    sigemptyset(&watched);
    sigaddset(&watched, SIGINT);
    sigaddset(&watched, SIGTERM);
    sigaddset(&watched, SIGQUIT);
    sigaddset(&watched, SIGHUP);
    sigaddset(&watched, SIGTSTP);
    if (pthread_sigmask(SIG_BLOCK, &watched, &old_mask) != 0) {
        say(err, err_len, "cannot block signals");
        return -1;
    }
    int signal_fd = signalfd(-1, &watched, SFD_NONBLOCK | SFD_CLOEXEC);
    ssize_t n = -1;
    int saved_errno = 0;
    bool interrupted = false;
    if (signal_fd < 0) {
        saved_errno = errno;
    } else {
        fputs(prompt, stderr);
        fflush(stderr);
        if (tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet) != 0) {
            saved_errno = errno;
        } else {
            struct pollfd fds[2] = {{.fd = STDIN_FILENO, .events = POLLIN},
                                    {.fd = signal_fd, .events = POLLIN}};
            int ready;
            while ((ready = poll(fds, 2, -1)) < 0 && errno == EINTR)
                ;
            if (ready < 0)
                saved_errno = errno;
            else if (!(fds[1].revents & POLLIN))
                n = read_line(STDIN_FILENO, buf, cap); /* a whole line is there */
            saved_errno = ready < 0 ? saved_errno : errno;
            tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved);
        }
        struct signalfd_siginfo info;
        while (read(signal_fd, &info, sizeof info) == (ssize_t)sizeof info)
            interrupted = true; /* consumed: it would kill us once unblocked */
        close(signal_fd);
    }
    pthread_sigmask(SIG_SETMASK, &old_mask, NULL);
    if (interrupted) {
        fputc('\n', stderr);
        say(err, err_len, "interrupted; no user added");
        n = -1;
    } else if (n == -1) {
        say(err, err_len, "cannot read the password from the terminal: %s",
            strerror(saved_errno ? saved_errno : EIO));
    } else if (n == -3) {
        fputc('\n', stderr);
        say(err, err_len, "no password given; no user added");
    } else if (n == -2) {
        say(err, err_len, "password: at most %d characters", PASSWORD_MAX);
    }
    if (n < 0)
        sodium_memzero(buf, cap);
    return n < 0 ? -1 : 0;
}

static int password_from_file(const char *path, char *buf, size_t cap, char *err, size_t err_len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        say(err, err_len, "password file %s: %s", path, strerror(errno));
        return -1;
    }
    ssize_t n = read_line(fd, buf, cap);
    int saved = errno;
    close(fd);
    if (n == -1)
        say(err, err_len, "password file %s: %s", path, strerror(saved));
    else if (n == -3 || n == 0)
        say(err, err_len, "password file %s: the first line is empty", path);
    else if (n == -2)
        say(err, err_len, "password file %s: the password is longer than %d characters", path,
            PASSWORD_MAX);
    else if (strlen(buf) != (size_t)n)
        say(err, err_len, "password file %s: the first line holds a NUL byte", path);
    return n > 0 && strlen(buf) == (size_t)n ? 0 : -1;
}

static int password_from_stdin(char *buf, size_t cap, char *err, size_t err_len)
{
    if (isatty(STDIN_FILENO)) {
        char again[PASSWORD_MAX + 2];
        int rc = ask_password("Password: ", buf, cap, err, err_len);
        if (!rc)
            rc = ask_password("The same password again: ", again, sizeof again, err, err_len);
        if (!rc && (strlen(again) != strlen(buf) || sodium_memcmp(again, buf, strlen(buf)) != 0)) {
            say(err, err_len, "the two passwords differ; no user added");
            rc = -1;
        }
        sodium_memzero(again, sizeof again);
        return rc;
    }
    ssize_t n = read_line(STDIN_FILENO, buf, cap);
    if (n == -1)
        say(err, err_len, "cannot read the password from standard input: %s", strerror(errno));
    else if (n == -3 || n == 0)
        say(err, err_len, "no password on standard input (one line is read)");
    else if (n == -2)
        say(err, err_len, "password: at most %d characters", PASSWORD_MAX);
    else if (strlen(buf) != (size_t)n)
        say(err, err_len, "the password on standard input holds a NUL byte");
    return n > 0 && strlen(buf) == (size_t)n ? 0 : -1;
}

int auth_add_user_main(const char *db_path, const char *username, const char *role,
                       const char *password_file)
{
    const char *role_text = role ? role : "nurse";
    int role_value = role_from_name(role_text);
    char err[PATH_MAX + 512];
    if (role_value < 0) {
        fprintf(stderr, "wardgated: unknown role \"%s\": station, nurse, manager or admin\n",
                role_text);
        return 1;
    }
    if (check_name(username, err, sizeof err)) {
        fprintf(stderr, "wardgated: --add-user \"%s\": %s\n", username ? username : "", err);
        return 1;
    }
    if (!db_path) {
        fprintf(stderr, "wardgated: no database path\n");
        return 1;
    }
    char password[PASSWORD_MAX + 2] = "";
    if (password_file &&
        password_from_file(password_file, password, sizeof password, err, sizeof err) < 0) {
        fprintf(stderr, "wardgated: %s; no user added\n", err);
        return 1;
    }
    int rc = 1;
    struct wg_auth *auth = NULL;
    struct wg_store_options options = {.path = db_path};
    enum wg_store_status status;
    struct wg_store *store = store_open(&options, &status, err, sizeof err);
    if (!store) {
        fprintf(stderr, "wardgated: %s\n", err);
        goto out;
    }
    store_close(store);
    auth = auth_open(db_path, err, sizeof err);
    if (!auth) {
        fprintf(stderr, "wardgated: %s\n", err);
        goto out;
    }
    json_t *existing = auth_get_user(auth, username);
    if (existing) {
        json_decref(existing);
        fprintf(stderr, "wardgated: user %s exists in %s\n", username, db_path);
        goto out;
    }
    if (!password_file && password_from_stdin(password, sizeof password, err, sizeof err) < 0) {
        fprintf(stderr, "wardgated: %s\n", err);
        goto out;
    }
    char actor[64];
    struct passwd *pw = getpwuid(getuid());
    if (pw && pw->pw_name && name_ok(pw->pw_name))
        snprintf(actor, sizeof actor, "%s", pw->pw_name);
    else
        snprintf(actor, sizeof actor, "uid %u", (unsigned)getuid());
    if (auth_add_user(auth, username, (enum wg_role)role_value, password, actor, "command line",
                      err, sizeof err) != 0) {
        fprintf(stderr, "wardgated: %s; no user added\n", err);
        goto out;
    }
    printf("wardgated: user %s (%s) added to %s\n", username, role_text, db_path);
    rc = fflush(stdout) == 0 ? 0 : 1;
out:
    sodium_memzero(password, sizeof password);
    auth_close(auth);
    return rc;
}
