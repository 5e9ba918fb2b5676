/* The store's numbered schema migrations (internal to the store: store_open.c applies them).
 *
 * Migration N is applied once, in its own transaction, and recorded in the
 * `migrations` table; versions run 1..count without gaps. A released
 * migration is never edited: a schema change is a new entry at the end. */
#ifndef WG_MIGRATIONS_H
#define WG_MIGRATIONS_H

#include <stddef.h>

struct sqlite3;

/* "WGAT": the SQLite application_id of a wardgate database. */
#define WG_STORE_APPLICATION_ID 0x57474154

struct wg_migration {
    int version;
    const char *name;
    const char *sql; /* one or more statements, run with sqlite3_exec */
    /* NULL, or work SQL cannot do, run after `sql` in the same transaction
     * (an SQLite result code). */
    int (*after)(struct sqlite3 *db);
};

/* The migrations this binary knows, in version order. */
const struct wg_migration *migrations_list(size_t *count);

#endif
