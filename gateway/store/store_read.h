/* The store's read side: the queries people ask for (history, CSV export,
 * response figures, audit log), on a read-only SQLite connection of their
 * own.
 *
 * The core thread owns the store's one writing connection; a reader is a
 * second connection, opened SQLITE_OPEN_READONLY, that a query worker owns
 * (one reader per thread, never shared). WAL mode lets it read a consistent
 * snapshot while the writer commits, so no query ever holds up a commit and
 * no commit holds up a query. Each call below is one short read transaction:
 * a long result is read in pages (keyset paging on seq), so a reader never
 * pins an old snapshot (which would keep the WAL from being checkpointed)
 * while a slow client takes its time.
 *
 * Every history filter the API allows is answered through an index (see
 * store_read_plan and docs/storage.md): the SQL is built per filter, the
 * index named with INDEXED BY (so a missing index is an error, never a
 * silent scan of the journal), and a time window is first turned into the
 * range of seq it spans. Errors are returned as -1 with a message naming the
 * database and the cause in store_reader_error(). */
#ifndef WG_STORE_READ_H
#define WG_STORE_READ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

struct wg_store_reader;

/* How long a reader waits for a lock. A query worker may wait for the
 * writer's checkpoint; the core thread reads the outbox and never stalls
 * (reads in WAL mode are almost never kept waiting). */
#define WG_READER_WAIT_MS    2000
#define WG_READER_NO_WAIT_MS 10

/* Opens `path` read-only, every write refused, waiting at most
 * busy_timeout_ms for a lock. The database must exist and have been migrated
 * by store_open (the history indexes are checked). NULL with a message in
 * err. The one read-only opener: the query workers' readers and the core
 * thread's (the uplink's outbox reads, through store_reader_store). */
struct wg_store_reader *store_reader_open(const char *path, int busy_timeout_ms, char *err,
                                          size_t err_len);
/* The reader's connection, for store.h's reads (store_outbox_peek,
 * store_last_event_seq, ...); it lives until store_reader_close. */
struct wg_store *store_reader_store(struct wg_store_reader *reader);
void store_reader_close(struct wg_store_reader *reader);
const char *store_reader_error(const struct wg_store_reader *reader);

/* The history search: newest first, rows matching every filter that is set. */
struct wg_event_filter {
    int64_t from_ms, to_ms; /* from_ms <= ts_ms < to_ms; 0 = no bound */
    const char *kind;       /* NULL = any; likewise below */
    const char *room;
    const char *device;
    const char *alarm_id;
    int min_priority;   /* -1 = any, including events without a priority */
    bool write_results; /* include output write results (kind write_result) when kind is NULL */
    int64_t before_seq; /* only seq < this; 0 = no bound (paging: the last seq seen) */
    int64_t after_seq;  /* only seq > this; 0 = no bound (set by store_read_narrow) */
    int limit;          /* rows at most; 0 = 200 */
};

/* When the filter has a time window: narrows before_seq/after_seq to the seq
 * range of the journal rows inside it (one pass over the time index, without
 * touching the rows), so the search that follows walks only that range.
 * *empty is set when no row lies in the window. Call once per search; a
 * paged export keeps the narrowed filter for every page. */
int store_read_narrow(struct wg_store_reader *reader, struct wg_event_filter *filter, bool *empty);

/* Up to filter->limit rows matching `filter`, newest first; stops early,
 * returning 0, when `each` returns non-zero. The rows' strings live until
 * `each` returns. */
int store_read_events(struct wg_store_reader *reader, const struct wg_event_filter *filter,
                      int (*each)(const struct wg_event_row *row, void *ctx), void *ctx);

/* Every row of `kind` with from_ms <= ts_ms < to_ms, newest first, a page
 * at a time (store_read_narrow, then store_read_events). */
int store_read_kind(struct wg_store_reader *reader, const char *kind, int64_t from_ms,
                    int64_t to_ms, int (*each)(const struct wg_event_row *row, void *ctx),
                    void *ctx);

/* The query plans SQLite will use for `filter` (store_read_narrow's and
 * store_read_events'), one line per step as EXPLAIN QUERY PLAN gives them,
 * for the test that no filter scans the journal. */
int store_read_plan(struct wg_store_reader *reader, const struct wg_event_filter *filter,
                    void (*line)(const char *sql, const char *step, void *ctx), void *ctx);

/* The alarm journal (rows with kind = 'alarm') with from_ms <= ts_ms < to_ms,
 * in seq order, for the response-time figures and the district's alarm
 * history. The alarm id is the body's "id". Stops early, returning 0, if
 * `each` returns non-zero. */
int store_read_alarm_events(struct wg_store_reader *reader, int64_t from_ms, int64_t to_ms,
                            int (*each)(const struct wg_event_row *row, void *ctx), void *ctx);
/* Its query plans, as store_read_plan gives them. */
int store_read_alarm_plan(struct wg_store_reader *reader,
                          void (*line)(const char *sql, const char *step, void *ctx), void *ctx);

/* The audit log, newest first (seq < before_seq, or all when 0). */
struct wg_audit_row {
    int64_t seq;
    int64_t ts_ms;
    const char *actor, *origin, *action, *target, *detail;
};
int store_read_audit(struct wg_store_reader *reader, int64_t before_seq, int limit,
                     int (*each)(const struct wg_audit_row *row, void *ctx), void *ctx);

#endif
