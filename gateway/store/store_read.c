/* The store's read side: a read-only connection and the history, report and
 * audit queries, each built so that an index serves it; see store_read.h and
 * docs/storage.md. */
#include "store/store_read.h"

#include "store/store_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#define CACHED_STMTS  8
#define DEFAULT_LIMIT 200

/* The indexes the read side names (migrations 1, 2 and 5). */
static const char *const required_indexes[] = {"events_by_ts",     "events_by_alarm",
                                               "events_by_device", "events_by_room",
                                               "events_by_kind",   "events_alarm_by_ts"};

struct cached_stmt {
    char *sql;
    sqlite3_stmt *stmt;
    uint64_t last_used;
};

struct wg_store_reader {
    struct wg_store *store; /* the read-only connection (store_open_read_only) */
    struct cached_stmt cache[CACHED_STMTS];
    uint64_t uses;
};

const char *store_reader_error(const struct wg_store_reader *reader)
{
    return store_last_error(reader->store);
}

struct wg_store *store_reader_store(struct wg_store_reader *reader)
{
    return reader->store;
}

/* ---- statements: built per filter, cached by their text ---- */

/* A prepared statement for `sql`, from the cache when it is there and not in
 * use. Hand it back with release(). NULL after recording the error. */
static sqlite3_stmt *statement(struct wg_store_reader *reader, const char *sql)
{
    struct cached_stmt *slot = &reader->cache[0];
    for (size_t i = 0; i < CACHED_STMTS; i++) {
        struct cached_stmt *entry = &reader->cache[i];
        if (entry->sql && strcmp(entry->sql, sql) == 0 && !sqlite3_stmt_busy(entry->stmt)) {
            entry->last_used = ++reader->uses;
            return entry->stmt;
        }
        if (!entry->sql || entry->last_used < slot->last_used)
            slot = entry;
    }
    sqlite3_stmt *stmt = NULL;
    int rc = sqlite3_prepare_v3(reader->store->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, NULL);
    if (rc != SQLITE_OK) {
        store_fail_sqlite(reader->store, rc, "preparing a query");
        sqlite3_finalize(stmt);
        return NULL;
    }
    char *copy = strdup(sql);
    if (!copy || (slot->stmt && sqlite3_stmt_busy(slot->stmt))) {
        free(copy);
        return stmt; /* not cached: release() finalizes it */
    }
    sqlite3_finalize(slot->stmt);
    free(slot->sql);
    *slot = (struct cached_stmt){copy, stmt, ++reader->uses};
    return stmt;
}

/* Ends the statement's read transaction and readies it for its next use. */
static void release(struct wg_store_reader *reader, sqlite3_stmt *stmt)
{
    for (size_t i = 0; i < CACHED_STMTS; i++)
        if (reader->cache[i].stmt == stmt) {
            sqlite3_reset(stmt);
            sqlite3_clear_bindings(stmt);
            return;
        }
    sqlite3_finalize(stmt);
}

/* Binds :name when the statement has it. */
static int bind_int64(sqlite3_stmt *stmt, const char *name, int64_t value)
{
    int index = sqlite3_bind_parameter_index(stmt, name);
    return index ? sqlite3_bind_int64(stmt, index, value) : SQLITE_OK;
}

static int bind_text(sqlite3_stmt *stmt, const char *name, const char *value)
{
    int index = sqlite3_bind_parameter_index(stmt, name);
    return index && value ? sqlite3_bind_text(stmt, index, value, -1, SQLITE_STATIC) : SQLITE_OK;
}

static const char *column_text(sqlite3_stmt *stmt, int column)
{
    return (const char *)sqlite3_column_text(stmt, column);
}

/* A journal row from a statement selecting seq, id, ts_ms, kind, priority,
 * device, body, alarm_id, zone, room, bed, resident. */
static struct wg_event_row event_row(sqlite3_stmt *stmt)
{
    return (struct wg_event_row){
        .seq = sqlite3_column_int64(stmt, 0),
        .id = column_text(stmt, 1),
        .ts_ms = sqlite3_column_int64(stmt, 2),
        .kind = column_text(stmt, 3),
        .priority = sqlite3_column_int(stmt, 4),
        .device = column_text(stmt, 5),
        .body = column_text(stmt, 6),
        .alarm_id = column_text(stmt, 7),
        .zone = column_text(stmt, 8),
        .room = column_text(stmt, 9),
        .bed = column_text(stmt, 10),
        .resident = column_text(stmt, 11),
    };
}

#define EVENT_COLUMNS                                                                              \
    "seq, id, ts_ms, kind, priority, device, body, alarm_id, zone, room, bed, resident"

/* Steps `stmt` (bound, rc the result of binding), handing each row to `each`. */
static int each_event(struct wg_store_reader *reader, sqlite3_stmt *stmt, int rc, const char *doing,
                      int (*each)(const struct wg_event_row *row, void *ctx), void *ctx)
{
    while (rc == SQLITE_OK || rc == SQLITE_ROW) {
        if ((rc = sqlite3_step(stmt)) != SQLITE_ROW)
            break;
        struct wg_event_row row = event_row(stmt);
        if (each(&row, ctx) != 0) {
            rc = SQLITE_DONE;
            break;
        }
    }
    int result = rc == SQLITE_DONE ? 0 : store_fail_sqlite(reader->store, rc, doing);
    release(reader, stmt);
    return result;
}

/* ---- the history search ---- */

/* The kind the search is restricted to: the filter's, or "alarm" when it
 * asks for a priority (only alarm rows have one); NULL when any. */
static const char *kind_of(const struct wg_event_filter *filter)
{
    if (filter->kind)
        return filter->kind;
    return filter->min_priority >= 0 ? "alarm" : NULL;
}

/* The SQL of the time window's seq range; "" when the filter has no window. */
static void narrow_sql(const struct wg_event_filter *filter, char *sql, size_t len)
{
    if (!filter->from_ms && !filter->to_ms) {
        sql[0] = '\0';
        return;
    }
    snprintf(sql, len, "SELECT min(seq), max(seq) FROM events INDEXED BY events_by_ts WHERE %s%s%s",
             filter->from_ms ? "ts_ms >= :from" : "",
             filter->from_ms && filter->to_ms ? " AND " : "", filter->to_ms ? "ts_ms < :to" : "");
}

/* The search, walking the index of the most selective equality filter (an
 * alarm id, then a device, a room, a kind) in seq order, or the journal
 * itself by seq when there is none; every other filter is checked per row
 * of that walk, and the seq bounds keep it inside the time window. */
static void events_sql(const struct wg_event_filter *filter, char *sql, size_t len)
{
    const char *kind = kind_of(filter);
    const char *index = filter->alarm_id ? "INDEXED BY events_by_alarm"
                        : filter->device ? "INDEXED BY events_by_device"
                        : filter->room   ? "INDEXED BY events_by_room"
                        : kind           ? "INDEXED BY events_by_kind"
                                         : "NOT INDEXED";
    snprintf(sql, len,
             "SELECT " EVENT_COLUMNS " FROM events %s WHERE seq < :before AND seq > :after"
             "%s%s%s%s%s%s%s%s ORDER BY seq DESC LIMIT :limit",
             index, filter->alarm_id ? " AND alarm_id = :alarm" : "",
             filter->device ? " AND device = :device" : "", filter->room ? " AND room = :room" : "",
             filter->kind ? " AND kind = :kind"
             : kind       ? " AND kind = 'alarm'"
                          : "",
             !kind && !filter->write_results ? " AND kind <> 'write_result'" : "",
             filter->min_priority >= 0 ? " AND priority >= :priority" : "",
             filter->from_ms ? " AND ts_ms >= :from" : "", filter->to_ms ? " AND ts_ms < :to" : "");
}

static int bind_filter(sqlite3_stmt *stmt, const struct wg_event_filter *filter)
{
    int rc = bind_int64(stmt, ":before", filter->before_seq > 0 ? filter->before_seq : INT64_MAX);
    if (rc == SQLITE_OK)
        rc = bind_int64(stmt, ":after", filter->after_seq > 0 ? filter->after_seq : 0);
    if (rc == SQLITE_OK)
        rc = bind_text(stmt, ":alarm", filter->alarm_id);
    if (rc == SQLITE_OK)
        rc = bind_text(stmt, ":device", filter->device);
    if (rc == SQLITE_OK)
        rc = bind_text(stmt, ":room", filter->room);
    if (rc == SQLITE_OK)
        rc = bind_text(stmt, ":kind", filter->kind);
    if (rc == SQLITE_OK)
        rc = bind_int64(stmt, ":priority", filter->min_priority);
    if (rc == SQLITE_OK)
        rc = bind_int64(stmt, ":from", filter->from_ms);
    if (rc == SQLITE_OK)
        rc = bind_int64(stmt, ":to", filter->to_ms);
    if (rc == SQLITE_OK)
        rc = bind_int64(stmt, ":limit", filter->limit > 0 ? filter->limit : DEFAULT_LIMIT);
    return rc;
}

int store_read_narrow(struct wg_store_reader *reader, struct wg_event_filter *filter, bool *empty)
{
    *empty = false;
    char sql[256];
    narrow_sql(filter, sql, sizeof sql);
    if (!sql[0])
        return 0;
    sqlite3_stmt *stmt = statement(reader, sql);
    if (!stmt)
        return -1;
    int rc = bind_filter(stmt, filter);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(stmt);
    if (rc != SQLITE_ROW) {
        store_fail_sqlite(reader->store, rc, "finding the time window in the journal");
        release(reader, stmt);
        return -1;
    }
    if (sqlite3_column_type(stmt, 0) == SQLITE_NULL) {
        *empty = true;
    } else {
        int64_t first = sqlite3_column_int64(stmt, 0), last = sqlite3_column_int64(stmt, 1);
        if (first - 1 > filter->after_seq)
            filter->after_seq = first - 1;
        if (filter->before_seq <= 0 || last + 1 < filter->before_seq)
            filter->before_seq = last + 1;
    }
    release(reader, stmt);
    return 0;
}

int store_read_events(struct wg_store_reader *reader, const struct wg_event_filter *filter,
                      int (*each)(const struct wg_event_row *row, void *ctx), void *ctx)
{
    if (!filter || !each)
        return store_fail(reader->store, WG_STORE_IO, "database %s: no filter or callback given",
                          reader->store->path);
    char sql[768];
    events_sql(filter, sql, sizeof sql);
    sqlite3_stmt *stmt = statement(reader, sql);
    if (!stmt)
        return -1;
    return each_event(reader, stmt, bind_filter(stmt, filter), "searching the journal", each, ctx);
}

/* Counts the rows of a page and remembers the oldest seq, then hands each on. */
struct kind_pages {
    int (*each)(const struct wg_event_row *row, void *ctx);
    void *ctx;
    int64_t last_seq;
    int rows;
};

static int page_row(const struct wg_event_row *row, void *ctx)
{
    struct kind_pages *pages = ctx;
    pages->last_seq = row->seq;
    pages->rows++;
    return pages->each(row, pages->ctx);
}

int store_read_kind(struct wg_store_reader *reader, const char *kind, int64_t from_ms,
                    int64_t to_ms, int (*each)(const struct wg_event_row *row, void *ctx),
                    void *ctx)
{
    enum { PAGE = 1000 };
    struct wg_event_filter filter = {
        .from_ms = from_ms, .to_ms = to_ms, .kind = kind, .min_priority = -1, .limit = PAGE};
    bool empty = false;
    if (store_read_narrow(reader, &filter, &empty) != 0)
        return -1;
    struct kind_pages pages = {each, ctx, 0, PAGE};
    while (!empty && pages.rows == PAGE) {
        pages.rows = 0;
        if (store_read_events(reader, &filter, page_row, &pages) != 0)
            return -1;
        filter.before_seq = pages.last_seq;
    }
    return 0;
}

static int explain(struct wg_store_reader *reader, const char *sql,
                   void (*line)(const char *sql, const char *step, void *ctx), void *ctx)
{
    char *text = sqlite3_mprintf("EXPLAIN QUERY PLAN %s", sql);
    sqlite3_stmt *stmt = NULL;
    int rc = text ? sqlite3_prepare_v2(reader->store->db, text, -1, &stmt, NULL) : SQLITE_NOMEM;
    sqlite3_free(text);
    while (rc == SQLITE_OK || rc == SQLITE_ROW) {
        if ((rc = sqlite3_step(stmt)) != SQLITE_ROW)
            break;
        line(sql, column_text(stmt, 3), ctx);
    }
    sqlite3_finalize(stmt);
    return rc == SQLITE_DONE ? 0 : store_fail_sqlite(reader->store, rc, "explaining a query");
}

int store_read_plan(struct wg_store_reader *reader, const struct wg_event_filter *filter,
                    void (*line)(const char *sql, const char *step, void *ctx), void *ctx)
{
    char narrow[256], search[768];
    narrow_sql(filter, narrow, sizeof narrow);
    events_sql(filter, search, sizeof search);
    if (narrow[0] && explain(reader, narrow, line, ctx) != 0)
        return -1;
    return explain(reader, search, line, ctx);
}

/* ---- alarms by time, audit ---- */

/* The alarm rows' seq range in a time window (the partial time index holds
 * alarm rows only), then those rows in seq order by the kind index. */
static const char alarm_range_sql[] =
    "SELECT min(seq), max(seq) FROM events INDEXED BY events_alarm_by_ts "
    "WHERE kind = 'alarm' AND ts_ms >= :from AND ts_ms < :to";
static const char alarm_rows_sql[] =
    "SELECT " EVENT_COLUMNS " FROM events INDEXED BY events_by_kind "
    "WHERE kind = 'alarm' AND seq > :after AND seq < :before "
    "AND ts_ms >= :from AND ts_ms < :to ORDER BY seq";

int store_read_alarm_plan(struct wg_store_reader *reader,
                          void (*line)(const char *sql, const char *step, void *ctx), void *ctx)
{
    return explain(reader, alarm_range_sql, line, ctx) == 0
               ? explain(reader, alarm_rows_sql, line, ctx)
               : -1;
}

int store_read_alarm_events(struct wg_store_reader *reader, int64_t from_ms, int64_t to_ms,
                            int (*each)(const struct wg_event_row *row, void *ctx), void *ctx)
{
    if (!each)
        return store_fail(reader->store, WG_STORE_IO, "database %s: no callback given",
                          reader->store->path);
    struct wg_event_filter range = {0};
    sqlite3_stmt *stmt = statement(reader, alarm_range_sql);
    if (!stmt)
        return -1;
    int rc = bind_int64(stmt, ":from", from_ms);
    if (rc == SQLITE_OK)
        rc = bind_int64(stmt, ":to", to_ms);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(stmt);
    if (rc != SQLITE_ROW) {
        store_fail_sqlite(reader->store, rc, "finding the alarms' time window");
        release(reader, stmt);
        return -1;
    }
    bool empty = sqlite3_column_type(stmt, 0) == SQLITE_NULL;
    range.after_seq = sqlite3_column_int64(stmt, 0) - 1;
    range.before_seq = sqlite3_column_int64(stmt, 1) + 1;
    release(reader, stmt);
    if (empty)
        return 0;
    stmt = statement(reader, alarm_rows_sql);
    if (!stmt)
        return -1;
    rc = bind_int64(stmt, ":after", range.after_seq);
    if (rc == SQLITE_OK)
        rc = bind_int64(stmt, ":before", range.before_seq);
    if (rc == SQLITE_OK)
        rc = bind_int64(stmt, ":from", from_ms);
    if (rc == SQLITE_OK)
        rc = bind_int64(stmt, ":to", to_ms);
    return each_event(reader, stmt, rc, "reading the alarm journal", each, ctx);
}

int store_read_audit(struct wg_store_reader *reader, int64_t before_seq, int limit,
                     int (*each)(const struct wg_audit_row *row, void *ctx), void *ctx)
{
    if (!each)
        return store_fail(reader->store, WG_STORE_IO, "database %s: no callback given",
                          reader->store->path);
    sqlite3_stmt *stmt = statement(reader, "SELECT seq, ts_ms, actor, origin, action, target, "
                                           "detail FROM audit WHERE seq < :before "
                                           "ORDER BY seq DESC LIMIT :limit");
    if (!stmt)
        return -1;
    int rc = bind_int64(stmt, ":before", before_seq > 0 ? before_seq : INT64_MAX);
    if (rc == SQLITE_OK)
        rc = bind_int64(stmt, ":limit", limit > 0 ? limit : DEFAULT_LIMIT);
    while (rc == SQLITE_OK || rc == SQLITE_ROW) {
        if ((rc = sqlite3_step(stmt)) != SQLITE_ROW)
            break;
        struct wg_audit_row row = {
            .seq = sqlite3_column_int64(stmt, 0),
            .ts_ms = sqlite3_column_int64(stmt, 1),
            .actor = column_text(stmt, 2),
            .origin = column_text(stmt, 3),
            .action = column_text(stmt, 4),
            .target = column_text(stmt, 5),
            .detail = column_text(stmt, 6),
        };
        if (each(&row, ctx) != 0) {
            rc = SQLITE_DONE;
            break;
        }
    }
    int result =
        rc == SQLITE_DONE ? 0 : store_fail_sqlite(reader->store, rc, "reading the audit log");
    release(reader, stmt);
    return result;
}

/* ---- open and close ---- */

void store_reader_close(struct wg_store_reader *reader)
{
    if (!reader)
        return;
    for (size_t i = 0; i < CACHED_STMTS; i++) {
        sqlite3_finalize(reader->cache[i].stmt);
        free(reader->cache[i].sql);
    }
    store_close(reader->store);
    free(reader);
}

/* Every index the queries name exists: the database was migrated. */
static int check_indexes(struct wg_store_reader *reader)
{
    sqlite3_stmt *stmt = NULL;
    int rc = sqlite3_prepare_v2(
        reader->store->db, "SELECT count(*) FROM sqlite_schema WHERE type = 'index' AND name = ?",
        -1, &stmt, NULL);
    for (size_t i = 0; rc == SQLITE_OK && i < sizeof required_indexes / sizeof *required_indexes;
         i++) {
        rc = sqlite3_bind_text(stmt, 1, required_indexes[i], -1, SQLITE_STATIC);
        if (rc == SQLITE_OK && (rc = sqlite3_step(stmt)) == SQLITE_ROW) {
            bool present = sqlite3_column_int(stmt, 0) == 1;
            rc = sqlite3_reset(stmt);
            if (!present) {
                sqlite3_finalize(stmt);
                return store_fail(
                    reader->store, WG_STORE_IO,
                    "database %s has no index %s: it was not migrated by this version "
                    "of wardgated (start the daemon once)",
                    reader->store->path, required_indexes[i]);
            }
        }
    }
    sqlite3_finalize(stmt);
    return rc == SQLITE_OK ? 0 : store_fail_sqlite(reader->store, rc, "checking its indexes");
}

struct wg_store_reader *store_reader_open(const char *path, int busy_timeout_ms, char *err,
                                          size_t err_len)
{
    struct wg_store_reader *reader = calloc(1, sizeof *reader);
    if (!reader) {
        snprintf(err, err_len, "database %s: out of memory", path ? path : "");
        return NULL;
    }
    reader->store = store_open_read_only(path, busy_timeout_ms, err, err_len);
    if (!reader->store || check_indexes(reader) != 0) {
        if (reader->store)
            snprintf(err, err_len, "%s", store_last_error(reader->store));
        store_reader_close(reader);
        return NULL;
    }
    return reader;
}
