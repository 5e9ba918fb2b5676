/* The web server thread (see web.h and docs/api.md): libwebsockets' service
 * loop and its two protocols ("http": pages, /api/v1, /healthz, /metrics;
 * "wardgate.v1": the displays' WebSocket), on one or two vhosts (plain HTTP
 * on web.port, and HTTPS on web.tls_port beside it: docs/https.md) with the
 * WebSocket keepalive policy, the once-a-second tick, and starting and
 * stopping the thread and the login worker.
 *
 * Everything in gateway/web/web*.c runs on the web thread except the login
 * worker (web_login_worker.c: it only calls auth_* and hands results back
 * through `done`) and web_start/stop. Only lws_cancel_service() is called
 * from other threads: the core's bridge and the worker use it (web_wake) to
 * wake the loop, which then takes their results.
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
#include "web/web_private.h"

#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"

void web_wake(void *ctx)
{
    struct wg_web_server *web = ctx;
    pthread_mutex_lock(&web->context_lock);
    if (web->context)
        lws_cancel_service(web->context);
    pthread_mutex_unlock(&web->context_lock);
}

static void add_tls_vhost(struct wg_web_server *web, struct lws_context *context);

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
            web_respond_error(c, 503, NULL, "%s did not answer within %d s",
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
            web_ws_close(c, LWS_CLOSE_STATUS_POLICY_VIOLATION, "session ended");
    }
    if (web->tls_port && !web->tls_vhost && now - web->tls_tried_ms >= RETRY_TLS_S * 1000)
        add_tls_vhost(web, web->context);
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
        web_count_bind(wsi);
        return 0;
    case LWS_CALLBACK_HTTP_DROP_PROTOCOL: /* lws frees this pss next (also when rebinding) */
    case LWS_CALLBACK_CLOSED_HTTP:
        if (pss && pss->http) {
            web_conn_free(web, pss->http);
            pss->http = NULL;
        }
        return 0;
    case LWS_CALLBACK_HTTP: {
        if (web_read_ahead(wsi)) {
            char peer[64];
            wg_info("web: a second request on one connection from %s (pipelined): closed",
                    lws_get_peer_simple(wsi, peer, sizeof peer) ? peer : "?");
            return -1; /* before lws would read its body from the wrong place */
        }
        int rc = web_http_begin(web, wsi, pss);
        if (rc == 0 && pss->http && !web_lws_reads_body(wsi))
            web_hold_reading(pss->http); /* the request is complete */
        return rc;
    }
    case LWS_CALLBACK_HTTP_BODY:
        return web_http_body(pss->http, in, len);
    case LWS_CALLBACK_HTTP_BODY_COMPLETION:
        /* Once per request; lws repeats it while bytes it read ahead wait. */
        if (!pss->http || pss->http->body_complete)
            return 0;
        pss->http->body_complete = true;
        web_hold_reading(pss->http);
        if (!pss->http->responding && !pss->http->request_id)
            web_dispatch(web, pss->http);
        return 0;
    case LWS_CALLBACK_HTTP_WRITEABLE: {
        struct http_conn *conn = pss->http;
        if (conn && conn->streaming) {
            int rc = web_write_stream(web, conn);
            if (rc == 0 && conn->streaming)
                web_hold_reading(conn); /* more to come: until the next turn of the loop */
            return rc;
        }
        /* Either headers still to send, or body left to send. */
        if (!conn || !conn->responding || (conn->headers_sent && conn->out_sent >= conn->out_len))
            return 0;
        int rc = web_write_response(web, conn);
        if (rc == 0 && conn->responding && conn->out_sent < conn->out_len)
            web_hold_reading(conn); /* more to write: until the next turn of the loop */
        return rc;
    }
    case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
        if (web) {
            web_take_replies(web);
            web_take_done_jobs(web);
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
        if (!web_origin_ok(wsi)) {
            wg_notice("web: WebSocket refused: Origin does not match the host");
            return 1;
        }
        struct ws_client *client = calloc(1, sizeof *client);
        if (!client)
            return 1;
        if (!web_read_session(web, wsi, client->token, &client->session)) {
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
        web_ws_request_snapshot(web, pss->ws);
        return 0;
    case LWS_CALLBACK_RECEIVE:
        if (pss->ws)
            web_ws_receive(web, pss->ws, in, len);
        return 0;
    case LWS_CALLBACK_SERVER_WRITEABLE:
        return pss->ws ? web_ws_writable(pss->ws) : 0;
    case LWS_CALLBACK_CLOSED:
        if (pss->ws)
            web_ws_free(web, pss->ws);
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

/* WebSockets (and h2 connections) are pinged after 10 s without a sign of
 * life and closed 15 s later: a phone that left the Wi-Fi without a word is
 * gone within 25 s (browsers answer pings by themselves). HTTP/1.1
 * connections have no keepalive in lws and are not touched. */
static const lws_retry_bo_t keepalive = {
    .secs_since_valid_ping = WS_PING_S,
    .secs_since_valid_hangup = WS_HANGUP_S,
};

/* A vhost on `port`, speaking TLS with the configured files when `tls`. */
static struct lws_vhost *create_vhost(struct wg_web_server *web, struct lws_context *context,
                                      int port, bool tls)
{
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.port = port;
    info.iface = web->listen[0] ? web->listen : NULL;
    info.protocols = protocols;
    info.mounts = &mount;
    info.user = web;
    info.options = LWS_SERVER_OPTION_VALIDATE_UTF8;
    info.vhost_name = tls ? "wardgate-tls" : "wardgate";
    info.retry_and_idle_policy = &keepalive;
    if (tls) {
        info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
        info.ssl_cert_filepath = web->tls_cert;
        info.ssl_private_key_filepath = web->tls_key;
    }
    return lws_create_vhost(context, &info);
}

/* The HTTPS vhost beside the plain one (web.tls_port); when it cannot be
 * made, plain HTTP serves on and it is tried again every RETRY_TLS_S. */
static void add_tls_vhost(struct wg_web_server *web, struct lws_context *context)
{
    web->tls_vhost = create_vhost(web, context, web->tls_port, true);
    web->tls_tried_ms = clock_mono_ms(&web->clock);
    if (web->tls_vhost) {
        if (web->tls_failed)
            wg_notice("web: HTTPS serves again on https://%s:%d/",
                      web->listen[0] ? web->listen : "*", web->tls_port);
        web->tls_failed = false;
    } else if (!web->tls_failed) {
        wg_crit("web: HTTPS on port %d is not served: the certificate %s or the key %s cannot be "
                "used, or the port is taken (lws says which above); plain HTTP on port %d still "
                "serves; tried again every %d s",
                web->tls_port, web->tls_cert, web->tls_key, web->port, RETRY_TLS_S);
        web->tls_failed = true;
    }
}

/* One context with its vhosts made explicitly: the one on web.port (HTTPS
 * when tls_cert is given and tls_port is not), and with tls_port an HTTPS
 * one beside it. NULL when the one on web.port cannot be made. */
static struct lws_context *create_context(struct wg_web_server *web)
{
    bool tls_only = web->tls_cert[0] && !web->tls_port;
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = protocols;
    info.user = web;
    info.options = LWS_SERVER_OPTION_EXPLICIT_VHOSTS;
    if (web->tls_cert[0])
        info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
    info.timeout_secs = 10;
    info.max_http_header_data = 4096;
    info.retry_and_idle_policy = &keepalive;
    struct lws_context *context = lws_create_context(&info);
    if (!context)
        return NULL;
    struct lws_vhost *main_vhost = create_vhost(web, context, web->port, tls_only);
    if (!main_vhost) {
        if (tls_only)
            wg_err("web: HTTPS on port %d cannot start with the certificate %s and the key %s, or "
                   "the port is taken (lws says which above)",
                   web->port, web->tls_cert, web->tls_key);
        lws_context_destroy(context);
        return NULL;
    }
    web->tls_vhost = tls_only ? main_vhost : NULL;
    if (web->tls_port)
        add_tls_vhost(web, context);
    return context;
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
                bridge_web_turned(web->bridge, clock_mono_ms(&web->clock));
                usleep(100000);
            }
            continue;
        }
        pthread_mutex_lock(&web->context_lock);
        web->context = context;
        pthread_mutex_unlock(&web->context_lock);
        const char *address = web->listen[0] ? web->listen : "*";
        if (web->tls_vhost && web->tls_port)
            wg_notice("web: serving %s on http://%s:%d/ and https://%s:%d/", web->root_real,
                      address, web->port, address, web->tls_port);
        else
            wg_notice("web: serving %s on %s://%s:%d/", web->root_real,
                      web->tls_vhost ? "https" : "http", address, web->port);
        lws_sul_schedule(context, 0, &web->tick, tick, LWS_US_PER_SEC);
        if (!web->heartbeat_ms)
            web->heartbeat_ms =
                clock_mono_ms(&web->clock); /* the core's first beat is due within a second */
        web_take_replies(web);              /* anything posted before the context existed */
        while (!atomic_load(&web->stop)) {
            if (lws_service(context, 0) < 0)
                break;
            web_release_held(web);
            bridge_web_turned(web->bridge, clock_mono_ms(&web->clock));
        }
        pthread_mutex_lock(&web->context_lock);
        web->context = NULL;
        pthread_mutex_unlock(&web->context_lock);
        lws_context_destroy(context);
        web->tls_vhost = NULL;
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
    free(web->tls_ca);
    free(web->public_host);
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
    web->tls_port = settings->tls_port;
    web->tls_ca = copy_or_empty(settings->tls_ca);
    web->public_host = copy_or_empty(settings->public_host);
    web->bridge = bridge;
    web->next_local_id = LOCAL_ID_BASE;
    bridge_web_turned(bridge, clock_mono_ms(&web->clock)); /* the thread starts now */
    if (!web->listen || !web->root || !web->tls_cert || !web->tls_key || !web->tls_ca ||
        !web->public_host) {
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
    bridge_set_wake(bridge, web_wake, web);
    if (pthread_create(&web->worker, NULL, web_worker_main, web) != 0) {
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
    return bridge_web_liveness(web->bridge);
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
            STOP_WAIT_S,
            (long long)bridge_web_turn_age_ms(web->bridge, clock_mono_ms(&web->clock)));
    return false;
}

bool web_stop(struct wg_web_server *web)
{
    if (!web)
        return true;
    atomic_store(&web->stop, true);
    web_wake(web);
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
            web_job_free(*l);
            *l = next;
        }
    while (web->conns)
        web_conn_free(web, web->conns);
    while (web->clients)
        web_ws_free(web, web->clients);
    free_server(web);
    return true;
}
