/* Writing YAML in the file's own style: a growing string buffer (sbuf),
 * and scalars written plain where YAML reads them back as the same string,
 * double-quoted otherwise (reserved words, numbers, dates, special
 * characters). */
#include "config/config_edit_internal.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- a growing string ----------------------------------------------------------------------- */

void sb_add(struct sbuf *sb, const char *text, size_t length)
{
    if (sb->failed)
        return;
    if (sb->capacity - sb->length <= length) {
        size_t capacity = sb->capacity ? sb->capacity : 256;
        while (capacity - sb->length <= length)
            capacity *= 2;
        char *grown = realloc(sb->data, capacity);
        if (!grown) {
            sb->failed = true;
            return;
        }
        sb->data = grown;
        sb->capacity = capacity;
    }
    memcpy(sb->data + sb->length, text, length);
    sb->length += length;
    sb->data[sb->length] = '\0';
}

void sb_str(struct sbuf *sb, const char *text)
{
    sb_add(sb, text, strlen(text));
}

void sb_spaces(struct sbuf *sb, size_t count)
{
    for (size_t i = 0; i < count; i++)
        sb_add(sb, " ", 1);
}

__attribute__((format(printf, 2, 3))) void sb_printf(struct sbuf *sb, const char *fmt, ...)
{
    char small[128];
    va_list ap;
    va_start(ap, fmt);
    int wrote = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (wrote < 0) {
        sb->failed = true;
        return;
    }
    if ((size_t)wrote < sizeof small) {
        sb_add(sb, small, (size_t)wrote);
        return;
    }
    char *big = NULL;
    va_start(ap, fmt);
    wrote = vasprintf(&big, fmt, ap);
    va_end(ap);
    if (wrote < 0) {
        sb->failed = true;
        return;
    }
    sb_add(sb, big, (size_t)wrote);
    free(big);
}

/* Hands the text over (NULL after a failure); the buffer is empty afterwards. */
char *sb_take(struct sbuf *sb)
{
    char *data = NULL;
    if (sb->failed)
        free(sb->data);
    else
        data = sb->data ? sb->data : strdup("");
    *sb = (struct sbuf){0};
    return data;
}

/* ---- writing YAML scalars ------------------------------------------------------------------- */

/* The code point of the UTF-8 sequence at `p`, and its length (0 if invalid). */
static size_t utf8_decode(const unsigned char *p, uint32_t *code)
{
    if (p[0] < 0x80) {
        *code = p[0];
        return 1;
    }
    size_t length = (p[0] & 0xE0) == 0xC0   ? 2
                    : (p[0] & 0xF0) == 0xE0 ? 3
                    : (p[0] & 0xF8) == 0xF0 ? 4
                                            : 0;
    if (!length)
        return 0;
    uint32_t value = p[0] & (0x7F >> length);
    for (size_t i = 1; i < length; i++) {
        if ((p[i] & 0xC0) != 0x80)
            return 0;
        value = (value << 6) | (p[i] & 0x3F);
    }
    *code = value;
    return length;
}

/* Non-ASCII characters YAML reads as themselves in any scalar: not C1
 * controls, not line or paragraph separators, not the byte order mark. */
static bool unicode_plain(uint32_t code)
{
    return code >= 0xA0 && code != 0x2028 && code != 0x2029 && code != 0xFEFF && code != 0xFFFE &&
           code != 0xFFFF && (code < 0xD800 || code > 0xDFFF) && code <= 0x10FFFF;
}

/* Words a YAML reader (1.1 or 1.2) takes for null, a boolean or a merge key. */
static bool reserved_word(const char *text)
{
    static const char *const words[] = {"null", "~", "true", "false", "yes", "no", "on",
                                        "off",  "y", "n",    "<<",    "=",   NULL};
    for (const char *const *word = words; *word; word++)
        if (strcasecmp(text, *word) == 0)
            return true;
    return false;
}

/* Integers and floats in any YAML notation, generously: "101", "0x1F",
 * "1_000", "1.5", "1e3", "-.inf", "1.2.3". */
static bool looks_numeric(const char *text)
{
    const char *p = text;
    if (*p == '+' || *p == '-')
        p++;
    if (strcasecmp(p, ".inf") == 0 || strcasecmp(p, ".nan") == 0)
        return true;
    if (p[0] == '0' && p[1] && strchr("xXoObB", p[1]))
        return true;
    bool digit = false;
    for (; *p && (isdigit((unsigned char)*p) || *p == '_' || *p == '.' || *p == ':'); p++)
        digit = digit || isdigit((unsigned char)*p);
    if (!digit)
        return false;
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '+' || *p == '-')
            p++;
        if (!isdigit((unsigned char)*p))
            return false;
        while (isdigit((unsigned char)*p))
            p++;
    }
    return *p == '\0';
}

/* YAML 1.1 readers turn "2024-05-01" into a date. */
static bool looks_like_date(const char *text)
{
    for (int i = 0; i < 4; i++)
        if (!isdigit((unsigned char)text[i]))
            return false;
    return text[4] == '-' && isdigit((unsigned char)text[5]);
}

/* Whether `text` may be written without quotes, in flow and in block context
 * alike, and read back as the same string. Conservative: anything doubtful
 * is quoted. */
static bool plain_safe(const char *text)
{
    size_t length = strlen(text);
    if (!length || text[0] == ' ' || text[length - 1] == ' ')
        return false;
    if (strchr("-?:,[]{}#&*!|>'\"%@`~", text[0]))
        return false;
    for (const unsigned char *p = (const unsigned char *)text; *p;) {
        if (*p < 0x80) {
            if (*p < 0x20 || *p == 0x7F || strchr(":#,[]{}\"'\\", *p))
                return false;
            p++;
            continue;
        }
        uint32_t code = 0;
        size_t width = utf8_decode(p, &code);
        if (!width || !unicode_plain(code))
            return false;
        p += width;
    }
    return !reserved_word(text) && !looks_numeric(text) && !looks_like_date(text);
}

static void write_quoted(struct sbuf *sb, const char *text)
{
    sb_str(sb, "\"");
    for (const unsigned char *p = (const unsigned char *)text; *p;) {
        if (*p < 0x80) {
            switch (*p) {
            case '"':
                sb_str(sb, "\\\"");
                break;
            case '\\':
                sb_str(sb, "\\\\");
                break;
            case '\n':
                sb_str(sb, "\\n");
                break;
            case '\t':
                sb_str(sb, "\\t");
                break;
            case '\r':
                sb_str(sb, "\\r");
                break;
            default:
                if (*p < 0x20 || *p == 0x7F)
                    sb_printf(sb, "\\x%02X", *p);
                else
                    sb_add(sb, (const char *)p, 1);
            }
            p++;
            continue;
        }
        uint32_t code = 0;
        size_t width = utf8_decode(p, &code);
        if (!width) {
            sb_str(sb, "\\uFFFD"); /* not reached: jansson only holds valid UTF-8 */
            p++;
        } else if (!unicode_plain(code)) {
            if (code > 0xFFFF)
                sb_printf(sb, "\\U%08X", (unsigned)code);
            else
                sb_printf(sb, "\\u%04X", (unsigned)code);
            p += width;
        } else {
            sb_add(sb, (const char *)p, width);
            p += width;
        }
    }
    sb_str(sb, "\"");
}

void yaml_write_string(struct sbuf *sb, const char *text)
{
    if (plain_safe(text))
        sb_str(sb, text);
    else
        write_quoted(sb, text);
}

void yaml_write_strings(struct sbuf *sb, const json_t *array)
{
    sb_str(sb, "[");
    for (size_t i = 0; i < json_array_size(array); i++) {
        if (i)
            sb_str(sb, ", ");
        yaml_write_string(sb, json_string_value(json_array_get(array, i)));
    }
    sb_str(sb, "]");
}

void yaml_write_value(struct sbuf *sb, const struct field *field, const json_t *value)
{
    switch (field->type) {
    case FIELD_STRING:
        yaml_write_string(sb, json_string_value(value));
        break;
    case FIELD_INTEGER:
        sb_printf(sb, "%" JSON_INTEGER_FORMAT, json_integer_value(value));
        break;
    case FIELD_BOOL:
        sb_str(sb, json_is_true(value) ? "true" : "false");
        break;
    case FIELD_STRINGS:
        yaml_write_strings(sb, value);
        break;
    }
}
