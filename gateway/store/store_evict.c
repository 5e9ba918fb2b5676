/* The size bound: when the database nears storage.max_bytes, the oldest
 * non-alarm rows go first (readings, journal kinds but alarm and the
 * evidence records, with their outbox rows), alarm, evidence and audit rows
 * only when nothing else is left, a chunk at a time so each transaction's
 * WAL keeps within its share. */
#include "store/store_internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "common/log.h"

int64_t store_used_pages(struct wg_store *store)
{
    int64_t pages = store_pragma_pages(store, ST_PAGE_COUNT);
    int64_t free_pages = store_pragma_pages(store, ST_FREELIST_COUNT);
    if (pages < 0 || free_pages < 0)
        return -1;
    return pages - free_pages;
}

static const char *const evict_class_names[WG_EVICT_CLASSES] = {
    [WG_EVICT_READINGS] = "readings",
    [WG_EVICT_TELEMETRY] = "telemetry",
    [WG_EVICT_POINT] = "point changes",
    [WG_EVICT_WRITE_RESULT] = "write results",
    [WG_EVICT_HEALTH] = "health and system",
    [WG_EVICT_EVIDENCE] = "evidence records",
    [WG_EVICT_AUDIT] = "audit",
    [WG_EVICT_ALARM] = "alarm events",
};

bool store_kept_like_alarms(const char *kind)
{
    static const char *const kept[] = {"alarm", "test_mode", "device_test",   "handover",
                                       "drill", "round",     "round_checkin", "monthly_report"};
    for (size_t i = 0; kind && i < sizeof kept / sizeof kept[0]; i++)
        if (strcmp(kind, kept[i]) == 0)
            return true;
    return false;
}

void store_eviction_text(const struct wg_store_eviction *evicted, char *text, size_t text_len)
{
    size_t used = 0;
    if (text_len)
        text[0] = '\0';
    for (int c = 0; c < WG_EVICT_CLASSES && used < text_len; c++)
        if (evicted->rows[c])
            used += (size_t)snprintf(text + used, text_len - used, "%s%" PRId64 " %s",
                                     used ? ", " : "", evicted->rows[c], evict_class_names[c]);
}

static enum wg_evict_class class_of_kind(const char *kind)
{
    if (strcmp(kind, "telemetry") == 0)
        return WG_EVICT_TELEMETRY;
    if (strcmp(kind, "point") == 0)
        return WG_EVICT_POINT;
    if (strcmp(kind, "write_result") == 0)
        return WG_EVICT_WRITE_RESULT;
    if (strcmp(kind, "alarm") == 0)
        return WG_EVICT_ALARM;
    if (store_kept_like_alarms(kind))
        return WG_EVICT_EVIDENCE;
    return WG_EVICT_HEALTH;
}

/* The journal's rows and body bytes per kind (journal_totals, kept by triggers). */
int store_load_kind_totals(struct wg_store *store, struct wg_store_kind_total *kinds,
                           size_t capacity, size_t *count)
{
    *count = 0;
    sqlite3_stmt *stmt = store_prepared(store, ST_JOURNAL_TOTALS);
    if (!stmt)
        return -1;
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        if (*count == capacity)
            continue;
        struct wg_store_kind_total *total = &kinds[(*count)++];
        snprintf(total->kind, sizeof total->kind, "%s",
                 store_column_text(stmt, 0) ? store_column_text(stmt, 0) : "");
        total->rows = sqlite3_column_int64(stmt, 1);
        total->bytes = sqlite3_column_int64(stmt, 2);
    }
    store_done_with(stmt);
    return rc == SQLITE_DONE ? 0 : store_fail_sqlite(store, rc, "reading the journal totals");
}

/* Pages the alarm journal and outbox rows take, estimated from their totals
 * (a b-tree page is about three quarters full). */
int64_t store_alarm_pages_estimate(struct wg_store *store, const struct wg_store_kind_total *kinds,
                                   size_t count, const struct wg_outbox_totals *outbox)
{
    int64_t bytes =
        outbox->bytes[WG_UPLINK_ALARM] + outbox->rows[WG_UPLINK_ALARM] * OUTBOX_ROW_OVERHEAD;
    for (size_t i = 0; i < count; i++)
        if (store_kept_like_alarms(kinds[i].kind))
            bytes += kinds[i].bytes + kinds[i].rows * JOURNAL_ROW_OVERHEAD;
    return bytes * 4 / 3 / store->page_size;
}

/* One place rows may be evicted from, and the time of its oldest row. */
struct evict_source {
    enum { SOURCE_READINGS, SOURCE_KIND, SOURCE_AUDIT, SOURCE_OUTBOX_TELEMETRY } type;
    const char *kind;
    int64_t oldest_ms;
};

/* The time of the oldest row a statement (bound with `kind` when given)
 * finds; 0 when it finds none (then *found is false). */
static int oldest_row(struct wg_store *store, enum stmt_id id, const char *kind, int64_t *oldest,
                      bool *found)
{
    sqlite3_stmt *stmt = store_prepared(store, id);
    if (!stmt)
        return -1;
    int rc = kind ? store_bind_text(stmt, 1, kind) : SQLITE_OK;
    if (rc == SQLITE_OK)
        rc = sqlite3_step(stmt);
    *found = rc == SQLITE_ROW;
    *oldest = *found ? sqlite3_column_int64(stmt, 0) : 0;
    store_done_with(stmt);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return store_fail_sqlite(store, rc, "finding the oldest rows to evict");
    return 0;
}

/* The source whose oldest row is the oldest: among the non-alarm ones
 * (readings and every journal kind not kept like alarms), or among alarm,
 * evidence and audit rows. *found is false when every candidate is empty. */
static int oldest_source(struct wg_store *store, bool alarm_tier,
                         const struct wg_store_kind_total *kinds, size_t kind_count,
                         struct evict_source *best, bool *found)
{
    *found = false;
    struct evict_source candidate;
    bool has = false;
    int64_t oldest = 0;
    if (!alarm_tier) {
        if (oldest_row(store, ST_READINGS_OLDEST, NULL, &oldest, &has) < 0)
            return -1;
        if (has) {
            *best = (struct evict_source){SOURCE_READINGS, NULL, oldest};
            *found = true;
        }
        /* Telemetry lives in the outbox only (migration 6): unsent, it is
         * evicted by age like the journal's kinds. */
        int telemetry = store_outbox_oldest_of_class(store, WG_UPLINK_TELEMETRY, &oldest);
        if (telemetry < 0)
            return -1;
        if (telemetry && (!*found || oldest < best->oldest_ms)) {
            *best = (struct evict_source){SOURCE_OUTBOX_TELEMETRY, NULL, oldest};
            *found = true;
        }
    } else {
        if (oldest_row(store, ST_AUDIT_OLDEST, NULL, &oldest, &has) < 0)
            return -1;
        if (has) {
            *best = (struct evict_source){SOURCE_AUDIT, NULL, oldest};
            *found = true;
        }
    }
    for (size_t i = 0; i < kind_count; i++) {
        bool alarm = strcmp(kinds[i].kind, "alarm") == 0;
        if (store_kept_like_alarms(kinds[i].kind) != alarm_tier || kinds[i].rows <= 0)
            continue;
        if (oldest_row(store, alarm ? ST_ALARM_OLDEST : ST_KIND_OLDEST, kinds[i].kind, &oldest,
                       &has) < 0)
            return -1;
        candidate = (struct evict_source){SOURCE_KIND, kinds[i].kind, oldest};
        if (has && (!*found || candidate.oldest_ms < best->oldest_ms)) {
            *best = candidate;
            *found = true;
        }
    }
    return 0;
}

/* Runs a DELETE bound with (text, int64) or (int) and returns the rows it deleted. */
static int64_t run_delete(struct wg_store *store, enum stmt_id id, const char *text, int64_t number,
                          const char *doing)
{
    sqlite3_stmt *stmt = store_prepared(store, id);
    if (!stmt)
        return -1;
    int rc = text ? store_bind_text(stmt, 1, text) : SQLITE_OK;
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(stmt, text ? 2 : 1, number);
    if (rc != SQLITE_OK) {
        store_done_with(stmt);
        return store_fail_sqlite(store, rc, doing);
    }
    if (store_run_stmt(store, stmt, doing) < 0)
        return -1;
    return sqlite3_changes(store->db);
}

/* What deleting one row writes to the WAL: every page it touches goes there
 * whole. A journal row sits in its table and seven indexes, two of them on
 * random keys (its UUID, its device), and its outbox row in three more; an
 * outbox-only telemetry row in its table and three indexes. Readings are
 * deleted from the start of a table kept in time order (migration 7), about
 * 80 bytes a row, so a row costs a fraction of a page. Measured with the
 * soak (docs/storage.md). */
#define EVICT_JOURNAL_ROW_WAL   (6 * 4096)
#define EVICT_TELEMETRY_ROW_WAL (2 * 4096)
#define EVICT_READING_ROW_WAL   256
#define EVICT_AUDIT_ROW_WAL     (2 * 4096)

/* Rows per chunk: an eighth of the WAL's share, at least 8. */
static int64_t chunk_rows(const struct wg_store *store, int64_t row_wal_bytes, int64_t most)
{
    int64_t rows = store->wal_budget_bytes / 8 / row_wal_bytes;
    return rows < 8 ? 8 : rows > most ? most : rows;
}

/* Deletes the oldest chunk of a source: journal rows go with their outbox
 * rows. Adds to *evicted and returns what it wrote to the WAL (an
 * estimate), or -1. */
static int64_t evict_source_chunk(struct wg_store *store, const struct evict_source *source,
                                  struct wg_store_eviction *evicted)
{
    int64_t n, row_wal;
    switch (source->type) {
    case SOURCE_READINGS:
        row_wal = EVICT_READING_ROW_WAL;
        n = run_delete(store, ST_READINGS_EVICT, NULL,
                       chunk_rows(store, row_wal, 8 * EVICT_CHUNK_ROWS), "evicting readings");
        if (n < 0)
            return -1;
        evicted->rows[WG_EVICT_READINGS] += n;
        break;
    case SOURCE_AUDIT:
        row_wal = EVICT_AUDIT_ROW_WAL;
        /* The chain's anchor moves to the last row evicted (audit_chain.h). */
        n = chunk_rows(store, row_wal, EVICT_CHUNK_ROWS);
        if (run_delete(store, ST_AUDIT_ANCHOR_MOVE, NULL, n, "moving the audit chain's anchor") < 0)
            return -1;
        n = run_delete(store, ST_AUDIT_EVICT, NULL, n, "evicting audit rows");
        if (n < 0)
            return -1;
        evicted->rows[WG_EVICT_AUDIT] += n;
        break;
    case SOURCE_OUTBOX_TELEMETRY:
        row_wal = EVICT_TELEMETRY_ROW_WAL;
        n = store_outbox_evict_chunk(store, WG_UPLINK_TELEMETRY, 0);
        if (n < 0)
            return -1;
        evicted->rows[WG_EVICT_TELEMETRY] += n;
        evicted->outbox_rows += n;
        break;
    case SOURCE_KIND: {
        /* The chunk ends at the seq (alarms: the time) `rows` rows in, or
         * covers the rest. */
        row_wal = EVICT_JOURNAL_ROW_WAL;
        int64_t rows = chunk_rows(store, row_wal, EVICT_CHUNK_ROWS);
        bool alarm = strcmp(source->kind, "alarm") == 0;
        sqlite3_stmt *stmt = store_prepared(store, alarm ? ST_ALARM_CUTOFF : ST_KIND_CUTOFF);
        if (!stmt)
            return -1;
        int rc = store_bind_text(stmt, 1, source->kind);
        if (rc == SQLITE_OK)
            rc = sqlite3_bind_int64(stmt, 2, rows - 1);
        if (rc == SQLITE_OK)
            rc = sqlite3_step(stmt);
        int64_t cutoff = rc == SQLITE_ROW ? sqlite3_column_int64(stmt, 0) : INT64_MAX;
        store_done_with(stmt);
        if (rc != SQLITE_ROW && rc != SQLITE_DONE)
            return store_fail_sqlite(store, rc, "evicting journal rows");
        n = run_delete(store, alarm ? ST_ALARM_OUTBOX_EVICT : ST_KIND_OUTBOX_EVICT, source->kind,
                       cutoff, "evicting unsent outbox rows");
        if (n < 0)
            return -1;
        evicted->outbox_rows += n;
        n = run_delete(store, alarm ? ST_ALARM_EVICT : ST_KIND_EVICT, source->kind, cutoff,
                       "evicting journal rows");
        if (n < 0)
            return -1;
        evicted->rows[class_of_kind(source->kind)] += n;
        break;
    }
    default:
        return 0;
    }
    evicted->chunks++;
    return n * row_wal;
}

/* Evicts, a chunk at a time, while the database uses more than `target`
 * pages (the whole bound, when it is above EVICT_ABOVE_PERCENT) or non-alarm
 * rows more than their share: the oldest non-alarm rows first; alarm and
 * audit rows only when the whole bound needs it and nothing else is left.
 * Stops once it wrote about `max_bytes` to the WAL (0: no limit), so one
 * transaction's WAL stays within its share. */
int store_evict_until(struct wg_store *store, int64_t target_pages, int64_t max_bytes,
                      struct wg_store_eviction *evicted)
{
    int64_t freed = 0;
    if (store->max_pages <= 0)
        return 0;
    int64_t non_alarm_high = store->max_pages * (100 - ALARM_SHARE_PERCENT) / 100;
    int64_t non_alarm_low = non_alarm_high - store->max_pages * 5 / 100;
    struct wg_store_kind_total kinds[16];
    size_t kind_count = 0;
    struct wg_outbox_totals outbox;
    while (max_bytes <= 0 || freed < max_bytes) {
        int64_t used = store_used_pages(store);
        if (used < 0)
            return store_fail(store, WG_STORE_IO, "database %s: cannot read its page counts: %s",
                              store->path, sqlite3_errmsg(store->db));
        if (store_load_kind_totals(store, kinds, 16, &kind_count) < 0 ||
            store_outbox_totals(store, &outbox) < 0)
            return -1;
        int64_t non_alarm = used - store_alarm_pages_estimate(store, kinds, kind_count, &outbox);
        if (non_alarm > non_alarm_high)
            store->evicting_non_alarm = true;
        else if (non_alarm <= non_alarm_low)
            store->evicting_non_alarm = false;
        bool over = used > target_pages;
        if (!over && !store->evicting_non_alarm)
            return 0;
        struct evict_source source;
        bool found = false;
        if (oldest_source(store, false, kinds, kind_count, &source, &found) < 0)
            return -1;
        if (!found) {
            store->evicting_non_alarm = false;
            if (!over)
                return 0;
            if (oldest_source(store, true, kinds, kind_count, &source, &found) < 0)
                return -1;
            if (!found) {
                evicted->exhausted = true;
                return 0;
            }
        }
        int64_t bytes = evict_source_chunk(store, &source, evicted);
        if (bytes < 0)
            return -1;
        freed += bytes;
    }
    return 0;
}

void store_log_eviction(const struct wg_store *store, const struct wg_store_eviction *evicted)
{
    char text[400];
    store_eviction_text(evicted, text, sizeof text);
    if (text[0])
        wg_info("database %s: size bound: evicted the oldest %s (%" PRId64
                " of them unsent outbox rows)",
                store->path, text, evicted->outbox_rows);
}

bool store_over_bound(struct wg_store *store)
{
    if (store->max_pages <= 0 || store->read_only)
        return false;
    if (store->evicting || store->evicting_non_alarm)
        return true;
    int64_t used = store_used_pages(store);
    return used > store->max_pages * (100 - ALARM_SHARE_PERCENT) / 100;
}

struct evict_job {
    int64_t max_bytes;
    struct wg_store_eviction *evicted;
};

static int evict_work(struct wg_store *store, void *ctx)
{
    struct evict_job *job = ctx;
    int64_t used = store_used_pages(store);
    if (used > store->max_pages * EVICT_ABOVE_PERCENT / 100)
        store->evicting = true;
    int64_t target = store->evicting ? store->max_pages * EVICT_TO_PERCENT / 100 : store->max_pages;
    if (store_evict_until(store, target, job->max_bytes, job->evicted) < 0)
        return -1;
    used = store_used_pages(store);
    if (used >= 0 && used <= store->max_pages * EVICT_TO_PERCENT / 100)
        store->evicting = false;
    return 0;
}

int store_evict(struct wg_store *store, int64_t max_bytes, struct wg_store_eviction *evicted)
{
    store->status = WG_STORE_OK;
    if (store->max_pages <= 0)
        return 0;
    struct evict_job job = {max_bytes, evicted};
    return store_run_write(store, evict_work, &job, 0, "keeping the size bound");
}
