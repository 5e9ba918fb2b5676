/* Unit tests of the bounded hand-over queue: order, the eventfd wake-up, and
 * producers that wait (never drop) when the queue is full. */
#include "testutil.h"

#include <poll.h>
#include <pthread.h>
#include <unistd.h>

#include "core/queue.h"

static bool readable(struct wg_queue *queue)
{
    struct pollfd pfd = {.fd = queue_fd(queue), .events = POLLIN};
    return poll(&pfd, 1, 0) == 1;
}

static void test_fifo_order_and_wakeup(void **state)
{
    (void)state;
    struct wg_queue *queue = queue_new(8);
    assert_non_null(queue);
    assert_false(readable(queue));
    for (uint32_t i = 0; i < 5; i++) {
        struct wg_msg msg = {.type = WG_MSG_READING, .device = i};
        assert_int_equal(queue_push(queue, &msg), 0);
    }
    assert_true(readable(queue));
    struct wg_msg out[3];
    assert_int_equal(queue_pop_batch(queue, out, 3), 3);
    assert_int_equal(out[0].device, 0);
    assert_int_equal(out[2].device, 2);
    assert_true(readable(queue)); /* two are left */
    assert_int_equal(queue_pop_batch(queue, out, 3), 2);
    assert_int_equal(out[0].device, 3);
    assert_false(readable(queue));
    assert_int_equal(queue_pop_batch(queue, out, 3), 0); /* an empty pop changes nothing */
    assert_false(readable(queue));
    struct wg_msg again = {.type = WG_MSG_READING, .device = 9};
    assert_int_equal(queue_push(queue, &again), 0);
    assert_true(readable(queue)); /* empty, then one more: the consumer is woken again */
    assert_int_equal(queue_pop_batch(queue, out, 3), 1);
    assert_false(readable(queue));
    queue_free(queue);
}

/* A burst of pushes into an empty queue is one wake-up (one write to the
 * eventfd: its counter is 1), not one per message, while the consumer is
 * busy elsewhere. */
static void test_burst_is_one_wakeup(void **state)
{
    (void)state;
    struct wg_queue *queue = queue_new(64);
    for (uint32_t i = 0; i < 21; i++) {
        struct wg_msg msg = {.type = WG_MSG_READING, .device = 1, .point = i};
        assert_int_equal(queue_push(queue, &msg), 0);
    }
    uint64_t wakeups = 0;
    assert_int_equal(read(queue_fd(queue), &wakeups, sizeof wakeups), (ssize_t)sizeof wakeups);
    assert_int_equal(wakeups, 1);
    queue_free(queue);
}

struct producer {
    struct wg_queue *queue;
    uint32_t count;
    uint32_t base;
};

static void *produce(void *arg)
{
    struct producer *producer = arg;
    for (uint32_t i = 0; i < producer->count; i++) {
        struct wg_msg msg = {.type = WG_MSG_READING, .device = producer->base, .point = i};
        if (queue_push(producer->queue, &msg) != 0)
            break;
    }
    return NULL;
}

/* Two producers push 20,000 messages each through a queue of 16: all arrive,
 * in order per producer, and producers had to wait rather than drop. */
static void test_full_queue_waits_and_loses_nothing(void **state)
{
    (void)state;
    struct wg_queue *queue = queue_new(16);
    struct producer producers[2] = {{queue, 20000, 0}, {queue, 20000, 1}};
    pthread_t threads[2];
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&threads[i], NULL, produce, &producers[i]), 0);
    uint32_t next[2] = {0, 0};
    uint32_t received = 0;
    while (received < 40000) {
        struct pollfd pfd = {.fd = queue_fd(queue), .events = POLLIN};
        assert_true(poll(&pfd, 1, 5000) == 1);
        struct wg_msg out[7];
        size_t n = queue_pop_batch(queue, out, 7);
        for (size_t i = 0; i < n; i++) {
            assert_int_equal(out[i].point, next[out[i].device]);
            next[out[i].device]++;
        }
        received += (uint32_t)n;
    }
    for (int i = 0; i < 2; i++)
        pthread_join(threads[i], NULL);
    struct wg_queue_stats stats;
    queue_stats(queue, &stats);
    assert_int_equal(stats.pushed, 40000);
    assert_true(stats.producer_waits > 0);
    assert_int_equal(stats.high_water, 16);
    queue_free(queue);
}

/* A producer blocked on a full queue is released by queue_close. */
static void test_close_releases_blocked_producer(void **state)
{
    (void)state;
    struct wg_queue *queue = queue_new(2);
    struct producer producer = {queue, 10, 0};
    pthread_t thread;
    assert_int_equal(pthread_create(&thread, NULL, produce, &producer), 0);
    struct wg_queue_stats stats;
    do {
        usleep(1000);
        queue_stats(queue, &stats);
    } while (stats.producer_waits == 0);
    queue_close(queue);
    pthread_join(thread, NULL);
    struct wg_msg msg = {0};
    assert_int_equal(queue_push(queue, &msg), -1);
    queue_reopen(queue);
    struct wg_msg out[4];
    assert_int_equal(queue_pop_batch(queue, out, 4), 2);
    assert_int_equal(queue_push(queue, &msg), 0);
    queue_free(queue);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fifo_order_and_wakeup),
        cmocka_unit_test(test_burst_is_one_wakeup),
        cmocka_unit_test(test_full_queue_waits_and_loses_nothing),
        cmocka_unit_test(test_close_releases_blocked_producer),
    };
    return cmocka_run_group_tests_name("queue", tests, NULL, NULL);
}
