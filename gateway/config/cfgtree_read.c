/* Typed reads from a mapping for the schema checks: integers (decimal or
 * 0x hexadecimal), numbers, booleans and strings, each refused with
 * "key: expected ..., got ..." at its position; required keys and the
 * keys a mapping may have. */
#include "config/cfgtree.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

/* ---- typed reads ---------------------------------------------------------------------------- */

static const char *type_word(const struct wg_cfg_node *node)
{
    return node->type == WG_CFG_MAP ? "a mapping" : "a list";
}

bool cfg_is_null(const struct wg_cfg_node *node)
{
    if (node->type != WG_CFG_SCALAR || node->quoted)
        return false;
    const char *text = node->scalar;
    return !*text || strcmp(text, "~") == 0 || strcmp(text, "null") == 0 ||
           strcmp(text, "Null") == 0 || strcmp(text, "NULL") == 0;
}

/* What the user wrote, for "got ..." in messages. */
static void describe_value(const struct wg_cfg_node *node, char *buf, size_t len)
{
    if (node->type != WG_CFG_SCALAR)
        snprintf(buf, len, "%s", type_word(node));
    else if (cfg_is_null(node))
        snprintf(buf, len, "nothing");
    else
        snprintf(buf, len, "\"%.60s%s\"", node->scalar, strlen(node->scalar) > 60 ? "..." : "");
}

/* Reports "key: expected <expected>, got <what the user wrote>" with the code
 * "type"; returns false. */
static bool wrong_type(struct wg_diag *diag, const struct wg_cfg_node *node, const char *key,
                       const char *expected, const char *expected_code)
{
    char got[96];
    describe_value(node, got, sizeof got);
    diag_at(diag, node, "%s: expected %s, got %s", key, expected, got);
    diag_code(diag, "type", "{s:s, s:s}", "key", key, "expected", expected_code);
    return false;
}

static void expected_int_text(long long min, long long max, char *buf, size_t len)
{
    if (min == LLONG_MIN && max == LLONG_MAX)
        snprintf(buf, len, "an integer");
    else if (max == LLONG_MAX)
        snprintf(buf, len, "an integer of at least %lld", min);
    else if (min == LLONG_MIN)
        snprintf(buf, len, "an integer of at most %lld", max);
    else
        snprintf(buf, len, "an integer from %lld to %lld", min, max);
}

/* Decimal, or 0x-prefixed hexadecimal (register addresses). */
bool cfg_parse_integer(const char *text, long long *value)
{
    const char *digits = text;
    int base = 10;
    bool negative = false;
    if (*digits == '-' || *digits == '+') {
        negative = *digits == '-';
        digits++;
    }
    if (digits[0] == '0' && (digits[1] == 'x' || digits[1] == 'X')) {
        base = 16;
        digits += 2;
    }
    if (!*digits)
        return false;
    for (const char *p = digits; *p; p++)
        if (!(base == 16
                  ? (*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f') || (*p >= 'A' && *p <= 'F')
                  : (*p >= '0' && *p <= '9')))
            return false;
    errno = 0;
    unsigned long long magnitude = strtoull(digits, NULL, base);
    if (errno == ERANGE)
        return false;
    if (negative) {
        if (magnitude > (unsigned long long)LLONG_MAX + 1ull)
            return false;
        *value =
            magnitude == (unsigned long long)LLONG_MAX + 1ull ? LLONG_MIN : -(long long)magnitude;
    } else {
        if (magnitude > (unsigned long long)LLONG_MAX)
            return false;
        *value = (long long)magnitude;
    }
    return true;
}

bool cfg_read_int(struct wg_diag *diag, const struct wg_cfg_node *map, const char *key,
                  long long min, long long max, long long *out)
{
    const struct wg_cfg_node *node = cfg_get(map, key);
    if (!node)
        return true;
    char expected[96], got[96];
    long long value = 0;
    bool parsed =
        node->type == WG_CFG_SCALAR && !node->quoted && cfg_parse_integer(node->scalar, &value);
    if (parsed && value >= min && value <= max) {
        *out = value;
        return true;
    }
    expected_int_text(min, max, expected, sizeof expected);
    describe_value(node, got, sizeof got);
    if (node->type == WG_CFG_SCALAR && node->quoted && cfg_parse_integer(node->scalar, &value))
        diag_at(diag, node, "%s: expected %s, got the string %s (remove the quotes)", key, expected,
                got);
    else
        diag_at(diag, node, "%s: expected %s, got %s", key, expected, got);
    diag_code(diag, parsed ? "range" : "number", "{s:s, s:I, s:I, s:s?}", "key", key, "min",
              (json_int_t)min, "max", (json_int_t)max, "value",
              node->type == WG_CFG_SCALAR ? node->scalar : NULL);
    return false;
}

bool cfg_read_double(struct wg_diag *diag, const struct wg_cfg_node *map, const char *key,
                     double *out)
{
    const struct wg_cfg_node *node = cfg_get(map, key);
    if (!node)
        return true;
    if (node->type == WG_CFG_SCALAR && !node->quoted && *node->scalar) {
        char *end = NULL;
        errno = 0;
        double value = strtod(node->scalar, &end);
        if (end && !*end && errno != ERANGE && isfinite(value)) {
            *out = value;
            return true;
        }
    }
    return wrong_type(diag, node, key, "a number", "number");
}

bool cfg_bool_value(const struct wg_cfg_node *node, bool *out)
{
    if (node->type == WG_CFG_SCALAR && !node->quoted) {
        static const char *const yes[] = {"true", "True", "TRUE", "yes", "Yes", "on", "On"};
        static const char *const no[] = {"false", "False", "FALSE", "no", "No", "off", "Off"};
        for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
            if (strcmp(node->scalar, yes[i]) == 0) {
                *out = true;
                return true;
            }
            if (strcmp(node->scalar, no[i]) == 0) {
                *out = false;
                return true;
            }
        }
    }
    return false;
}

bool cfg_read_bool(struct wg_diag *diag, const struct wg_cfg_node *map, const char *key, bool *out)
{
    const struct wg_cfg_node *node = cfg_get(map, key);
    if (!node)
        return true;
    if (cfg_bool_value(node, out))
        return true;
    return wrong_type(diag, node, key, "true or false", "bool");
}

bool cfg_read_string(struct wg_diag *diag, const struct wg_cfg_node *map, const char *key,
                     const char **out)
{
    const struct wg_cfg_node *node = cfg_get(map, key);
    if (!node)
        return true;
    if (node->type == WG_CFG_SCALAR && !cfg_is_null(node)) {
        *out = node->scalar;
        return true;
    }
    char got[96];
    describe_value(node, got, sizeof got);
    diag_at(diag, node, "%s: expected a string, got %s%s", key, got,
            node->type == WG_CFG_SCALAR ? " (write \"\" for an empty string)" : "");
    diag_code(diag, "type", "{s:s, s:s}", "key", key, "expected", "string");
    return false;
}

/* Whether `map` is a mapping; reports what it is instead for `what` (NULL:
 * absent, false without a report). */
static bool is_mapping_for(struct wg_diag *diag, const struct wg_cfg_node *map, const char *what)
{
    if (!map)
        return false;
    if (map->type != WG_CFG_MAP) {
        diag_at(diag, map, "expected a mapping (key: value lines) for %s, got %s", what,
                map->type == WG_CFG_SEQ ? "a list" : "a single value");
        return false;
    }
    return true;
}

bool cfg_require_in(struct wg_diag *diag, const struct wg_cfg_node *map, const char *key,
                    const char *what)
{
    if (!is_mapping_for(diag, map, what))
        return false;
    if (cfg_get(map, key))
        return true;
    diag_at(diag, map, "missing required key \"%s\" in %s", key, what);
    diag_code(diag, "missing", "{s:s, s:s}", "key", key, "in", what);
    return false;
}

bool cfg_require(struct wg_diag *diag, const struct wg_cfg_node *map, const char *key)
{
    return cfg_require_in(diag, map, key, "this mapping");
}

bool cfg_only_keys_in(struct wg_diag *diag, const struct wg_cfg_node *map,
                      const char *const *allowed, const char *what)
{
    if (!is_mapping_for(diag, map, what))
        return false;
    bool ok = true;
    for (size_t i = 0; i < map->count; i++) {
        bool known = false;
        for (const char *const *name = allowed; *name && !known; name++)
            known = strcmp(*name, map->keys[i]) == 0;
        if (known)
            continue;
        char list[512];
        size_t used = 0;
        list[0] = '\0';
        for (const char *const *name = allowed; *name; name++) {
            int wrote = snprintf(list + used, sizeof list - used, "%s%s",
                                 name == allowed ? "" : ", ", *name);
            if (wrote < 0 || (size_t)wrote >= sizeof list - used) {
                snprintf(list + sizeof list - 5, 5, "...");
                break;
            }
            used += (size_t)wrote;
        }
        diag_pos(diag, map->file, map->key_lines[i], map->key_columns[i],
                 "unknown key \"%s\" in %s (expected one of: %s)", map->keys[i], what, list);
        diag_code(diag, "unknown_field", "{s:s, s:s}", "key", map->keys[i], "in", what);
        ok = false;
    }
    return ok;
}

bool cfg_only_keys(struct wg_diag *diag, const struct wg_cfg_node *map, const char *const *allowed)
{
    return cfg_only_keys_in(diag, map, allowed, "this mapping");
}
