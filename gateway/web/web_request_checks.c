/* What the web thread checks of every request before acting on it: the
 * session cookie, the Origin against the Host (fails closed), the CSRF
 * header; the Host a request names, whether it came over HTTPS; and the
 * session cookie it sets (Secure over HTTPS only: the same gateway serves
 * plain HTTP beside it, web.tls_port). */
#include "web/web_private.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* ---- sessions ---- */

bool web_read_session(struct wg_web_server *web, struct lws *wsi, char *token,
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
bool web_origin_ok(struct lws *wsi)
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

/* The Host header (or :authority in h2) as the client sent it: 1 when
 * present and it fits `out`, 0 when absent, -1 when too long. Not checked:
 * host_name_parse is the caller's. */
int web_request_host(struct lws *wsi, char *out, int len)
{
    int has_host = header_value(wsi, WSI_TOKEN_HOST, out, len);
    if (has_host == 0)
        has_host = header_value(wsi, WSI_TOKEN_HTTP_COLON_AUTHORITY, out, len);
    return has_host;
}

/* Whether this connection came in on the vhost that speaks HTTPS (an h2
 * stream belongs to its connection's vhost). */
bool web_conn_tls(const struct wg_web_server *web, struct lws *wsi)
{
    return web->tls_vhost && lws_get_vhost(wsi) == web->tls_vhost;
}

bool web_csrf_ok(struct lws *wsi, const struct wg_session *session)
{
    char token[WG_AUTH_CSRF_LEN + 8];
    if (!custom_header(wsi, "X-CSRF-Token", token, sizeof token))
        return false;
    return strlen(token) == strlen(session->csrf) &&
           sodium_memcmp(token, session->csrf, strlen(token)) == 0;
}

void web_session_cookie(struct wg_web_server *web, struct http_conn *conn, const char *token,
                        int64_t max_age_s)
{
    snprintf(conn->set_cookie, sizeof conn->set_cookie,
             "wg_session=%s; Path=/; HttpOnly; SameSite=Strict; Max-Age=%lld%s", token,
             (long long)max_age_s, web_conn_tls(web, conn->wsi) ? "; Secure" : "");
}
