/* Users, passwords, sessions and login throttling for the web interface.
 *
 * Users live in the SQLite database (tables users, sessions, setup_token;
 * migration 4). Reads go through a read-only connection of the module's
 * own; every write is work run on the store writer's connection
 * (store/store_call.h): inside the daemon nothing else writes the database.
 * Passwords are hashed with argon2id (libsodium crypto_pwhash_str). Session
 * tokens are 256 random bits given to the browser once; only their hash is
 * stored. Failed logins are counted per user name and per client address in
 * memory.
 *
 * Thread safety: every function may be called from any thread; an internal
 * mutex guards the reader, the cache and the throttle table, and is NOT held
 * while a password is hashed or verified, nor while a write waits for the
 * store writer. auth_login, auth_add_user, auth_update_user,
 * auth_delete_user, auth_setup_admin and auth_make_setup_token are slow on
 * purpose (hashing) and wait for the writer (at most store_call.h's bound):
 * call them off the web server's service thread. auth_session, auth_logout,
 * auth_setup_pending and the reads never wait for a write: what they write
 * (a session's idle extension, a logout) is posted to the writer, which
 * keeps it and retries while storage fails.
 *
 * When storage cannot be written (locked by another process, disk full,
 * read-only), a change is refused with nothing written: WG_AUTH_STORAGE or
 * WG_LOGIN_ERROR, with words for people in `why` ("cannot log in now:
 * storage is busy ..."; no file path: the log has the cause).
 *
 * The throttle table lives in memory only: a restart clears it. Every user
 * change, login (ok, failed, throttled, lock-out), logout and setup step is
 * written to the audit table; no password or token ever reaches the audit
 * table or the log. */
#ifndef WG_AUTH_H
#define WG_AUTH_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store_call.h"

enum wg_role {
    WG_ROLE_NONE = 0,
    WG_ROLE_STATION = 1, /* the wall display: read only */
    WG_ROLE_NURSE = 2,   /* + acknowledge */
    WG_ROLE_MANAGER = 3, /* + configure devices, residents, beds */
    WG_ROLE_ADMIN = 4,   /* + users */
};
const char *role_name(enum wg_role role); /* "station", ...; "none" */
int role_from_name(const char *name);     /* -1 if unknown */

#define WG_AUTH_NAME_MAX  32 /* user name characters */
#define WG_AUTH_TOKEN_LEN 43 /* session token: 32 bytes, base64url without padding */
#define WG_AUTH_CSRF_LEN  43

struct wg_session {
    char username[WG_AUTH_NAME_MAX + 1];
    enum wg_role role;
    char csrf[WG_AUTH_CSRF_LEN + 1];
    int64_t expires_ms;
};

struct wg_auth;

/* Opens a read-only connection to the database at db_path, which the store
 * has created and migrated; writes go through `calls` (the store writer's,
 * not owned, to outlive the module). NULL with a message in err on failure.
 * auth_close first gives posted writes (logouts, audit rows) up to 2 s. */
struct wg_auth *auth_open(const char *db_path, struct wg_store_calls *calls, char *err,
                          size_t err_len);
void auth_close(struct wg_auth *auth);

/* What went wrong with a user change, as a negative return value; the HTTP
 * status an API answer should carry is in the name. */
enum wg_auth_error {
    WG_AUTH_INVALID = -400,   /* bad name, password length or role */
    WG_AUTH_NOT_FOUND = -404, /* no such user */
    WG_AUTH_CONFLICT = -409,  /* the user exists; the last admin */
    WG_AUTH_FAILED = -500,    /* database or system error */
    WG_AUTH_STORAGE = -503,   /* storage cannot be written now (locked, full, read-only):
                               * nothing was changed; try again later */
};

/* Users. Each returns 0, or a negative enum wg_auth_error with a message for
 * people in why (a bad name, a short password, an unknown role, an existing
 * user, the last admin ...). Names and passwords are checked before any
 * hashing. `actor`/`origin` go to the audit table (never the password).
 * Changing a user's role or password, or deleting them, ends their sessions;
 * adding a user removes a pending setup token (and its file). */
int auth_add_user(struct wg_auth *auth, const char *username, enum wg_role role,
                  const char *password, const char *actor, const char *origin, char *why,
                  size_t why_len);
/* role WG_ROLE_NONE keeps the role; password NULL keeps the password. */
int auth_update_user(struct wg_auth *auth, const char *username, enum wg_role role,
                     const char *password, const char *actor, const char *origin, char *why,
                     size_t why_len);
/* Refused for the last admin. Ends the user's sessions. */
int auth_delete_user(struct wg_auth *auth, const char *username, const char *actor,
                     const char *origin, char *why, size_t why_len);
/* {"users": [{"username", "role", "created_ms", "last_login_ms"}]}; NULL on error. */
json_t *auth_list_users(struct wg_auth *auth);
/* One user as in the list; NULL when unknown. */
json_t *auth_get_user(struct wg_auth *auth, const char *username);
int auth_user_count(struct wg_auth *auth); /* -1 on error */

/* First start: when there is no user, makes a one-time setup token (valid
 * 24 h; each call replaces the previous one: only its hash is stored),
 * writes it to token_out (WG_AUTH_TOKEN_LEN + 1 bytes) and returns 1;
 * returns 0 when users exist (and drops any old token), -1 on error. */
int auth_make_setup_token(struct wg_auth *auth, int64_t now_ms, char *token_out, size_t token_len);
/* 1 while the first admin may still be made in the browser (no user exists
 * and an unexpired setup token does), 0 otherwise, -1 on a database error.
 * One small query: for the login page's unauthenticated GET /api/v1/setup. */
int auth_setup_pending(struct wg_auth *auth, int64_t now_ms);
/* Writes token to "<database dir>/setup-token" (mode 0600, replaced
 * atomically), or with token NULL removes that file if it is there. The
 * file's path goes to path_out. 0, or -1 with a message in err. */
int auth_write_setup_token_file(struct wg_auth *auth, const char *token, char *path_out,
                                size_t path_len, char *err, size_t err_len);

enum wg_login_result {
    WG_LOGIN_OK = 0,
    WG_LOGIN_BAD = 1,       /* wrong user or password (the same answer for both) */
    WG_LOGIN_THROTTLED = 2, /* *retry_after_s says when to try again */
    WG_LOGIN_ERROR = 3,     /* storage cannot be read or written now; why says, for people */
    WG_LOGIN_INVALID = 4,   /* auth_setup_admin: the name or password is not acceptable */
};
/* Checks the password (slow), opens a session: token_out gets the cookie
 * value (WG_AUTH_TOKEN_LEN + 1 bytes), session the rest. Throttled per user
 * name and per `client` address; successes and failures are audited. A
 * NULL username or password is WG_LOGIN_BAD at once (nothing is counted). */
enum wg_login_result auth_login(struct wg_auth *auth, const char *username, const char *password,
                                const char *client, int64_t now_ms, char *token_out,
                                struct wg_session *session, int *retry_after_s, char *why,
                                size_t why_len);
/* Consumes the setup token and creates the first admin, then logs in as it
 * (removing the setup-token file). WG_LOGIN_BAD for a wrong or expired token
 * or when a user exists (checked before any hashing); WG_LOGIN_INVALID with
 * why for a bad name or password (the token is then kept). */
enum wg_login_result auth_setup_admin(struct wg_auth *auth, const char *setup_token,
                                      const char *username, const char *password,
                                      const char *client, int64_t now_ms, char *token_out,
                                      struct wg_session *session, char *why, size_t why_len);

/* The session of a cookie value; false when unknown or expired. Fast (no
 * hashing beyond one BLAKE2b of the token; cached); extends the idle expiry
 * (12 h; station 365 days) up to the absolute cap (7 days after login; none
 * for station). The extension reaches the database at most once a minute
 * per session, so a restart may forget up to a minute of it. */
bool auth_session(struct wg_auth *auth, const char *token, int64_t now_ms,
                  struct wg_session *session);
void auth_logout(struct wg_auth *auth, const char *token);

/* The storage failure a WG_AUTH_STORAGE or WG_LOGIN_ERROR answer's `why`
 * tells of, as the heartbeat names it ("locked", "disk_full", "size_limit",
 * "read_only", "io_error"), for the API's {"code": "storage", "args":
 * {"reason"}}; NULL when why is not about storage. */
const char *auth_storage_reason(const char *why);

/* Counters for /metrics. */
uint64_t auth_failed_logins(struct wg_auth *auth);
/* Passwords verified so far by auth_login (a throttled attempt verifies none). */
uint64_t auth_password_checks(struct wg_auth *auth);

/* For tests: the argon2id cost of new hashes (default
 * crypto_pwhash_OPSLIMIT_INTERACTIVE / MEMLIMIT_INTERACTIVE). A login whose
 * stored hash has other parameters rehashes the password with these. */
void auth_set_hash_cost(struct wg_auth *auth, unsigned long long opslimit, size_t memlimit);

/* `wardgated --add-user NAME --role ROLE [--password-file F]`: opens the
 * database at db_path (creating and migrating it if needed), reads the
 * password from the file or, without one, twice from the terminal (no echo)
 * or once from a non-terminal stdin, adds the user. Exit status 0 or 1.
 * Safe while the daemon runs: it is another process, whose one write
 * connection waits for the daemon's writer under SQLite's locks (up to 10 s,
 * then it says the database is locked and adds nothing). */
int auth_add_user_main(const char *db_path, const char *username, const char *role,
                       const char *password_file);

#endif
