/* Downlink command parsing and the allow-list; see uplink_command.h. */
#include "uplink/uplink_command.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static const char *const command_names[WG_COMMAND_KIND_COUNT] = {
    [WG_COMMAND_SNAPSHOT] = "snapshot",
    [WG_COMMAND_DEVICES] = "devices",
    [WG_COMMAND_ALARM_HISTORY] = "alarm_history",
    [WG_COMMAND_RESPONSE_TIMES] = "response_times",
};

/* Actions that change a call, an alarm or an output. None of them is ever
 * executed from the platform; they get a denial that says why. */
static const char *const forbidden_names[] = {
    "acknowledge", "ack",   "reset", "reset_alarm", "clear",  "silence", "mute",
    "attend",      "write", "set",   "open_valve",  "output", "reload",  NULL,
};

const char *uplink_command_name(enum wg_command_kind kind)
{
    return (unsigned)kind < WG_COMMAND_KIND_COUNT ? command_names[kind] : NULL;
}

int uplink_command_from_name(const char *name)
{
    for (int i = 0; name && i < WG_COMMAND_KIND_COUNT; i++)
        if (strcmp(name, command_names[i]) == 0)
            return i;
    return -1;
}

bool uplink_command_is_forbidden(const char *name)
{
    for (size_t i = 0; name && forbidden_names[i]; i++)
        if (strcmp(name, forbidden_names[i]) == 0)
            return true;
    return false;
}

/* Reads exactly `count` digits at *cursor (never past the terminating NUL)
 * and moves past them; false when there are fewer. */
static bool take_digits(const char **cursor, int count, int *value)
{
    int result = 0;
    for (int i = 0; i < count; i++) {
        char c = (*cursor)[i];
        if (c < '0' || c > '9')
            return false; /* also stops at the NUL: nothing after it is read */
        result = result * 10 + (c - '0');
    }
    *cursor += count;
    *value = result;
    return true;
}

/* Moves past one character of `accepted` at *cursor; false when it is not one. */
static bool take_one_of(const char **cursor, const char *accepted)
{
    if (**cursor == '\0' || !strchr(accepted, **cursor))
        return false;
    (*cursor)++;
    return true;
}

int64_t uplink_parse_rfc3339(const char *text)
{
    /* RFC 3339 section 5.6: YYYY-MM-DD(T|t| )HH:MM:SS[.fraction](Z|z|+HH:MM|-HH:MM). The
     * text is read one field at a time; each step stops at the NUL. */
    if (!text)
        return -1;
    const char *p = text;
    int year, month, day, hour, minute, second;
    if (!take_digits(&p, 4, &year) || !take_one_of(&p, "-") || !take_digits(&p, 2, &month) ||
        !take_one_of(&p, "-") || !take_digits(&p, 2, &day) || !take_one_of(&p, "Tt ") ||
        !take_digits(&p, 2, &hour) || !take_one_of(&p, ":") || !take_digits(&p, 2, &minute) ||
        !take_one_of(&p, ":") || !take_digits(&p, 2, &second))
        return -1;
    if (year < 1970 || month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 ||
        second > 60)
        return -1;
    int64_t millis = 0;
    if (take_one_of(&p, ".")) {
        int scale = 100, count = 0;
        for (; *p >= '0' && *p <= '9'; p++, count++) {
            millis += scale * (*p - '0'); /* digits past the third add nothing */
            scale /= 10;
        }
        if (count == 0)
            return -1;
    }
    int offset_min = 0;
    if (!take_one_of(&p, "Zz")) {
        int sign = *p == '-' ? -1 : 1, offset_hour, offset_minute;
        if (!take_one_of(&p, "+-") || !take_digits(&p, 2, &offset_hour) || !take_one_of(&p, ":") ||
            !take_digits(&p, 2, &offset_minute) || offset_hour > 23 || offset_minute > 59)
            return -1;
        offset_min = sign * (offset_hour * 60 + offset_minute);
    }
    if (*p)
        return -1;
    struct tm tm = {.tm_year = year - 1900,
                    .tm_mon = month - 1,
                    .tm_mday = day,
                    .tm_hour = hour,
                    .tm_min = minute,
                    .tm_sec = second > 59 ? 59 : second}; /* a leap second counts as :59 */
    time_t seconds = timegm(&tm);
    if (seconds == (time_t)-1 || tm.tm_mday != day) /* timegm normalises 31 Feb to 3 Mar */
        return -1;
    int64_t ms = ((int64_t)seconds - (int64_t)offset_min * 60) * 1000 + millis;
    return ms >= 0 ? ms : -1; /* before the epoch: not a time the gateway has */
}

/* A time argument: RFC 3339 text or integer ms since the epoch. */
static int read_time(const json_t *args, const char *key, int64_t fallback, int64_t *out, char *why,
                     size_t why_len)
{
    const json_t *value = json_object_get(args, key);
    if (!value) {
        *out = fallback;
        return 0;
    }
    if (json_is_integer(value) && json_integer_value(value) >= 0) {
        *out = (int64_t)json_integer_value(value);
        return 0;
    }
    if (json_is_string(value) && (*out = uplink_parse_rfc3339(json_string_value(value))) >= 0)
        return 0;
    snprintf(why, why_len,
             "args.%s: expected an RFC 3339 time such as 2024-05-01T00:00:00+08:00 or ms since "
             "the epoch",
             key);
    return -1;
}

static int deny(char *why, size_t why_len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int deny(char *why, size_t why_len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, why_len, fmt, ap);
    va_end(ap);
    return -1;
}

/* Printable ASCII without quotes or backslashes: safe to log and echo. */
static bool usable_request_id(const char *text)
{
    size_t length = strlen(text);
    if (length == 0 || length >= WG_COMMAND_REQUEST_MAX)
        return false;
    for (size_t i = 0; i < length; i++)
        if (text[i] < 0x21 || text[i] > 0x7e || text[i] == '"' || text[i] == '\\')
            return false;
    return true;
}

static int parse_object(const json_t *root, unsigned allowed, int64_t now_ms,
                        struct wg_command *out, char *why, size_t why_len)
{
    static const char *const keys[] = {"request", "command", "args", NULL};
    /* The id first, so that every later denial can name it. */
    const json_t *request = json_object_get(root, "request");
    bool request_ok = json_is_string(request) && usable_request_id(json_string_value(request));
    if (request_ok)
        snprintf(out->request, sizeof out->request, "%s", json_string_value(request));
    const char *key;
    const json_t *value;
    json_object_foreach((json_t *)root, key, value)
    {
        bool known = false;
        for (size_t i = 0; keys[i]; i++)
            known = known || strcmp(key, keys[i]) == 0;
        if (!known)
            return deny(why, why_len, "malformed: unknown key \"%.40s\"", key);
    }
    if (!request_ok)
        return deny(why, why_len, "%s",
                    "malformed: \"request\" must be an id of 1 to 63 printable characters");

    const char *name = json_string_value(json_object_get(root, "command"));
    if (!name)
        return deny(why, why_len, "%s", "malformed: \"command\" must be a string");
    if (uplink_command_is_forbidden(name))
        return deny(why, why_len,
                    "forbidden: \"%.40s\" is never done remotely; calls and alarms are "
                    "acknowledged at the station and reset at their origin",
                    name);
    int kind = uplink_command_from_name(name);
    if (kind < 0)
        return deny(why, why_len, "unknown command \"%.40s\"", name);
    if (!(allowed & WG_COMMAND_BIT(kind)))
        return deny(why, why_len, "not allowed: \"%s\" is not in uplink.commands", name);
    out->kind = (enum wg_command_kind)kind;

    const json_t *args = json_object_get(root, "args");
    if (args && !json_is_object(args))
        return deny(why, why_len, "%s", "malformed: \"args\" must be an object");
    bool ranged = kind == WG_COMMAND_ALARM_HISTORY || kind == WG_COMMAND_RESPONSE_TIMES;
    json_object_foreach((json_t *)args, key, value)
    {
        bool known = ranged && (strcmp(key, "from") == 0 || strcmp(key, "to") == 0 ||
                                (kind == WG_COMMAND_ALARM_HISTORY && strcmp(key, "limit") == 0));
        if (!known)
            return deny(why, why_len, "malformed: unknown argument \"%.40s\"", key);
    }
    if (!ranged)
        return 0;
    int64_t day_ms = 86400LL * 1000;
    if (read_time(args, "to", now_ms, &out->to_ms, why, why_len) < 0 ||
        read_time(args, "from", out->to_ms - day_ms, &out->from_ms, why, why_len) < 0)
        return -1;
    if (out->from_ms >= out->to_ms)
        return deny(why, why_len, "%s", "bad range: \"from\" must be before \"to\"");
    if (out->to_ms - out->from_ms > WG_COMMAND_MAX_RANGE_MS)
        return deny(why, why_len, "%s", "bad range: at most 31 days per request");
    out->limit = WG_COMMAND_HISTORY_LIMIT;
    const json_t *limit = json_object_get(args, "limit");
    if (limit) {
        if (!json_is_integer(limit) || json_integer_value(limit) < 1 ||
            json_integer_value(limit) > WG_COMMAND_HISTORY_LIMIT)
            return deny(why, why_len, "%s", "malformed: args.limit must be an integer 1..10000");
        out->limit = (int)json_integer_value(limit);
    }
    return 0;
}

int uplink_command_parse(const char *payload, size_t length, unsigned allowed, int64_t now_ms,
                         struct wg_command *out, char *why, size_t why_len)
{
    *out = (struct wg_command){.kind = WG_COMMAND_KIND_COUNT};
    if (length > WG_COMMAND_MAX_BYTES) {
        snprintf(why, why_len, "too large: %zu bytes, at most %d", length, WG_COMMAND_MAX_BYTES);
        return -1;
    }
    json_error_t error;
    json_t *root = json_loadb(payload, length, JSON_REJECT_DUPLICATES, &error);
    if (!root) {
        snprintf(why, why_len, "malformed: not JSON: %s at column %d", error.text, error.column);
        return -1;
    }
    int rc = -1;
    if (!json_is_object(root))
        snprintf(why, why_len, "malformed: expected a JSON object");
    else
        rc = parse_object(root, allowed, now_ms, out, why, why_len);
    json_decref(root);
    return rc;
}
