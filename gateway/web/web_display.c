/* The displays' WebSocket sessions on the web thread: a snapshot asked of
 * the core when a display connects, the deltas after it in order, a bounded
 * queue per display (a slow one is closed and reconnects to a fresh
 * snapshot), acknowledgements checked (session, CSRF, rate) and passed to
 * the core, their results back to the display. */
#include "web/web_private.h"

#include <jansson.h>
#include <libwebsockets.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

#include "common/log.h"
#include "web/ws_message.h"

static void post_phones(struct wg_web_server *web, const char *user, const struct ws_client *gone);

/* ---- WebSocket clients ---- */

void web_msg_release(struct ws_msg *msg)
{
    if (msg && --msg->refs == 0)
        free(msg);
}

struct ws_msg *web_msg_new(const char *text, size_t len)
{
    struct ws_msg *msg = malloc(sizeof *msg + LWS_PRE + len);
    if (!msg)
        return NULL;
    msg->refs = 1;
    msg->len = len;
    memcpy(msg->data + LWS_PRE, text, len);
    return msg;
}

void web_ws_close(struct ws_client *client, int code, const char *why)
{
    if (client->close_code)
        return;
    client->close_code = code;
    snprintf(client->close_why, sizeof client->close_why, "%s", why);
    wg_info("web: closing WebSocket of %s (%s): %s", client->session.username, client->client, why);
    lws_callback_on_writable(client->wsi);
}

void web_ws_enqueue(struct ws_client *client, struct ws_msg *msg)
{
    if (client->close_code)
        return;
    if (client->count == WS_QUEUE_MAX) {
        web_ws_close(client, LWS_CLOSE_STATUS_POLICY_VIOLATION,
                     "too slow: reconnect for a snapshot");
        return;
    }
    msg->refs++;
    client->queue[(client->head + client->count) % WS_QUEUE_MAX] = msg;
    client->count++;
    lws_callback_on_writable(client->wsi);
}

int web_ws_writable(struct ws_client *client)
{
    if (client->close_code) {
        lws_close_reason(client->wsi, (enum lws_close_status)client->close_code,
                         (unsigned char *)client->close_why, strlen(client->close_why));
        return -1;
    }
    if (client->count == 0)
        return 0;
    struct ws_msg *msg = client->queue[client->head];
    client->head = (client->head + 1) % WS_QUEUE_MAX;
    client->count--;
    size_t len = msg->len;
    int written = lws_write(client->wsi, msg->data + LWS_PRE, len, LWS_WRITE_TEXT);
    web_msg_release(msg);
    if (written < (int)len)
        return -1;
    if (client->count)
        lws_callback_on_writable(client->wsi);
    return 0;
}

void web_ws_free(struct wg_web_server *web, struct ws_client *client)
{
    post_phones(web, client->session.username, client);
    for (struct ws_client **p = &web->clients; *p; p = &(*p)->next)
        if (*p == client) {
            *p = client->next;
            web->client_count--;
            break;
        }
    while (client->count) {
        web_msg_release(client->queue[client->head]);
        client->head = (client->head + 1) % WS_QUEUE_MAX;
        client->count--;
    }
    free(client->acks);
    free(client);
}

/* Room for one more acknowledgement waiting for its result (the list grows
 * up to WS_ACKS_WAITING_MAX, a bound a display never reaches: the frame
 * rate limit allows 20 in 10 s, and the core answers in milliseconds). */
static bool ws_ack_room(struct ws_client *client)
{
    if (client->ack_count < client->ack_capacity)
        return true;
    if (client->ack_capacity >= WS_ACKS_WAITING_MAX)
        return false;
    size_t capacity = client->ack_capacity ? client->ack_capacity * 2 : 8;
    uint64_t *grown = realloc(client->acks, capacity * sizeof *grown);
    if (!grown)
        return false;
    client->acks = grown;
    client->ack_capacity = capacity;
    return true;
}

/* True (and forgets it) when `request_id` is one of the client's acknowledgements. */
bool web_ws_ack_answered(struct ws_client *client, uint64_t request_id)
{
    for (size_t i = 0; i < client->ack_count; i++)
        if (client->acks[i] == request_id) {
            client->acks[i] = client->acks[--client->ack_count];
            return true;
        }
    return false;
}

/* Answers an acknowledgement the web thread cannot pass on, as the core
 * answers a refused one: {"type":"result","ref","ok":false,"error"}. */
static void ws_refuse_ack(struct ws_client *client, int64_t ref, const char *why)
{
    char *text = web_json_text(json_pack("{s:s, s:I, s:b, s:s}", "type", "result", "ref",
                                         (json_int_t)ref, "ok", 0, "error", why));
    struct ws_msg *msg = web_msg_new(text, strlen(text));
    free(text);
    if (msg)
        web_ws_enqueue(client, msg);
    web_msg_release(msg);
}

void web_ws_request_snapshot(struct wg_web_server *web, struct ws_client *client)
{
    struct wg_web_request request = {.kind = WG_WEB_WS_SNAPSHOT, .role = (int)client->session.role};
    snprintf(request.method, sizeof request.method, "GET");
    snprintf(request.path, sizeof request.path, "/ws");
    snprintf(request.username, sizeof request.username, "%s", client->session.username);
    snprintf(request.client, sizeof request.client, "%s", client->client);
    client->snapshot_request = bridge_post_request(web->bridge, &request);
    if (!client->snapshot_request)
        web_ws_close(client, WS_CLOSE_TRY_AGAIN_LATER, "gateway busy");
    post_phones(web, client->session.username, NULL);
}

/* One complete frame from a client: only an acknowledgement (ws_message.h). */
static void ws_frame(struct wg_web_server *web, struct ws_client *client)
{
    struct ws_ack ack;
    if (!ws_parse_ack(client->rx, client->rx_len, &ack)) {
        web_ws_close(client, LWS_CLOSE_STATUS_POLICY_VIOLATION, "unexpected frame");
        return;
    }
    struct wg_session session;
    if (!auth_session(web->auth, client->token, clock_wall_ms(&web->clock), &session) ||
        strlen(ack.csrf) != strlen(session.csrf) ||
        sodium_memcmp(ack.csrf, session.csrf, strlen(ack.csrf)) != 0) {
        web_ws_close(client, LWS_CLOSE_STATUS_POLICY_VIOLATION, "session ended or bad CSRF token");
        return;
    }
    client->session = session;
    struct wg_web_request request = {
        .kind = WG_WEB_WS_ACK, .role = (int)session.role, .ref = ack.ref};
    snprintf(request.method, sizeof request.method, "POST");
    snprintf(request.path, sizeof request.path, "/ws");
    snprintf(request.username, sizeof request.username, "%s", session.username);
    snprintf(request.client, sizeof request.client, "%s", client->client);
    snprintf(request.alarm_id, sizeof request.alarm_id, "%s", ack.alarm);
    if (!ws_ack_room(client)) {
        ws_refuse_ack(client, ack.ref,
                      "too many acknowledgements are waiting for the gateway; try again");
        return;
    }
    uint64_t id = bridge_post_request(web->bridge, &request);
    if (!id) {
        web_ws_close(client, WS_CLOSE_TRY_AGAIN_LATER, "gateway busy");
        return;
    }
    client->acks[client->ack_count++] = id;
}

void web_ws_receive(struct wg_web_server *web, struct ws_client *client, const void *in, size_t len)
{
    if (client->close_code)
        return;
    if (lws_frame_is_binary(client->wsi)) {
        web_ws_close(client, LWS_CLOSE_STATUS_UNACCEPTABLE_OPCODE,
                     "binary frames are not accepted");
        return;
    }
    if (client->rx_len + len > WS_FRAME_MAX) {
        web_ws_close(client, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE, "frame over 1 KiB");
        return;
    }
    memcpy(client->rx + client->rx_len, in, len);
    client->rx_len += len;
    if (!lws_is_final_fragment(client->wsi))
        return;
    int64_t now = clock_mono_ms(&web->clock);
    if (now - client->window_start_ms > WS_RATE_WINDOW_MS) {
        client->window_start_ms = now;
        client->window_frames = 0;
    }
    if (++client->window_frames > WS_RATE_FRAMES) {
        web_ws_close(client, LWS_CLOSE_STATUS_POLICY_VIOLATION, "too many frames");
        return;
    }
    ws_frame(web, client);
    client->rx_len = 0;
}

/* A broadcast from the core (a delta, the heartbeat) to every display that has its snapshot. */
void web_broadcast(struct wg_web_server *web, struct wg_web_reply *reply)
{
    if (reply->heartbeat) {
        web->heartbeat_ms = clock_mono_ms(&web->clock);
        web->storage_failing = reply->storage_failing;
    }
    struct ws_msg *msg = web_msg_new(reply->body, reply->len);
    if (!msg)
        return;
    for (struct ws_client *c = web->clients; c; c = c->next)
        if (c->ready && (!reply->to_user[0] || strcmp(reply->to_user, c->session.username) == 0))
            web_ws_enqueue(c, msg);
    web_msg_release(msg);
    if (reply->heartbeat)
        web_ws_phones_retry(web);
}

/* ---- how many WebSockets each user has open (paging's phones) ---- */

static int sockets_of(const struct wg_web_server *web, const char *user,
                      const struct ws_client *gone)
{
    int count = 0;
    for (const struct ws_client *c = web->clients; c; c = c->next)
        if (c != gone && strcmp(c->session.username, user) == 0)
            count++;
    return count;
}

/* Tells the core how many WebSockets `user` has now. A count that cannot
 * be posted (the request queue is full) is posted again at the next
 * heartbeat; the count is absolute, so a late one is still right. */
static void post_phones(struct wg_web_server *web, const char *user, const struct ws_client *gone)
{
    struct wg_web_request request = {.kind = WG_WEB_WS_PHONES, .ref = sockets_of(web, user, gone)};
    snprintf(request.method, sizeof request.method, "POST");
    snprintf(request.path, sizeof request.path, "/ws");
    snprintf(request.username, sizeof request.username, "%s", user);
    if (bridge_post_request(web->bridge, &request))
        return;
    for (size_t i = 0; i < web->phones_retry_count; i++)
        if (strcmp(web->phones_retry[i], user) == 0)
            return;
    if (web->phones_retry_count < WS_PHONES_RETRY_MAX)
        snprintf(web->phones_retry[web->phones_retry_count++], sizeof web->phones_retry[0], "%s",
                 user);
    else
        wg_warn("web: cannot tell the core how many displays %s has open; the list is full", user);
}

void web_ws_phones_retry(struct wg_web_server *web)
{
    size_t count = web->phones_retry_count;
    char users[WS_PHONES_RETRY_MAX][WG_AUTH_NAME_MAX + 1];
    memcpy(users, web->phones_retry, sizeof users);
    web->phones_retry_count = 0;
    for (size_t i = 0; i < count; i++)
        post_phones(web, users[i], NULL);
}
