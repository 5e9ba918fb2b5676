/* The web server thread: libwebsockets' service loop, HTTP requests and
 * WebSocket clients, the login worker. See web.h and docs/api.md.
 *
 * Everything here runs on the web thread except the login worker (which only
 * calls auth_* and hands results back through `done`) and web_start/stop.
 * Only lws_cancel_service() is called from other threads: the core's bridge
 * and the worker use it to wake the loop, which then takes their results.
 *
 * One request per HTTP/1.1 connection. lws 4.1.6 reads ahead: bytes after a
 * request (a pipelined second one) wait in its buffer list, and while our
 * answer is pending it parses them into the headers we still use, or, after
 * a body, calls BODY_COMPLETION in a loop (100 % CPU); and a pipelined
 * request with a body is read from that buffer list as its own body by
 * lws_http_action (server.c, "if the stream wsi has its own buflist"), a
 * loop that never ends. So once a request is read in full (headers, and the
 * body when lws reads one) its connection stops reading (rx flow control),
 * and every answer carries "connection: close" and ends the connection. A
 * client that pipelines gets its first answer and a clean close; browsers
 * do not pipeline. The display's WebSocket is its own connection. */
#include "web/web.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <libwebsockets.h>
#include <limits.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "web/api_parse.h"
#include "auth/auth.h"
#include "common/clock.h"
#include "core/liveness.h"
#include "common/log.h"
#include "web/ws_message.h"

#define MAX_BODY                 (64 * 1024)
#define REPLY_TIMEOUT_MS         5000
#define JOB_TIMEOUT_MS           30000 /* the login worker: a password hash on a slow board */
#define WS_QUEUE_MAX             256
#define WS_FRAME_MAX             1024
#define WS_RATE_FRAMES           20
#define WS_RATE_WINDOW_MS        10000
#define WS_RECHECK_MS            30000
#define HEARTBEAT_STALE_MS       3000
#define RETRY_BIND_S             5
#define STOP_WAIT_S              5 /* for the thread to stop, then it is left behind */
#define CHUNK                    16384
#define STATIC_FILE_MAX          (16 * 1024 * 1024)
#define WS_CLOSE_TRY_AGAIN_LATER 1013         /* RFC 6455 registry: try again later */
#define LOCAL_ID_BASE            (1ULL << 62) /* ids of requests the web thread answers itself */

/* A client that takes nothing of a streamed response for this long is dropped. */
#define STREAM_STALL_MS 60000
/* Acknowledgements of one WebSocket client waiting for the core, at most. */
#define WS_ACKS_WAITING_MAX 256

/* ---- connections ---- */

/* One HTTP request/response in flight. */
struct http_conn {
    struct lws *wsi;
    struct http_conn *next;
    uint64_t request_id; /* waiting for the core or the worker; 0 = none */
    int64_t posted_ms;
    int method;
    char path[256];
    char *query;
    char *body;
    size_t body_len;
    bool body_refused;
    bool has_session;
    struct wg_session session;
    char token[WG_AUTH_TOKEN_LEN + 1];
    char client[64];
    bool is_metrics;
    bool body_complete; /* BODY_COMPLETION seen (lws may repeat it: read-ahead) */
    bool rx_held;       /* reading stopped (see "One request per connection") */
    /* the response */
    bool responding;
    bool headers_sent;
    bool page; /* a file from web.root: page headers (CSP ...) */
    int status;
    char content_type[48];
    char disposition[128];
    char set_cookie[256];
    int retry_after;
    char *out;
    size_t out_len, out_sent;
    /* a streamed response (web_bridge.h): chunks as the producer sends them */
    bool streaming;
    bool stream_h1;       /* HTTP/1.1: chunked transfer encoding (h2 frames it itself) */
    bool stream_finished; /* the producer ended it (stream_ok: completely) */
    bool stream_ok;
    uint64_t stream_id;
    struct chunk *chunks, *chunks_tail;
    int64_t progress_ms; /* the last chunk written, or the first one queued since */
};

struct chunk {
    struct chunk *next;
    char *data;
    size_t len;
};

struct ws_msg {
    int refs;
    size_t len;
    unsigned char data[]; /* LWS_PRE bytes, then the text */
};

struct ws_client {
    struct lws *wsi;
    struct ws_client *next;
    struct wg_session session;
    char token[WG_AUTH_TOKEN_LEN + 1];
    char client[64];
    uint64_t snapshot_request;
    uint64_t *acks; /* acknowledgements waiting for their result (request ids) */
    size_t ack_count, ack_capacity;
    bool ready; /* has its snapshot: deltas go out */
    struct ws_msg *queue[WS_QUEUE_MAX];
    size_t head, count;
    char rx[WS_FRAME_MAX + 1];
    size_t rx_len;
    int64_t window_start_ms;
    int window_frames;
    int64_t checked_ms;
    int close_code; /* set: close at the next writable */
    char close_why[64];
};

/* Per-connection user data lws allocates for us. */
struct pss {
    struct http_conn *http;
    struct ws_client *ws;
};

/* ---- the login worker ---- */

enum job_kind {
    JOB_LOGIN,
    JOB_SETUP,
    JOB_USERS_LIST,
    JOB_USER_ADD,
    JOB_USER_UPDATE,
    JOB_USER_DELETE
};

struct job {
    struct job *next;
    enum job_kind kind;
    uint64_t id;
    json_t *body;
    char target[64]; /* user name of /users/{name} */
    char actor[40];
    char client[64];
    /* result */
    int status;
    char *reply;
    char token[WG_AUTH_TOKEN_LEN + 1];
    int64_t max_age_s;
    int retry_after;
};

struct wg_web_server {
    int port;
    char *listen, *root, *tls_cert, *tls_key; /* owned copies of the settings */
    struct wg_clock clock;
    char root_real[PATH_MAX];
    struct wg_web_bridge *bridge;
    struct wg_auth *auth;
    pthread_t thread;
    bool thread_started;
    atomic_bool stop;
    pthread_mutex_t context_lock; /* guards `context` for lws_cancel_service from other threads */
    struct lws_context *context;
    lws_sorted_usec_list_t tick;

    struct http_conn *conns;
    struct ws_client *clients;
    size_t client_count;
    uint64_t next_local_id;
    int64_t heartbeat_ms; /* monotonic time of the core's last heartbeat */
    bool storage_failing;

    pthread_t worker;
    bool worker_started;
    pthread_mutex_t jobs_lock;
    pthread_cond_t jobs_cond;
    struct job *jobs, *done;
    bool worker_stop;

    uint64_t requests_by_class[6]; /* 1xx..5xx */

    struct wg_liveness liveness; /* stamped at every turn of the loop; read by the core */
    bool core_stale;             /* the core's heartbeat is late (logged once) */
    int64_t ticked_ms;           /* the last tick */
};

static void wake(void *ctx)
{
    struct wg_web_server *web = ctx;
    pthread_mutex_lock(&web->context_lock);
    if (web->context)
        lws_cancel_service(web->context);
    pthread_mutex_unlock(&web->context_lock);
}

/* ---- responses ---- */

static char *json_text(json_t *value)
{
    char *text = value ? json_dumps(value, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
    json_decref(value);
    return text ? text : strdup("{\"error\":\"out of memory\"}");
}

/* Queues a response (the body is taken) and asks for a writable callback. */
static void respond(struct http_conn *conn, int status, const char *type, char *body, size_t len)
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

static void respond_json(struct http_conn *conn, int status, json_t *value)
{
    char *text = json_text(value);
    respond(conn, status, "application/json", text, strlen(text));
}

static void respond_error(struct http_conn *conn, int status, const char *field, const char *fmt,
                          ...) __attribute__((format(printf, 4, 5)));
static void respond_error(struct http_conn *conn, int status, const char *field, const char *fmt,
                          ...)
{
    char message[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    json_t *body = json_pack("{s:s}", "error", message);
    if (body && field)
        json_object_set_new(body, "field", json_string(field));
    respond_json(conn, status, body);
}

static int add_header(struct lws *wsi, const char *name, const char *value, unsigned char **p,
                      unsigned char *end)
{
    return lws_add_http_header_by_name(wsi, (const unsigned char *)name,
                                       (const unsigned char *)value, (int)strlen(value), p, end);
}

/* What a page from web.root carries besides the API's headers. */
static int add_page_headers(struct lws *wsi, unsigned char **p, unsigned char *end)
{
    return add_header(wsi, "referrer-policy:", "no-referrer", p, end) ||
           add_header(wsi, "x-frame-options:", "DENY", p, end) ||
           add_header(wsi, "content-security-policy:",
                      "default-src 'self'; connect-src 'self'; img-src 'self' data:; "
                      "frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
                      p, end);
}

static int write_response(struct wg_web_server *web, struct http_conn *conn)
{
    if (!conn->headers_sent) {
        unsigned char buffer[LWS_PRE + 2048];
        unsigned char *start = buffer + LWS_PRE, *p = start, *end = buffer + sizeof buffer - 1;
        /* No length here makes lws write "connection: close" (h1) and end the
         * connection after the transaction; the length follows on its own. */
        if (lws_add_http_common_headers(conn->wsi, (unsigned int)conn->status, conn->content_type,
                                        LWS_ILLEGAL_HTTP_CONTENT_LEN, &p, end) ||
            lws_add_http_header_content_length(conn->wsi, (lws_filepos_t)conn->out_len, &p, end) ||
            add_header(conn->wsi, "cache-control:", conn->page ? "no-cache" : "no-store", &p,
                       end) ||
            add_header(conn->wsi, "x-content-type-options:", "nosniff", &p, end) ||
            (conn->page && add_page_headers(conn->wsi, &p, end)) ||
            (conn->set_cookie[0] &&
             add_header(conn->wsi, "set-cookie:", conn->set_cookie, &p, end)) ||
            (conn->disposition[0] &&
             add_header(conn->wsi, "content-disposition:", conn->disposition, &p, end)))
            return -1;
        if (conn->retry_after > 0) {
            char seconds[16];
            snprintf(seconds, sizeof seconds, "%d", conn->retry_after);
            if (add_header(conn->wsi, "retry-after:", seconds, &p, end))
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

static void conn_free(struct wg_web_server *web, struct http_conn *conn)
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

static struct http_conn *conn_by_request(struct wg_web_server *web, uint64_t id)
{
    for (struct http_conn *c = web->conns; c; c = c->next)
        if (c->request_id == id)
            return c;
    return NULL;
}

/* ---- streamed responses (a CSV export): chunks as the producer sends them ---- */

static struct http_conn *conn_by_stream(struct wg_web_server *web, uint64_t id)
{
    for (struct http_conn *c = web->conns; c; c = c->next)
        if (c->streaming && c->stream_id == id)
            return c;
    return NULL;
}

/* A part of a streamed reply from the bridge; takes its body. */
static void stream_part(struct wg_web_server *web, struct wg_web_reply *reply)
{
    struct http_conn *conn = reply->part == WG_REPLY_STREAM_HEAD
                                 ? conn_by_request(web, reply->request_id)
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
         * stall check in tick() replaces it. */
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
static int write_stream(struct wg_web_server *web, struct http_conn *conn)
{
    if (!conn->headers_sent) {
        unsigned char buffer[LWS_PRE + 1024];
        unsigned char *start = buffer + LWS_PRE, *p = start, *end = buffer + sizeof buffer - 1;
        /* No length: lws writes "connection: close" (h1), one request per
         * connection as for every answer; chunked, so an export cut off is
         * seen as such. */
        if (lws_add_http_common_headers(conn->wsi, (unsigned int)conn->status, conn->content_type,
                                        LWS_ILLEGAL_HTTP_CONTENT_LEN, &p, end) ||
            (conn->stream_h1 && add_header(conn->wsi, "transfer-encoding:", "chunked", &p, end)) ||
            add_header(conn->wsi, "cache-control:", "no-store", &p, end) ||
            add_header(conn->wsi, "x-content-type-options:", "nosniff", &p, end) ||
            (conn->disposition[0] &&
             add_header(conn->wsi, "content-disposition:", conn->disposition, &p, end)) ||
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

/* ---- static files ---- */

static const char *mime_type(const char *path)
{
    static const struct {
        const char *ext, *type;
    } types[] = {
        {".html", "text/html; charset=utf-8"},
        {".js", "text/javascript; charset=utf-8"},
        {".css", "text/css; charset=utf-8"},
        {".json", "application/json"},
        {".svg", "image/svg+xml"},
        {".png", "image/png"},
        {".ico", "image/x-icon"},
        {".woff2", "font/woff2"},
        {".txt", "text/plain; charset=utf-8"},
    };
    const char *dot = strrchr(path, '.');
    for (size_t i = 0; dot && i < sizeof types / sizeof *types; i++)
        if (strcmp(dot, types[i].ext) == 0)
            return types[i].type;
    return NULL;
}

static int serve_static(struct wg_web_server *web, struct http_conn *conn)
{
    const char *path = strcmp(conn->path, "/") == 0 ? "/index.html" : conn->path;
    /* lws has decoded the path; anything that could climb, hide or smuggle is refused. */
    if (path[0] != '/' || strstr(path, "/.") || strchr(path, '\\') || strchr(path, '%') ||
        strstr(path, "//") || strlen(path) > 200) {
        respond_error(conn, 403, NULL, "%s: refused", path);
        return 0;
    }
    char full[PATH_MAX + 256], real[PATH_MAX];
    snprintf(full, sizeof full, "%s%s", web->root_real, path);
    const char *type = mime_type(path);
    struct stat st;
    if (!type || !realpath(full, real) || stat(real, &st) != 0 || !S_ISREG(st.st_mode)) {
        respond_error(conn, 404, NULL, "%s: not found", path);
        return 0;
    }
    size_t root_len = strlen(web->root_real);
    if (strncmp(real, web->root_real, root_len) != 0 || real[root_len] != '/') {
        respond_error(conn, 403, NULL, "%s: outside the web root", path);
        return 0;
    }
    /* Read whole and answered like any other reply (not with lws_serve_http_file:
     * its sending cannot be paused between fragments, see "One request per
     * connection"). The pages are small. */
    if (st.st_size > STATIC_FILE_MAX) {
        respond_error(conn, 500, NULL, "%s: larger than %d bytes", path, STATIC_FILE_MAX);
        return 0;
    }
    FILE *file = fopen(real, "rb");
    char *body = file ? malloc((size_t)st.st_size + 1) : NULL;
    size_t got = body ? fread(body, 1, (size_t)st.st_size, file) : 0;
    if (file)
        fclose(file);
    if (!body || got != (size_t)st.st_size) {
        free(body);
        respond_error(conn, 500, NULL, "%s: cannot be read", path);
        return 0;
    }
    conn->page = true;
    respond(conn, 200, type, body, got);
    return 0;
}

/* ---- sessions ---- */

static bool read_session(struct wg_web_server *web, struct lws *wsi, char *token,
                         struct wg_session *session)
{
    size_t len = WG_AUTH_TOKEN_LEN + 1;
    token[0] = '\0';
    if (lws_http_cookie_get(wsi, "wg_session", token, &len) != 0)
        return false;
    token[len < WG_AUTH_TOKEN_LEN + 1 ? len : WG_AUTH_TOKEN_LEN] = '\0';
    return auth_session(web->auth, token, clock_wall_ms(&web->clock), session);
}

/* A custom header's value (lws keeps the names lower-case for h2, and as
 * sent for h1). */
static bool custom_header(struct lws *wsi, const char *name, char *out, int len)
{
    char lower[64], upper[64];
    snprintf(lower, sizeof lower, "%s:", name);
    for (char *c = lower; *c; c++)
        *c = (char)(*c >= 'A' && *c <= 'Z' ? *c + 32 : *c);
    if (lws_hdr_custom_copy(wsi, out, len, lower, (int)strlen(lower)) > 0)
        return true;
    snprintf(upper, sizeof upper, "%s:", name);
    return lws_hdr_custom_copy(wsi, out, len, upper, (int)strlen(upper)) > 0;
}

/* host[:port] as a Host header or an Origin's authority has it: a name, an
 * IPv4 address or a [bracketed] IPv6 one, and an optional port. Anything
 * else (a path, user info, a comma from a repeated header, spaces) is not. */
static bool authority_ok(const char *text)
{
    size_t n = strspn(text, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:[]");
    return n > 0 && text[n] == '\0';
}

/* A header's whole value into `out`: 1 when present and it fits, 0 when
 * absent, -1 when present but longer than `out` holds (repeated headers come
 * joined by ','). An empty value counts as present. */
static int header_value(struct lws *wsi, enum lws_token_indexes token, char *out, int len)
{
    out[0] = '\0';
    if (lws_hdr_total_length(wsi, token) == 0 && lws_hdr_copy_fragment(wsi, out, len, token, 0) < 0)
        return 0; /* not even an empty fragment: absent */
    return lws_hdr_copy(wsi, out, len, token) < 0 ? -1 : 1;
}

/* An Origin header, when present, must name exactly the host the request
 * was sent to (its Host, or :authority in h2). It fails closed: an Origin or
 * Host that is too long to hold, repeated, empty, "null" or not
 * http(s)://host[:port] is refused. A request without Origin is not a
 * browser's cross-site request (the session cookie is SameSite=Strict, and
 * changes need the CSRF header). */
static bool origin_ok(struct lws *wsi)
{
    char origin[320], host[280];
    int has_origin = header_value(wsi, WSI_TOKEN_ORIGIN, origin, sizeof origin);
    if (has_origin == 0)
        return true;
    int has_host = header_value(wsi, WSI_TOKEN_HOST, host, sizeof host);
    if (has_host == 0)
        has_host = header_value(wsi, WSI_TOKEN_HTTP_COLON_AUTHORITY, host, sizeof host);
    if (has_origin < 0 || has_host <= 0 || !authority_ok(host))
        return false;
    const char *authority = NULL;
    if (strncasecmp(origin, "http://", 7) == 0)
        authority = origin + 7;
    else if (strncasecmp(origin, "https://", 8) == 0)
        authority = origin + 8;
    return authority && authority_ok(authority) && strcasecmp(authority, host) == 0;
}

static bool csrf_ok(struct lws *wsi, const struct wg_session *session)
{
    char token[WG_AUTH_CSRF_LEN + 8];
    if (!custom_header(wsi, "X-CSRF-Token", token, sizeof token))
        return false;
    return strlen(token) == strlen(session->csrf) &&
           sodium_memcmp(token, session->csrf, strlen(token)) == 0;
}

static void session_cookie(struct wg_web_server *web, struct http_conn *conn, const char *token,
                           int64_t max_age_s)
{
    snprintf(conn->set_cookie, sizeof conn->set_cookie,
             "wg_session=%s; Path=/; HttpOnly; SameSite=Strict; Max-Age=%lld%s", token,
             (long long)max_age_s, web->tls_cert[0] ? "; Secure" : "");
}

/* ---- the login worker ---- */

static void post_job(struct wg_web_server *web, struct http_conn *conn, enum job_kind kind,
                     json_t *body, const char *target)
{
    struct job *job = calloc(1, sizeof *job);
    if (!job) {
        json_decref(body);
        respond_error(conn, 500, NULL, "out of memory");
        return;
    }
    job->kind = kind;
    job->id = conn->request_id = web->next_local_id++;
    conn->posted_ms = clock_mono_ms(&web->clock);
    job->body = body;
    snprintf(job->target, sizeof job->target, "%s", target ? target : "");
    snprintf(job->actor, sizeof job->actor, "%s", conn->has_session ? conn->session.username : "");
    snprintf(job->client, sizeof job->client, "%s", conn->client);
    pthread_mutex_lock(&web->jobs_lock);
    struct job **tail = &web->jobs;
    while (*tail)
        tail = &(*tail)->next;
    *tail = job;
    pthread_cond_signal(&web->jobs_cond);
    pthread_mutex_unlock(&web->jobs_lock);
}

static const char *body_string(json_t *body, const char *key)
{
    return json_string_value(json_object_get(body, key));
}

/* An auth refusal as an API error; auth starts its messages with the field
 * at fault ("password: at least 10 characters"), which goes to "field". */
static json_t *user_error(const char *why)
{
    json_t *body = json_pack("{s:s}", "error", why);
    static const char *const fields[] = {"username", "password", "role"};
    for (size_t i = 0; body && i < 3; i++) {
        size_t n = strlen(fields[i]);
        if (strncmp(why, fields[i], n) == 0 && why[n] == ':')
            json_object_set_new(body, "field", json_string(fields[i]));
    }
    return body;
}

/* A change auth could not store (503): the words, and the cause for the
 * pages to put into their own (docs/api.md). */
static json_t *storage_error(const char *why)
{
    json_t *body = json_pack("{s:s}", "error", why);
    const char *reason = auth_storage_reason(why);
    if (body && reason) {
        json_object_set_new(body, "code", json_string("storage"));
        json_object_set_new(body, "args", json_pack("{s:s}", "reason", reason));
    }
    return body;
}

static void run_job(struct wg_web_server *web, struct job *job)
{
    char why[256] = "";
    struct wg_session session;
    int64_t now = clock_wall_ms(&web->clock);
    switch (job->kind) {
    case JOB_LOGIN:
    case JOB_SETUP: {
        enum wg_login_result result =
            job->kind == JOB_LOGIN
                ? auth_login(web->auth, body_string(job->body, "username"),
                             body_string(job->body, "password"), job->client, now, job->token,
                             &session, &job->retry_after, why, sizeof why)
                : auth_setup_admin(web->auth, body_string(job->body, "token"),
                                   body_string(job->body, "username"),
                                   body_string(job->body, "password"), job->client, now, job->token,
                                   &session, why, sizeof why);
        if (result == WG_LOGIN_OK) {
            job->status = 200;
            job->max_age_s = (session.expires_ms - now) / 1000;
            job->reply = json_text(json_pack("{s:s, s:s, s:s, s:I}", "username", session.username,
                                             "role", role_name(session.role), "csrf", session.csrf,
                                             "expires_ms", (json_int_t)session.expires_ms));
        } else {
            job->token[0] = '\0';
            job->status = result == WG_LOGIN_THROTTLED ? 429
                          : result == WG_LOGIN_ERROR   ? 503
                          : result == WG_LOGIN_INVALID ? 400
                          : job->kind == JOB_SETUP     ? 403
                                                       : 401;
            const char *refusal = why[0]                   ? why
                                  : job->kind == JOB_SETUP ? "the setup token is wrong or used, "
                                                             "or a user exists"
                                                           : "wrong user name or password";
            job->reply = json_text(result == WG_LOGIN_ERROR ? storage_error(refusal)
                                                            : json_pack("{s:s}", "error", refusal));
        }
        return;
    }
    case JOB_USERS_LIST:
        job->status = 200;
        job->reply = json_text(auth_list_users(web->auth));
        return;
    case JOB_USER_ADD:
    case JOB_USER_UPDATE: {
        const char *name =
            job->kind == JOB_USER_ADD ? body_string(job->body, "username") : job->target;
        const char *role_text = body_string(job->body, "role");
        int role = role_text ? role_from_name(role_text) : WG_ROLE_NONE;
        int rc = -1;
        if (role < 0 || (job->kind == JOB_USER_ADD && !role_text))
            snprintf(why, sizeof why, "role: expected station, nurse, manager or admin");
        else if (job->kind == JOB_USER_ADD)
            rc = auth_add_user(web->auth, name, (enum wg_role)role,
                               body_string(job->body, "password"), job->actor, job->client, why,
                               sizeof why);
        else
            rc = auth_update_user(web->auth, name, (enum wg_role)role,
                                  body_string(job->body, "password"), job->actor, job->client, why,
                                  sizeof why);
        json_t *user = rc == 0 ? auth_get_user(web->auth, name) : NULL;
        job->status = rc == 0 ? (job->kind == JOB_USER_ADD ? 201 : 200) : rc < -1 ? -rc : 400;
        job->reply = rc == 0                 ? json_text(json_pack("{s:o*}", "user", user))
                     : rc == WG_AUTH_STORAGE ? json_text(storage_error(why))
                                             : json_text(user_error(why));
        return;
    }
    case JOB_USER_DELETE: {
        int rc = auth_delete_user(web->auth, job->target, job->actor, job->client, why, sizeof why);
        job->status = rc == 0 ? 200 : rc < -1 ? -rc : 409;
        job->reply = rc == 0                 ? strdup("{}")
                     : rc == WG_AUTH_STORAGE ? json_text(storage_error(why))
                                             : json_text(json_pack("{s:s}", "error", why));
        return;
    }
    }
}

static void *worker_main(void *arg)
{
    struct wg_web_server *web = arg;
    pthread_mutex_lock(&web->jobs_lock);
    for (;;) {
        while (!web->jobs && !web->worker_stop)
            pthread_cond_wait(&web->jobs_cond, &web->jobs_lock);
        if (web->worker_stop)
            break;
        struct job *job = web->jobs;
        web->jobs = job->next;
        pthread_mutex_unlock(&web->jobs_lock);
        run_job(web, job);
        pthread_mutex_lock(&web->jobs_lock);
        job->next = web->done;
        web->done = job;
        pthread_mutex_unlock(&web->jobs_lock);
        wake(web);
        pthread_mutex_lock(&web->jobs_lock);
    }
    pthread_mutex_unlock(&web->jobs_lock);
    return NULL;
}

static void job_free(struct job *job)
{
    json_decref(job->body);
    free(job->reply);
    sodium_memzero(job->token, sizeof job->token);
    free(job);
}

static void take_done_jobs(struct wg_web_server *web)
{
    pthread_mutex_lock(&web->jobs_lock);
    struct job *done = web->done;
    web->done = NULL;
    pthread_mutex_unlock(&web->jobs_lock);
    while (done) {
        struct job *job = done;
        done = job->next;
        struct http_conn *conn = conn_by_request(web, job->id);
        if (conn) {
            if (job->token[0])
                session_cookie(web, conn, job->token, job->max_age_s);
            conn->retry_after = job->status == 429 ? job->retry_after : 0;
            char *reply = job->reply;
            job->reply = NULL;
            respond(conn, job->status, "application/json", reply, reply ? strlen(reply) : 0);
        }
        job_free(job);
    }
}

/* ---- the API: what the web thread answers, what goes to the core ---- */

/* The body as a JSON object with only `allowed` keys, all strings; NULL after answering 400. */
static json_t *string_fields(struct http_conn *conn, const char *const *allowed)
{
    struct api_error error;
    json_t *body = api_body_strings(conn->body, conn->body_len, allowed, &error);
    if (!body)
        respond_error(conn, 400, error.field[0] ? error.field : NULL, "%s", error.message);
    return body;
}

static bool require_fields(struct http_conn *conn, json_t *body, const char *const *required)
{
    struct api_error error;
    if (api_body_require(body, required, &error))
        return true;
    respond_error(conn, 400, error.field, "%s", error.message);
    return false;
}

static void forward_to_core(struct wg_web_server *web, struct http_conn *conn)
{
    struct wg_web_request request = {.kind = WG_WEB_HTTP,
                                     .query = conn->query,
                                     .body = conn->body,
                                     .body_len = conn->body_len,
                                     .role = conn->has_session ? (int)conn->session.role : 0};
    conn->query = conn->body = NULL;
    static const char *const methods[] = {"GET", "POST", "OPTIONS", "PUT", "PATCH", "DELETE"};
    snprintf(request.method, sizeof request.method, "%s",
             conn->method >= 0 && conn->method <= LWSHUMETH_DELETE ? methods[conn->method] : "?");
    snprintf(request.path, sizeof request.path, "%s", conn->path);
    snprintf(request.username, sizeof request.username, "%s",
             conn->has_session ? conn->session.username : "");
    snprintf(request.client, sizeof request.client, "%s", conn->client);
    uint64_t id = bridge_post_request(web->bridge, &request);
    if (!id) {
        respond_error(conn, 503, NULL, "the gateway is busy; try again");
        return;
    }
    conn->request_id = id;
    conn->posted_ms = clock_mono_ms(&web->clock);
}

static void handle_api(struct wg_web_server *web, struct http_conn *conn)
{
    const char *path = conn->path;
    int method = conn->method;
    static const char *const login_fields[] = {"username", "password", NULL};
    static const char *const setup_fields[] = {"token", "username", "password", NULL};
    static const char *const user_fields[] = {"username", "role", "password", NULL};
    static const char *const user_update_fields[] = {"role", "password", NULL};
    static const char *const none[] = {NULL};
    if (strcmp(path, "/api/v1/setup") == 0 && method == LWSHUMETH_GET) {
        /* Whether the login page may offer the first-admin form: nothing secret
         * (the token itself stays in the log and the token file). */
        int pending = auth_setup_pending(web->auth, clock_wall_ms(&web->clock));
        if (pending < 0)
            respond_error(conn, 503, NULL, "cannot read the user table; try again");
        else
            respond_json(conn, 200, json_pack("{s:b}", "setup_pending", pending));
        return;
    }
    if (strcmp(path, "/api/v1/login") == 0 || strcmp(path, "/api/v1/setup") == 0) {
        if (method != LWSHUMETH_POST) {
            respond_error(conn, 405, NULL, "%s takes POST", path);
            return;
        }
        bool login = strcmp(path, "/api/v1/login") == 0;
        json_t *body = string_fields(conn, login ? login_fields : setup_fields);
        if (body && require_fields(conn, body, login ? login_fields : setup_fields))
            post_job(web, conn, login ? JOB_LOGIN : JOB_SETUP, body, NULL);
        else
            json_decref(body);
        return;
    }
    if (strcmp(path, "/metrics") == 0) {
        conn->is_metrics = true;
        forward_to_core(web, conn);
        return;
    }
    if (!conn->has_session) {
        respond_error(conn, 401, NULL, "log in first (no session, or it has expired)");
        return;
    }
    if (strcmp(path, "/api/v1/session") == 0) {
        if (method != LWSHUMETH_GET) {
            respond_error(conn, 405, NULL, "%s takes GET", path);
            return;
        }
        respond_json(conn, 200,
                     json_pack("{s:s, s:s, s:s, s:I}", "username", conn->session.username, "role",
                               role_name(conn->session.role), "csrf", conn->session.csrf,
                               "expires_ms", (json_int_t)conn->session.expires_ms));
        return;
    }
    if (strcmp(path, "/api/v1/logout") == 0) {
        if (method != LWSHUMETH_POST) {
            respond_error(conn, 405, NULL, "%s takes POST", path);
            return;
        }
        auth_logout(web->auth, conn->token);
        snprintf(conn->set_cookie, sizeof conn->set_cookie,
                 "wg_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0%s",
                 web->tls_cert[0] ? "; Secure" : "");
        respond_json(conn, 200, json_object());
        return;
    }
    if (strcmp(path, "/api/v1/users") == 0 || strncmp(path, "/api/v1/users/", 14) == 0) {
        const char *name = path[13] == '/' ? path + 14 : NULL;
        if (conn->session.role < WG_ROLE_ADMIN) {
            respond_error(conn, 403, NULL, "managing users needs the admin role; %s is %s",
                          conn->session.username, role_name(conn->session.role));
            return;
        }
        if (name && (!name[0] || strchr(name, '/'))) {
            respond_error(conn, 404, NULL, "%s: no such endpoint", path);
            return;
        }
        json_t *body = NULL;
        if (!name && method == LWSHUMETH_GET) {
            post_job(web, conn, JOB_USERS_LIST, NULL, NULL);
        } else if (!name && method == LWSHUMETH_POST) {
            if ((body = string_fields(conn, user_fields)) &&
                require_fields(conn, body, user_fields))
                post_job(web, conn, JOB_USER_ADD, body, NULL);
            else
                json_decref(body);
        } else if (name && method == LWSHUMETH_PUT) {
            if ((body = string_fields(conn, user_update_fields)))
                post_job(web, conn, JOB_USER_UPDATE, body, name);
        } else if (name && method == LWSHUMETH_DELETE) {
            if ((body = string_fields(conn, none)))
                post_job(web, conn, JOB_USER_DELETE, body, name);
        } else {
            respond_error(conn, 405, NULL, "%s: method not allowed", path);
        }
        return;
    }
    forward_to_core(web, conn);
}

/* The request is complete (headers, and the body if any): answer it. */
static void dispatch(struct wg_web_server *web, struct http_conn *conn)
{
    bool changes = conn->method != LWSHUMETH_GET && conn->method != LWSHUMETH_HEAD;
    bool public = strcmp(conn->path, "/api/v1/login") == 0 ||
                  strcmp(conn->path, "/api/v1/setup") == 0 || strcmp(conn->path, "/metrics") == 0;
    if (changes && !origin_ok(conn->wsi)) {
        respond_error(conn, 403, NULL, "the Origin header does not match this gateway");
        return;
    }
    if (changes && !public && conn->has_session && !csrf_ok(conn->wsi, &conn->session)) {
        respond_error(conn, 403, NULL, "missing or wrong X-CSRF-Token header");
        return;
    }
    handle_api(web, conn);
}

static int healthz(struct wg_web_server *web, struct http_conn *conn)
{
    int64_t age = web->heartbeat_ms ? clock_mono_ms(&web->clock) - web->heartbeat_ms : -1;
    bool ok = age >= 0 && age <= HEARTBEAT_STALE_MS && !web->storage_failing;
    respond_json(conn, ok ? 200 : 503,
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
static bool lws_reads_body(struct lws *wsi)
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
static void count_bind(struct lws *wsi)
{
    uintptr_t binds = (uintptr_t)lws_get_opaque_user_data(wsi);
    lws_set_opaque_user_data(wsi, (void *)(binds + 1));
}

/* At LWS_CALLBACK_HTTP: a bind before this request's own means an earlier
 * transaction ended on this HTTP/1.1 connection and this request was read
 * ahead, from the buffer lws would also read its body from (a loop that
 * never ends). h2 streams are each their own wsi. */
static bool read_ahead(struct lws *wsi)
{
    return lws_get_network_wsi(wsi) == wsi && (uintptr_t)lws_get_opaque_user_data(wsi) > 1;
}

/* The request is read in full: nothing more is read from this connection
 * until its answer is written (and the connection ends). lws 4.1.6 does not
 * write on an HTTP/1.1 connection that does not read either (ops-h1.c
 * returns before POLLOUT when rx is flow-controlled), so reading is allowed
 * again between two turns of the loop for a connection with something to
 * write (release_held), and held again after each write that is not the
 * last: lws's read-ahead runs at the end of a turn, after the writes. */
static void hold_reading(struct http_conn *conn)
{
    if (conn->rx_held || lws_get_network_wsi(conn->wsi) != conn->wsi)
        return; /* h2 streams are not read ahead (nor flow-controlled by lws) */
    conn->rx_held = true;
    lws_rx_flow_control(conn->wsi, 0);
}

/* Between two turns of the loop: connections with an answer to write read again. */
static void release_held(struct wg_web_server *web)
{
    for (struct http_conn *c = web->conns; c; c = c->next)
        if (c->rx_held && c->responding) {
            c->rx_held = false;
            lws_rx_flow_control(c->wsi, 1);
        }
}

/* LWS_CALLBACK_HTTP: headers are in. */
static int http_begin(struct wg_web_server *web, struct lws *wsi, struct pss *pss)
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
        respond_error(conn, uri_len >= (int)sizeof conn->path ? 414 : 400, NULL,
                      "bad request line");
        return 0;
    }
    memcpy(conn->path, uri, (size_t)uri_len);
    conn->path[uri_len] = '\0';
    if (memchr(conn->path, '\0', (size_t)uri_len)) {
        respond_error(conn, 400, NULL, "bad path");
        return 0;
    }
    if (read_query(wsi, conn) != 0) {
        respond_error(conn, 400, NULL, "bad query string");
        return 0;
    }
    if (strcmp(conn->path, "/healthz") == 0)
        return healthz(web, conn);
    bool api = strncmp(conn->path, "/api/", 5) == 0 || strcmp(conn->path, "/metrics") == 0;
    if (!api) {
        if (conn->method != LWSHUMETH_GET && conn->method != LWSHUMETH_HEAD) {
            respond_error(conn, 405, NULL, "static files take GET");
            return 0;
        }
        return serve_static(web, conn);
    }
    conn->has_session = read_session(web, wsi, conn->token, &conn->session);
    bool with_body = conn->method == LWSHUMETH_POST || conn->method == LWSHUMETH_PUT ||
                     conn->method == LWSHUMETH_PATCH;
    if (!with_body) {
        dispatch(web, conn);
        return 0;
    }
    char length_text[32];
    if (lws_hdr_copy(wsi, length_text, sizeof length_text, WSI_TOKEN_HTTP_CONTENT_LENGTH) <= 0) {
        respond_error(conn, 411, NULL, "a body needs a Content-Length");
        return 0;
    }
    char *end = NULL;
    long long length = strtoll(length_text, &end, 10);
    if (end == length_text || *end || length < 0) {
        respond_error(conn, 400, NULL, "bad Content-Length");
        return 0;
    }
    if (length > MAX_BODY) {
        conn->body_refused = true;
        respond_error(conn, 413, NULL, "the body is %lld bytes; at most %d are accepted", length,
                      MAX_BODY);
        return 0;
    }
    char type[96] = "";
    lws_hdr_copy(wsi, type, sizeof type, WSI_TOKEN_HTTP_CONTENT_TYPE);
    if (length > 0 && strncmp(type, "application/json", 16) != 0) {
        respond_error(conn, 415, NULL, "the body must be application/json");
        return 0;
    }
    conn->body = calloc(1, (size_t)length + 1);
    if (!conn->body) {
        respond_error(conn, 500, NULL, "out of memory");
        return 0;
    }
    if (length == 0)
        dispatch(web, conn);
    return 0; /* the body follows: LWS_CALLBACK_HTTP_BODY */
}

static int http_body(struct http_conn *conn, const void *in, size_t len)
{
    if (!conn || conn->responding || !conn->body)
        return 0; /* already answered (413, 415 ...): the rest is read and dropped */
    size_t room = MAX_BODY - conn->body_len;
    if (len > room) {
        respond_error(conn, 413, NULL, "the body is larger than its Content-Length");
        return 0;
    }
    memcpy(conn->body + conn->body_len, in, len);
    conn->body_len += len;
    return 0;
}

/* ---- WebSocket clients ---- */

static void msg_release(struct ws_msg *msg)
{
    if (msg && --msg->refs == 0)
        free(msg);
}

static struct ws_msg *msg_new(const char *text, size_t len)
{
    struct ws_msg *msg = malloc(sizeof *msg + LWS_PRE + len);
    if (!msg)
        return NULL;
    msg->refs = 1;
    msg->len = len;
    memcpy(msg->data + LWS_PRE, text, len);
    return msg;
}

static void ws_close(struct ws_client *client, int code, const char *why)
{
    if (client->close_code)
        return;
    client->close_code = code;
    snprintf(client->close_why, sizeof client->close_why, "%s", why);
    wg_info("web: closing WebSocket of %s (%s): %s", client->session.username, client->client, why);
    lws_callback_on_writable(client->wsi);
}

static void ws_enqueue(struct ws_client *client, struct ws_msg *msg)
{
    if (client->close_code)
        return;
    if (client->count == WS_QUEUE_MAX) {
        ws_close(client, LWS_CLOSE_STATUS_POLICY_VIOLATION, "too slow: reconnect for a snapshot");
        return;
    }
    msg->refs++;
    client->queue[(client->head + client->count) % WS_QUEUE_MAX] = msg;
    client->count++;
    lws_callback_on_writable(client->wsi);
}

static int ws_writable(struct ws_client *client)
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
    msg_release(msg);
    if (written < (int)len)
        return -1;
    if (client->count)
        lws_callback_on_writable(client->wsi);
    return 0;
}

static void ws_free(struct wg_web_server *web, struct ws_client *client)
{
    for (struct ws_client **p = &web->clients; *p; p = &(*p)->next)
        if (*p == client) {
            *p = client->next;
            web->client_count--;
            break;
        }
    while (client->count) {
        msg_release(client->queue[client->head]);
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
static bool ws_ack_answered(struct ws_client *client, uint64_t request_id)
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
    char *text = json_text(json_pack("{s:s, s:I, s:b, s:s}", "type", "result", "ref",
                                     (json_int_t)ref, "ok", 0, "error", why));
    struct ws_msg *msg = msg_new(text, strlen(text));
    free(text);
    if (msg)
        ws_enqueue(client, msg);
    msg_release(msg);
}

static void ws_request_snapshot(struct wg_web_server *web, struct ws_client *client)
{
    struct wg_web_request request = {.kind = WG_WEB_WS_SNAPSHOT, .role = (int)client->session.role};
    snprintf(request.method, sizeof request.method, "GET");
    snprintf(request.path, sizeof request.path, "/ws");
    snprintf(request.username, sizeof request.username, "%s", client->session.username);
    snprintf(request.client, sizeof request.client, "%s", client->client);
    client->snapshot_request = bridge_post_request(web->bridge, &request);
    if (!client->snapshot_request)
        ws_close(client, WS_CLOSE_TRY_AGAIN_LATER, "gateway busy");
}

/* One complete frame from a client: only an acknowledgement (ws_message.h). */
static void ws_frame(struct wg_web_server *web, struct ws_client *client)
{
    struct ws_ack ack;
    if (!ws_parse_ack(client->rx, client->rx_len, &ack)) {
        ws_close(client, LWS_CLOSE_STATUS_POLICY_VIOLATION, "unexpected frame");
        return;
    }
    struct wg_session session;
    if (!auth_session(web->auth, client->token, clock_wall_ms(&web->clock), &session) ||
        strlen(ack.csrf) != strlen(session.csrf) ||
        sodium_memcmp(ack.csrf, session.csrf, strlen(ack.csrf)) != 0) {
        ws_close(client, LWS_CLOSE_STATUS_POLICY_VIOLATION, "session ended or bad CSRF token");
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
        ws_close(client, WS_CLOSE_TRY_AGAIN_LATER, "gateway busy");
        return;
    }
    client->acks[client->ack_count++] = id;
}

static void ws_receive(struct wg_web_server *web, struct ws_client *client, const void *in,
                       size_t len)
{
    if (client->close_code)
        return;
    if (lws_frame_is_binary(client->wsi)) {
        ws_close(client, LWS_CLOSE_STATUS_UNACCEPTABLE_OPCODE, "binary frames are not accepted");
        return;
    }
    if (client->rx_len + len > WS_FRAME_MAX) {
        ws_close(client, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE, "frame over 1 KiB");
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
        ws_close(client, LWS_CLOSE_STATUS_POLICY_VIOLATION, "too many frames");
        return;
    }
    ws_frame(web, client);
    client->rx_len = 0;
}

/* ---- replies from the core ---- */

static void broadcast(struct wg_web_server *web, struct wg_web_reply *reply)
{
    if (reply->heartbeat) {
        web->heartbeat_ms = clock_mono_ms(&web->clock);
        web->storage_failing = reply->storage_failing;
    }
    struct ws_msg *msg = msg_new(reply->body, reply->len);
    if (!msg)
        return;
    for (struct ws_client *c = web->clients; c; c = c->next)
        if (c->ready)
            ws_enqueue(c, msg);
    msg_release(msg);
}

static void metrics_reply(struct wg_web_server *web, struct http_conn *conn,
                          struct wg_web_reply *reply)
{
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    if (!out) {
        respond_error(conn, 500, NULL, "out of memory");
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
    respond(conn, reply->status, reply->content_type, text, len);
}

static void take_replies(struct wg_web_server *web)
{
    struct wg_web_reply *replies = NULL;
    bool overflowed = false;
    size_t count = bridge_take_replies(web->bridge, &replies, &overflowed);
    for (size_t i = 0; i < count; i++) {
        struct wg_web_reply *reply = &replies[i];
        if (reply->part != WG_REPLY_WHOLE) {
            stream_part(web, reply);
        } else if (reply->request_id == 0) {
            broadcast(web, reply);
        } else {
            struct http_conn *conn = conn_by_request(web, reply->request_id);
            struct ws_client *client = NULL, *acker = NULL;
            for (struct ws_client *c = web->clients; c && !conn && !client && !acker; c = c->next) {
                if (c->snapshot_request == reply->request_id)
                    client = c;
                else if (ws_ack_answered(c, reply->request_id))
                    acker = c;
            }
            if (conn && conn->is_metrics) {
                metrics_reply(web, conn, reply);
            } else if (conn) {
                snprintf(conn->disposition, sizeof conn->disposition, "%s", reply->disposition);
                respond(conn, reply->status, reply->content_type, reply->body, reply->len);
                reply->body = NULL;
            } else if (client) {
                struct ws_msg *msg = msg_new(reply->body, reply->len);
                client->snapshot_request = 0;
                if (msg && reply->status == 200) {
                    client->ready = true;
                    ws_enqueue(client, msg);
                } else {
                    ws_close(client, LWS_CLOSE_STATUS_UNEXPECTED_CONDITION, "no snapshot");
                }
                msg_release(msg);
            } else if (acker) {
                struct ws_msg *msg = msg_new(reply->body, reply->len);
                if (msg)
                    ws_enqueue(acker, msg);
                msg_release(msg);
            }
        }
        free(reply->body);
    }
    free(replies);
    if (overflowed) {
        wg_warn("web: display updates fell behind; every display reconnects to a fresh snapshot");
        for (struct ws_client *c = web->clients; c; c = c->next)
            ws_close(c, WS_CLOSE_TRY_AGAIN_LATER, "fell behind");
    }
}

/* Once a second: requests the core has not answered, sessions of open
 * sockets, the core's heartbeat. Also keeps the loop turning when idle, so
 * that a liveness stamp older than a few seconds means wedged. */
static void tick(lws_sorted_usec_list_t *sul)
{
    struct wg_web_server *web = lws_container_of(sul, struct wg_web_server, tick);
    int64_t now = clock_mono_ms(&web->clock);
    for (struct http_conn *c = web->conns; c; c = c->next) {
        bool job = c->request_id >= LOCAL_ID_BASE; /* the login worker's, not the core's */
        if (c->request_id && now - c->posted_ms > (job ? JOB_TIMEOUT_MS : REPLY_TIMEOUT_MS))
            respond_error(c, 503, NULL, "%s did not answer within %d s",
                          job ? "the login worker" : "the gateway",
                          (job ? JOB_TIMEOUT_MS : REPLY_TIMEOUT_MS) / 1000);
        if (c->streaming && c->chunks && now - c->progress_ms > STREAM_STALL_MS) {
            wg_notice("web: %s took nothing of a streamed response for %d s; closing it", c->client,
                      STREAM_STALL_MS / 1000);
            lws_set_timeout(c->wsi, PENDING_TIMEOUT_HTTP_CONTENT, LWS_TO_KILL_ASYNC);
        }
    }
    /* After a pause of the whole process (SIGSTOP, suspend) every beat is late:
     * the core is judged at the next tick, when its beat had a moment to come. */
    bool self_late = web->ticked_ms && now - web->ticked_ms > 2000;
    web->ticked_ms = now;
    int64_t beat_age = now - web->heartbeat_ms;
    bool core_stale = beat_age > HEARTBEAT_STALE_MS;
    if (!self_late && core_stale != web->core_stale) {
        if (core_stale)
            wg_crit("web: no heartbeat from the core thread for %lld ms: /healthz answers 503 "
                    "and the displays show the connection as lost",
                    (long long)beat_age);
        else
            wg_notice("web: the core thread beats again");
        web->core_stale = core_stale;
    }
    for (struct ws_client *c = web->clients; c; c = c->next) {
        if (now - c->checked_ms < WS_RECHECK_MS)
            continue;
        c->checked_ms = now;
        if (!auth_session(web->auth, c->token, clock_wall_ms(&web->clock), &c->session))
            ws_close(c, LWS_CLOSE_STATUS_POLICY_VIOLATION, "session ended");
    }
    lws_sul_schedule(web->context, 0, &web->tick, tick, LWS_US_PER_SEC);
}

/* ---- the lws callbacks ---- */

static int callback_http(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                         size_t len)
{
    struct wg_web_server *web = lws_context_user(lws_get_context(wsi));
    struct pss *pss = user;
    switch (reason) {
    case LWS_CALLBACK_HTTP_BIND_PROTOCOL:
        count_bind(wsi);
        return 0;
    case LWS_CALLBACK_HTTP_DROP_PROTOCOL: /* lws frees this pss next (also when rebinding) */
    case LWS_CALLBACK_CLOSED_HTTP:
        if (pss && pss->http) {
            conn_free(web, pss->http);
            pss->http = NULL;
        }
        return 0;
    case LWS_CALLBACK_HTTP: {
        if (read_ahead(wsi)) {
            char peer[64];
            wg_info("web: a second request on one connection from %s (pipelined): closed",
                    lws_get_peer_simple(wsi, peer, sizeof peer) ? peer : "?");
            return -1; /* before lws would read its body from the wrong place */
        }
        int rc = http_begin(web, wsi, pss);
        if (rc == 0 && pss->http && !lws_reads_body(wsi))
            hold_reading(pss->http); /* the request is complete */
        return rc;
    }
    case LWS_CALLBACK_HTTP_BODY:
        return http_body(pss->http, in, len);
    case LWS_CALLBACK_HTTP_BODY_COMPLETION:
        /* Once per request; lws repeats it while bytes it read ahead wait. */
        if (!pss->http || pss->http->body_complete)
            return 0;
        pss->http->body_complete = true;
        hold_reading(pss->http);
        if (!pss->http->responding && !pss->http->request_id)
            dispatch(web, pss->http);
        return 0;
    case LWS_CALLBACK_HTTP_WRITEABLE: {
        struct http_conn *conn = pss->http;
        if (conn && conn->streaming) {
            int rc = write_stream(web, conn);
            if (rc == 0 && conn->streaming)
                hold_reading(conn); /* more to come: until the next turn of the loop */
            return rc;
        }
        /* Either headers still to send, or body left to send. */
        if (!conn || !conn->responding || (conn->headers_sent && conn->out_sent >= conn->out_len))
            return 0;
        int rc = write_response(web, conn);
        if (rc == 0 && conn->responding && conn->out_sent < conn->out_len)
            hold_reading(conn); /* more to write: until the next turn of the loop */
        return rc;
    }
    case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
        if (web) {
            take_replies(web);
            take_done_jobs(web);
        }
        return 0;
    default:
        return lws_callback_http_dummy(wsi, reason, user, in, len);
    }
}

static int callback_ws(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                       size_t len)
{
    struct wg_web_server *web = lws_context_user(lws_get_context(wsi));
    struct pss *pss = user;
    switch (reason) {
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION: {
        if (!origin_ok(wsi)) {
            wg_notice("web: WebSocket refused: Origin does not match the host");
            return 1;
        }
        struct ws_client *client = calloc(1, sizeof *client);
        if (!client)
            return 1;
        if (!read_session(web, wsi, client->token, &client->session)) {
            free(client);
            return 1; /* no session: the handshake fails */
        }
        client->wsi = wsi;
        if (lws_get_peer_simple(wsi, client->client, sizeof client->client) == NULL)
            snprintf(client->client, sizeof client->client, "?");
        client->checked_ms = client->window_start_ms = clock_mono_ms(&web->clock);
        pss->ws = client;
        return 0;
    }
    case LWS_CALLBACK_ESTABLISHED:
        if (!pss->ws)
            return -1;
        pss->ws->next = web->clients;
        web->clients = pss->ws;
        web->client_count++;
        ws_request_snapshot(web, pss->ws);
        return 0;
    case LWS_CALLBACK_RECEIVE:
        if (pss->ws)
            ws_receive(web, pss->ws, in, len);
        return 0;
    case LWS_CALLBACK_SERVER_WRITEABLE:
        return pss->ws ? ws_writable(pss->ws) : 0;
    case LWS_CALLBACK_CLOSED:
        if (pss->ws)
            ws_free(web, pss->ws);
        pss->ws = NULL;
        return 0;
    default:
        return 0;
    }
}

static const struct lws_protocols protocols[] = {
    /* tx_packet_size: lws 4.1.6 sends at most this (else 4 KiB) per write and
     * keeps the rest for POLLOUT, which an h1 connection whose reading is held
     * does not get (see "One request per connection"); a CHUNK goes whole. */
    {"http", callback_http, sizeof(struct pss), 0, 0, NULL, CHUNK},
    {"wardgate.v1", callback_ws, sizeof(struct pss), WS_FRAME_MAX, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

static const struct lws_http_mount mount = {
    .mountpoint = "/",
    .mountpoint_len = 1,
    .origin = "http",
    .origin_protocol = LWSMPRO_CALLBACK,
};

/* lws logs through ours: errors and warnings only. */
static void lws_log(int level, const char *line)
{
    size_t len = strlen(line);
    while (len && line[len - 1] == '\n')
        len--;
    if (level & LLL_ERR)
        wg_err("web (lws): %.*s", (int)len, line);
    else
        wg_warn("web (lws): %.*s", (int)len, line);
}

static struct lws_context *create_context(struct wg_web_server *web)
{
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.port = web->port;
    info.iface = web->listen[0] ? web->listen : NULL;
    info.protocols = protocols;
    info.mounts = &mount;
    info.user = web;
    info.options = LWS_SERVER_OPTION_VALIDATE_UTF8;
    info.timeout_secs = 10;
    info.max_http_header_data = 4096;
    info.vhost_name = "wardgate";
    if (web->tls_cert[0]) {
        info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
        info.ssl_cert_filepath = web->tls_cert;
        info.ssl_private_key_filepath = web->tls_key;
    }
    return lws_create_context(&info);
}

static void *web_main(void *arg)
{
    struct wg_web_server *web = arg;
    bool complained = false;
    while (!atomic_load(&web->stop)) {
        struct lws_context *context = create_context(web);
        if (!context) {
            if (!complained)
                wg_crit("web: cannot serve on %s:%d (see above); the display is unavailable, "
                        "alarms still go to lamps, buzzers and the district; retrying every %d s",
                        web->listen[0] ? web->listen : "*", web->port, RETRY_BIND_S);
            complained = true;
            for (int i = 0; i < RETRY_BIND_S * 10 && !atomic_load(&web->stop); i++) {
                liveness_turn(&web->liveness, clock_mono_ms(&web->clock));
                usleep(100000);
            }
            continue;
        }
        pthread_mutex_lock(&web->context_lock);
        web->context = context;
        pthread_mutex_unlock(&web->context_lock);
        wg_notice("web: serving %s on %s://%s:%d/", web->root_real,
                  web->tls_cert[0] ? "https" : "http", web->listen[0] ? web->listen : "*",
                  web->port);
        lws_sul_schedule(context, 0, &web->tick, tick, LWS_US_PER_SEC);
        if (!web->heartbeat_ms)
            web->heartbeat_ms =
                clock_mono_ms(&web->clock); /* the core's first beat is due within a second */
        take_replies(web);                  /* anything posted before the context existed */
        while (!atomic_load(&web->stop)) {
            if (lws_service(context, 0) < 0)
                break;
            release_held(web);
            liveness_turn(&web->liveness, clock_mono_ms(&web->clock));
        }
        pthread_mutex_lock(&web->context_lock);
        web->context = NULL;
        pthread_mutex_unlock(&web->context_lock);
        lws_context_destroy(context);
    }
    return NULL;
}

/* ---- start and stop ---- */

static char *copy_or_empty(const char *text)
{
    return strdup(text ? text : "");
}

static void free_server(struct wg_web_server *web)
{
    auth_close(web->auth);
    pthread_mutex_destroy(&web->context_lock);
    pthread_mutex_destroy(&web->jobs_lock);
    pthread_cond_destroy(&web->jobs_cond);
    free(web->listen);
    free(web->root);
    free(web->tls_cert);
    free(web->tls_key);
    free(web);
}

struct wg_web_server *web_start(const struct wg_web *settings, const char *db_path,
                                struct wg_store_calls *store_calls, struct wg_web_bridge *bridge)
{
    if (sodium_init() < 0) {
        wg_crit("web: libsodium cannot start");
        return NULL;
    }
    struct wg_web_server *web = calloc(1, sizeof *web);
    if (!web)
        return NULL;
    pthread_mutex_init(&web->context_lock, NULL);
    pthread_mutex_init(&web->jobs_lock, NULL);
    pthread_cond_init(&web->jobs_cond, NULL);
    web->port = settings->port;
    web->clock = clock_real();
    web->listen = copy_or_empty(settings->listen);
    web->root = copy_or_empty(settings->root && settings->root[0] ? settings->root : WG_WEB_ROOT);
    web->tls_cert = copy_or_empty(settings->tls_cert);
    web->tls_key = copy_or_empty(settings->tls_key);
    web->bridge = bridge;
    web->next_local_id = LOCAL_ID_BASE;
    liveness_init(&web->liveness, "web", clock_mono_ms(&web->clock));
    if (!web->listen || !web->root || !web->tls_cert || !web->tls_key) {
        free_server(web);
        return NULL;
    }
    if (!realpath(web->root, web->root_real)) {
        wg_crit("web: the web root %s: %s", web->root, strerror(errno));
        free_server(web);
        return NULL;
    }
    char err[256];
    web->auth = auth_open(db_path, store_calls, err, sizeof err);
    if (!web->auth) {
        wg_crit("web: %s", err);
        free_server(web);
        return NULL;
    }
    char token[128], token_path[4096], token_err[256];
    int made = auth_make_setup_token(web->auth, clock_wall_ms(&web->clock), token, sizeof token);
    /* The file holds the new token, or is removed once users exist. */
    if (made >= 0 &&
        auth_write_setup_token_file(web->auth, made == 1 ? token : NULL, token_path,
                                    sizeof token_path, token_err, sizeof token_err) != 0)
        wg_warn("web: setup token file: %s", token_err);
    if (made == 1) {
        wg_notice("web: no user exists yet. Create the first admin with `wardgated -c FILE "
                  "--add-user NAME --role admin`, or in the browser with the one-time setup "
                  "token %s (valid 24 h; also in the setup-token file beside the database)",
                  token);
    }
    sodium_memzero(token, sizeof token);
    lws_set_log_level(LLL_ERR | LLL_WARN, lws_log);
    bridge_set_wake(bridge, wake, web);
    if (pthread_create(&web->worker, NULL, worker_main, web) != 0) {
        bridge_set_wake(bridge, NULL, NULL);
        free_server(web);
        return NULL;
    }
    web->worker_started = true;
    if (pthread_create(&web->thread, NULL, web_main, web) != 0) {
        (void)web_stop(web); /* only the worker runs: it stops */
        return NULL;
    }
    web->thread_started = true;
    return web;
}

struct wg_liveness *web_liveness(struct wg_web_server *web)
{
    return &web->liveness;
}

/* Waits for the web thread, a bounded time: a wedged one must not hold up
 * the core's shutdown (it still has to stop the drivers and commit). */
static bool join_web_thread(struct wg_web_server *web)
{
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += STOP_WAIT_S;
    int rc = pthread_timedjoin_np(web->thread, NULL, &deadline);
    if (rc == 0)
        return true;
    wg_crit("web: the web thread did not stop within %d s (wedged: it last turned %lld ms ago); "
            "left behind so that the daemon can still stop cleanly",
            STOP_WAIT_S, (long long)liveness_age_ms(&web->liveness, clock_mono_ms(&web->clock)));
    return false;
}

bool web_stop(struct wg_web_server *web)
{
    if (!web)
        return true;
    atomic_store(&web->stop, true);
    wake(web);
    if (web->thread_started && !join_web_thread(web))
        return false; /* everything it may still touch is left as it is */
    bridge_set_wake(web->bridge, NULL, NULL);
    pthread_mutex_lock(&web->jobs_lock);
    web->worker_stop = true;
    pthread_cond_signal(&web->jobs_cond);
    pthread_mutex_unlock(&web->jobs_lock);
    if (web->worker_started)
        pthread_join(web->worker, NULL);
    for (struct job *lists[2] = {web->jobs, web->done}, **l = lists; l < lists + 2; l++)
        while (*l) {
            struct job *next = (*l)->next;
            job_free(*l);
            *l = next;
        }
    while (web->conns)
        conn_free(web, web->conns);
    while (web->clients)
        ws_free(web, web->clients);
    free_server(web);
    return true;
}
