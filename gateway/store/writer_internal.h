/* What the files of the store writer share and nothing else may see: the
 * writer's state (struct wg_store_writer) and the calls between its parts.
 * Only `lock` and what it guards are shared with other threads; the store
 * and the fields marked "the thread's own" are the writer thread's. */
#ifndef WG_WRITER_INTERNAL_H
#define WG_WRITER_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "store/store_writer.h"

#define DEFAULT_MAX_HELD_WRITES   50000
#define DEFAULT_MAX_HELD_BYTES    (16u << 20)
#define MAX_TX_WRITES             4096
#define MAX_TX_BYTES              (8 << 20)
#define PAGE_BYTES                4096
#define EVICT_CHUNKS_PER_TX       32
#define RETRY_FIRST_MS            100
#define RETRY_MAX_MS              2000
#define HOUSEKEEPING_MS           1000
#define FSYNC_AT_LEAST_MS         1000 /* telemetry-only commits: one fsync'd a second at least */
#define MAINTAIN_MS               (10 * 60 * 1000)
#define OUTBOX_AGE_CHECK_MS       (10 * 1000)
#define IDLE_TRUNCATE_MS          2000  /* the WAL is truncated after this long without writes */
#define WAL_BLOCKED_RETRY_MS      50    /* a WAL past its share is checkpointed again this often */
#define WAL_BLOCKED_FAILING_MS    2000  /* ... and held writes back this long: storage failing */
#define EVICTION_LOG_MS           60000 /* eviction is summed up in the log at most this often */
#define HOUSEKEEPING_ERROR_LOG_MS 60000

struct wg_store_writer {
    struct wg_store *store; /* the thread's once started */
    size_t max_held_writes, max_held_bytes;
    pthread_t thread;
    bool started, stopped;
    int event_fd;
    struct wg_store_calls *calls; /* store_call.h; not owned */

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
    int64_t last_fsync_ms; /* the last commit fsync'd (write_transaction) */
    struct wg_store_eviction evicted; /* since the last log line */
    int64_t evicted_since_ms, evicted_logged_ms;
    bool cap_logged, alarm_only_logged;
    int64_t wal_blocked_since_ms; /* writes wait for a WAL past its share; 0 = not */
    bool wal_failing;             /* ... long enough to be reported as a storage failure */
    int64_t wal_truncated_ms; /* when housekeeping last ran a TRUNCATE (then measured the WAL) */
    int64_t housekeeping_error_ms;
};

static inline int64_t writer_mono_ms(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

/* The thread (writer_thread.c). */
void *writer_main(void *arg);
/* Wakes the core through the eventfd. */
void writer_wake_submitter(struct wg_store_writer *writer);
/* Between transactions, and when idle (writer_housekeeping.c). Unlocked. */
void writer_housekeeping(struct wg_store_writer *writer, bool idle);
/* The WAL hold (writer_wal.c): true while the WAL is still past `budget`. Unlocked. */
bool writer_wal_past_share(struct wg_store_writer *writer, int64_t budget);

#endif
