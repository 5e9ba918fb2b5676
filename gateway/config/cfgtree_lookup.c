/* Lookups in a built tree (a mapping's key, a scalar's text, a list's
 * items) and cfg_equal(), the comparison of two subtrees. */
#include "config/cfgtree.h"

#include <stdint.h>
#include <string.h>

/* ---- lookups -------------------------------------------------------------------------------- */

static size_t key_index(const struct wg_cfg_node *map, const char *key)
{
    if (!map || map->type != WG_CFG_MAP)
        return SIZE_MAX;
    for (size_t i = 0; i < map->count; i++)
        if (strcmp(map->keys[i], key) == 0)
            return i;
    return SIZE_MAX;
}

const struct wg_cfg_node *cfg_get(const struct wg_cfg_node *map, const char *key)
{
    size_t index = key_index(map, key);
    return index == SIZE_MAX ? NULL : map->items[index];
}

const char *cfg_scalar(const struct wg_cfg_node *node)
{
    return node && node->type == WG_CFG_SCALAR ? node->scalar : NULL;
}

size_t cfg_seq_len(const struct wg_cfg_node *seq)
{
    return seq && seq->type == WG_CFG_SEQ ? seq->count : 0;
}

const struct wg_cfg_node *cfg_seq_at(const struct wg_cfg_node *seq, size_t index)
{
    return seq && seq->type == WG_CFG_SEQ && index < seq->count ? seq->items[index] : NULL;
}

bool cfg_equal(const struct wg_cfg_node *a, const struct wg_cfg_node *b)
{
    if (!a || !b)
        return a == b;
    if (a->type != b->type || a->count != b->count)
        return false;
    switch (a->type) {
    case WG_CFG_SCALAR:
        return a->quoted == b->quoted && strcmp(a->scalar, b->scalar) == 0;
    case WG_CFG_SEQ:
        for (size_t i = 0; i < a->count; i++)
            if (!cfg_equal(a->items[i], b->items[i]))
                return false;
        return true;
    case WG_CFG_MAP:
        /* Keys are unique (the loader refuses duplicates), so equal counts and
         * every key of `a` found in `b` with an equal value is equality. */
        for (size_t i = 0; i < a->count; i++) {
            const struct wg_cfg_node *other = cfg_get(b, a->keys[i]);
            if (!other || !cfg_equal(a->items[i], other))
                return false;
        }
        return true;
    }
    return false;
}
