/* The auth module's life (auth.h): opening it on the store writer's calls
 * and a read-only connection of its own, closing it, the role names, the
 * counters for /metrics and the hash cost tests set. The rest is in the
 * files auth_internal.h lists. See docs/api.md and docs/storage.md. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "auth/auth_internal.h"
#include "common/log.h"
#include "store/migrations.h"
#include "store/store_read.h"

#define CLOSE_FLUSH_MS 2000 /* posted writes (logouts, audit rows) get this long at close */

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

/* The database is the store's, migrated far enough for users. */
static int check_schema(struct wg_auth *auth, const char *db_path, char *err, size_t err_len)
{
    struct auth_sql sql = auth_reader(auth);
    int64_t app_id =
        auth_sql_count(&sql, "reading the application id", "PRAGMA application_id", NULL);
    int64_t version = -1;
    if (app_id == WG_STORE_APPLICATION_ID)
        version = auth_sql_count(&sql, "reading the schema version",
                                 "SELECT coalesce(max(version), 0) FROM migrations", NULL);
    if (app_id < 0 || (app_id == WG_STORE_APPLICATION_ID && version < 0))
        auth_say(err, err_len, "%s", store_last_error(auth->reader));
    else if (app_id != WG_STORE_APPLICATION_ID)
        auth_say(err, err_len, "database %s is not a wardgate database", db_path);
    else if (version < SCHEMA_NEEDED)
        auth_say(err, err_len,
                 "database %s has schema version %lld; users need %d (the store migrates it)",
                 db_path, (long long)version, SCHEMA_NEEDED);
    else
        return 0;
    return -1;
}

struct wg_auth *auth_open(const char *db_path, struct wg_store_calls *calls, char *err,
                          size_t err_len)
{
    if (sodium_init() < 0) {
        auth_say(err, err_len, "auth: libsodium could not be initialised");
        return NULL;
    }
    if (!db_path || !*db_path) {
        auth_say(err, err_len, "auth: no database path");
        return NULL;
    }
    if (!calls) {
        auth_say(err, err_len, "auth: no store writer to write through");
        return NULL;
    }
    struct stat st;
    if (stat(db_path, &st) < 0) {
        auth_say(err, err_len, "database %s: %s (the store creates it)", db_path, strerror(errno));
        return NULL;
    }
    struct wg_auth *auth = calloc(1, sizeof *auth);
    if (auth)
        auth->throttle = calloc(THROTTLE_SLOTS, sizeof *auth->throttle);
    if (auth && auth->throttle)
        auth->path = strdup(db_path);
    if (!auth || !auth->throttle || !auth->path) {
        auth_say(err, err_len, "auth: out of memory");
        if (auth)
            free(auth->throttle);
        free(auth);
        return NULL;
    }
    auth->calls = calls;
    auth->opslimit = crypto_pwhash_OPSLIMIT_INTERACTIVE;
    auth->memlimit = crypto_pwhash_MEMLIMIT_INTERACTIVE;
    if (pthread_mutex_init(&auth->lock, NULL) != 0) {
        auth_say(err, err_len, "auth: cannot make a mutex");
        free(auth->path);
        free(auth->throttle);
        free(auth);
        return NULL;
    }
    auth->reader = store_open_read_only(db_path, WG_READER_NO_WAIT_MS, err, err_len);
    if (!auth->reader || check_schema(auth, db_path, err, err_len) < 0) {
        auth_close(auth);
        return NULL;
    }
    return auth;
}

void auth_close(struct wg_auth *auth)
{
    if (!auth)
        return;
    /* Logouts and audit rows still waiting: the writer also tries once
     * more at its own stop. */
    if (auth->reader && store_calls_flush(auth->calls, CLOSE_FLUSH_MS) != 0)
        wg_warn("auth: some logouts or audit rows are not written yet (storage is failing); "
                "the store writer tries them once more when it stops");
    store_close(auth->reader);
    pthread_mutex_destroy(&auth->lock);
    sodium_memzero(auth->cache, sizeof auth->cache);
    sodium_memzero(auth->revoked, sizeof auth->revoked);
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
