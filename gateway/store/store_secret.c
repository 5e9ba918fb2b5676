/* The site's secrets (migration 9): random keys made once, on the first
 * start that needs them, and kept in the database with everything else, so
 * that a backup restores them too. The rooms' QR check-in codes are keyed
 * with one (core_rounds.c). */
#include "store/store_internal.h"

#include <sodium.h>
#include <string.h>

int store_secret(struct wg_store *store, const char *name, unsigned char *out, size_t len)
{
    store->status = WG_STORE_OK;
    if (len < 16 || len > 64)
        return store_fail(store, WG_STORE_IO, "database %s: a secret of %zu bytes asked for",
                          store->path, len);
    sqlite3_stmt *stmt = NULL;
    int rc =
        sqlite3_prepare_v2(store->db, "SELECT value FROM secrets WHERE name = ?", -1, &stmt, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_text(stmt, 1, name, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(stmt);
    bool found = rc == SQLITE_ROW && (size_t)sqlite3_column_bytes(stmt, 0) == len;
    if (found)
        memcpy(out, sqlite3_column_blob(stmt, 0), len);
    sqlite3_finalize(stmt);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return store_fail_sqlite(store, rc, "reading a site secret");
    if (found)
        return 0;
    randombytes_buf(out, len);
    rc = sqlite3_prepare_v2(store->db, "INSERT OR REPLACE INTO secrets (name, value) VALUES (?, ?)",
                            -1, &stmt, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_text(stmt, 1, name, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_blob(stmt, 2, out, (int)len, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(stmt);
    sqlite3_finalize(stmt);
    if (rc != SQLITE_DONE) {
        sodium_memzero(out, len);
        return store_fail_sqlite(store, rc, "keeping a new site secret");
    }
    return 0;
}
