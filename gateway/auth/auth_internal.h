/* What the files of the auth module share, and nobody else may use: the
 * limits, the state behind struct wg_auth, and each file's functions for
 * the others. auth.h is the module's face.
 *
 * Files: auth.c (open, close, counters, roles), auth_rules.c (what a name,
 * password, role, client address may be), auth_secrets.c (argon2id hashes,
 * tokens, CSRF), auth_sql.c (statements on a connection, and the two ways
 * to write: through the store writer, waiting or posted), auth_session.c
 * (the session cache, auth_session, logout), auth_throttle.c (failed logins
 * counted per name and address), auth_login.c (auth_login), auth_users.c
 * (user changes), auth_setup.c (the one-time setup token, the first admin),
 * auth_cli.c (`wardgated --add-user`).
 *
 * Connections: reads go through `reader`, a read-only connection of auth's
 * own, under `lock`; every write is work run on the store writer's
 * connection (store_call.h), never under `lock`. */
#ifndef WG_AUTH_INTERNAL_H
#define WG_AUTH_INTERNAL_H

#include <jansson.h>
#include <pthread.h>
#include <sodium.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "auth/auth.h"
#include "store/store.h"
#include "store/store_call.h"

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
#define REVOKED_SLOTS      64 /* logged-out tokens remembered until their row is surely gone */
#define KEY_LEN            crypto_generichash_BYTES /* BLAKE2b-256 of a token */
#define SCHEMA_NEEDED      4
#define SETUP_FILE         "setup-token"
#define CLIENT_TEXT_MAX    72

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

struct hash_cost {
    unsigned long long opslimit;
    size_t memlimit;
};

struct wg_auth {
    pthread_mutex_t lock;
    struct wg_store *reader;      /* read-only, under lock */
    struct wg_store_calls *calls; /* the writer's; not owned */
    char *path;
    unsigned long long opslimit;
    size_t memlimit;
    char dummy_hash[crypto_pwhash_STRBYTES]; /* verified for unknown users; "" until made */
    unsigned long long dummy_opslimit;
    size_t dummy_memlimit;
    struct cached_session cache[CACHE_SLOTS];
    uint64_t tick;
    uint8_t revoked[REVOKED_SLOTS][KEY_LEN]; /* ring of logged-out tokens' hashes */
    size_t revoked_next;
    struct throttle *throttle; /* THROTTLE_SLOTS */
    uint64_t failed_logins;
    uint64_t password_checks;
};

/* ---- auth_rules.c ---- */
int64_t auth_wall_ms(void);
__attribute__((format(printf, 3, 4))) void auth_say(char *out, size_t len, const char *fmt, ...);
bool auth_name_ok(const char *name);
int auth_check_name(const char *name, char *why, size_t why_len);
int auth_check_password(const char *password, char *why, size_t why_len);
int auth_check_role(enum wg_role role, char *why, size_t why_len);
/* A client address as it may appear in the log and the throttle table:
 * printable ASCII only, at most 64 characters ("-" when empty). */
void auth_clean_text(const char *in, char *out, size_t out_len);

/* ---- auth_secrets.c ---- */
void auth_token_key(const char *token, uint8_t key[KEY_LEN]);
void auth_csrf_of(const char *token, char csrf[WG_AUTH_CSRF_LEN + 1]);
void auth_new_token(char token[WG_AUTH_TOKEN_LEN + 1]);
bool auth_token_shape_ok(const char *token);
int auth_hash_password(const struct hash_cost *cost, const char *password,
                       char out[crypto_pwhash_STRBYTES]);
bool auth_needs_rehash(const char *stored, const struct hash_cost *cost);
struct hash_cost auth_cost_locked(const struct wg_auth *auth);

/* ---- auth_sql.c ---- */

/* One connection: auth's reader (under auth->lock), or the store writer's
 * (in work run by store_call). Failures are recorded on `store`. */
struct auth_sql {
    struct wg_store *store;
    sqlite3 *db;
};
struct auth_sql auth_sql_of(struct wg_store *store);
/* Logs and records a failure of the connection's last call; returns -1. */
int auth_sql_failed(struct auth_sql *sql, const char *doing);
/* Prepares sql and binds the arguments `types` describes: 't' text (NULL
 * binds NULL), 'i' int64_t, 'k' a KEY_LEN-byte token hash. NULL on error. */
sqlite3_stmt *auth_sql_query(struct auth_sql *sql, const char *doing, const char *text,
                             const char *types, ...);
/* Runs a prepared statement to completion and finalizes it; rows changed,
 * or -1. *constraint (may be NULL) is set for a refused row. */
int auth_sql_run(struct auth_sql *sql, const char *doing, sqlite3_stmt *stmt, bool *constraint);
int auth_sql_begin(struct auth_sql *sql);
int auth_sql_commit(struct auth_sql *sql); /* rolls back on failure */
void auth_sql_rollback(struct auth_sql *sql);
/* One audit row; takes ownership of detail (may be NULL). 0 or -1. */
int auth_sql_audit(struct auth_sql *sql, int64_t ts_ms, const char *actor, const char *origin,
                   const char *action, const char *target, json_t *detail);
/* The role of a user: 1..4; 0 when there is no such user; -1 on error. With
 * hash_out the stored hash is copied too. */
int auth_sql_user_role(struct auth_sql *sql, const char *username,
                       char hash_out[crypto_pwhash_STRBYTES]);
int64_t auth_sql_count(struct auth_sql *sql, const char *doing, const char *text,
                       const char *text_arg);
int64_t auth_sql_user_count(struct auth_sql *sql);

/* The reader, for a read under auth->lock. */
struct auth_sql auth_reader(struct wg_auth *auth);
/* Words for people about a storage failure (no path; the log has that). */
void auth_storage_words(enum wg_store_status status, const char *doing, char *why, size_t why_len);
/* A failed read on the reader, for people: why gets words, the log the cause. */
void auth_read_failed(struct wg_auth *auth, const char *doing, char *why, size_t why_len);

/* Runs work on the store writer's connection and waits (store_call). 0, or
 * -1 with words for people in why (the cause with the file goes to the log,
 * naming `doing`, e.g. "log in"). Never called under auth->lock. */
int auth_write(struct wg_auth *auth, const char *doing, wg_store_work work, void *ctx, char *why,
               size_t why_len);

/* Writes nobody waits for (store_call_post): audit rows, and at most one
 * session change, in one transaction; kept and retried while storage fails. */
enum auth_session_op { AUTH_SESSION_KEEP, AUTH_SESSION_END, AUTH_SESSION_TOUCH };
struct auth_posted;
struct auth_posted *auth_posted_new(const char *what);
/* Adds an audit row (detail taken); written only if the session op changed
 * a row when only_if_changed. Up to 3 rows. */
void auth_posted_audit(struct auth_posted *posted, int64_t ts_ms, const char *actor,
                       const char *origin, const char *action, const char *target, json_t *detail,
                       bool only_if_changed);
void auth_posted_session(struct auth_posted *posted, enum auth_session_op op,
                         const uint8_t key[KEY_LEN], int64_t last_seen_ms, int64_t expires_ms);
/* Queues it (NULL: nothing; out of memory was logged). */
void auth_post(struct wg_auth *auth, struct auth_posted *posted);

/* ---- auth_session.c ---- */
int64_t auth_session_expires(enum wg_role role, int64_t created_ms, int64_t last_seen_ms);
/* In work on the writer: makes a session for a user in the open
 * transaction; *trimmed says whether older ones of the user ended. */
int auth_session_insert(struct auth_sql *sql, const char *username, enum wg_role role,
                        int64_t now_ms, char token[WG_AUTH_TOKEN_LEN + 1], uint8_t key[KEY_LEN],
                        bool *trimmed);
/* Under lock, after the commit: caches it and fills session. */
void auth_session_cache(struct wg_auth *auth, const uint8_t key[KEY_LEN], const char *token,
                        const char *username, enum wg_role role, int64_t now_ms,
                        struct wg_session *session);
void auth_cache_drop_user(struct wg_auth *auth, const char *username);

/* ---- auth_throttle.c ---- */
int auth_throttle_slot(struct wg_auth *auth, const char *key, int64_t now_ms, int keep);
int auth_throttle_wait_s(const struct throttle *t, int64_t now_ms);
int64_t auth_throttle_fail(struct throttle *t, int64_t now_ms);
void auth_throttle_tidy(struct throttle *t, int64_t now_ms);
void auth_throttle_release(struct throttle *t, bool success, int64_t now_ms);

/* ---- auth_setup.c ---- */
void auth_remove_setup_file(struct wg_auth *auth);

#endif
