/* What the core (and the query workers) send back through the bridge, taken
 * on the web thread: replies to HTTP requests (with the web thread's own
 * counters added to /metrics), snapshots and acknowledgement results to
 * displays, broadcasts to every ready display, streamed parts. */
#include "web/web_private.h"

#include <jansson.h>
#include <libwebsockets.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"

static void metrics_reply(struct wg_web_server *web, struct http_conn *conn,
                          struct wg_web_reply *reply)
{
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    if (!out) {
        web_respond_error(conn, 500, NULL, "out of memory");
        return;
    }
    fwrite(reply->body, 1, reply->len, out);
    fprintf(out,
            "# HELP wardgate_ws_clients WebSocket clients (displays) connected\n"
            "# TYPE wardgate_ws_clients gauge\nwardgate_ws_clients %zu\n",
            web->client_count);
    fprintf(out, "# HELP wardgate_http_requests_total HTTP responses by status class\n"
                 "# TYPE wardgate_http_requests_total counter\n");
    for (int k = 1; k <= 5; k++)
        fprintf(out, "wardgate_http_requests_total{code=\"%dxx\"} %llu\n", k,
                (unsigned long long)web->requests_by_class[k]);
    fprintf(out,
            "# HELP wardgate_logins_failed_total failed and throttled logins\n"
            "# TYPE wardgate_logins_failed_total counter\nwardgate_logins_failed_total "
            "%llu\n",
            (unsigned long long)auth_failed_logins(web->auth));
    fclose(out);
    web_respond(conn, reply->status, reply->content_type, text, len);
}

void web_take_replies(struct wg_web_server *web)
{
    struct wg_web_reply *replies = NULL;
    bool overflowed = false;
    size_t count = bridge_take_replies(web->bridge, &replies, &overflowed);
    for (size_t i = 0; i < count; i++) {
        struct wg_web_reply *reply = &replies[i];
        if (reply->part != WG_REPLY_WHOLE) {
            web_stream_part(web, reply);
        } else if (reply->request_id == 0) {
            web_broadcast(web, reply);
        } else {
            struct http_conn *conn = web_conn_by_request(web, reply->request_id);
            struct ws_client *client = NULL, *acker = NULL;
            for (struct ws_client *c = web->clients; c && !conn && !client && !acker; c = c->next) {
                if (c->snapshot_request == reply->request_id)
                    client = c;
                else if (web_ws_ack_answered(c, reply->request_id))
                    acker = c;
            }
            if (conn && conn->is_metrics) {
                metrics_reply(web, conn, reply);
            } else if (conn) {
                snprintf(conn->disposition, sizeof conn->disposition, "%s", reply->disposition);
                web_respond(conn, reply->status, reply->content_type, reply->body, reply->len);
                reply->body = NULL;
            } else if (client) {
                struct ws_msg *msg = web_msg_new(reply->body, reply->len);
                client->snapshot_request = 0;
                if (msg && reply->status == 200) {
                    client->ready = true;
                    web_ws_enqueue(client, msg);
                } else {
                    web_ws_close(client, LWS_CLOSE_STATUS_UNEXPECTED_CONDITION, "no snapshot");
                }
                web_msg_release(msg);
            } else if (acker) {
                struct ws_msg *msg = web_msg_new(reply->body, reply->len);
                if (msg)
                    web_ws_enqueue(acker, msg);
                web_msg_release(msg);
            }
        }
        free(reply->body);
    }
    free(replies);
    if (overflowed) {
        wg_warn("web: display updates fell behind; every display reconnects to a fresh snapshot");
        for (struct ws_client *c = web->clients; c; c = c->next)
            web_ws_close(c, WS_CLOSE_TRY_AGAIN_LATER, "fell behind");
    }
}
