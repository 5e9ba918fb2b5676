/* What every API handler on the core thread uses: replies through the
 * bridge (JSON, errors), the body and query checked (api_parse.h, a 400
 * otherwise), and the audit log. */
#include "web/api_private.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- replies ---- */

void api_post(struct wg_api *api, uint64_t request_id, int status, const char *type, char *body,
              size_t len, const char *disposition)
{
    struct wg_web_reply reply = {
        .request_id = request_id, .status = status, .body = body, .len = len};
    snprintf(reply.content_type, sizeof reply.content_type, "%s", type);
    snprintf(reply.disposition, sizeof reply.disposition, "%s", disposition ? disposition : "");
    bridge_post_reply(api->bridge, &reply);
}

/* Sends `value` (stolen) as JSON. */
void api_reply_json(struct wg_api *api, uint64_t request_id, int status, json_t *value)
{
    bridge_reply_json(api->bridge, request_id, status, value);
}

void api_reply_error(struct wg_api *api, uint64_t request_id, int status, const char *field,
                     const char *fmt, ...)
{
    char message[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    bridge_reply_error(api->bridge, request_id, status, field, "%s", message);
}

/* ---- request parsing ---- */

/* The body as a JSON object; NULL after replying 400. An empty body is {}. */
json_t *api_request_body(struct wg_api *api, const struct wg_web_request *request)
{
    struct api_error error;
    json_t *value = api_body_object(request->body, request->body_len, &error);
    if (!value)
        api_reply_error(api, request->id, 400, error.field, "%s", error.message);
    return value;
}

/* The body as a JSON object with only the keys in `allowed` (NULL-ended):
 * NULL after replying 400 (not JSON, or the first unknown key named). */
json_t *api_request_body_only(struct wg_api *api, const struct wg_web_request *request,
                              const char *const *allowed)
{
    json_t *body = api_request_body(api, request);
    const char *key;
    json_t *value;
    json_object_foreach(body, key, value)
    {
        bool known = false;
        for (size_t i = 0; allowed[i] && !known; i++)
            known = strcmp(allowed[i], key) == 0;
        if (!known) {
            api_reply_error(api, request->id, 400, key, "unknown field \"%s\"", key);
            json_decref(body);
            return NULL;
        }
    }
    return body;
}

/* Splits the query into the allowed parameters (api_parse.h); values point
 * into `buffer`. Returns false after replying 400. */
bool api_request_query(struct wg_api *api, const struct wg_web_request *request, char *buffer,
                       size_t buffer_len, struct query_param *params, size_t count)
{
    struct api_error error;
    if (api_parse_query(request->query, buffer, buffer_len, params, count, &error))
        return true;
    api_reply_error(api, request->id, 400, error.field, "%s", error.message);
    return false;
}

/* A whole number in [low, high] from a query value; false after replying. */
bool api_request_int(struct wg_api *api, uint64_t request_id, const struct query_param *param,
                     long long low, long long high, long long *out)
{
    struct api_error error;
    if (api_query_int(param, low, high, out, &error))
        return true;
    api_reply_error(api, request_id, 400, error.field, "%s", error.message);
    return false;
}

bool api_request_period(struct wg_api *api, const struct wg_web_request *request, int64_t *from_ms,
                        int64_t *to_ms)
{
    struct query_param params[] = {{"days", NULL}, {"from", NULL}, {"to", NULL}};
    char buffer[256];
    if (!api_request_query(api, request, buffer, sizeof buffer, params, 3))
        return false;
    long long days = 7, from = 0, to = 0;
    if (!api_request_int(api, request->id, &params[0], 1, 92, &days) ||
        !api_request_int(api, request->id, &params[1], 0, INT64_MAX, &from) ||
        !api_request_int(api, request->id, &params[2], 0, INT64_MAX, &to))
        return false;
    if (!to)
        to = bridge_core_now_ms(api->core);
    if (!from)
        from = to - days * 86400000LL;
    if (from >= to) {
        api_reply_error(api, request->id, 400, "from", "from must be before to");
        return false;
    }
    *from_ms = from;
    *to_ms = to;
    return true;
}

void api_audit(struct wg_api *api, const struct wg_web_request *request, const char *action,
               const char *target, json_t *detail)
{
    char *text = detail ? json_dumps(detail, JSON_COMPACT) : NULL;
    /* Through the store writer, like every write (refusals are logged there). */
    bridge_core_audit(api->core, request->username, request->client, action, target, text);
    free(text);
    json_decref(detail);
}
