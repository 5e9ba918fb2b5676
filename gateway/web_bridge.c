/* The web thread <-> core thread hand-over: two mutex-guarded FIFOs, an
 * eventfd for the core and a wake callback for the web thread. */
#include "web_bridge.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

struct request_node {
    struct wg_web_request *request;
    struct request_node *next;
};

struct reply_node {
    struct wg_web_reply reply;
    struct reply_node *next;
};

struct wg_web_bridge {
    pthread_mutex_t lock;
    int request_fd; /* eventfd: readable while requests wait */
    struct request_node *requests_head, *requests_tail;
    size_t request_count, max_requests;
    struct reply_node *replies_head, *replies_tail;
    size_t reply_count, max_replies;
    bool overflowed;
    uint64_t dropped;
    uint64_t next_id;
    void (*wake)(void *ctx);
    void *wake_ctx;
};

struct wg_web_bridge *bridge_new(size_t max_requests, size_t max_replies, void (*wake)(void *ctx),
                                 void *wake_ctx)
{
    struct wg_web_bridge *bridge = calloc(1, sizeof *bridge);
    if (!bridge)
        return NULL;
    bridge->request_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (bridge->request_fd < 0) {
        free(bridge);
        return NULL;
    }
    pthread_mutex_init(&bridge->lock, NULL);
    bridge->max_requests = max_requests ? max_requests : 256;
    bridge->max_replies = max_replies ? max_replies : 8192;
    bridge->next_id = 1;
    bridge->wake = wake;
    bridge->wake_ctx = wake_ctx;
    return bridge;
}

void bridge_request_free(struct wg_web_request *request)
{
    if (!request)
        return;
    free(request->query);
    free(request->body);
    free(request);
}

void bridge_free(struct wg_web_bridge *bridge)
{
    if (!bridge)
        return;
    for (struct request_node *n = bridge->requests_head, *next; n; n = next) {
        next = n->next;
        bridge_request_free(n->request);
        free(n);
    }
    for (struct reply_node *n = bridge->replies_head, *next; n; n = next) {
        next = n->next;
        free(n->reply.body);
        free(n);
    }
    close(bridge->request_fd);
    pthread_mutex_destroy(&bridge->lock);
    free(bridge);
}

void bridge_set_wake(struct wg_web_bridge *bridge, void (*wake)(void *ctx), void *wake_ctx)
{
    pthread_mutex_lock(&bridge->lock);
    bridge->wake = wake;
    bridge->wake_ctx = wake_ctx;
    pthread_mutex_unlock(&bridge->lock);
}

uint64_t bridge_post_request(struct wg_web_bridge *bridge, struct wg_web_request *request)
{
    struct wg_web_request *copy = malloc(sizeof *copy);
    struct request_node *node = malloc(sizeof *node);
    uint64_t id = 0;
    pthread_mutex_lock(&bridge->lock);
    if (copy && node && bridge->request_count < bridge->max_requests) {
        *copy = *request;
        id = copy->id = bridge->next_id++;
        *node = (struct request_node){copy, NULL};
        if (bridge->requests_tail)
            bridge->requests_tail->next = node;
        else
            bridge->requests_head = node;
        bridge->requests_tail = node;
        bridge->request_count++;
        uint64_t one = 1;
        if (write(bridge->request_fd, &one, sizeof one) < 0) {
            /* The counter is at its maximum: the core is readable already. */
        }
    }
    pthread_mutex_unlock(&bridge->lock);
    if (!id) {
        free(copy);
        free(node);
        free(request->query);
        free(request->body);
    }
    request->query = request->body = NULL;
    return id;
}

struct wg_web_request *bridge_next_request(struct wg_web_bridge *bridge)
{
    pthread_mutex_lock(&bridge->lock);
    struct request_node *node = bridge->requests_head;
    if (node) {
        bridge->requests_head = node->next;
        if (!bridge->requests_head)
            bridge->requests_tail = NULL;
        bridge->request_count--;
    }
    if (bridge->request_count == 0) {
        uint64_t drained;
        if (read(bridge->request_fd, &drained, sizeof drained) < 0) {
            /* Already drained (EAGAIN). */
        }
    }
    pthread_mutex_unlock(&bridge->lock);
    if (!node)
        return NULL;
    struct wg_web_request *request = node->request;
    free(node);
    return request;
}

int bridge_request_fd(const struct wg_web_bridge *bridge)
{
    return bridge->request_fd;
}

void bridge_post_reply(struct wg_web_bridge *bridge, struct wg_web_reply *reply)
{
    struct reply_node *node = malloc(sizeof *node);
    pthread_mutex_lock(&bridge->lock);
    bool broadcast = reply->request_id == 0;
    if (!node || (broadcast && bridge->reply_count >= bridge->max_replies)) {
        bridge->overflowed = true;
        bridge->dropped++;
        free(node);
        free(reply->body);
        node = NULL;
    } else {
        node->reply = *reply;
        node->next = NULL;
        if (bridge->replies_tail)
            bridge->replies_tail->next = node;
        else
            bridge->replies_head = node;
        bridge->replies_tail = node;
        bridge->reply_count++;
    }
    reply->body = NULL;
    void (*wake)(void *) = bridge->wake;
    void *wake_ctx = bridge->wake_ctx;
    pthread_mutex_unlock(&bridge->lock);
    if (wake)
        wake(wake_ctx);
}

size_t bridge_take_replies(struct wg_web_bridge *bridge, struct wg_web_reply **out,
                           bool *overflowed)
{
    *out = NULL;
    *overflowed = false;
    pthread_mutex_lock(&bridge->lock);
    size_t count = bridge->reply_count;
    struct wg_web_reply *replies = count ? malloc(count * sizeof *replies) : NULL;
    if (count && !replies) {
        pthread_mutex_unlock(&bridge->lock);
        return 0; /* taken at the next wake-up */
    }
    size_t i = 0;
    for (struct reply_node *n = bridge->replies_head, *next; n; n = next) {
        next = n->next;
        replies[i++] = n->reply;
        free(n);
    }
    bridge->replies_head = bridge->replies_tail = NULL;
    bridge->reply_count = 0;
    *overflowed = bridge->overflowed;
    bridge->overflowed = false;
    pthread_mutex_unlock(&bridge->lock);
    *out = replies;
    return count;
}

uint64_t bridge_dropped_broadcasts(struct wg_web_bridge *bridge)
{
    pthread_mutex_lock(&bridge->lock);
    uint64_t dropped = bridge->dropped;
    pthread_mutex_unlock(&bridge->lock);
    return dropped;
}
