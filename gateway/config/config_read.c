/* The loader's small readers, shared by every section: integers, texts,
 * ids, daily windows, paths relative to the file that names them, the
 * mapping/list shape checks, name tables, references to other sections and
 * keys that go in pairs. Each problem is reported at file:line:col. */
#include "config/config_load_internal.h"

#include <stdio.h>
#include <string.h>

/* ---- small readers -------------------------------------------------------------------------- */

bool read_int(struct loader *ld, const struct wg_cfg_node *map, const char *key, long long min,
              long long max, int *out)
{
    long long value = *out;
    if (!cfg_read_int(ld->diag, map, key, min, max, &value))
        return false;
    *out = (int)value;
    return true;
}

/* A non-empty string; "" is allowed only when `empty_ok`. */
bool read_text(struct loader *ld, const struct wg_cfg_node *map, const char *key, bool empty_ok,
               const char **out)
{
    const char *value = *out;
    if (!cfg_read_string(ld->diag, map, key, &value))
        return false;
    if (!empty_ok && value && !*value && cfg_get(map, key)) {
        diag_at(ld->diag, cfg_get(map, key), "%s: expected a non-empty string", key);
        diag_code(ld->diag, "missing", "{s:s}", "key", key);
        return false;
    }
    *out = value;
    return true;
}

/* Id syntax. `strict`: [a-z0-9-]+ (goes into MQTT topics); otherwise
 * [A-Za-z0-9_.-]+ (no spaces, slashes or MQTT wildcards). */
bool id_syntax_ok(const char *text, bool strict)
{
    if (!text || !*text || strlen(text) > 64)
        return false;
    for (const char *p = text; *p; p++) {
        char c = *p;
        bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
        if (!strict)
            ok = ok || (c >= 'A' && c <= 'Z') || c == '_' || c == '.';
        if (!ok)
            return false;
    }
    return true;
}

bool read_id(struct loader *ld, const struct wg_cfg_node *map, const char *key, bool strict,
             const char **out)
{
    const char *value = NULL;
    if (!read_text(ld, map, key, false, &value) || !value)
        return false;
    if (!id_syntax_ok(value, strict)) {
        diag_at(ld->diag, cfg_get(map, key),
                strict ? "%s: expected lower-case letters, digits and '-' only (it goes into MQTT "
                         "topics), at most 64, got \"%s\""
                       : "%s: expected letters, digits, '_', '.' and '-' only, at most 64, got "
                         "\"%s\"",
                key, value);
        diag_code(ld->diag, "bad_id", "{s:s, s:s, s:b}", "key", key, "value", value, "strict",
                  strict);
        return false;
    }
    *out = value;
    return true;
}

bool expect_map(struct loader *ld, const struct wg_cfg_node *node, const char *what)
{
    if (node && node->type == WG_CFG_MAP)
        return true;
    if (node)
        diag_at(ld->diag, node, "%s: expected a mapping (key: value lines), got %s", what,
                node->type == WG_CFG_SEQ ? "a list" : "a single value");
    return false;
}

bool expect_seq(struct loader *ld, const struct wg_cfg_node *node, const char *what)
{
    if (node && node->type == WG_CFG_SEQ)
        return true;
    if (node)
        diag_at(ld->diag, node, "%s: expected a list (lines starting with \"- \"), got %s", what,
                node->type == WG_CFG_MAP ? "a mapping" : "a single value");
    return false;
}

/* "HH:MM-HH:MM"; 24:00 is allowed as an end. */
static bool parse_window(const char *text, struct wg_window *window)
{
    int h1, m1, h2, m2, used = 0;
    if (strlen(text) != 11 || sscanf(text, "%2d:%2d-%2d:%2d%n", &h1, &m1, &h2, &m2, &used) != 4 ||
        used != 11)
        return false;
    if (h1 < 0 || h1 > 23 || m1 < 0 || m1 > 59 || h2 < 0 || h2 > 24 || m2 < 0 || m2 > 59 ||
        (h2 == 24 && m2 != 0))
        return false;
    window->start_min = h1 * 60 + m1;
    window->end_min = h2 * 60 + m2;
    return window->start_min != window->end_min % MINUTES_PER_DAY;
}

/* Absent: *present = false, true. */
bool read_window(struct loader *ld, const struct wg_cfg_node *map, const char *key, bool *present,
                 struct wg_window *out)
{
    const struct wg_cfg_node *node = cfg_get(map, key);
    if (!node)
        return true;
    const char *text = cfg_scalar(node);
    struct wg_window window;
    if (!text || !parse_window(text, &window)) {
        diag_at(ld->diag, node,
                "%s: expected a daily time window \"HH:MM-HH:MM\" with different start and end, "
                "e.g. \"21:00-07:00\" (it may wrap past midnight), got %s%s%s",
                key, text ? "\"" : "", text ? text : "a structure", text ? "\"" : "");
        diag_code(ld->diag, "night", "{s:s, s:s?}", "key", key, "value", text);
        return false;
    }
    if (present)
        *present = true;
    *out = window;
    return true;
}

/* A path relative to the directory of the file that names it. "" stays "". */
const char *resolve_path(struct loader *ld, const struct wg_cfg_node *node, const char *path)
{
    if (!path || !*path || path[0] == '/' || !node)
        return path;
    const char *slash = strrchr(node->file, '/');
    if (!slash)
        return path;
    return ld_printf(ld, "%.*s/%s", (int)(slash - node->file), node->file, path);
}

bool read_path(struct loader *ld, const struct wg_cfg_node *map, const char *key, const char **out)
{
    const char *value = NULL;
    if (!read_text(ld, map, key, true, &value))
        return false;
    if (value) {
        const char *resolved = resolve_path(ld, cfg_get(map, key), value);
        if (!resolved)
            return false;
        *out = resolved;
    }
    return true;
}

int name_index(const char *const *names, size_t count, const char *text)
{
    for (size_t i = 0; text && i < count; i++)
        if (strcmp(names[i], text) == 0)
            return (int)i;
    return -1;
}

/* Reports an unknown reference unless the target section was incomplete. */
size_t resolve_ref(struct loader *ld, const struct wg_cfg_node *map, const char *key, size_t found,
                   bool incomplete, const char *what, const char *hint)
{
    if (found == WG_NO_INDEX && !incomplete) {
        diag_at(ld->diag, cfg_get(map, key), "%s: no %s \"%s\" is defined%s", key, what,
                cfg_scalar(cfg_get(map, key)), hint);
        /* "unknown_bus" {"bus": "sim-9"}, ..., as the manager UI words them. */
        char code[48];
        snprintf(code, sizeof code, "unknown_%s", what);
        const char *value = cfg_scalar(cfg_get(map, key));
        diag_code(ld->diag, code, "{s:s, s:s?, s:s?}", "key", key, "value", value, what, value);
    }
    return found;
}

void check_pair(struct loader *ld, const struct wg_cfg_node *map, const char *first,
                const char *second)
{
    if (!cfg_get(map, first) != !cfg_get(map, second))
        diag_at(ld->diag, cfg_get(map, first) ? cfg_get(map, first) : cfg_get(map, second),
                "%s and %s go together: give both or neither", first, second);
}
