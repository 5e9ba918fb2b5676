/* What the web server's files share, and nothing outside gateway/web/web*.c
 * may include: the limits, the server, its HTTP connections, WebSocket
 * clients and login jobs, and the functions one part calls in another. All
 * of it belongs to the web thread (web.c says which parts run elsewhere).
 * The public interface is web.h. */
#ifndef WG_WEB_PRIVATE_H
#define WG_WEB_PRIVATE_H

#include <jansson.h>
#include <libwebsockets.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "auth/auth.h"
#include "common/clock.h"
#include "web/web.h"

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
#define RETRY_TLS_S              60 /* the HTTPS vhost beside plain HTTP, when it failed */
#define WS_PING_S                10 /* a WebSocket quiet this long is pinged */
#define WS_HANGUP_S              25 /* ... and closed when nothing came back by then */
#define STOP_WAIT_S              5  /* for the thread to stop, then it is left behind */
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

#define WS_PHONES_RETRY_MAX 64

struct wg_web_server {
    int port, tls_port;
    /* owned copies of the settings */
    char *listen, *root, *tls_cert, *tls_key, *tls_ca, *public_host;
    struct lws_vhost *tls_vhost; /* the vhost speaking HTTPS, if any */
    bool tls_failed;             /* the tls_port vhost could not be made (logged once) */
    int64_t tls_tried_ms;        /* when it was last tried */
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

    bool core_stale;   /* the core's heartbeat is late (logged once) */
    int64_t ticked_ms; /* the last tick */

    /* Users whose count of open WebSockets the core has still to be told. */
    char phones_retry[WS_PHONES_RETRY_MAX][WG_AUTH_NAME_MAX + 1];
    size_t phones_retry_count;
};

/* web.c */
void web_wake(void *ctx);

/* web_http.c */
char *web_json_text(json_t *value);
void web_respond(struct http_conn *conn, int status, const char *type, char *body, size_t len);
void web_respond_json(struct http_conn *conn, int status, json_t *value);
void web_respond_error(struct http_conn *conn, int status, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
int web_add_header(struct lws *wsi, const char *name, const char *value, unsigned char **p,
                   unsigned char *end);
int web_write_response(struct wg_web_server *web, struct http_conn *conn);
void web_conn_free(struct wg_web_server *web, struct http_conn *conn);
struct http_conn *web_conn_by_request(struct wg_web_server *web, uint64_t id);
bool web_lws_reads_body(struct lws *wsi);
void web_count_bind(struct lws *wsi);
bool web_read_ahead(struct lws *wsi);
void web_hold_reading(struct http_conn *conn);
void web_release_held(struct wg_web_server *web);
int web_http_begin(struct wg_web_server *web, struct lws *wsi, struct pss *pss);
int web_http_body(struct http_conn *conn, const void *in, size_t len);

/* web_stream.c */
void web_stream_part(struct wg_web_server *web, struct wg_web_reply *reply);
int web_write_stream(struct wg_web_server *web, struct http_conn *conn);

/* web_static.c */
int web_serve_static(struct wg_web_server *web, struct http_conn *conn);

/* web_request_checks.c */
bool web_read_session(struct wg_web_server *web, struct lws *wsi, char *token,
                      struct wg_session *session);
bool web_origin_ok(struct lws *wsi);
bool web_csrf_ok(struct lws *wsi, const struct wg_session *session);
int web_request_host(struct lws *wsi, char *out, int len);
bool web_conn_tls(const struct wg_web_server *web, struct lws *wsi);
void web_session_cookie(struct wg_web_server *web, struct http_conn *conn, const char *token,
                        int64_t max_age_s);

/* web_phone.c */
int web_serve_ca(struct wg_web_server *web, struct http_conn *conn);
void web_phone_api(struct wg_web_server *web, struct http_conn *conn);

/* web_login_worker.c */
void web_post_job(struct wg_web_server *web, struct http_conn *conn, enum job_kind kind,
                  json_t *body, const char *target);
void *web_worker_main(void *arg);
void web_job_free(struct job *job);
void web_take_done_jobs(struct wg_web_server *web);

/* web_routes.c */
void web_dispatch(struct wg_web_server *web, struct http_conn *conn);

/* web_display.c */
void web_msg_release(struct ws_msg *msg);
struct ws_msg *web_msg_new(const char *text, size_t len);
void web_ws_close(struct ws_client *client, int code, const char *why);
void web_ws_enqueue(struct ws_client *client, struct ws_msg *msg);
int web_ws_writable(struct ws_client *client);
void web_ws_free(struct wg_web_server *web, struct ws_client *client);
bool web_ws_ack_answered(struct ws_client *client, uint64_t request_id);
void web_ws_request_snapshot(struct wg_web_server *web, struct ws_client *client);
void web_ws_receive(struct wg_web_server *web, struct ws_client *client, const void *in,
                    size_t len);
void web_broadcast(struct wg_web_server *web, struct wg_web_reply *reply);
/* Posts the counts of open WebSockets that could not be posted before. */
void web_ws_phones_retry(struct wg_web_server *web);

/* web_replies.c */
void web_take_replies(struct wg_web_server *web);

#endif
