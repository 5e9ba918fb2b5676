/* The compact JSON writer; see json_writer.h. */
#include "common/json_writer.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void jw_init(struct jw_buffer *buffer)
{
    *buffer = (struct jw_buffer){0};
}

void jw_free(struct jw_buffer *buffer)
{
    free(buffer->text);
    *buffer = (struct jw_buffer){0};
}

void jw_reset(struct jw_buffer *buffer)
{
    buffer->len = 0;
    buffer->failed = false;
    if (buffer->text)
        buffer->text[0] = '\0';
}

bool jw_failed(const struct jw_buffer *buffer)
{
    return buffer->failed;
}

/* Room for `more` bytes and the terminating NUL. */
static bool reserve(struct jw_buffer *buffer, size_t more)
{
    if (buffer->failed)
        return false;
    if (buffer->len + more + 1 <= buffer->capacity)
        return true;
    size_t capacity = buffer->capacity ? buffer->capacity : 256;
    while (capacity < buffer->len + more + 1)
        capacity *= 2;
    char *text = realloc(buffer->text, capacity);
    if (!text) {
        buffer->failed = true;
        return false;
    }
    buffer->text = text;
    buffer->capacity = capacity;
    return true;
}

void jw_raw(struct jw_buffer *buffer, const char *text, size_t len)
{
    if (!reserve(buffer, len))
        return;
    memcpy(buffer->text + buffer->len, text, len);
    buffer->len += len;
    buffer->text[buffer->len] = '\0';
}

void jw_text(struct jw_buffer *buffer, const char *text)
{
    jw_raw(buffer, text, strlen(text));
}

void jw_char(struct jw_buffer *buffer, char c)
{
    jw_raw(buffer, &c, 1);
}

void jw_string(struct jw_buffer *buffer, const char *text)
{
    if (!text) {
        jw_raw(buffer, "null", 4);
        return;
    }
    jw_char(buffer, '"');
    const char *run = text; /* bytes copied as they are */
    for (const char *p = text; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        jw_raw(buffer, run, (size_t)(p - run));
        char escaped[8];
        switch (c) {
        case '"':
            jw_raw(buffer, "\\\"", 2);
            break;
        case '\\':
            jw_raw(buffer, "\\\\", 2);
            break;
        case '\n':
            jw_raw(buffer, "\\n", 2);
            break;
        case '\r':
            jw_raw(buffer, "\\r", 2);
            break;
        case '\t':
            jw_raw(buffer, "\\t", 2);
            break;
        default:
            snprintf(escaped, sizeof escaped, "\\u%04x", c);
            jw_raw(buffer, escaped, 6);
        }
        run = p + 1;
    }
    jw_raw(buffer, run, strlen(run));
    jw_char(buffer, '"');
}

void jw_int(struct jw_buffer *buffer, int64_t value)
{
    char digits[24];
    char *end = digits + sizeof digits, *p = end;
    uint64_t magnitude = value < 0 ? (uint64_t)0 - (uint64_t)value : (uint64_t)value;
    do {
        *--p = (char)('0' + magnitude % 10);
        magnitude /= 10;
    } while (magnitude);
    if (value < 0)
        *--p = '-';
    jw_raw(buffer, p, (size_t)(end - p));
}

/* A value with at most 6 decimals (a register times 0.1 or 0.01, say),
 * written without printf: the hot path of telemetry. Exact: when M / 10^k
 * (both exact doubles, the division correctly rounded) is the value, the
 * text "M with a point k digits from the right" reads back as the value.
 * false when the value has more decimals or is too large for it. */
static bool write_short_decimal(struct jw_buffer *buffer, double value)
{
    static const double powers[] = {1e1, 1e2, 1e3, 1e4, 1e5, 1e6};
    double magnitude = fabs(value);
    if (magnitude >= 1e9)
        return false;
    for (int k = 0; k < 6; k++) {
        double whole = nearbyint(magnitude * powers[k]);
        if (whole / powers[k] != magnitude)
            continue;
        uint64_t digits_left = (uint64_t)whole;
        int decimals = k + 1;
        while (decimals > 1 && digits_left % 10 == 0) { /* the same number, shorter */
            digits_left /= 10;
            decimals--;
        }
        char text[32];
        char *end = text + sizeof text, *p = end;
        for (int i = 0; i < decimals; i++) {
            *--p = (char)('0' + digits_left % 10);
            digits_left /= 10;
        }
        *--p = '.';
        do {
            *--p = (char)('0' + digits_left % 10);
            digits_left /= 10;
        } while (digits_left);
        if (value < 0)
            *--p = '-';
        jw_raw(buffer, p, (size_t)(end - p));
        return true;
    }
    return false;
}

void jw_double(struct jw_buffer *buffer, double value)
{
    if (!isfinite(value)) {
        jw_raw(buffer, "null", 4);
        return;
    }
    /* Register values are mostly whole numbers: the fast path. */
    if (value == floor(value) && fabs(value) < 9007199254740992.0) {
        if (value == 0 && signbit(value))
            jw_raw(buffer, "-0.0", 4);
        else
            jw_int(buffer, (int64_t)value);
        return;
    }
    if (write_short_decimal(buffer, value))
        return;
    char text[32];
    int n = snprintf(text, sizeof text, "%.15g", value);
    if (strtod(text, NULL) != value)
        n = snprintf(text, sizeof text, "%.17g", value);
    jw_raw(buffer, text, (size_t)n);
}

void jw_key(struct jw_buffer *buffer, const char *key, bool first)
{
    if (!first)
        jw_char(buffer, ',');
    jw_string(buffer, key);
    jw_char(buffer, ':');
}
