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

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum wg_msg_type {
    WG_MSG_READING,
    WG_MSG_HEALTH,
    WG_MSG_WRITE_RESULT,
    WG_MSG_COUNTER,
    WG_MSG_POLL_DONE,
};

struct wg_msg {
    enum wg_msg_type type;
    /* Who posted it: NULL when device and point are the core's indexes; else
     * a bus of the plugin host, whose own indexes they are until
     * plugin_host_translate() turns them into the core's (at pop time, so a
     * reload in between cannot misplace them). */
    const void *origin;
    uint32_t device;
    uint32_t point;
    double value; /* reading value, health state, or counter increment */
    int64_t ts_ms;
    uint64_t request_id; /* write results */
    bool ok;             /* write results */
    int code;            /* health: enum wg_health_reason */
    char text[64];       /* health reason, write failure, counter name */
};

struct wg_queue;

struct wg_queue *queue_new(size_t capacity);
void queue_free(struct wg_queue *queue);

/* Blocks while full. Returns 0, or -1 once the queue is closed. */
int queue_push(struct wg_queue *queue, const struct wg_msg *msg);

enum wg_push_result { WG_PUSH_OK = 0, WG_PUSH_CLOSED = -1, WG_PUSH_FULL = -2 };
/* The general push. When full: returns WG_PUSH_FULL at once if !wait; else
 * waits until there is room, the queue is closed, or *cancel (may be NULL)
 * is true and queue_wake_producers() was called after setting it. */
enum wg_push_result queue_push_ex(struct wg_queue *queue, const struct wg_msg *msg, bool wait,
                                  const atomic_bool *cancel);
/* Wakes every waiting producer so it re-checks its cancel flag. */
void queue_wake_producers(struct wg_queue *queue);
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
