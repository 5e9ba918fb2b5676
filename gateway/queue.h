/* The bounded hand-over queue from driver threads to the core thread.
 *
 * Many producers (driver threads, through the plugin host), one consumer (the
 * core loop). When the queue is full a producer waits: readings wait rather
 * than vanish. The consumer sleeps in poll(2) on queue_fd(), an eventfd that
 * becomes readable whenever messages are waiting. queue_close() wakes every
 * waiting producer (their push then fails) so drivers can be stopped even if
 * the core no longer drains. */
#ifndef WG_QUEUE_H
#define WG_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum wg_msg_type {
    WG_MSG_READING,
    WG_MSG_HEALTH,
    WG_MSG_WRITE_RESULT,
    WG_MSG_COUNTER,
};

struct wg_msg {
    enum wg_msg_type type;
    uint32_t device; /* the core's device index */
    uint32_t point;  /* index into the device's profile points */
    double value;    /* reading value, health state, or counter increment */
    int64_t ts_ms;
    uint64_t request_id; /* write results */
    bool ok;             /* write results */
    char text[64];       /* health reason, write failure, counter name */
};

struct wg_queue;

struct wg_queue *queue_new(size_t capacity);
void queue_free(struct wg_queue *queue);

/* Blocks while full. Returns 0, or -1 once the queue is closed. */
int queue_push(struct wg_queue *queue, const struct wg_msg *msg);
/* Moves up to `max` messages into `out` without blocking; returns how many. */
size_t queue_pop_batch(struct wg_queue *queue, struct wg_msg *out, size_t max);
/* Readable (POLLIN) while messages are waiting. */
int queue_fd(const struct wg_queue *queue);
/* Refuses further pushes and wakes blocked producers. queue_reopen undoes it. */
void queue_close(struct wg_queue *queue);
void queue_reopen(struct wg_queue *queue);

struct wg_queue_stats {
    size_t depth;
    size_t capacity;
    size_t high_water;
    uint64_t pushed;
    uint64_t producer_waits; /* pushes that had to wait for room */
};
void queue_stats(struct wg_queue *queue, struct wg_queue_stats *stats);

#endif
