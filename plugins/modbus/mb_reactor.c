/* The modbus-tcp driver's I/O thread: one epoll set for every endpoint's
 * socket, an eventfd to wake it, and a table of the attached endpoints; see
 * mb_reactor.h. */
#include "mb_reactor.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "mb_endpoint.h"

#define WAKE_TOKEN      UINT64_MAX
#define EVENTS_PER_WAIT 64

/* A table entry: the endpoint, and a generation that tells a stale epoll
 * event (for an endpoint detached meanwhile) from a current one. */
struct table_entry {
    struct mb_endpoint *endpoint;
    uint32_t generation;
    uint32_t events; /* gathered from epoll for the next run */
};

struct mb_reactor {
    pthread_mutex_t lock; /* the table, write queues, `running_endpoint` */
    pthread_cond_t left;  /* the I/O thread left a host callback of an endpoint */
    int epoll_fd;
    int wake_fd;
    pthread_t thread;
    bool thread_running;
    bool quit;
    struct table_entry *table;
    int64_t *wake_at; /* per entry, contiguous for a quick scan; INT64_MAX when free */
    size_t capacity, used;
    const struct mb_endpoint *running_endpoint; /* the one the I/O thread runs now */
};

static uint64_t token_of(uint32_t slot, uint32_t generation)
{
    return ((uint64_t)generation << 32) | slot;
}

static void wake(struct mb_reactor *reactor)
{
    uint64_t one = 1;
    ssize_t rc = write(reactor->wake_fd, &one, sizeof one);
    (void)rc; /* a full counter means a wake-up is pending anyway */
}

struct mb_reactor *mb_reactor_new(void)
{
    struct mb_reactor *reactor = calloc(1, sizeof *reactor);
    if (!reactor)
        return NULL;
    reactor->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
    reactor->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    bool ok = reactor->epoll_fd >= 0 && reactor->wake_fd >= 0;
    if (ok) {
        struct epoll_event event = {.events = EPOLLIN, .data.u64 = WAKE_TOKEN};
        ok = epoll_ctl(reactor->epoll_fd, EPOLL_CTL_ADD, reactor->wake_fd, &event) == 0;
    }
    if (!ok || pthread_mutex_init(&reactor->lock, NULL) != 0) {
        if (reactor->epoll_fd >= 0)
            close(reactor->epoll_fd);
        if (reactor->wake_fd >= 0)
            close(reactor->wake_fd);
        free(reactor);
        return NULL;
    }
    if (pthread_cond_init(&reactor->left, NULL) != 0) {
        pthread_mutex_destroy(&reactor->lock);
        close(reactor->epoll_fd);
        close(reactor->wake_fd);
        free(reactor);
        return NULL;
    }
    return reactor;
}

void mb_reactor_free(struct mb_reactor *reactor)
{
    if (!reactor)
        return;
    close(reactor->epoll_fd);
    close(reactor->wake_fd);
    pthread_cond_destroy(&reactor->left);
    pthread_mutex_destroy(&reactor->lock);
    free(reactor->table);
    free(reactor->wake_at);
    free(reactor);
}

/* ---- the I/O thread ------------------------------------------------------------------------- */

/* Runs one endpoint outside the lock; detach waits while it runs. */
static void run_entry(struct mb_reactor *reactor, uint32_t slot, int64_t now_ms)
{
    struct table_entry *entry = &reactor->table[slot];
    struct mb_endpoint *endpoint = entry->endpoint;
    uint32_t events = entry->events;
    entry->events = 0;
    struct mb_endpoint_env env = {.epoll_fd = reactor->epoll_fd,
                                  .token = token_of(slot, entry->generation),
                                  .lock = &reactor->lock};
    reactor->running_endpoint = endpoint;
    pthread_mutex_unlock(&reactor->lock);
    mb_endpoint_run(endpoint, &env, events, now_ms);
    pthread_mutex_lock(&reactor->lock);
    reactor->running_endpoint = NULL;
    pthread_cond_broadcast(&reactor->left);
    if (reactor->table[slot].endpoint == endpoint)
        reactor->wake_at[slot] = endpoint->writes->count > 0 && endpoint->op == MB_OP_NONE
                                     ? now_ms /* a write came while it ran */
                                     : endpoint->wake_at_ms;
}

static void *io_thread(void *arg)
{
    struct mb_reactor *reactor = arg;
    struct epoll_event events[EVENTS_PER_WAIT];
    int64_t earliest = mb_monotonic_ms(); /* a first pass at once */
    pthread_mutex_lock(&reactor->lock);
    while (!reactor->quit) {
        int64_t now = mb_monotonic_ms();
        int timeout = earliest == INT64_MAX ? -1
                      : earliest <= now     ? 0
                                        : (int)(earliest - now > 60000 ? 60000 : earliest - now);
        pthread_mutex_unlock(&reactor->lock);
        int count = epoll_wait(reactor->epoll_fd, events, EVENTS_PER_WAIT, timeout);
        pthread_mutex_lock(&reactor->lock);
        if (count < 0)
            count = 0; /* EINTR */
        for (int i = 0; i < count; i++) {
            uint64_t token = events[i].data.u64;
            if (token == WAKE_TOKEN) {
                uint64_t drained;
                ssize_t rc = read(reactor->wake_fd, &drained, sizeof drained);
                (void)rc;
                continue;
            }
            uint32_t slot = (uint32_t)token, generation = (uint32_t)(token >> 32);
            if (slot < reactor->used && reactor->table[slot].endpoint &&
                reactor->table[slot].generation == generation)
                reactor->table[slot].events |= events[i].events;
        }
        /* One pass: run what is ready or due, and find the next time to wake.
         * What changes meanwhile (attach, a write) writes the eventfd. */
        now = mb_monotonic_ms();
        earliest = INT64_MAX;
        for (uint32_t slot = 0; slot < reactor->used && !reactor->quit; slot++) {
            if (reactor->table[slot].endpoint &&
                (reactor->table[slot].events || reactor->wake_at[slot] <= now))
                run_entry(reactor, slot, now);
            if (reactor->wake_at[slot] < earliest)
                earliest = reactor->wake_at[slot];
        }
    }
    pthread_mutex_unlock(&reactor->lock);
    return NULL;
}

/* ---- attach and detach (core thread) -------------------------------------------------------- */

static bool grow(struct mb_reactor *reactor)
{
    size_t capacity = reactor->capacity ? 2 * reactor->capacity : 16;
    struct table_entry *table = realloc(reactor->table, capacity * sizeof *table);
    if (!table)
        return false;
    reactor->table = table;
    int64_t *wake_at = realloc(reactor->wake_at, capacity * sizeof *wake_at);
    if (!wake_at)
        return false;
    reactor->wake_at = wake_at;
    for (size_t i = reactor->capacity; i < capacity; i++) {
        table[i] = (struct table_entry){0};
        wake_at[i] = INT64_MAX;
    }
    reactor->capacity = capacity;
    return true;
}

int mb_reactor_attach(struct mb_reactor *reactor, struct mb_endpoint *endpoint, char *error,
                      size_t error_size)
{
    mb_endpoint_init(endpoint);
    int64_t now = mb_monotonic_ms();
    for (size_t d = 0; d < endpoint->device_count; d++) {
        struct mb_device *device = &endpoint->devices[d];
        mb_device_schedule_first(device, now,
                                 mb_device_first_slot_in(endpoint->bus_id, d,
                                                         endpoint->device_count, device->poll_ms,
                                                         now));
    }
    endpoint->wake_at_ms = now;
    pthread_mutex_lock(&reactor->lock);
    size_t slot = 0;
    while (slot < reactor->used && reactor->table[slot].endpoint)
        slot++;
    if (slot == reactor->capacity && !grow(reactor)) {
        pthread_mutex_unlock(&reactor->lock);
        snprintf(error, error_size, "out of memory");
        return -1;
    }
    if (slot == reactor->used)
        reactor->used++;
    reactor->table[slot].endpoint = endpoint;
    reactor->table[slot].events = 0;
    reactor->wake_at[slot] = now;
    endpoint->slot = (uint32_t)slot;
    endpoint->attached = true;
    if (!reactor->thread_running) {
        reactor->quit = false;
        int rc = pthread_create(&reactor->thread, NULL, io_thread, reactor);
        if (rc != 0) {
            reactor->table[slot].endpoint = NULL;
            reactor->wake_at[slot] = INT64_MAX;
            endpoint->attached = false;
            pthread_mutex_unlock(&reactor->lock);
            snprintf(error, error_size, "cannot start the I/O thread: %s", strerror(rc));
            return -1;
        }
        reactor->thread_running = true;
        pthread_setname_np(reactor->thread,
                           "modbus-tcp-io"); /* for top -H; a failure is harmless */
    }
    pthread_mutex_unlock(&reactor->lock);
    wake(reactor);
    return 0;
}

void mb_reactor_detach(struct mb_reactor *reactor, struct mb_endpoint *endpoint)
{
    if (!endpoint->attached)
        return;
    pthread_mutex_lock(&reactor->lock);
    while (reactor->running_endpoint == endpoint)
        pthread_cond_wait(&reactor->left, &reactor->lock);
    struct table_entry *entry = &reactor->table[endpoint->slot];
    entry->endpoint = NULL;
    entry->generation++;
    entry->events = 0;
    reactor->wake_at[endpoint->slot] = INT64_MAX;
    while (reactor->used > 0 && !reactor->table[reactor->used - 1].endpoint)
        reactor->used--;
    endpoint->attached = false;
    mb_endpoint_disconnect(endpoint, reactor->epoll_fd);
    bool last = reactor->used == 0 && reactor->thread_running;
    if (last)
        reactor->quit = true;
    pthread_mutex_unlock(&reactor->lock);
    if (last) {
        wake(reactor);
        pthread_join(reactor->thread, NULL);
        reactor->thread_running = false;
    }
}

bool mb_reactor_queue_write(struct mb_reactor *reactor, struct mb_endpoint *endpoint,
                            const struct mb_write_job *job)
{
    pthread_mutex_lock(&reactor->lock);
    bool queued = endpoint->attached && mb_write_queue_push(endpoint->writes, job);
    if (queued)
        reactor->wake_at[endpoint->slot] = 0; /* run it at the next turn */
    pthread_mutex_unlock(&reactor->lock);
    if (queued)
        wake(reactor);
    return queued;
}
