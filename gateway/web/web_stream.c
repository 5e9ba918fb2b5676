/* Streamed responses on the web thread (a CSV export, web_bridge.h): the
 * parts of a stream the bridge hands over, queued per connection and
 * written a chunk per writable callback, chunked on HTTP/1.1, cut off when
 * the producer failed. */
#include "web/web_private.h"

#include <jansson.h>
#include <libwebsockets.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"

/* ---- streamed responses (a CSV export): chunks as the producer sends them ---- */

static struct http_conn *conn_by_stream(struct wg_web_server *web, uint64_t id)
{
    for (struct http_conn *c = web->conns; c; c = c->next)
        if (c->streaming && c->stream_id == id)
            return c;
    return NULL;
}

/* A part of a streamed reply from the bridge; takes its body. */
void web_stream_part(struct wg_web_server *web, struct wg_web_reply *reply)
{
    struct http_conn *conn = reply->part == WG_REPLY_STREAM_HEAD
                                 ? web_conn_by_request(web, reply->request_id)
                                 : conn_by_stream(web, reply->request_id);
    if (!conn || conn->stream_finished) {
        bridge_stream_closed(web->bridge, reply->request_id); /* the client is gone */
        return;
    }
    switch (reply->part) {
    case WG_REPLY_STREAM_HEAD:
        conn->request_id = 0;
        conn->responding = conn->streaming = true;
        conn->stream_id = reply->request_id;
        /* h2 streams are the network connection's children; h1 frames itself. */
        conn->stream_h1 = lws_get_network_wsi(conn->wsi) == conn->wsi;
        conn->status = reply->status;
        conn->progress_ms = clock_mono_ms(&web->clock);
        /* lws gives a response 10 s (timeout_secs) unless it serves a file
         * itself; a stream's pace is the client's and the journal's: the
         * stall check in web_tick() replaces it. */
        lws_set_timeout(conn->wsi, NO_PENDING_TIMEOUT, 0);
        snprintf(conn->content_type, sizeof conn->content_type, "%s", reply->content_type);
        snprintf(conn->disposition, sizeof conn->disposition, "%s", reply->disposition);
        break;
    case WG_REPLY_STREAM_CHUNK: {
        struct chunk *chunk = reply->len ? malloc(sizeof *chunk) : NULL;
        if (!chunk) {
            if (reply->len)
                wg_err("web: out of memory; a streamed response is cut off");
            conn->stream_finished = true;
            conn->stream_ok = false;
            break;
        }
        *chunk = (struct chunk){NULL, reply->body, reply->len};
        reply->body = NULL;
        if (!conn->chunks)
            conn->progress_ms = clock_mono_ms(&web->clock);
        if (conn->chunks_tail)
            conn->chunks_tail->next = chunk;
        else
            conn->chunks = chunk;
        conn->chunks_tail = chunk;
        break;
    }
    case WG_REPLY_STREAM_END:
    case WG_REPLY_STREAM_ABORT:
        conn->stream_finished = true;
        conn->stream_ok = reply->part == WG_REPLY_STREAM_END;
        break;
    case WG_REPLY_WHOLE:
        break;
    }
    lws_callback_on_writable(conn->wsi);
}

/* HTTP_WRITEABLE of a streamed response: the headers, then one chunk per
 * call, then the end (or, when the producer failed, a cut-off: the client
 * sees an incomplete transfer, never a short file that looks whole). */
int web_write_stream(struct wg_web_server *web, struct http_conn *conn)
{
    if (!conn->headers_sent) {
        unsigned char buffer[LWS_PRE + 1024];
        unsigned char *start = buffer + LWS_PRE, *p = start, *end = buffer + sizeof buffer - 1;
        /* No length: lws writes "connection: close" (h1), one request per
         * connection as for every answer; chunked, so an export cut off is
         * seen as such. */
        if (lws_add_http_common_headers(conn->wsi, (unsigned int)conn->status, conn->content_type,
                                        LWS_ILLEGAL_HTTP_CONTENT_LEN, &p, end) ||
            (conn->stream_h1 &&
             web_add_header(conn->wsi, "transfer-encoding:", "chunked", &p, end)) ||
            web_add_header(conn->wsi, "cache-control:", "no-store", &p, end) ||
            web_add_header(conn->wsi, "x-content-type-options:", "nosniff", &p, end) ||
            (conn->disposition[0] &&
             web_add_header(conn->wsi, "content-disposition:", conn->disposition, &p, end)) ||
            lws_finalize_write_http_header(conn->wsi, start, &p, end))
            return -1;
        conn->headers_sent = true;
        int klass = conn->status / 100;
        if (klass >= 1 && klass <= 5)
            web->requests_by_class[klass]++;
        lws_callback_on_writable(conn->wsi);
        return 0;
    }
    if (conn->stream_finished && !conn->stream_ok)
        return -1;
    struct chunk *chunk = conn->chunks;
    if (!chunk && !conn->stream_finished)
        return 0; /* the producer has more to come */
    size_t len = chunk ? chunk->len : 0;
    unsigned char *buffer = malloc(LWS_PRE + 16 + len + 8);
    if (!buffer)
        return -1;
    unsigned char *start = buffer + LWS_PRE, *p = start;
    if (conn->stream_h1)
        p += sprintf((char *)p, "%zx\r\n", len);
    if (len)
        memcpy(p, chunk->data, len);
    p += len;
    if (conn->stream_h1)
        p += sprintf((char *)p, "\r\n"); /* the last, "0\r\n\r\n", ends the body */
    bool last = !chunk;
    int written = lws_write(conn->wsi, start, (size_t)(p - start),
                            last ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP);
    free(buffer);
    if (written < (int)(p - start))
        return -1;
    if (last) {
        conn->streaming = false; /* complete: nothing more to tell the producer */
        return lws_http_transaction_completed(conn->wsi) ? -1 : 0;
    }
    conn->chunks = chunk->next;
    if (!conn->chunks)
        conn->chunks_tail = NULL;
    free(chunk->data);
    free(chunk);
    conn->progress_ms = clock_mono_ms(&web->clock);
    bridge_stream_sent(web->bridge, conn->stream_id);
    if (conn->chunks || conn->stream_finished)
        lws_callback_on_writable(conn->wsi);
    return 0;
}
