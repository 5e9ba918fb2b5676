/* Bounded MPSC queue with an eventfd for the consumer; see queue.h. */
#include "core/queue.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

struct wg_queue {
    pthread_mutex_t lock;
    pthread_cond_t not_full;
    struct wg_msg *ring;
    size_t capacity;
    size_t head; /* next to pop */
    size_t depth;
    bool closed;
    /* Readable exactly while messages wait (depth > 0): written by the push
     * that makes the queue non-empty, read by the pop that empties it, both
     * under the lock, so a burst costs one write(2), not one each. */
    int event_fd;
    size_t high_water;
    uint64_t pushed;
    uint64_t producer_waits;
};

struct wg_queue *queue_new(size_t capacity)
{
    if (capacity == 0)
        return NULL;
    struct wg_queue *queue = calloc(1, sizeof *queue);
    if (!queue)
        return NULL;
    queue->ring = calloc(capacity, sizeof *queue->ring);
    queue->event_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (!queue->ring || queue->event_fd < 0) {
        if (queue->event_fd >= 0)
            close(queue->event_fd);
        free(queue->ring);
        free(queue);
        return NULL;
    }
    queue->capacity = capacity;
    pthread_mutex_init(&queue->lock, NULL);
    pthread_cond_init(&queue->not_full, NULL);
    return queue;
}

void queue_free(struct wg_queue *queue)
{
    if (!queue)
        return;
    close(queue->event_fd);
    pthread_cond_destroy(&queue->not_full);
    pthread_mutex_destroy(&queue->lock);
    free(queue->ring);
    free(queue);
}

/* Under the lock, as the queue becomes non-empty. */
static void signal_consumer(struct wg_queue *queue)
{
    uint64_t one = 1;
    /* EAGAIN would mean a saturated counter: the consumer is awake anyway. */
    while (write(queue->event_fd, &one, sizeof one) < 0 && errno == EINTR)
        ;
}

/* Under the lock, as the queue becomes empty. */
static void take_signal(struct wg_queue *queue)
{
    uint64_t drained;
    while (read(queue->event_fd, &drained, sizeof drained) < 0 && errno == EINTR)
        ;
}

enum wg_push_result queue_push_ex(struct wg_queue *queue, const struct wg_msg *msg, bool wait,
                                  const atomic_bool *cancel)
{
    pthread_mutex_lock(&queue->lock);
    bool full = queue->depth == queue->capacity && !queue->closed;
    if (full && wait)
        queue->producer_waits++;
    while (wait && queue->depth == queue->capacity && !queue->closed &&
           !(cancel && atomic_load(cancel)))
        pthread_cond_wait(&queue->not_full, &queue->lock);
    if (queue->closed || (queue->depth == queue->capacity && cancel && atomic_load(cancel))) {
        pthread_mutex_unlock(&queue->lock);
        return WG_PUSH_CLOSED;
    }
    if (queue->depth == queue->capacity) {
        pthread_mutex_unlock(&queue->lock);
        return WG_PUSH_FULL;
    }
    queue->ring[(queue->head + queue->depth) % queue->capacity] = *msg;
    queue->depth++;
    queue->pushed++;
    if (queue->depth > queue->high_water)
        queue->high_water = queue->depth;
    if (queue->depth == 1)
        signal_consumer(queue);
    pthread_mutex_unlock(&queue->lock);
    return WG_PUSH_OK;
}

int queue_push(struct wg_queue *queue, const struct wg_msg *msg)
{
    return queue_push_ex(queue, msg, true, NULL) == WG_PUSH_OK ? 0 : -1;
}

void queue_wake_producers(struct wg_queue *queue)
{
    pthread_mutex_lock(&queue->lock);
    pthread_cond_broadcast(&queue->not_full);
    pthread_mutex_unlock(&queue->lock);
}

size_t queue_pop_batch(struct wg_queue *queue, struct wg_msg *out, size_t max)
{
    pthread_mutex_lock(&queue->lock);
    size_t count = queue->depth < max ? queue->depth : max;
    for (size_t i = 0; i < count; i++)
        out[i] = queue->ring[(queue->head + i) % queue->capacity];
    queue->head = (queue->head + count) % queue->capacity;
    queue->depth -= count;
    if (count > 0 && queue->depth == 0)
        take_signal(queue); /* else the fd stays readable for what is left */
    if (count > 0)
        pthread_cond_broadcast(&queue->not_full);
    pthread_mutex_unlock(&queue->lock);
    return count;
}

int queue_fd(const struct wg_queue *queue)
{
    return queue->event_fd;
}

void queue_close(struct wg_queue *queue)
{
    pthread_mutex_lock(&queue->lock);
    queue->closed = true;
    pthread_cond_broadcast(&queue->not_full);
    pthread_mutex_unlock(&queue->lock);
}

void queue_reopen(struct wg_queue *queue)
{
    pthread_mutex_lock(&queue->lock);
    queue->closed = false;
    pthread_mutex_unlock(&queue->lock);
}

void queue_stats(struct wg_queue *queue, struct wg_queue_stats *stats)
{
    pthread_mutex_lock(&queue->lock);
    stats->depth = queue->depth;
    stats->capacity = queue->capacity;
    stats->high_water = queue->high_water;
    stats->pushed = queue->pushed;
    stats->producer_waits = queue->producer_waits;
    pthread_mutex_unlock(&queue->lock);
}
