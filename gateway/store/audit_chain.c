/* The audit log's hash chain: the hash of a row, the walk that checks the
 * chain (wardgated --verify-audit), and the chaining of the rows a database
 * held before migration 8; see audit_chain.h. */
#include "store/audit_chain.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <sodium.h>
#include <sqlite3.h>

#include "store/migrations.h"

#define AUDIT_CHAIN_SCHEMA 8 /* the migration that made the chain */

static void hash_int(crypto_hash_sha256_state *state, int64_t value)
{
    uint8_t bytes[8];
    uint64_t bits = (uint64_t)value;
    for (int i = 0; i < 8; i++)
        bytes[i] = (uint8_t)(bits >> (8 * i));
    crypto_hash_sha256_update(state, bytes, sizeof bytes);
}

/* A presence byte, then the length and the bytes: NULL and "" differ, and
 * no two splits of the same bytes into fields hash alike. */
static void hash_text(crypto_hash_sha256_state *state, const char *text)
{
    uint8_t present = text != NULL;
    crypto_hash_sha256_update(state, &present, 1);
    size_t len = text ? strlen(text) : 0;
    hash_int(state, (int64_t)len);
    if (len)
        crypto_hash_sha256_update(state, (const unsigned char *)text, len);
}

void audit_chain_hash(const uint8_t previous[WG_AUDIT_HASH_BYTES], const struct wg_audit_row *row,
                      uint8_t out[WG_AUDIT_HASH_BYTES])
{
    crypto_hash_sha256_state state;
    crypto_hash_sha256_init(&state);
    crypto_hash_sha256_update(&state, previous, WG_AUDIT_HASH_BYTES);
    hash_int(&state, row->seq);
    hash_int(&state, row->ts_ms);
    hash_text(&state, row->actor);
    hash_text(&state, row->origin);
    hash_text(&state, row->action);
    hash_text(&state, row->target);
    hash_text(&state, row->detail);
    crypto_hash_sha256_final(&state, out);
}

int audit_chain_append(sqlite3 *db, struct wg_audit_row *row)
{
    sqlite3_stmt *head = NULL, *insert = NULL;
    /* The head: the newest row, else the anchor (all rows evicted, or none yet). */
    int rc = sqlite3_prepare_v2(db,
                                "SELECT seq, hash FROM (SELECT seq, hash FROM audit ORDER BY "
                                "seq DESC LIMIT 1) UNION ALL SELECT seq, hash FROM audit_anchor "
                                "ORDER BY seq DESC LIMIT 1",
                                -1, &head, NULL);
    uint8_t previous[WG_AUDIT_HASH_BYTES] = {0}, hash[WG_AUDIT_HASH_BYTES];
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(head);
        if (rc == SQLITE_ROW) {
            row->seq = sqlite3_column_int64(head, 0) + 1; /* never a seq used before */
            if (sqlite3_column_bytes(head, 1) == WG_AUDIT_HASH_BYTES)
                memcpy(previous, sqlite3_column_blob(head, 1), sizeof previous);
            rc = SQLITE_OK;
        } else if (rc == SQLITE_DONE) {
            rc = SQLITE_CORRUPT; /* no anchor: the chain was tampered with */
        }
    }
    sqlite3_finalize(head);
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v2(db,
                                "INSERT INTO audit (seq, ts_ms, actor, origin, action, target, "
                                "detail, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                                -1, &insert, NULL);
    if (rc == SQLITE_OK) {
        audit_chain_hash(previous, row, hash);
        const char *texts[5] = {row->actor, row->origin, row->action, row->target, row->detail};
        rc = sqlite3_bind_int64(insert, 1, row->seq);
        if (rc == SQLITE_OK)
            rc = sqlite3_bind_int64(insert, 2, row->ts_ms);
        for (int i = 0; i < 5 && rc == SQLITE_OK; i++)
            rc = sqlite3_bind_text(insert, 3 + i, texts[i], -1, SQLITE_STATIC);
        if (rc == SQLITE_OK)
            rc = sqlite3_bind_blob(insert, 8, hash, sizeof hash, SQLITE_STATIC);
        if (rc == SQLITE_OK && (rc = sqlite3_step(insert)) == SQLITE_DONE)
            rc = SQLITE_OK;
    }
    sqlite3_finalize(insert);
    return rc;
}

static const char *column_text(sqlite3_stmt *stmt, int column)
{
    return (const char *)sqlite3_column_text(stmt, column);
}

static void row_from(sqlite3_stmt *stmt, struct wg_audit_row *row)
{
    *row = (struct wg_audit_row){.seq = sqlite3_column_int64(stmt, 0),
                                 .ts_ms = sqlite3_column_int64(stmt, 1),
                                 .actor = column_text(stmt, 2),
                                 .origin = column_text(stmt, 3),
                                 .action = column_text(stmt, 4),
                                 .target = column_text(stmt, 5),
                                 .detail = column_text(stmt, 6)};
}

#define AUDIT_ROW_COLUMNS "seq, ts_ms, actor, origin, action, target, detail, hash"

/* Migration 8's second half, in its transaction: the rows already there are
 * chained in seq order from a zero anchor just below the first of them (the
 * rows the size bound evicted before the chain existed are not covered). */
int audit_chain_existing_rows(sqlite3 *db)
{
    sqlite3_stmt *rows = NULL, *update = NULL, *anchor = NULL;
    int rc = sqlite3_prepare_v2(db, "SELECT " AUDIT_ROW_COLUMNS " FROM audit ORDER BY seq", -1,
                                &rows, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v2(db, "UPDATE audit SET hash = ?1 WHERE seq = ?2", -1, &update, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v2(db,
                                "UPDATE audit_anchor SET seq = coalesce((SELECT min(seq) - 1 "
                                "FROM audit), 0)",
                                -1, &anchor, NULL);
    if (rc == SQLITE_OK && (rc = sqlite3_step(anchor)) == SQLITE_DONE)
        rc = SQLITE_OK;
    uint8_t previous[WG_AUDIT_HASH_BYTES] = {0};
    while (rc == SQLITE_OK && (rc = sqlite3_step(rows)) == SQLITE_ROW) {
        struct wg_audit_row row;
        row_from(rows, &row);
        audit_chain_hash(previous, &row, previous);
        rc = sqlite3_bind_blob(update, 1, previous, WG_AUDIT_HASH_BYTES, SQLITE_TRANSIENT);
        if (rc == SQLITE_OK)
            rc = sqlite3_bind_int64(update, 2, row.seq);
        if (rc == SQLITE_OK && (rc = sqlite3_step(update)) == SQLITE_DONE)
            rc = sqlite3_reset(update);
    }
    if (rc == SQLITE_DONE)
        rc = SQLITE_OK;
    sqlite3_finalize(rows);
    sqlite3_finalize(update);
    sqlite3_finalize(anchor);
    return rc;
}

static void format_time(int64_t ts_ms, char *text, size_t len)
{
    time_t seconds = (time_t)(ts_ms / 1000);
    struct tm local;
    if (!localtime_r(&seconds, &local) || !strftime(text, len, "%Y-%m-%d %H:%M:%S", &local))
        snprintf(text, len, "%lld ms", (long long)ts_ms);
}

/* Names `row` in verdict->why: where the chain breaks (its reason follows). */
static void name_broken_row(struct wg_audit_verdict *verdict, const struct wg_audit_row *row)
{
    char when[40];
    format_time(row->ts_ms, when, sizeof when);
    snprintf(verdict->why, sizeof verdict->why,
             "audit row %lld (%s: %s%s%s by %s) does not match the chain: ", (long long)row->seq,
             when, row->action ? row->action : "?", row->target ? " " : "",
             row->target ? row->target : "", row->actor ? row->actor : "?");
    verdict->broken_seq = row->seq;
}

/* Reads the anchor into previous / *previous_seq; names a missing one. */
static int read_anchor(sqlite3 *db, struct wg_audit_verdict *verdict,
                       uint8_t previous[WG_AUDIT_HASH_BYTES], int64_t *previous_seq)
{
    sqlite3_stmt *anchor = NULL;
    int rc = sqlite3_prepare_v2(db, "SELECT seq, hash FROM audit_anchor", -1, &anchor, NULL);
    if (rc == SQLITE_OK && (rc = sqlite3_step(anchor)) == SQLITE_ROW) {
        *previous_seq = verdict->anchor_seq = sqlite3_column_int64(anchor, 0);
        if (sqlite3_column_bytes(anchor, 1) == WG_AUDIT_HASH_BYTES)
            memcpy(previous, sqlite3_column_blob(anchor, 1), WG_AUDIT_HASH_BYTES);
        rc = SQLITE_OK;
    } else if (rc == SQLITE_DONE) {
        snprintf(verdict->why, sizeof verdict->why,
                 "the chain's anchor (table audit_anchor) was deleted");
        verdict->broken_seq = -1;
        rc = SQLITE_OK;
    }
    sqlite3_finalize(anchor);
    return rc;
}

/* Walks the rows in seq order from the anchor; stops at the first row whose
 * recomputed hash differs from the one stored, and says why: rows missing
 * before it (the seq jumps), its content changed (the next row still chains
 * from its stored hash), or it or its link changed. */
static int walk(sqlite3 *db, struct wg_audit_verdict *verdict, char *err, size_t err_len)
{
    uint8_t previous[WG_AUDIT_HASH_BYTES] = {0};
    int64_t previous_seq = 0;
    sqlite3_stmt *rows = NULL;
    int rc = read_anchor(db, verdict, previous, &previous_seq);
    if (rc == SQLITE_OK && verdict->broken_seq == 0)
        rc = sqlite3_prepare_v2(db, "SELECT " AUDIT_ROW_COLUMNS " FROM audit ORDER BY seq", -1,
                                &rows, NULL);
    while (rc == SQLITE_OK && verdict->broken_seq == 0 && (rc = sqlite3_step(rows)) == SQLITE_ROW) {
        rc = SQLITE_OK;
        struct wg_audit_row row;
        row_from(rows, &row);
        uint8_t expected[WG_AUDIT_HASH_BYTES], stored[WG_AUDIT_HASH_BYTES] = {0};
        if (sqlite3_column_bytes(rows, 7) == WG_AUDIT_HASH_BYTES)
            memcpy(stored, sqlite3_column_blob(rows, 7), sizeof stored);
        audit_chain_hash(previous, &row, expected);
        if (memcmp(expected, stored, sizeof expected) == 0) {
            memcpy(previous, expected, sizeof previous);
            previous_seq = row.seq;
            if (verdict->rows++ == 0) {
                verdict->first_seq = row.seq;
                verdict->first_ts_ms = row.ts_ms;
            }
            verdict->last_seq = row.seq;
            verdict->last_ts_ms = row.ts_ms;
            continue;
        }
        name_broken_row(verdict, &row); /* before the next step takes the row's text */
        const char *why = "it, or its link to the row before it, was changed";
        if (row.seq != previous_seq + 1) {
            why = "rows before it are missing (seq jumps)";
        } else if ((rc = sqlite3_step(rows)) == SQLITE_ROW) {
            rc = SQLITE_OK;
            struct wg_audit_row next;
            row_from(rows, &next);
            audit_chain_hash(stored, &next, expected);
            if (sqlite3_column_bytes(rows, 7) == WG_AUDIT_HASH_BYTES &&
                memcmp(expected, sqlite3_column_blob(rows, 7), sizeof expected) == 0)
                why = "its content was changed after it was written";
        }
        size_t used = strlen(verdict->why);
        snprintf(verdict->why + used, sizeof verdict->why - used, "%s", why);
    }
    if (rc == SQLITE_DONE)
        rc = SQLITE_OK;
    if (rc != SQLITE_OK)
        snprintf(err, err_len, "reading the audit log: %s", sqlite3_errmsg(db));
    sqlite3_finalize(rows);
    return rc == SQLITE_OK ? 0 : -1;
}

int audit_chain_verify(const char *path, struct wg_audit_verdict *verdict, char *err,
                       size_t err_len)
{
    *verdict = (struct wg_audit_verdict){0};
    struct stat st;
    if (!path || stat(path, &st) < 0) {
        snprintf(err, err_len, "database %s: %s", path ? path : "(none)",
                 path ? strerror(errno) : "no path given");
        return -1;
    }
    sqlite3 *db = NULL;
    int rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_busy_timeout(db, 5000);
    if (rc != SQLITE_OK) {
        snprintf(err, err_len, "database %s: cannot open it: %s", path,
                 db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
        sqlite3_close(db);
        return -1;
    }
    sqlite3_stmt *stmt = NULL;
    int64_t application = 0, version = 0;
    rc = sqlite3_prepare_v2(db, "PRAGMA application_id", -1, &stmt, NULL);
    if (rc == SQLITE_OK && sqlite3_step(stmt) == SQLITE_ROW)
        application = sqlite3_column_int64(stmt, 0);
    sqlite3_finalize(stmt);
    stmt = NULL;
    if (rc == SQLITE_OK && application == WG_STORE_APPLICATION_ID &&
        sqlite3_prepare_v2(db, "SELECT max(version) FROM migrations", -1, &stmt, NULL) ==
            SQLITE_OK &&
        sqlite3_step(stmt) == SQLITE_ROW)
        version = sqlite3_column_int64(stmt, 0);
    sqlite3_finalize(stmt);
    int result = -1;
    if (rc != SQLITE_OK)
        snprintf(err, err_len, "database %s: cannot read it: %s", path, sqlite3_errmsg(db));
    else if (application != WG_STORE_APPLICATION_ID)
        snprintf(err, err_len, "%s is not a wardgate database", path);
    else if (version < AUDIT_CHAIN_SCHEMA)
        snprintf(err, err_len,
                 "database %s is at schema %lld, from before the audit chain (schema %d): start "
                 "this wardgated on it once to migrate it",
                 path, (long long)version, AUDIT_CHAIN_SCHEMA);
    else if (walk(db, verdict, err, err_len) == 0)
        result = 0;
    sqlite3_close(db);
    return result;
}

int audit_chain_verify_main(const char *path, FILE *out)
{
    struct wg_audit_verdict verdict;
    char err[512];
    if (audit_chain_verify(path, &verdict, err, sizeof err) < 0) {
        fprintf(stderr, "wardgated: %s; the audit log was not checked\n", err);
        return 1;
    }
    if (verdict.broken_seq != 0) {
        fprintf(out, "audit chain BROKEN in %s: %s\n", path, verdict.why);
        if (verdict.rows)
            fprintf(out, "(%lld rows before it, seq %lld to %lld, are intact)\n",
                    (long long)verdict.rows, (long long)verdict.first_seq,
                    (long long)verdict.last_seq);
        return 1;
    }
    if (verdict.rows == 0) {
        fprintf(out, "audit chain intact in %s: no audit rows%s\n", path,
                verdict.anchor_seq ? " left (the size bound evicted them all)" : " yet");
        return 0;
    }
    char first[40], last[40];
    format_time(verdict.first_ts_ms, first, sizeof first);
    format_time(verdict.last_ts_ms, last, sizeof last);
    fprintf(out, "audit chain intact in %s: %lld rows, seq %lld (%s) to %lld (%s)", path,
            (long long)verdict.rows, (long long)verdict.first_seq, first,
            (long long)verdict.last_seq, last);
    if (verdict.anchor_seq > 0)
        fprintf(out,
                "; the %lld rows before were evicted by the size bound or came before the "
                "chain",
                (long long)verdict.anchor_seq);
    fprintf(out, "\n");
    return fflush(out) == 0 ? 0 : 1;
}
