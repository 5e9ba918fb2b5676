/* Opening and closing the store: checks on the path and the file
 * (quick_check, application id), the connection's settings (WAL,
 * synchronous=FULL, the size limit), the migrations, and the read-only
 * connection for readers on other threads. */
#include "store/store_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "store/migrations.h"

int store_schema_version(struct wg_store *store)
{
    return (int)store_read_int64(store, ST_SCHEMA_VERSION, "reading the schema version");
}

int64_t store_size_bytes(struct wg_store *store)
{
    store->status = WG_STORE_OK;
    int64_t pages = store_pragma_pages(store, ST_PAGE_COUNT);
    if (pages < 0)
        return store_fail(store, WG_STORE_IO, "database %s: cannot read its page count: %s",
                          store->path, sqlite3_errmsg(store->db));
    return pages * store->page_size;
}

void store_trust_json(struct wg_store *store, bool trusted)
{
    store->trusted_json = trusted;
}

const char *store_path(const struct wg_store *store)
{
    return store->path;
}

const char *store_last_error(const struct wg_store *store)
{
    return store->error;
}

enum wg_store_status store_last_status(const struct wg_store *store)
{
    return store->status;
}

static void finalize_all(struct wg_store *store)
{
    for (int i = 0; i < ST_COUNT; i++) {
        sqlite3_finalize(store->stmts[i]);
        store->stmts[i] = NULL;
    }
}

void store_free_store(struct wg_store *store)
{
    finalize_all(store);
    if (store->db) {
        int rc = sqlite3_close(store->db);
        if (rc != SQLITE_OK)
            wg_err("database %s: close failed: %s", store->path, sqlite3_errstr(rc));
    }
    free(store->path);
    free(store);
}

void store_close(struct wg_store *store)
{
    if (!store)
        return;
    if (store->db && !sqlite3_get_autocommit(store->db)) {
        wg_warn("database %s: closed inside a batch; rolling it back", store->path);
        store_run_quietly(store, ST_ROLLBACK);
    }
    store_free_store(store);
}

/* Checks the directory and file are usable before SQLite tries, so the
 * message says what is wrong in words. */
static int check_path(struct wg_store *store)
{
    char *copy = strdup(store->path);
    if (!copy)
        return store_fail(store, WG_STORE_IO, "database %s: out of memory", store->path);
    const char *dir = dirname(copy);
    struct stat st;
    int result = 0;
    if (stat(dir, &st) < 0)
        result = store_fail(store, WG_STORE_IO, "database %s: directory %s: %s", store->path, dir,
                            strerror(errno));
    else if (!S_ISDIR(st.st_mode))
        result =
            store_fail(store, WG_STORE_IO, "database %s: %s is not a directory", store->path, dir);
    else if (access(dir, W_OK | X_OK) < 0)
        result = store_fail(store, WG_STORE_IO,
                            "database %s: directory %s is not writable (%s); the database and its "
                            "-wal and -shm files need to be created there",
                            store->path, dir, strerror(errno));
    else if (stat(store->path, &st) == 0 && S_ISDIR(st.st_mode))
        result = store_fail(store, WG_STORE_IO, "database %s is a directory", store->path);
    else if (stat(store->path, &st) == 0 && access(store->path, R_OK | W_OK) < 0)
        result = store_fail(store, WG_STORE_IO, "database %s cannot be opened for writing: %s",
                            store->path, strerror(errno));
    free(copy);
    return result;
}

/* PRAGMA quick_check before anything writes: a corrupt file is left as is. */
static int check_integrity(struct wg_store *store)
{
    sqlite3_stmt *stmt = NULL;
    int rc = sqlite3_prepare_v2(store->db, "PRAGMA quick_check(3)", -1, &stmt, NULL);
    if (rc != SQLITE_OK) {
        sqlite3_finalize(stmt);
        return store_fail_sqlite(store, rc, "checking it with quick_check");
    }
    char findings[400] = "";
    size_t used = 0;
    bool ok = false;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        const char *line = store_column_text(stmt, 0);
        if (line && strcmp(line, "ok") == 0) {
            ok = true;
            continue;
        }
        if (used < sizeof findings)
            used += (size_t)snprintf(findings + used, sizeof findings - used, "%s%s",
                                     used ? "; " : "", line ? line : "?");
    }
    if (rc != SQLITE_DONE) {
        store_fail_sqlite(store, rc, "checking it with quick_check");
        sqlite3_finalize(stmt);
        return -1;
    }
    sqlite3_finalize(stmt);
    for (char *c = findings; *c; c++)
        if (*c == '\n')
            *c = ' '; /* one log line */
    if (!ok || findings[0])
        return store_fail(
            store, WG_STORE_CORRUPT,
            "database %s is corrupt: quick_check found: %s; the file was not modified", store->path,
            findings[0] ? findings : "no result");
    return 0;
}

/* Runs a PRAGMA and returns its first column as text in out (may be empty). */
int store_pragma(struct wg_store *store, const char *sql, char *out, size_t out_len)
{
    sqlite3_stmt *stmt = NULL;
    int rc = sqlite3_prepare_v2(store->db, sql, -1, &stmt, NULL);
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(stmt);
        if (out_len)
            out[0] = '\0';
        if (rc == SQLITE_ROW && out_len)
            snprintf(out, out_len, "%s",
                     store_column_text(stmt, 0) ? store_column_text(stmt, 0) : "");
        if (rc == SQLITE_ROW || rc == SQLITE_DONE)
            rc = SQLITE_OK;
    }
    if (rc != SQLITE_OK) {
        char doing[120];
        snprintf(doing, sizeof doing, "running %s", sql);
        store_fail_sqlite(store, rc, doing);
    }
    sqlite3_finalize(stmt);
    return rc == SQLITE_OK ? 0 : -1;
}

static int on_wal_commit(void *ctx, sqlite3 *db, const char *name, int frames)
{
    struct wg_store *store = ctx;
    store->wal_frames = frames;
    if (store->auto_checkpoint_frames > 0 && frames >= store->auto_checkpoint_frames)
        sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
    return SQLITE_OK;
}

static int configure_connection(struct wg_store *store)
{
    char value[64];
    if (store_pragma(store, "PRAGMA page_size = 4096", NULL, 0) < 0 ||
        store_pragma(store, "PRAGMA journal_mode = WAL", value, sizeof value) < 0)
        return -1;
    if (strcmp(value, "wal") != 0)
        return store_fail(store, WG_STORE_IO, "database %s: cannot switch to WAL mode (mode is %s)",
                          store->path, value);
    /* The WAL is part of the bound: truncated back to its share after a
     * checkpoint, and checkpointed when half of it is used. */
    char sql[80];
    snprintf(sql, sizeof sql, "PRAGMA journal_size_limit = %lld",
             (long long)store->wal_budget_bytes);
    if (store_pragma(store, "PRAGMA synchronous = FULL", NULL, 0) < 0 ||
        store_pragma(store, "PRAGMA cache_size = -1024", NULL, 0) < 0 ||
        store_pragma(store, "PRAGMA foreign_keys = ON", NULL, 0) < 0 ||
        store_pragma(store, sql, NULL, 0) < 0)
        return -1;
    /* Our own WAL hook (it replaces wal_autocheckpoint): it counts what each
     * commit left in the WAL, so the writer can keep the WAL in its share. */
    store->auto_checkpoint_frames = store->wal_budget_bytes / 4096 / 4;
    sqlite3_wal_hook(store->db, on_wal_commit, store);
    if (store_pragma(store, "PRAGMA foreign_keys", value, sizeof value) < 0)
        return -1;
    if (strcmp(value, "1") != 0)
        return store_fail(store, WG_STORE_IO, "database %s: SQLite refused foreign_keys=ON",
                          store->path);
    return 0;
}

/* Refuses a SQLite file of another application. */
static int check_application(struct wg_store *store)
{
    char value[32], tables[32];
    if (store_pragma(store, "PRAGMA application_id", value, sizeof value) < 0)
        return -1;
    long long id = atoll(value);
    if (id == WG_STORE_APPLICATION_ID)
        return 0;
    if (id != 0)
        return store_fail(store, WG_STORE_IO,
                          "database %s belongs to another application (application_id %lld); "
                          "not touching it",
                          store->path, id);
    if (store_pragma(store, "SELECT count(*) FROM sqlite_schema", tables, sizeof tables) < 0)
        return -1;
    if (atoll(tables) != 0)
        return store_fail(
            store, WG_STORE_IO,
            "database %s holds tables but is not a wardgate database; not touching it",
            store->path);
    return 0;
}

static int current_version(struct wg_store *store, int *version)
{
    char value[32];
    if (store_pragma(
            store,
            "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = 'migrations'",
            value, sizeof value) < 0)
        return -1;
    if (atoi(value) == 0) {
        *version = 0;
        return 0;
    }
    if (store_pragma(store, "SELECT coalesce(max(version), 0) FROM migrations", value,
                     sizeof value) < 0)
        return -1;
    *version = atoi(value);
    return 0;
}

static int apply_migration(struct wg_store *store, const struct wg_migration *migration)
{
    char doing[160];
    snprintf(doing, sizeof doing, "applying migration %d (%s)", migration->version,
             migration->name);
    if (store_run(store, ST_BEGIN, doing) < 0)
        return -1;
    char *exec_error = NULL;
    int rc = sqlite3_exec(store->db, migration->sql, NULL, NULL, &exec_error);
    sqlite3_free(exec_error);
    if (rc == SQLITE_OK && migration->after)
        rc = migration->after(store->db);
    if (rc == SQLITE_OK) {
        sqlite3_stmt *record = NULL;
        rc = sqlite3_prepare_v2(store->db,
                                "INSERT INTO migrations (version, name, applied_ms) "
                                "VALUES (?, ?, ?)",
                                -1, &record, NULL);
        if (rc == SQLITE_OK)
            rc = sqlite3_bind_int(record, 1, migration->version);
        if (rc == SQLITE_OK)
            rc = store_bind_text(record, 2, migration->name);
        if (rc == SQLITE_OK)
            rc = sqlite3_bind_int64(record, 3, store_wall_clock_ms());
        if (rc == SQLITE_OK && (rc = sqlite3_step(record)) == SQLITE_DONE)
            rc = SQLITE_OK;
        if (rc != SQLITE_OK)
            store_fail_sqlite(store, rc, doing);
        sqlite3_finalize(record);
    } else {
        store_fail_sqlite(store, rc, doing);
    }
    if (rc == SQLITE_OK && store_run(store, ST_COMMIT, doing) == 0) {
        wg_info("database %s: applied migration %d (%s)", store->path, migration->version,
                migration->name);
        return 0;
    }
    if (!sqlite3_get_autocommit(store->db))
        store_run_quietly(store, ST_ROLLBACK);
    return -1;
}

static int migrate(struct wg_store *store)
{
    size_t known = 0;
    const struct wg_migration *migrations = migrations_list(&known);
    int version = 0;
    if (current_version(store, &version) < 0)
        return -1;
    if (version > (int)known)
        return store_fail(
            store, WG_STORE_IO,
            "database %s has schema version %d but this wardgated knows only up to %d; "
            "refusing to open it (a newer version wrote it; it is never downgraded)",
            store->path, version, (int)known);
    for (size_t i = 0; i < known; i++)
        if (migrations[i].version > version && apply_migration(store, &migrations[i]) < 0)
            return -1;
    return 0;
}

static int apply_size_limit(struct wg_store *store)
{
    char value[32];
    if (store_pragma(store, "PRAGMA page_size", value, sizeof value) < 0)
        return -1;
    store->page_size = atoll(value);
    if (store->page_size <= 0)
        return store_fail(store, WG_STORE_IO, "database %s: bad page size %s", store->path, value);
    if (store->max_bytes <= 0)
        return 0;
    int64_t wanted = (store->max_bytes - store->wal_budget_bytes) / store->page_size;
    char sql[64];
    snprintf(sql, sizeof sql, "PRAGMA max_page_count = %" PRId64, wanted);
    if (store_pragma(store, sql, value, sizeof value) < 0)
        return -1;
    store->max_pages = atoll(value);
    if (store->max_pages > wanted)
        wg_warn("database %s: already %" PRId64 " bytes, above its share of storage.max_mb "
                "(%lld bytes with the WAL); it will not grow further, and rows are evicted "
                "until it is within it (the file itself shrinks only with VACUUM)",
                store->path, store->max_pages * store->page_size, store->max_bytes);
    return 0;
}

static int open_database(struct wg_store *store)
{
    if (check_path(store) < 0)
        return -1;
    int rc =
        sqlite3_open_v2(store->path, &store->db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK)
        return store_fail_sqlite(store, rc, "opening it");
    /* Until the checks pass, closing must not checkpoint a WAL into the file. */
    rc = sqlite3_db_config(store->db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_extended_result_codes(store->db, 1);
    if (rc != SQLITE_OK)
        return store_fail_sqlite(store, rc, "configuring the connection");
    rc = sqlite3_busy_timeout(store->db, store->busy_timeout_ms);
    if (rc != SQLITE_OK)
        return store_fail_sqlite(store, rc, "setting the busy timeout");
    if (check_integrity(store) < 0 || check_application(store) < 0 ||
        configure_connection(store) < 0 || migrate(store) < 0 || apply_size_limit(store) < 0)
        return -1;
    rc = sqlite3_db_config(store->db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 0, NULL);
    if (rc != SQLITE_OK)
        wg_warn("database %s: cannot re-enable the checkpoint on close: %s", store->path,
                sqlite3_errstr(rc));
    return 0;
}

struct wg_store *store_open(const struct wg_store_options *options, enum wg_store_status *status,
                            char *err, size_t err_len)
{
    enum wg_store_status ignored_status;
    if (!status)
        status = &ignored_status;
    if (!options || !options->path || !options->path[0]) {
        *status = WG_STORE_IO;
        if (err && err_len)
            snprintf(err, err_len, "database: no path given");
        return NULL;
    }
    struct wg_store *store = calloc(1, sizeof *store);
    char *path = strdup(options->path);
    if (!store || !path) {
        free(store);
        free(path);
        *status = WG_STORE_IO;
        if (err && err_len)
            snprintf(err, err_len, "database %s: out of memory", options->path);
        return NULL;
    }
    store->path = path;
    store->busy_timeout_ms =
        options->busy_timeout_ms > 0 ? options->busy_timeout_ms : DEFAULT_BUSY_TIMEOUT_MS;
    store->bucket_ms = 1000LL * (options->readings_bucket_s > 0 ? options->readings_bucket_s
                                                                : DEFAULT_READINGS_BUCKET_S);
    store->readings_retention_ms =
        MS_PER_DAY * (options->readings_retention_days > 0 ? options->readings_retention_days
                                                           : DEFAULT_READINGS_RETENTION);
    store->events_retention_ms =
        MS_PER_DAY * (options->events_retention_days > 0 ? options->events_retention_days
                                                         : DEFAULT_EVENTS_RETENTION);
    store->max_bytes = options->max_bytes > 0 ? options->max_bytes : 0;
    store->wal_budget_bytes = WAL_SIZE_LIMIT_BYTES;
    if (store->max_bytes > 0) {
        /* An eighth of the bound, within 256 KiB-32 MiB, at most a quarter. */
        store->wal_budget_bytes = store->max_bytes / 8;
        if (store->wal_budget_bytes < WAL_MIN_BYTES)
            store->wal_budget_bytes = WAL_MIN_BYTES;
        if (store->wal_budget_bytes > WAL_MAX_BYTES)
            store->wal_budget_bytes = WAL_MAX_BYTES;
        if (store->wal_budget_bytes > store->max_bytes / 4)
            store->wal_budget_bytes = store->max_bytes / 4;
    }

    if (open_database(store) < 0) {
        *status = store->status;
        if (err && err_len)
            snprintf(err, err_len, "%s", store->error);
        store_free_store(store);
        return NULL;
    }
    *status = WG_STORE_OK;
    if (err && err_len)
        err[0] = '\0';
    return store;
}

struct wg_store *store_open_read_only(const char *path, int busy_timeout_ms, char *err,
                                      size_t err_len)
{
    struct wg_store *store = calloc(1, sizeof *store);
    char *copy = path ? strdup(path) : NULL;
    if (!store || !copy) {
        free(store);
        free(copy);
        if (err && err_len)
            snprintf(err, err_len, "database %s: out of memory", path ? path : "");
        return NULL;
    }
    store->path = copy;
    store->read_only = true;
    store->busy_timeout_ms = busy_timeout_ms > 0 ? busy_timeout_ms : DEFAULT_BUSY_TIMEOUT_MS;
    store->page_size = 4096;
    store->bucket_ms = 1000LL * DEFAULT_READINGS_BUCKET_S;
    int rc = sqlite3_open_v2(path, &store->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_extended_result_codes(store->db, 1);
    if (rc == SQLITE_OK)
        rc = sqlite3_busy_timeout(store->db, store->busy_timeout_ms);
    char value[32];
    if (rc != SQLITE_OK) {
        store_fail_sqlite(store, rc, "opening it to read");
    } else if (store_pragma(store, "PRAGMA cache_size = -256", NULL, 0) == 0 &&
               store_pragma(store, "PRAGMA page_size", value, sizeof value) == 0) {
        store->page_size = atoll(value) > 0 ? atoll(value) : 4096;
        if (err && err_len)
            err[0] = '\0';
        return store;
    }
    if (err && err_len)
        snprintf(err, err_len, "%s", store->error);
    store_free_store(store);
    return NULL;
}

struct sqlite3 *store_connection(struct wg_store *store)
{
    return store->db;
}
