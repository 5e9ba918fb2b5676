/* The web thread <-> core thread hand-over: two mutex-guarded FIFOs, an
 * eventfd for the core and a wake callback for the web thread; and the
 * flow control of streamed replies. */
#include "web/web_bridge.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "core/liveness.h"

struct request_node {
    struct wg_web_request *request;
    struct request_node *next;
};

struct reply_node {
    struct wg_web_reply reply;
    struct reply_node *next;
};

struct wg_web_stream {
    struct wg_web_bridge *bridge;
    uint64_t request_id;
    struct wg_web_stream *next;
    /* guarded by the bridge's lock */
    size_t in_flight; /* chunks posted, not yet written to the socket */
    bool gone;        /* the client went away */
    bool waiting;     /* the producer found no room: wake it when there is */
    void (*wake)(void *ctx, uint64_t request_id);
    void *wake_ctx;
};

struct wg_web_bridge {
    pthread_mutex_t lock;
    struct wg_web_stream *streams;
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
    struct wg_liveness web_alive; /* the web thread's turns, read by the core's watchdog */
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
    liveness_init(&bridge->web_alive, "web", 0); /* web_start stamps it */
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

/* ---- JSON replies ---- */

char *bridge_json_text(json_t *value)
{
    char *text = value ? json_dumps(value, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
    json_decref(value);
    return text;
}

json_t *bridge_error_json(const char *field, const char *message)
{
    json_t *body = json_pack("{s:s}", "error", message);
    if (body && field && field[0])
        json_object_set_new(body, "field", json_string(field));
    return body;
}

void bridge_reply_json(struct wg_web_bridge *bridge, uint64_t request_id, int status, json_t *value)
{
    char *text = bridge_json_text(value);
    if (!text) {
        text = strdup("{\"error\":\"out of memory building the reply\"}");
        status = 500;
    }
    struct wg_web_reply reply = {.request_id = request_id,
                                 .status = status,
                                 .content_type = "application/json",
                                 .body = text,
                                 .len = text ? strlen(text) : 0};
    bridge_post_reply(bridge, &reply);
}

void bridge_reply_error(struct wg_web_bridge *bridge, uint64_t request_id, int status,
                        const char *field, const char *fmt, ...)
{
    char message[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    bridge_reply_json(bridge, request_id, status, bridge_error_json(field, message));
}

/* ---- streamed replies ---- */

static void post_part(struct wg_web_bridge *bridge, uint64_t request_id, enum wg_reply_part part,
                      char *data, size_t len)
{
    struct wg_web_reply reply = {
        .request_id = request_id, .part = part, .status = 200, .body = data, .len = data ? len : 0};
    bridge_post_reply(bridge, &reply);
}

struct wg_web_stream *bridge_stream_start(struct wg_web_bridge *bridge, uint64_t request_id,
                                          int status, const char *content_type,
                                          const char *disposition,
                                          void (*wake)(void *ctx, uint64_t request_id),
                                          void *wake_ctx)
{
    struct wg_web_stream *stream = calloc(1, sizeof *stream);
    if (!stream)
        return NULL;
    *stream = (struct wg_web_stream){
        .bridge = bridge, .request_id = request_id, .wake = wake, .wake_ctx = wake_ctx};
    pthread_mutex_lock(&bridge->lock);
    stream->next = bridge->streams;
    bridge->streams = stream;
    pthread_mutex_unlock(&bridge->lock);
    struct wg_web_reply head = {
        .request_id = request_id, .part = WG_REPLY_STREAM_HEAD, .status = status};
    snprintf(head.content_type, sizeof head.content_type, "%s", content_type);
    snprintf(head.disposition, sizeof head.disposition, "%s", disposition ? disposition : "");
    bridge_post_reply(bridge, &head);
    return stream;
}

bool bridge_stream_has_room(struct wg_web_stream *stream)
{
    pthread_mutex_lock(&stream->bridge->lock);
    bool room = !stream->gone && stream->in_flight < WG_STREAM_CHUNKS_IN_FLIGHT;
    if (!room && !stream->gone)
        stream->waiting = true;
    pthread_mutex_unlock(&stream->bridge->lock);
    return room;
}

bool bridge_stream_gone(struct wg_web_stream *stream)
{
    pthread_mutex_lock(&stream->bridge->lock);
    bool gone = stream->gone;
    pthread_mutex_unlock(&stream->bridge->lock);
    return gone;
}

void bridge_stream_write(struct wg_web_stream *stream, char *data, size_t len)
{
    pthread_mutex_lock(&stream->bridge->lock);
    bool gone = stream->gone;
    if (!gone)
        stream->in_flight++;
    pthread_mutex_unlock(&stream->bridge->lock);
    if (gone)
        free(data);
    else
        post_part(stream->bridge, stream->request_id, WG_REPLY_STREAM_CHUNK, data, len);
}

void bridge_stream_end(struct wg_web_stream *stream, bool ok)
{
    if (!stream)
        return;
    struct wg_web_bridge *bridge = stream->bridge;
    pthread_mutex_lock(&bridge->lock);
    for (struct wg_web_stream **p = &bridge->streams; *p; p = &(*p)->next)
        if (*p == stream) {
            *p = stream->next;
            break;
        }
    bool gone = stream->gone;
    pthread_mutex_unlock(&bridge->lock);
    if (!gone)
        post_part(bridge, stream->request_id, ok ? WG_REPLY_STREAM_END : WG_REPLY_STREAM_ABORT,
                  NULL, 0);
    free(stream);
}

/* With the lock held: the stream answering `request_id`, or NULL. */
static struct wg_web_stream *stream_of(struct wg_web_bridge *bridge, uint64_t request_id)
{
    for (struct wg_web_stream *s = bridge->streams; s; s = s->next)
        if (s->request_id == request_id)
            return s;
    return NULL;
}

/* Updates the stream answering `request_id` and wakes its producer when it
 * was waiting for what changed. */
static void stream_feedback(struct wg_web_bridge *bridge, uint64_t request_id, bool closed)
{
    void (*wake)(void *, uint64_t) = NULL;
    void *wake_ctx = NULL;
    pthread_mutex_lock(&bridge->lock);
    struct wg_web_stream *stream = stream_of(bridge, request_id);
    if (stream) {
        if (closed)
            stream->gone = true;
        else if (stream->in_flight > 0)
            stream->in_flight--;
        if (stream->waiting && (stream->gone || stream->in_flight < WG_STREAM_CHUNKS_IN_FLIGHT)) {
            stream->waiting = false;
            wake = stream->wake;
            wake_ctx = stream->wake_ctx;
        }
    }
    pthread_mutex_unlock(&bridge->lock);
    if (wake)
        wake(wake_ctx, request_id);
}

void bridge_stream_sent(struct wg_web_bridge *bridge, uint64_t request_id)
{
    stream_feedback(bridge, request_id, false);
}

void bridge_stream_closed(struct wg_web_bridge *bridge, uint64_t request_id)
{
    stream_feedback(bridge, request_id, true);
}

/* ---- the web thread's liveness ---- */

void bridge_web_turned(struct wg_web_bridge *bridge, int64_t now_ms)
{
    liveness_turn(&bridge->web_alive, now_ms);
}

int64_t bridge_web_turn_age_ms(struct wg_web_bridge *bridge, int64_t now_ms)
{
    return liveness_age_ms(&bridge->web_alive, now_ms);
}

struct wg_liveness *bridge_web_liveness(struct wg_web_bridge *bridge)
{
    return &bridge->web_alive;
}
