/* The store writer: the one thread that writes the database.
 *
 * It owns the write connection (a wg_store). The core hands it writes in
 * order (journal events with their alarm rows, closed readings buckets,
 * audit rows, the uplink's outbox deletes) and never waits: writer_submit
 * only links them onto a queue. The thread commits them in that order, many
 * to a transaction (synchronous=FULL), keeps the size bound (store_evict,
 * WAL checkpoints, the outbox bound, retention) between transactions, and
 * hands every committed write back through an eventfd the core polls
 * (writer_fd, writer_take), in order, with its journal seq.
 *
 * When a transaction fails (locked by another process, disk full, read-only,
 * I/O error) nothing is lost: the writes stay queued, in order, the failure
 * is reported (writer_status, and the eventfd wakes the core), and the
 * transaction is tried again after a back-off (100 ms doubling to 2 s)
 * until storage works again. A write the store refuses outright (a body
 * that is not JSON: a bug) is handed back marked `refused` and never blocks
 * the ones after it.
 *
 * Memory: what is held (queued, not yet committed) is bounded by
 * max_held_writes and max_held_bytes. Past either, writer_submit drops the
 * oldest held writes of the least valuable class first (readings, then
 * telemetry, point changes, write results, health and system events, audit
 * rows, and alarm events last; outbox deletes are never dropped) down to 90 %
 * of the bound, and hands them back to the caller to report.
 *
 * Ownership of a wg_write: the submitter builds it and, once submitted, may
 * still read what it wrote and use the fields marked "submitter's"; the
 * thread reads the rest and sets the result fields. It comes back through
 * writer_take (written or refused), writer_submit (dropped) or
 * writer_take_unwritten (after writer_stop), and the submitter frees it
 * with wg_write_free. */
#ifndef WG_STORE_WRITER_H
#define WG_STORE_WRITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/event.h"
#include "store/store.h"

enum wg_write_type {
    WG_WRITE_EVENT,
    WG_WRITE_READING,
    WG_WRITE_AUDIT,
    WG_WRITE_OUTBOX_DELETE,
    WG_WRITE_OUTBOX, /* an outbox-only message (telemetry), already in its wire form */
};

/* The order in which held writes are dropped at the memory bound. */
enum wg_write_class {
    WG_CLASS_READING,
    WG_CLASS_TELEMETRY,
    WG_CLASS_POINT,
    WG_CLASS_WRITE_RESULT,
    WG_CLASS_HEALTH, /* device health, system events */
    WG_CLASS_AUDIT,
    WG_CLASS_ALARM,
    WG_CLASS_KEEP, /* outbox deletes: tiny, and they free space */
    WG_CLASS_COUNT
};
const char *writer_class_name(enum wg_write_class write_class);

enum wg_alarm_row_op { WG_ALARM_ROW_NONE, WG_ALARM_ROW_PUT, WG_ALARM_ROW_DELETE };

/* One point's closed readings bucket, in a write of its device's. */
struct wg_point_aggregate {
    const char *point;
    struct wg_reading_aggregate aggregate;
};

struct wg_write {
    struct wg_write *next;
    enum wg_write_type type;
    enum wg_write_class write_class;
    size_t bytes; /* what it holds in memory, for the bound */
    union {
        struct {
            struct wg_event event; /* its seq is never set: see `seq` */
            enum wg_alarm_row_op alarm_op;
            int64_t alarm_update;
            char alarm_state[16];
            char alarm_kind[64];
        } event;
        struct {
            const char *device;
            size_t count; /* one device's closed buckets: one row each */
            struct wg_point_aggregate *points;
        } reading;
        struct {
            int64_t ts_ms;
            const char *actor, *origin, *action, *target, *detail;
        } audit;
        struct {
            size_t count;
            int64_t *seqs;
        } deletes;
        struct wg_outbox_append outbox; /* its strings live in the write */
    } u;
    /* Results, set by the writer thread before it hands the write back. */
    int64_t seq;    /* the journal seq of a committed event */
    bool committed; /* in the database */
    bool refused;   /* the store refused it (see the log); it is not retried */
    /* The submitter's: the writer thread never reads or writes these. */
    int64_t queued_mono_ms;
    bool announced;
    uint64_t tag;
};

/* Builders: one allocation each, strings copied. NULL when out of memory.
 * An event's id is made here when proto->id is empty. */
struct wg_write *wg_write_event(const struct wg_event *proto, const char *body,
                                enum wg_write_class write_class);
/* A device's closed readings buckets, `count` points, as one write (a
 * bucket of 1,000 devices of 20 points is 1,000 writes, not 20,000). */
struct wg_write *wg_write_readings(const char *device, size_t count, const char *const *points,
                                   const struct wg_reading_aggregate *aggregates);
/* The rows a write stands for: a readings write's points, else 1. */
static inline uint64_t wg_write_rows(const struct wg_write *write)
{
    return write->type == WG_WRITE_READING ? write->u.reading.count : 1;
}
struct wg_write *wg_write_audit(int64_t ts_ms, const char *actor, const char *origin,
                                const char *action, const char *target, const char *detail);
struct wg_write *wg_write_outbox_deletes(const int64_t *seqs, size_t count);
/* An outbox-only message; the payload is copied. Its class decides where it
 * is dropped at the memory bound (telemetry: WG_CLASS_TELEMETRY). */
struct wg_write *wg_write_outbox(const struct wg_outbox_append *row,
                                 enum wg_write_class write_class);
void wg_write_free(struct wg_write *write);
/* Frees a list linked through `next`. */
void wg_write_free_list(struct wg_write *first);

struct wg_store_calls;

struct wg_writer_options {
    size_t max_held_writes; /* 0 = 50,000 */
    size_t max_held_bytes;  /* 0 = 16 MiB */
    /* Work other modules run on this connection (store_call.h), served from
     * writer_start to the stop, before the next transaction; may be NULL.
     * Not owned. */
    struct wg_store_calls *calls;
};

struct wg_writer_status {
    bool failing;                /* the last transaction failed; retrying */
    enum wg_store_status status; /* of that failure (WG_STORE_OK when not failing) */
    char message[768];           /* the store's message for it */
    size_t held_writes, held_bytes;
    size_t waiting_events; /* journal events held, not yet committed */
    uint64_t committed_events, transactions, failures;
    uint64_t dropped[WG_CLASS_COUNT]; /* at the memory bound, since start */
    int64_t last_transaction_ms, longest_transaction_ms;
    struct wg_store_usage usage; /* after the last transaction or housekeeping */
};

struct wg_store_writer;

/* Takes ownership of `store` (opened with store_open). Not started yet: until
 * writer_start the caller may still use the store on its own thread. */
struct wg_store_writer *writer_new(struct wg_store *store, const struct wg_writer_options *options);
int writer_start(struct wg_store_writer *writer);
/* Stops the thread: it first tries, once more and without back-off, to
 * commit everything queued. Then writer_take and writer_take_unwritten give
 * back what was and what was not written. */
void writer_stop(struct wg_store_writer *writer);
/* Stops it if running, frees what is left, closes the store. */
void writer_free(struct wg_store_writer *writer);

/* Queues a list of writes (linked through `next`, in order). Never blocks on
 * the database. Returns the writes dropped to keep the memory bound (now the
 * caller's), or NULL. */
struct wg_write *writer_submit(struct wg_store_writer *writer, struct wg_write *first);
/* Readable when writes were committed or the status changed. */
int writer_fd(const struct wg_store_writer *writer);
/* Clears the eventfd and returns the writes handed back since the last call,
 * in submission order (the caller's now), or NULL. */
struct wg_write *writer_take(struct wg_store_writer *writer);
/* After writer_stop: what was never written, in order. */
struct wg_write *writer_take_unwritten(struct wg_store_writer *writer);
void writer_status(struct wg_store_writer *writer, struct wg_writer_status *status);

/* The uplink's bound on unsent rows, applied by the writer after commits. */
void writer_set_outbox_bound(struct wg_store_writer *writer, const struct wg_outbox_bound *bound);
/* Wall time for retention and the outbox's age bound (the core's clock). */
void writer_set_now(struct wg_store_writer *writer, int64_t wall_ms);

#endif
