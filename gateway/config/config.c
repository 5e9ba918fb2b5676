/* The site configuration loader: schema checks on the YAML trees from
 * cfgtree.c, reference resolution, defaults, and the small lookups and
 * name tables of config.h. Every problem is collected in the wg_diag; a
 * config with any problem is freed and never returned. */
#include "config/config.h"

#include <errno.h>
#include <glob.h>
#include <jansson.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/meaning.h"
#include "uplink/uplink_command.h"

/* ---- names ---------------------------------------------------------------------------------- */

static const char *const priority_names[] = {
    [WG_PRIO_ADVISORY] = "advisory", [WG_PRIO_TECHNICAL] = "technical", [WG_PRIO_NORMAL] = "normal",
    [WG_PRIO_URGENT] = "urgent",     [WG_PRIO_EMERGENCY] = "emergency", [WG_PRIO_FIRE] = "fire",
};
#define PRIORITY_COUNT (sizeof priority_names / sizeof priority_names[0])

const char *priority_name(enum wg_priority priority)
{
    if ((unsigned)priority >= PRIORITY_COUNT)
        return "unknown";
    return priority_names[priority];
}

int priority_from_name(const char *name)
{
    for (size_t i = 0; name && i < PRIORITY_COUNT; i++)
        if (strcmp(name, priority_names[i]) == 0)
            return (int)i;
    return -1;
}

/* GB 38600-2019 names, in bit order. */
static const char *const risk_names[] = {
    "choking", "wrong_ingestion",   "pressure_sore", "scald", "fall_from_bed", "fall", "wandering",
    "harm",    "activity_accident",
};
#define RISK_COUNT (sizeof risk_names / sizeof risk_names[0])

const char *risk_name(enum wg_risk risk)
{
    for (size_t i = 0; i < RISK_COUNT; i++)
        if ((unsigned)risk == 1u << i)
            return risk_names[i];
    return risk == WG_RISK_NONE ? "none" : "unknown";
}

int risk_from_name(const char *name)
{
    for (size_t i = 0; name && i < RISK_COUNT; i++)
        if (strcmp(name, risk_names[i]) == 0)
            return (int)(1u << i);
    return -1;
}

static const char *const rule_kind_names[] = {
    [WG_RULE_CALL] = "call",
    [WG_RULE_PULL_CORD] = "pull_cord",
    [WG_RULE_PRESENCE] = "presence",
    [WG_RULE_BED_EXIT] = "bed_exit",
    [WG_RULE_VITAL_RANGE] = "vital_range",
    [WG_RULE_GAS] = "gas",
    [WG_RULE_FIRE_ZONE] = "fire_zone",
    [WG_RULE_SMOKE] = "smoke",
    [WG_RULE_DOOR_NIGHT] = "door_night",
    [WG_RULE_WELLBEING] = "wellbeing",
    [WG_RULE_COMBINE] = "combine",
};
#define RULE_KIND_COUNT (sizeof rule_kind_names / sizeof rule_kind_names[0])

const char *rule_kind_name(enum wg_rule_kind kind)
{
    if ((unsigned)kind >= RULE_KIND_COUNT)
        return "unknown";
    return rule_kind_names[kind];
}

#define MINUTES_PER_DAY 1440

bool window_contains(const struct wg_window *window, int minute_of_day)
{
    int minute = ((minute_of_day % MINUTES_PER_DAY) + MINUTES_PER_DAY) % MINUTES_PER_DAY;
    if (window->start_min < window->end_min)
        return minute >= window->start_min && minute < window->end_min;
    return minute >= window->start_min || minute < window->end_min;
}

/* ---- ownership ------------------------------------------------------------------------------ */

struct config_owned {
    struct wg_cfg_node **trees;
    size_t tree_count, tree_capacity;
    void **allocations;
    size_t allocation_count, allocation_capacity;
};

static bool grow(void **array, size_t *capacity, size_t count, size_t item_size)
{
    if (count < *capacity)
        return true;
    size_t wanted = *capacity ? *capacity * 2 : 32;
    void *grown = realloc(*array, wanted * item_size);
    if (!grown)
        return false;
    *array = grown;
    *capacity = wanted;
    return true;
}

void config_free(struct wg_config *config)
{
    if (!config)
        return;
    diag_free(&config->warnings);
    struct config_owned *owned = config->owned;
    if (owned) {
        for (size_t i = 0; i < owned->tree_count; i++)
            cfgtree_free(owned->trees[i]);
        for (size_t i = 0; i < owned->allocation_count; i++)
            free(owned->allocations[i]);
        free(owned->trees);
        free(owned->allocations);
        free(owned);
    }
    free(config);
}

/* ---- the loader's state --------------------------------------------------------------------- */

struct loader {
    struct wg_config *config;
    struct config_owned *owned;
    struct wg_diag *diag;
    size_t first_message;
    bool out_of_memory;
    /* Set when an item could not be registered (its id was unreadable), so
     * references to that section are not reported as unknown: no cascades. */
    bool profiles_incomplete;
    bool places_incomplete;
    bool buses_incomplete;
};

static void note_out_of_memory(struct loader *ld, const struct wg_cfg_node *node)
{
    if (!ld->out_of_memory)
        diag_at(ld->diag, node, "out of memory while loading the configuration");
    ld->out_of_memory = true;
}

/* Zeroed memory owned by the config. n may be 0 (then one element is allocated). */
static void *ld_alloc(struct loader *ld, size_t n, size_t size)
{
    void *memory = calloc(n ? n : 1, size);
    if (memory && grow((void **)&ld->owned->allocations, &ld->owned->allocation_capacity,
                       ld->owned->allocation_count, sizeof(void *))) {
        ld->owned->allocations[ld->owned->allocation_count++] = memory;
        return memory;
    }
    free(memory);
    note_out_of_memory(ld, NULL);
    return NULL;
}

__attribute__((format(printf, 2, 3))) static const char *ld_printf(struct loader *ld,
                                                                   const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *text = NULL;
    int length = vasprintf(&text, fmt, ap);
    va_end(ap);
    if (length < 0) {
        note_out_of_memory(ld, NULL);
        return NULL;
    }
    char *owned = ld_alloc(ld, (size_t)length + 1, 1);
    if (owned)
        memcpy(owned, text, (size_t)length + 1);
    free(text);
    return owned;
}

static bool own_tree(struct loader *ld, struct wg_cfg_node *tree)
{
    if (!grow((void **)&ld->owned->trees, &ld->owned->tree_capacity, ld->owned->tree_count,
              sizeof(struct wg_cfg_node *))) {
        cfgtree_free(tree);
        note_out_of_memory(ld, NULL);
        return false;
    }
    ld->owned->trees[ld->owned->tree_count++] = tree;
    return true;
}

/* ---- small readers -------------------------------------------------------------------------- */

static bool read_int(struct loader *ld, const struct wg_cfg_node *map, const char *key,
                     long long min, long long max, int *out)
{
    long long value = *out;
    if (!cfg_read_int(ld->diag, map, key, min, max, &value))
        return false;
    *out = (int)value;
    return true;
}

/* A non-empty string; "" is allowed only when `empty_ok`. */
static bool read_text(struct loader *ld, const struct wg_cfg_node *map, const char *key,
                      bool empty_ok, const char **out)
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
static bool id_syntax_ok(const char *text, bool strict)
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

static bool read_id(struct loader *ld, const struct wg_cfg_node *map, const char *key, bool strict,
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

static bool expect_map(struct loader *ld, const struct wg_cfg_node *node, const char *what)
{
    if (node && node->type == WG_CFG_MAP)
        return true;
    if (node)
        diag_at(ld->diag, node, "%s: expected a mapping (key: value lines), got %s", what,
                node->type == WG_CFG_SEQ ? "a list" : "a single value");
    return false;
}

static bool expect_seq(struct loader *ld, const struct wg_cfg_node *node, const char *what)
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
static bool read_window(struct loader *ld, const struct wg_cfg_node *map, const char *key,
                        bool *present, struct wg_window *out)
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
static const char *resolve_path(struct loader *ld, const struct wg_cfg_node *node, const char *path)
{
    if (!path || !*path || path[0] == '/' || !node)
        return path;
    const char *slash = strrchr(node->file, '/');
    if (!slash)
        return path;
    return ld_printf(ld, "%.*s/%s", (int)(slash - node->file), node->file, path);
}

static bool read_path(struct loader *ld, const struct wg_cfg_node *map, const char *key,
                      const char **out)
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

/* ---- site, plugins, log, storage ------------------------------------------------------------ */

static void load_site(struct loader *ld, const struct wg_cfg_node *site)
{
    static const char *const keys[] = {"id", "name", "district", "timezone", "night", NULL};
    struct wg_site *out = &ld->config->site;
    out->id = "";
    out->name = "";
    out->district = "";
    out->timezone = "Asia/Shanghai";
    out->night = (struct wg_window){21 * 60, 7 * 60};
    if (!expect_map(ld, site, "site"))
        return;
    cfg_only_keys_in(ld->diag, site, keys, "site");
    if (cfg_require_in(ld->diag, site, "id", "site"))
        read_id(ld, site, "id", true, &out->id);
    if (cfg_require_in(ld->diag, site, "name", "site"))
        read_text(ld, site, "name", false, &out->name);
    if (cfg_require_in(ld->diag, site, "district", "site"))
        read_id(ld, site, "district", true, &out->district);
    if (read_text(ld, site, "timezone", false, &out->timezone)) {
        /* Night windows, shifts and every time shown or sent are in this zone. */
        char why[512];
        if (!clock_timezone_known(out->timezone, why, sizeof why)) {
            const struct wg_cfg_node *at = cfg_get(site, "timezone");
            diag_at(ld->diag, at ? at : site, "timezone: %s%s", at ? "" : "(not given) ", why);
        }
    }
    read_window(ld, site, "night", NULL, &out->night);
}

static void load_plugins_and_log(struct loader *ld, const struct wg_cfg_node *plugins,
                                 const struct wg_cfg_node *log)
{
    static const char *const plugin_keys[] = {"dir", NULL};
    static const char *const log_keys[] = {"level", NULL};
    ld->config->plugin_dir = "";
    ld->config->log_level = "info";
    if (plugins && expect_map(ld, plugins, "plugins")) {
        cfg_only_keys_in(ld->diag, plugins, plugin_keys, "plugins");
        read_path(ld, plugins, "dir", &ld->config->plugin_dir);
    }
    if (log && expect_map(ld, log, "log")) {
        cfg_only_keys_in(ld->diag, log, log_keys, "log");
        const char *level = NULL;
        if (read_text(ld, log, "level", false, &level) && level) {
            if (wg_log_level_from_name(level) < 0)
                diag_at(ld->diag, cfg_get(log, "level"),
                        "level: expected one of: crit, error, warning, notice, info, debug, got "
                        "\"%s\"",
                        level);
            else
                ld->config->log_level = level;
        }
    }
}

static void load_storage(struct loader *ld, const struct wg_cfg_node *storage)
{
    static const char *const keys[] = {
        "path", "max_mb", "readings_bucket_s", "readings_retention_days", "events_retention_days",
        NULL};
    struct wg_storage *out = &ld->config->storage;
    out->path = "";
    out->max_bytes = 256ll << 20;
    out->readings_bucket_s = 60;
    out->readings_retention_days = 90;
    out->events_retention_days = 365;
    if (!storage || !expect_map(ld, storage, "storage"))
        return;
    cfg_only_keys_in(ld->diag, storage, keys, "storage");
    read_path(ld, storage, "path", &out->path);
    long long max_mb = 256;
    if (cfg_read_int(ld->diag, storage, "max_mb", 8, 1024 * 1024, &max_mb))
        out->max_bytes = max_mb << 20;
    read_int(ld, storage, "readings_bucket_s", 1, 86400, &out->readings_bucket_s);
    read_int(ld, storage, "readings_retention_days", 1, 3650, &out->readings_retention_days);
    read_int(ld, storage, "events_retention_days", 1, 3650, &out->events_retention_days);
}

/* ---- profiles ------------------------------------------------------------------------------- */

static const char *const point_kind_names[] = {"bool", "analog", "counter"};
static const char *const direction_names[] = {"input", "output"};

static int name_index(const char *const *names, size_t count, const char *text)
{
    for (size_t i = 0; text && i < count; i++)
        if (strcmp(names[i], text) == 0)
            return (int)i;
    return -1;
}

static void load_point(struct loader *ld, const struct wg_cfg_node *item,
                       struct wg_profile *profile)
{
    static const char *const keys[] = {"name", "meaning", "kind",        "direction",
                                       "unit", "source",  "description", NULL};
    if (!expect_map(ld, item, "point"))
        return;
    cfg_only_keys_in(ld->diag, item, keys, "point");
    struct wg_point_def *point = &profile->points[profile->point_count];
    point->node = item;
    point->unit = "";
    point->source = cfg_get(item, "source");
    bool named = cfg_require_in(ld->diag, item, "name", "point") &&
                 read_id(ld, item, "name", false, &point->name);
    if (named) {
        for (size_t i = 0; i < profile->point_count; i++)
            if (strcmp(profile->points[i].name, point->name) == 0) {
                diag_at(ld->diag, cfg_get(item, "name"),
                        "point name \"%s\" is used twice in profile \"%s\" (first on line %d)",
                        point->name, profile->id, profile->points[i].node->line);
                named = false;
            }
    }
    const struct wg_meaning_info *info = NULL;
    int index = 0;
    if (cfg_require_in(ld->diag, item, "meaning", "point") &&
        read_text(ld, item, "meaning", false, &point->meaning)) {
        info = meaning_lookup(point->meaning, &index);
        if (!info)
            diag_at(ld->diag, cfg_get(item, "meaning"),
                    "meaning: \"%s\" is not in the vocabulary (see docs/config.md, e.g. "
                    "call_button, in_bed, gas_lel, fire_zone_1, energy_kwh)",
                    point->meaning);
        else if (info->indexed && index == 0) {
            diag_at(ld->diag, cfg_get(item, "meaning"),
                    "meaning: \"%s\" needs a number, e.g. \"%s_1\"", point->meaning, info->name);
            info = NULL;
        }
    }
    if (info) {
        point->kind = info->kind;
        point->direction = info->direction;
        point->unit = info->unit;
    }
    const char *text = NULL;
    if (read_text(ld, item, "kind", false, &text) && text) {
        int kind = name_index(point_kind_names, 3, text);
        if (kind < 0)
            diag_at(ld->diag, cfg_get(item, "kind"),
                    "kind: expected bool, analog or counter, got \"%s\"", text);
        else if (info && (enum wg_point_kind)kind != info->kind)
            diag_at(ld->diag, cfg_get(item, "kind"),
                    "kind: meaning \"%s\" is a %s point, got \"%s\"", point->meaning,
                    point_kind_names[info->kind], text);
        else
            point->kind = (enum wg_point_kind)kind;
    }
    text = NULL;
    if (read_text(ld, item, "direction", false, &text) && text) {
        int direction = name_index(direction_names, 2, text);
        if (direction < 0)
            diag_at(ld->diag, cfg_get(item, "direction"),
                    "direction: expected input or output, got \"%s\"", text);
        else if (info && (enum wg_point_direction)direction != info->direction)
            diag_at(ld->diag, cfg_get(item, "direction"),
                    "direction: meaning \"%s\" is an %s, got \"%s\"", point->meaning,
                    direction_names[info->direction], text);
        else
            point->direction = (enum wg_point_direction)direction;
    }
    text = NULL;
    if (read_text(ld, item, "unit", true, &text) && text) {
        if (info && *info->unit && strcmp(info->unit, text) != 0)
            diag_at(ld->diag, cfg_get(item, "unit"),
                    "unit: meaning \"%s\" is measured in \"%s\", got \"%s\"", point->meaning,
                    info->unit, text);
        else if (info && info->kind == WG_POINT_BOOL && *text)
            diag_at(ld->diag, cfg_get(item, "unit"),
                    "unit: meaning \"%s\" is a bool point and has no unit, got \"%s\"",
                    point->meaning, text);
        else
            point->unit = text;
    }
    if (named && point->meaning)
        profile->point_count++;
}

static void load_profile_file(struct loader *ld, struct wg_cfg_node *root, const char *path)
{
    static const char *const keys[] = {"id",        "vendor",     "model",  "description",
                                       "synthetic", "references", "points", NULL};
    if (root->type != WG_CFG_MAP) {
        diag_at(ld->diag, root, "a profile file must be a mapping with id, vendor, model, points");
        ld->profiles_incomplete = true;
        return;
    }
    cfg_only_keys_in(ld->diag, root, keys, "profile");
    struct wg_profile *profile = &ld->config->profiles[ld->config->profile_count];
    profile->file = path;
    profile->vendor = "";
    profile->model = "";
    profile->description = "";
    if (!cfg_require_in(ld->diag, root, "id", "profile") ||
        !read_id(ld, root, "id", false, &profile->id)) {
        ld->profiles_incomplete = true;
        return;
    }
    for (size_t i = 0; i < ld->config->profile_count; i++)
        if (strcmp(ld->config->profiles[i].id, profile->id) == 0) {
            diag_at(ld->diag, cfg_get(root, "id"), "profile id \"%s\" is already defined in %s",
                    profile->id, ld->config->profiles[i].file);
            return;
        }
    if (cfg_require_in(ld->diag, root, "vendor", "profile"))
        read_text(ld, root, "vendor", false, &profile->vendor);
    if (cfg_require_in(ld->diag, root, "model", "profile"))
        read_text(ld, root, "model", false, &profile->model);
    read_text(ld, root, "description", true, &profile->description);
    cfg_read_bool(ld->diag, root, "synthetic", &profile->synthetic);
    const char *references = NULL;
    read_text(ld, root, "references", true, &references);
    const struct wg_cfg_node *points = cfg_get(root, "points");
    if (cfg_require_in(ld->diag, root, "points", "profile") && expect_seq(ld, points, "points")) {
        if (points->count == 0)
            diag_at(ld->diag, points, "points: expected at least one point");
        profile->points = ld_alloc(ld, points->count, sizeof *profile->points);
        for (size_t i = 0; profile->points && i < points->count; i++)
            load_point(ld, points->items[i], profile);
    }
    ld->config->profile_count++;
}

static bool path_listed(char **paths, size_t count, const char *path)
{
    for (size_t i = 0; i < count; i++)
        if (strcmp(paths[i], path) == 0)
            return true;
    return false;
}

static void load_profiles(struct loader *ld, const struct wg_cfg_node *list)
{
    if (!list)
        return;
    if (!expect_seq(ld, list, "profiles")) {
        ld->profiles_incomplete = true;
        return;
    }
    char **paths = NULL;
    size_t path_count = 0, path_capacity = 0;
    for (size_t i = 0; i < list->count && !ld->out_of_memory; i++) {
        const struct wg_cfg_node *entry = list->items[i];
        const char *pattern = cfg_scalar(entry);
        if (!pattern || !*pattern) {
            diag_at(ld->diag, entry,
                    "profiles: expected a file name or pattern, e.g. \"profiles/*.yaml\"");
            ld->profiles_incomplete = true;
            continue;
        }
        const char *resolved = resolve_path(ld, entry, pattern);
        if (!resolved)
            break;
        glob_t found;
        int result = glob(resolved, GLOB_ERR, NULL, &found);
        if (result == GLOB_NOMATCH || (result == 0 && found.gl_pathc == 0)) {
            diag_at(ld->diag, entry, "profiles: \"%s\" matches no file (looked for %s)", pattern,
                    resolved);
            ld->profiles_incomplete = true;
        } else if (result != 0) {
            diag_at(ld->diag, entry, "profiles: cannot read \"%s\"", resolved);
            ld->profiles_incomplete = true;
        } else {
            for (size_t j = 0; j < found.gl_pathc; j++) {
                if (path_listed(paths, path_count, found.gl_pathv[j]))
                    continue;
                char *copy = strdup(found.gl_pathv[j]);
                if (!copy || !grow((void **)&paths, &path_capacity, path_count, sizeof *paths)) {
                    free(copy);
                    note_out_of_memory(ld, entry);
                    break;
                }
                paths[path_count++] = copy;
            }
        }
        if (result == 0)
            globfree(&found);
    }
    ld->config->profiles = ld_alloc(ld, path_count, sizeof *ld->config->profiles);
    for (size_t i = 0; i < path_count; i++) {
        if (!ld->config->profiles || ld->out_of_memory) {
            free(paths[i]);
            continue;
        }
        /* The path string is kept by the tree (node->file) for the config's lifetime. */
        struct wg_cfg_node *tree = cfgtree_load(paths[i], ld->diag);
        free(paths[i]);
        if (!tree) {
            ld->profiles_incomplete = true;
            continue;
        }
        if (!own_tree(ld, tree))
            continue;
        load_profile_file(ld, tree, tree->file);
    }
    free(paths);
}

/* ---- zones, rooms, beds --------------------------------------------------------------------- */

static const char *const room_kinds[] = {"resident", "bathroom", "kitchen",   "corridor",
                                         "common",   "office",   "stairwell", "plant"};
#define ROOM_KIND_COUNT (sizeof room_kinds / sizeof room_kinds[0])

static void load_room(struct loader *ld, const struct wg_cfg_node *item, size_t zone)
{
    static const char *const keys[] = {"id", "name", "kind", "beds", NULL};
    struct wg_config *config = ld->config;
    if (!expect_map(ld, item, "room")) {
        ld->places_incomplete = true;
        return;
    }
    /* A misspelt "beds" would make every bed of the room look unknown later. */
    if (!cfg_only_keys_in(ld->diag, item, keys, "room"))
        ld->places_incomplete = true;
    struct wg_room *room = &config->rooms[config->room_count];
    room->zone = zone;
    room->kind = "resident";
    if (!cfg_require_in(ld->diag, item, "id", "room") ||
        !read_id(ld, item, "id", false, &room->id)) {
        ld->places_incomplete = true;
        return;
    }
    for (size_t i = 0; i < config->room_count; i++)
        if (strcmp(config->rooms[i].id, room->id) == 0) {
            diag_at(ld->diag, cfg_get(item, "id"),
                    "room id \"%s\" is used twice (also in zone \"%s\")", room->id,
                    config->zones[config->rooms[i].zone].id);
            return;
        }
    room->name = room->id;
    read_text(ld, item, "name", false, &room->name);
    const char *kind = NULL;
    if (read_text(ld, item, "kind", false, &kind) && kind) {
        if (name_index(room_kinds, ROOM_KIND_COUNT, kind) < 0)
            diag_at(ld->diag, cfg_get(item, "kind"),
                    "kind: expected one of: resident, bathroom, kitchen, corridor, common, "
                    "office, stairwell, plant, got \"%s\"",
                    kind);
        else
            room->kind = kind;
    }
    size_t room_index = config->room_count++;
    const struct wg_cfg_node *beds = cfg_get(item, "beds");
    if (!beds)
        return;
    if (!expect_seq(ld, beds, "beds")) {
        ld->places_incomplete = true;
        return;
    }
    size_t first_bed = config->bed_count;
    for (size_t i = 0; i < beds->count; i++) {
        const struct wg_cfg_node *label_node = beds->items[i];
        const char *label = cfg_scalar(label_node);
        if (!label || !*label || !id_syntax_ok(label, false)) {
            diag_at(ld->diag, label_node, "beds: expected a short bed label such as A or 1, got %s",
                    label ? label : "a structure");
            diag_code(ld->diag, "bad_bed_label", "{s:s?}", "value", label);
            ld->places_incomplete = true;
            continue;
        }
        bool duplicate = false;
        for (size_t j = first_bed; j < config->bed_count && !duplicate; j++)
            duplicate = strcmp(config->beds[j].label, label) == 0;
        if (duplicate) {
            diag_at(ld->diag, label_node, "beds: bed \"%s\" is listed twice in room \"%s\"", label,
                    room->id);
            diag_code(ld->diag, "duplicate_bed", "{s:s, s:s}", "bed", label, "room", room->id);
            continue;
        }
        struct wg_bed *bed = &config->beds[config->bed_count];
        bed->label = label;
        bed->room = room_index;
        bed->id = ld_printf(ld, "%s-%s", room->id, label);
        if (!bed->id)
            return;
        config->bed_count++;
    }
}

static void load_zones(struct loader *ld, const struct wg_cfg_node *zones)
{
    static const char *const keys[] = {"id", "name", "floor", "rooms", NULL};
    struct wg_config *config = ld->config;
    if (!zones || !expect_seq(ld, zones, "zones")) {
        ld->places_incomplete = zones != NULL;
        return;
    }
    size_t room_total = 0, bed_total = 0;
    for (size_t i = 0; i < zones->count; i++) {
        const struct wg_cfg_node *rooms = cfg_get(zones->items[i], "rooms");
        room_total += cfg_seq_len(rooms);
        for (size_t j = 0; j < cfg_seq_len(rooms); j++)
            bed_total += cfg_seq_len(cfg_get(rooms->items[j], "beds"));
    }
    config->zones = ld_alloc(ld, zones->count, sizeof *config->zones);
    config->rooms = ld_alloc(ld, room_total, sizeof *config->rooms);
    config->beds = ld_alloc(ld, bed_total, sizeof *config->beds);
    if (!config->zones || !config->rooms || !config->beds)
        return;
    for (size_t i = 0; i < zones->count; i++) {
        const struct wg_cfg_node *item = zones->items[i];
        if (!expect_map(ld, item, "zone")) {
            ld->places_incomplete = true;
            continue;
        }
        if (!cfg_only_keys_in(ld->diag, item, keys, "zone"))
            ld->places_incomplete = true;
        struct wg_zone *zone = &config->zones[config->zone_count];
        if (!cfg_require_in(ld->diag, item, "id", "zone") ||
            !read_id(ld, item, "id", false, &zone->id)) {
            ld->places_incomplete = true;
            continue;
        }
        bool duplicate = false;
        for (size_t j = 0; j < config->zone_count && !duplicate; j++)
            duplicate = strcmp(config->zones[j].id, zone->id) == 0;
        if (duplicate) {
            diag_at(ld->diag, cfg_get(item, "id"), "zone id \"%s\" is used twice", zone->id);
            ld->places_incomplete = true;
            continue;
        }
        zone->name = zone->id;
        read_text(ld, item, "name", false, &zone->name);
        read_int(ld, item, "floor", -10, 200, &zone->floor);
        size_t zone_index = config->zone_count++;
        const struct wg_cfg_node *rooms = cfg_get(item, "rooms");
        if (!cfg_require_in(ld->diag, item, "rooms", "zone") || !expect_seq(ld, rooms, "rooms")) {
            ld->places_incomplete = true;
            continue;
        }
        for (size_t j = 0; j < rooms->count; j++)
            load_room(ld, rooms->items[j], zone_index);
    }
}

/* ---- residents ------------------------------------------------------------------------------ */

/* Reports an unknown reference unless the target section was incomplete. */
static size_t resolve_ref(struct loader *ld, const struct wg_cfg_node *map, const char *key,
                          size_t found, bool incomplete, const char *what, const char *hint)
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

static void load_residents(struct loader *ld, const struct wg_cfg_node *residents)
{
    static const char *const keys[] = {"id", "label", "bed", "care_level", "risks", "night", NULL};
    struct wg_config *config = ld->config;
    if (!residents || !expect_seq(ld, residents, "residents"))
        return;
    config->residents = ld_alloc(ld, residents->count, sizeof *config->residents);
    for (size_t i = 0; config->residents && i < residents->count; i++) {
        const struct wg_cfg_node *item = residents->items[i];
        if (!expect_map(ld, item, "resident"))
            continue;
        cfg_only_keys_in(ld->diag, item, keys, "resident");
        struct wg_resident *resident = &config->residents[config->resident_count];
        resident->label = "";
        resident->care_level = 1;
        bool ok = cfg_require_in(ld->diag, item, "id", "resident") &&
                  read_id(ld, item, "id", false, &resident->id);
        for (size_t j = 0; ok && j < config->resident_count; j++)
            if (strcmp(config->residents[j].id, resident->id) == 0) {
                diag_at(ld->diag, cfg_get(item, "id"), "resident id \"%s\" is used twice",
                        resident->id);
                diag_code(ld->diag, "exists", "{s:s, s:s}", "what", "resident", "id", resident->id);
                ok = false;
            }
        read_text(ld, item, "label", true, &resident->label);
        resident->bed = WG_NO_INDEX;
        const char *bed = NULL;
        if (cfg_require_in(ld->diag, item, "bed", "resident") &&
            read_text(ld, item, "bed", false, &bed) && bed) {
            resident->bed =
                resolve_ref(ld, item, "bed", config_find_bed(config, bed), ld->places_incomplete,
                            "bed", " (bed ids are <room>-<label>, e.g. \"203-A\")");
            for (size_t j = 0; resident->bed != WG_NO_INDEX && j < config->resident_count; j++)
                if (config->residents[j].bed == resident->bed) {
                    diag_at(ld->diag, cfg_get(item, "bed"),
                            "bed: bed \"%s\" is already taken by resident \"%s\"", bed,
                            config->residents[j].id);
                    diag_code(ld->diag, "bed_taken", "{s:s, s:s, s:s, s:s}", "bed", bed, "occupant",
                              config->residents[j].label[0] ? config->residents[j].label
                                                            : config->residents[j].id,
                              "resident", config->residents[j].id, "label",
                              config->residents[j].label);
                    ok = false;
                }
        }
        if (resident->bed == WG_NO_INDEX)
            ok = false;
        if (cfg_require_in(ld->diag, item, "care_level", "resident"))
            read_int(ld, item, "care_level", 1, 5, &resident->care_level);
        const struct wg_cfg_node *risks = cfg_get(item, "risks");
        if (risks && expect_seq(ld, risks, "risks")) {
            for (size_t j = 0; j < risks->count; j++) {
                int bit = risk_from_name(cfg_scalar(risks->items[j]));
                if (bit < 0)
                    diag_at(ld->diag, risks->items[j],
                            "risks: expected GB 38600 risk names (choking, wrong_ingestion, "
                            "pressure_sore, scald, fall_from_bed, fall, wandering, harm, "
                            "activity_accident), got \"%s\"",
                            cfg_scalar(risks->items[j]) ? cfg_scalar(risks->items[j]) : "?");
                else
                    resident->risks |= (unsigned)bit;
                if (bit < 0)
                    diag_code(ld->diag, "unknown_risk", "{s:s?}", "value",
                              cfg_scalar(risks->items[j]));
            }
        }
        read_window(ld, item, "night", &resident->has_night, &resident->night);
        if (ok)
            config->resident_count++;
    }
}

/* ---- buses and devices ---------------------------------------------------------------------- */

static void load_buses(struct loader *ld, const struct wg_cfg_node *buses)
{
    static const char *const keys[] = {"id", "driver", "settings", NULL};
    struct wg_config *config = ld->config;
    if (!buses || !expect_seq(ld, buses, "buses")) {
        ld->buses_incomplete = buses != NULL;
        return;
    }
    config->buses = ld_alloc(ld, buses->count, sizeof *config->buses);
    for (size_t i = 0; config->buses && i < buses->count; i++) {
        const struct wg_cfg_node *item = buses->items[i];
        if (!expect_map(ld, item, "bus")) {
            ld->buses_incomplete = true;
            continue;
        }
        cfg_only_keys_in(ld->diag, item, keys, "bus");
        struct wg_bus *bus = &config->buses[config->bus_count];
        bus->node = item;
        bus->driver = "";
        if (!cfg_require_in(ld->diag, item, "id", "bus") ||
            !read_id(ld, item, "id", false, &bus->id)) {
            ld->buses_incomplete = true;
            continue;
        }
        if (config_find_bus(config, bus->id) != WG_NO_INDEX) {
            diag_at(ld->diag, cfg_get(item, "id"), "bus id \"%s\" is used twice", bus->id);
            continue;
        }
        if (cfg_require_in(ld->diag, item, "driver", "bus"))
            read_id(ld, item, "driver", true, &bus->driver);
        bus->settings = cfg_get(item, "settings");
        if (bus->settings)
            expect_map(ld, bus->settings, "settings");
        config->bus_count++;
    }
}

/* ---- fire-panel places ---- */

/* Whether the profile has a point of exactly this meaning. */
static bool profile_has(const struct wg_profile *profile, const char *meaning)
{
    for (size_t p = 0; p < profile->point_count; p++)
        if (strcmp(profile->points[p].meaning, meaning) == 0)
            return true;
    return false;
}

/* The zone numbers in `zones` (ascending, no repeats) as "1-3, 5, 8". */
static const char *zone_ranges(const int *zones, size_t count, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < count && used < len; i++) {
        size_t j = i;
        while (j + 1 < count && zones[j + 1] == zones[j] + 1)
            j++;
        int n = j > i ? snprintf(buf + used, len - used, "%s%d-%d", used ? ", " : "", zones[i],
                                 zones[j])
                      : snprintf(buf + used, len - used, "%s%d", used ? ", " : "", zones[i]);
        used += n > 0 ? (size_t)n : 0;
        i = j;
    }
    return buf;
}

/* The fire zones a profile reports (its fire_zone_N points), ascending; returns the count. */
static size_t profile_fire_zones(const struct wg_profile *profile, int *zones, size_t max)
{
    size_t count = 0;
    for (int zone = 1; zone <= 999 && count < max; zone++) {
        char meaning[32];
        snprintf(meaning, sizeof meaning, "fire_zone_%d", zone);
        if (profile_has(profile, meaning))
            zones[count++] = zone;
    }
    return count;
}

/* One entry of `places:`: {fire_zone: N} or {loop: L, address: A}, and where:
 * room (its zone follows), zone (a whole site zone) and/or spot (a name). */
static bool load_place(struct loader *ld, const struct wg_cfg_node *entry,
                       const struct wg_profile *profile, struct wg_device *device)
{
    static const char *const keys[] = {"fire_zone", "loop", "address", "room",
                                       "zone",      "spot", NULL};
    struct wg_config *config = ld->config;
    if (!expect_map(ld, entry, "place"))
        return false;
    bool ok = cfg_only_keys_in(ld->diag, entry, keys, "place");
    struct wg_place *place = &device->places[device->place_count];
    *place = (struct wg_place){.room = WG_NO_INDEX, .zone = WG_NO_INDEX, .node = entry};
    bool by_zone = cfg_get(entry, "fire_zone") != NULL;
    bool by_component = cfg_get(entry, "loop") || cfg_get(entry, "address");
    if (by_zone == by_component) {
        diag_at(ld->diag, entry,
                "place: give fire_zone (a panel zone), or loop and address (one detector), %s",
                by_zone ? "not both" : "got neither");
        return false;
    }
    if (by_zone) {
        if (!read_int(ld, entry, "fire_zone", 1, 999, &place->fire_zone))
            return false;
        char meaning[32];
        snprintf(meaning, sizeof meaning, "fire_zone_%d", place->fire_zone);
        if (!profile_has(profile, meaning)) {
            int zones[999];
            char list[256];
            size_t count = profile_fire_zones(profile, zones, 999);
            diag_at(ld->diag, cfg_get(entry, "fire_zone"),
                    "fire_zone: profile \"%s\" has no zone %d (%s%s)", profile->id,
                    place->fire_zone, count ? "its zones: " : "it reports no zones",
                    zone_ranges(zones, count, list, sizeof list));
            ok = false;
        }
    } else {
        if (!cfg_require_in(ld->diag, entry, "loop", "place by loop and address") ||
            !cfg_require_in(ld->diag, entry, "address", "place by loop and address") ||
            !read_int(ld, entry, "loop", 1, 999, &place->loop) ||
            !read_int(ld, entry, "address", 1, 65535, &place->address))
            return false;
        if (!profile_has(profile, "fire_loop") || !profile_has(profile, "fire_address")) {
            diag_at(ld->diag, cfg_get(entry, "loop"),
                    "loop: profile \"%s\" reports no loop and address of a detector in fire "
                    "(points meaning fire_loop and fire_address); map its zones with fire_zone",
                    profile->id);
            ok = false;
        }
    }
    for (size_t i = 0; ok && i < device->place_count; i++) {
        const struct wg_place *other = &device->places[i];
        if (by_zone ? other->fire_zone == place->fire_zone
                    : other->loop == place->loop && other->address == place->address) {
            if (by_zone)
                diag_at(ld->diag, cfg_get(entry, "fire_zone"),
                        "fire_zone: zone %d already has a place (line %d)", place->fire_zone,
                        other->node->line);
            else
                diag_at(ld->diag, cfg_get(entry, "loop"),
                        "loop: loop %d address %d already has a place (line %d)", place->loop,
                        place->address, other->node->line);
            ok = false;
        }
    }
    const char *text = NULL, *spot = NULL;
    if (read_text(ld, entry, "room", false, &text) && text) {
        place->room = resolve_ref(ld, entry, "room", config_find_room(config, text),
                                  ld->places_incomplete, "room", " in zones");
        if (place->room == WG_NO_INDEX)
            ok = false;
        else
            place->zone = config->rooms[place->room].zone;
    } else if (text) {
        ok = false;
    }
    text = NULL;
    if (read_text(ld, entry, "zone", false, &text) && text) {
        if (cfg_get(entry, "room")) {
            diag_at(ld->diag, cfg_get(entry, "zone"),
                    "zone: give room or zone, not both (a room is in its zone already)");
            ok = false;
        } else {
            place->zone = resolve_ref(ld, entry, "zone", config_find_zone(config, text),
                                      ld->places_incomplete, "zone", " in zones");
            ok = ok && place->zone != WG_NO_INDEX;
        }
    } else if (text) {
        ok = false;
    }
    if (!read_text(ld, entry, "spot", false, &spot))
        ok = false;
    if (ok && !spot && place->room == WG_NO_INDEX && place->zone == WG_NO_INDEX) {
        diag_at(ld->diag, entry, "place: expected room, zone or spot: where it is");
        ok = false;
    }
    place->name = spot                         ? spot
                  : place->room != WG_NO_INDEX ? config->rooms[place->room].name
                  : place->zone != WG_NO_INDEX ? config->zones[place->zone].name
                                               : "";
    return ok;
}

static void load_places(struct loader *ld, const struct wg_cfg_node *item, struct wg_device *device)
{
    const struct wg_cfg_node *list = cfg_get(item, "places");
    if (!list || !expect_seq(ld, list, "places") || device->profile == WG_NO_INDEX)
        return;
    const struct wg_profile *profile = &ld->config->profiles[device->profile];
    int zones[1];
    if (!profile_fire_zones(profile, zones, 1) &&
        !(profile_has(profile, "fire_loop") && profile_has(profile, "fire_address"))) {
        diag_at(ld->diag, list,
                "places: profile \"%s\" reports no fire zones nor the loop and address of a "
                "detector; places are for fire panels (a detector's own place is its room and "
                "spot)",
                profile->id);
        return;
    }
    device->places = ld_alloc(ld, list->count, sizeof *device->places);
    for (size_t i = 0; device->places && i < list->count; i++)
        if (load_place(ld, list->items[i], profile, device))
            device->place_count++;
}

static void load_device(struct loader *ld, const struct wg_cfg_node *item)
{
    static const char *const keys[] = {"id",      "label",    "bus",  "address", "profile",
                                       "room",    "bed",      "spot", "places",  "poll_ms",
                                       "enabled", "settings", NULL};
    struct wg_config *config = ld->config;
    if (!expect_map(ld, item, "device"))
        return;
    cfg_only_keys_in(ld->diag, item, keys, "device");
    struct wg_device *device = &config->devices[config->device_count];
    *device = (struct wg_device){.label = "",
                                 .bus = WG_NO_INDEX,
                                 .profile = WG_NO_INDEX,
                                 .room = WG_NO_INDEX,
                                 .bed = WG_NO_INDEX,
                                 .spot = "",
                                 .poll_ms = 1000,
                                 .enabled = true,
                                 .node = item};
    bool ok = cfg_require_in(ld->diag, item, "id", "device") &&
              read_id(ld, item, "id", false, &device->id);
    if (ok && config_find_device(config, device->id) != WG_NO_INDEX) {
        diag_at(ld->diag, cfg_get(item, "id"), "device id \"%s\" is used twice (first on line %d)",
                device->id, config->devices[config_find_device(config, device->id)].node->line);
        diag_code(ld->diag, "exists", "{s:s, s:s}", "what", "device", "id", device->id);
        ok = false;
    }
    read_text(ld, item, "label", true, &device->label);
    read_text(ld, item, "spot", true, &device->spot);
    const char *text = NULL;
    if (cfg_require_in(ld->diag, item, "bus", "device") &&
        read_text(ld, item, "bus", false, &text) && text)
        device->bus = resolve_ref(ld, item, "bus", config_find_bus(config, text),
                                  ld->buses_incomplete, "bus", " in buses");
    if (cfg_require_in(ld->diag, item, "address", "device") &&
        read_int(ld, item, "address", 0, 65535, &device->address) && device->bus != WG_NO_INDEX) {
        for (size_t i = 0; i < config->device_count; i++)
            if (config->devices[i].bus == device->bus &&
                config->devices[i].address == device->address) {
                diag_at(ld->diag, cfg_get(item, "address"),
                        "address: %d on bus \"%s\" is already used by device \"%s\"",
                        device->address, config->buses[device->bus].id, config->devices[i].id);
                diag_code(ld->diag, "address_taken", "{s:i, s:s, s:s}", "address", device->address,
                          "bus", config->buses[device->bus].id, "device", config->devices[i].id);
                ok = false;
                break;
            }
    }
    text = NULL;
    if (cfg_require_in(ld->diag, item, "profile", "device") &&
        read_text(ld, item, "profile", false, &text) && text)
        device->profile = resolve_ref(ld, item, "profile", config_find_profile(config, text),
                                      ld->profiles_incomplete, "profile",
                                      " (check the profiles: includes and the profile's id)");
    text = NULL;
    if (read_text(ld, item, "room", false, &text) && text)
        device->room = resolve_ref(ld, item, "room", config_find_room(config, text),
                                   ld->places_incomplete, "room", " in zones");
    else if (text)
        ok = false;
    text = NULL;
    if (read_text(ld, item, "bed", false, &text) && text) {
        device->bed =
            resolve_ref(ld, item, "bed", config_find_bed(config, text), ld->places_incomplete,
                        "bed", " (bed ids are <room>-<label>, e.g. \"203-A\")");
        if (device->bed != WG_NO_INDEX) {
            size_t bed_room = config->beds[device->bed].room;
            if (cfg_get(item, "room") && device->room != WG_NO_INDEX && device->room != bed_room) {
                diag_at(ld->diag, cfg_get(item, "bed"), "bed: bed \"%s\" is not in room \"%s\"",
                        text, config->rooms[device->room].id);
                diag_code(ld->diag, "bed_not_in_room", "{s:s, s:s}", "bed", text, "room",
                          config->rooms[device->room].id);
            }
            device->room = bed_room;
        }
    }
    load_places(ld, item, device);
    read_int(ld, item, "poll_ms", 50, 3600000, &device->poll_ms);
    cfg_read_bool(ld->diag, item, "enabled", &device->enabled);
    device->settings = cfg_get(item, "settings");
    if (device->settings)
        expect_map(ld, device->settings, "settings");
    if (ok)
        config->device_count++;
}

static void load_devices(struct loader *ld, const struct wg_cfg_node *devices)
{
    if (!devices || !expect_seq(ld, devices, "devices"))
        return;
    ld->config->devices = ld_alloc(ld, devices->count, sizeof *ld->config->devices);
    for (size_t i = 0; ld->config->devices && i < devices->count; i++)
        load_device(ld, devices->items[i]);
}

/* ---- rules ---------------------------------------------------------------------------------- */

enum meaning_shape { SHAPE_BOOL_INPUT, SHAPE_ANALOG_INPUT, SHAPE_FIRE, SHAPE_USAGE, SHAPE_NONE };

struct rule_kind_spec {
    const char *default_meaning; /* NULL: meaning is required (or derived, for combine) */
    enum meaning_shape shape;
    const char *const keys[8]; /* kind-specific keys, NULL-terminated */
};

static const struct rule_kind_spec rule_specs[] = {
    [WG_RULE_CALL] = {"call_button", SHAPE_BOOL_INPUT, {"reset_at", NULL}},
    [WG_RULE_PULL_CORD] = {"pull_cord", SHAPE_BOOL_INPUT, {NULL}},
    [WG_RULE_PRESENCE] = {"presence", SHAPE_BOOL_INPUT, {NULL}},
    [WG_RULE_BED_EXIT] = {"in_bed", SHAPE_BOOL_INPUT, {"for_s", "followup_s", "window", NULL}},
    [WG_RULE_VITAL_RANGE] = {NULL,
                             SHAPE_ANALOG_INPUT,
                             {"low", "high", "for_s", "reset_on_normal", "reset_at", NULL}},
    [WG_RULE_GAS] = {"gas_lel",
                     SHAPE_ANALOG_INPUT,
                     {"low", "high", "for_s", "reset_on_normal", "reset_at", NULL}},
    [WG_RULE_FIRE_ZONE] = {"fire_zone", SHAPE_FIRE, {NULL}},
    [WG_RULE_SMOKE] = {"smoke", SHAPE_BOOL_INPUT, {"reset_on_normal", "reset_at", NULL}},
    [WG_RULE_DOOR_NIGHT] = {"door_open", SHAPE_BOOL_INPUT, {"for_s", "window", "reset_at", NULL}},
    [WG_RULE_WELLBEING] = {"water_m3", SHAPE_USAGE, {"idle_hours", "window", NULL}},
    [WG_RULE_COMBINE] = {NULL,
                         SHAPE_NONE,
                         {"conditions", "within_s", "alarm_kind", "reset_at", NULL}},
};

static const char *const rule_common_keys[] = {"id", "kind", "meaning", "priority", "risk"};
#define RULE_COMMON_COUNT (sizeof rule_common_keys / sizeof rule_common_keys[0])

static const char *const compare_names[][2] = {
    [WG_CMP_EQ] = {"==", "eq"}, [WG_CMP_NE] = {"!=", "ne"}, [WG_CMP_LT] = {"<", "lt"},
    [WG_CMP_LE] = {"<=", "le"}, [WG_CMP_GT] = {">", "gt"},  [WG_CMP_GE] = {">=", "ge"},
};

static bool meaning_fits(const struct wg_meaning_info *info, int index, enum meaning_shape shape)
{
    switch (shape) {
    case SHAPE_BOOL_INPUT:
        return info->kind == WG_POINT_BOOL && info->direction == WG_POINT_INPUT && !info->indexed;
    case SHAPE_ANALOG_INPUT:
        return info->kind == WG_POINT_ANALOG && info->direction == WG_POINT_INPUT;
    case SHAPE_FIRE:
        return info->indexed && strcmp(info->name, "fire_zone") == 0;
    case SHAPE_USAGE:
        return info->kind != WG_POINT_BOOL && info->direction == WG_POINT_INPUT;
    case SHAPE_NONE:
        break;
    }
    (void)index;
    return true;
}

static const char *const shape_words[] = {
    [SHAPE_BOOL_INPUT] = "a bool input meaning such as call_button or door_open",
    [SHAPE_ANALOG_INPUT] = "an analog input meaning such as heart_rate or gas_lel",
    [SHAPE_FIRE] = "\"fire_zone\" (all zones) or \"fire_zone_N\"",
    [SHAPE_USAGE] = "a meter meaning such as water_m3 or energy_kwh",
    [SHAPE_NONE] = "any meaning",
};

static bool check_meaning(struct loader *ld, const struct wg_cfg_node *node, const char *key,
                          const char *meaning, enum meaning_shape shape)
{
    int index = 0;
    const struct wg_meaning_info *info = meaning_lookup(meaning, &index);
    if (!info) {
        diag_at(ld->diag, node, "%s: \"%s\" is not in the vocabulary (see docs/config.md)", key,
                meaning);
        return false;
    }
    if (!meaning_fits(info, index, shape)) {
        diag_at(ld->diag, node, "%s: expected %s, got \"%s\"", key, shape_words[shape], meaning);
        return false;
    }
    return true;
}

static void load_conditions(struct loader *ld, const struct wg_cfg_node *item, struct wg_rule *rule)
{
    static const char *const keys[] = {"meaning", "op", "value", NULL};
    const struct wg_cfg_node *list = cfg_get(item, "conditions");
    if (!cfg_require_in(ld->diag, item, "conditions", "rule of kind \"combine\"") ||
        !expect_seq(ld, list, "conditions"))
        return;
    if (list->count < 2)
        diag_at(ld->diag, list, "conditions: expected at least two conditions to combine");
    rule->conditions = ld_alloc(ld, list->count, sizeof *rule->conditions);
    for (size_t i = 0; rule->conditions && i < list->count; i++) {
        const struct wg_cfg_node *entry = list->items[i];
        if (!expect_map(ld, entry, "condition"))
            continue;
        cfg_only_keys_in(ld->diag, entry, keys, "condition");
        struct wg_condition *condition = &rule->conditions[rule->condition_count];
        bool ok =
            cfg_require_in(ld->diag, entry, "meaning", "condition") &&
            read_text(ld, entry, "meaning", false, &condition->meaning) &&
            check_meaning(ld, cfg_get(entry, "meaning"), "meaning", condition->meaning, SHAPE_NONE);
        const char *op = NULL;
        if (cfg_require_in(ld->diag, entry, "op", "condition") &&
            read_text(ld, entry, "op", false, &op) && op) {
            int found = -1;
            for (int c = 0; c < 6 && found < 0; c++)
                if (strcmp(op, compare_names[c][0]) == 0 || strcmp(op, compare_names[c][1]) == 0)
                    found = c;
            if (found < 0) {
                diag_at(ld->diag, cfg_get(entry, "op"),
                        "op: expected one of: eq, ne, lt, le, gt, ge (or \"==\", \"!=\", \"<\", "
                        "\"<=\", \">\", \">=\" in quotes), got \"%s\"",
                        op);
                ok = false;
            }
            condition->op = (enum wg_compare)(found < 0 ? 0 : found);
        } else {
            ok = false;
        }
        const struct wg_cfg_node *value = cfg_get(entry, "value");
        bool flag = false;
        if (!cfg_require_in(ld->diag, entry, "value", "condition")) {
            ok = false;
        } else if (value->type == WG_CFG_SCALAR && !value->quoted &&
                   (strcmp(value->scalar, "true") == 0 || strcmp(value->scalar, "false") == 0)) {
            cfg_read_bool(ld->diag, entry, "value", &flag);
            condition->value = flag ? 1.0 : 0.0;
        } else if (!cfg_read_double(ld->diag, entry, "value", &condition->value)) {
            ok = false;
        }
        if (ok)
            rule->condition_count++;
    }
}

static void load_rule(struct loader *ld, const struct wg_cfg_node *item)
{
    struct wg_config *config = ld->config;
    if (!expect_map(ld, item, "rule"))
        return;
    struct wg_rule *rule = &config->rules[config->rule_count];
    *rule = (struct wg_rule){.priority = -1, .node = item};
    bool ok =
        cfg_require_in(ld->diag, item, "id", "rule") && read_id(ld, item, "id", false, &rule->id);
    for (size_t i = 0; ok && i < config->rule_count; i++)
        if (strcmp(config->rules[i].id, rule->id) == 0) {
            diag_at(ld->diag, cfg_get(item, "id"), "rule id \"%s\" is used twice", rule->id);
            ok = false;
        }
    const char *kind_text = NULL;
    if (!cfg_require_in(ld->diag, item, "kind", "rule") ||
        !read_text(ld, item, "kind", false, &kind_text) || !kind_text)
        return;
    int kind = name_index(rule_kind_names, RULE_KIND_COUNT, kind_text);
    if (kind < 0) {
        diag_at(ld->diag, cfg_get(item, "kind"),
                "kind: expected one of: call, pull_cord, presence, bed_exit, vital_range, gas, "
                "fire_zone, smoke, door_night, wellbeing, combine, got \"%s\"",
                kind_text);
        return;
    }
    rule->kind = (enum wg_rule_kind)kind;
    const struct rule_kind_spec *spec = &rule_specs[kind];

    const char *allowed[RULE_COMMON_COUNT + 8];
    size_t allowed_count = 0;
    for (size_t i = 0; i < RULE_COMMON_COUNT; i++)
        if (kind != WG_RULE_COMBINE || strcmp(rule_common_keys[i], "meaning") != 0)
            allowed[allowed_count++] = rule_common_keys[i];
    for (size_t i = 0; spec->keys[i]; i++)
        allowed[allowed_count++] = spec->keys[i];
    allowed[allowed_count] = NULL;
    char what[64];
    snprintf(what, sizeof what, "rule of kind \"%s\"", kind_text);
    if (!cfg_only_keys_in(ld->diag, item, allowed, what))
        ok = false;

    rule->meaning = spec->default_meaning;
    if (kind != WG_RULE_COMBINE) {
        if (!spec->default_meaning && !cfg_require_in(ld->diag, item, "meaning", what))
            ok = false;
        if (!read_text(ld, item, "meaning", false, &rule->meaning))
            ok = false;
        else if (rule->meaning && cfg_get(item, "meaning") &&
                 !check_meaning(ld, cfg_get(item, "meaning"), "meaning", rule->meaning,
                                spec->shape))
            ok = false;
    }
    const char *text = NULL;
    if (read_text(ld, item, "priority", false, &text) && text) {
        rule->priority = priority_from_name(text);
        if (rule->priority < 0)
            diag_at(ld->diag, cfg_get(item, "priority"),
                    "priority: expected one of: fire, emergency, urgent, normal, technical, "
                    "advisory, got \"%s\"",
                    text);
    }
    text = NULL;
    if (read_text(ld, item, "risk", false, &text) && text) {
        int bit = risk_from_name(text);
        if (bit < 0)
            diag_at(ld->diag, cfg_get(item, "risk"),
                    "risk: expected a GB 38600 risk name (choking, wrong_ingestion, "
                    "pressure_sore, scald, fall_from_bed, fall, wandering, harm, "
                    "activity_accident), got \"%s\"",
                    text);
        else
            rule->risk = bit;
    }

    switch (rule->kind) {
    case WG_RULE_BED_EXIT:
    case WG_RULE_DOOR_NIGHT:
        read_int(ld, item, "for_s", 0, 86400, &rule->for_s);
        read_int(ld, item, "followup_s", 0, 86400, &rule->followup_s);
        read_window(ld, item, "window", &rule->has_window, &rule->window);
        break;
    case WG_RULE_VITAL_RANGE:
    case WG_RULE_GAS:
        if (rule->kind == WG_RULE_GAS) {
            rule->low = 25;
            rule->high = 50;
        } else {
            rule->for_s = 60;
            if (!cfg_require_in(ld->diag, item, "low", what) ||
                !cfg_require_in(ld->diag, item, "high", what))
                ok = false;
        }
        if (cfg_read_double(ld->diag, item, "low", &rule->low) &&
            cfg_read_double(ld->diag, item, "high", &rule->high) && rule->low >= rule->high &&
            (rule->kind == WG_RULE_GAS || (cfg_get(item, "low") && cfg_get(item, "high")))) {
            const struct wg_cfg_node *where =
                cfg_get(item, "high") ? cfg_get(item, "high") : cfg_get(item, "low");
            diag_at(ld->diag, where ? where : item, "high: expected more than low (%g), got %g",
                    rule->low, rule->high);
        }
        read_int(ld, item, "for_s", 0, 86400, &rule->for_s);
        cfg_read_bool(ld->diag, item, "reset_on_normal", &rule->reset_on_normal);
        break;
    case WG_RULE_SMOKE:
        cfg_read_bool(ld->diag, item, "reset_on_normal", &rule->reset_on_normal);
        break;
    case WG_RULE_WELLBEING:
        if (cfg_require_in(ld->diag, item, "idle_hours", what))
            read_int(ld, item, "idle_hours", 1, 72, &rule->idle_hours);
        read_window(ld, item, "window", &rule->has_window, &rule->window);
        break;
    case WG_RULE_COMBINE:
        load_conditions(ld, item, rule);
        rule->meaning = rule->condition_count ? rule->conditions[0].meaning : "";
        if (cfg_require_in(ld->diag, item, "within_s", what))
            read_int(ld, item, "within_s", 1, 3600, &rule->within_s);
        if (cfg_require_in(ld->diag, item, "alarm_kind", what))
            read_id(ld, item, "alarm_kind", false, &rule->alarm_kind);
        break;
    case WG_RULE_CALL:
    case WG_RULE_PULL_CORD:
    case WG_RULE_PRESENCE:
    case WG_RULE_FIRE_ZONE:
        break;
    }
    if (read_text(ld, item, "reset_at", false, &rule->reset_at) && rule->reset_at &&
        rule->reset_on_normal)
        diag_at(ld->diag, cfg_get(item, "reset_at"),
                "reset_at: an alarm that ends by itself (reset_on_normal: true) is not reset "
                "anywhere; give one or the other");
    if (ok && rule->meaning)
        config->rule_count++;
}

static void load_rules(struct loader *ld, const struct wg_cfg_node *rules)
{
    if (!rules || !expect_seq(ld, rules, "rules"))
        return;
    ld->config->rules = ld_alloc(ld, rules->count, sizeof *ld->config->rules);
    for (size_t i = 0; ld->config->rules && i < rules->count; i++)
        load_rule(ld, rules->items[i]);
}

/* ---- escalation, uplink, web ---------------------------------------------------------------- */

static void load_escalation(struct loader *ld, const struct wg_cfg_node *escalation)
{
    static const char *const keys[] = {"reannunciate_s", "levels", NULL};
    static const char *const level_keys[] = {"name", "after_s", NULL};
    static const struct wg_escalation_level default_levels[] = {
        {"carer", 0}, {"floor_lead", 300}, {"manager", 900}, {"district", 1800}};
    struct wg_escalation *out = &ld->config->escalation;
    out->reannunciate_s = 180;
    const struct wg_cfg_node *levels = NULL;
    if (escalation && expect_map(ld, escalation, "escalation")) {
        cfg_only_keys_in(ld->diag, escalation, keys, "escalation");
        read_int(ld, escalation, "reannunciate_s", 10, 86400, &out->reannunciate_s);
        levels = cfg_get(escalation, "levels");
    }
    if (!levels) {
        size_t count = sizeof default_levels / sizeof default_levels[0];
        out->levels = ld_alloc(ld, count, sizeof *out->levels);
        if (out->levels) {
            memcpy(out->levels, default_levels, sizeof default_levels);
            out->level_count = count;
        }
        return;
    }
    if (!expect_seq(ld, levels, "levels"))
        return;
    if (levels->count == 0)
        diag_at(ld->diag, levels,
                "levels: expected at least one level, e.g. {name: carer, "
                "after_s: 0}");
    out->levels = ld_alloc(ld, levels->count, sizeof *out->levels);
    for (size_t i = 0; out->levels && i < levels->count; i++) {
        const struct wg_cfg_node *item = levels->items[i];
        if (!expect_map(ld, item, "escalation level"))
            continue;
        cfg_only_keys_in(ld->diag, item, level_keys, "escalation level");
        struct wg_escalation_level *level = &out->levels[out->level_count];
        bool ok = cfg_require_in(ld->diag, item, "name", "escalation level") &&
                  read_id(ld, item, "name", false, &level->name);
        for (size_t j = 0; ok && j < out->level_count; j++)
            if (strcmp(out->levels[j].name, level->name) == 0) {
                diag_at(ld->diag, cfg_get(item, "name"), "name: level \"%s\" is listed twice",
                        level->name);
                ok = false;
            }
        if (!cfg_require_in(ld->diag, item, "after_s", "escalation level") ||
            !read_int(ld, item, "after_s", 0, 7 * 86400, &level->after_s))
            ok = false;
        else if (out->level_count > 0 &&
                 level->after_s <= out->levels[out->level_count - 1].after_s) {
            diag_at(ld->diag, cfg_get(item, "after_s"),
                    "after_s: levels must come strictly later one after another: expected more "
                    "than %d (level \"%s\"), got %d",
                    out->levels[out->level_count - 1].after_s,
                    out->levels[out->level_count - 1].name, level->after_s);
            ok = false;
        }
        if (ok)
            out->level_count++;
    }
}

/* True when a point meaning is `meaning`, or one of its indexed forms
 * ("fire_zone" matches "fire_zone_3"). */
static bool meaning_covers(const char *meaning, const char *have)
{
    size_t len = strlen(meaning);
    return strcmp(have, meaning) == 0 || (strncmp(have, meaning, len) == 0 && have[len] == '_' &&
                                          have[len + 1] >= '0' && have[len + 1] <= '9');
}

static bool device_has(const struct wg_config *config, const struct wg_device *device,
                       const char *meaning)
{
    const struct wg_profile *profile = &config->profiles[device->profile];
    for (size_t p = 0; p < profile->point_count; p++)
        if (meaning_covers(meaning, profile->points[p].meaning))
            return true;
    return false;
}

/* True when a device has a point with this meaning. */
static bool some_device_has(const struct wg_config *config, const char *meaning)
{
    for (size_t d = 0; d < config->device_count; d++)
        if (device_has(config, &config->devices[d], meaning))
            return true;
    return false;
}

/* A rule bound to a point no device has would never fire: refuse it, naming the place. */
static void check_rule_points(struct loader *ld)
{
    const struct wg_config *config = ld->config;
    for (size_t r = 0; r < config->rule_count; r++) {
        const struct wg_rule *rule = &config->rules[r];
        if (rule->kind == WG_RULE_COMBINE) {
            const struct wg_cfg_node *conditions = cfg_get(rule->node, "conditions");
            for (size_t c = 0; c < rule->condition_count; c++)
                if (!some_device_has(config, rule->conditions[c].meaning)) {
                    diag_at(ld->diag, cfg_get(cfg_seq_at(conditions, c), "meaning"),
                            "meaning: rule \"%s\" needs a point meaning \"%s\", but no device "
                            "has one (check devices: and their profiles)",
                            rule->id, rule->conditions[c].meaning);
                    diag_code(ld->diag, "rule_point_missing", "{s:s, s:s}", "rule", rule->id,
                              "meaning", rule->conditions[c].meaning);
                }
        } else if (rule->meaning && !some_device_has(config, rule->meaning)) {
            const struct wg_cfg_node *at = cfg_get(rule->node, "meaning");
            diag_at(ld->diag, at ? at : rule->node,
                    "meaning: rule \"%s\" needs a point meaning \"%s\", but no device has one "
                    "(check devices: and their profiles)",
                    rule->id, rule->meaning);
            diag_code(ld->diag, "rule_point_missing", "{s:s, s:s}", "rule", rule->id, "meaning",
                      rule->meaning);
        }
    }
}

/* ---- every latching alarm can end ----------------------------------------------------------- */

bool rule_latches(const struct wg_rule *rule)
{
    switch (rule->kind) {
    case WG_RULE_CALL:
    case WG_RULE_DOOR_NIGHT:
    case WG_RULE_COMBINE:
        return true;
    case WG_RULE_VITAL_RANGE:
    case WG_RULE_GAS:
    case WG_RULE_SMOKE:
        return !rule->reset_on_normal;
    default:
        return false; /* pull cords reset at their unit; the rest end by themselves */
    }
}

/* Whether the device can end latched alarms where it is: enabled, with a
 * reset button, or (when `presence_counts`) a point a presence rule reads:
 * presence attends, and presence going off after attending resets. */
static bool device_resets(const struct wg_config *config, const struct wg_device *device,
                          bool presence_counts)
{
    if (!device->enabled)
        return false;
    if (device_has(config, device, "reset_button"))
        return true;
    for (size_t r = 0; presence_counts && r < config->rule_count; r++)
        if (config->rules[r].kind == WG_RULE_PRESENCE &&
            device_has(config, device, config->rules[r].meaning))
            return true;
    return false;
}

static bool room_has_reset(const struct wg_config *config, size_t room, bool presence_counts)
{
    for (size_t d = 0; d < config->device_count; d++)
        if (config->devices[d].room == room &&
            device_resets(config, &config->devices[d], presence_counts))
            return true;
    return false;
}

/* Whether the rule can raise in `room` (a combine rule: every condition has a device there). */
static bool rule_raises_in(const struct wg_config *config, const struct wg_rule *rule, size_t room)
{
    if (rule->kind != WG_RULE_COMBINE) {
        for (size_t d = 0; d < config->device_count; d++)
            if (config->devices[d].enabled && config->devices[d].room == room &&
                device_has(config, &config->devices[d], rule->meaning))
                return true;
        return false;
    }
    for (size_t c = 0; c < rule->condition_count; c++) {
        bool found = false;
        for (size_t d = 0; d < config->device_count && !found; d++)
            found = config->devices[d].enabled && config->devices[d].room == room &&
                    device_has(config, &config->devices[d], rule->conditions[c].meaning);
        if (!found)
            return false;
    }
    return rule->condition_count > 0;
}

/* reset_at names a room or a device that can end the rule's alarms. */
static void check_reset_at(struct loader *ld, const struct wg_rule *rule, bool presence_counts)
{
    const struct wg_config *config = ld->config;
    const struct wg_cfg_node *at = cfg_get(rule->node, "reset_at");
    size_t room = config_find_room(config, rule->reset_at);
    size_t device = config_find_device(config, rule->reset_at);
    if (room != WG_NO_INDEX && device != WG_NO_INDEX) {
        diag_at(ld->diag, at, "reset_at: \"%s\" names both a room and a device; rename one",
                rule->reset_at);
    } else if (room != WG_NO_INDEX && !room_has_reset(config, room, presence_counts)) {
        diag_at(ld->diag, at,
                "reset_at: room \"%s\" has no reset device (an enabled device with a reset "
                "button%s), so rule \"%s\"'s alarms could never end there",
                rule->reset_at,
                presence_counts ? ", or a presence button a presence rule reads" : "", rule->id);
        diag_code(ld->diag, "no_reset_device", "{s:s, s:s, s:[s]}", "rule", rule->id, "kind",
                  rule_kind_name(rule->kind), "rooms", rule->reset_at);
    } else if (device != WG_NO_INDEX &&
               !device_resets(config, &config->devices[device], presence_counts)) {
        bool disabled = !config->devices[device].enabled;
        diag_at(ld->diag, at,
                "reset_at: device \"%s\" %s, so rule \"%s\"'s alarms could never end there",
                rule->reset_at,
                disabled          ? "is disabled"
                : presence_counts ? "has no reset button nor a presence button a presence rule "
                                    "reads"
                                  : "has no reset button",
                rule->id);
        diag_code(ld->diag, "reset_device_cannot_reset", "{s:s, s:s, s:b}", "rule", rule->id,
                  "device", rule->reset_at, "disabled", disabled);
    } else if (room == WG_NO_INDEX && device == WG_NO_INDEX) {
        diag_at(ld->diag, at, "reset_at: no room or device \"%s\" is defined", rule->reset_at);
        diag_code(ld->diag, "unknown_reference", "{s:s, s:s, s:s}", "key", "reset_at", "what",
                  "room or device", "value", rule->reset_at);
    }
}

/* An alarm that latches until a reset at its origin must have an origin
 * that can reset it, or it would stay on the board for ever: refuse, at the
 * rule's line, a rule that raises in a room without a reset device (or on a
 * device with no room), unless it says how its alarms end. */
static void check_rule_ends(struct loader *ld)
{
    const struct wg_config *config = ld->config;
    for (size_t r = 0; r < config->rule_count; r++) {
        const struct wg_rule *rule = &config->rules[r];
        if (!rule_latches(rule))
            continue;
        /* Presence attends only calls of priority normal and above. */
        bool presence_counts = rule->priority < 0 || rule->priority >= WG_PRIO_NORMAL;
        if (rule->reset_at) {
            check_reset_at(ld, rule, presence_counts);
            continue;
        }
        char rooms[256] = "";
        size_t missing = 0;
        json_t *room_ids = json_array();
        for (size_t room = 0; room < config->room_count; room++) {
            if (!rule_raises_in(config, rule, room) ||
                room_has_reset(config, room, presence_counts))
                continue;
            json_array_append_new(room_ids, json_string(config->rooms[room].id));
            size_t used = strlen(rooms);
            if (missing++ < 4)
                snprintf(rooms + used, sizeof rooms - used, "%s\"%s\"", used ? ", " : "",
                         config->rooms[room].id);
        }
        const char *roomless = NULL;
        for (size_t d = 0; d < config->device_count && !roomless && rule->kind != WG_RULE_COMBINE;
             d++)
            if (config->devices[d].enabled && config->devices[d].room == WG_NO_INDEX &&
                device_has(config, &config->devices[d], rule->meaning))
                roomless = config->devices[d].id;
        if (!missing && !roomless) {
            json_decref(room_ids);
            continue;
        }
        char where[384];
        if (missing)
            snprintf(where, sizeof where,
                     "room%s %s%s ha%s no reset device (an enabled device "
                     "with a reset button%s)",
                     missing > 1 ? "s" : "", rooms, missing > 4 ? " and more" : "",
                     missing > 1 ? "ve" : "s",
                     presence_counts ? ", or a presence button a presence rule reads" : "");
        else
            snprintf(where, sizeof where, "device \"%s\" has no room", roomless);
        bool may_end_by_itself = rule->kind == WG_RULE_VITAL_RANGE || rule->kind == WG_RULE_GAS ||
                                 rule->kind == WG_RULE_SMOKE;
        diag_at(ld->diag, rule->node,
                "rule \"%s\" (%s): its alarms stay until they are reset at their origin, but %s, "
                "so they could never end; %s, or say where they are reset: reset_at: <a room or "
                "device with a reset button>%s",
                rule->id, rule_kind_name(rule->kind), where,
                missing ? "add one there" : "give it a room that has one",
                may_end_by_itself ? ", or that they end by themselves: reset_on_normal: true" : "");
        diag_code(ld->diag, "no_reset_device", "{s:s, s:s, s:o, s:s?}", "rule", rule->id, "kind",
                  rule_kind_name(rule->kind), "rooms", room_ids, "device",
                  missing ? NULL : roomless);
    }
}

/* A fire zone without a place still alarms, at the panel's own room; that is
 * rarely what a site wants, so it is a warning naming the zones. */
static void warn_unmapped_fire_zones(struct loader *ld)
{
    const struct wg_config *config = ld->config;
    bool fire_rule = false;
    for (size_t r = 0; r < config->rule_count; r++)
        fire_rule = fire_rule || config->rules[r].kind == WG_RULE_FIRE_ZONE;
    for (size_t d = 0; fire_rule && d < config->device_count; d++) {
        const struct wg_device *device = &config->devices[d];
        int zones[999], unmapped[999];
        size_t count = profile_fire_zones(&config->profiles[device->profile], zones, 999),
               missing = 0;
        for (size_t z = 0; device->enabled && z < count; z++)
            if (!config_fire_place(device, zones[z], 0, 0))
                unmapped[missing++] = zones[z];
        if (!missing)
            continue;
        char list[512];
        diag_at(
            &ld->config->warnings, device->node,
            "warning: device \"%s\": fire zone%s %s %s no place (places:); %s alarms show at "
            "%s%s%s",
            device->id, missing > 1 ? "s" : "", zone_ranges(unmapped, missing, list, sizeof list),
            missing > 1 ? "have" : "has", missing > 1 ? "their" : "its",
            device->room != WG_NO_INDEX ? "the panel's room \"" : "no room (the panel has none)",
            device->room != WG_NO_INDEX ? config->rooms[device->room].id : "",
            device->room != WG_NO_INDEX ? "\"" : "");
    }
}

static void check_pair(struct loader *ld, const struct wg_cfg_node *map, const char *first,
                       const char *second)
{
    if (!cfg_get(map, first) != !cfg_get(map, second))
        diag_at(ld->diag, cfg_get(map, first) ? cfg_get(map, first) : cfg_get(map, second),
                "%s and %s go together: give both or neither", first, second);
}

/* Reads the secret from password_file; an unreadable or empty file is an
 * error at the key that names it. The trailing newline is not part of it. */
static void read_password(struct loader *ld, const struct wg_cfg_node *uplink, const char *path,
                          const char **out)
{
    const struct wg_cfg_node *at = cfg_get(uplink, "password_file");
    FILE *file = fopen(path, "r");
    if (!file) {
        diag_at(ld->diag, at, "password_file: cannot read \"%s\": %s", path, strerror(errno));
        return;
    }
    char secret[512];
    size_t length = fread(secret, 1, sizeof secret - 1, file);
    bool too_long = length == sizeof secret - 1 && fgetc(file) != EOF;
    fclose(file);
    secret[length] = '\0';
    while (length > 0 && (secret[length - 1] == '\n' || secret[length - 1] == '\r'))
        secret[--length] = '\0';
    if (too_long)
        diag_at(ld->diag, at, "password_file: \"%s\" is longer than %zu bytes", path,
                sizeof secret - 2);
    else if (length == 0 || strlen(secret) != length)
        diag_at(ld->diag, at, "password_file: \"%s\" holds no password (empty, or a NUL byte)",
                path);
    else
        *out = ld_printf(ld, "%s", secret);
    explicit_bzero(secret, sizeof secret);
}

/* commands: a list of read-only request names; acknowledge, reset and the
 * like are refused here already, so no config can allow them. */
static void read_commands(struct loader *ld, const struct wg_cfg_node *uplink, unsigned *out)
{
    const struct wg_cfg_node *commands = cfg_get(uplink, "commands");
    if (!commands || !expect_seq(ld, commands, "commands"))
        return;
    *out = 0;
    for (size_t i = 0; i < commands->count; i++) {
        const char *name = cfg_scalar(commands->items[i]);
        int kind = name ? uplink_command_from_name(name) : -1;
        if (name && uplink_command_is_forbidden(name))
            diag_at(ld->diag, commands->items[i],
                    "commands: \"%s\" can never be allowed: calls and alarms are acknowledged at "
                    "the station and reset at their origin, never from the district platform",
                    name);
        else if (kind < 0)
            diag_at(ld->diag, commands->items[i],
                    "commands: expected snapshot, devices, alarm_history or response_times, got "
                    "\"%s\"",
                    name ? name : "a structure");
        else
            *out |= WG_COMMAND_BIT(kind);
    }
}

static void load_uplink(struct loader *ld, const struct wg_cfg_node *uplink)
{
    static const char *const keys[] = {"enabled",
                                       "brokers",
                                       "client_id",
                                       "username",
                                       "password_file",
                                       "topic_prefix",
                                       "mqtt_version",
                                       "keepalive_s",
                                       "connect_timeout_s",
                                       "reconnect_min_s",
                                       "reconnect_max_s",
                                       "ca_file",
                                       "cert_file",
                                       "key_file",
                                       "max_inflight",
                                       "max_message_kb",
                                       "outbox_max_mb",
                                       "outbox_max_age_h",
                                       "heartbeat_s",
                                       "telemetry_interval_s",
                                       "telemetry_mode",
                                       "response_interval_s",
                                       "commands",
                                       NULL};
    struct wg_uplink *out = &ld->config->uplink;
    *out = (struct wg_uplink){.enabled = false,
                              .client_id = "",
                              .username = "",
                              .password_file = "",
                              .password = "",
                              .topic_prefix = "wardgate/v1",
                              .mqtt_version = 4,
                              .keepalive_s = 30,
                              .connect_timeout_s = 10,
                              .reconnect_min_s = 1,
                              .reconnect_max_s = 60,
                              .ca_file = "",
                              .cert_file = "",
                              .key_file = "",
                              .max_inflight = 1000,
                              .max_message_bytes = 256 * 1024,
                              .outbox_max_bytes = 64ll << 20,
                              .outbox_max_age_h = 168,
                              .heartbeat_s = 60,
                              .telemetry_interval_s = 300,
                              .response_interval_s = 3600,
                              .commands = WG_COMMANDS_READ_ONLY};
    if (uplink && expect_map(ld, uplink, "uplink")) {
        cfg_only_keys_in(ld->diag, uplink, keys, "uplink");
        cfg_read_bool(ld->diag, uplink, "enabled", &out->enabled);
        const struct wg_cfg_node *brokers = cfg_get(uplink, "brokers");
        if (brokers && expect_seq(ld, brokers, "brokers")) {
            out->brokers = ld_alloc(ld, brokers->count, sizeof *out->brokers);
            for (size_t i = 0; out->brokers && i < brokers->count; i++) {
                const char *uri = cfg_scalar(brokers->items[i]);
                static const char *const schemes[] = {"tcp://",   "ssl://", "mqtt://",
                                                      "mqtts://", "ws://",  "wss://"};
                bool known = false;
                for (size_t s = 0; uri && s < sizeof schemes / sizeof schemes[0]; s++)
                    known = known || (strncmp(uri, schemes[s], strlen(schemes[s])) == 0 &&
                                      uri[strlen(schemes[s])]);
                if (!known)
                    diag_at(ld->diag, brokers->items[i],
                            "brokers: expected a URI such as tcp://host:1883 or "
                            "ssl://host:8883, got \"%s\"",
                            uri ? uri : "a structure");
                else
                    out->brokers[out->broker_count++] = uri;
            }
        }
        if (out->enabled && !cfg_seq_len(brokers) && (!brokers || brokers->type == WG_CFG_SEQ))
            diag_at(ld->diag, brokers ? brokers : uplink,
                    "brokers: the uplink is enabled but lists no broker");
        read_text(ld, uplink, "client_id", false, &out->client_id);
        read_text(ld, uplink, "username", true, &out->username);
        read_path(ld, uplink, "password_file", &out->password_file);
        if (out->password_file[0] && out->enabled) /* a disabled uplink needs no secret yet */
            read_password(ld, uplink, out->password_file, &out->password);
        const char *prefix = NULL;
        if (read_text(ld, uplink, "topic_prefix", false, &prefix) && prefix) {
            size_t length = strlen(prefix);
            if (strpbrk(prefix, "+# ") || prefix[0] == '/' || prefix[length - 1] == '/')
                diag_at(ld->diag, cfg_get(uplink, "topic_prefix"),
                        "topic_prefix: expected MQTT topic levels without wildcards, spaces or a "
                        "leading/trailing '/', e.g. \"wardgate/v1\", got \"%s\"",
                        prefix);
            else
                out->topic_prefix = prefix;
        }
        const struct wg_cfg_node *version = cfg_get(uplink, "mqtt_version");
        if (version) {
            const char *text = cfg_scalar(version);
            if (text && (strcmp(text, "3.1.1") == 0 || strcmp(text, "4") == 0))
                out->mqtt_version = 4;
            else if (text && (strcmp(text, "5") == 0 || strcmp(text, "5.0") == 0))
                out->mqtt_version = 5;
            else
                diag_at(ld->diag, version, "mqtt_version: expected \"3.1.1\" or \"5\", got \"%s\"",
                        text ? text : "a structure");
        }
        read_int(ld, uplink, "keepalive_s", 5, 3600, &out->keepalive_s);
        read_int(ld, uplink, "connect_timeout_s", 1, 300, &out->connect_timeout_s);
        read_int(ld, uplink, "reconnect_min_s", 1, 3600, &out->reconnect_min_s);
        read_int(ld, uplink, "reconnect_max_s", 1, 3600, &out->reconnect_max_s);
        if (out->reconnect_max_s < out->reconnect_min_s)
            diag_at(ld->diag,
                    cfg_get(uplink, "reconnect_max_s") ? cfg_get(uplink, "reconnect_max_s")
                                                       : cfg_get(uplink, "reconnect_min_s"),
                    "reconnect_max_s (%d) must not be below reconnect_min_s (%d)",
                    out->reconnect_max_s, out->reconnect_min_s);
        read_path(ld, uplink, "ca_file", &out->ca_file);
        read_path(ld, uplink, "cert_file", &out->cert_file);
        read_path(ld, uplink, "key_file", &out->key_file);
        check_pair(ld, uplink, "cert_file", "key_file");
        read_int(ld, uplink, "max_inflight", 1, 65535, &out->max_inflight);
        long long message_kb = 256;
        if (cfg_read_int(ld->diag, uplink, "max_message_kb", 1, 256 * 1024, &message_kb))
            out->max_message_bytes = message_kb * 1024;
        long long outbox_mb = 64;
        if (cfg_read_int(ld->diag, uplink, "outbox_max_mb", 1, 64 * 1024, &outbox_mb))
            out->outbox_max_bytes = outbox_mb << 20;
        read_int(ld, uplink, "outbox_max_age_h", 1, 24 * 365, &out->outbox_max_age_h);
        read_int(ld, uplink, "heartbeat_s", 1, 3600, &out->heartbeat_s);
        read_int(ld, uplink, "telemetry_interval_s", 1, 86400, &out->telemetry_interval_s);
        const struct wg_cfg_node *mode = cfg_get(uplink, "telemetry_mode");
        if (mode) {
            const char *text = cfg_scalar(mode);
            if (text && strcmp(text, "interval") == 0)
                out->telemetry_per_read = false;
            else if (text && strcmp(text, "per_read") == 0)
                out->telemetry_per_read = true;
            else
                diag_at(ld->diag, mode,
                        "telemetry_mode: expected \"interval\" or \"per_read\", got \"%s\"",
                        text ? text : "a structure");
        }
        read_int(ld, uplink, "response_interval_s", 60, 7 * 86400, &out->response_interval_s);
        read_commands(ld, uplink, &out->commands);
    }
    if (!*out->client_id && *ld->config->site.id)
        out->client_id = ld_printf(ld, "wardgate-%s", ld->config->site.id);
    if (!out->client_id)
        out->client_id = "";
}

static void load_web(struct loader *ld, const struct wg_cfg_node *web)
{
    static const char *const keys[] = {"enabled",  "listen",  "port",     "root",
                                       "tls_cert", "tls_key", "language", NULL};
    struct wg_web *out = &ld->config->web;
    *out = (struct wg_web){.enabled = true,
                           .listen = "127.0.0.1",
                           .port = 8080,
                           .root = "",
                           .tls_cert = "",
                           .tls_key = "",
                           .language = "zh"};
    if (!web || !expect_map(ld, web, "web"))
        return;
    cfg_only_keys_in(ld->diag, web, keys, "web");
    cfg_read_bool(ld->diag, web, "enabled", &out->enabled);
    read_text(ld, web, "listen", false, &out->listen);
    read_int(ld, web, "port", 1, 65535, &out->port);
    read_path(ld, web, "root", &out->root);
    read_path(ld, web, "tls_cert", &out->tls_cert);
    read_path(ld, web, "tls_key", &out->tls_key);
    check_pair(ld, web, "tls_cert", "tls_key");
    const char *language = NULL;
    if (read_text(ld, web, "language", false, &language) && language) {
        if (strcmp(language, "zh") != 0 && strcmp(language, "en") != 0)
            diag_at(ld->diag, cfg_get(web, "language"), "language: expected zh or en, got \"%s\"",
                    language);
        else
            out->language = language;
    }
}

/* A top-level section; an empty one ("uplink:" with every line commented
 * out) counts as absent. */
static const struct wg_cfg_node *section(const struct wg_cfg_node *root, const char *key)
{
    const struct wg_cfg_node *node = cfg_get(root, key);
    if (node && node->type == WG_CFG_SCALAR && !node->quoted && !*node->scalar)
        return NULL;
    return node;
}

/* ---- the whole file ------------------------------------------------------------------------- */

struct wg_config *config_load(const char *path, struct wg_diag *diag)
{
    static const char *const keys[] = {"site",       "plugins",   "log",   "storage", "profiles",
                                       "zones",      "residents", "buses", "devices", "rules",
                                       "escalation", "uplink",    "web",   NULL};
    size_t first_message = diag->count;
    struct wg_config *config = calloc(1, sizeof *config);
    struct config_owned *owned = calloc(1, sizeof *owned);
    if (!config || !owned) {
        free(config);
        free(owned);
        diag_pos(diag, path, 1, 1, "out of memory while loading the configuration");
        return NULL;
    }
    config->owned = owned;
    diag_init(&config->warnings);
    struct loader loader = {
        .config = config, .owned = owned, .diag = diag, .first_message = first_message};
    struct loader *ld = &loader;

    struct wg_cfg_node *root = cfgtree_load(path, diag);
    if (!root || !own_tree(ld, root)) {
        config_free(config);
        return NULL;
    }
    config->path = root->file;
    if (root->type != WG_CFG_MAP) {
        diag_at(diag, root,
                "expected a mapping at the top of the file (site:, zones:, buses:, devices:, "
                "...), got %s",
                root->type == WG_CFG_SEQ ? "a list" : "a single value");
        config_free(config);
        return NULL;
    }
    cfg_only_keys_in(diag, root, keys, "the top level");
    if (cfg_require_in(diag, root, "site", "the top level"))
        load_site(ld, section(root, "site"));
    else
        load_site(ld, NULL);
    load_plugins_and_log(ld, section(root, "plugins"), section(root, "log"));
    load_storage(ld, section(root, "storage"));
    load_profiles(ld, section(root, "profiles"));
    if (!ld->out_of_memory) {
        if (cfg_require_in(diag, root, "zones", "the top level"))
            load_zones(ld, section(root, "zones"));
        else
            ld->places_incomplete = true;
    }
    if (!ld->out_of_memory)
        load_residents(ld, section(root, "residents"));
    if (!ld->out_of_memory)
        load_buses(ld, section(root, "buses"));
    if (!ld->out_of_memory)
        load_devices(ld, section(root, "devices"));
    if (!ld->out_of_memory)
        load_rules(ld, section(root, "rules"));
    if (!ld->out_of_memory)
        load_escalation(ld, section(root, "escalation"));
    if (!ld->out_of_memory)
        load_uplink(ld, section(root, "uplink"));
    if (!ld->out_of_memory)
        load_web(ld, section(root, "web"));
    /* Checks across sections, on a file that is otherwise valid (no cascades). */
    if (!ld->out_of_memory && diag->count == first_message)
        check_rule_points(ld);
    if (!ld->out_of_memory && diag->count == first_message)
        check_rule_ends(ld);
    if (!ld->out_of_memory && diag->count == first_message)
        warn_unmapped_fire_zones(ld);

    if (diag->count > first_message || ld->out_of_memory) {
        if (diag->count == first_message)
            diag_pos(diag, path, 1, 1, "the configuration could not be loaded");
        config_free(config);
        return NULL;
    }
    return config;
}

/* ---- lookups -------------------------------------------------------------------------------- */

#define FIND_BY_ID(array, count, id)                                                               \
    do {                                                                                           \
        for (size_t i_ = 0; (id) && i_ < (count); i_++)                                            \
            if ((array)[i_].id && strcmp((array)[i_].id, (id)) == 0)                               \
                return i_;                                                                         \
        return WG_NO_INDEX;                                                                        \
    } while (0)

size_t config_find_device(const struct wg_config *config, const char *id)
{
    FIND_BY_ID(config->devices, config->device_count, id);
}

size_t config_find_room(const struct wg_config *config, const char *id)
{
    FIND_BY_ID(config->rooms, config->room_count, id);
}

size_t config_find_bed(const struct wg_config *config, const char *id)
{
    FIND_BY_ID(config->beds, config->bed_count, id);
}

size_t config_find_bus(const struct wg_config *config, const char *id)
{
    FIND_BY_ID(config->buses, config->bus_count, id);
}

size_t config_find_profile(const struct wg_config *config, const char *id)
{
    FIND_BY_ID(config->profiles, config->profile_count, id);
}

size_t config_find_zone(const struct wg_config *config, const char *id)
{
    FIND_BY_ID(config->zones, config->zone_count, id);
}

const struct wg_place *config_fire_place(const struct wg_device *device, int fire_zone, int loop,
                                         int address)
{
    for (size_t i = 0; loop > 0 && address > 0 && i < device->place_count; i++)
        if (device->places[i].loop == loop && device->places[i].address == address)
            return &device->places[i];
    for (size_t i = 0; fire_zone > 0 && i < device->place_count; i++)
        if (device->places[i].fire_zone == fire_zone)
            return &device->places[i];
    return NULL;
}

void config_log_warnings(const struct wg_config *config)
{
    for (size_t i = 0; i < config->warnings.count; i++)
        wg_warn("%s", config->warnings.messages[i]);
}

size_t config_resident_of_bed(const struct wg_config *config, size_t bed)
{
    for (size_t i = 0; i < config->resident_count; i++)
        if (config->residents[i].bed == bed)
            return i;
    return WG_NO_INDEX;
}

const char *config_device_location(const struct wg_config *config, const struct wg_device *device,
                                   char *buf, size_t len)
{
    if (!buf || len == 0)
        return "";
    if (device->room == WG_NO_INDEX || device->room >= config->room_count) {
        snprintf(buf, len, "site");
        return buf;
    }
    const struct wg_room *room = &config->rooms[device->room];
    const char *zone = room->zone < config->zone_count ? config->zones[room->zone].id : "?";
    if (device->bed != WG_NO_INDEX && device->bed < config->bed_count)
        snprintf(buf, len, "%s/%s/%s", zone, room->id, config->beds[device->bed].id);
    else
        snprintf(buf, len, "%s/%s", zone, room->id);
    return buf;
}
