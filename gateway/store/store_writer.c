/* The store writer thread: the queue of writes, transactions, retries, the
 * memory bound and the database's housekeeping; see store_writer.h. Only
 * `lock` is shared with other threads; the store itself is the thread's. */
#include "store/store_writer.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"

#define DEFAULT_MAX_HELD_WRITES   50000
#define DEFAULT_MAX_HELD_BYTES    (16u << 20)
#define MAX_TX_WRITES             4096
#define MAX_TX_BYTES              (8 << 20)
#define PAGE_BYTES                4096
#define EVICT_CHUNKS_PER_TX       32
#define RETRY_FIRST_MS            100
#define RETRY_MAX_MS              2000
#define HOUSEKEEPING_MS           1000
#define MAINTAIN_MS               (10 * 60 * 1000)
#define OUTBOX_AGE_CHECK_MS       (10 * 1000)
#define IDLE_TRUNCATE_MS          2000  /* the WAL is truncated after this long without writes */
#define WAL_BLOCKED_RETRY_MS      50    /* a WAL past its share is checkpointed again this often */
#define WAL_BLOCKED_FAILING_MS    2000  /* ... and held writes back this long: storage failing */
#define EVICTION_LOG_MS           60000 /* eviction is summed up in the log at most this often */
#define HOUSEKEEPING_ERROR_LOG_MS 60000

static const char *const class_names[WG_CLASS_COUNT] = {
    [WG_CLASS_READING] = "readings",     [WG_CLASS_TELEMETRY] = "telemetry",
    [WG_CLASS_POINT] = "point changes",  [WG_CLASS_WRITE_RESULT] = "write results",
    [WG_CLASS_HEALTH] = "health/system", [WG_CLASS_AUDIT] = "audit rows",
    [WG_CLASS_ALARM] = "alarm events",   [WG_CLASS_KEEP] = "outbox deletes",
};

const char *writer_class_name(enum wg_write_class write_class)
{
    return (unsigned)write_class < WG_CLASS_COUNT ? class_names[write_class] : "?";
}

struct wg_store_writer {
    struct wg_store *store; /* the thread's once started */
    size_t max_held_writes, max_held_bytes;
    pthread_t thread;
    bool started, stopped;
    int event_fd;

    pthread_mutex_t lock;
    pthread_cond_t wake;
    /* Under `lock`: */
    struct wg_write *head,
        *tail; /* queued, oldest first; the first in_progress are being written */
    size_t in_progress;
    struct wg_write *done_head, *done_tail; /* handed back, for writer_take */
    bool stopping;
    struct wg_writer_status status;
    struct wg_outbox_bound outbox_bound;
    bool outbox_bound_set;
    int64_t now_wall_ms;

    /* The thread's own: */
    struct wg_write **batch; /* the transaction's writes, copied from the queue under lock */
    double wal_ratio;        /* WAL bytes a transaction wrote per byte of its writes (measured) */
    int64_t retry_at_ms, backoff_ms;
    int64_t next_housekeeping_ms, next_maintain_ms, next_age_check_ms, last_write_ms;
    struct wg_store_eviction evicted; /* since the last log line */
    int64_t evicted_since_ms, evicted_logged_ms;
    bool cap_logged, alarm_only_logged;
    int64_t wal_blocked_since_ms; /* writes wait for a WAL past its share; 0 = not */
    bool wal_failing;             /* ... long enough to be reported as a storage failure */
    int64_t housekeeping_error_ms;
};

static int64_t mono_ms(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

/* ---- writes ---- */

static size_t text_size(const char *text)
{
    return text ? strlen(text) + 1 : 0;
}

static char *copy_into(char **cursor, const char *text)
{
    if (!text)
        return NULL;
    size_t len = strlen(text) + 1;
    char *start = *cursor;
    memcpy(start, text, len);
    *cursor += len;
    return start;
}

static struct wg_write *new_write(enum wg_write_type type, enum wg_write_class write_class,
                                  size_t extra, char **cursor)
{
    struct wg_write *write = calloc(1, sizeof *write + extra);
    if (!write)
        return NULL;
    write->type = type;
    write->write_class = write_class;
    write->bytes = sizeof *write + extra;
    *cursor = (char *)(write + 1);
    return write;
}

struct wg_write *wg_write_event(const struct wg_event *proto, const char *body,
                                enum wg_write_class write_class)
{
    const char *parts[] = {proto->kind, proto->alarm_id, proto->device,   proto->zone,
                           proto->room, proto->bed,      proto->resident, body ? body : "{}"};
    size_t extra = 0;
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++)
        extra += text_size(parts[i]);
    char *cursor;
    struct wg_write *write = new_write(WG_WRITE_EVENT, write_class, extra, &cursor);
    if (!write)
        return NULL;
    struct wg_event *event = &write->u.event.event;
    *event = (struct wg_event){.ts_ms = proto->ts_ms,
                               .kind = copy_into(&cursor, proto->kind),
                               .priority = proto->priority,
                               .alarm_id = copy_into(&cursor, proto->alarm_id),
                               .device = copy_into(&cursor, proto->device),
                               .zone = copy_into(&cursor, proto->zone),
                               .room = copy_into(&cursor, proto->room),
                               .bed = copy_into(&cursor, proto->bed),
                               .resident = copy_into(&cursor, proto->resident),
                               .body = copy_into(&cursor, body ? body : "{}"),
                               .uplink = proto->uplink};
    if (proto->id[0])
        memcpy(event->id, proto->id, sizeof event->id);
    else
        event_new_id(event);
    return write;
}

struct wg_write *wg_write_reading(const char *device, const char *point,
                                  const struct wg_reading_aggregate *aggregate)
{
    char *cursor;
    struct wg_write *write = new_write(WG_WRITE_READING, WG_CLASS_READING,
                                       text_size(device) + text_size(point), &cursor);
    if (!write)
        return NULL;
    write->u.reading.device = copy_into(&cursor, device);
    write->u.reading.point = copy_into(&cursor, point);
    write->u.reading.aggregate = *aggregate;
    return write;
}

struct wg_write *wg_write_audit(int64_t ts_ms, const char *actor, const char *origin,
                                const char *action, const char *target, const char *detail)
{
    char *cursor;
    struct wg_write *write = new_write(WG_WRITE_AUDIT, WG_CLASS_AUDIT,
                                       text_size(actor) + text_size(origin) + text_size(action) +
                                           text_size(target) + text_size(detail),
                                       &cursor);
    if (!write)
        return NULL;
    write->u.audit.ts_ms = ts_ms;
    write->u.audit.actor = copy_into(&cursor, actor);
    write->u.audit.origin = copy_into(&cursor, origin);
    write->u.audit.action = copy_into(&cursor, action);
    write->u.audit.target = copy_into(&cursor, target);
    write->u.audit.detail = copy_into(&cursor, detail);
    return write;
}

struct wg_write *wg_write_outbox_deletes(const int64_t *seqs, size_t count)
{
    char *cursor;
    struct wg_write *write =
        new_write(WG_WRITE_OUTBOX_DELETE, WG_CLASS_KEEP, count * sizeof *seqs, &cursor);
    if (!write)
        return NULL;
    write->u.deletes.count = count;
    write->u.deletes.seqs = (int64_t *)(void *)cursor;
    memcpy(write->u.deletes.seqs, seqs, count * sizeof *seqs);
    return write;
}

struct wg_write *wg_write_outbox(const struct wg_outbox_append *row,
                                 enum wg_write_class write_class)
{
    char *cursor;
    struct wg_write *write = new_write(WG_WRITE_OUTBOX, write_class,
                                       text_size(row->kind) + row->payload_len + 1, &cursor);
    if (!write)
        return NULL;
    write->u.outbox = *row;
    write->u.outbox.kind = copy_into(&cursor, row->kind);
    memcpy(cursor, row->payload, row->payload_len);
    cursor[row->payload_len] = '\0';
    write->u.outbox.payload = cursor;
    return write;
}

void wg_write_free(struct wg_write *write)
{
    free(write);
}

void wg_write_free_list(struct wg_write *first)
{
    while (first) {
        struct wg_write *next = first->next;
        free(first);
        first = next;
    }
}

/* ---- the transaction (writer thread, unlocked) ---- */

static int write_one(struct wg_store *store, struct wg_write *write)
{
    switch (write->type) {
    case WG_WRITE_EVENT: {
        /* A copy: the submitter may read the write while this runs. */
        struct wg_event event = write->u.event.event;
        if (store_append_event(store, &event) != 0)
            return -1;
        write->seq = event.seq;
        if (write->u.event.alarm_op == WG_ALARM_ROW_DELETE)
            return store_alarm_delete(store, event.alarm_id);
        if (write->u.event.alarm_op == WG_ALARM_ROW_PUT) {
            struct wg_alarm_row row = {.id = event.alarm_id,
                                       .update_count = write->u.event.alarm_update,
                                       .state = write->u.event.alarm_state,
                                       .priority = event.priority,
                                       .kind = write->u.event.alarm_kind,
                                       .body = event.body,
                                       .updated_ms = event.ts_ms};
            return store_alarm_put(store, &row);
        }
        return 0;
    }
    case WG_WRITE_READING:
        return store_add_aggregate(store, write->u.reading.device, write->u.reading.point,
                                   &write->u.reading.aggregate);
    case WG_WRITE_AUDIT:
        return store_audit(store, write->u.audit.ts_ms, write->u.audit.actor, write->u.audit.origin,
                           write->u.audit.action, write->u.audit.target, write->u.audit.detail);
    case WG_WRITE_OUTBOX_DELETE:
        for (size_t i = 0; i < write->u.deletes.count; i++)
            if (store_outbox_delete(store, write->u.deletes.seqs[i]) != 0)
                return -1;
        return 0;
    case WG_WRITE_OUTBOX:
        return store_outbox_append(store, &write->u.outbox, &write->seq);
    }
    return 0;
}

static const char *write_what(const struct wg_write *write)
{
    switch (write->type) {
    case WG_WRITE_EVENT:
        return write->u.event.event.kind;
    case WG_WRITE_READING:
        return "reading";
    case WG_WRITE_AUDIT:
        return "audit row";
    case WG_WRITE_OUTBOX_DELETE:
        return "outbox delete";
    case WG_WRITE_OUTBOX:
        return write->u.outbox.kind;
    }
    return "?";
}

/* One transaction: room first (the size bound), then every write. On
 * failure everything is rolled back and -1 returned; a refused write is
 * marked and skipped. */
static int write_transaction(struct wg_store_writer *writer, size_t count)
{
    struct wg_store *store = writer->store;
    if (store_begin(store) != 0)
        return -1;
    /* Room first: about twice what comes in, so the bound is kept at any rate. */
    /* Room first, with a quarter of the WAL's share (deleting costs more WAL
     * than writing: whole pages of many indexes), so the bound keeps up. */
    if (store_over_bound(store) &&
        store_evict(store, writer->status.usage.wal_budget_bytes / 4, &writer->evicted) != 0) {
        store_rollback(store);
        return -1;
    }
    for (size_t i = 0; i < count; i++) {
        struct wg_write *write = writer->batch[i];
        write->refused = false;
        write->seq = 0;
        if (write_one(store, write) == 0)
            continue;
        if (store_last_status(store) == WG_STORE_REFUSED) {
            write->refused = true;
            wg_err("storage: a %s was refused and is dropped (it can never be stored): %s",
                   write_what(write), store_last_error(store));
            continue;
        }
        store_rollback(store);
        return -1;
    }
    if (store_commit(store) != 0)
        return -1;
    for (size_t i = 0; i < count; i++)
        writer->batch[i]->committed = !writer->batch[i]->refused;
    return 0;
}

/* ---- housekeeping (writer thread, unlocked) ---- */

static void housekeeping_failed(struct wg_store_writer *writer, const char *what)
{
    int64_t now = mono_ms();
    if (writer->housekeeping_error_ms &&
        now - writer->housekeeping_error_ms < HOUSEKEEPING_ERROR_LOG_MS)
        return;
    writer->housekeeping_error_ms = now;
    wg_err("storage: %s: %s", what, store_last_error(writer->store));
}

static void log_eviction(struct wg_store_writer *writer, int64_t now)
{
    const struct wg_store_eviction *evicted = &writer->evicted;
    if (evicted->chunks == 0 || now - writer->evicted_logged_ms < EVICTION_LOG_MS)
        return;
    char text[400] = "";
    size_t used = 0;
    for (int c = 0; c < WG_EVICT_CLASSES && used < sizeof text; c++)
        if (evicted->rows[c])
            used += (size_t)snprintf(text + used, sizeof text - used, "%s%" PRId64 " %s",
                                     used ? ", " : "", evicted->rows[c],
                                     store_evict_class_name((enum wg_evict_class)c));
    wg_notice("storage: at its size bound: evicted the oldest %s in the last %" PRId64
              " s (%" PRId64 " of them unsent outbox rows)",
              text[0] ? text : "nothing", (now - writer->evicted_since_ms) / 1000,
              evicted->outbox_rows);
    if (evicted->exhausted)
        wg_warn("storage: at its size bound with nothing left to evict but the current alarms");
    writer->evicted = (struct wg_store_eviction){0};
    writer->evicted_since_ms = writer->evicted_logged_ms = now;
}

/* The uplink's bound on unsent rows: by bytes after every commit, by age
 * every ten seconds; each episode logged once. */
static void bound_outbox(struct wg_store_writer *writer, const struct wg_outbox_bound *bound,
                         int64_t now_wall, bool check_age, const struct wg_outbox_totals *totals)
{
    bool over_size = bound->max_bytes > 0 && totals->total_bytes > bound->max_bytes;
    bool over_age = check_age && bound->max_age_ms > 0 && totals->oldest_created_ms > 0 &&
                    totals->oldest_created_ms < now_wall - bound->max_age_ms;
    if (!over_size && !over_age) {
        if (totals->total_bytes < bound->max_bytes * 9 / 10)
            writer->cap_logged = writer->alarm_only_logged = false;
        return;
    }
    struct wg_outbox_bound applied = *bound;
    if (!check_age)
        applied.max_age_ms = 0;
    struct wg_outbox_eviction evicted;
    if (store_outbox_bound(writer->store, &applied, now_wall, &evicted) != 0) {
        housekeeping_failed(writer, "cannot bound the outbox");
        return;
    }
    int64_t by_size = evicted.by_size[WG_UPLINK_TELEMETRY] + evicted.by_size[WG_UPLINK_HEALTH];
    int64_t by_age = evicted.by_age[WG_UPLINK_TELEMETRY] + evicted.by_age[WG_UPLINK_HEALTH] +
                     evicted.by_age[WG_UPLINK_ALARM];
    if (by_age > 0)
        wg_warn("uplink: %" PRId64 " telemetry, %" PRId64 " health and %" PRId64
                " alarm messages were older than outbox_max_age_h and were dropped unsent",
                evicted.by_age[WG_UPLINK_TELEMETRY], evicted.by_age[WG_UPLINK_HEALTH],
                evicted.by_age[WG_UPLINK_ALARM]);
    if (by_size > 0 && !writer->cap_logged) {
        wg_warn("uplink: the outbox reached its cap of %lld bytes: the oldest telemetry, then "
                "health messages are dropped unsent (alarms never); logged once until it drains",
                bound->max_bytes);
        writer->cap_logged = true;
    }
    struct wg_outbox_totals after;
    if (store_outbox_totals(writer->store, &after) == 0 && after.total_bytes > bound->max_bytes &&
        bound->max_bytes > 0 && !writer->alarm_only_logged) {
        wg_crit("uplink: the outbox holds %" PRId64 " bytes of alarms alone, above its cap of "
                "%lld; alarms are never dropped for the cap (only at the storage bound), so it "
                "grows until the platform is reachable",
                after.total_bytes, bound->max_bytes);
        writer->alarm_only_logged = true;
    }
}

static void housekeeping(struct wg_store_writer *writer, bool idle)
{
    struct wg_store *store = writer->store;
    int64_t now = mono_ms();
    pthread_mutex_lock(&writer->lock);
    struct wg_outbox_bound bound = writer->outbox_bound;
    bool bound_set = writer->outbox_bound_set;
    int64_t now_wall = writer->now_wall_ms;
    pthread_mutex_unlock(&writer->lock);

    if (now >= writer->next_maintain_ms && now_wall > 0) {
        writer->next_maintain_ms = now + MAINTAIN_MS;
        if (store_maintain(store, now_wall) != 0)
            housekeeping_failed(writer, "maintenance (retention, size bound)");
    } else if (idle && store_over_bound(store) &&
               store_evict(store, writer->status.usage.wal_budget_bytes / 4, &writer->evicted) !=
                   0) {
        housekeeping_failed(writer, "keeping the size bound");
    }
    struct wg_store_usage usage;
    if (store_usage(store, &usage) != 0) {
        housekeeping_failed(writer, "reading its usage");
        return;
    }
    if (bound_set && now_wall > 0) {
        bool check_age = now >= writer->next_age_check_ms;
        if (check_age)
            writer->next_age_check_ms = now + OUTBOX_AGE_CHECK_MS;
        bound_outbox(writer, &bound, now_wall, check_age, &usage.outbox);
    }
    /* The WAL is part of the bound: truncated when it outgrew its share, and
     * when writing has paused, so an idle database is one file. */
    if (store_wal_bytes(store) > usage.wal_budget_bytes / 8 ||
        usage.wal_bytes > usage.wal_budget_bytes ||
        (idle && usage.wal_bytes > 0 && now - writer->last_write_ms >= IDLE_TRUNCATE_MS)) {
        if (store_checkpoint(store, true, NULL) != 0)
            housekeeping_failed(writer, "checkpointing the WAL");
    }
    if (store_usage(store, &usage) != 0) {
        housekeeping_failed(writer, "reading its usage");
        return;
    }
    log_eviction(writer, now);
    pthread_mutex_lock(&writer->lock);
    writer->status.usage = usage;
    pthread_mutex_unlock(&writer->lock);
    writer->next_housekeeping_ms = now + HOUSEKEEPING_MS;
}

/* ---- the thread ---- */

static void wake_submitter(struct wg_store_writer *writer)
{
    uint64_t one = 1;
    if (write(writer->event_fd, &one, sizeof one) < 0 && errno != EAGAIN)
        wg_err("storage: the writer cannot signal the core: %s", strerror(errno));
}

static void wait_until(struct wg_store_writer *writer, int64_t until_ms)
{
    struct timespec deadline = {.tv_sec = until_ms / 1000, .tv_nsec = (until_ms % 1000) * 1000000};
    pthread_cond_timedwait(&writer->wake, &writer->lock, &deadline);
}

/* Moves the first `count` queued writes to the handed-back list. Locked. */
static void hand_back(struct wg_store_writer *writer, size_t count)
{
    struct wg_write *first = writer->head, *last = writer->batch[count - 1];
    writer->head = last->next;
    if (!writer->head)
        writer->tail = NULL;
    last->next = NULL;
    if (writer->done_tail)
        writer->done_tail->next = first;
    else
        writer->done_head = first;
    writer->done_tail = last;
    for (size_t i = 0; i < count; i++) {
        const struct wg_write *write = writer->batch[i];
        writer->status.held_writes--;
        writer->status.held_bytes -= write->bytes;
        if (write->type == WG_WRITE_EVENT) {
            writer->status.waiting_events--;
            if (write->committed)
                writer->status.committed_events++;
        }
    }
}

/* The WAL is part of the bound. A TRUNCATE checkpoint gives way to a reader
 * on an older snapshot for the busy timeout; one that could not truncate a
 * WAL past its share holds the writes back (they wait in memory, within
 * their own bound; the displays never wait for them) and is tried again
 * until it succeeds. True while the WAL is still past its share. Unlocked. */
static bool wal_past_share(struct wg_store_writer *writer, int64_t budget)
{
    int64_t wal_bytes = 0;
    if (store_checkpoint(writer->store, true, &wal_bytes) != 0)
        wg_err("storage: %s", store_last_error(writer->store));
    bool past = wal_bytes > budget;
    int64_t now = mono_ms();
    pthread_mutex_lock(&writer->lock);
    writer->status.usage.wal_bytes = wal_bytes;
    if (past && !writer->wal_blocked_since_ms) {
        writer->wal_blocked_since_ms = now;
        wg_warn(
            "storage: the WAL holds %lld bytes, past its share of %lld: a reader keeps an older "
            "snapshot, so it cannot be truncated; writes wait for it",
            (long long)wal_bytes, (long long)budget);
    } else if (past && !writer->wal_failing &&
               now - writer->wal_blocked_since_ms >= WAL_BLOCKED_FAILING_MS) {
        /* Nothing is journaled meanwhile: the displays show it (storage alarm, "locked"). */
        writer->wal_failing = writer->status.failing = true;
        writer->status.failures++;
        writer->status.status = WG_STORE_LOCKED;
        snprintf(writer->status.message, sizeof writer->status.message,
                 "database %s: its WAL holds %lld bytes, past its share of %lld, and cannot be "
                 "truncated while another connection reads an older snapshot",
                 store_path(writer->store), (long long)wal_bytes, (long long)budget);
        wake_submitter(writer);
    } else if (!past && writer->wal_blocked_since_ms) {
        wg_notice("storage: the WAL is truncated again; writes held back for %lld ms go on",
                  (long long)(now - writer->wal_blocked_since_ms));
        writer->wal_blocked_since_ms = 0;
        if (writer->wal_failing) {
            writer->wal_failing = writer->status.failing = false;
            writer->status.status = WG_STORE_OK;
            writer->status.message[0] = '\0';
            writer->retry_at_ms = 0;
            wake_submitter(writer);
        }
    }
    pthread_mutex_unlock(&writer->lock);
    return past;
}

static void *writer_main(void *arg)
{
    struct wg_store_writer *writer = arg;
    pthread_mutex_lock(&writer->lock);
    for (;;) {
        int64_t now = mono_ms();
        bool failing = writer->status.failing;
        bool may_write =
            writer->head && (!failing || now >= writer->retry_at_ms || writer->stopping);
        if (!may_write) {
            if (writer->stopping)
                break;
            int64_t until = writer->next_housekeeping_ms;
            if (writer->head && failing && writer->retry_at_ms < until)
                until = writer->retry_at_ms;
            if (now < until)
                wait_until(writer, until);
            if (mono_ms() >= writer->next_housekeeping_ms && !writer->stopping) {
                pthread_mutex_unlock(&writer->lock);
                housekeeping(writer, true);
                pthread_mutex_lock(&writer->lock);
            }
            continue;
        }
        int64_t wal_budget = writer->status.usage.wal_budget_bytes;
        if (wal_budget > 0 && !writer->stopping && writer->status.usage.wal_bytes > wal_budget) {
            pthread_mutex_unlock(&writer->lock);
            bool past = wal_past_share(writer, wal_budget);
            pthread_mutex_lock(&writer->lock);
            if (past && !writer->stopping) {
                wait_until(writer, mono_ms() + WAL_BLOCKED_RETRY_MS);
                continue;
            }
        }
        /* The transaction's writes, oldest first, copied so that what is
         * queued meanwhile (or dropped) never touches what is being written. */
        size_t count = 0, bytes = 0;
        /* A transaction writes several times its bytes to the WAL (indexes,
         * whole pages): sized by what the last ones wrote, its writes add an
         * eighth of the WAL's share and its eviction a quarter; the WAL is
         * truncated past an eighth. Half the share, for estimates that are
         * off by twice. */
        int64_t wal_eighth = writer->status.usage.wal_budget_bytes / 8;
        int64_t max_bytes = (int64_t)((double)wal_eighth / writer->wal_ratio);
        if (max_bytes <= 0 || max_bytes > MAX_TX_BYTES)
            max_bytes = MAX_TX_BYTES;
        /* ... and, before any was measured, by a page per write (a random
         * index leaf: a reading, a UUID) and its bytes three times. */
        int64_t max_pages = wal_eighth / PAGE_BYTES, pages = 0;
        for (struct wg_write *w = writer->head; w && count < MAX_TX_WRITES; w = w->next) {
            int64_t write_pages = 1 + 3 * (int64_t)w->bytes / PAGE_BYTES;
            if (count > 0 &&
                (bytes + w->bytes > (size_t)max_bytes || pages + write_pages > max_pages))
                break;
            writer->batch[count++] = w;
            bytes += w->bytes;
            pages += write_pages;
        }
        writer->in_progress = count;
        pthread_mutex_unlock(&writer->lock);

        int64_t started = mono_ms();
        int64_t wal_before = store_wal_bytes(writer->store);
        int rc = write_transaction(writer, count);
        int64_t took = mono_ms() - started;
        if (rc == 0 && bytes > 0) {
            int64_t wal_after = store_wal_bytes(writer->store);
            int64_t grown = wal_after >= wal_before ? wal_after - wal_before : wal_after;
            /* Up at once, down slowly: a transaction that touched more pages
             * than the last ones is what the next may do too. */
            double measured = (double)grown / (double)bytes;
            writer->wal_ratio =
                measured > writer->wal_ratio ? measured : 0.8 * writer->wal_ratio + 0.2 * measured;
            if (writer->wal_ratio < 1)
                writer->wal_ratio = 1;
            if (writer->wal_ratio > 50)
                writer->wal_ratio = 50;
        }
        enum wg_store_status status = rc == 0 ? WG_STORE_OK : store_last_status(writer->store);
        char message[768] = "";
        if (rc != 0)
            snprintf(message, sizeof message, "%s", store_last_error(writer->store));

        pthread_mutex_lock(&writer->lock);
        writer->in_progress = 0;
        writer->status.last_transaction_ms = took;
        if (took > writer->status.longest_transaction_ms)
            writer->status.longest_transaction_ms = took;
        if (rc == 0) {
            hand_back(writer, count);
            writer->status.transactions++;
            writer->status.failing = false;
            writer->status.status = WG_STORE_OK;
            writer->backoff_ms = RETRY_FIRST_MS;
            writer->last_write_ms = mono_ms();
            wake_submitter(writer);
            pthread_mutex_unlock(&writer->lock);
            housekeeping(writer, false);
            pthread_mutex_lock(&writer->lock);
            continue;
        }
        writer->status.failing = true;
        writer->status.failures++;
        writer->status.status = status == WG_STORE_OK ? WG_STORE_IO : status;
        snprintf(writer->status.message, sizeof writer->status.message, "%s", message);
        writer->retry_at_ms = mono_ms() + writer->backoff_ms;
        writer->backoff_ms =
            writer->backoff_ms * 2 > RETRY_MAX_MS ? RETRY_MAX_MS : writer->backoff_ms * 2;
        wake_submitter(writer);
        if (writer->stopping)
            break; /* that was the last try */
    }
    pthread_mutex_unlock(&writer->lock);
    return NULL;
}

/* ---- the submitter's side ---- */

struct wg_store_writer *writer_new(struct wg_store *store, const struct wg_writer_options *options)
{
    struct wg_store_writer *writer = calloc(1, sizeof *writer);
    if (!writer) {
        store_close(store);
        return NULL;
    }
    writer->store = store;
    store_trust_json(store, true); /* every body it gets was made by json_dumps */
    store_own_checkpoints(store);  /* housekeeping truncates the WAL past half its share */
    writer->event_fd = -1;
    writer->max_held_writes =
        options && options->max_held_writes ? options->max_held_writes : DEFAULT_MAX_HELD_WRITES;
    writer->max_held_bytes =
        options && options->max_held_bytes ? options->max_held_bytes : DEFAULT_MAX_HELD_BYTES;
    writer->backoff_ms = RETRY_FIRST_MS;
    writer->wal_ratio = 4;
    writer->batch = calloc(MAX_TX_WRITES, sizeof *writer->batch);
    writer->event_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    pthread_condattr_t attr;
    bool ok = writer->batch && writer->event_fd >= 0 && pthread_condattr_init(&attr) == 0;
    if (ok) {
        pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
        pthread_cond_init(&writer->wake, &attr);
        pthread_condattr_destroy(&attr);
        pthread_mutex_init(&writer->lock, NULL);
    }
    if (!ok || store_usage(store, &writer->status.usage) != 0) {
        wg_crit("storage: cannot set up the writer: %s",
                ok ? store_last_error(store) : "out of memory or no eventfd");
        if (ok) {
            pthread_cond_destroy(&writer->wake);
            pthread_mutex_destroy(&writer->lock);
        }
        if (writer->event_fd >= 0)
            close(writer->event_fd);
        free(writer->batch);
        store_close(store);
        free(writer);
        return NULL;
    }
    return writer;
}

int writer_start(struct wg_store_writer *writer)
{
    int64_t now = mono_ms();
    writer->next_housekeeping_ms = now + HOUSEKEEPING_MS;
    writer->next_maintain_ms = now + HOUSEKEEPING_MS; /* the first soon after start */
    writer->last_write_ms = writer->evicted_since_ms = now;
    int rc = pthread_create(&writer->thread, NULL, writer_main, writer);
    if (rc != 0) {
        wg_crit("storage: cannot start the writer thread: %s", strerror(rc));
        return -1;
    }
    writer->started = true;
    return 0;
}

void writer_stop(struct wg_store_writer *writer)
{
    if (!writer || !writer->started || writer->stopped)
        return;
    pthread_mutex_lock(&writer->lock);
    writer->stopping = true;
    pthread_cond_signal(&writer->wake);
    pthread_mutex_unlock(&writer->lock);
    pthread_join(writer->thread, NULL);
    writer->stopped = true;
}

void writer_free(struct wg_store_writer *writer)
{
    if (!writer)
        return;
    writer_stop(writer);
    wg_write_free_list(writer->head);
    wg_write_free_list(writer->done_head);
    store_close(writer->store);
    close(writer->event_fd);
    pthread_cond_destroy(&writer->wake);
    pthread_mutex_destroy(&writer->lock);
    free(writer->batch);
    free(writer);
}

/* Unlinks held writes, least valuable and oldest first, until 90 % of the
 * bound is held; never those being written. Locked. Returns them. */
static struct wg_write *drop_to_bound(struct wg_store_writer *writer)
{
    size_t target_writes = writer->max_held_writes * 9 / 10;
    size_t target_bytes = writer->max_held_bytes * 9 / 10;
    struct wg_write *dropped = NULL, *dropped_tail = NULL;
    for (int c = 0; c < WG_CLASS_KEEP; c++) {
        if (writer->status.held_writes <= target_writes &&
            writer->status.held_bytes <= target_bytes)
            break;
        /* `link` points at the next pointer that leads to the candidate. */
        struct wg_write **link = &writer->head;
        struct wg_write *last_kept = NULL;
        for (size_t skip = 0; skip < writer->in_progress && *link; skip++) {
            last_kept = *link;
            link = &(*link)->next;
        }
        while (*link && (writer->status.held_writes > target_writes ||
                         writer->status.held_bytes > target_bytes)) {
            struct wg_write *write = *link;
            if ((int)write->write_class != c) {
                last_kept = write;
                link = &write->next;
                continue;
            }
            *link = write->next;
            if (writer->tail == write)
                writer->tail = last_kept;
            write->next = NULL;
            if (dropped_tail)
                dropped_tail->next = write;
            else
                dropped = write;
            dropped_tail = write;
            writer->status.held_writes--;
            writer->status.held_bytes -= write->bytes;
            if (write->type == WG_WRITE_EVENT)
                writer->status.waiting_events--;
            writer->status.dropped[c]++;
        }
    }
    return dropped;
}

struct wg_write *writer_submit(struct wg_store_writer *writer, struct wg_write *first)
{
    if (!first)
        return NULL;
    struct wg_write *last = first;
    pthread_mutex_lock(&writer->lock);
    for (struct wg_write *w = first; w; w = w->next) {
        writer->status.held_writes++;
        writer->status.held_bytes += w->bytes;
        if (w->type == WG_WRITE_EVENT)
            writer->status.waiting_events++;
        last = w;
    }
    if (writer->tail)
        writer->tail->next = first;
    else
        writer->head = first;
    writer->tail = last;
    struct wg_write *dropped = NULL;
    if (writer->status.held_writes > writer->max_held_writes ||
        writer->status.held_bytes > writer->max_held_bytes)
        dropped = drop_to_bound(writer);
    pthread_cond_signal(&writer->wake);
    pthread_mutex_unlock(&writer->lock);
    return dropped;
}

int writer_fd(const struct wg_store_writer *writer)
{
    return writer->event_fd;
}

struct wg_write *writer_take(struct wg_store_writer *writer)
{
    uint64_t count;
    if (read(writer->event_fd, &count, sizeof count) < 0 && errno != EAGAIN)
        wg_err("storage: reading the writer's eventfd: %s", strerror(errno));
    pthread_mutex_lock(&writer->lock);
    struct wg_write *first = writer->done_head;
    writer->done_head = writer->done_tail = NULL;
    pthread_mutex_unlock(&writer->lock);
    return first;
}

struct wg_write *writer_take_unwritten(struct wg_store_writer *writer)
{
    pthread_mutex_lock(&writer->lock);
    struct wg_write *first = writer->stopped || !writer->started ? writer->head : NULL;
    if (first) {
        writer->head = writer->tail = NULL;
        writer->status.held_writes = writer->status.held_bytes = 0;
        writer->status.waiting_events = 0;
    }
    pthread_mutex_unlock(&writer->lock);
    return first;
}

void writer_status(struct wg_store_writer *writer, struct wg_writer_status *status)
{
    pthread_mutex_lock(&writer->lock);
    *status = writer->status;
    pthread_mutex_unlock(&writer->lock);
}

void writer_set_outbox_bound(struct wg_store_writer *writer, const struct wg_outbox_bound *bound)
{
    pthread_mutex_lock(&writer->lock);
    writer->outbox_bound_set = bound != NULL;
    if (bound)
        writer->outbox_bound = *bound;
    pthread_mutex_unlock(&writer->lock);
}

void writer_set_now(struct wg_store_writer *writer, int64_t wall_ms)
{
    pthread_mutex_lock(&writer->lock);
    writer->now_wall_ms = wall_ms;
    pthread_mutex_unlock(&writer->lock);
}
