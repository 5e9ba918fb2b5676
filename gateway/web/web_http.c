/* HTTP connections on the web thread: reading a request (path, query,
 * body, within the limits of docs/api.md), holding further reads on the
 * connection until it is answered ("One request per connection", web.c),
 * and writing a whole response; /healthz from the core's last heartbeat. */
#include "web/web_private.h"

#include <stdarg.h>
#include <jansson.h>
#include <libwebsockets.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- responses ---- */

char *web_json_text(json_t *value)
{
    char *text = bridge_json_text(value);
    return text ? text : strdup("{\"error\":\"out of memory\"}");
}

/* Queues a response (the body is taken) and asks for a writable callback. */
void web_respond(struct http_conn *conn, int status, const char *type, char *body, size_t len)
{
    free(conn->out);
    conn->responding = true;
    conn->request_id = 0;
    conn->status = status;
    snprintf(conn->content_type, sizeof conn->content_type, "%s", type);
    conn->out = body;
    conn->out_len = body ? len : 0;
    conn->out_sent = 0;
    lws_callback_on_writable(conn->wsi);
}

void web_respond_json(struct http_conn *conn, int status, json_t *value)
{
    char *text = web_json_text(value);
    web_respond(conn, status, "application/json", text, strlen(text));
}

void web_respond_error(struct http_conn *conn, int status, const char *field, const char *fmt, ...)
{
    char message[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    web_respond_json(conn, status, bridge_error_json(field, message));
}

int web_add_header(struct lws *wsi, const char *name, const char *value, unsigned char **p,
                   unsigned char *end)
{
    return lws_add_http_header_by_name(wsi, (const unsigned char *)name,
                                       (const unsigned char *)value, (int)strlen(value), p, end);
}

/* What a page from web.root carries besides the API's headers. */
static int add_page_headers(struct lws *wsi, unsigned char **p, unsigned char *end)
{
    return web_add_header(wsi, "referrer-policy:", "no-referrer", p, end) ||
           web_add_header(wsi, "x-frame-options:", "DENY", p, end) ||
           web_add_header(wsi, "content-security-policy:",
                          "default-src 'self'; connect-src 'self'; img-src 'self' data:; "
                          "frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
                          p, end);
}

int web_write_response(struct wg_web_server *web, struct http_conn *conn)
{
    if (!conn->headers_sent) {
        unsigned char buffer[LWS_PRE + 2048];
        unsigned char *start = buffer + LWS_PRE, *p = start, *end = buffer + sizeof buffer - 1;
        /* No length here makes lws write "connection: close" (h1) and end the
         * connection after the transaction; the length follows on its own. */
        if (lws_add_http_common_headers(conn->wsi, (unsigned int)conn->status, conn->content_type,
                                        LWS_ILLEGAL_HTTP_CONTENT_LEN, &p, end) ||
            lws_add_http_header_content_length(conn->wsi, (lws_filepos_t)conn->out_len, &p, end) ||
            web_add_header(conn->wsi, "cache-control:", conn->page ? "no-cache" : "no-store", &p,
                           end) ||
            web_add_header(conn->wsi, "x-content-type-options:", "nosniff", &p, end) ||
            (conn->page && add_page_headers(conn->wsi, &p, end)) ||
            (conn->set_cookie[0] &&
             web_add_header(conn->wsi, "set-cookie:", conn->set_cookie, &p, end)) ||
            (conn->disposition[0] &&
             web_add_header(conn->wsi, "content-disposition:", conn->disposition, &p, end)))
            return -1;
        if (conn->retry_after > 0) {
            char seconds[16];
            snprintf(seconds, sizeof seconds, "%d", conn->retry_after);
            if (web_add_header(conn->wsi, "retry-after:", seconds, &p, end))
                return -1;
        }
        if (lws_finalize_write_http_header(conn->wsi, start, &p, end))
            return -1;
        conn->headers_sent = true;
        int klass = conn->status / 100;
        if (klass >= 1 && klass <= 5)
            web->requests_by_class[klass]++;
        if (conn->out_len == 0) {
            if (lws_write(conn->wsi, start, 0, LWS_WRITE_HTTP_FINAL) < 0)
                return -1;
            return lws_http_transaction_completed(conn->wsi) ? -1 : 0;
        }
        lws_callback_on_writable(conn->wsi);
        return 0;
    }
    unsigned char buffer[LWS_PRE + CHUNK];
    size_t n = conn->out_len - conn->out_sent;
    if (n > CHUNK)
        n = CHUNK;
    memcpy(buffer + LWS_PRE, conn->out + conn->out_sent, n);
    conn->out_sent += n;
    bool last = conn->out_sent == conn->out_len;
    if (lws_write(conn->wsi, buffer + LWS_PRE, n, last ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP) <
        (int)n)
        return -1;
    if (!last) {
        lws_callback_on_writable(conn->wsi);
        return 0;
    }
    return lws_http_transaction_completed(conn->wsi) ? -1 : 0;
}

void web_conn_free(struct wg_web_server *web, struct http_conn *conn)
{
    for (struct http_conn **p = &web->conns; *p; p = &(*p)->next)
        if (*p == conn) {
            *p = conn->next;
            break;
        }
    if (conn->streaming && !conn->stream_finished)
        bridge_stream_closed(web->bridge, conn->stream_id); /* its producer stops */
    while (conn->chunks) {
        struct chunk *next = conn->chunks->next;
        free(conn->chunks->data);
        free(conn->chunks);
        conn->chunks = next;
    }
    free(conn->query);
    free(conn->body);
    free(conn->out);
    free(conn);
}

struct http_conn *web_conn_by_request(struct wg_web_server *web, uint64_t id)
{
    for (struct http_conn *c = web->conns; c; c = c->next)
        if (c->request_id == id)
            return c;
    return NULL;
}

static int healthz(struct wg_web_server *web, struct http_conn *conn)
{
    int64_t age = web->heartbeat_ms ? clock_mono_ms(&web->clock) - web->heartbeat_ms : -1;
    bool ok = age >= 0 && age <= HEARTBEAT_STALE_MS && !web->storage_failing;
    web_respond_json(conn, ok ? 200 : 503,
                     json_pack("{s:s, s:I, s:s, s:i}", "status", ok ? "ok" : "failing",
                               "core_heartbeat_age_ms", (json_int_t)age, "storage",
                               web->storage_failing ? "failing" : "ok", "ws_clients",
                               (int)web->client_count));
    return 0;
}

/* lws keeps the query's name=value parts as separate, decoded fragments;
 * they are joined with '&' again, with '%', '&' and '+' re-escaped so the
 * API decodes each value exactly once. */
static int read_query(struct lws *wsi, struct http_conn *conn)
{
    int total = lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_URI_ARGS);
    if (total <= 0)
        return 0;
    size_t cap = (size_t)total * 3 + 64;
    conn->query = calloc(1, cap);
    if (!conn->query)
        return -1;
    size_t used = 0;
    char fragment[1024];
    for (int n = 0;; n++) {
        int len = lws_hdr_copy_fragment(wsi, fragment, sizeof fragment, WSI_TOKEN_HTTP_URI_ARGS, n);
        if (len < 0)
            break;
        if (used && used < cap - 1)
            conn->query[used++] = '&';
        for (int i = 0; i < len && used + 4 < cap; i++) {
            char c = fragment[i];
            if (c == '%' || c == '&' || c == '+' ||
                (c == '=' && memchr(fragment, '=', (size_t)i))) {
                used +=
                    (size_t)snprintf(conn->query + used, cap - used, "%%%02X", (unsigned char)c);
            } else {
                conn->query[used++] = c;
            }
        }
    }
    conn->query[used] = '\0';
    return 0;
}

/* Whether lws reads a body after these headers, by its own rule (4.1.6,
 * lws_http_action): the Content-Length when it has one, else up to 100 MiB
 * for POST, PUT and PATCH. While it reads a body, bytes that follow are body,
 * never a next request. */
bool web_lws_reads_body(struct lws *wsi)
{
    char length[32];
    if (lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH) &&
        lws_hdr_copy(wsi, length, sizeof length - 1, WSI_TOKEN_HTTP_CONTENT_LENGTH) > 0)
        return atoll(length) != 0;
    return lws_hdr_total_length(wsi, WSI_TOKEN_POST_URI) ||
           lws_hdr_total_length(wsi, WSI_TOKEN_PUT_URI) ||
           lws_hdr_total_length(wsi, WSI_TOKEN_PATCH_URI);
}

/* lws binds the "http" protocol to a connection just before each
 * LWS_CALLBACK_HTTP, and again after each transaction it keeps alive (ours
 * end the connection, but lws answers some requests itself and may keep
 * those alive). The count is kept in the connection's opaque user data,
 * which lws keeps across binds (the pss is freed at each). */
void web_count_bind(struct lws *wsi)
{
    uintptr_t binds = (uintptr_t)lws_get_opaque_user_data(wsi);
    lws_set_opaque_user_data(wsi, (void *)(binds + 1));
}

/* At LWS_CALLBACK_HTTP: a bind before this request's own means an earlier
 * transaction ended on this HTTP/1.1 connection and this request was read
 * ahead, from the buffer lws would also read its body from (a loop that
 * never ends). h2 streams are each their own wsi. */
bool web_read_ahead(struct lws *wsi)
{
    return lws_get_network_wsi(wsi) == wsi && (uintptr_t)lws_get_opaque_user_data(wsi) > 1;
}

/* The request is read in full: nothing more is read from this connection
 * until its answer is written (and the connection ends). lws 4.1.6 does not
 * write on an HTTP/1.1 connection that does not read either (ops-h1.c
 * returns before POLLOUT when rx is flow-controlled), so reading is allowed
 * again between two turns of the loop for a connection with something to
 * write (web_release_held), and held again after each write that is not the
 * last: lws's read-ahead runs at the end of a turn, after the writes. */
void web_hold_reading(struct http_conn *conn)
{
    if (conn->rx_held || lws_get_network_wsi(conn->wsi) != conn->wsi)
        return; /* h2 streams are not read ahead (nor flow-controlled by lws) */
    conn->rx_held = true;
    lws_rx_flow_control(conn->wsi, 0);
}

/* Between two turns of the loop: connections with an answer to write read again. */
void web_release_held(struct wg_web_server *web)
{
    for (struct http_conn *c = web->conns; c; c = c->next)
        if (c->rx_held && c->responding) {
            c->rx_held = false;
            lws_rx_flow_control(c->wsi, 1);
        }
}

/* LWS_CALLBACK_HTTP: headers are in. */
int web_http_begin(struct wg_web_server *web, struct lws *wsi, struct pss *pss)
{
    struct http_conn *conn = calloc(1, sizeof *conn);
    if (!conn)
        return -1;
    conn->wsi = wsi;
    conn->next = web->conns;
    web->conns = conn;
    pss->http = conn;
    char *uri = NULL;
    int uri_len = 0;
    conn->method = lws_http_get_uri_and_method(wsi, &uri, &uri_len);
    if (lws_get_peer_simple(wsi, conn->client, sizeof conn->client) == NULL)
        snprintf(conn->client, sizeof conn->client, "?");
    if (conn->method < 0 || !uri || uri_len <= 0 || (size_t)uri_len >= sizeof conn->path) {
        web_respond_error(conn, uri_len >= (int)sizeof conn->path ? 414 : 400, NULL,
                          "bad request line");
        return 0;
    }
    memcpy(conn->path, uri, (size_t)uri_len);
    conn->path[uri_len] = '\0';
    if (memchr(conn->path, '\0', (size_t)uri_len)) {
        web_respond_error(conn, 400, NULL, "bad path");
        return 0;
    }
    if (read_query(wsi, conn) != 0) {
        web_respond_error(conn, 400, NULL, "bad query string");
        return 0;
    }
    if (strcmp(conn->path, "/healthz") == 0)
        return healthz(web, conn);
    if (strcmp(conn->path, "/ca.crt") == 0)
        return web_serve_ca(web, conn);
    bool api = strncmp(conn->path, "/api/", 5) == 0 || strcmp(conn->path, "/metrics") == 0;
    if (!api) {
        if (conn->method != LWSHUMETH_GET && conn->method != LWSHUMETH_HEAD) {
            web_respond_error(conn, 405, NULL, "static files take GET");
            return 0;
        }
        return web_serve_static(web, conn);
    }
    conn->has_session = web_read_session(web, wsi, conn->token, &conn->session);
    bool with_body = conn->method == LWSHUMETH_POST || conn->method == LWSHUMETH_PUT ||
                     conn->method == LWSHUMETH_PATCH;
    if (!with_body) {
        web_dispatch(web, conn);
        return 0;
    }
    char length_text[32];
    if (lws_hdr_copy(wsi, length_text, sizeof length_text, WSI_TOKEN_HTTP_CONTENT_LENGTH) <= 0) {
        web_respond_error(conn, 411, NULL, "a body needs a Content-Length");
        return 0;
    }
    char *end = NULL;
    long long length = strtoll(length_text, &end, 10);
    if (end == length_text || *end || length < 0) {
        web_respond_error(conn, 400, NULL, "bad Content-Length");
        return 0;
    }
    if (length > MAX_BODY) {
        conn->body_refused = true;
        web_respond_error(conn, 413, NULL, "the body is %lld bytes; at most %d are accepted",
                          length, MAX_BODY);
        return 0;
    }
    char type[96] = "";
    lws_hdr_copy(wsi, type, sizeof type, WSI_TOKEN_HTTP_CONTENT_TYPE);
    if (length > 0 && strncmp(type, "application/json", 16) != 0) {
        web_respond_error(conn, 415, NULL, "the body must be application/json");
        return 0;
    }
    conn->body = calloc(1, (size_t)length + 1);
    if (!conn->body) {
        web_respond_error(conn, 500, NULL, "out of memory");
        return 0;
    }
    if (length == 0)
        web_dispatch(web, conn);
    return 0; /* the body follows: LWS_CALLBACK_HTTP_BODY */
}

int web_http_body(struct http_conn *conn, const void *in, size_t len)
{
    if (!conn || conn->responding || !conn->body)
        return 0; /* already answered (413, 415 ...): the rest is read and dropped */
    size_t room = MAX_BODY - conn->body_len;
    if (len > room) {
        web_respond_error(conn, 413, NULL, "the body is larger than its Content-Length");
        return 0;
    }
    memcpy(conn->body + conn->body_len, in, len);
    conn->body_len += len;
    return 0;
}
