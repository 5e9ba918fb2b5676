/* Packed JSON arguments as text; see json_text.h. */
#include "common/json_text.h"

#include <jansson.h>

char *json_text_vpack(const char *fmt, va_list ap)
{
    json_t *value = fmt ? json_vpack_ex(NULL, 0, fmt, ap) : json_object();
    char *text = value ? json_dumps(value, JSON_COMPACT) : NULL;
    json_decref(value);
    return text;
}
