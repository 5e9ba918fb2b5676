/* Login (auth_login, auth.h): the throttle first, the password checked
 * without the lock (argon2id is slow on purpose; an unknown user costs the
 * same), then the session made as work on the store writer's connection,
 * in one transaction with the user's last login, a rehash at a new cost,
 * the end of expired sessions and the audit row. Refused logins are audited
 * through posted writes, which storage failures delay but never lose; a
 * login whose session cannot be stored is answered WG_LOGIN_ERROR with
 * words for people, within the store writer's bound (store_call.h). */
#include <stdio.h>
#include <string.h>

#include "auth/auth_internal.h"
#include "common/log.h"

static json_t *throttle_detail(const char *which, int64_t value_s, const char *what)
{
    return json_pack("{s:s,s:I}", "by", which, what, (json_int_t)value_s);
}

/* The session of a verified password, run on the writer. */
struct login_write {
    const char *username;
    const char *stored;   /* the hash that was verified */
    const char *rehashed; /* "" or a new hash at the current cost */
    const char *from;
    int64_t now_ms;
    /* The answer: */
    int role; /* 0: the user or the password changed meanwhile */
    char *token;
    uint8_t key[KEY_LEN];
    bool trimmed;
};

static int login_work(struct wg_store *store, void *ctx)
{
    struct login_write *login = ctx;
    struct auth_sql sql = auth_sql_of(store);
    if (auth_sql_begin(&sql) < 0)
        return -1;
    /* The password or role may have changed since it was verified: the
     * session is made only for the hash that was. */
    char now_stored[crypto_pwhash_STRBYTES] = "";
    login->role = auth_sql_user_role(&sql, login->username, now_stored);
    if (login->role < 0)
        goto failed;
    if (login->role == 0 || strcmp(now_stored, login->stored) != 0) {
        login->role = 0;
        auth_sql_rollback(&sql);
        return 0;
    }
    if ((login->rehashed[0] &&
         auth_sql_run(&sql, "storing a new hash",
                      auth_sql_query(&sql, "storing a new hash",
                                     "UPDATE users SET password_hash = ? WHERE username = ?", "tt",
                                     login->rehashed, login->username),
                      NULL) < 0) ||
        auth_sql_run(&sql, "noting the login",
                     auth_sql_query(&sql, "noting the login",
                                    "UPDATE users SET last_login_ms = ? WHERE username = ?", "it",
                                    login->now_ms, login->username),
                     NULL) < 0 ||
        auth_sql_run(&sql, "ending expired sessions",
                     auth_sql_query(&sql, "ending expired sessions",
                                    "DELETE FROM sessions WHERE expires_ms <= ?", "i",
                                    login->now_ms),
                     NULL) < 0 ||
        auth_session_insert(&sql, login->username, (enum wg_role)login->role, login->now_ms,
                            login->token, login->key, &login->trimmed) < 0 ||
        auth_sql_audit(&sql, login->now_ms, login->username, login->from, "login.ok",
                       login->username,
                       json_pack("{s:s,s:b}", "role", role_name(login->role), "rehashed",
                                 login->rehashed[0] != 0)) < 0)
        goto failed;
    sodium_memzero(now_stored, sizeof now_stored);
    return auth_sql_commit(&sql);
failed:
    sodium_memzero(now_stored, sizeof now_stored);
    auth_sql_rollback(&sql);
    return -1;
}

/* Refused: counted, audited (posted), logged. Under lock; unlocks. */
static enum wg_login_result refuse(struct wg_auth *auth, struct throttle *tu, struct throttle *ta,
                                   bool known_user, const char *who, const char *target,
                                   const char *from, int64_t now_ms, char *why, size_t why_len)
{
    auth->failed_logins++;
    int64_t lock_u = auth_throttle_fail(tu, now_ms), lock_a = auth_throttle_fail(ta, now_ms);
    auth_throttle_release(tu, false, now_ms);
    auth_throttle_release(ta, false, now_ms);
    pthread_mutex_unlock(&auth->lock);
    struct auth_posted *posted = auth_posted_new("the audit rows of a failed login");
    auth_posted_audit(posted, now_ms, who, from, "login.failed", target,
                      json_pack("{s:s}", "reason", known_user ? "wrong password" : "unknown user"),
                      false);
    if (lock_u)
        auth_posted_audit(posted, now_ms, who, from, "login.locked", target,
                          throttle_detail("user", lock_u / 1000, "lock_s"), false);
    if (lock_a)
        auth_posted_audit(posted, now_ms, who, from, "login.locked", target,
                          throttle_detail("address", lock_a / 1000, "lock_s"), false);
    auth_post(auth, posted);
    wg_notice("auth: failed login for %s from %s", who, from);
    if (lock_u)
        wg_warn("auth: user name %s locked out for %lld s after %d failed logins", who,
                (long long)(lock_u / 1000), THROTTLE_FAILURES);
    if (lock_a)
        wg_warn("auth: address %s locked out for %lld s after %d failed logins", from,
                (long long)(lock_a / 1000), THROTTLE_FAILURES);
    auth_say(why, why_len, "wrong user name or password");
    return WG_LOGIN_BAD;
}

enum wg_login_result auth_login(struct wg_auth *auth, const char *username, const char *password,
                                const char *client, int64_t now_ms, char *token_out,
                                struct wg_session *session, int *retry_after_s, char *why,
                                size_t why_len)
{
    if (retry_after_s)
        *retry_after_s = 0;
    if (!auth || !token_out || !session) {
        auth_say(why, why_len, "auth_login: missing argument");
        return WG_LOGIN_ERROR;
    }
    if (!username || !password) { /* a request without them: nothing to check or count */
        auth_say(why, why_len, "user name and password are required");
        return WG_LOGIN_BAD;
    }
    bool valid_name = auth_name_ok(username);
    /* An invalid name is never logged: it may be a password typed in the wrong field. */
    const char *who = valid_name ? username : "-", *target = valid_name ? username : NULL;
    char from[CLIENT_TEXT_MAX], user_key[THROTTLE_KEY_MAX], addr_key[THROTTLE_KEY_MAX];
    auth_clean_text(client, from, sizeof from);
    snprintf(user_key, sizeof user_key, "u:%.64s", username);
    snprintf(addr_key, sizeof addr_key, "a:%.64s", from);

    pthread_mutex_lock(&auth->lock);
    int iu = auth_throttle_slot(auth, user_key, now_ms, -1);
    int ia = iu < 0 ? -1 : auth_throttle_slot(auth, addr_key, now_ms, iu);
    if (iu < 0 || ia < 0) {
        pthread_mutex_unlock(&auth->lock);
        auth_say(why, why_len, "too many logins at once; try again in a second");
        if (retry_after_s)
            *retry_after_s = 1;
        return WG_LOGIN_THROTTLED;
    }
    struct throttle *tu = &auth->throttle[iu], *ta = &auth->throttle[ia];
    int wait_u = auth_throttle_wait_s(tu, now_ms), wait_a = auth_throttle_wait_s(ta, now_ms);
    if (wait_u || wait_a) {
        int wait = wait_u > wait_a ? wait_u : wait_a;
        struct throttle *t = wait_u >= wait_a ? tu : ta;
        struct auth_posted *posted = NULL;
        if (!t->refusal_audited && t->locked_until_ms > now_ms) {
            t->refusal_audited = true; /* once per lock-out, so a flood cannot fill the table */
            posted = auth_posted_new("the audit row of a refused login");
            auth_posted_audit(posted, now_ms, who, from, "login.throttled", target,
                              throttle_detail(t == tu ? "user" : "address", wait, "retry_after_s"),
                              false);
        }
        auth_throttle_tidy(tu, now_ms);
        auth_throttle_tidy(ta, now_ms);
        pthread_mutex_unlock(&auth->lock);
        if (posted) {
            auth_post(auth, posted);
            wg_notice("auth: login for %s from %s refused: locked out for %d s more", who, from,
                      wait);
        }
        if (retry_after_s)
            *retry_after_s = wait;
        auth_say(why, why_len, "too many failed logins; try again in %d s", wait);
        return WG_LOGIN_THROTTLED;
    }
    tu->pending++;
    ta->pending++;
    char stored[crypto_pwhash_STRBYTES] = "";
    struct auth_sql sql = auth_reader(auth);
    int role = valid_name ? auth_sql_user_role(&sql, username, stored) : 0;
    struct hash_cost cost = auth_cost_locked(auth);
    char dummy[crypto_pwhash_STRBYTES];
    bool need_dummy = !auth->dummy_hash[0] || auth->dummy_opslimit != cost.opslimit ||
                      auth->dummy_memlimit != cost.memlimit;
    memcpy(dummy, auth->dummy_hash, sizeof dummy);
    if (role < 0) {
        auth_read_failed(auth, "log in", why, why_len);
        auth_throttle_release(tu, false, now_ms);
        auth_throttle_release(ta, false, now_ms);
        pthread_mutex_unlock(&auth->lock);
        return WG_LOGIN_ERROR;
    }
    pthread_mutex_unlock(&auth->lock);

    /* The slow part, without the lock. An unknown user costs the same: a
     * hash made on the first login is verified instead. */
    bool dummy_made = false;
    if (need_dummy) {
        char random_password[WG_AUTH_TOKEN_LEN + 1];
        auth_new_token(random_password);
        dummy_made = auth_hash_password(&cost, random_password, dummy) == 0;
        sodium_memzero(random_password, sizeof random_password);
    }
    bool ok = false;
    if (role > 0)
        ok = crypto_pwhash_str_verify(stored, password, strlen(password)) == 0;
    else if (dummy[0] && (!need_dummy || dummy_made))
        (void)(crypto_pwhash_str_verify(dummy, password, strlen(password)) == 0);
    char rehashed[crypto_pwhash_STRBYTES] = "";
    if (ok && auth_needs_rehash(stored, &cost) &&
        auth_hash_password(&cost, password, rehashed) != 0)
        rehashed[0] = '\0'; /* keep the old hash; try again next login */

    pthread_mutex_lock(&auth->lock);
    auth->password_checks++;
    if (dummy_made && auth->opslimit == cost.opslimit && auth->memlimit == cost.memlimit) {
        memcpy(auth->dummy_hash, dummy, sizeof dummy);
        auth->dummy_opslimit = cost.opslimit;
        auth->dummy_memlimit = cost.memlimit;
    }
    if (!ok) {
        sodium_memzero(stored, sizeof stored);
        return refuse(auth, tu, ta, role > 0, who, target, from, now_ms, why, why_len);
    }
    /* The throttle forgets the user's failures; the slots may be reused
     * once released, so nothing of them is touched after this. */
    auth_throttle_release(tu, true, now_ms);
    auth_throttle_release(ta, false, now_ms);
    pthread_mutex_unlock(&auth->lock);

    struct login_write login = {.username = username,
                                .stored = stored,
                                .rehashed = rehashed,
                                .from = from,
                                .now_ms = now_ms,
                                .token = token_out};
    enum wg_login_result result = WG_LOGIN_OK;
    if (auth_write(auth, "log in", login_work, &login, why, why_len) < 0) {
        result = WG_LOGIN_ERROR;
    } else if (login.role == 0) {
        auth_say(why, why_len, "wrong user name or password");
        result = WG_LOGIN_BAD;
    } else {
        pthread_mutex_lock(&auth->lock);
        if (login.trimmed)
            auth_cache_drop_user(auth, username); /* reloaded from the database when used */
        auth_session_cache(auth, login.key, token_out, username, (enum wg_role)login.role, now_ms,
                           session);
        pthread_mutex_unlock(&auth->lock);
    }
    if (result != WG_LOGIN_OK)
        sodium_memzero(token_out, WG_AUTH_TOKEN_LEN + 1);
    sodium_memzero(stored, sizeof stored);
    sodium_memzero(rehashed, sizeof rehashed);
    sodium_memzero(login.key, sizeof login.key);
    if (result == WG_LOGIN_OK)
        wg_info("auth: %s (%s) logged in from %s", username, role_name(login.role), from);
    return result;
}
