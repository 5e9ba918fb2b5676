/* config_load(): the sections of the site file in the order they are loaded
 * and checked, and what a loaded wg_config owns (its YAML trees and every
 * allocation), freed by config_free(). A config with any problem is freed
 * and never returned. The sections themselves are read in config_*.c
 * through config_load_internal.h. */
#include "config/config_load_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- ownership ------------------------------------------------------------------------------ */

struct config_owned {
    struct wg_cfg_node **trees;
    size_t tree_count, tree_capacity;
    void **allocations;
    size_t allocation_count, allocation_capacity;
};

bool grow_array(void **array, size_t *capacity, size_t count, size_t item_size)
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

void note_out_of_memory(struct loader *ld, const struct wg_cfg_node *node)
{
    if (!ld->out_of_memory)
        diag_at(ld->diag, node, "out of memory while loading the configuration");
    ld->out_of_memory = true;
}

/* Zeroed memory owned by the config. n may be 0 (then one element is allocated). */
void *ld_alloc(struct loader *ld, size_t n, size_t size)
{
    void *memory = calloc(n ? n : 1, size);
    if (memory && grow_array((void **)&ld->owned->allocations, &ld->owned->allocation_capacity,
                             ld->owned->allocation_count, sizeof(void *))) {
        ld->owned->allocations[ld->owned->allocation_count++] = memory;
        return memory;
    }
    free(memory);
    note_out_of_memory(ld, NULL);
    return NULL;
}

__attribute__((format(printf, 2, 3))) const char *ld_printf(struct loader *ld, const char *fmt, ...)
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

bool own_tree(struct loader *ld, struct wg_cfg_node *tree)
{
    if (!grow_array((void **)&ld->owned->trees, &ld->owned->tree_capacity, ld->owned->tree_count,
                    sizeof(struct wg_cfg_node *))) {
        cfgtree_free(tree);
        note_out_of_memory(ld, NULL);
        return false;
    }
    ld->owned->trees[ld->owned->tree_count++] = tree;
    return true;
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
    static const char *const keys[] = {"site",       "plugins",   "log",    "storage", "profiles",
                                       "zones",      "residents", "buses",  "devices", "rules",
                                       "escalation", "rounds",    "uplink", "web",     "staff",
                                       "espa",       NULL};
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
        load_rounds(ld, section(root, "rounds"));
    if (!ld->out_of_memory)
        load_staff(ld, section(root, "staff"));
    if (!ld->out_of_memory)
        load_espa(ld, section(root, "espa"));
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
