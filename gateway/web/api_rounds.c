/* Rounds in the API (docs/api.md): every round with its running slot, a
 * check-in by a room's QR code (the code proves the phone was in the room:
 * a wrong one is refused and audited), the rooms with their codes for the
 * manager's print page, and a room's QR code as an SVG image whose URL
 * leads a phone to the check-in page of this gateway. */
#include "web/api_private.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "web/qr_svg.h"

void api_rounds(struct wg_api *api, const struct wg_web_request *request)
{
    api_reply_json(api, request->id, 200,
                   json_pack("{s:o}", "rounds", bridge_core_rounds_json(api->core)));
}

void api_round_checkin(struct wg_api *api, const struct wg_web_request *request)
{
    static const char *const allowed[] = {"room", "code", NULL};
    json_t *body = api_request_body_only(api, request, allowed);
    if (!body)
        return;
    const char *room = json_string_value(json_object_get(body, "room"));
    const char *code = json_string_value(json_object_get(body, "code"));
    if (!room || !room[0] || strlen(room) > 63) {
        api_reply_error(api, request->id, 400, "room", "room: expected the room's id, as text");
    } else if (!code || !code[0] || strlen(code) > 64) {
        api_reply_error(api, request->id, 400, "code",
                        "code: expected the check-in code of the room's QR code");
    } else {
        char why[256] = "";
        int rc =
            bridge_core_round_checkin(api->core, room, code, request->username, why, sizeof why);
        bool wrong_code = rc != 0 && strstr(why, "check-in code") != NULL;
        bool unknown = rc != 0 && strncmp(why, "no room", 7) == 0;
        api_audit(api, request, rc == 0 ? "round.checkin" : "round.checkin_refused", room,
                  rc == 0 ? NULL : json_pack("{s:s}", "reason", why));
        if (rc != 0)
            api_reply_error(api, request->id,
                            wrong_code ? 403
                            : unknown  ? 404
                                       : 409,
                            NULL, "%s", why);
        else {
            /* The phone shows the time in the site's zone, not its own. */
            int64_t now = bridge_core_now_ms(api->core);
            api_reply_json(api, request->id, 200,
                           json_pack("{s:s, s:I, s:s, s:i, s:o}", "room", room, "checked_ms",
                                     (json_int_t)now, "timezone", bridge_core_timezone(api->core),
                                     "utc_offset_min", clock_utc_offset_min(now), "rounds",
                                     bridge_core_rounds_json(api->core)));
        }
    }
    json_decref(body);
}

void api_round_rooms(struct wg_api *api, const struct wg_web_request *request)
{
    api_reply_json(api, request->id, 200,
                   json_pack("{s:o}", "rooms", bridge_core_round_rooms_json(api->core)));
}

/* http(s)://host[:port], as the manager's browser sees this gateway. */
static bool origin_ok(const char *origin)
{
    const char *rest = strncmp(origin, "https://", 8) == 0  ? origin + 8
                       : strncmp(origin, "http://", 7) == 0 ? origin + 7
                                                            : NULL;
    if (!rest || !rest[0] || strlen(origin) > 100)
        return false;
    for (const char *c = rest; *c; c++)
        if (!isalnum((unsigned char)*c) && !strchr(".-:[]", *c))
            return false;
    return true;
}

/* The room id as it goes into a URL (ids are letters, digits, '-', '_', '.'). */
static void url_escape(const char *text, char *out, size_t len)
{
    size_t used = 0;
    for (const unsigned char *c = (const unsigned char *)text; *c && used + 4 < len; c++) {
        if (isalnum(*c) || strchr("-_.~", *c))
            out[used++] = (char)*c;
        else
            used += (size_t)snprintf(out + used, len - used, "%%%02X", *c);
    }
    out[used] = '\0';
}

void api_round_qr(struct wg_api *api, const struct wg_web_request *request, const char *room)
{
    struct query_param params[] = {{"origin", NULL}};
    char buffer[256];
    if (!api_request_query(api, request, buffer, sizeof buffer, params, 1))
        return;
    const char *origin = params[0].value;
    if (!origin || !origin_ok(origin)) {
        api_reply_error(api, request->id, 400, "origin",
                        "origin: expected the address phones reach this gateway at, "
                        "http://host:port or https://host:port");
        return;
    }
    char code[23];
    if (!bridge_core_round_code(api->core, room, code)) {
        api_reply_error(api, request->id, 404, NULL, "room \"%s\" is in no round", room);
        return;
    }
    char escaped[200], url[400];
    url_escape(room, escaped, sizeof escaped);
    snprintf(url, sizeof url, "%s/checkin.html?room=%s&code=%s", origin, escaped, code);
    size_t len = 0;
    char *svg = qr_svg(url, &len);
    if (!svg) {
        api_reply_error(api, request->id, 500, NULL, "the QR code could not be made");
        return;
    }
    api_post(api, request->id, 200, "image/svg+xml", svg, len, NULL);
}
