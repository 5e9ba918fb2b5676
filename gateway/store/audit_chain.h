/* The audit log's hash chain: each audit row carries the SHA-256 of the row
 * before it and of its own fields, so a row changed, removed or slipped in
 * breaks the chain at that row; `wardgated --verify-audit` walks it.
 *
 * hash(n) = SHA-256(hash(n-1) || seq || ts_ms || actor || origin || action
 * || target || detail), integers as 8 bytes little-endian, each text as a
 * presence byte, an 8-byte length and its bytes. The first row's hash(n-1)
 * is the anchor: 32 zero bytes, or, once the size bound has evicted the
 * oldest rows, the hash of the last row it evicted (table audit_anchor,
 * moved in the same transaction as the delete). docs/storage.md says what
 * the chain proves and what it cannot. */
#ifndef WG_AUDIT_CHAIN_H
#define WG_AUDIT_CHAIN_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "store/store_read.h"

#define WG_AUDIT_HASH_BYTES 32

/* hash(n) of `row` (its seq included) after `previous`. */
void audit_chain_hash(const uint8_t previous[WG_AUDIT_HASH_BYTES], const struct wg_audit_row *row,
                      uint8_t out[WG_AUDIT_HASH_BYTES]);

/* What a walk of the chain found. */
struct wg_audit_verdict {
    int64_t rows;                /* rows checked */
    int64_t first_seq, last_seq; /* the rows checked (0 when none) */
    int64_t first_ts_ms, last_ts_ms;
    int64_t anchor_seq; /* the last row evicted by the size bound (0: none) */
    int64_t broken_seq; /* 0: intact; else the first row whose link is broken */
    char why[400];      /* when broken: what is wrong there, in words */
};

/* Walks the chain of the database at `path` on a read-only connection,
 * never changing it. 0: walked (verdict->broken_seq says whether it held);
 * -1: could not (err says why: no such file, not a wardgate database, a
 * schema from before the chain). */
int audit_chain_verify(const char *path, struct wg_audit_verdict *verdict, char *err,
                       size_t err_len);

struct sqlite3;
/* Appends `row` to the chain on `db`, the store's one writer connection,
 * inside the caller's transaction: its seq (set here) follows the head's,
 * its hash chains from the head's. The store's audit rows and the auth
 * module's come through here. Returns an SQLite result code (SQLITE_CORRUPT:
 * the anchor is gone). */
int audit_chain_append(struct sqlite3 *db, struct wg_audit_row *row);

/* Migration 8's step after its SQL (migrations.c), in its transaction: the
 * rows already there are chained. Returns an SQLite result code. */
int audit_chain_existing_rows(struct sqlite3 *db);

/* `wardgated --verify-audit`: prints the verdict; 0 intact, 1 broken or
 * not checked. */
int audit_chain_verify_main(const char *path, FILE *out);

#endif
