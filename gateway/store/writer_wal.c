/* The store writer's WAL hold: while a reader's old snapshot keeps the WAL
 * from being truncated past its share, writes wait (in memory, within their
 * own bound) and the checkpoint is tried again until it succeeds. */
#include "store/writer_internal.h"

#include <stdio.h>

#include "common/log.h"

/* The WAL is part of the bound. A TRUNCATE checkpoint gives way to a reader
 * on an older snapshot for the busy timeout; one that could not truncate a
 * WAL past its share holds the writes back (they wait in memory, within
 * their own bound; the displays never wait for them) and is tried again
 * every WAL_BLOCKED_RETRY_MS until it succeeds (within that time of
 * housekeeping's own TRUNCATE, that one counts as the try). True while the
 * WAL is still past its share. Unlocked. */
bool writer_wal_past_share(struct wg_store_writer *writer, int64_t budget)
{
    int64_t wal_bytes = 0;
    int64_t now = writer_mono_ms();
    if (now - writer->wal_truncated_ms < WAL_BLOCKED_RETRY_MS) {
        /* Housekeeping's TRUNCATE has just failed to bring the WAL within
         * its share (its measure is in the status): another one at once
         * would only wait out the busy timeout again. Hold, and try again
         * WAL_BLOCKED_RETRY_MS on. */
        pthread_mutex_lock(&writer->lock);
        wal_bytes = writer->status.usage.wal_bytes;
        pthread_mutex_unlock(&writer->lock);
    } else if (store_checkpoint(writer->store, true, &wal_bytes) != 0) {
        wg_err("storage: %s", store_last_error(writer->store));
    }
    bool past = wal_bytes > budget;
    now = writer_mono_ms();
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
        writer_wake_submitter(writer);
    } else if (!past && writer->wal_blocked_since_ms) {
        wg_notice("storage: the WAL is truncated again; writes held back for %lld ms go on",
                  (long long)(now - writer->wal_blocked_since_ms));
        writer->wal_blocked_since_ms = 0;
        if (writer->wal_failing) {
            writer->wal_failing = writer->status.failing = false;
            writer->status.status = WG_STORE_OK;
            writer->status.message[0] = '\0';
            writer->retry_at_ms = 0;
            writer_wake_submitter(writer);
        }
    }
    pthread_mutex_unlock(&writer->lock);
    return past;
}
