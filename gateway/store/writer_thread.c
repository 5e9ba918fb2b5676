/* The store writer thread: takes the queued writes in order, commits many
 * to a transaction, hands them back through the eventfd, and backs off and
 * retries when storage fails; housekeeping runs between transactions. */
#include "store/writer_internal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "store/store_call.h"

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
        for (size_t i = 0; i < write->u.reading.count; i++)
            if (store_add_aggregate(store, write->u.reading.device,
                                    write->u.reading.points[i].point,
                                    &write->u.reading.points[i].aggregate) != 0)
                return -1;
        return 0;
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

/* Whether a transaction's commit must be fsync'd: when it holds anything
 * but telemetry, readings and outbox deletes (events and audit rows are
 * committed before anything is said of them), and at least once a second
 * whatever it holds, so a power cut loses at most the last second of
 * telemetry and readings (a crash of the daemon loses none: the WAL is
 * written either way). */
static bool needs_fsync(const struct wg_store_writer *writer, size_t count, int64_t now_ms)
{
    if (now_ms - writer->last_fsync_ms >= FSYNC_AT_LEAST_MS)
        return true;
    for (size_t i = 0; i < count; i++) {
        const struct wg_write *write = writer->batch[i];
        bool relaxed = write->type == WG_WRITE_READING || write->type == WG_WRITE_OUTBOX_DELETE ||
                       (write->type == WG_WRITE_OUTBOX && write->write_class == WG_CLASS_TELEMETRY);
        if (!relaxed)
            return true;
    }
    return false;
}

/* One transaction: room first (the size bound), then every write. On
 * failure everything is rolled back and -1 returned; a refused write is
 * marked and skipped. */
static int write_transaction(struct wg_store_writer *writer, size_t count)
{
    struct wg_store *store = writer->store;
    int64_t now = writer_mono_ms();
    bool fsync_at_commit = needs_fsync(writer, count, now);
    if (store_set_fsync_at_commit(store, fsync_at_commit) != 0 || store_begin(store) != 0)
        return -1;
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
    if (fsync_at_commit)
        writer->last_fsync_ms = now;
    for (size_t i = 0; i < count; i++)
        writer->batch[i]->committed = !writer->batch[i]->refused;
    return 0;
}

void writer_wake_submitter(struct wg_store_writer *writer)
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

void *writer_main(void *arg)
{
    struct wg_store_writer *writer = arg;
    pthread_mutex_lock(&writer->lock);
    for (;;) {
        int64_t now = writer_mono_ms();
        int64_t calls_at = store_calls_next_ms(writer->calls, now);
        if (calls_at <= now && !writer->stopping) { /* before the next transaction */
            pthread_mutex_unlock(&writer->lock);
            /* Others' work (auth's) is fsync'd at its commit, as always. */
            store_set_fsync_at_commit(writer->store, true);
            store_calls_run(writer->calls, writer->store);
            pthread_mutex_lock(&writer->lock);
            continue;
        }
        bool failing = writer->status.failing;
        bool may_write =
            writer->head && (!failing || now >= writer->retry_at_ms || writer->stopping);
        if (!may_write) {
            if (writer->stopping)
                break;
            int64_t until = writer->next_housekeeping_ms;
            if (writer->head && failing && writer->retry_at_ms < until)
                until = writer->retry_at_ms;
            if (calls_at < until)
                until = calls_at;
            if (now < until)
                wait_until(writer, until);
            if (writer_mono_ms() >= writer->next_housekeeping_ms && !writer->stopping) {
                pthread_mutex_unlock(&writer->lock);
                writer_housekeeping(writer, true);
                pthread_mutex_lock(&writer->lock);
            }
            continue;
        }
        int64_t wal_budget = writer->status.usage.wal_budget_bytes;
        if (wal_budget > 0 && !writer->stopping && writer->status.usage.wal_bytes > wal_budget) {
            pthread_mutex_unlock(&writer->lock);
            bool past = writer_wal_past_share(writer, wal_budget);
            pthread_mutex_lock(&writer->lock);
            if (past && !writer->stopping) {
                wait_until(writer, writer_mono_ms() + WAL_BLOCKED_RETRY_MS);
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

        int64_t started = writer_mono_ms();
        int64_t wal_before = store_wal_bytes(writer->store);
        int rc = write_transaction(writer, count);
        int64_t took = writer_mono_ms() - started;
        /* The WAL as this transaction left it: the hold above acts on it at
         * once, not at the next housekeeping (a second of back-to-back
         * transactions, a flush of every readings bucket, grew it to five
         * times its share). */
        int64_t wal_after = store_wal_bytes(writer->store);
        if (rc == 0 && bytes > 0) {
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
        if (wal_after >= 0)
            writer->status.usage.wal_bytes = wal_after;
        writer->status.last_transaction_ms = took;
        if (took > writer->status.longest_transaction_ms)
            writer->status.longest_transaction_ms = took;
        if (rc == 0) {
            hand_back(writer, count);
            writer->status.transactions++;
            writer->status.failing = false;
            writer->status.status = WG_STORE_OK;
            writer->backoff_ms = RETRY_FIRST_MS;
            writer->last_write_ms = writer_mono_ms();
            writer_wake_submitter(writer);
            pthread_mutex_unlock(&writer->lock);
            writer_housekeeping(writer, false);
            pthread_mutex_lock(&writer->lock);
            continue;
        }
        writer->status.failing = true;
        writer->status.failures++;
        writer->status.status = status == WG_STORE_OK ? WG_STORE_IO : status;
        snprintf(writer->status.message, sizeof writer->status.message, "%s", message);
        writer->retry_at_ms = writer_mono_ms() + writer->backoff_ms;
        writer->backoff_ms =
            writer->backoff_ms * 2 > RETRY_MAX_MS ? RETRY_MAX_MS : writer->backoff_ms * 2;
        writer_wake_submitter(writer);
        if (writer->stopping)
            break; /* that was the last try */
    }
    pthread_mutex_unlock(&writer->lock);
    store_set_fsync_at_commit(writer->store, true);
    store_calls_stop(writer->calls, writer->store);
    return NULL;
}
