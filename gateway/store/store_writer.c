/* The store writer's submitter side (the core thread): creating, starting
 * and stopping the writer, queueing writes under the memory bound (the
 * least valuable dropped first), taking back what was committed, and the
 * status; see store_writer.h. The thread itself is writer_thread.c. */
#include "store/writer_internal.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "common/log.h"
#include "store/store_call.h"

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
    writer->calls = options ? options->calls : NULL;
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

/* store_call.h: a call was queued. */
static void wake_for_calls(void *ctx)
{
    struct wg_store_writer *writer = ctx;
    pthread_mutex_lock(&writer->lock);
    pthread_cond_signal(&writer->wake);
    pthread_mutex_unlock(&writer->lock);
}

int writer_start(struct wg_store_writer *writer)
{
    int64_t now = writer_mono_ms();
    writer->next_housekeeping_ms = now + HOUSEKEEPING_MS;
    writer->next_maintain_ms = now + HOUSEKEEPING_MS; /* the first soon after start */
    writer->last_write_ms = writer->evicted_since_ms = now;
    store_calls_serve(writer->calls, wake_for_calls, writer);
    int rc = pthread_create(&writer->thread, NULL, writer_main, writer);
    if (rc != 0) {
        wg_crit("storage: cannot start the writer thread: %s", strerror(rc));
        store_calls_stop(writer->calls, writer->store); /* answers what was queued meanwhile */
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
            writer->status.dropped[c] += wg_write_rows(write);
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
