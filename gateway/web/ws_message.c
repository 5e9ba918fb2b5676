/* The display's WebSocket message; see ws_message.h. */
#include "web/ws_message.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

bool ws_parse_ack(const char *text, size_t length, struct ws_ack *out)
{
    json_error_t error;
    json_t *frame = json_loadb(text, length, JSON_REJECT_DUPLICATES, &error);
    const char *type = json_string_value(json_object_get(frame, "type"));
    const char *alarm = json_string_value(json_object_get(frame, "alarm"));
    const char *csrf = json_string_value(json_object_get(frame, "csrf"));
    json_t *ref = json_object_get(frame, "ref");
    bool ok = json_is_object(frame) && type && strcmp(type, "ack") == 0 && alarm &&
              strlen(alarm) < sizeof out->alarm && csrf && strlen(csrf) < sizeof out->csrf &&
              (!ref || json_is_integer(ref));
    const char *key;
    json_t *value;
    json_object_foreach(frame, key, value) ok =
        ok && (strcmp(key, "type") == 0 || strcmp(key, "alarm") == 0 || strcmp(key, "ref") == 0 ||
               strcmp(key, "csrf") == 0);
    if (ok) {
        snprintf(out->alarm, sizeof out->alarm, "%s", alarm);
        snprintf(out->csrf, sizeof out->csrf, "%s", csrf);
        out->ref = ref ? (int64_t)json_integer_value(ref) : 0;
    }
    json_decref(frame);
    return ok;
}
