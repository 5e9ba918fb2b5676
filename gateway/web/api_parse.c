/* Query-string and JSON-body checks of the API; see api_parse.h. */
#include "web/api_parse.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool refuse(struct api_error *error, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static bool refuse(struct api_error *error, const char *field, const char *fmt, ...)
{
    snprintf(error->field, sizeof error->field, "%s", field ? field : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(error->message, sizeof error->message, fmt, ap);
    va_end(ap);
    return false;
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decodes %XX and '+' in place; false on a bad escape or a NUL. */
static bool url_decode(char *text)
{
    char *out = text;
    for (const char *in = text; *in; in++) {
        if (*in == '+') {
            *out++ = ' ';
        } else if (*in == '%') {
            int hi = hex_value(in[1]), lo = hi >= 0 ? hex_value(in[2]) : -1;
            if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
                return false;
            *out++ = (char)(hi * 16 + lo);
            in += 2;
        } else {
            *out++ = *in;
        }
    }
    *out = '\0';
    return true;
}

bool api_parse_query(const char *query, char *buffer, size_t buffer_len, struct query_param *params,
                     size_t count, struct api_error *error)
{
    if (!query || !query[0])
        return true;
    if (strlen(query) >= buffer_len)
        return refuse(error, NULL, "the query string is too long");
    strcpy(buffer, query);
    char *save = NULL;
    for (char *pair = strtok_r(buffer, "&", &save); pair; pair = strtok_r(NULL, "&", &save)) {
        char *eq = strchr(pair, '=');
        char *value = eq ? eq + 1 : pair + strlen(pair);
        if (eq)
            *eq = '\0';
        if (!url_decode(pair) || !url_decode(value))
            return refuse(error, pair, "bad %%-escape in the query");
        size_t i = 0;
        while (i < count && strcmp(params[i].name, pair) != 0)
            i++;
        if (i == count)
            return refuse(error, pair, "unknown query parameter \"%s\"", pair);
        params[i].value = value;
    }
    return true;
}

bool api_query_int(const struct query_param *param, long long low, long long high, long long *out,
                   struct api_error *error)
{
    if (!param->value)
        return true;
    char *end = NULL;
    errno = 0;
    long long value = strtoll(param->value, &end, 10);
    if (errno || end == param->value || *end || value < low || value > high)
        return refuse(error, param->name, "%s: expected a whole number from %lld to %lld",
                      param->name, low, high);
    *out = value;
    return true;
}

json_t *api_body_object(const char *body, size_t length, struct api_error *error)
{
    if (!body || length == 0)
        return json_object();
    json_error_t json_error;
    json_t *value = json_loadb(body, length, JSON_REJECT_DUPLICATES, &json_error);
    if (!value) {
        refuse(error, NULL, "malformed JSON at line %d column %d: %s", json_error.line,
               json_error.column, json_error.text);
        return NULL;
    }
    if (!json_is_object(value)) {
        json_decref(value);
        refuse(error, NULL, "the body must be a JSON object");
        return NULL;
    }
    return value;
}

json_t *api_body_strings(const char *body, size_t length, const char *const *allowed,
                         struct api_error *error)
{
    json_t *object = api_body_object(body, length, error);
    const char *key;
    json_t *value;
    json_object_foreach(object, key, value)
    {
        size_t i = 0;
        while (allowed[i] && strcmp(allowed[i], key) != 0)
            i++;
        if (!allowed[i] || !json_is_string(value)) {
            if (!allowed[i])
                refuse(error, key, "unknown field \"%s\"", key);
            else
                refuse(error, key, "%s: expected a string", key);
            json_decref(object);
            return NULL;
        }
    }
    return object;
}

bool api_body_require(const json_t *object, const char *const *required, struct api_error *error)
{
    for (size_t i = 0; required[i]; i++)
        if (!json_object_get(object, required[i]))
            return refuse(error, required[i], "%s is required", required[i]);
    return true;
}
