/* One Modbus TCP endpoint's state machine, run by the reactor's I/O thread
 * (mb_reactor.c): connect without blocking, send one request, gather and
 * check its reply frame, hand the outcome to mb_device.c, and pick the next
 * transaction. Never blocks, never sleeps. */
#ifndef WG_MB_ENDPOINT_H
#define WG_MB_ENDPOINT_H

#include <pthread.h>
#include <stdint.h>

#include "mb_reactor.h"

/* What the endpoint needs of the reactor while it runs. */
struct mb_endpoint_env {
    int epoll_fd;
    uint64_t token;        /* epoll data of the endpoint's socket */
    pthread_mutex_t *lock; /* guards the write queue */
};

void mb_endpoint_init(struct mb_endpoint *endpoint);
/* Runs the endpoint: `events` are the epoll events of its socket (0 when it
 * is run for its timer). Sets endpoint->wake_at_ms. */
void mb_endpoint_run(struct mb_endpoint *endpoint, const struct mb_endpoint_env *env,
                     uint32_t events, int64_t now_ms);
/* Closes the connection (no callback). */
void mb_endpoint_disconnect(struct mb_endpoint *endpoint, int epoll_fd);

#endif
