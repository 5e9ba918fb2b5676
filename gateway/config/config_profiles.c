/* Device profiles: the profile files the site file lists (globs allowed,
 * each file once) and each profile's points (name, meaning, kind,
 * direction, unit, driver source). */
#include "config/config_load_internal.h"

#include <glob.h>
#include <stdlib.h>
#include <string.h>

#include "common/meaning.h"

/* ---- profiles ------------------------------------------------------------------------------- */

static const char *const point_kind_names[] = {"bool", "analog", "counter"};
static const char *const direction_names[] = {"input", "output"};

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

void load_profiles(struct loader *ld, const struct wg_cfg_node *list)
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
                if (!copy ||
                    !grow_array((void **)&paths, &path_capacity, path_count, sizeof *paths)) {
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
