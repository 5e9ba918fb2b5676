/* A Modbus TCP endpoint on the reactor: connection, one transaction at a
 * time, reply checks; see mb_endpoint.h and mb_reactor.h. */
#include "mb_endpoint.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

void mb_endpoint_init(struct mb_endpoint *endpoint)
{
    endpoint->fd = -1;
    endpoint->state = MB_EP_CLOSED;
    endpoint->op = MB_OP_NONE;
    endpoint->reconnect_at_ms = INT64_MIN / 2;
    endpoint->rx_len = 0;
    endpoint->next_transaction = 1;
}

void mb_endpoint_disconnect(struct mb_endpoint *endpoint, int epoll_fd)
{
    if (endpoint->fd >= 0) {
        epoll_ctl(epoll_fd, EPOLL_CTL_DEL, endpoint->fd, NULL);
        close(endpoint->fd);
    }
    endpoint->fd = -1;
    endpoint->state = MB_EP_CLOSED;
    endpoint->rx_len = 0;
}

static void watch(struct mb_endpoint *endpoint, const struct mb_endpoint_env *env, int op,
                  uint32_t events)
{
    struct epoll_event event = {.events = events, .data.u64 = env->token};
    epoll_ctl(env->epoll_fd, op, endpoint->fd, &event);
}

/* ---- the current operation's steps ---------------------------------------------------------- */

/* Builds the request of the current step into tx. */
static void build_request(struct mb_endpoint *endpoint)
{
    struct mb_device *device = endpoint->device;
    struct mb_request *request = &endpoint->request;
    request->transaction = endpoint->next_transaction++;
    if (endpoint->next_transaction == 0)
        endpoint->next_transaction = 1;
    request->unit = (uint8_t)device->unit;
    if (endpoint->op == MB_OP_POLL) {
        const struct mb_block *read = &device->blocks[endpoint->poll.block];
        request->function = read->function;
        request->address = read->start;
        request->count = read->count;
        endpoint->tx_len = mb_frame_read_request(request, endpoint->tx);
        return;
    }
    const struct mb_point *point = &device->points[endpoint->write.job.point];
    if (endpoint->op == MB_OP_READBACK) {
        request->function = point->function;
        request->address = point->address;
        request->count = point->count;
        endpoint->tx_len = mb_frame_read_request(request, endpoint->tx);
        return;
    }
    request->function = point->write_function;
    request->address = point->address;
    request->count = endpoint->write.coil ? 1 : point->count;
    endpoint->tx_len = mb_frame_write_request(request, &endpoint->write.bit,
                                              endpoint->write.registers, endpoint->tx);
}

/* The outcome of the current step: the operation goes on or ends. */
static void step_done(struct mb_endpoint *endpoint, int64_t now_ms, enum mb_error error,
                      int exception, const char *detail, const uint16_t *registers,
                      const uint8_t *bits)
{
    const struct wg_host *host = endpoint->host;
    struct mb_device *device = endpoint->device;
    endpoint->ready_at_ms = now_ms + endpoint->frame_pause_ms;
    switch (endpoint->op) {
    case MB_OP_POLL:
        if (mb_poll_block_done(host, device, &endpoint->poll, error, exception, detail, registers,
                               bits)) {
            build_request(endpoint);
            return;
        }
        mb_poll_end(host, &endpoint->supervision, device, &endpoint->poll, now_ms);
        break;
    case MB_OP_WRITE:
        if (error == MB_OK) {
            endpoint->op = MB_OP_READBACK;
            build_request(endpoint);
            return;
        }
        mb_write_failed(host, device, &endpoint->write, false, error, detail);
        break;
    case MB_OP_READBACK:
        if (error == MB_OK)
            mb_write_verify(host, device, &endpoint->write, registers, bits ? bits[0] : 0);
        else
            mb_write_failed(host, device, &endpoint->write, true, error, detail);
        break;
    case MB_OP_NONE:
        break;
    }
    endpoint->op = MB_OP_NONE;
}

/* The next operation: a queued write, else the due device. False when none. */
static bool pick_operation(struct mb_endpoint *endpoint, const struct mb_endpoint_env *env,
                           int64_t now_ms, int64_t *earliest)
{
    struct mb_write_job job;
    pthread_mutex_lock(env->lock);
    bool have_write = mb_write_queue_pop(endpoint->writes, &job);
    pthread_mutex_unlock(env->lock);
    while (have_write) {
        endpoint->device = &endpoint->devices[job.device];
        if (mb_write_begin(endpoint->host, endpoint->device, &job, &endpoint->write)) {
            endpoint->op = MB_OP_WRITE;
            build_request(endpoint);
            return true;
        }
        pthread_mutex_lock(env->lock);
        have_write = mb_write_queue_pop(endpoint->writes, &job);
        pthread_mutex_unlock(env->lock);
    }
    struct mb_device *device =
        mb_device_next_due(endpoint->devices, endpoint->device_count, now_ms, earliest);
    if (!device)
        return false;
    endpoint->device = device;
    mb_poll_begin(endpoint->host, device, &endpoint->poll, now_ms);
    if (endpoint->poll.block >= device->block_count) {
        mb_poll_end(endpoint->host, &endpoint->supervision, device, &endpoint->poll, now_ms);
        return false; /* a device without points */
    }
    endpoint->op = MB_OP_POLL;
    build_request(endpoint);
    return true;
}

/* ---- the connection ------------------------------------------------------------------------- */

static void connect_failed(struct mb_endpoint *endpoint, const struct mb_endpoint_env *env,
                           int64_t now_ms, int error)
{
    mb_endpoint_disconnect(endpoint, env->epoll_fd);
    snprintf(endpoint->connect_error, sizeof endpoint->connect_error, "connect: %s",
             strerror(error));
    step_done(endpoint, now_ms, MB_ERR_CONNECTION, 0, endpoint->connect_error, NULL, NULL);
}

static void start_connect(struct mb_endpoint *endpoint, const struct mb_endpoint_env *env,
                          int64_t now_ms)
{
    endpoint->reconnect_at_ms = now_ms + endpoint->reconnect_ms;
    char port[16];
    snprintf(port, sizeof port, "%d", endpoint->port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *addresses = NULL;
    int rc = getaddrinfo(endpoint->address, port, &hints, &addresses);
    if (rc != 0) {
        mb_endpoint_disconnect(endpoint, env->epoll_fd);
        snprintf(endpoint->connect_error, sizeof endpoint->connect_error, "connect: %s: %s",
                 endpoint->address, gai_strerror(rc));
        step_done(endpoint, now_ms, MB_ERR_CONNECTION, 0, endpoint->connect_error, NULL, NULL);
        return;
    }
    int fd = socket(addresses->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int error = fd < 0 ? errno : 0;
    if (fd >= 0 && connect(fd, addresses->ai_addr, addresses->ai_addrlen) != 0 &&
        errno != EINPROGRESS)
        error = errno;
    freeaddrinfo(addresses);
    if (error != 0) {
        if (fd >= 0)
            close(fd);
        connect_failed(endpoint, env, now_ms, error);
        return;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    endpoint->fd = fd;
    endpoint->state = MB_EP_CONNECTING;
    endpoint->deadline_ms = now_ms + endpoint->device->timeout_ms;
    watch(endpoint, env, EPOLL_CTL_ADD, EPOLLOUT);
}

static void check_connect(struct mb_endpoint *endpoint, const struct mb_endpoint_env *env,
                          uint32_t events, int64_t now_ms)
{
    if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
        if (now_ms >= endpoint->deadline_ms)
            connect_failed(endpoint, env, now_ms, ETIMEDOUT);
        return;
    }
    int error = 0;
    socklen_t len = sizeof error;
    if (getsockopt(endpoint->fd, SOL_SOCKET, SO_ERROR, &error, &len) != 0)
        error = errno;
    if (error != 0) {
        connect_failed(endpoint, env, now_ms, error);
        return;
    }
    endpoint->state = MB_EP_READY;
    endpoint->connect_error[0] = '\0';
    watch(endpoint, env, EPOLL_CTL_MOD, EPOLLIN | EPOLLRDHUP);
}

/* The connection broke during a transaction: closed, counted against the step. */
static void lost(struct mb_endpoint *endpoint, const struct mb_endpoint_env *env, int64_t now_ms,
                 const char *detail)
{
    mb_endpoint_disconnect(endpoint, env->epoll_fd);
    /* Until the reconnect period is over, requests fail with this reason. */
    snprintf(endpoint->connect_error, sizeof endpoint->connect_error, "%s", detail);
    step_done(endpoint, now_ms, MB_ERR_CONNECTION, 0, detail, NULL, NULL);
}

static void send_request(struct mb_endpoint *endpoint, const struct mb_endpoint_env *env,
                         int64_t now_ms)
{
    ssize_t sent = send(endpoint->fd, endpoint->tx, endpoint->tx_len, MSG_NOSIGNAL);
    if (sent != (ssize_t)endpoint->tx_len) {
        /* A request of at most 260 bytes into an idle connection: anything
         * but all of it sent means the connection is gone. */
        char detail[96];
        snprintf(detail, sizeof detail, "connection: %s",
                 sent < 0 ? strerror(errno) : "send cut short");
        lost(endpoint, env, now_ms, detail);
        return;
    }
    endpoint->state = MB_EP_WAITING;
    endpoint->deadline_ms = now_ms + endpoint->device->timeout_ms;
}

/* ---- replies -------------------------------------------------------------------------------- */

/* A frame that is no reply to the request: dropped, counted, logged once per kind. */
static void drop_frame(struct mb_endpoint *endpoint, const char *detail)
{
    const struct wg_host *host = endpoint->host;
    struct mb_device *device = endpoint->device;
    if (!device)
        return; /* before the first request: nobody to count it for */
    host->post_counter(host, device->index, mb_error_counter(MB_ERR_BAD_REPLY), 1);
    if (strcmp(endpoint->dropped_note, detail) == 0)
        return;
    snprintf(endpoint->dropped_note, sizeof endpoint->dropped_note, "%s", detail);
    host->log(host, WG_PLOG_WARNING,
              "device %s (unit %d): dropped %s; further such frames are counted (bad_reply), not "
              "logged",
              device->id, device->unit, detail);
}

/* Takes complete frames out of rx. */
static void take_frames(struct mb_endpoint *endpoint, const struct mb_endpoint_env *env,
                        int64_t now_ms)
{
    uint16_t registers[MB_MAX_READ_REGISTERS];
    uint8_t bits[MB_MAX_READ_BITS];
    while (endpoint->fd >= 0 && endpoint->rx_len > 0) {
        int size = mb_frame_complete(endpoint->rx, endpoint->rx_len);
        if (size == 0)
            return;
        char detail[96];
        if (size < 0) {
            snprintf(
                detail, sizeof detail, "bad reply: not a Modbus TCP frame (protocol %u, length %u)",
                (endpoint->rx[2] << 8) | endpoint->rx[3], (endpoint->rx[4] << 8) | endpoint->rx[5]);
            mb_endpoint_disconnect(endpoint, env->epoll_fd);
            step_done(endpoint, now_ms, MB_ERR_BAD_REPLY, 0, detail, NULL, NULL);
            return;
        }
        int exception = 0;
        enum mb_reply_kind kind =
            mb_frame_parse_reply(&endpoint->request, endpoint->rx, (size_t)size, registers, bits,
                                 &exception, detail, sizeof detail);
        endpoint->rx_len -= (size_t)size;
        memmove(endpoint->rx, endpoint->rx + size, endpoint->rx_len);
        if (endpoint->state != MB_EP_WAITING) {
            drop_frame(endpoint, "a frame nobody asked for (no request outstanding)");
            continue;
        }
        if (kind == MB_REPLY_OTHER) {
            drop_frame(endpoint, detail);
            continue;
        }
        endpoint->state = MB_EP_READY;
        if (kind == MB_REPLY_OK) {
            step_done(endpoint, now_ms, MB_OK, 0, "", registers, bits);
        } else if (kind == MB_REPLY_EXCEPTION) {
            snprintf(detail, sizeof detail, "exception %d (%s)", exception,
                     mb_exception_name(exception));
            step_done(endpoint, now_ms, MB_ERR_EXCEPTION, exception, detail, NULL, NULL);
        } else {
            step_done(endpoint, now_ms, MB_ERR_BAD_REPLY, 0, detail, NULL, NULL);
        }
    }
}

static void receive(struct mb_endpoint *endpoint, const struct mb_endpoint_env *env, int64_t now_ms)
{
    for (;;) {
        size_t room = sizeof endpoint->rx - endpoint->rx_len;
        ssize_t got = recv(endpoint->fd, endpoint->rx + endpoint->rx_len, room, 0);
        if (got > 0) {
            endpoint->rx_len += (size_t)got;
            take_frames(endpoint, env, now_ms);
            if (endpoint->fd < 0)
                return; /* disconnected on a bad frame */
            if (endpoint->rx_len == 0 && endpoint->state != MB_EP_WAITING)
                return; /* the reply is in; anything later wakes epoll again */
            continue;
        }
        if (got < 0 && (errno == EAGAIN || errno == EINTR))
            return;
        char detail[96];
        snprintf(detail, sizeof detail, "connection: %s",
                 got == 0 ? "closed by the device" : strerror(errno));
        if (endpoint->state == MB_EP_WAITING) {
            lost(endpoint, env, now_ms, detail);
        } else {
            /* Closed between transactions: reconnect when next needed, without blame. */
            mb_endpoint_disconnect(endpoint, env->epoll_fd);
            endpoint->reconnect_at_ms = INT64_MIN / 2;
        }
        return;
    }
}

static void check_timeout(struct mb_endpoint *endpoint, const struct mb_endpoint_env *env,
                          int64_t now_ms)
{
    if (now_ms < endpoint->deadline_ms)
        return;
    char detail[96];
    if (endpoint->rx_len > 0) {
        /* Part of a frame and then silence: the stream cannot be trusted. */
        snprintf(detail, sizeof detail, "timeout (a reply cut short after %zu bytes)",
                 endpoint->rx_len);
        mb_endpoint_disconnect(endpoint, env->epoll_fd);
    } else {
        snprintf(detail, sizeof detail, "timeout");
        endpoint->state = MB_EP_READY; /* a late reply is dropped by its transaction id */
    }
    step_done(endpoint, now_ms, MB_ERR_TIMEOUT, 0, detail, NULL, NULL);
}

/* ---- the turn ------------------------------------------------------------------------------- */

void mb_endpoint_run(struct mb_endpoint *endpoint, const struct mb_endpoint_env *env,
                     uint32_t events, int64_t now_ms)
{
    if (endpoint->state == MB_EP_CONNECTING)
        check_connect(endpoint, env, events, now_ms);
    if (endpoint->state == MB_EP_WAITING || endpoint->state == MB_EP_READY) {
        if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
            receive(endpoint, env, now_ms);
        if (endpoint->state == MB_EP_WAITING)
            check_timeout(endpoint, env, now_ms);
    }
    /* A handful of steps per turn at most: each either waits for the peer or ends quickly. */
    for (int steps = 0; steps < 8; steps++) {
        if (endpoint->state == MB_EP_CONNECTING || endpoint->state == MB_EP_WAITING) {
            endpoint->wake_at_ms = endpoint->deadline_ms;
            return;
        }
        int64_t earliest = INT64_MAX;
        if (endpoint->op == MB_OP_NONE) {
            if (now_ms < endpoint->ready_at_ms) {
                endpoint->wake_at_ms = endpoint->ready_at_ms;
                return;
            }
            if (!pick_operation(endpoint, env, now_ms, &earliest)) {
                endpoint->wake_at_ms = earliest;
                if (endpoint->op == MB_OP_NONE && earliest <= now_ms)
                    continue; /* a device without points ended at once */
                return;
            }
        }
        if (endpoint->state == MB_EP_CLOSED) {
            if (now_ms < endpoint->reconnect_at_ms && endpoint->connect_error[0]) {
                step_done(endpoint, now_ms, MB_ERR_CONNECTION, 0, endpoint->connect_error, NULL,
                          NULL);
                continue;
            }
            start_connect(endpoint, env, now_ms);
            continue;
        }
        send_request(endpoint, env, now_ms);
    }
    endpoint->wake_at_ms = now_ms; /* more to do: run again at once */
}
