/* Manager-UI changes to the configuration file: the JSON is checked against
 * the API's fields, the text of one item is replaced, added or removed in
 * the file's own style (every other byte stays), the new text is checked by
 * config_load() from a temporary file beside the original, and only then
 * does it replace the file (fsync, <file>.prev, rename, fsync of the
 * directory). See config_edit.h. */
#include "config/config_edit.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/config.h"
#include "common/log.h"

/* ---- results -------------------------------------------------------------------------------- */

static void result_init(struct wg_edit_result *result)
{
    memset(result, 0, sizeof *result);
    diag_init(&result->details);
}

void config_edit_result_free(struct wg_edit_result *result)
{
    if (!result)
        return;
    diag_free(&result->details);
    json_decref(result->before);
    json_decref(result->after);
    result->before = NULL;
    result->after = NULL;
}

__attribute__((format(printf, 4, 5))) static void refuse(struct wg_edit_result *result, int status,
                                                         const char *field, const char *fmt, ...)
{
    result->status = status;
    snprintf(result->field, sizeof result->field, "%s", field ? field : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(result->error, sizeof result->error, fmt, ap);
    va_end(ap);
}

/* ---- a growing string ----------------------------------------------------------------------- */

struct sbuf {
    char *data;
    size_t length;
    size_t capacity;
    bool failed; /* out of memory: everything after is dropped */
};

static void sb_add(struct sbuf *sb, const char *text, size_t length)
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

static void sb_str(struct sbuf *sb, const char *text)
{
    sb_add(sb, text, strlen(text));
}

static void sb_spaces(struct sbuf *sb, size_t count)
{
    for (size_t i = 0; i < count; i++)
        sb_add(sb, " ", 1);
}

__attribute__((format(printf, 2, 3))) static void sb_printf(struct sbuf *sb, const char *fmt, ...)
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
static char *sb_take(struct sbuf *sb)
{
    char *data = NULL;
    if (sb->failed)
        free(sb->data);
    else
        data = sb->data ? sb->data : strdup("");
    *sb = (struct sbuf){0};
    return data;
}

/* ---- the fields the API manages ------------------------------------------------------------- */

enum field_type { FIELD_STRING, FIELD_INTEGER, FIELD_BOOL, FIELD_STRINGS };

struct field {
    const char *name;
    enum field_type type;
    bool required;
};

/* In the order they are written. */
static const struct field device_fields[] = {
    {"id", FIELD_STRING, true},        {"label", FIELD_STRING, false},
    {"bus", FIELD_STRING, true},       {"address", FIELD_INTEGER, true},
    {"profile", FIELD_STRING, true},   {"room", FIELD_STRING, false},
    {"bed", FIELD_STRING, false},      {"spot", FIELD_STRING, false},
    {"poll_ms", FIELD_INTEGER, false}, {"enabled", FIELD_BOOL, false},
    {NULL, FIELD_STRING, false},
};

static const struct field resident_fields[] = {
    {"id", FIELD_STRING, true},      {"label", FIELD_STRING, false},
    {"bed", FIELD_STRING, true},     {"care_level", FIELD_INTEGER, true},
    {"risks", FIELD_STRINGS, false}, {"night", FIELD_STRING, false},
    {NULL, FIELD_STRING, false},
};

static const struct field beds_fields[] = {
    {"beds", FIELD_STRINGS, true},
    {NULL, FIELD_STRING, false},
};

struct item_kind {
    const char *section; /* the top-level list */
    const char *what;    /* for messages */
    const struct field *fields;
};

static const struct item_kind device_kind = {"devices", "device", device_fields};
static const struct item_kind resident_kind = {"residents", "resident", resident_fields};

static const struct field *field_named(const struct field *fields, const char *name)
{
    for (const struct field *field = fields; field->name; field++)
        if (strcmp(field->name, name) == 0)
            return field;
    return NULL;
}

static const char *type_expected(enum field_type type)
{
    switch (type) {
    case FIELD_STRING:
        return "a string";
    case FIELD_INTEGER:
        return "an integer";
    case FIELD_BOOL:
        return "true or false";
    case FIELD_STRINGS:
        return "a list of strings";
    }
    return "?";
}

static const char *json_type_word(const json_t *value)
{
    switch (json_typeof(value)) {
    case JSON_OBJECT:
        return "an object";
    case JSON_ARRAY:
        return "a list";
    case JSON_STRING:
        return "a string";
    case JSON_INTEGER:
        return "an integer";
    case JSON_REAL:
        return "a number with a fraction";
    case JSON_TRUE:
    case JSON_FALSE:
        return "true or false";
    case JSON_NULL:
        return "null";
    }
    return "?";
}

static bool json_text_ok(const json_t *value)
{
    return strlen(json_string_value(value)) == json_string_length(value);
}

static bool type_ok(const struct field *field, const json_t *value)
{
    switch (field->type) {
    case FIELD_STRING:
        return json_is_string(value) && json_text_ok(value);
    case FIELD_INTEGER:
        return json_is_integer(value);
    case FIELD_BOOL:
        return json_is_boolean(value);
    case FIELD_STRINGS:
        if (!json_is_array(value))
            return false;
        for (size_t i = 0; i < json_array_size(value); i++) {
            const json_t *item = json_array_get(value, i);
            if (!json_is_string(item) || !json_text_ok(item))
                return false;
        }
        return true;
    }
    return false;
}

/* The request body against `fields`: 400 for anything not as the API says.
 * `path_id` is the id of an update (the body's id is optional there). */
static bool check_body(const struct field *fields, const char *what, const json_t *value,
                       const char *path_id, struct wg_edit_result *result)
{
    if (!json_is_object(value)) {
        refuse(result, 400, NULL, "the body must be a JSON object with the %s's fields", what);
        return false;
    }
    for (void *it = json_object_iter((json_t *)value); it;
         it = json_object_iter_next((json_t *)value, it)) {
        const char *name = json_object_iter_key(it);
        if (field_named(fields, name))
            continue;
        if (strcmp(name, "settings") == 0 && fields == device_fields) {
            refuse(result, 400, name,
                   "settings: a device's driver settings are not edited here (they stay as "
                   "written in the file)");
            return false;
        }
        char list[256];
        size_t used = 0;
        list[0] = '\0';
        for (const struct field *field = fields; field->name && used < sizeof list; field++) {
            int wrote = snprintf(list + used, sizeof list - used, "%s%s",
                                 field == fields ? "" : ", ", field->name);
            if (wrote < 0)
                break;
            used += (size_t)wrote;
        }
        refuse(result, 400, name, "unknown field \"%.64s\" in %s (expected one of: %s)", name, what,
               list);
        return false;
    }
    for (const struct field *field = fields; field->name; field++) {
        const json_t *member = json_object_get(value, field->name);
        if (!member || (json_is_null(member) && !field->required))
            continue;
        if (!type_ok(field, member)) {
            const char *got = json_type_word(member);
            if (json_is_string(member) && !json_text_ok(member))
                got = "a string with a NUL character";
            else if (json_is_array(member) && field->type == FIELD_STRINGS)
                got = "a list with something other than strings";
            refuse(result, 400, field->name, "%s: expected %s, got %s", field->name,
                   type_expected(field->type), got);
            return false;
        }
    }
    for (const struct field *field = fields; field->name; field++) {
        const json_t *member = json_object_get(value, field->name);
        bool optional_id = path_id && strcmp(field->name, "id") == 0;
        if (field->required && !optional_id && (!member || json_is_null(member))) {
            refuse(result, 400, field->name, "missing required field \"%s\" in %s", field->name,
                   what);
            return false;
        }
    }
    const json_t *body_id = json_object_get(value, "id");
    if (path_id && body_id && !json_is_null(body_id) &&
        strcmp(json_string_value(body_id), path_id) != 0) {
        refuse(result, 400, "id",
               "id: a %s's id cannot be changed (\"%.64s\" in the body, \"%.64s\")", what,
               json_string_value(body_id), path_id);
        return false;
    }
    return true;
}

/* Residents are pseudonymous: "R-" and 2 to 16 of A-Z, 0-9 (docs/api.md). */
static bool resident_id_ok(const char *id)
{
    size_t length = strlen(id);
    if (length < 4 || length > 18 || strncmp(id, "R-", 2) != 0)
        return false;
    for (const char *p = id + 2; *p; p++)
        if (!((*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9')))
            return false;
    return true;
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

static void write_string(struct sbuf *sb, const char *text)
{
    if (plain_safe(text))
        sb_str(sb, text);
    else
        write_quoted(sb, text);
}

static void write_strings(struct sbuf *sb, const json_t *array)
{
    sb_str(sb, "[");
    for (size_t i = 0; i < json_array_size(array); i++) {
        if (i)
            sb_str(sb, ", ");
        write_string(sb, json_string_value(json_array_get(array, i)));
    }
    sb_str(sb, "]");
}

static void write_value(struct sbuf *sb, const struct field *field, const json_t *value)
{
    switch (field->type) {
    case FIELD_STRING:
        write_string(sb, json_string_value(value));
        break;
    case FIELD_INTEGER:
        sb_printf(sb, "%" JSON_INTEGER_FORMAT, json_integer_value(value));
        break;
    case FIELD_BOOL:
        sb_str(sb, json_is_true(value) ? "true" : "false");
        break;
    case FIELD_STRINGS:
        write_strings(sb, value);
        break;
    }
}

/* ---- the file's items as JSON (for the audit) ----------------------------------------------- */

static bool null_scalar(const struct wg_cfg_node *node)
{
    if (node->type != WG_CFG_SCALAR || node->quoted)
        return false;
    const char *text = node->scalar;
    return !*text || strcmp(text, "~") == 0 || strcasecmp(text, "null") == 0;
}

/* Decimal or 0x hexadecimal, as the loader reads integers. */
static bool parse_integer(const char *text, long long *out)
{
    const char *p = text;
    bool negative = *p == '-';
    if (*p == '-' || *p == '+')
        p++;
    int base = 10;
    if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
        base = 16;
        p += 2;
    }
    if (!*p)
        return false;
    for (const char *q = p; *q; q++)
        if (!(base == 16 ? isxdigit((unsigned char)*q) : isdigit((unsigned char)*q)))
            return false;
    errno = 0;
    long long value = strtoll(p, NULL, base);
    if (errno == ERANGE)
        return false;
    *out = negative ? -value : value;
    return true;
}

static json_t *scalar_json(const struct field *field, const struct wg_cfg_node *node)
{
    if (node->type == WG_CFG_SEQ && field->type == FIELD_STRINGS) {
        json_t *array = json_array();
        for (size_t i = 0; array && i < node->count; i++) {
            const char *text = cfg_scalar(node->items[i]);
            if (json_array_append_new(array, text ? json_string(text) : json_null()) != 0) {
                json_decref(array);
                return NULL;
            }
        }
        return array;
    }
    if (node->type != WG_CFG_SCALAR || null_scalar(node))
        return json_null();
    long long number = 0;
    if (field->type == FIELD_INTEGER && !node->quoted && parse_integer(node->scalar, &number))
        return json_integer(number);
    if (field->type == FIELD_BOOL && !node->quoted) {
        static const char *const yes[] = {"true", "yes", "on", NULL};
        static const char *const no[] = {"false", "no", "off", NULL};
        for (const char *const *word = yes; *word; word++)
            if (strcasecmp(node->scalar, *word) == 0)
                return json_true();
        for (const char *const *word = no; *word; word++)
            if (strcasecmp(node->scalar, *word) == 0)
                return json_false();
    }
    return json_string(node->scalar);
}

/* The managed fields of an item as written in the file. NULL when out of memory. */
static json_t *item_json(const struct field *fields, const struct wg_cfg_node *item)
{
    json_t *object = json_object();
    for (const struct field *field = fields; object && field->name; field++) {
        const struct wg_cfg_node *node = cfg_get(item, field->name);
        if (node && json_object_set_new(object, field->name, scalar_json(field, node)) != 0) {
            json_decref(object);
            object = NULL;
        }
    }
    return object;
}

/* The item as the request makes it: its fields in order, nulls left out. */
static json_t *body_json(const struct field *fields, const json_t *value, const char *id)
{
    json_t *object = json_object();
    for (const struct field *field = fields; object && field->name; field++) {
        json_t *member = json_object_get(value, field->name);
        json_t *copy = NULL;
        if (id && strcmp(field->name, "id") == 0)
            copy = json_string(id);
        else if (member && !json_is_null(member))
            copy = json_deep_copy(member);
        else
            continue;
        if (json_object_set_new(object, field->name, copy) != 0) {
            json_decref(object);
            object = NULL;
        }
    }
    return object;
}

/* ---- the text and its changes --------------------------------------------------------------- */

/* Replace [from, to) of the text with `text` (owned). */
struct splice {
    size_t from, to;
    char *text;
};

#define MAX_SPLICES 2

struct edit {
    const char *path;
    const char *text;
    size_t length;
    const char *eol; /* the file's line ending */
    struct wg_cfg_node *root;
    struct splice splices[MAX_SPLICES];
    size_t splice_count;
    size_t item_splice; /* the splice holding the changed item; SIZE_MAX for a deletion */
    struct wg_edit_result *result;
};

/* Lines of the changed item in the new text, to name the field of a loader
 * message that points into it. */
struct span {
    int first_line, last_line; /* 0: none */
};

static bool add_splice(struct edit *edit, size_t from, size_t to, struct sbuf *text, bool item)
{
    char *owned = sb_take(text);
    if (!owned || edit->splice_count == MAX_SPLICES) {
        free(owned);
        refuse(edit->result, 500, NULL, "out of memory while changing %s", edit->path);
        return false;
    }
    if (item)
        edit->item_splice = edit->splice_count;
    edit->splices[edit->splice_count++] = (struct splice){from, to, owned};
    return true;
}

static bool add_splice_text(struct edit *edit, size_t from, size_t to, const char *text)
{
    struct sbuf sb = {0};
    sb_str(&sb, text);
    return add_splice(edit, from, to, &sb, false);
}

static size_t line_start(const char *text, size_t at)
{
    while (at > 0 && text[at - 1] != '\n')
        at--;
    return at;
}

/* The '\n' ending the line of `at`, or the text's length. */
static size_t line_end(const struct edit *edit, size_t at)
{
    while (at < edit->length && edit->text[at] != '\n')
        at++;
    return at;
}

/* Only blanks and perhaps a comment between `from` and the end of its line. */
static bool rest_of_line_free(const struct edit *edit, size_t from)
{
    size_t at = from;
    while (at < edit->length &&
           (edit->text[at] == ' ' || edit->text[at] == '\t' || edit->text[at] == '\r'))
        at++;
    return at == edit->length || edit->text[at] == '\n' || edit->text[at] == '#';
}

/* Where a new line may go after the line of `at`: just past its '\n' (or at
 * the end of a text without a final line break; *needs_eol is then true). */
static size_t after_line(const struct edit *edit, size_t at, bool *needs_eol)
{
    size_t end = line_end(edit, at);
    *needs_eol = end == edit->length;
    return end == edit->length ? end : end + 1;
}

/* The '-' that introduces block-list item `item`: only blanks (and line
 * breaks) between them, only indentation before it. SIZE_MAX otherwise. */
static size_t item_dash(const struct edit *edit, const struct wg_cfg_node *item)
{
    const char *text = edit->text;
    size_t at = item->start_index;
    while (at > 0 && (text[at - 1] == ' ' || text[at - 1] == '\t' || text[at - 1] == '\n' ||
                      text[at - 1] == '\r'))
        at--;
    if (at == 0 || text[at - 1] != '-')
        return SIZE_MAX;
    size_t dash = at - 1;
    for (size_t p = line_start(text, dash); p < dash; p++)
        if (text[p] != ' ')
            return SIZE_MAX;
    return dash;
}

/* The column (0-based, in bytes: indentation is ASCII) where an item's text
 * begins: its first key for a block mapping. */
static size_t block_key_indent(const struct edit *edit, const struct wg_cfg_node *item)
{
    size_t first =
        item->type == WG_CFG_MAP && item->count ? item->key_starts[0] : item->start_index;
    return first - line_start(edit->text, first);
}

/* Whether every entry of `item` lies in order inside it; an alias copied from
 * elsewhere (or other oddities) would make its text ranges meaningless. */
static bool item_in_place(const struct wg_cfg_node *item)
{
    size_t previous = item->start_index;
    for (size_t i = 0; i < item->count; i++) {
        size_t key = item->type == WG_CFG_MAP ? item->key_starts[i] : item->items[i]->start_index;
        if (key < previous || item->items[i]->start_index < key ||
            item->items[i]->end_index > item->end_index)
            return false;
        previous = item->items[i]->end_index;
    }
    return item->end_index >= item->start_index;
}

/* Writes the item: the managed fields of `value` in order (`id` first, from
 * the path for an update), then every other key of `old` copied as written.
 * Flow style "{a: 1, b: 2}", or block style with `indent` spaces before each
 * line after the first. */
static void write_item(const struct edit *edit, struct sbuf *sb, const struct field *fields,
                       const json_t *value, const char *id, const struct wg_cfg_node *old,
                       bool block, size_t indent)
{
    bool first = true;
    if (!block)
        sb_str(sb, "{");
    for (const struct field *field = fields; field->name; field++) {
        const json_t *member = json_object_get(value, field->name);
        bool is_id = strcmp(field->name, "id") == 0 && id;
        if (!is_id && (!member || json_is_null(member)))
            continue;
        if (!first) {
            if (block) {
                sb_str(sb, edit->eol);
                sb_spaces(sb, indent);
            } else {
                sb_str(sb, ", ");
            }
        }
        first = false;
        sb_printf(sb, "%s: ", field->name);
        if (is_id)
            write_string(sb, id);
        else
            write_value(sb, field, member);
    }
    for (size_t i = 0; old && i < old->count; i++) {
        if (field_named(fields, old->keys[i]))
            continue;
        size_t from = old->key_starts[i];
        size_t to = old->items[i]->end_index > old->key_ends[i] ? old->items[i]->end_index
                                                                : old->key_ends[i];
        if (!first) {
            if (block) {
                sb_str(sb, edit->eol);
                sb_spaces(sb, indent);
            } else {
                sb_str(sb, ", ");
            }
        }
        first = false;
        sb_add(sb, edit->text + from, to - from);
    }
    if (!block)
        sb_str(sb, "}");
}

static const struct wg_cfg_node *find_item(const struct wg_cfg_node *list, const char *id,
                                           size_t *index)
{
    for (size_t i = 0; list && list->type == WG_CFG_SEQ && i < list->count; i++) {
        const char *item_id = cfg_scalar(cfg_get(list->items[i], "id"));
        if (item_id && strcmp(item_id, id) == 0) {
            if (index)
                *index = i;
            return list->items[i];
        }
    }
    return NULL;
}

static void refuse_layout(struct edit *edit, const struct wg_cfg_node *node, const char *what)
{
    refuse(edit->result, 500, NULL,
           "%s:%d:%d: cannot %s here: the text is laid out in a way this editor does not handle "
           "(edit the file by hand)",
           edit->path, node ? node->line : 1, node ? node->column : 1, what);
}

/* The byte just after the ':' that follows key `index` of `map`. */
static size_t after_colon(const struct edit *edit, const struct wg_cfg_node *map, size_t index)
{
    size_t at = map->key_ends[index];
    while (at < edit->length && (edit->text[at] == ' ' || edit->text[at] == '\t'))
        at++;
    return at < edit->length && edit->text[at] == ':' ? at + 1 : SIZE_MAX;
}

/* ---- the operations ------------------------------------------------------------------------- */

static bool add_item(struct edit *edit, const struct item_kind *kind, const json_t *value)
{
    const char *id = json_string_value(json_object_get(value, "id"));
    const struct wg_cfg_node *root = edit->root;
    size_t section_index = SIZE_MAX;
    for (size_t i = 0; i < root->count; i++)
        if (strcmp(root->keys[i], kind->section) == 0)
            section_index = i;
    const struct wg_cfg_node *list = section_index == SIZE_MAX ? NULL : root->items[section_index];
    if (find_item(list, id, NULL)) {
        refuse(edit->result, 409, "id", "a %s with the id \"%.64s\" already exists", kind->what,
               id);
        return false;
    }
    struct sbuf sb = {0};
    bool needs_eol = false;

    if (list && list->type == WG_CFG_SEQ && list->count && !list->flow) {
        /* After the last item's line, in the last item's style and indentation. */
        const struct wg_cfg_node *last = list->items[list->count - 1];
        size_t dash = item_dash(edit, last);
        if (dash == SIZE_MAX || !rest_of_line_free(edit, last->end_index)) {
            refuse_layout(edit, last, "add an item");
            return false;
        }
        size_t dash_column = dash - line_start(edit->text, dash);
        bool block = last->type == WG_CFG_MAP && !last->flow && last->count;
        size_t at = after_line(edit, last->end_index, &needs_eol);
        if (needs_eol)
            sb_str(&sb, edit->eol);
        sb_spaces(&sb, dash_column);
        sb_str(&sb, "-");
        size_t indent = dash_column + 2;
        if (block) {
            indent = block_key_indent(edit, last);
            bool same_line =
                line_start(edit->text, last->key_starts[0]) == line_start(edit->text, dash);
            if (same_line) {
                sb_spaces(&sb, indent > dash_column + 1 ? indent - dash_column - 1 : 1);
            } else {
                sb_str(&sb, edit->eol);
                sb_spaces(&sb, indent);
            }
        } else {
            sb_str(&sb, " ");
        }
        write_item(edit, &sb, kind->fields, value, NULL, NULL, block, indent);
        if (!needs_eol)
            sb_str(&sb, edit->eol);
        return add_splice(edit, at, at, &sb, true);
    }
    if (list && list->type == WG_CFG_SEQ && list->count) {
        /* A flow list: ", {...}" after its last item. */
        size_t at = list->items[list->count - 1]->end_index;
        sb_str(&sb, ", ");
        write_item(edit, &sb, kind->fields, value, NULL, NULL, false, 0);
        return add_splice(edit, at, at, &sb, true);
    }
    if (list && !(list->type == WG_CFG_SEQ || null_scalar(list))) {
        refuse(edit->result, 500, NULL, "%s:%d:%d: %s: cannot add a %s: it is not a list",
               edit->path, list->line, list->column, kind->section, kind->what);
        return false;
    }
    if (root->flow) {
        refuse_layout(edit, root, "add an item");
        return false;
    }
    if (list) {
        /* "devices: []" or "devices:" (nothing): the item goes on the next line,
         * as the first of a block list. */
        size_t colon = after_colon(edit, root, section_index);
        bool same_line = colon != SIZE_MAX &&
                         line_start(edit->text, colon) == line_start(edit->text, list->start_index);
        if (!same_line || !rest_of_line_free(edit, list->end_index)) {
            if (!list->flow) {
                refuse_layout(edit, list, "add an item");
                return false;
            }
            sb_str(&sb, "[");
            write_item(edit, &sb, kind->fields, value, NULL, NULL, false, 0);
            sb_str(&sb, "]");
            return add_splice(edit, list->start_index, list->end_index, &sb, true);
        }
        if (!add_splice_text(edit, colon, list->end_index, ""))
            return false;
        size_t key_indent = (size_t)root->key_columns[section_index] - 1;
        size_t at = after_line(edit, list->end_index, &needs_eol);
        if (needs_eol)
            sb_str(&sb, edit->eol);
        sb_spaces(&sb, key_indent + 2);
        sb_str(&sb, "- ");
        write_item(edit, &sb, kind->fields, value, NULL, NULL, false, 0);
        if (!needs_eol)
            sb_str(&sb, edit->eol);
        return add_splice(edit, at, at, &sb, true);
    }
    /* No such section: a new one at the end of the file. */
    if (edit->length && edit->text[edit->length - 1] != '\n')
        sb_str(&sb, edit->eol);
    sb_printf(&sb, "%s:%s  - ", kind->section, edit->eol);
    write_item(edit, &sb, kind->fields, value, NULL, NULL, false, 0);
    sb_str(&sb, edit->eol);
    return add_splice(edit, edit->length, edit->length, &sb, true);
}

static bool update_item(struct edit *edit, const struct item_kind *kind, const char *id,
                        const json_t *value)
{
    const struct wg_cfg_node *list = cfg_get(edit->root, kind->section);
    const struct wg_cfg_node *item = find_item(list, id, NULL);
    if (!item) {
        refuse(edit->result, 404, NULL, "no %s \"%.64s\" in the configuration", kind->what, id);
        return false;
    }
    if (item->type != WG_CFG_MAP || !item->count || !item_in_place(item)) {
        refuse_layout(edit, item, "change this item");
        return false;
    }
    struct sbuf sb = {0};
    if (item->flow) {
        /* Keep an anchor or tag before the '{'. */
        size_t from = item->start_index;
        while (from < item->end_index && edit->text[from] != '{')
            from++;
        write_item(edit, &sb, kind->fields, value, id, item, false, 0);
        return add_splice(edit, from, item->end_index, &sb, true);
    }
    /* A block mapping: from its first key to its last character, same indentation. */
    size_t indent = block_key_indent(edit, item);
    write_item(edit, &sb, kind->fields, value, id, item, true, indent);
    size_t to = item->end_index;
    /* A comment after the item's last line stays there, unless a key the API
     * does not manage moved to the end: its value may be a block scalar,
     * which the comment would join, so the comment gets a line of its own. */
    size_t last_unmanaged = SIZE_MAX;
    for (size_t i = 0; i < item->count; i++)
        if (!field_named(kind->fields, item->keys[i]))
            last_unmanaged = i;
    size_t comment = to;
    while (comment < edit->length && (edit->text[comment] == ' ' || edit->text[comment] == '\t'))
        comment++;
    if (last_unmanaged != SIZE_MAX && last_unmanaged != item->count - 1 && comment < edit->length &&
        edit->text[comment] == '#') {
        size_t end = line_end(edit, comment);
        if (end > comment && edit->text[end - 1] == '\r')
            end--;
        sb_str(&sb, edit->eol);
        sb_spaces(&sb, indent);
        sb_add(&sb, edit->text + comment, end - comment);
        to = end;
    }
    return add_splice(edit, item->key_starts[0], to, &sb, true);
}

static bool delete_item(struct edit *edit, const struct item_kind *kind, const char *id)
{
    const struct wg_cfg_node *list = cfg_get(edit->root, kind->section);
    size_t index = 0;
    const struct wg_cfg_node *item = find_item(list, id, &index);
    if (!item) {
        refuse(edit->result, 404, NULL, "no %s \"%.64s\" in the configuration", kind->what, id);
        return false;
    }
    if (list->flow) {
        size_t from = item->start_index, to = item->end_index;
        if (index + 1 < list->count)
            to = list->items[index + 1]->start_index; /* with the ", " after it */
        else if (index > 0)
            from = list->items[index - 1]->end_index; /* with the ", " before it */
        return add_splice_text(edit, from, to, "");
    }
    size_t dash = item_dash(edit, item);
    if (dash == SIZE_MAX || !rest_of_line_free(edit, item->end_index)) {
        refuse_layout(edit, item, "remove this item");
        return false;
    }
    bool last_line = false;
    size_t to = after_line(edit, item->end_index, &last_line);
    return add_splice_text(edit, line_start(edit->text, dash), to, "");
}

static const struct wg_cfg_node *find_room(const struct wg_cfg_node *root, const char *id)
{
    const struct wg_cfg_node *zones = cfg_get(root, "zones");
    for (size_t i = 0; i < cfg_seq_len(zones); i++) {
        const struct wg_cfg_node *room = find_item(cfg_get(zones->items[i], "rooms"), id, NULL);
        if (room)
            return room;
    }
    return NULL;
}

static bool room_beds(struct edit *edit, const char *id, const json_t *value)
{
    const struct wg_cfg_node *room = find_room(edit->root, id);
    if (!room) {
        refuse(edit->result, 404, NULL, "no room \"%.64s\" in the configuration", id);
        return false;
    }
    if (room->type != WG_CFG_MAP || !room->count || !item_in_place(room)) {
        refuse_layout(edit, room, "change this room");
        return false;
    }
    const json_t *beds = json_object_get(value, "beds");
    struct sbuf sb = {0};
    size_t index = SIZE_MAX;
    for (size_t i = 0; i < room->count; i++)
        if (strcmp(room->keys[i], "beds") == 0)
            index = i;
    if (index != SIZE_MAX) {
        const struct wg_cfg_node *old = room->items[index];
        if (old->flow || (old->type == WG_CFG_SCALAR && old->end_index > old->start_index)) {
            write_strings(&sb, beds);
            return add_splice(edit, old->start_index, old->end_index, &sb, true);
        }
        /* "beds:" with nothing, or a block list: " [..]" right after the ':'. */
        size_t colon = after_colon(edit, room, index);
        if (colon == SIZE_MAX) {
            refuse_layout(edit, room, "change the beds");
            return false;
        }
        sb_str(&sb, " ");
        write_strings(&sb, beds);
        return add_splice(edit, colon, old->end_index > colon ? old->end_index : colon, &sb, true);
    }
    size_t last = room->count - 1;
    size_t entry_end = room->items[last]->end_index > room->key_ends[last]
                           ? room->items[last]->end_index
                           : room->key_ends[last];
    if (room->flow) {
        sb_str(&sb, ", beds: ");
        write_strings(&sb, beds);
        return add_splice(edit, entry_end, entry_end, &sb, true);
    }
    if (!rest_of_line_free(edit, entry_end)) {
        refuse_layout(edit, room, "add the beds");
        return false;
    }
    bool needs_eol = false;
    size_t at = after_line(edit, entry_end, &needs_eol);
    if (needs_eol)
        sb_str(&sb, edit->eol);
    sb_spaces(&sb, block_key_indent(edit, room));
    sb_str(&sb, "beds: ");
    write_strings(&sb, beds);
    if (!needs_eol)
        sb_str(&sb, edit->eol);
    return add_splice(edit, at, at, &sb, true);
}

/* ---- refusals the manager can act on -----------------------------------------------------------
 */

/* A 422 whose one problem is `code` with its arguments (a JSON object,
 * taken), for the field at fault; the message names no file. */
static void refuse_problem(struct wg_edit_result *result, const char *field, const char *code,
                           json_t *args, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static void refuse_problem(struct wg_edit_result *result, const char *field, const char *code,
                           json_t *args, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(result->error, sizeof result->error, fmt, ap);
    va_end(ap);
    result->status = 422;
    snprintf(result->field, sizeof result->field, "%s", field);
    diag_pos(&result->details, NULL, 0, 0, "%s", result->error);
    diag_code(&result->details, code, "o", args ? args : json_object());
    snprintf(result->details.entries[result->details.count - 1].field,
             sizeof result->details.entries[0].field, "%s", field);
}

/* The resident (not `except`) whose bed is `bed`, or NULL. */
static const struct wg_cfg_node *occupant(const struct wg_cfg_node *root, const char *bed,
                                          const char *except)
{
    const struct wg_cfg_node *residents = cfg_get(root, "residents");
    for (size_t i = 0; bed && i < cfg_seq_len(residents); i++) {
        const struct wg_cfg_node *resident = cfg_seq_at(residents, i);
        const char *id = cfg_scalar(cfg_get(resident, "id"));
        const char *in = cfg_scalar(cfg_get(resident, "bed"));
        if (in && strcmp(in, bed) == 0 && (!except || !id || strcmp(id, except) != 0))
            return resident;
    }
    return NULL;
}

/* Moving a resident into a bed someone else lies in names that someone: the
 * occupant, not the resident being edited (whichever comes first in the file). */
static bool bed_free(struct edit *edit, const char *id, const json_t *value)
{
    const char *bed = json_string_value(json_object_get(value, "bed"));
    const char *self = id ? id : json_string_value(json_object_get(value, "id"));
    const struct wg_cfg_node *other = occupant(edit->root, bed, self);
    if (!other)
        return true;
    const char *other_id = cfg_scalar(cfg_get(other, "id"));
    const char *label = cfg_scalar(cfg_get(other, "label"));
    refuse_problem(edit->result, "bed", "bed_taken",
                   json_pack("{s:s, s:s?, s:s?, s:s?}", "bed", bed, "occupant",
                             label && *label ? label : other_id, "resident", other_id, "label",
                             label && *label ? label : NULL),
                   "bed %.64s is taken by resident %.64s%s%.64s%s: move or remove that resident "
                   "first",
                   bed, other_id ? other_id : "?", label && *label ? " (" : "",
                   label && *label ? label : "", label && *label ? ")" : "");
    return false;
}

/* Taking a bed away from a room while a resident lies in it names the resident. */
static bool beds_kept_free(struct edit *edit, const char *room, const json_t *value)
{
    const struct wg_cfg_node *old = cfg_get(find_room(edit->root, room), "beds");
    for (size_t i = 0; i < cfg_seq_len(old); i++) {
        const char *label = cfg_scalar(cfg_seq_at(old, i));
        bool kept = false;
        size_t index;
        const json_t *bed;
        json_array_foreach(json_object_get(value, "beds"), index, bed) kept =
            kept || (label && json_is_string(bed) && strcmp(json_string_value(bed), label) == 0);
        if (kept || !label)
            continue;
        char bed_id[160];
        snprintf(bed_id, sizeof bed_id, "%s-%s", room, label);
        const struct wg_cfg_node *resident = occupant(edit->root, bed_id, NULL);
        if (!resident)
            continue;
        const char *resident_id = cfg_scalar(cfg_get(resident, "id"));
        const char *name = cfg_scalar(cfg_get(resident, "label"));
        refuse_problem(edit->result, "beds", "bed_occupied",
                       json_pack("{s:s, s:s?, s:s?, s:s?}", "bed", bed_id, "occupant",
                                 name && *name ? name : resident_id, "resident", resident_id,
                                 "label", name && *name ? name : NULL),
                       "bed %s cannot be taken away: resident %.64s%s%.64s%s lies in it; move "
                       "them first",
                       bed_id, resident_id ? resident_id : "?", name && *name ? " (" : "",
                       name && *name ? name : "", name && *name ? ")" : "");
        return false;
    }
    return true;
}

/* ---- the text transformation ---------------------------------------------------------------- */

static bool is_add(enum wg_edit_op op)
{
    return op == WG_EDIT_DEVICE_ADD || op == WG_EDIT_RESIDENT_ADD;
}

static bool is_delete(enum wg_edit_op op)
{
    return op == WG_EDIT_DEVICE_DELETE || op == WG_EDIT_RESIDENT_DELETE;
}

static const struct item_kind *op_kind(enum wg_edit_op op)
{
    switch (op) {
    case WG_EDIT_DEVICE_ADD:
    case WG_EDIT_DEVICE_UPDATE:
    case WG_EDIT_DEVICE_DELETE:
        return &device_kind;
    case WG_EDIT_RESIDENT_ADD:
    case WG_EDIT_RESIDENT_UPDATE:
    case WG_EDIT_RESIDENT_DELETE:
        return &resident_kind;
    case WG_EDIT_ROOM_BEDS:
        break;
    }
    return NULL;
}

/* The request alone, before the file is read: 400 for anything wrong in it. */
static bool check_request(enum wg_edit_op op, const char *id, const json_t *value,
                          struct wg_edit_result *result)
{
    const struct item_kind *kind = op_kind(op);
    if (op != WG_EDIT_ROOM_BEDS && !kind) {
        refuse(result, 400, NULL, "unknown change (%d)", (int)op);
        return false;
    }
    if (!is_add(op) && (!id || !*id)) {
        refuse(result, 400, "id", "the %s's id is missing", kind ? kind->what : "room");
        return false;
    }
    if (is_delete(op))
        return true;
    if (op == WG_EDIT_ROOM_BEDS)
        return check_body(beds_fields, "room's beds", value, NULL, result);
    if (!check_body(kind->fields, kind->what, value, is_add(op) ? NULL : id, result))
        return false;
    const char *body_id = json_string_value(json_object_get(value, "id"));
    if (op == WG_EDIT_RESIDENT_ADD && !resident_id_ok(body_id)) {
        refuse(result, 400, "id",
               "id: a resident's id is pseudonymous: \"R-\" and 2 to 16 of A-Z and 0-9, got "
               "\"%.64s\"",
               body_id);
        return false;
    }
    return true;
}

static void audit_json(struct edit *edit, enum wg_edit_op op, const char *id, const json_t *value)
{
    struct wg_edit_result *result = edit->result;
    if (op == WG_EDIT_ROOM_BEDS) {
        const struct wg_cfg_node *room = find_room(edit->root, id);
        json_t *before = json_pack("{s:s}", "id", id);
        const struct wg_cfg_node *beds = cfg_get(room, "beds");
        if (before && beds &&
            json_object_set_new(before, "beds", scalar_json(&beds_fields[0], beds)) != 0) {
            json_decref(before);
            before = NULL; /* out of memory: refused by the caller */
        }
        result->before = before;
        result->after = json_pack("{s:s, s:O}", "id", id, "beds", json_object_get(value, "beds"));
        return;
    }
    const struct item_kind *kind = op_kind(op);
    if (!is_add(op))
        result->before =
            item_json(kind->fields, find_item(cfg_get(edit->root, kind->section), id, NULL));
    if (!is_delete(op))
        result->after = body_json(kind->fields, value, is_add(op) ? NULL : id);
}

static int splice_order(const void *a, const void *b)
{
    const struct splice *first = a, *second = b;
    return first->from < second->from ? -1 : first->from > second->from;
}

static char *apply_splices(struct edit *edit, struct span *span)
{
    struct splice *item =
        edit->item_splice < edit->splice_count ? &edit->splices[edit->item_splice] : NULL;
    size_t item_from = item ? item->from : 0;
    const char *item_text = item ? item->text : NULL;
    qsort(edit->splices, edit->splice_count, sizeof edit->splices[0], splice_order);
    struct sbuf sb = {0};
    size_t at = 0, item_at = SIZE_MAX;
    for (size_t i = 0; i < edit->splice_count; i++) {
        struct splice *splice = &edit->splices[i];
        sb_add(&sb, edit->text + at, splice->from - at);
        if (splice->text == item_text && splice->from == item_from)
            item_at = sb.length;
        sb_str(&sb, splice->text);
        at = splice->to;
    }
    sb_add(&sb, edit->text + at, edit->length - at);
    char *text = sb_take(&sb);
    if (text && span && item_text && item_at != SIZE_MAX) {
        /* An insertion starting with a line break begins on the next line. */
        const char *start = item_text;
        while (*start == '\r' || *start == '\n')
            start++;
        int line = 1;
        for (size_t i = 0; i < item_at + (size_t)(start - item_text); i++)
            line += text[i] == '\n';
        span->first_line = line;
        for (const char *p = start; *p; p++)
            line += *p == '\n';
        span->last_line = line;
    }
    return text;
}

static char *edit_text(const char *path, const char *text, size_t length, enum wg_edit_op op,
                       const char *id, const json_t *value, struct wg_edit_result *result,
                       struct span *span)
{
    if (span)
        *span = (struct span){0, 0};
    if (!check_request(op, id, value, result))
        return NULL;
    if (length >= 2 &&
        ((text[0] == '\xFF' && text[1] == '\xFE') || (text[0] == '\xFE' && text[1] == '\xFF'))) {
        refuse(result, 500, NULL, "%s is not UTF-8 (UTF-16); changes are made only to UTF-8 files",
               path);
        return NULL;
    }
    struct edit edit = {.path = path,
                        .text = text,
                        .length = length,
                        .eol = "\n",
                        .item_splice = SIZE_MAX,
                        .result = result};
    const char *newline = memchr(text, '\n', length);
    if (newline && newline > text && newline[-1] == '\r')
        edit.eol = "\r\n";
    struct wg_diag diag;
    diag_init(&diag);
    edit.root = cfgtree_parse(path, text, length, &diag);
    if (!edit.root || edit.root->type != WG_CFG_MAP) {
        refuse(result, 500, NULL, "%s cannot be read as a configuration: %s", path,
               diag.count ? diag.messages[0] : "the top level is not a mapping");
        result->details = diag;
        cfgtree_free(edit.root);
        return NULL;
    }
    diag_free(&diag);

    const struct item_kind *kind = op_kind(op);
    bool ok = false;
    switch (op) {
    case WG_EDIT_DEVICE_ADD:
        ok = add_item(&edit, kind, value);
        break;
    case WG_EDIT_RESIDENT_ADD:
        ok = bed_free(&edit, NULL, value) && add_item(&edit, kind, value);
        break;
    case WG_EDIT_DEVICE_UPDATE:
        ok = update_item(&edit, kind, id, value);
        break;
    case WG_EDIT_RESIDENT_UPDATE:
        ok = bed_free(&edit, id, value) && update_item(&edit, kind, id, value);
        break;
    case WG_EDIT_DEVICE_DELETE:
    case WG_EDIT_RESIDENT_DELETE:
        ok = delete_item(&edit, kind, id);
        break;
    case WG_EDIT_ROOM_BEDS:
        ok = find_room(edit.root, id)
                 ? beds_kept_free(&edit, id, value) && room_beds(&edit, id, value)
                 : room_beds(&edit, id, value);
        break;
    }
    char *changed = NULL;
    if (ok) {
        audit_json(&edit, op, id, value);
        changed = apply_splices(&edit, span);
        if (!changed || (!is_add(op) && !result->before) || (!is_delete(op) && !result->after)) {
            free(changed);
            changed = NULL;
            refuse(result, 500, NULL, "out of memory while changing %s", path);
        }
    }
    for (size_t i = 0; i < edit.splice_count; i++)
        free(edit.splices[i].text);
    cfgtree_free(edit.root);
    if (!changed) {
        json_decref(result->before);
        json_decref(result->after);
        result->before = result->after = NULL;
        return NULL;
    }
    result->status = is_add(op) ? 201 : 200;
    return changed;
}

char *config_edit_text(const char *path, const char *text, enum wg_edit_op op, const char *id,
                       const json_t *value, struct wg_edit_result *result)
{
    result_init(result);
    return edit_text(path, text, strlen(text), op, id, value, result, NULL);
}

/* ---- writing the file ----------------------------------------------------------------------- */

/* The whole file; NULL with a 500 in `result`. Refuses a NUL byte (the text
 * is handled as a C string from here on). */
static char *read_config(const char *path, struct stat *st, size_t *length,
                         struct wg_edit_result *result)
{
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        refuse(result, 500, NULL, "cannot read %s: %s", path, strerror(errno));
        return NULL;
    }
    char *text = NULL;
    if (fstat(fd, st) != 0) {
        refuse(result, 500, NULL, "cannot read %s: %s", path, strerror(errno));
        goto fail;
    }
    if (!S_ISREG(st->st_mode)) {
        refuse(result, 500, NULL, "%s is not a regular file", path);
        goto fail;
    }
    size_t capacity = (size_t)st->st_size + 1, used = 0;
    text = malloc(capacity);
    if (!text) {
        refuse(result, 500, NULL, "out of memory reading %s", path);
        goto fail;
    }
    for (;;) {
        if (used + 1 == capacity) {
            char *grown = realloc(text, capacity * 2);
            if (!grown) {
                refuse(result, 500, NULL, "out of memory reading %s", path);
                goto fail;
            }
            text = grown;
            capacity *= 2;
        }
        ssize_t got = read(fd, text + used, capacity - used - 1);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            refuse(result, 500, NULL, "cannot read %s: %s", path, strerror(errno));
            goto fail;
        }
        if (got == 0)
            break;
        used += (size_t)got;
    }
    text[used] = '\0';
    if (memchr(text, '\0', used)) {
        refuse(result, 500, NULL, "%s contains a NUL byte; it is not a YAML text", path);
        goto fail;
    }
    close(fd);
    *length = used;
    return text;
fail:
    free(text);
    close(fd);
    return NULL;
}

static bool write_all(int fd, const char *text, size_t length)
{
    while (length) {
        ssize_t wrote = write(fd, text, length);
        if (wrote < 0 && errno == EINTR)
            continue;
        if (wrote <= 0) {
            if (wrote == 0)
                errno = EIO;
            return false;
        }
        text += wrote;
        length -= (size_t)wrote;
    }
    return true;
}

/* Replaces every `from` in `text` (owned) by `to`; returns the new text. */
static char *replace_all(char *text, const char *from, const char *to)
{
    if (!text || !*from || !strstr(text, from))
        return text;
    struct sbuf sb = {0};
    size_t from_length = strlen(from);
    for (const char *p = text; *p;) {
        const char *hit = strstr(p, from);
        if (!hit) {
            sb_str(&sb, p);
            break;
        }
        sb_add(&sb, p, (size_t)(hit - p));
        sb_str(&sb, to);
        p = hit + from_length;
    }
    char *replaced = sb_take(&sb);
    if (!replaced)
        return text;
    free(text);
    return replaced;
}

/* The problems as a manager reads them: no server path in their text (the
 * file's directory is left out), and the file itself named as in `path`. */
static void strip_paths(struct wg_diag *diag, const char *path, const char *dir)
{
    char *prefix = NULL;
    if (asprintf(&prefix, "%s/", dir) < 0)
        return;
    const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    for (size_t i = 0; i < diag->count; i++) {
        diag->entries[i].text = replace_all(diag->entries[i].text, path, base);
        diag->entries[i].text = replace_all(diag->entries[i].text, prefix, "");
    }
    free(prefix);
}

/* The loader's messages name the temporary file; they should name the real one. */
static void rename_in_messages(struct wg_diag *diag, const char *from, const char *to)
{
    for (size_t i = 0; i < diag->count; i++)
        if (diag->entries[i].file && strcmp(diag->entries[i].file, from) == 0) {
            char *renamed = strdup(to);
            if (renamed) {
                free(diag->entries[i].file);
                diag->entries[i].file = renamed;
            }
        }
    for (size_t i = 0; i < diag->count; i++) {
        diag->messages[i] = replace_all(diag->messages[i], from, to);
        diag->entries[i].text = replace_all(diag->entries[i].text, from, to);
    }
}

/* A loader message "file:L:C: key: ..." (or 'missing required key "key"')
 * on a line of the changed item names the field at fault. */
static void field_from_messages(struct wg_edit_result *result, const struct field *fields,
                                const char *path, const struct span *span)
{
    for (size_t i = 0; fields && span->first_line && i < result->details.count; i++) {
        struct wg_diag_entry *entry = &result->details.entries[i];
        if (!entry->file || strcmp(entry->file, path) != 0 || entry->line < span->first_line ||
            entry->line > span->last_line || !entry->text)
            continue;
        const char *body = entry->text;
        for (const struct field *field = fields; field->name; field++) {
            size_t length = strlen(field->name);
            char missing[64];
            snprintf(missing, sizeof missing, "missing required key \"%s\"", field->name);
            if ((strncmp(body, field->name, length) == 0 && body[length] == ':') ||
                strncmp(body, missing, strlen(missing)) == 0) {
                snprintf(entry->field, sizeof entry->field, "%s", field->name);
                if (!result->field[0])
                    snprintf(result->field, sizeof result->field, "%s", field->name);
                break;
            }
        }
    }
}

/* <file>.prev becomes the file as it is now: a hard link (the file itself
 * is never missing), or a copy of `text` where links are not possible. */
static bool keep_previous(const char *path, const char *dir, const char *base, const char *text,
                          size_t length, mode_t mode, struct wg_edit_result *result)
{
    char *prev = NULL, *temp = NULL;
    bool ok = false;
    int fd = -1;
    if (asprintf(&prev, "%s.prev", path) < 0) {
        prev = NULL;
        refuse(result, 500, NULL, "out of memory");
        return false;
    }
    if (unlink(prev) != 0 && errno != ENOENT) {
        refuse(result, 500, NULL, "cannot replace %s: %s", prev, strerror(errno));
        goto done;
    }
    if (link(path, prev) == 0) {
        ok = true;
        goto done;
    }
    if (errno != EPERM && errno != EXDEV && errno != EMLINK && errno != ENOSYS &&
        errno != EOPNOTSUPP) {
        refuse(result, 500, NULL, "cannot keep the previous version as %s: %s", prev,
               strerror(errno));
        goto done;
    }
    if (asprintf(&temp, "%s/.%s.prev-XXXXXX", dir, base) < 0) {
        temp = NULL;
        refuse(result, 500, NULL, "out of memory");
        goto done;
    }
    fd = mkstemp(temp);
    if (fd < 0) {
        refuse(result, 500, NULL, "cannot create a temporary file in %s: %s", dir, strerror(errno));
        goto done;
    }
    if (fchmod(fd, mode & 07777) != 0 || !write_all(fd, text, length) || fsync(fd) != 0) {
        refuse(result, 500, NULL, "cannot write %s: %s", temp, strerror(errno));
        goto done;
    }
    int closing = fd;
    fd = -1;
    if (close(closing) != 0 || rename(temp, prev) != 0) {
        refuse(result, 500, NULL, "cannot keep the previous version as %s: %s", prev,
               strerror(errno));
        goto done;
    }
    ok = true;
done:
    if (fd >= 0)
        close(fd);
    if (temp && !ok && unlink(temp) != 0 && errno != ENOENT)
        wg_warn("config edit: cannot remove %s: %s", temp, strerror(errno));
    free(temp);
    free(prev);
    return ok;
}

static void fsync_directory(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 || fsync(fd) != 0)
        wg_warn("config edit: cannot fsync the directory %s: %s (the change is made; it may "
                "not survive a power cut)",
                dir, strerror(errno));
    if (fd >= 0)
        close(fd);
}

int config_edit_apply(const char *config_path, enum wg_edit_op op, const char *id,
                      const json_t *value, struct wg_edit_result *result)
{
    result_init(result);
    char *text = NULL, *changed = NULL, *dir = NULL, *temp = NULL;
    const char *base = NULL;
    int fd = -1;
    bool temp_exists = false;
    if (!config_path || !*config_path) {
        refuse(result, 500, NULL, "no configuration file");
        return -1;
    }
    struct stat link_st, st;
    if (lstat(config_path, &link_st) != 0) {
        refuse(result, 500, NULL, "cannot read %s: %s", config_path, strerror(errno));
        return -1;
    }
    if (S_ISLNK(link_st.st_mode)) {
        refuse(result, 500, NULL,
               "%s is a symbolic link: a change replaces the file, which would replace the link "
               "(start wardgated with -c naming the file itself, or edit it by hand)",
               config_path);
        return -1;
    }
    size_t length = 0;
    text = read_config(config_path, &st, &length, result);
    if (!text)
        return -1;
    struct span span;
    changed = edit_text(config_path, text, length, op, id, value, result, &span);
    if (!changed)
        goto fail;

    const char *slash = strrchr(config_path, '/');
    dir = slash ? strndup(config_path, slash == config_path ? 1 : (size_t)(slash - config_path))
                : strdup(".");
    base = slash ? slash + 1 : config_path;
    if (!dir || asprintf(&temp, "%s/.%s.edit-XXXXXX", dir, base) < 0) {
        temp = NULL;
        refuse(result, 500, NULL, "out of memory");
        goto fail;
    }
    if (faccessat(AT_FDCWD, config_path, W_OK, AT_EACCESS) != 0) {
        refuse(result, 500, NULL, "%s cannot be changed: %s", config_path, strerror(errno));
        goto fail;
    }
    fd = mkstemp(temp);
    if (fd < 0) {
        refuse(result, 500, NULL, "cannot create a temporary file in %s (needed to replace %s): %s",
               dir, config_path, strerror(errno));
        goto fail;
    }
    temp_exists = true;
    if (fchmod(fd, st.st_mode & 07777) != 0) {
        refuse(result, 500, NULL, "cannot set the mode of %s: %s", temp, strerror(errno));
        goto fail;
    }
    /* Keep the owner where allowed (root); otherwise the file becomes ours. */
    if (fchown(fd, st.st_uid, st.st_gid) != 0 && errno != EPERM) {
        refuse(result, 500, NULL, "cannot set the owner of %s: %s", temp, strerror(errno));
        goto fail;
    }
    if (!write_all(fd, changed, strlen(changed))) {
        refuse(result, 500, NULL, "cannot write %s: %s", temp, strerror(errno));
        goto fail;
    }

    struct wg_diag diag;
    diag_init(&diag);
    struct wg_config *config = config_load(temp, &diag);
    if (!config) {
        rename_in_messages(&diag, temp, config_path);
        /* file:line for the log; the reply names no server path. */
        for (size_t i = 0; i < diag.count; i++)
            wg_warn("config edit refused: %s", diag.messages[i]);
        strip_paths(&diag, config_path, dir);
        diag_free(&result->details);
        result->details = diag;
        refuse(result, 422, NULL, "the configuration would not be valid with this change: %s",
               diag.count && diag.entries[0].text ? diag.entries[0].text : "(no message)");
        field_from_messages(result, op_kind(op) ? op_kind(op)->fields : beds_fields, config_path,
                            &span);
        goto fail;
    }
    config_free(config);
    diag_free(&diag);

    if (fsync(fd) != 0) {
        refuse(result, 500, NULL, "cannot write %s: %s", temp, strerror(errno));
        goto fail;
    }
    int closing = fd;
    fd = -1;
    if (close(closing) != 0) {
        refuse(result, 500, NULL, "cannot write %s: %s", temp, strerror(errno));
        goto fail;
    }
    struct stat now;
    if (lstat(config_path, &now) != 0 || now.st_ino != st.st_ino || now.st_dev != st.st_dev ||
        now.st_size != st.st_size || now.st_mtim.tv_sec != st.st_mtim.tv_sec ||
        now.st_mtim.tv_nsec != st.st_mtim.tv_nsec) {
        wg_warn("config edit: %s changed while a change was being made; nothing written",
                config_path);
        refuse(result, 409, NULL,
               "the configuration file changed while this change was being made; nothing was "
               "written (try again)");
        goto fail;
    }
    if (!keep_previous(config_path, dir, base, text, length, st.st_mode, result))
        goto fail;
    if (rename(temp, config_path) != 0) {
        refuse(result, 500, NULL, "cannot replace %s: %s", config_path, strerror(errno));
        goto fail;
    }
    temp_exists = false;
    fsync_directory(dir);
    free(text);
    free(changed);
    free(dir);
    free(temp);
    return 0;

fail:
    if (fd >= 0)
        close(fd);
    if (temp_exists && unlink(temp) != 0)
        wg_warn("config edit: cannot remove %s: %s", temp, strerror(errno));
    json_decref(result->before);
    json_decref(result->after);
    result->before = result->after = NULL;
    free(text);
    free(changed);
    free(dir);
    free(temp);
    return -1;
}

int config_edit_restore(const char *config_path, char *err, size_t err_len)
{
    char *previous = NULL, *dir = NULL;
    const char *slash = strrchr(config_path, '/');
    int rc = -1;
    if (asprintf(&previous, "%s.prev", config_path) < 0) {
        previous = NULL;
        snprintf(err, err_len, "out of memory");
    } else if (!(dir = slash ? strndup(config_path,
                                       slash == config_path ? 1 : (size_t)(slash - config_path))
                             : strdup("."))) {
        snprintf(err, err_len, "out of memory");
    } else if (rename(previous, config_path) != 0) {
        snprintf(err, err_len, "putting back %s failed: %s", previous, strerror(errno));
    } else {
        fsync_directory(dir);
        rc = 0;
    }
    free(previous);
    free(dir);
    return rc;
}
