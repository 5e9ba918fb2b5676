/* The API's routing on the web thread: the endpoints the web thread answers
 * itself (setup, login, session, logout, users, the phone setup:
 * docs/api.md), the Origin and CSRF checks of a change, and everything else
 * forwarded to the core through the bridge. */
#include "web/web_private.h"

#include <stdio.h>
#include <string.h>

#include "web/api_parse.h"

/* ---- the API: what the web thread answers, what goes to the core ---- */

/* The body as a JSON object with only `allowed` keys, all strings; NULL after answering 400. */
static json_t *string_fields(struct http_conn *conn, const char *const *allowed)
{
    struct api_error error;
    json_t *body = api_body_strings(conn->body, conn->body_len, allowed, &error);
    if (!body)
        web_respond_error(conn, 400, error.field[0] ? error.field : NULL, "%s", error.message);
    return body;
}

static bool require_fields(struct http_conn *conn, json_t *body, const char *const *required)
{
    struct api_error error;
    if (api_body_require(body, required, &error))
        return true;
    web_respond_error(conn, 400, error.field, "%s", error.message);
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
        web_respond_error(conn, 503, NULL, "the gateway is busy; try again");
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
            web_respond_error(conn, 503, NULL, "cannot read the user table; try again");
        else
            web_respond_json(conn, 200, json_pack("{s:b}", "setup_pending", pending));
        return;
    }
    if (strcmp(path, "/api/v1/login") == 0 || strcmp(path, "/api/v1/setup") == 0) {
        if (method != LWSHUMETH_POST) {
            web_respond_error(conn, 405, NULL, "%s takes POST", path);
            return;
        }
        bool login = strcmp(path, "/api/v1/login") == 0;
        json_t *body = string_fields(conn, login ? login_fields : setup_fields);
        if (body && require_fields(conn, body, login ? login_fields : setup_fields))
            web_post_job(web, conn, login ? JOB_LOGIN : JOB_SETUP, body, NULL);
        else
            json_decref(body);
        return;
    }
    if (strcmp(path, "/api/v1/phone") == 0 || strncmp(path, "/api/v1/phone/", 14) == 0) {
        web_phone_api(web, conn); /* public: what a phone needs before it trusts anything */
        return;
    }
    if (strcmp(path, "/metrics") == 0) {
        conn->is_metrics = true;
        forward_to_core(web, conn);
        return;
    }
    if (!conn->has_session) {
        web_respond_error(conn, 401, NULL, "log in first (no session, or it has expired)");
        return;
    }
    if (strcmp(path, "/api/v1/session") == 0) {
        if (method != LWSHUMETH_GET) {
            web_respond_error(conn, 405, NULL, "%s takes GET", path);
            return;
        }
        web_respond_json(conn, 200,
                         json_pack("{s:s, s:s, s:s, s:I}", "username", conn->session.username,
                                   "role", role_name(conn->session.role), "csrf",
                                   conn->session.csrf, "expires_ms",
                                   (json_int_t)conn->session.expires_ms));
        return;
    }
    if (strcmp(path, "/api/v1/logout") == 0) {
        if (method != LWSHUMETH_POST) {
            web_respond_error(conn, 405, NULL, "%s takes POST", path);
            return;
        }
        auth_logout(web->auth, conn->token);
        snprintf(conn->set_cookie, sizeof conn->set_cookie,
                 "wg_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0%s",
                 web_conn_tls(web, conn->wsi) ? "; Secure" : "");
        web_respond_json(conn, 200, json_object());
        return;
    }
    if (strcmp(path, "/api/v1/users") == 0 || strncmp(path, "/api/v1/users/", 14) == 0) {
        const char *name = path[13] == '/' ? path + 14 : NULL;
        if (conn->session.role < WG_ROLE_ADMIN) {
            web_respond_error(conn, 403, NULL, "managing users needs the admin role; %s is %s",
                              conn->session.username, role_name(conn->session.role));
            return;
        }
        if (name && (!name[0] || strchr(name, '/'))) {
            web_respond_error(conn, 404, NULL, "%s: no such endpoint", path);
            return;
        }
        json_t *body = NULL;
        if (!name && method == LWSHUMETH_GET) {
            web_post_job(web, conn, JOB_USERS_LIST, NULL, NULL);
        } else if (!name && method == LWSHUMETH_POST) {
            if ((body = string_fields(conn, user_fields)) &&
                require_fields(conn, body, user_fields))
                web_post_job(web, conn, JOB_USER_ADD, body, NULL);
            else
                json_decref(body);
        } else if (name && method == LWSHUMETH_PUT) {
            if ((body = string_fields(conn, user_update_fields)))
                web_post_job(web, conn, JOB_USER_UPDATE, body, name);
        } else if (name && method == LWSHUMETH_DELETE) {
            if ((body = string_fields(conn, none)))
                web_post_job(web, conn, JOB_USER_DELETE, body, name);
        } else {
            web_respond_error(conn, 405, NULL, "%s: method not allowed", path);
        }
        return;
    }
    forward_to_core(web, conn);
}

/* The request is complete (headers, and the body if any): answer it. */
void web_dispatch(struct wg_web_server *web, struct http_conn *conn)
{
    bool changes = conn->method != LWSHUMETH_GET && conn->method != LWSHUMETH_HEAD;
    bool public = strcmp(conn->path, "/api/v1/login") == 0 ||
                  strcmp(conn->path, "/api/v1/setup") == 0 || strcmp(conn->path, "/metrics") == 0;
    if (changes && !web_origin_ok(conn->wsi)) {
        web_respond_error(conn, 403, NULL, "the Origin header does not match this gateway");
        return;
    }
    if (changes && !public && conn->has_session && !web_csrf_ok(conn->wsi, &conn->session)) {
        web_respond_error(conn, 403, NULL, "missing or wrong X-CSRF-Token header");
        return;
    }
    handle_api(web, conn);
}
